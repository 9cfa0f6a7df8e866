import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { downloadArtifact, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { openAzureLegacyStore } from '../../src/server/legacy/azure/open-azure-legacy.js';
import { openAzureStore } from '../../src/server/results/azure/azure-store.js';
import type { Timed } from '../../src/server/results/azure/small-json.js';
import { RetentionSweeper } from '../../src/server/retention/sweeper.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { childServerUnavailable, startChildServer, type ChildServer } from '../helpers/serve-child.js';
import { hashTree } from '../helpers/tree.js';
import {
  artifactsUrl,
  chunkUrl,
  contentRange,
  md5Base64,
  rawRequest,
  type RawResponse,
} from '../helpers/server-fixture.js';

// The legacy protocol (upload/download-artifact v1-v3) on an azure_blob store: two ferry serve
// instances on one Azurite container, files staged as blocks, records shared through the container.
const TOKEN = 'azure-legacy-token-0123456789';
const RUN = '5151';
const auth = { Authorization: `Bearer ${TOKEN}` };

interface OfficialClient {
  uploadArtifact(
    name: string,
    files: string[],
    root: string,
    options?: { continueOnError?: boolean },
  ): Promise<{ failedItems: string[]; size: number }>;
  downloadArtifact(
    name: string,
    path?: string,
    options?: { createArtifactFolder?: boolean },
  ): Promise<{ downloadPath: string }>;
}
const require = createRequire(import.meta.url);
const official = (): OfficialClient =>
  (require('actions-artifact-legacy') as { create(): OfficialClient }).create();

let azurite: Azurite;
let dir: string;
let a: RunningServer;
let b: RunningServer;
const saved = { ...process.env };

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-legacy', 'team/');
}

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'ferry-azure-legacy-'));
  a = await startServer({ dataDir: join(dir, 'a'), token: TOKEN, azure: spec(), accessLog: 'off' });
  b = await startServer({ dataDir: join(dir, 'b'), token: TOKEN, azure: spec(), accessLog: 'off' });
}, 60_000);

afterAll(async () => {
  process.env = saved;
  await a?.close(0);
  await b?.close(0);
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Blob names under a prefix of the test container, committed or only staged. */
async function blobNames(prefix: string): Promise<string[]> {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const account = spec().account;
  const container = new BlobServiceClient(
    account.blobEndpoint,
    new StorageSharedKeyCredential(account.accountName, account.accountKey),
  ).getContainerClient('ferry-legacy');
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix, includeUncommitedBlobs: true })) {
    names.push(blob.name);
  }
  return names;
}

async function createContainer(server: RunningServer, name: string, retentionDays?: number) {
  const created = await rawRequest('POST', artifactsUrl(server, RUN), {
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ Type: 'actions_storage', Name: name, RetentionDays: retentionDays }),
  });
  expect(created.status).toBe(201);
  return created.json<{ containerId: number; fileContainerResourceUrl: string }>();
}

function putChunk(
  containerUrl: string,
  itemPath: string,
  bytes: Buffer,
  start: number,
  total: number,
  extra: Record<string, string> = {},
): Promise<RawResponse> {
  return rawRequest('PUT', chunkUrl(containerUrl, itemPath), {
    headers: {
      ...auth,
      'Content-Type': 'application/octet-stream',
      'Content-Range': total === 0 ? 'bytes 0--1/0' : contentRange(start, bytes.length, total),
      'x-actions-results-md5': md5Base64(bytes),
      ...extra,
    },
    body: bytes,
  });
}

async function patchSize(server: RunningServer, name: string, size: unknown): Promise<RawResponse> {
  return rawRequest('PATCH', `${artifactsUrl(server, RUN)}&artifactName=${encodeURIComponent(name)}`, {
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ Size: size }),
  });
}

/** The item URL of a file, on another instance than the one that took the upload. */
function itemOn(server: RunningServer, containerId: number, itemPath: string): URL {
  return chunkUrl(`${server.url}_apis/resources/Containers/${containerId}`, itemPath);
}

