import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { DEFAULT_LIMITS } from '../../src/server/http/limits.js';
import { openAzureLegacyStore } from '../../src/server/legacy/azure/open-azure-legacy.js';
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
