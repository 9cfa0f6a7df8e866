/**
 * Section S, resource abuse of `ferry serve` (issue 10 items 11 and 12, and beyond): raw sockets
 * and real clients against a real server on loopback. Each case checks what the server wrote or
 * read per byte the attacker sent, that it answers and closes, and that real clients are still
 * served during the attack.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, listArtifacts, uploadArtifact } from '../../src/index.js';
import type { ServerLimits } from '../../src/server/http/limits.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { childServerUnavailable, startChildServer, twirp, type ChildServer } from '../helpers/serve-child.js';
import {
  artifactsUrl,
  chunkUrl,
  rawRequest,
  startFixture,
  type ServerFixture,
} from '../helpers/server-fixture.js';
import { expectNoSecrets } from './invariants.js';

const RUN = 'run-abuse';
const JOB = 'job-abuse';
const TOKEN = runtimeJwt(RUN, JOB);
const KIB = 1024;
const MIB = 1024 * 1024;
const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5 } } as const;
const ids = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };
const auth = { Authorization: `Bearer ${TOKEN}` };

let fixture: ServerFixture | undefined;
let log: string[] = [];
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-serve-abuse-'));
});
afterEach(async () => {
  await fixture?.dispose();
  fixture = undefined;
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function serve(limits: Partial<ServerLimits> = {}): Promise<ServerFixture> {
  log = [];
  fixture = await startFixture({ token: TOKEN, limits, log: (line) => log.push(line) });
  return fixture;
}

const client = (url: string) => ({ resultsUrl: url, runtimeToken: TOKEN, ...fast });

/** Bytes the data directory takes on disk (allocated blocks, so sparse files count as they are). */
async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).blocks * 512;
  }
  return total;
}

/** Largest apparent file size under dir: a sparse 1 TiB file would show here. */
async function largestFile(dir: string): Promise<number> {
  let largest = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile())
      largest = Math.max(largest, (await stat(path.join(entry.parentPath, entry.name))).size);
  }
  return largest;
}

async function createUpload(url: string, name: string): Promise<string> {
  const res = await twirp(url, TOKEN, 'CreateArtifact', { ...ids, name, version: 4 });
  expect(res.status).toBe(200);
  return res.json<{ signed_upload_url: string }>().signed_upload_url;
}

const blockId = (n: number): string => Buffer.from(`blk-${String(n).padStart(6, '0')}`).toString('base64');

function putBlock(signed: string, n: number, data: Buffer) {
  return rawRequest('PUT', `${signed}&comp=block&blockid=${encodeURIComponent(blockId(n))}`, {
    body: data,
    headers: { 'Content-Length': data.length },
  });
}

function putBlockList(signed: string, entries: number[]) {
  const xml = entries.map((n) => `<Latest>${blockId(n)}</Latest>`).join('');
  return rawRequest('PUT', `${signed}&comp=blocklist`, {
    body: `<?xml version="1.0" encoding="utf-8"?><BlockList>${xml}</BlockList>`,
  });
}

interface FloodResult {
  /** What the server answered before it closed (the head at least). */
  answer: string;
  /** Body bytes the kernel accepted from us before the server closed the connection. */
  sent: number;
  ms: number;
}

/**
 * Sends `head`, then body bytes as fast as the socket takes them (up to `limit`), until the
 * server closes the connection.
 */
function flood(port: number, head: string, limit: number): Promise<FloodResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(256 * KIB, 0x61);
    let answer = '';
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server kept reading for 20 s; answer so far: ${answer.slice(0, 200)}`));
    }, 20_000);
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ answer, sent: socket.bytesWritten - Buffer.byteLength(head), ms: Date.now() - started });
    });
    socket.write(head);
    const pump = (): void => {
      while (!closed && socket.bytesWritten < limit) {
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!closed) socket.end();
    };
    pump();
  });
}

/** Opens `count` TCP connections that send nothing; resolves once all are connected. */
async function idleSockets(port: number, count: number): Promise<net.Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Socket>((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
          socket.on('error', () => resolve(socket));
          // Read (nothing is expected) so the server's close is seen as 'end' and then 'close'.
          socket.resume();
        }),
    ),
  );
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function roundTrip(url: string, name: string, bytes: number): Promise<void> {
  const dir = path.join(work, `src-${name}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  const data = randomBytes(bytes);
  await writeFile(path.join(dir, 'f.bin'), data);
  await uploadArtifact(name, [path.join(dir, 'f.bin')], dir, client(url));
  const target = path.join(work, `out-${name}-${randomBytes(3).toString('hex')}`);
  await downloadArtifact(name, { ...client(url), path: target });
  expect(sha(await readFile(path.join(target, 'f.bin')))).toBe(sha(data));
}