it('uploads chunks through one instance, lists and downloads them through the other', async () => {
  const big = randomBytes(3 * 1024 * 1024 + 17);
  const text = Buffer.from('hello from a legacy upload on azure\n'.repeat(200));
  const gz = gzipSync(text);
  const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'chunks');

  // Three chunks, in order; the second one is sent twice, first with other bytes (a retried
  // chunk lands on its own block id and replaces the first attempt).
  const MiB = 1024 * 1024;
  const parts = [big.subarray(0, MiB), big.subarray(MiB, 2 * MiB), big.subarray(2 * MiB)];
  expect((await putChunk(url, 'chunks/dir/big.bin', parts[0]!, 0, big.length)).status).toBe(200);
  expect((await putChunk(url, 'chunks/dir/big.bin', randomBytes(MiB), MiB, big.length)).status).toBe(200);
  expect((await putChunk(url, 'chunks/dir/big.bin', parts[1]!, MiB, big.length)).status).toBe(200);
  // Not complete yet: nothing is listed before the last chunk commits the file.
  const partial = await rawRequest('GET', itemOn(b, containerId, 'chunks'), { headers: auth });
  expect(partial.json<{ count: number }>().count).toBe(0);
  expect((await putChunk(url, 'chunks/dir/big.bin', parts[2]!, 2 * MiB, big.length)).status).toBe(200);
  // The last chunk again (its answer was lost, say): the file is committed again, identical.
  expect((await putChunk(url, 'chunks/dir/big.bin', parts[2]!, 2 * MiB, big.length)).status).toBe(200);
  const gzipped = await putChunk(url, 'chunks/notes.txt', gz, 0, gz.length, {
    'Content-Encoding': 'gzip',
    'x-tfs-filelength': String(text.length),
  });
  expect(gzipped.status).toBe(200);
  expect((await putChunk(url, 'chunks/empty', Buffer.alloc(0), 0, 0)).status).toBe(200);
  const patched = await patchSize(a, 'chunks', 0);
  expect(patched.status).toBe(200);
  // The size kept is what the container holds (original sizes), as on the filesystem store.
  expect(patched.json<{ size: number }>().size).toBe(big.length + text.length);

  const listed = await rawRequest('GET', artifactsUrl(b, RUN), { headers: auth });
  expect(listed.json<{ value: { name: string; size: number }[] }>().value).toEqual(
    expect.arrayContaining([expect.objectContaining({ name: 'chunks', size: big.length + text.length })]),
  );
  const items = await rawRequest('GET', itemOn(b, containerId, 'chunks'), { headers: auth });
  const entries = items.json<{ value: { path: string; itemType: string; fileLength?: number }[] }>().value;
  expect(entries.map((e) => [e.path, e.itemType, e.fileLength])).toEqual([
    ['chunks', 'folder', undefined],
    ['chunks/dir', 'folder', undefined],
    ['chunks/dir/big.bin', 'file', big.length],
    ['chunks/empty', 'file', 0],
    ['chunks/notes.txt', 'file', text.length],
  ]);

  const got = await rawRequest('GET', itemOn(b, containerId, 'chunks/dir/big.bin'), { headers: auth });
  expect(got.status).toBe(200);
  expect(got.headers['content-encoding']).toBeUndefined();
  expect(createHash('sha256').update(got.body).digest('hex')).toBe(
    createHash('sha256').update(big).digest('hex'),
  );
  const gotGz = await rawRequest('GET', itemOn(b, containerId, 'chunks/notes.txt'), { headers: auth });
  expect(gotGz.headers['content-encoding']).toBe('gzip');
  expect(gotGz.body.equals(gz)).toBe(true);
  // Files live as one block blob each under legacy/items/<containerId>/.
  expect(await blobNames(`team/legacy/items/${containerId}/`)).toHaveLength(3);
}, 60_000);

it('refuses a chunk whose bytes do not match its MD5 or its Content-Range, and stores nothing of it', async () => {
  const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'refusals');
  const data = randomBytes(4096);
  const bad = await putChunk(url, 'refusals/x.bin', data, 0, data.length, {
    'x-actions-results-md5': md5Base64(randomBytes(8)),
  });
  expect(bad.status).toBe(400);
  expect(bad.json<{ message: string }>().message).toMatch(/MD5 mismatch/);
  const short = await rawRequest('PUT', chunkUrl(url, 'refusals/x.bin'), {
    headers: { ...auth, 'Content-Range': contentRange(0, 5000, 5000), 'Transfer-Encoding': 'chunked' },
    body: data,
  });
  expect(short.status).toBe(400);
  expect(short.json<{ message: string }>().message).toMatch(/4096 bytes but the Content-Range says 5000/);
  expect(await blobNames(`team/legacy/items/${containerId}/`)).toEqual([]);
  // A finalize whose size is not a non-negative integer is refused, and leaves the artifact unfinished.
  expect((await patchSize(b, 'refusals', -5)).status).toBe(400);
  expect((await patchSize(b, 'refusals', '12')).status).toBe(400);
  const listed = await rawRequest('GET', artifactsUrl(b, RUN), { headers: auth });
  expect(listed.json<{ value: { name: string; size: number }[] }>().value).toEqual(
    expect.arrayContaining([expect.objectContaining({ name: 'refusals', size: -1 })]),
  );
  // Without the server's token nothing about the container is answered.
  const other = await rawRequest('GET', itemOn(b, containerId, 'refusals'), {
    headers: { Authorization: 'Bearer wrong' },
  });
  expect(other.status).toBe(401);
});

