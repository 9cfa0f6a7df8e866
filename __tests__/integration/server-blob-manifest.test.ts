import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobStore } from '../../src/server/results/blob-store.js';
import { sendBlob } from '../../src/server/results/blob-download.js';
import { ResultsLayout } from '../../src/server/results/layout.js';
import { startLoopback, type Loopback } from '../helpers/loopback.js';

// Put Block List keeps the listed blocks as a manifest and downloads read through it: no copy.

let dir: string;
let loopback: Loopback | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-manifest-'));
});
afterEach(async () => {
  await loopback?.close();
  loopback = undefined;
  await rm(dir, { recursive: true, force: true });
});

const body = (data: Buffer): IncomingMessage => Readable.from([data]) as unknown as IncomingMessage;
const id = (n: number): Buffer => Buffer.from(`block-${String(n).padStart(4, '0')}`);
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const noGuard = (): void => {};

async function stage(store: BlobStore, blobId: string, n: number, data: Buffer): Promise<void> {
  await store.stageBlock(blobId, id(n), body(data), { length: data.length, md5: undefined });
}

/** Serves one blob from `store` with sendBlob on a real loopback server. */
async function serve(store: BlobStore, blobId: string): Promise<string> {
  loopback = await startLoopback((req, res) => {
    const committed = store.committed(blobId);
    if (!committed) {
      res.writeHead(404).end();
      return;
    }
    sendBlob(
      req,
      res,
      {
        segments: store.segments(blobId),
        size: committed.size,
        etag: committed.etag,
        lastModified: committed.lastModified,
        contentType: 'application/octet-stream',
        fileName: 'blob.bin',
      },
      {},
    ).catch(() => res.destroy());
  });
  return loopback.url;
}

async function getRange(url: string, range?: string): Promise<{ status: number; data: Buffer }> {
  const res = await fetch(url, { headers: range ? { Range: range } : {} });
  return { status: res.status, data: Buffer.from(await res.arrayBuffer()) };
}

