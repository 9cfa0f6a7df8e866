import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { DEFAULT_LIMITS } from '../../src/server/http/limits.js';
import { openAzureLegacyStore } from '../../src/server/legacy/azure/open-azure-legacy.js';
import { itemKey } from '../../src/server/legacy/layout.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import type { Timed } from '../../src/server/results/azure/small-json.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import {
  artifactsUrl,
  chunkUrl,
  contentRange,
  md5Base64,
  rawRequest,
  type RawResponse,
} from '../helpers/server-fixture.js';

// The legacy protocol's per-container state shared by instances of an azure_blob store: the
// committed-bytes count (maxArtifactBytes across instances) and the upload-session claims (409
// for a second upload writing the same file), on one Azurite container.
const TOKEN = 'azure-legacy-shared-token-0123';
const RUN = '6262';
const MAX = 10_000;
const auth = { Authorization: `Bearer ${TOKEN}` };

let azurite: Azurite;
let dir: string;
let a: RunningServer;
let b: RunningServer;

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-legacy-shared', 'p/');
}

async function container(): Promise<ContainerClient> {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const account = spec().account;
  return new BlobServiceClient(
    account.blobEndpoint,
    new StorageSharedKeyCredential(account.accountName, account.accountKey),
  ).getContainerClient('ferry-legacy-shared');
}

async function readJson(name: string): Promise<unknown> {
  const body = await (await container()).getBlockBlobClient(name).downloadToBuffer();
  return JSON.parse(body.toString('utf8')) as unknown;
}

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'ferry-azure-legacy-shared-'));
  const options = {
    token: TOKEN,
    azure: spec(),
    accessLog: 'off' as const,
    limits: { maxArtifactBytes: MAX },
  };
  a = await startServer({ ...options, dataDir: join(dir, 'a') });
  b = await startServer({ ...options, dataDir: join(dir, 'b') });
}, 60_000);

afterAll(async () => {
  await a?.close(0);
  await b?.close(0);
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function createContainer(server: RunningServer, name: string, retentionDays?: number) {
  const created = await rawRequest('POST', artifactsUrl(server, RUN), {
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ Type: 'actions_storage', Name: name, RetentionDays: retentionDays }),
  });
  expect(created.status).toBe(201);
  return created.json<{ containerId: number; fileContainerResourceUrl: string }>();
}

/** The same container URL on another instance (the session rides along in the query). */
function on(server: RunningServer, url: string): string {
  const moved = new URL(url);
  const base = new URL(server.url);
  moved.host = base.host;
  return moved.toString();
}

function putChunk(
  containerUrl: string,
  itemPath: string,
  bytes: Buffer,
  start: number,
  total: number,
): Promise<RawResponse> {
  return rawRequest('PUT', chunkUrl(containerUrl, itemPath), {
    headers: {
      ...auth,
      'Content-Type': 'application/octet-stream',
      'Content-Range': contentRange(start, bytes.length, total),
      'x-actions-results-md5': md5Base64(bytes),
    },
    body: bytes,
  });
}

function putWhole(containerUrl: string, itemPath: string, size: number): Promise<RawResponse> {
  return putChunk(containerUrl, itemPath, randomBytes(size), 0, size);
}

async function patchSize(server: RunningServer, name: string, size: number): Promise<RawResponse> {
  return rawRequest('PATCH', `${artifactsUrl(server, RUN)}&artifactName=${encodeURIComponent(name)}`, {
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ Size: size }),
  });
}

