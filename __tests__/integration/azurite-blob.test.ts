import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { downloadBlob } from '../../src/backends/results/blob-download.js';
import { uploadBlob } from '../../src/backends/results/blob-upload.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';

let azurite: Azurite;
let work: string;

beforeAll(async () => {
  azurite = await startAzurite();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-azurite-test-'));
  const res = await fetch(`${azurite.accountUrl}/artifacts?restype=container&${azurite.sas}`, {
    method: 'PUT',
    headers: { 'x-ms-version': '2021-08-06' },
  });
  expect(res.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
  await rm(work, { recursive: true, force: true });
});

/** A source that yields small uneven chunks, so blocks are cut across chunk boundaries. */
function unevenSource(data: Buffer): Readable {
  return Readable.from(
    (function* () {
      let offset = 0;
      let step = 1;
      while (offset < data.length) {
        const size = Math.min(data.length - offset, 1000 + ((step * 7919) % 300_000));
        yield data.subarray(offset, offset + size);
        offset += size;
        step++;
      }
    })(),
  );
}

describe('blob upload and download against Azurite', () => {
  it('stages blocks four at a time from uneven chunks and commits them in order: exact bytes', async () => {
    const data = randomBytes(13 * 1024 * 1024 + 777);
    const blobUrl = `${azurite.accountUrl}/artifacts/ferry-${Date.now()}.zip?${azurite.sas}`;
    const http = new HttpManager({ slots: 4, userAgent: 'ferry-test' });
    const operation = new Operation('upload');
    try {
      const result = await uploadBlob(blobUrl, unevenSource(data), {
        http,
        operation,
        context: { operation: 'upload', artifactName: 'azurite' },
        contentType: 'application/zip',
        blockSize: 1024 * 1024,
      });
      expect(result.size).toBe(data.length);
      expect(result.blocks).toBe(14);
      expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));

      const file = path.join(work, 'downloaded');
      const downloaded = await downloadBlob(blobUrl, file, {
        http,
        operation,
        context: { operation: 'download' },
      });
      expect(downloaded.sha256).toBe(result.sha256);
      expect(downloaded.contentType).toBe('application/zip');
      expect((await readFile(file)).equals(data)).toBe(true);
    } finally {
      http.dispose();
    }
  });

  it('commits an empty blob from an empty source', async () => {
    const blobUrl = `${azurite.accountUrl}/artifacts/empty-${Date.now()}.bin?${azurite.sas}`;
    const http = new HttpManager({ slots: 2, userAgent: 'ferry-test' });
    try {
      const result = await uploadBlob(blobUrl, Readable.from([]), {
        http,
        operation: new Operation('upload'),
        context: {},
        contentType: 'application/octet-stream',
      });
      expect(result).toMatchObject({ size: 0, blocks: 0 });
      const res = await fetch(blobUrl);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    } finally {
      http.dispose();
    }
  });
});