it('bounds a container by maxArtifactBytes across its files, as the filesystem store does', async () => {
  const small = await startServer({
    dataDir: join(dir, 'small'),
    token: TOKEN,
    azure: spec(),
    accessLog: 'off',
    limits: { maxArtifactBytes: 10_000 },
  });
  try {
    const { containerId, fileContainerResourceUrl: url } = await createContainer(small, 'bounded');
    expect((await putChunk(url, 'bounded/one', randomBytes(6000), 0, 6000)).status).toBe(200);
    const over = await putChunk(url, 'bounded/two', randomBytes(6000), 0, 6000);
    expect(over.status).toBe(413);
    expect(over.json<{ message: string }>().message).toContain('maxArtifactBytes');
    const chunked = await putChunk(url, 'bounded/three', randomBytes(100), 0, 20_000);
    expect(chunked.status).toBe(413);
    // Replacing a file counts its new size instead of its old one.
    expect((await putChunk(url, 'bounded/one', randomBytes(9000), 0, 9000)).status).toBe(200);
    expect(await blobNames(`team/legacy/items/${containerId}/`)).toHaveLength(1);
  } finally {
    await small.close(0);
  }
});

it('merges a create of an existing name on the other instance into the same container', async () => {
  const first = await createContainer(a, 'merged');
  const second = await createContainer(b, 'merged');
  expect(second.containerId).toBe(first.containerId);
  const raced = await Promise.all([createContainer(a, 'raced'), createContainer(b, 'raced')]);
  expect(raced[0].containerId).toBe(raced[1].containerId);
});

it('serves Ferry legacy uploads through A to Ferry downloads through B', async () => {
  const source = join(dir, 'ferry-src');
  await mkdir(join(source, 'sub'), { recursive: true });
  await writeFile(join(source, 'a.txt'), 'text that gzip shrinks\n'.repeat(500));
  await writeFile(join(source, 'sub', 'random.bin'), randomBytes(300_000));
  await writeFile(join(source, 'empty'), '');
  const files = ['a.txt', 'sub/random.bin', 'empty'].map((f) => join(source, f));
  const uploaded = await uploadArtifact('ferry-made', files, source, {
    runtimeUrl: a.url,
    runtimeToken: TOKEN,
    runId: RUN,
  });
  expect(uploaded.fileCount).toBe(3);
  const target = join(dir, 'ferry-got');
  const got = await downloadArtifact('ferry-made', {
    runtimeUrl: b.url,
    runtimeToken: TOKEN,
    runId: RUN,
    path: target,
  });
  expect(got.fileCount).toBe(3);
  expect(await hashTree(target)).toEqual(await hashTree(source));
}, 60_000);

it('serves the official @actions/artifact 1.1.x: upload through A, download through B', async () => {
  const source = join(dir, 'official-src');
  await mkdir(join(source, 'deep', 'er'), { recursive: true });
  await writeFile(join(source, 'small.txt'), 'small and compressible\n'.repeat(100));
  // Over 8 MiB of incompressible bytes: sent raw in two Content-Range chunks.
  await writeFile(join(source, 'deep', 'er', 'large.bin'), randomBytes(8 * 1024 * 1024 + 1000));
  const files = ['small.txt', 'deep/er/large.bin'].map((f) => join(source, f));
  process.env['ACTIONS_RUNTIME_TOKEN'] = TOKEN;
  process.env['GITHUB_RUN_ID'] = RUN;
  process.env['GITHUB_WORKSPACE'] = dir;
  process.env['ACTIONS_RUNTIME_URL'] = a.url;
  const result = await official().uploadArtifact('official-made', files, source, { continueOnError: false });
  expect(result.failedItems).toEqual([]);
  process.env['ACTIONS_RUNTIME_URL'] = b.url;
  const target = join(dir, 'official-got');
  await official().downloadArtifact('official-made', target, { createArtifactFolder: false });
  expect(await hashTree(target)).toEqual(await hashTree(source));
  expect((await readFile(join(target, 'deep', 'er', 'large.bin'))).length).toBe(8 * 1024 * 1024 + 1000);
}, 120_000);