describe('maxArtifactBytes across instances', () => {
  it('refuses the file that takes the container past the bound, whichever instance took the earlier bytes', async () => {
    const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'bounded');
    // B counts first, then A adds bytes B has not seen: B must still refuse what no longer fits.
    expect((await putWhole(on(b, url), 'bounded/b1', 1000)).status).toBe(200);
    expect((await putWhole(url, 'bounded/a1', 6000)).status).toBe(200);
    const over = await putWhole(on(b, url), 'bounded/b2', 6000);
    expect(over.status).toBe(413);
    expect(over.json<{ message: string }>().message).toContain('maxArtifactBytes');
    expect(await readJson(`p/legacy/uploads/${containerId}/bytes`)).toEqual({ bytes: 7000 });

    // A file uploaded again counts the difference: 6000 -> 2000 frees 4000 bytes for B.
    expect((await putWhole(url, 'bounded/a1', 2000)).status).toBe(200);
    expect((await putWhole(on(b, url), 'bounded/b2', 6000)).status).toBe(200);
    expect(await readJson(`p/legacy/uploads/${containerId}/bytes`)).toEqual({ bytes: 9000 });
    // A chunked file is counted at its commit, from its committed blocks.
    const parts = randomBytes(2000);
    expect((await putChunk(url, 'bounded/b1', parts.subarray(0, 1000), 0, 2000)).status).toBe(200);
    expect((await putChunk(on(b, url), 'bounded/b1', parts.subarray(1000), 1000, 2000)).status).toBe(200);
    expect(await readJson(`p/legacy/uploads/${containerId}/bytes`)).toEqual({ bytes: 10_000 });
    expect((await putWhole(url, 'bounded/one-more', 1)).status).toBe(413);
  });

  it('lets exactly one of two concurrent files through when only one fits', async () => {
    const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'raced-bytes');
    const other = await createContainer(b, 'raced-bytes');
    const statuses = await Promise.all([
      putWhole(url, 'raced-bytes/x', 6000),
      putWhole(other.fileContainerResourceUrl, 'raced-bytes/y', 6000),
    ]);
    expect(statuses.map((r) => r.status).sort()).toEqual([200, 413]);
    expect(await readJson(`p/legacy/uploads/${containerId}/bytes`)).toEqual({ bytes: 6000 });
  });

  it('gives back the bytes of a file whose body was refused', async () => {
    const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'bad-body');
    const data = randomBytes(6000);
    for (let i = 0; i < 3; i++) {
      const bad = await rawRequest('PUT', chunkUrl(url, 'bad-body/f'), {
        headers: {
          ...auth,
          'Content-Range': contentRange(0, data.length, data.length),
          'x-actions-results-md5': md5Base64(randomBytes(4)),
        },
        body: data,
      });
      expect(bad.status).toBe(400);
    }
    expect(await readJson(`p/legacy/uploads/${containerId}/bytes`)).toEqual({ bytes: 0 });
    expect((await putWhole(url, 'bad-body/f', 6000)).status).toBe(200);
  });

  it('the retention sweep removes the container count with the container', async () => {
    const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'swept-bytes', 1);
    expect((await putWhole(url, 'swept-bytes/f', 100)).status).toBe(200);
    expect((await patchSize(a, 'swept-bytes', 100)).status).toBe(200);
    const time: Timed = (_operation, call) => call();
    const store = await openAzureLegacyStore(spec(), { limits: DEFAULT_LIMITS, time });
    const later = Date.now() + 2 * 86_400_000;
    expect(await store.removeExpired(containerId, later)).toEqual(
      expect.objectContaining({ name: 'swept-bytes' }),
    );
    const left: string[] = [];
    for await (const blob of (await container()).listBlobsFlat({
      prefix: `p/legacy/uploads/${containerId}/`,
    })) {
      left.push(blob.name);
    }
    expect(left).toEqual([]);
  });
});

/** The session a container URL carries (the `upload` query parameter). */
function sessionOf(url: string): string {
  const session = new URL(url).searchParams.get('upload');
  if (!session) throw new Error(`no session in ${url}`);
  return session;
}

async function download(server: RunningServer, containerId: number, itemPath: string): Promise<Buffer> {
  const got = await rawRequest(
    'GET',
    chunkUrl(`${server.url}_apis/resources/Containers/${containerId}`, itemPath),
    {
      headers: auth,
    },
  );
  expect(got.status).toBe(200);
  return got.body;
}

