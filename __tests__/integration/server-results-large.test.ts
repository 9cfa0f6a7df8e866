import { createHash } from 'node:crypto';
import { startFixture, type ServerFixture } from '../helpers/server-fixture.js';

// 512 MiB through the server: slow-ish and needs ~1 GiB of temp disk, so it is opt-in.
const enabled = process.env.FERRY_LARGE_TESTS === '1';
const RPC = 'twirp/github.actions.results.api.v1.ArtifactService/';
const MiB = 1024 * 1024;

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.dispose();
  fixture = undefined;
});

async function rpc<T>(url: string, method: string, body: object): Promise<T> {
  const res = await fetch(`${url}${RPC}${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ workflow_run_backend_id: 'r', workflow_job_run_backend_id: 'j', ...body }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** Stamps the block number over the start of a reused buffer: distinct blocks, no new memory. */
function stamp(buf: Buffer, i: number): Buffer {
  buf.writeUInt32LE(i, 0);
  buf.writeUInt32LE((i * 2654435761) >>> 0, buf.length - 4);
  return buf;
}

(enabled ? describe : describe.skip)('results server: 512 MiB blob (FERRY_LARGE_TESTS=1)', () => {
  it('stores and serves a 512 MiB blob from disk with bounded memory', async () => {
    fixture = await startFixture();
    const { url } = fixture.server;
    const upload = await rpc<{ signed_upload_url: string }>(url, 'CreateArtifact', { name: 'huge' });
    const blockSize = 8 * MiB;
    const count = 64;
    const hash = createHash('sha256');
    const ids = Array.from({ length: count }, (_, i) =>
      Buffer.from(`block-${String(i).padStart(6, '0')}`).toString('base64'),
    );
    const baseline = process.memoryUsage().rss;
    let peakRss = 0;
    const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    try {
      // 8 in flight, finishing out of order; the 8 buffers are reused batch after batch.
      const slots = Array.from({ length: 8 }, () => Buffer.alloc(blockSize, 0x5a));
      for (let first = 0; first < count; first += 8) {
        const batch = slots.map((slot, k) =>
          fetch(`${upload.signed_upload_url}&comp=block&blockid=${encodeURIComponent(ids[first + k]!)}`, {
            method: 'PUT',
            body: stamp(slot, first + k),
          }),
        );
        for (const res of await Promise.all(batch)) expect(res.status).toBe(201);
        for (const slot of slots) hash.update(slot);
      }
      const xml = `<BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
      const committed = await fetch(`${upload.signed_upload_url}&comp=blocklist`, {
        method: 'PUT',
        body: xml,
      });
      expect(committed.status).toBe(201);
      const digest = `sha256:${hash.digest('hex')}`;
      const fin = await rpc<{ artifact_id: string }>(url, 'FinalizeArtifact', {
        name: 'huge',
        size: String(count * blockSize),
        hash: digest,
      });
      expect(fin.artifact_id).toBe('1');

      const { signed_url } = await rpc<{ signed_url: string }>(url, 'GetSignedArtifactURL', { name: 'huge' });
      const res = await fetch(signed_url);
      expect(res.headers.get('content-length')).toBe(String(count * blockSize));
      const check = createHash('sha256');
      let received = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        check.update(chunk);
        received += chunk.length;
      }
      expect(received).toBe(count * blockSize);
      expect(`sha256:${check.digest('hex')}`).toBe(digest);
    } finally {
      clearInterval(sample);
    }
    // Server and client share this process, and garbage socket buffers inflate RSS until V8
    // collects them; buffering the blob anywhere would still add at least its 512 MiB.
    expect(peakRss - baseline).toBeLessThan(480 * MiB);
  }, 180_000);
});