describe('Put Block List as a manifest', () => {
  it('serves the listed blocks in list order, whole and in ranges across block boundaries', async () => {
    const store = await BlobStore.open(new ResultsLayout(dir));
    const blobId = await store.create();
    // Uneven sizes, staged out of order, one block listed twice and one never listed.
    const blocks = [randomBytes(1000), randomBytes(1), randomBytes(4096), randomBytes(333)];
    for (const n of [3, 1, 0, 2]) await stage(store, blobId, n, blocks[n] as Buffer);
    await stage(store, blobId, 9, randomBytes(50));
    const order = [0, 1, 2, 1, 3];
    const expected = Buffer.concat(order.map((n) => blocks[n] as Buffer));
    const committed = await store.commitBlockList(blobId, order.map(id), undefined, noGuard);
    expect(committed.size).toBe(expected.length);
    expect(committed.sha256).toBe(sha256(expected));
    // Nothing was assembled: no `data` file, one hard-linked part per distinct listed block.
    const entries = await readdir(join(dir, 'results', 'blobs', blobId));
    expect(entries).not.toContain('data');
    const parts = entries.filter((e) => e.startsWith('parts-'));
    expect(parts).toHaveLength(1);
    expect(await readdir(join(dir, 'results', 'blobs', blobId, parts[0] as string))).toHaveLength(4);
    expect(await readdir(join(dir, 'results', 'blobs', blobId, 'blocks'))).toHaveLength(0);

    const url = await serve(store, blobId);
    expect((await getRange(url)).data.equals(expected)).toBe(true);
    const cases: Array<[number, number]> = [
      [0, 0],
      [999, 1000], // last byte of block 0 and the one-byte block 1
      [990, 5200], // across four boundaries
      [1001, 5097], // exactly block 2
      [expected.length - 10, expected.length - 1],
    ];
    for (const [a, b] of cases) {
      const got = await getRange(url, `bytes=${a}-${b}`);
      expect(got.status).toBe(206);
      expect(got.data.equals(expected.subarray(a, b + 1))).toBe(true);
    }
    const suffix = await getRange(url, 'bytes=-340');
    expect(suffix.data.equals(expected.subarray(expected.length - 340))).toBe(true);
  });

  it('keeps committed bytes when a listed block id is staged again, and after a restart', async () => {
    const layout = new ResultsLayout(dir);
    let store = await BlobStore.open(layout);
    const blobId = await store.create();
    const a = randomBytes(2000);
    const b = randomBytes(3000);
    await stage(store, blobId, 0, a);
    await stage(store, blobId, 1, b);
    const first = await store.commitBlockList(blobId, [id(0), id(1)], undefined, noGuard);
    // Azure semantics: a block staged after the commit is uncommitted; the blob is unchanged.
    await stage(store, blobId, 0, randomBytes(2000));
    store = await BlobStore.open(layout);
    expect(store.committed(blobId)?.sha256).toBe(first.sha256);
    expect(await store.storedSize(blobId)).toBe(5000);
    const url = await serve(store, blobId);
    expect((await getRange(url)).data.equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('a commit that crashed before its manifest landed leaves the previous blob and no parts behind', async () => {
    const layout = new ResultsLayout(dir);
    const store = await BlobStore.open(layout);
    const blobId = await store.create();
    const a = randomBytes(700);
    await stage(store, blobId, 0, a);
    await store.commitBlockList(blobId, [id(0)], undefined, noGuard);
    // What a kill between linking the parts and writing state.json leaves: an unreferenced
    // parts directory (and a half-written temp file).
    const orphan = join(layout.blobDir(blobId), 'parts-0123456789abcdef');
    await mkdir(orphan);
    await writeFile(join(orphan, 'f'.repeat(64)), randomBytes(10));
    await writeFile(join(layout.blobDir(blobId), 'assemble-x.tmp'), 'x');
    const reopened = await BlobStore.open(layout);
    const entries = await readdir(layout.blobDir(blobId));
    expect(entries).not.toContain('parts-0123456789abcdef');
    expect(entries).not.toContain('assemble-x.tmp');
    expect(await reopened.storedSize(blobId)).toBe(700);
  });

  it('a second commit replaces the first one’s parts; Put Blob replaces a manifest', async () => {
    const layout = new ResultsLayout(dir);
    const store = await BlobStore.open(layout);
    const blobId = await store.create();
    await stage(store, blobId, 0, randomBytes(100));
    await store.commitBlockList(blobId, [id(0)], undefined, noGuard);
    await stage(store, blobId, 1, randomBytes(200));
    await store.commitBlockList(blobId, [id(1)], undefined, noGuard);
    let entries = await readdir(layout.blobDir(blobId));
    expect(entries.filter((e) => e.startsWith('parts-'))).toHaveLength(1);
    expect(await store.storedSize(blobId)).toBe(200);

    const whole = randomBytes(300);
    await store.putBlob(blobId, body(whole), { length: whole.length, md5: undefined }, undefined, noGuard);
    entries = await readdir(layout.blobDir(blobId));
    expect(entries.filter((e) => e.startsWith('parts-'))).toHaveLength(0);
    expect(entries).toContain('data');
    const url = await serve(store, blobId);
    expect((await getRange(url, 'bytes=10-19')).data.equals(whole.subarray(10, 20))).toBe(true);
  });

  it('a blob deleted during a download stays readable until the download ends, then goes', async () => {
    const layout = new ResultsLayout(dir);
    const store = await BlobStore.open(layout);
    const blobId = await store.create();
    const blocks = [randomBytes(3000), randomBytes(5000)];
    await stage(store, blobId, 0, blocks[0] as Buffer);
    await stage(store, blobId, 1, blocks[1] as Buffer);
    await store.commitBlockList(blobId, [id(0), id(1)], undefined, noGuard);
    const read = store.openRead(blobId);
    expect(read).toBeDefined();
    await store.remove(blobId); // e.g. the retention sweep, while the download is under way
    expect(store.committed(blobId)).toBeUndefined();
    expect(store.openRead(blobId)).toBeUndefined(); // no new downloads
    expect(await readdir(layout.blobDir(blobId))).toContain('state.json');
    const pieces = await Promise.all((read?.segments ?? []).map((s) => readFile(s.file)));
    expect(Buffer.concat(pieces).equals(Buffer.concat(blocks))).toBe(true);
    await read?.release();
    await read?.release(); // idempotent
    await expect(readdir(layout.blobDir(blobId))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('an empty block list is an empty blob, served and whole after a restart', async () => {
    const layout = new ResultsLayout(dir);
    const store = await BlobStore.open(layout);
    const blobId = await store.create();
    const committed = await store.commitBlockList(blobId, [], undefined, noGuard);
    expect(committed.size).toBe(0);
    expect(await (await BlobStore.open(layout)).storedSize(blobId)).toBe(0);
    const url = await serve(store, blobId);
    const got = await getRange(url);
    expect([got.status, got.data.length]).toEqual([200, 0]);
  });
});