describe('one upload per file across instances', () => {
  it('refuses the second of two concurrent uploads writing the same file, and every later write of it', async () => {
    const first = await createContainer(a, 'same');
    const second = await createContainer(b, 'same');
    expect(second.containerId).toBe(first.containerId);
    const answers = await Promise.all([
      putWhole(first.fileContainerResourceUrl, 'same/f', 100),
      putWhole(second.fileContainerResourceUrl, 'same/f', 100),
    ]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const loser = answers[0]!.status === 409 ? first : second;
    const winner = loser === first ? second : first;
    expect(answers.find((r) => r.status === 409)!.json<{ message: string }>().message).toMatch(/came second/);
    // The loser may write nothing more, not even another file: its artifact would mix the two.
    const later = await putWhole(on(a, loser.fileContainerResourceUrl), 'same/g', 10);
    expect(later.status).toBe(409);
    expect(later.json<{ message: string }>().message).toMatch(/lost the race/);
    // The winner goes on (through the other instance too) and finalizes.
    expect((await putWhole(on(b, winner.fileContainerResourceUrl), 'same/g', 10)).status).toBe(200);
    expect((await patchSize(a, 'same', 110)).status).toBe(200);

    // After it finished, a new upload of the name replaces the file.
    const again = await createContainer(b, 'same');
    const bytes = randomBytes(50);
    expect((await putChunk(again.fileContainerResourceUrl, 'same/f', bytes, 0, bytes.length)).status).toBe(
      200,
    );
    expect((await download(a, again.containerId, 'same/f')).equals(bytes)).toBe(true);
  });

  it('keeps a chunked file to the upload that started it; the other one never tiles it', async () => {
    const first = await createContainer(a, 'chunked-same');
    const second = await createContainer(b, 'chunked-same');
    const mine = randomBytes(2000);
    expect(
      (await putChunk(first.fileContainerResourceUrl, 'chunked-same/f', mine.subarray(0, 1000), 0, 2000))
        .status,
    ).toBe(200);
    const theirs = randomBytes(2000);
    expect(
      (await putChunk(second.fileContainerResourceUrl, 'chunked-same/f', theirs.subarray(0, 1000), 0, 2000))
        .status,
    ).toBe(409);
    expect(
      (
        await putChunk(
          on(b, first.fileContainerResourceUrl),
          'chunked-same/f',
          mine.subarray(1000),
          1000,
          2000,
        )
      ).status,
    ).toBe(200);
    expect((await download(a, first.containerId, 'chunked-same/f')).equals(mine)).toBe(true);
  });

  it('takes over the claim of an upload whose instance died (its session idle past the lease)', async () => {
    const dead = await createContainer(a, 'taken-over');
    const deadBytes = randomBytes(2000);
    expect(
      (await putChunk(dead.fileContainerResourceUrl, 'taken-over/f', deadBytes.subarray(0, 1000), 0, 2000))
        .status,
    ).toBe(200);
    const live = await createContainer(b, 'taken-over');
    expect((await putWhole(live.fileContainerResourceUrl, 'taken-over/f', 2000)).status).toBe(409);

    // The first upload's instance was killed three minutes ago: its session last wrote then.
    const sessionBlob = `p/legacy/uploads/${dead.containerId}/sessions/${sessionOf(dead.fileContainerResourceUrl)}`;
    const idle = JSON.stringify({ active: Date.now() - 3 * 60_000, lost: false });
    await (await container()).getBlockBlobClient(sessionBlob).upload(idle, idle.length);

    // A third upload (the second lost its race, for good) takes the file over, in two chunks of
    // its own: the dead upload's block at offset 0 is not part of the file.
    const third = await createContainer(b, 'taken-over');
    const bytes = randomBytes(2000);
    expect(
      (await putChunk(third.fileContainerResourceUrl, 'taken-over/f', bytes.subarray(0, 1000), 0, 2000))
        .status,
    ).toBe(200);
    expect(
      (
        await putChunk(
          on(a, third.fileContainerResourceUrl),
          'taken-over/f',
          bytes.subarray(1000),
          1000,
          2000,
        )
      ).status,
    ).toBe(200);
    expect((await download(a, third.containerId, 'taken-over/f')).equals(bytes)).toBe(true);
    // The dead upload was marked lost when its file was taken over: coming back, it may write nothing.
    const fenced = JSON.parse(
      (await (await container()).getBlockBlobClient(sessionBlob).downloadToBuffer()).toString(),
    );
    expect(fenced).toMatchObject({ lost: true });
    expect(
      (await putChunk(dead.fileContainerResourceUrl, 'taken-over/f', deadBytes.subarray(1000), 1000, 2000))
        .status,
    ).toBe(409);
    expect((await download(b, third.containerId, 'taken-over/f')).equals(bytes)).toBe(true);
  });

  it('uploads a chunked file over blocks an earlier version staged (an upload in progress across an upgrade)', async () => {
    const { containerId, fileContainerResourceUrl: url } = await createContainer(a, 'upgraded');
    const blob = (await container()).getBlockBlobClient(
      `p/legacy/items/${containerId}/${itemKey('upgraded/f')}`,
    );
    const oldId = Buffer.from(`ferry-legacy-${'0'.repeat(16)}`).toString('base64');
    await blob.stageBlock(oldId, 'stale', 5);
    const bytes = randomBytes(2000);
    expect((await putChunk(url, 'upgraded/f', bytes.subarray(0, 1000), 0, 2000)).status).toBe(200);
    expect((await putChunk(url, 'upgraded/f', bytes.subarray(1000), 1000, 2000)).status).toBe(200);
    expect((await download(b, containerId, 'upgraded/f')).equals(bytes)).toBe(true);
  });

  it('costs two store calls per small file: one read of the session, one conditional create of the claim', async () => {
    const { fileContainerResourceUrl: url } = await createContainer(a, 'cost');
    const untracked = new URL(url);
    untracked.searchParams.delete('upload');
    // Warm the container's pointer cache and connections first.
    expect((await putWhole(url, 'cost/warm', 10)).status).toBe(200);
    expect((await putWhole(untracked.toString(), 'cost/warm2', 10)).status).toBe(200);
    const calls = async (): Promise<number> => {
      const text = (await rawRequest('GET', new URL('metrics', a.url), { headers: auth })).body.toString();
      return [...text.matchAll(/^ferry_store_call_duration_seconds_count\{[^}]*\} (\d+)$/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    };
    const callsPerFile = async (base: string, tag: string): Promise<number> => {
      const before = await calls();
      for (let i = 0; i < 10; i++) expect((await putWhole(base, `cost/${tag}-${i}`, 100)).status).toBe(200);
      return ((await calls()) - before) / 10;
    };
    const without = await callsPerFile(untracked.toString(), 'untracked');
    const withSession = await callsPerFile(url, 'tracked');
    expect(withSession - without).toBe(2);
    // Latency, the two kinds interleaved so that the machine's load weighs on both alike.
    const times: Record<'untracked' | 'tracked', number[]> = { untracked: [], tracked: [] };
    for (let i = 0; i < 30; i++) {
      for (const [kind, base] of [
        ['untracked', untracked.toString()],
        ['tracked', url],
      ] as const) {
        const t0 = performance.now();
        expect((await putWhole(base, `cost/t-${kind}-${i}`, 100)).status).toBe(200);
        times[kind].push(performance.now() - t0);
      }
    }
    const median = (values: number[]): string => values.sort((x, y) => x - y)[values.length >> 1]!.toFixed(1);
    // The figure docs/serve.md quotes (Azurite on loopback; Azure adds its round trips).
    console.log(
      `legacy small file on azure_blob: ${without} store calls, median ${median(times.untracked)} ms without a session; ` +
        `${withSession} calls, median ${median(times.tracked)} ms with one`,
    );
  });
});
