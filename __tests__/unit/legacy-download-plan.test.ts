import path from 'node:path';
import { LegacyDownloadPlan } from '../../src/backends/legacy/download-plan.js';
import { itemUrlBuilder } from '../../src/backends/legacy/urls.js';
import type { HeldStaging } from '../../src/pack/held-target.js';

const container = 'http://127.0.0.1:8080/_apis/resources/Containers/42';
const target = path.resolve('/tmp/ferry-plan-target');
const staging = { file: (name: string) => `/staging/${name}` } as unknown as HeldStaging;

function listed(itemPath: string, extra: { length?: number; url?: string; destination?: string } = {}) {
  const artifactPath = itemPath.slice('art/'.length);
  return {
    itemPath,
    artifactPath,
    destination: extra.destination ?? path.join(target, ...artifactPath.split('/')),
    length: extra.length,
    url: extra.url ?? itemUrlBuilder(container)(itemPath),
  };
}

describe('LegacyDownloadPlan', () => {
  test('derives what it does not store: artifact path, URL, key, destination, staging', () => {
    const plan = new LegacyDownloadPlan('art/', itemUrlBuilder(container), target);
    plan.add(listed('art/a/b.txt', { length: 3 }));
    plan.add(listed('art/c.txt'));
    plan.start(staging);
    const first = plan.file(0);
    expect(first.artifactPath).toBe('a/b.txt');
    expect(first.length).toBe(3);
    expect(first.url).toBe(`${container}?itemPath=art%2Fa%2Fb.txt`);
    expect(first.key).toBe('a/b.txt');
    expect(first.destination).toBe(path.join(target, 'a', 'b.txt'));
    expect(first.staging).toBe('/staging/0');
    expect(first.target).toBe(target);
    expect(plan.file(1).length).toBeUndefined();
    expect(plan.file(1).staging).toBe('/staging/1');
    expect(plan.count).toBe(2);
    expect(plan.listedBytes()).toBe(3);
  });

  test('keeps a URL that is not the container scheme, and a key that is not the artifact path', () => {
    const plan = new LegacyDownloadPlan('art/', itemUrlBuilder(container), target);
    plan.add(listed('art/x.txt', { url: 'http://127.0.0.1:8080/elsewhere/x' }));
    plan.add(listed('art/./y.txt', { destination: path.join(target, 'y.txt') }));
    plan.add(listed('art/empty', { length: 0, url: '' }));
    plan.start(staging);
    expect(plan.file(0).url).toBe('http://127.0.0.1:8080/elsewhere/x');
    expect(plan.file(1).artifactPath).toBe('./y.txt');
    expect(plan.file(1).key).toBe('y.txt');
    expect(plan.file(2).url).toBe('');
  });

  test('written bytes and the corrupt mark go through the views into the columns', () => {
    const plan = new LegacyDownloadPlan('art/', itemUrlBuilder(container), target);
    plan.add(listed('art/a', { length: 5 }));
    plan.add(listed('art/b', { length: 7 }));
    plan.start(staging);
    plan.file(0).written = 5;
    plan.file(1).written = 7;
    expect(plan.file(1).written).toBe(7);
    expect(plan.writtenBytes()).toBe(12);
    expect(plan.file(0).corruptOnce).toBe(false);
    plan.file(0).corruptOnce = true;
    expect(plan.file(0).corruptOnce).toBe(true);
    expect(plan.file(1).corruptOnce).toBe(false);
  });

  test('refuses files after the download started', () => {
    const plan = new LegacyDownloadPlan('art/', itemUrlBuilder(container), target);
    plan.start(staging);
    expect(() => plan.add(listed('art/late'))).toThrow(/after start/);
  });
});