it('the retention sweep deletes an expired legacy artifact, its record and every file blob', async () => {
  const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'short-lived', 1);
  const data = randomBytes(2048);
  expect((await putChunk(url, 'short-lived/f.bin', data, 0, data.length)).status).toBe(200);
  // A file left half-uploaded: only staged blocks, no committed blob. It goes too.
  const half = randomBytes(1024);
  expect((await putChunk(url, 'short-lived/half.bin', half, 0, 4096)).status).toBe(200);
  expect((await patchSize(a, 'short-lived', data.length)).status).toBe(200);
  expect(await blobNames(`team/legacy/items/${containerId}/`)).toHaveLength(2);

  // A third instance's retention sweep, two days on: the artifact's one-day retention has ended.
  const limits = (await import('../../src/server/http/limits.js')).DEFAULT_LIMITS;
  const time: Timed = (_operation, call) => call();
  const store = await openAzureLegacyStore(spec(), { limits, time });
  const results = await openAzureStore(spec(), { limits, signedUrlTtlMs: 60_000, time });
  const later = Date.now() + 2 * 86_400_000;
  expect((await store.expired(later)).map((r) => r.name)).toEqual(['short-lived']);
  const sweeper = new RetentionSweeper(results.records, { legacy: store, now: () => later });
  await sweeper.sweep();
  expect(sweeper.stats()).toEqual(
    expect.objectContaining({ deletedArtifacts: 1, deletedBytes: data.length, failures: 0 }),
  );
  // Idempotent: a second sweep (or another instance's) finds nothing to do.
  await sweeper.sweep();
  expect(sweeper.stats().deletedArtifacts).toBe(1);
  expect(await store.removeExpired(containerId, later)).toBeUndefined();
  expect(await blobNames(`team/legacy/items/${containerId}/`)).toEqual([]);
  expect(await blobNames(`team/legacy/containers/${containerId}`)).toEqual([]);
  const gone = await rawRequest('GET', itemOn(b, containerId, 'short-lived'), { headers: auth });
  expect(gone.status).toBe(404);
  const listed = await rawRequest('GET', artifactsUrl(b, RUN), { headers: auth });
  expect(listed.json<{ value: { name: string }[] }>().value.map((r) => r.name)).not.toContain('short-lived');
});

it('kill -9 of an instance mid-chunk loses nothing finalized, lists no half file, and the file uploads again through the other', async () => {
  const unavailable = await childServerUnavailable();
  if (unavailable) throw new Error(unavailable);
  let child: ChildServer | undefined = await startChildServer({
    dataDir: join(dir, 'child'),
    token: TOKEN,
    azure: spec(),
  });
  try {
    const childServer = { url: child.url } as RunningServer;
    const done = await createContainer(childServer, 'done-before-kill');
    const finished = Buffer.from('finished before the kill');
    expect(
      (await putChunk(done.fileContainerResourceUrl, 'done-before-kill/f', finished, 0, finished.length))
        .status,
    ).toBe(200);
    expect((await patchSize(childServer, 'done-before-kill', finished.length)).status).toBe(200);

    const cut = await createContainer(childServer, 'cut');
    const file = randomBytes(256 * 1024);
    const half = file.length / 2;
    expect(
      (await putChunk(cut.fileContainerResourceUrl, 'cut/file.bin', file.subarray(0, half), 0, file.length))
        .status,
    ).toBe(200);
    // The last chunk's body is half sent when the instance dies.
    const last = file.subarray(half);
    const request = http.request(chunkUrl(cut.fileContainerResourceUrl, 'cut/file.bin'), {
      method: 'PUT',
      headers: {
        ...auth,
        'Content-Range': contentRange(half, last.length, file.length),
        'Content-Length': last.length,
      },
    });
    request.on('error', () => undefined);
    request.write(last.subarray(0, last.length / 2));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await child.kill9();
    child = undefined;
    request.destroy();

    const got = await rawRequest('GET', itemOn(b, done.containerId, 'done-before-kill/f'), { headers: auth });
    expect(got.body.equals(finished)).toBe(true);
    const listing = await rawRequest('GET', itemOn(b, cut.containerId, 'cut'), { headers: auth });
    expect(listing.json<{ count: number }>().count).toBe(0);

    // The client's retry of that chunk, through the other instance, completes the file.
    expect(
      (
        await putChunk(
          cut.fileContainerResourceUrl.replace(childServer.url, b.url),
          'cut/file.bin',
          last,
          half,
          file.length,
        )
      ).status,
    ).toBe(200);
    const whole = await rawRequest('GET', itemOn(a, cut.containerId, 'cut/file.bin'), { headers: auth });
    expect(whole.body.equals(file)).toBe(true);
  } finally {
    await child?.kill9();
  }
}, 120_000);
