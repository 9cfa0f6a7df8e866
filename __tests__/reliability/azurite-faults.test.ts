import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { downloadBlob } from '../../src/backends/results/blob-download.js';
import { uploadBlob } from '../../src/backends/results/blob-upload.js';
import { blockId } from '../../src/backends/results/blob-urls.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { waitFor } from '../helpers/loopback.js';
import { expectNoSecrets } from './invariants.js';
import { startTransferFaults, type TransferFault, type TransferFaultProxy } from './transfer-faults.js';

/**
 * The same in-flight corruption as network-transfer.test.ts (P31), with Azurite as the blob
 * store instead of ferry serve: a second, independent oracle that Ferry's per-block Content-MD5
 * is what a real Azure Blob implementation checks, and that the re-sent block makes it whole.
 */

let azurite: Azurite;
let work: string;
let proxy: TransferFaultProxy | undefined;

beforeAll(async () => {
  azurite = await startAzurite();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-azurite-faults-'));
  const res = await fetch(`${azurite.accountUrl}/artifacts?restype=container&${azurite.sas}`, {
    method: 'PUT',
    headers: { 'x-ms-version': '2021-08-06' },
  });
  expect(res.status).toBe(201);
}, 60_000);

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

afterAll(async () => {
  await azurite?.stop();
  await rm(work, { recursive: true, force: true });
});

const BLOCK = 1024 * 1024;

async function uploadThrough(
  data: Buffer,
  decide: (req: { method: string; blockid: string | null; nth: number }) => TransferFault,
): Promise<{ blobPath: string; result: Promise<{ size: number; sha256: string }>; http: HttpManager }> {
  const origin = new URL(azurite.accountUrl).origin;
  proxy = await startTransferFaults(origin, (req) =>
    decide({ method: req.method, blockid: req.query.get('blockid'), nth: req.nth }),
  );
  const blobPath = `/devstoreaccount1/artifacts/p31-${Date.now()}.zip`;
  const http = new HttpManager({
    slots: 2,
    userAgent: 'ferry-test',
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
  });
  const result = uploadBlob(
    `${proxy.url.replace(/\/$/, '')}${blobPath}?${azurite.sas}`,
    Readable.from([data]),
    {
      http,
      operation: new Operation('upload'),
      context: { operation: 'upload', artifactName: 'azurite-p31' },
      contentType: 'application/zip',
      blockSize: BLOCK,
    },
  );
  return { blobPath, result, http };
}

describe('P31 against Azurite', () => {
  test('[P31] Azurite rejects a block flipped in flight by its Content-MD5; Ferry re-sends it and the blob is intact', async () => {
    const data = randomBytes(3 * BLOCK + 4321);
    const { blobPath, result, http } = await uploadThrough(data, (req) =>
      req.method === 'PUT' && req.blockid === blockId(1) && req.nth === 1
        ? { kind: 'flip-request', offset: 99_999 }
        : { kind: 'pass' },
    );
    try {
      const uploaded = await result;
      expect(uploaded.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      const block1 = (proxy?.seen ?? []).filter((r) => r.query.get('blockid') === blockId(1));
      // Azurite's code differs from Azure's Md5Mismatch; the message says what failed.
      expect(block1.map((r) => [r.status, r.errorCode])).toEqual([
        [400, 'InvalidOperation'],
        [201, undefined],
      ]);
      // Every other block went exactly once, the list was committed once.
      const others = (proxy?.seen ?? []).filter(
        (r) => r.query.get('comp') === 'block' && r.query.get('blockid') !== blockId(1),
      );
      expect(others).toHaveLength(3);
      expect((proxy?.seen ?? []).filter((r) => r.query.get('comp') === 'blocklist')).toHaveLength(1);

      // Read back from Azurite directly: exactly the source bytes.
      const file = path.join(work, 'back');
      const back = await downloadBlob(
        `${azurite.accountUrl.replace(/\/devstoreaccount1$/, '')}${blobPath}?${azurite.sas}`,
        file,
        {
          http,
          operation: new Operation('download'),
          context: { operation: 'download' },
        },
      );
      expect(back.sha256).toBe(uploaded.sha256);
      expect((await readFile(file)).equals(data)).toBe(true);
    } finally {
      http.dispose();
    }
    await waitFor(() => proxy?.open === 0, 3000);
  });

  test('[P31] a block corrupted on every attempt fails typed with no block list committed', async () => {
    const data = randomBytes(2 * BLOCK + 10);
    const { result, http } = await uploadThrough(data, (req) =>
      req.method === 'PUT' && req.blockid === blockId(0)
        ? { kind: 'flip-request', offset: 5 }
        : { kind: 'pass' },
    );
    try {
      const error = await result.then(
        () => {
          throw new Error('expected the upload to fail');
        },
        (e: unknown) => e as Error & Record<string, unknown>,
      );
      expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY' });
      expect(error.message).toMatch(/arrived corrupted: .*contentMD5 doesn't match/);
      expect(error.message).toContain("artifact 'azurite-p31'");
      expect(JSON.stringify(error) + String(error.stack)).not.toContain('sig=');
      expect((proxy?.seen ?? []).filter((r) => r.query.get('blockid') === blockId(0))).toHaveLength(3);
      expect((proxy?.seen ?? []).filter((r) => r.query.get('comp') === 'blocklist')).toHaveLength(0);
      expectNoSecrets(error);
    } finally {
      http.dispose();
    }
    await waitFor(() => proxy?.open === 0, 3000);
  });
});
