import { Readable } from 'node:stream';
import { isFerryError } from '../../src/core/errors.js';
import {
  MIN_SCANNED_SECRET_LENGTH,
  SecretScanner,
  credentialFilesWarning,
  isCredentialFile,
} from '../../src/pack/secret-scan.js';

const TOKEN = 'tok_0123456789abcdefXYZ';
const scanner = (): SecretScanner =>
  SecretScanner.create('art', [{ value: TOKEN, label: 'the test token' }]) as SecretScanner;

function feedAll(chunks: Buffer[], positions?: number[]): unknown {
  const scan = scanner().file('dir/f.txt');
  let at = 0;
  try {
    chunks.forEach((chunk, i) => {
      scan.feed(positions?.[i] ?? at, chunk);
      at += chunk.length;
    });
    return undefined;
  } catch (error: unknown) {
    return error;
  }
}

describe('SecretScanner', () => {
  it('ignores values shorter than the minimum and duplicates', () => {
    expect(
      SecretScanner.create('a', [{ value: 'x'.repeat(MIN_SCANNED_SECRET_LENGTH - 1), label: 'l' }]),
    ).toBe(undefined);
    const s = SecretScanner.create('a', [
      { value: TOKEN, label: 'first' },
      { value: TOKEN, label: 'second' },
      undefined,
    ]);
    expect(s?.size).toBe(1);
  });

  it('finds a token inside one read and names the file and the kind, never the value', () => {
    const error = feedAll([Buffer.from(`env: ${TOKEN}\n`)]);
    expect(isFerryError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'ERR_FERRY_SECRET_IN_ARTIFACT',
      context: { operation: 'upload', artifactName: 'art', file: 'dir/f.txt' },
    });
    expect((error as Error).message).toContain('the test token');
    expect(JSON.stringify(error)).not.toContain(TOKEN);
  });

  it.each([1, 5, TOKEN.length - 1])('finds a token split after %i bytes across two reads', (split) => {
    const text = Buffer.from(`${'a'.repeat(100)}${TOKEN}${'b'.repeat(100)}`);
    const cut = 100 + split;
    expect(feedAll([text.subarray(0, cut), text.subarray(cut)])).toMatchObject({
      code: 'ERR_FERRY_SECRET_IN_ARTIFACT',
    });
  });

  it('finds a token spread over many one-byte reads', () => {
    const text = Buffer.from(`xx${TOKEN}yy`);
    expect(feedAll([...text].map((b) => Buffer.from([b])))).toMatchObject({
      code: 'ERR_FERRY_SECRET_IN_ARTIFACT',
    });
  });

  it('searches re-read bytes once: a sample, then the whole file from 0, then a second pass', () => {
    const text = Buffer.from(`${'a'.repeat(50)}${TOKEN.slice(0, 10)}`);
    const rest = Buffer.from(`${TOKEN.slice(10)}zz`);
    const scan = scanner().file('f');
    scan.feed(0, text.subarray(0, 20)); // sample
    scan.feed(0, text); // first full read overlaps the sample
    expect(scan.scanned).toBe(text.length);
    expect(() => scan.feed(text.length, rest)).toThrow(/the test token/);
  });

  it('does not match a reused buffer against stale bytes (the tail is a copy)', () => {
    const scan = scanner().file('f');
    const buffer = Buffer.from(`${'a'.repeat(40)}${TOKEN.slice(0, 8)}`);
    scan.feed(0, buffer);
    buffer.fill('c');
    expect(() => scan.feed(buffer.length, Buffer.from('no secret here'))).not.toThrow();
  });

  it('passes clean content through a stream unchanged and fails a stream holding the token', async () => {
    const clean = scanner()
      .file('f')
      .stream(Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    const out: Buffer[] = [];
    for await (const chunk of clean) out.push(chunk as Buffer);
    expect(Buffer.concat(out).toString()).toBe('hello world');

    const dirty = scanner()
      .file('f')
      .stream(Readable.from([Buffer.from(`x${TOKEN.slice(0, 4)}`), Buffer.from(`${TOKEN.slice(4)}y`)]));
    await expect(
      (async () => {
        for await (const chunk of dirty) void chunk;
      })(),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_SECRET_IN_ARTIFACT' });
  });
});

describe('credential files', () => {
  it.each([
    '.npmrc',
    'a/.env',
    '.env.production',
    'x/.git/config',
    '.netrc',
    '.docker/config.json',
    'id_rsa',
  ])('%s is a credential file', (p) => expect(isCredentialFile(p)).toBe(true));
  it.each(['config', 'src/env.ts', '.gitignore', 'git/config', 'npmrc'])('%s is not', (p) =>
    expect(isCredentialFile(p)).toBe(false),
  );
  it('names at most ten files in the warning', () => {
    const paths = Array.from({ length: 12 }, (_, i) => `d${i}/.env`);
    const warning = credentialFilesWarning('art', [...paths, 'a.txt']) as string;
    expect(warning).toContain("'d0/.env'");
    expect(warning).toContain('and 2 more');
    expect(warning).not.toContain('a.txt');
    expect(credentialFilesWarning('art', ['a.txt'])).toBeUndefined();
  });
});