describe('[S] sizes and counts a client declares are bounded', () => {
  test('[X46] a block list naming one 64 KiB block 16,384 times is refused before a byte is written; duplicates within the limit still commit', async () => {
    const { server, dataDir } = await serve({ maxArtifactBytes: 8 * MIB, maxBlocksPerList: 20_000 });
    const signed = await createUpload(server.url, 'dup');
    const block = randomBytes(64 * KIB);
    expect((await putBlock(signed, 0, block)).status).toBe(201);
    const before = await diskUsage(dataDir);

    const refused = await putBlockList(
      signed,
      Array.from({ length: 16_384 }, () => 0),
    );
    expect(refused.status).toBe(413);
    expect(refused.headers['x-ms-error-code']).toBe('BlobTooLarge');
    expect(refused.body.toString()).toMatch(
      /1073741824 bytes, more than the server(&#39;|')s limit of 8388608/,
    );
    // 720 KiB sent, nothing written: the data directory did not grow by the 1 GiB.
    expect((await diskUsage(dataDir)) - before).toBeLessThan(256 * KIB);

    // Azure allows a block listed more than once; within the size limit that still works.
    const ok = await putBlockList(signed, [0, 0, 0]);
    expect(ok.status).toBe(201);
    const finalized = await twirp(server.url, TOKEN, 'FinalizeArtifact', {
      ...ids,
      name: 'dup',
      size: String(3 * block.length),
    });
    expect(finalized.status).toBe(200);
  });

  test('[X46] more list entries than maxBlocksPerList, and more staged blocks or bytes than allowed, are refused', async () => {
    const { server } = await serve({ maxBlocksPerList: 100, maxStagedBlocks: 20, maxArtifactBytes: 2 * MIB });
    const signed = await createUpload(server.url, 'counts');
    expect((await putBlock(signed, 0, randomBytes(KIB))).status).toBe(201);
    const tooLong = await putBlockList(
      signed,
      Array.from({ length: 101 }, () => 0),
    );
    expect(tooLong.status).toBe(400);
    expect(tooLong.headers['x-ms-error-code']).toBe('BlockListTooLong');

    for (let n = 1; n < 20; n++) expect((await putBlock(signed, n, randomBytes(16))).status).toBe(201);
    const overCount = await putBlock(signed, 20, randomBytes(16));
    expect(overCount.status).toBe(409);
    expect(overCount.headers['x-ms-error-code']).toBe('BlockCountExceedsLimit');
    // Replacing a staged block does not add to the count.
    expect((await putBlock(signed, 5, randomBytes(16))).status).toBe(201);

    // Staged bytes: a blob's uncommitted blocks cannot together pass maxArtifactBytes.
    const other = await createUpload(server.url, 'bytes');
    expect((await putBlock(other, 0, randomBytes(1536 * KIB))).status).toBe(201);
    const overBytes = await putBlock(other, 1, randomBytes(768 * KIB));
    expect(overBytes.status).toBe(413);
    expect(overBytes.body.toString()).toMatch(
      /uncommitted blocks past the server(&#39;|')s limit of 2097152 bytes/,
    );
  });

  test('[X47] a 4-byte legacy PUT at offset 2^40 is refused (no 1 TiB sparse file); a container cannot grow past maxArtifactBytes', async () => {
    const { server, dataDir } = await serve({ maxArtifactBytes: 8 * MIB });
    const created = await rawRequest('POST', artifactsUrl(server, RUN), {
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ Type: 'actions_storage', Name: 'legacy-big' }),
    });
    expect(created.status).toBe(201);
    const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
    const far = 2 ** 40;
    const sparse = await rawRequest('PUT', chunkUrl(container, 'legacy-big/far.bin'), {
      headers: { ...auth, 'Content-Range': `bytes ${far}-${far + 3}/${far + 4}`, 'Content-Length': 4 },
      body: 'abcd',
    });
    expect(sparse.status).toBe(413);
    expect(sparse.json<{ message: string }>().message).toMatch(/exceeds the server's limit of 8388608 bytes/);
    expect(await largestFile(dataDir)).toBeLessThan(MIB);

    // Two 5 MiB files: the second would take the artifact past 8 MiB.
    const first = randomBytes(5 * MIB);
    const put = (file: string, data: Buffer) =>
      rawRequest('PUT', chunkUrl(container, `legacy-big/${file}`), {
        headers: {
          ...auth,
          'Content-Range': `bytes 0-${data.length - 1}/${data.length}`,
          'Content-Length': data.length,
        },
        body: data,
      });
    expect((await put('a.bin', first)).status).toBe(200);
    const second = await put('b.bin', randomBytes(5 * MIB));
    expect(second.status).toBe(413);
    expect(second.json<{ message: string }>().message).toMatch(
      /larger than the server's limit of 8388608 bytes/,
    );
    // Replacing the first file with one of the same size stays within the limit.
    expect((await put('a.bin', randomBytes(5 * MIB))).status).toBe(200);
  });

  test('[X53] Content-Length 10^15 on every upload route is refused at once, with Connection: close, and nothing is written', async () => {
    const { server, dataDir } = await serve();
    const signed = await createUpload(server.url, 'huge');
    const before = await diskUsage(dataDir);
    const port = new URL(server.url).port;
    const blobPath = new URL(signed);
    const targets = [
      `PUT ${blobPath.pathname}${blobPath.search}&comp=block&blockid=${encodeURIComponent(blockId(0))} HTTP/1.1`,
      `PUT ${blobPath.pathname}${blobPath.search} HTTP/1.1\r\nx-ms-blob-type: BlockBlob`,
      `POST /twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json`,
    ];
    for (const target of targets) {
      const result = await flood(
        Number(port),
        `${target}\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000000000\r\n\r\n`,
        1024 * MIB,
      );
      expect(result.answer).toMatch(/^HTTP\/1\.1 (413|400) /);
      expect(result.answer.toLowerCase()).toContain('connection: close');
      expect(result.sent).toBeLessThan(64 * MIB);
    }
    expect((await diskUsage(dataDir)) - before).toBeLessThan(256 * KIB);
    expectNoSecrets(log.join('\n'));
  });

  test('[X54] a Twirp body that is one huge JSON string, chunked without a length, is cut at maxJsonBodyBytes; an absurd chunk size is a 400', async () => {
    const { server } = await serve({ maxJsonBodyBytes: 64 * KIB });
    const port = Number(new URL(server.url).port);
    const head =
      `POST /twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    // One chunk per write of the flood would need framing; send a single declared-size chunk instead.
    const hugeString = await flood(port, `${head}${(512 * MIB).toString(16)}\r\n{"name":"`, 512 * MIB);
    expect(hugeString.answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(hugeString.answer).toMatch(/exceeds the 65536-byte limit for JSON requests/);
    expect(hugeString.sent).toBeLessThan(64 * MIB);

    const absurd = await flood(port, `${head}ffffffffffffffffffff\r\nabc`, MIB);
    expect(absurd.answer).toMatch(/^HTTP\/1\.1 400 /);
    // The server still serves real clients.
    await roundTrip(server.url, 'after-json', 50_000);
  });

  test('[X55] a Range header of 10,000 ranges is refused by the head limit; a few hundred ranges serve the whole blob once; HEAD of a big blob sends no body', async () => {
    const { server } = await serve();
    await roundTrip(server.url, 'ranged', 3 * MIB);
    const signed = await twirp(server.url, TOKEN, 'GetSignedArtifactURL', { ...ids, name: 'ranged' });
    const url = signed.json<{ signed_url: string }>().signed_url;
    const many = await rawRequest('GET', url, { headers: { Range: `bytes=${'0-0,'.repeat(10_000)}0-0` } });
    expect(many.status).toBe(431);
    const some = await rawRequest('GET', url, { headers: { Range: `bytes=${'0-0,'.repeat(300)}0-0` } });
    expect(some.status).toBe(200);
    expect(some.body.length).toBe(Number(some.headers['content-length']));
    expect(some.body.length).toBeGreaterThan(3 * MIB - 64 * KIB);
    const head = await rawRequest('HEAD', url);
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(some.body.length);
  });

  test('[X56] live uploads and finalized artifacts per run are capped; the real client reports ERR_FERRY_QUOTA, not a retryable error', async () => {
    const { server } = await serve({ maxLiveUploadsPerRun: 3, maxArtifactsPerRun: 2 });
    const other = { workflow_run_backend_id: 'run-other', workflow_job_run_backend_id: JOB };
    for (const name of ['live-1', 'live-2', 'live-3']) {
      expect((await twirp(server.url, TOKEN, 'CreateArtifact', { ...other, name, version: 4 })).status).toBe(
        200,
      );
    }
    const refused = await twirp(server.url, TOKEN, 'CreateArtifact', {
      ...other,
      name: 'live-4',
      version: 4,
    });
    expect(refused.status).toBe(403);
    expect(refused.json<{ msg: string }>().msg).toMatch(
      /3 uploads in progress, the limit of this server \(maxLiveUploadsPerRun\)/,
    );

    await roundTrip(server.url, 'kept-1', 1000);
    await roundTrip(server.url, 'kept-2', 1000);
    const dir = path.join(work, 'quota');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'f.txt'), 'x');
    const error = await uploadArtifact('kept-3', [path.join(dir, 'f.txt')], dir, client(server.url)).then(
      () => undefined,
      (e: unknown) => e as { code: string; retryable: boolean; message: string },
    );
    expect(error).toMatchObject({ code: 'ERR_FERRY_QUOTA', retryable: false });
    expect(error?.message).toMatch(
      /already has 2 artifacts, the limit of this server \(maxArtifactsPerRun\)/,
    );
    // Existing artifacts are untouched by the refusal.
    expect((await listArtifacts(client(server.url))).map((a) => a.name)).toEqual(['kept-1', 'kept-2']);
  });

  test('[X57] a download reader that stops reading holds neither memory nor the socket: backpressure, then the idle timeout', async () => {
    const { server } = await serve({ idleTimeoutMs: 1500 });
    await roundTrip(server.url, 'slow-reader', 48 * MIB);
    const signed = await twirp(server.url, TOKEN, 'GetSignedArtifactURL', { ...ids, name: 'slow-reader' });
    const url = new URL(signed.json<{ signed_url: string }>().signed_url);
    const baseline = process.memoryUsage();
    const started = Date.now();
    const socket = net.connect(Number(url.port), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    // Never read: the server may only fill the socket buffers, not buffer the 48 MiB blob.
    socket.pause();
    let peak = 0;
    const sample = setInterval(() => {
      const now = process.memoryUsage();
      peak = Math.max(peak, now.arrayBuffers - baseline.arrayBuffers);
    }, 50);
    // The request log line is written when the server let go of the response.
    const cut = (line: string): boolean => /^GET \/devstoreaccount1\/.* 200 \(answer cut\)/.test(line);
    while (!log.some(cut) && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 100));
    clearInterval(sample);
    socket.destroy();
    expect(log.some(cut)).toBe(true);
    // idleTimeoutMs 1500 after the buffers filled; generous for a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(peak).toBeLessThan(16 * MIB);
  });
});

describe('[S] sockets: refusals close, idle and slow connections time out, token holders keep room', () => {
  test('[X48] after a 401, 403 or 404 the server answers, closes, and does not read the 1 GiB body', async () => {
    const { server } = await serve();
    const port = Number(new URL(server.url).port);
    const signed = new URL(await createUpload(server.url, 'refused'));
    const badSignature = `${signed.pathname}${signed.search.replace(/sig=[^&]+/, 'sig=AAAA')}&comp=block&blockid=${encodeURIComponent(blockId(0))}`;
    const cases: Array<[string, RegExp]> = [
      [
        `PUT /twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact HTTP/1.1`,
        /^HTTP\/1\.1 401 /,
      ],
      [`PUT ${badSignature} HTTP/1.1`, /^HTTP\/1\.1 403 /],
      [`PUT /nowhere HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}`, /^HTTP\/1\.1 404 /],
    ];
    for (const [line, status] of cases) {
      const result = await flood(
        port,
        `${line}\r\nHost: 127.0.0.1\r\nContent-Length: ${1024 * MIB}\r\n\r\n`,
        1024 * MIB,
      );
      expect(result.answer).toMatch(status);
      expect(result.answer.toLowerCase()).toContain('connection: close');
      // Socket buffers plus the 256 KiB drained after the answer; before, the whole GiB was read.
      expect(result.sent).toBeLessThan(64 * MIB);
      expect(result.ms).toBeLessThan(10_000);
    }
    expectNoSecrets(log.join('\n'));
  });

  test('[X49] 400 idle unauthenticated sockets neither lock out a real client nor outlive the head timeout', async () => {
    const { server } = await serve({
      maxConnections: 100,
      maxUntrustedConnections: 20,
      headersTimeoutMs: 1500,
    });
    const port = Number(new URL(server.url).port);
    const attackers = await idleSockets(port, 400);
    // Untrusted sockets are shed as new ones arrive: never more open than the cap allows.
    expect(server.stats().openConnections).toBeLessThanOrEqual(100);
    await roundTrip(server.url, 'during-flood', 400_000);
    expect((await listArtifacts(client(server.url))).map((a) => a.name)).toEqual(['during-flood']);
    // Sockets that never send a request are gone within the head timeout (checked each second).
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(attackers.filter((s) => !s.destroyed)).toHaveLength(0);
    for (const socket of attackers) socket.destroy();
    expect(log.some((line) => /closed: (shed to make room|sent no request in time)/.test(line))).toBe(true);
    expectNoSecrets(log.join('\n'));
  });

  test('[X50] slowloris: a head trickled byte by byte gets 408 within the head timeout; a trickled body is cut at the request timeout', async () => {
    const { server } = await serve({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const port = Number(new URL(server.url).port);
    const trickle = (prefix: string, every: number): Promise<{ answer: string; ms: number }> =>
      new Promise((resolve) => {
        const started = Date.now();
        const socket = net.connect(port, '127.0.0.1');
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
        socket.on('error', () => undefined);
        socket.write(prefix);
        const timer = setInterval(() => socket.write('a'), every);
        socket.on('close', () => {
          clearInterval(timer);
          resolve({ answer, ms: Date.now() - started });
        });
      });
    const head = await trickle('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 100);
    expect(head.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(head.ms).toBeLessThan(4_000);
    const signed = new URL(await createUpload(server.url, 'slow-body'));
    const body = await trickle(
      `PUT ${signed.pathname}${signed.search}&comp=block&blockid=${encodeURIComponent(blockId(0))} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n`,
      100,
    );
    expect(body.ms).toBeLessThan(6_000);
    expect(body.answer === '' || /^HTTP\/1\.1 408 /.test(body.answer)).toBe(true);
    // The upload is still usable by its real client afterwards.
    await roundTrip(server.url, 'after-slowloris', 10_000);
  });
});

describe('[S] storage failures are answered, not reset (1 MiB tmpfs)', () => {
  let unavailable: string | undefined;
  let child: ChildServer | undefined;
  beforeAll(async () => {
    unavailable = await childServerUnavailable();
  });
  afterEach(async () => {
    await child?.kill9();
    child = undefined;
  });

  test.each(['results', 'legacy'] as const)(
    '[X51] %s: disk full on the server is a 507 the client reports as ERR_FERRY_NO_SPACE (not retried), logged as 507',
    async (protocol) => {
      if (unavailable) throw new Error(unavailable);
      const mnt = path.join(work, `tmpfs-${protocol}`);
      await mkdir(mnt, { recursive: true });
      // A private mount namespace: the 1 MiB tmpfs exists only for the child server.
      const wrapper = ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"', mnt];
      child = await startChildServer({ dataDir: path.join(mnt, 'data'), token: TOKEN }, wrapper);
      const dir = path.join(work, `full-${protocol}`);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'big.bin'), randomBytes(3 * MIB));
      const options =
        protocol === 'results'
          ? client(child.url)
          : { runtimeUrl: child.url, runtimeToken: TOKEN, runId: RUN, ...fast };
      const error = await uploadArtifact('full', [path.join(dir, 'big.bin')], dir, options).then(
        () => undefined,
        (e: unknown) => e as { code: string; retryable: boolean; message: string },
      );
      expect(error).toMatchObject({ code: 'ERR_FERRY_NO_SPACE', retryable: false });
      expect(error?.message).toMatch(/507/);
      expect(error?.message).toMatch(/ran out of disk space \(ENOSPC\)/);
      // One refused write, not six retried resets; logged with its real status.
      // The log line travels over the child's stderr: it may arrive just after the client's error.
      const logged = child.log;
      for (let i = 0; i < 50 && !logged.some((l) => / 507 /.test(l)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      expect(child.log.filter((l) => / 507 /.test(l))).toHaveLength(1);
      expect(child.log.some((l) => /storage error on PUT .*ENOSPC/.test(l))).toBe(true);
      expect(child.log.some((l) => /^PUT .* 200 /.test(l) && /no-answer/.test(l))).toBe(false);
      expectNoSecrets(child.log.join('\n'));
    },
    60_000,
  );
});
