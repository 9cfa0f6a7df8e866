import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadSignedArtifact } from '../../src/backends/results/download.js';
import type { OperationContext } from '../../src/backends/backend.js';
import { isFerryError } from '../../src/core/errors.js';
import { openCache, type VerifiedCache } from '../../src/cache/index.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';
import { rangedAnswer } from '../helpers/ranged-answer.js';
import { buildZip } from '../helpers/zip-builder.js';

/**
 * The one-pass results download against a real loopback blob server: Range + If-Match resumes
 * feed the same hash and zip reader, a digest mismatch leaves nothing behind, every byte is
 * written once (no raw copy of the zip), and an archive the streaming reader cannot follow (or a
 * faulty one) is, once its digest matched, fetched again into a temporary file and extracted from
 * its central directory (or taken from the download cache the first pass filled).
 */

interface Blob {
  body: Buffer;
  /** Cut the first full GET off after this many bytes. */
  cutAfter?: number;
}

let server: Server;
let base: string;
let blob: Blob;
const requests: Array<{ range: string | undefined; ifMatch: string | undefined }> = [];

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'ferry-one-pass-'));
  requests.length = 0;
  server = createServer((req, res) => {
    const range = req.headers.range;
    requests.push({ range, ifMatch: req.headers['if-match'] as string | undefined });
    const { body } = blob;
    const headers = { 'content-type': 'application/zip', etag: '"v1"' };
    if (range !== undefined) {
      const answer = rangedAnswer(body, range);
      res.writeHead(answer.status, { ...headers, ...answer.headers });
      res.end(answer.body);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': body.length });
    if (blob.cutAfter !== undefined && requests.length === 1) {
      res.write(body.subarray(0, blob.cutAfter), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(base, { recursive: true, force: true });
});

function context(debug: string[], cache?: VerifiedCache): OperationContext {
  return {
    http: new HttpManager({ slots: 2, userAgent: 'ferry-test' }),
    operation: new Operation('download'),
    logger: { debug: (m) => debug.push(m), info() {}, warn() {}, error() {} },
    onProgress: undefined,
    ...(cache !== undefined ? { cache } : {}),
  };
}

async function download(
  expectedHex: string,
  debug: string[] = [],
  verifyDigest = true,
  cache?: VerifiedCache,
): Promise<unknown> {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/blob/a.zip`;
  return downloadSignedArtifact(
    url,
    'art',
    expectedHex,
    { name: 'art', targetDirectory: path.join(base, 'target'), verifyDigest },
    path.join(base, 'tmp'),
    context(debug, cache),
    { operation: 'download', artifactName: 'art' },
    undefined,
    blob.body.length,
  );
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const payload = randomBytes(4 * 1024 * 1024);
const text = Buffer.alloc(1024 * 1024, 'one pass ');

test('a dropped connection resumes with Range + If-Match into the same hash and zip reader', async () => {
  const body = buildZip([
    { name: 'big.bin', data: payload, method: 0 },
    { name: 'notes.txt', data: text, dataDescriptor: true },
  ]);
  blob = { body, cutAfter: 1_500_000 };
  const debug: string[] = [];
  const result = (await download(sha(body), debug)) as { fileCount: number; digest: string };
  expect(result.fileCount).toBe(2);
  expect(result.digest).toBe(`sha256:${sha(body)}`);
  expect(requests).toHaveLength(2);
  expect(requests[1]?.ifMatch).toBe('"v1"');
  expect(Number(/^bytes=(\d+)-$/.exec(requests[1]?.range ?? '')?.[1])).toBeGreaterThan(0);
  expect((await readFile(path.join(base, 'target', 'big.bin'))).equals(payload)).toBe(true);
  expect((await readFile(path.join(base, 'target', 'notes.txt'))).equals(text)).toBe(true);
  expect((await readdir(path.join(base, 'target'))).sort()).toEqual(['big.bin', 'notes.txt']);
  expect(debug.join('\n')).not.toMatch(/temporary file/);
});

test('a digest mismatch throws a typed error and leaves no target and no staging behind', async () => {
  blob = { body: buildZip([{ name: 'a.txt', data: 'hello' }]) };
  const error = await download('0'.repeat(64)).catch((e: unknown) => e);
  expect(isFerryError(error) && error.code).toBe('ERR_FERRY_INTEGRITY');
  await expect(readdir(path.join(base, 'target'))).rejects.toMatchObject({ code: 'ENOENT' });
});

test('with verifyDigest false a mismatch is placed and reported', async () => {
  blob = { body: buildZip([{ name: 'a.txt', data: 'hello' }]) };
  const result = (await download('0'.repeat(64), [], false)) as { digestMismatch?: boolean };
  expect(result.digestMismatch).toBe(true);
  expect(await readFile(path.join(base, 'target', 'a.txt'), 'utf8')).toBe('hello');
});

test('an archive the streaming reader cannot follow is fetched again into a temporary file and extracted from it', async () => {
  const body = buildZip([
    { name: 'a.txt', data: 'hello' },
    { name: 'b.txt', data: 'stored with a descriptor', method: 0, dataDescriptor: true },
  ]);
  blob = { body };
  const debug: string[] = [];
  const result = (await download(sha(body), debug)) as { fileCount: number; digest: string };
  expect(result).toMatchObject({ fileCount: 2, digest: `sha256:${sha(body)}` });
  expect(debug.join('\n')).toMatch(
    /could not be extracted while it downloaded \(.*data descriptor.*\); downloading it again to a temporary file/,
  );
  expect(await readFile(path.join(base, 'target', 'b.txt'), 'utf8')).toBe('stored with a descriptor');
  expect((await readdir(path.join(base, 'target'))).sort()).toEqual(['a.txt', 'b.txt']);
  expect(requests.map((r) => r.range)).toEqual([undefined, undefined]);
  expect(await readdir(path.join(base, 'tmp'))).toEqual([]);
});

test('with a download cache, the copy the first pass cached is extracted instead: one GET', async () => {
  const cache = await openCache({ path: path.join(base, 'cache'), maxBytes: 64 * 1024 * 1024 });
  const body = buildZip([
    { name: 'first.bin', data: payload, method: 0, dataDescriptor: true },
    { name: 'notes.txt', data: text },
  ]);
  blob = { body };
  const debug: string[] = [];
  const result = (await download(sha(body), debug, true, cache)) as { fileCount: number };
  expect(result.fileCount).toBe(2);
  expect(debug.join('\n')).toMatch(
    /could not be extracted while it downloaded .*; extracting the cached copy/,
  );
  expect(requests).toHaveLength(1);
  expect((await readFile(path.join(base, 'target', 'first.bin'))).equals(payload)).toBe(true);
  expect((await readdir(path.join(base, 'target'))).sort()).toEqual(['first.bin', 'notes.txt']);
});

test('a resume after the reader gave up still hashes the whole archive; it is then fetched whole once more', async () => {
  // The stored entry with a descriptor comes first, so the reader gives up at once: the cut
  // first GET and its Range resume are only hashed, and the archive extracted is the third GET's.
  const body = buildZip([
    { name: 'first.bin', data: payload, method: 0, dataDescriptor: true },
    { name: 'notes.txt', data: text },
  ]);
  blob = { body, cutAfter: 1_500_000 };
  const debug: string[] = [];
  const result = (await download(sha(body), debug)) as { fileCount: number };
  expect(result.fileCount).toBe(2);
  expect(requests).toHaveLength(3);
  expect(requests[1]?.range).toMatch(/^bytes=[1-9]\d*-$/);
  expect(requests[1]?.ifMatch).toBe('"v1"');
  expect(requests[2]?.range).toBeUndefined();
  expect((await readFile(path.join(base, 'target', 'first.bin'))).equals(payload)).toBe(true);
  expect((await readFile(path.join(base, 'target', 'notes.txt'))).equals(text)).toBe(true);
  expect((await readdir(path.join(base, 'target'))).sort()).toEqual(['first.bin', 'notes.txt']);
  expect(await readdir(path.join(base, 'tmp'))).toEqual([]);
});

test('an archive the reader cannot follow and whose digest does not match: the typed mismatch, no third GET', async () => {
  blob = {
    body: buildZip([{ name: 'b.txt', data: 'stored with a descriptor', method: 0, dataDescriptor: true }]),
  };
  const error = await download('0'.repeat(64)).catch((e: unknown) => e);
  expect(isFerryError(error) && error.code).toBe('ERR_FERRY_INTEGRITY');
  expect((error as Error).message).toMatch(/digest/i);
  // The first GET and the one re-download a mismatch gets; no fetch for extraction.
  expect(requests).toHaveLength(2);
  await expect(readdir(path.join(base, 'target'))).rejects.toMatchObject({ code: 'ENOENT' });
});

test('a faulty archive (wrong CRC) fails with the temp-file error naming the entry, after a second GET', async () => {
  const body = buildZip([
    { name: 'good.txt', data: 'good' },
    { name: 'bad.txt', data: 'the data of bad.txt', crc32: 0x12345678 },
  ]);
  blob = { body };
  const error = await download(sha(body)).catch((e: unknown) => e);
  expect(isFerryError(error) && error.code).toBe('ERR_FERRY_INTEGRITY');
  expect((error as Error).message).toMatch(/CRC-32 mismatch in entry 'bad\.txt'/);
  expect(requests).toHaveLength(2);
  await expect(readdir(path.join(base, 'target'))).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await readdir(path.join(base, 'tmp'))).toEqual([]);
});
