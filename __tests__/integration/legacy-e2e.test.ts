import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { hashTree } from '../helpers/tree.js';
import { waitFor } from '../helpers/loopback.js';

let work: string;
let server: RunningServer;
const TOKEN = 'e2e-token-abcdef';

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-e2e-'));
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0, token: TOKEN });
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const options = (extra: Record<string, unknown> = {}) => ({
  runtimeUrl: server.url,
  runtimeToken: TOKEN,
  runId: '7',
  ...extra,
});

describe('legacy client against ferry serve', () => {
  it('uploads 2,000 files over at most one TCP connection per slot and leaves no socket open', async () => {
    const source = path.join(work, 'many');
    const files: string[] = [];
    for (let d = 0; d < 20; d++) {
      await mkdir(path.join(source, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) {
        const file = path.join(source, `d${d}`, `f${f}.txt`);
        await writeFile(file, `file ${d}/${f}\n`.repeat(1 + ((d * 100 + f) % 50)));
        files.push(file);
      }
    }
    const before = server.stats();
    const result = await uploadArtifact('many', files, source, options({ concurrency: 4 }));
    const after = server.stats();
    expect(result.fileCount).toBe(2000);
    // create + 2,000 PUTs + PATCH; no retries happened, so no client was replaced.
    expect(after.requests - before.requests).toBe(2002);
    expect(after.connectionsOpened - before.connectionsOpened).toBeLessThanOrEqual(4);
    await waitFor(() => server.stats().openConnections === 0);

    const target = path.join(work, 'many-out');
    const beforeDownload = server.stats();
    await downloadArtifact('many', options({ path: target, concurrency: 4 }));
    expect(server.stats().connectionsOpened - beforeDownload.connectionsOpened).toBeLessThanOrEqual(4);
    expect(await hashTree(target)).toEqual(await hashTree(source));
    await waitFor(() => server.stats().openConnections === 0);
    // 13-16 s on an idle 2-core machine; the suite runs it beside another worker.
  }, 120_000);

  it('refuses a download that would overwrite a directory with a file, leaving the target as it was', async () => {
    const source = path.join(work, 'clash');
    await mkdir(source, { recursive: true });
    await writeFile(path.join(source, 'thing'), 'a file');
    await uploadArtifact('clash', [path.join(source, 'thing')], source, options());
    const target = path.join(work, 'clash-out');
    await mkdir(path.join(target, 'thing', 'inner'), { recursive: true });
    await expect(downloadArtifact('clash', options({ path: target }))).rejects.toMatchObject({
      code: 'ERR_FERRY_INVALID_PATH',
    });
    expect(Object.keys(await hashTree(target))).toEqual([]);
  });

  it('validates options and names before sending anything, naming the value', async () => {
    const before = server.stats().requests;
    await expect(uploadArtifact('bad:name', [], work, options())).rejects.toMatchObject({
      code: 'ERR_FERRY_INVALID_NAME',
    });
    await expect(uploadArtifact('n', [], work, options({ concurrency: 0 }))).rejects.toThrow(
      /Option 'concurrency'.*got 0/,
    );
    await expect(uploadArtifact('n', [], work, options({ compressionLevel: Number.NaN }))).rejects.toThrow(
      /compressionLevel.*NaN/,
    );
    await expect(uploadArtifact('n', [], work, options({ retentionDays: 401 }))).rejects.toThrow(
      /retentionDays.*401/,
    );
    await expect(uploadArtifact('n', [], work, options({ bogus: 1 }))).rejects.toThrow(
      /Option 'bogus' is not a known option/,
    );
    await expect(uploadArtifact('n', [], work, options())).rejects.toMatchObject({
      code: 'ERR_FERRY_NO_FILES',
    });
    await expect(uploadArtifact('n', [work], path.dirname(work), options())).rejects.toThrow(
      /is a directory/,
    );
    await expect(uploadArtifact('n', ['/etc/hostname'], work, options())).rejects.toThrow(
      /not inside the root/,
    );
    expect(server.stats().requests).toBe(before);
  });
});
