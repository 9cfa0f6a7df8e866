import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { RunningServer } from '../../src/server/index.js';
import {
  artifactsUrl,
  chunkUrl,
  contentRange,
  md5Base64,
  rawRequest,
  startFixture,
  type RawResponse,
  type ServerFixture,
} from '../helpers/server-fixture.js';

interface ArtifactJson {
  containerId: number;
  size: number;
  signedContent: string | null;
  fileContainerResourceUrl: string;
  type: string;
  name: string;
  url: string;
}
interface EntryJson {
  path: string;
  itemType: 'file' | 'folder';
  fileLength?: number;
  contentLocation?: string;
}
interface ListJson<T> {
  count: number;
  value: T[];
}

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.dispose();
  fixture = undefined;
});

async function start(token?: string, log?: (line: string) => void): Promise<ServerFixture> {
  fixture = await startFixture({
    ...(token === undefined ? {} : { token }),
    ...(log === undefined ? {} : { log }),
  });
  return fixture;
}

const json = (body: unknown): Buffer => Buffer.from(JSON.stringify(body, null, 2));

async function createArtifact(
  server: RunningServer,
  runId: string,
  name: string,
  extra: object = {},
): Promise<RawResponse> {
  return rawRequest('POST', artifactsUrl(server, runId), {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json;api-version=6.0-preview' },
    body: json({ Type: 'actions_storage', Name: name, ...extra }),
  });
}

async function containerFor(server: RunningServer, runId: string, name: string): Promise<string> {
  const res = await createArtifact(server, runId, name);
  expect(res.status).toBe(201);
  return res.json<ArtifactJson>().fileContainerResourceUrl;
}

interface ChunkOptions {
  start?: number;
  total?: number;
  gzip?: boolean;
  fileLength?: number;
  md5?: string | false;
  headers?: Record<string, string | number>;
}

/** PUTs one chunk with the headers the official client sends. */
function putChunk(
  container: string,
  itemPath: string,
  bytes: Buffer,
  options: ChunkOptions = {},
): Promise<RawResponse> {
  const start = options.start ?? 0;
  const total = options.total ?? bytes.length;
  const headers: Record<string, string | number> = {
    Accept: 'application/json;api-version=6.0-preview',
    'Content-Type': 'application/octet-stream',
    'Content-Length': bytes.length,
    'Content-Range': total === 0 ? 'bytes 0--1/0' : contentRange(start, bytes.length, total),
  };
  if (options.gzip) {
    headers['Content-Encoding'] = 'gzip';
    headers['x-tfs-filelength'] = options.fileLength ?? 0;
  }
  if (options.md5 !== false) headers['x-actions-results-md5'] = options.md5 ?? md5Base64(bytes);
  return rawRequest('PUT', chunkUrl(container, itemPath), {
    headers: { ...headers, ...options.headers },
    body: bytes,
  });
}

async function listItems(container: string, artifactName: string): Promise<ListJson<EntryJson>> {
  const res = await rawRequest('GET', chunkUrl(container, artifactName), {
    headers: { Accept: 'application/json;api-version=6.0-preview' },
  });
  expect(res.status).toBe(200);
  return res.json<ListJson<EntryJson>>();
}

async function download(contentLocation: string): Promise<RawResponse> {
  return rawRequest('GET', contentLocation, {
    headers: { Accept: 'application/octet-stream;api-version=6.0-preview', 'Accept-Encoding': 'gzip' },
  });
}

/** Lists a file's entry and downloads it via its contentLocation, exactly as the client does. */
async function fetchItem(
  container: string,
  artifactName: string,
  path: string,
): Promise<{ entry: EntryJson; res: RawResponse }> {
  const listing = await listItems(container, artifactName);
  const entry = listing.value.find((e) => e.path === path && e.itemType === 'file');
  if (!entry?.contentLocation) throw new Error(`no file entry ${path} in ${JSON.stringify(listing)}`);
  return { entry, res: await download(entry.contentLocation) };
}

/** A PUT with `Transfer-Encoding: chunked`, so the body length is only known by counting. */
function sendChunked(url: URL, range: string, parts: string[]): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'PUT', headers: { 'Content-Range': range, 'Transfer-Encoding': 'chunked' }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString()) as T,
          });
        });
      },
    );
    req.on('error', reject);
    for (const part of parts) req.write(part);
    req.end();
  });
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}

describe('legacy server: artifacts (create / list / patch)', () => {
  it('creates a container, returns the same one for a repeated name, lists and patches sizes', async () => {
    const { server } = await start();
    const first = await createArtifact(server, '42', 'my-artifact', { RetentionDays: 5 });
    expect(first.status).toBe(201);
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    const body = first.json<ArtifactJson>();
    expect(body).toEqual({
      containerId: expect.any(Number),
      size: -1,
      signedContent: null,
      // The create's URL carries its upload session (concurrent same-name uploads, P41).
      fileContainerResourceUrl: expect.stringContaining(
        `${server.url}_apis/resources/Containers/${body.containerId}?upload=`,
      ),
      type: 'actions_storage',
      name: 'my-artifact',
      url: expect.stringContaining('artifactName=my-artifact'),
    });

    const again = await createArtifact(server, '42', 'my-artifact');
    expect(again.status).toBe(201);
    expect(again.json<ArtifactJson>().containerId).toBe(body.containerId);

    const other = (await createArtifact(server, '42', 'other')).json<ArtifactJson>();
    expect(other.containerId).toBeGreaterThan(body.containerId);
    // Same name in another run is a different artifact.
    const otherRun = (await createArtifact(server, '43', 'my-artifact')).json<ArtifactJson>();
    expect(otherRun.containerId).not.toBe(body.containerId);

    const list = await rawRequest('GET', artifactsUrl(server, '42'));
    expect(list.status).toBe(200);
    const listed = list.json<ListJson<ArtifactJson>>();
    expect(listed.count).toBe(2);
    expect(listed.value.map((a) => [a.name, a.size])).toEqual([
      ['my-artifact', -1],
      ['other', -1],
    ]);

    const patchUrl = new URL(artifactsUrl(server, '42'));
    patchUrl.searchParams.append('artifactName', 'my-artifact');
    const patched = await rawRequest('PATCH', patchUrl, {
      headers: { 'Content-Type': 'application/json' },
      body: json({ Size: 1234 }),
    });
    expect(patched.status).toBe(200);
    expect(patched.json<ArtifactJson>()).toMatchObject({
      name: 'my-artifact',
      size: 1234,
      containerId: body.containerId,
    });

    const filtered = await rawRequest('GET', `${artifactsUrl(server, '42')}&artifactName=my-artifact`);
    expect(filtered.json<ListJson<ArtifactJson>>()).toMatchObject({
      count: 1,
      value: [{ name: 'my-artifact', size: 1234 }],
    });
  });

  it('lists several uploads to one name with the total size of the files it holds, not the last upload only', async () => {
    const { server } = await start();
    const patch = async (size: number): Promise<number> => {
      const url = new URL(artifactsUrl(server, '42'));
      url.searchParams.append('artifactName', 'merged');
      const res = await rawRequest('PATCH', url, {
        headers: { 'Content-Type': 'application/json' },
        body: json({ Size: size }),
      });
      expect(res.status).toBe(200);
      return res.json<ArtifactJson>().size;
    };
    const listedSize = async (): Promise<number> => {
      const res = await rawRequest('GET', `${artifactsUrl(server, '42')}&artifactName=merged`);
      return (res.json<ListJson<ArtifactJson>>().value[0] as ArtifactJson).size;
    };
    // First upload: 100 bytes plain and a gzip file of 300 original bytes; it reports 400.
    const first = await containerFor(server, '42', 'merged');
    expect((await putChunk(first, 'merged/a.txt', Buffer.alloc(100, 'a'))).status).toBe(200);
    const zipped = gzipSync(Buffer.alloc(300, 'b'));
    expect((await putChunk(first, 'merged/b.txt', zipped, { gzip: true, fileLength: 300 })).status).toBe(200);
    expect(await patch(400)).toBe(400);
    // Second upload to the same name: one new file of 50 bytes; it reports only its own 50.
    const second = await containerFor(server, '42', 'merged');
    expect((await putChunk(second, 'merged/c.txt', Buffer.alloc(50, 'c'))).status).toBe(200);
    expect(await patch(50)).toBe(450);
    expect(await listedSize()).toBe(450);
    // Third upload replaces a.txt with 10 bytes: each path counts once, with its latest bytes.
    const third = await containerFor(server, '42', 'merged');
    expect((await putChunk(third, 'merged/a.txt', Buffer.alloc(10, 'A'))).status).toBe(200);
    expect(await patch(10)).toBe(360);
    // A repeated PATCH (a retry) changes nothing; a larger reported size (files that failed to
    // upload count too) is kept.
    expect(await patch(10)).toBe(360);
    expect(await patch(1000)).toBe(1000);
    expect(await listedSize()).toBe(1000);
  });

  it('answers an empty run with count 0 (not 404) and unknown artifacts on PATCH with 404 JSON', async () => {
    const { server } = await start();
    const empty = await rawRequest('GET', artifactsUrl(server, '7'));
    expect(empty.status).toBe(200);
    expect(empty.json()).toEqual({ count: 0, value: [] });

    const patchUrl = new URL(artifactsUrl(server, '7'));
    patchUrl.searchParams.append('artifactName', 'missing');
    const res = await rawRequest('PATCH', patchUrl, {
      headers: { 'Content-Type': 'application/json' },
      body: json({ Size: 1 }),
    });
    expect(res.status).toBe(404);
    expect(res.json<{ message: string }>().message).toMatch(/missing.*not found/);
  });

  it.each([
    ['a"b'],
    ['a:b'],
    ['a<b'],
    ['a>b'],
    ['a|b'],
    ['a*b'],
    ['a?b'],
    ['a\rb'],
    ['a\nb'],
    ['a\\b'],
    ['a/b'],
    [''],
  ])('rejects the invalid artifact name %j with 400 JSON', async (name) => {
    const { server } = await start();
    const res = await createArtifact(server, '1', name);
    expect(res.status).toBe(400);
    expect(res.json<{ message: string }>().message).toMatch(/name/i);
    expect((await rawRequest('GET', artifactsUrl(server, '1'))).json()).toEqual({ count: 0, value: [] });
  });

  it('rejects malformed bodies and bad retention with 400 JSON', async () => {
    const { server } = await start();
    const notJson = await rawRequest('POST', artifactsUrl(server, '1'), {
      headers: { 'Content-Type': 'application/json' },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.json<{ message: string }>().message).toMatch(/JSON/);
    const negative = await createArtifact(server, '1', 'x', { RetentionDays: -3 });
    expect(negative.status).toBe(400);
    expect(negative.json<{ message: string }>().message).toMatch(/RetentionDays/);
  });
});

describe('legacy server: chunk upload and download', () => {
  it('assembles chunks sent out of order, and a retried chunk replaces (never appends)', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    const data = randomBytes(3000);
    const chunks = [data.subarray(0, 1000), data.subarray(1000, 2000), data.subarray(2000)];

    expect((await putChunk(container, 'art/f.bin', chunks[2]!, { start: 2000, total: 3000 })).status).toBe(
      200,
    );
    const mid = await putChunk(container, 'art/f.bin', chunks[0]!, { start: 0, total: 3000 });
    expect(mid.status).toBe(200);
    expect(mid.json()).toEqual({ message: 'success' });
    // Incomplete items are not listed: the client would download a truncated file.
    expect((await listItems(container, 'art')).value.filter((e) => e.itemType === 'file')).toEqual([]);

    // A bogus attempt at the middle range, then the retry with the right bytes: only the retry counts.
    expect(
      (await putChunk(container, 'art/f.bin', randomBytes(1000), { start: 1000, total: 3000 })).status,
    ).toBe(200);
    expect((await putChunk(container, 'art/f.bin', chunks[1]!, { start: 1000, total: 3000 })).status).toBe(
      200,
    );
    // And the same chunk once more, as a client retry after a lost response would.
    expect((await putChunk(container, 'art/f.bin', chunks[1]!, { start: 1000, total: 3000 })).status).toBe(
      200,
    );

    const { entry, res } = await fetchItem(container, 'art', 'art/f.bin');
    expect(entry.fileLength).toBe(3000);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('3000');
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.equals(data)).toBe(true);
  });

  it('serves a small item from one read and answers a pack shorter than recorded with a 500 JSON before any byte', async () => {
    const { server, dataDir } = await start();
    const container = await containerFor(server, '1', 'art');
    const data = randomBytes(2000);
    expect((await putChunk(container, 'art/small.bin', data)).status).toBe(200);
    const { entry, res } = await fetchItem(container, 'art', 'art/small.bin');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe('2000');
    expect(res.body.equals(data)).toBe(true);

    // The bytes are gone under the server (a torn disk): never an answer cut short.
    await writeFile(join(dataDir, 'legacy', 'containers', '1', 'items', 'items.pack'), Buffer.alloc(100));
    const torn = await download(entry.contentLocation as string);
    expect(torn.status).toBe(500);
    expect(torn.json<{ message: string }>().message).toMatch(/fewer bytes/);
    expect(torn.body.toString()).not.toContain(dataDir);
  });

  it('restarts an item when a new upload of the same path has a different total', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    expect((await putChunk(container, 'art/f.txt', Buffer.from('0123456789'))).status).toBe(200);
    expect((await putChunk(container, 'art/f.txt', Buffer.from('abc'))).status).toBe(200);
    const { entry, res } = await fetchItem(container, 'art', 'art/f.txt');
    expect(entry.fileLength).toBe(3);
    expect(res.body.toString()).toBe('abc');
  });

  it('rejects a body whose length differs from the Content-Range, and bad ranges', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    const declaredMismatch = await putChunk(container, 'art/f', Buffer.from('abcd'), {
      headers: { 'Content-Range': 'bytes 0-9/10' },
    });
    expect(declaredMismatch.status).toBe(400);
    expect(declaredMismatch.json<{ message: string }>().message).toMatch(/Content-Length 4 does not match/);

    // Chunked transfer (no Content-Length): the server counts the bytes itself.
    const short = await sendChunked(chunkUrl(container, 'art/g'), 'bytes 0-9/10', ['abc', 'de']);
    expect(short.status).toBe(400);
    expect(short.json<{ message: string }>().message).toMatch(/5 bytes .* 10/);

    const long = await sendChunked(chunkUrl(container, 'art/g'), 'bytes 0-3/4', ['ab', 'cdef']);
    expect(long.status).toBe(400);
    expect(long.json<{ message: string }>().message).toMatch(/longer than the Content-Range/);

    for (const range of ['bytes 5-2/10', 'bytes 0-10/10', 'bytes 0-0/0', 'items 0-1/2', 'bytes 0--1/5']) {
      const res = await putChunk(container, 'art/h', Buffer.from('xy'), {
        headers: { 'Content-Range': range },
        md5: false,
      });
      expect(res.status).toBe(400);
    }
    expect((await listItems(container, 'art')).count).toBe(0);
  });

  it('verifies x-actions-results-md5 and rejects a mismatch without storing the chunk', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    const bytes = Buffer.from('payload');
    const bad = await putChunk(container, 'art/m.txt', bytes, { md5: md5Base64(Buffer.from('other')) });
    expect(bad.status).toBe(400);
    expect(bad.json<{ message: string }>().message).toMatch(/MD5 mismatch/);
    expect((await listItems(container, 'art')).count).toBe(0);
    expect((await putChunk(container, 'art/m.txt', bytes)).status).toBe(200);
    expect((await fetchItem(container, 'art', 'art/m.txt')).res.body.toString()).toBe('payload');
  });

  it('serves a gzip-uploaded item with Content-Encoding: gzip and reports the original length', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    const original = Buffer.from('compress me '.repeat(1000));
    const gz = gzipSync(original);
    expect(
      (await putChunk(container, 'art/log.txt', gz, { gzip: true, fileLength: original.length })).status,
    ).toBe(200);
    const { entry, res } = await fetchItem(container, 'art', 'art/log.txt');
    expect(entry.fileLength).toBe(original.length);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-length']).toBe(String(gz.length));
    expect(res.body.equals(gz)).toBe(true);
    expect(gunzipSync(res.body).equals(original)).toBe(true);
  });

  it('omits fileLength for a gzip item whose x-tfs-filelength is 0 (a FIFO), so the client still downloads it', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    const gz = gzipSync(Buffer.from('streamed from a named pipe'));
    expect((await putChunk(container, 'art/pipe', gz, { gzip: true, fileLength: 0 })).status).toBe(200);
    const { entry, res } = await fetchItem(container, 'art', 'art/pipe');
    expect(entry.fileLength).toBeUndefined();
    expect(gunzipSync(res.body).toString()).toBe('streamed from a named pipe');
  });

  it('never marks a raw .gz file (uploaded without Content-Encoding) as gzip', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    const userGz = gzipSync(Buffer.from('the user file is itself a gzip'));
    expect((await putChunk(container, 'art/data.tar.gz', userGz)).status).toBe(200);
    const { entry, res } = await fetchItem(container, 'art', 'art/data.tar.gz');
    expect(entry.fileLength).toBe(userGz.length);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.equals(userGz)).toBe(true);
  });

  it('accepts an empty file sent as "bytes 0--1/0" and lists it with fileLength 0', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    const res = await putChunk(container, 'art/empty.txt', Buffer.alloc(0), { total: 0 });
    expect(res.status).toBe(200);
    const { entry, res: got } = await fetchItem(container, 'art', 'art/empty.txt');
    expect(entry.fileLength).toBe(0);
    expect(got.status).toBe(200);
    expect(got.headers['content-length']).toBe('0');
    expect(got.body.length).toBe(0);
  });

  it('round-trips names with spaces, #, %, + and CJK through itemPath and contentLocation', async () => {
    const { server } = await start();
    const name = 'my art 漢字 #1';
    const container = await containerFor(server, '1', name);
    const files = [
      'a b.txt',
      'hash#tag.txt',
      '100%.txt',
      'c++ notes+.txt',
      '日本語/ファイル.txt',
      'already%20encoded.txt',
      'q?x=1&y=2.txt',
    ];
    for (const [i, f] of files.entries()) {
      expect((await putChunk(container, `${name}/${f}`, Buffer.from(`content ${i}`))).status).toBe(200);
    }
    const listing = await listItems(container, name);
    const paths = listing.value.filter((e) => e.itemType === 'file').map((e) => e.path);
    expect(paths.sort()).toEqual(files.map((f) => `${name}/${f}`).sort());
    for (const [i, f] of files.entries()) {
      const { res } = await fetchItem(container, name, `${name}/${f}`);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe(`content ${i}`);
    }
    // contentLocation is an absolute, properly encoded URL on this server.
    const entry = listing.value.find((e) => e.path === `${name}/hash#tag.txt`);
    expect(entry?.contentLocation?.startsWith(`${server.url}_apis/resources/Containers/`)).toBe(true);
    expect(new URL(entry!.contentLocation!).searchParams.get('itemPath')).toBe(`${name}/hash#tag.txt`);
  });

  it('normalises backslash itemPaths (Windows runners) and lists folders', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    expect((await putChunk(container, 'art\\dir\\sub\\file.txt', Buffer.from('win'))).status).toBe(200);
    const listing = await listItems(container, 'art');
    expect(listing.value.map((e) => [e.itemType, e.path])).toEqual([
      ['folder', 'art'],
      ['folder', 'art/dir'],
      ['folder', 'art/dir/sub'],
      ['file', 'art/dir/sub/file.txt'],
    ]);
    expect(listing.count).toBe(4);
    expect((await fetchItem(container, 'art', 'art/dir/sub/file.txt')).res.body.toString()).toBe('win');
    // Listing a sub-folder returns only what is beneath it.
    const sub = await rawRequest('GET', chunkUrl(container, 'art/dir/sub'));
    expect(sub.json<ListJson<EntryJson>>().value.map((e) => e.path)).toEqual([
      'art/dir/sub',
      'art/dir/sub/file.txt',
    ]);
  });

  it('rejects escaping or foreign itemPaths with 400 and writes nothing outside dataDir', async () => {
    const f = await start();
    const container = await containerFor(f.server, '1', 'art');
    const hostile = [
      'art/../../escape.txt',
      'art/a/../../../escape.txt',
      'art\\..\\..\\escape.txt',
      '../escape.txt',
      '/etc/escape.txt',
      '\\escape.txt',
      'C:\\escape.txt',
      'art/nul\0.txt',
      'other/escape.txt',
      'art',
      'artx/escape.txt',
    ];
    for (const itemPath of hostile) {
      const res = await putChunk(container, itemPath, Buffer.from('evil'));
      expect([itemPath, res.status]).toEqual([itemPath, 400]);
      expect(res.json<{ message: string }>().message).toEqual(expect.any(String));
    }
    // Everything the server wrote is inside dataDir, and no file carries a client-chosen name.
    const everything = await walk(f.root);
    expect(everything.every((p) => !relative(f.dataDir, p).startsWith('..'))).toBe(true);
    expect(everything.some((p) => p.includes('escape'))).toBe(false);
    expect((await listItems(container, 'art')).count).toBe(0);
  });

  it('refuses a file where a folder already is, and the reverse (409)', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'art');
    expect((await putChunk(container, 'art/a/b.txt', Buffer.from('1'))).status).toBe(200);
    expect((await putChunk(container, 'art/a', Buffer.from('2'))).status).toBe(409);
    expect((await putChunk(container, 'art/a/b.txt/c', Buffer.from('3'))).status).toBe(409);
  });

  it('answers unknown containers, routes and methods with JSON errors', async () => {
    const { server } = await start();
    const noContainer = await putChunk(
      `${server.url}_apis/resources/Containers/999`,
      'art/x',
      Buffer.from('x'),
    );
    expect(noContainer.status).toBe(404);
    expect(noContainer.json<{ message: string }>().message).toMatch(/Container 999/);
    const unknown = await rawRequest('GET', `${server.url}nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/json/);
    expect(unknown.json<{ message: string }>().message).toMatch(/No route for GET \/nope/);
    const wrongMethod = await rawRequest('DELETE', artifactsUrl(server, '1'));
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json<{ message: string }>().message).toMatch(/not allowed/);
    const container = await containerFor(server, '1', 'art');
    const missingFile = await rawRequest('GET', chunkUrl(container, 'art/none.txt'));
    expect(missingFile.status).toBe(404);
  });
});

describe('legacy server: auth, persistence, connections', () => {
  it('requires the bearer token when configured, and never logs it', async () => {
    const lines: string[] = [];
    const { server } = await start('s3cret-token', (line) => lines.push(line));
    const none = await rawRequest('GET', artifactsUrl(server, '1'));
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json<{ message: string }>().message).toMatch(/bearer token/i);
    const wrong = await rawRequest('GET', artifactsUrl(server, '1'), {
      headers: { Authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    const ok = await rawRequest('GET', artifactsUrl(server, '1'), {
      headers: { Authorization: 'Bearer s3cret-token' },
    });
    expect(ok.status).toBe(200);
    // Unauthenticated chunk PUTs are refused before anything is stored.
    const put = await rawRequest('PUT', `${server.url}_apis/resources/Containers/1?itemPath=a%2Fb`, {
      headers: { 'Content-Range': 'bytes 0-0/1' },
      body: 'x',
    });
    expect(put.status).toBe(401);
    await new Promise((r) => setTimeout(r, 20));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.join('\n')).not.toContain('s3cret-token');
  });

  it('keeps artifacts, sizes, items and container ids across a restart on the same dataDir', async () => {
    const f = await start();
    const container = await containerFor(f.server, '9', 'keep');
    const containerId = Number(new URL(container).pathname.split('/').pop());
    const data = randomBytes(2048);
    expect((await putChunk(container, 'keep/dir/a.bin', data)).status).toBe(200);
    const gz = gzipSync(Buffer.from('z'.repeat(5000)));
    expect((await putChunk(container, 'keep/z.txt', gz, { gzip: true, fileLength: 5000 })).status).toBe(200);
    // Half of a two-chunk item before the restart, the rest after.
    const split = randomBytes(200);
    expect((await putChunk(container, 'keep/split.bin', split.subarray(0, 100), { total: 200 })).status).toBe(
      200,
    );
    const patchUrl = new URL(artifactsUrl(f.server, '9'));
    patchUrl.searchParams.append('artifactName', 'keep');
    expect((await rawRequest('PATCH', patchUrl, { body: json({ Size: 7248 }) })).status).toBe(200);

    const server = await f.restart();
    const listed = (await rawRequest('GET', artifactsUrl(server, '9'))).json<ListJson<ArtifactJson>>();
    expect(listed.value).toEqual([expect.objectContaining({ name: 'keep', size: 7248, containerId })]);
    const newContainer = listed.value[0]!.fileContainerResourceUrl;
    expect(newContainer).toBe(`${server.url}_apis/resources/Containers/${containerId}`);

    expect((await fetchItem(newContainer, 'keep', 'keep/dir/a.bin')).res.body.equals(data)).toBe(true);
    const z = await fetchItem(newContainer, 'keep', 'keep/z.txt');
    expect(z.entry.fileLength).toBe(5000);
    expect(z.res.headers['content-encoding']).toBe('gzip');
    expect(z.res.body.equals(gz)).toBe(true);

    expect(
      (await putChunk(newContainer, 'keep/split.bin', split.subarray(100), { start: 100, total: 200 }))
        .status,
    ).toBe(200);
    expect((await fetchItem(newContainer, 'keep', 'keep/split.bin')).res.body.equals(split)).toBe(true);

    // Re-creating the name returns the same container; a new name gets a larger, unused id.
    expect((await createArtifact(server, '9', 'keep')).json<ArtifactJson>().containerId).toBe(containerId);
    expect((await createArtifact(server, '9', 'fresh')).json<ArtifactJson>().containerId).toBeGreaterThan(
      containerId,
    );
  });

  it('counts TCP connections and requests, and close() ends kept-alive sockets', async () => {
    const { server } = await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        expect((await rawRequest('GET', artifactsUrl(server, '1'), { agent })).status).toBe(200);
      }
      expect(server.stats()).toEqual({ connectionsOpened: 1, openConnections: 1, requests: 5 });
      for (let i = 0; i < 3; i++) await rawRequest('GET', artifactsUrl(server, '1'), { agent: false });
      const stats = server.stats();
      expect(stats.connectionsOpened).toBe(4);
      expect(stats.requests).toBe(8);

      // The kept-alive socket is still open; close() must not wait for the 60 s keep-alive timeout.
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(server.stats().openConnections).toBe(0);
    } finally {
      agent.destroy();
    }
  });

  it('serves concurrent uploads of different items in one artifact correctly', async () => {
    const { server } = await start();
    const container = await containerFor(server, '1', 'par');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      const files = Array.from({ length: 200 }, (_, i) => ({
        path: `par/d${i % 7}/f${i}.bin`,
        data: randomBytes(100 + i),
      }));
      await Promise.all(
        files.map(async ({ path, data }) => {
          const res = await rawRequest('PUT', chunkUrl(container, path), {
            agent,
            headers: {
              'Content-Range': contentRange(0, data.length, data.length),
              'x-actions-results-md5': md5Base64(data),
            },
            body: data,
          });
          expect(res.status).toBe(200);
        }),
      );
      const listing = await listItems(container, 'par');
      expect(listing.value.filter((e) => e.itemType === 'file')).toHaveLength(200);
      for (const { path, data } of files.slice(0, 20)) {
        expect((await fetchItem(container, 'par', path)).res.body.equals(data)).toBe(true);
      }
    } finally {
      agent.destroy();
    }
  });
});

describe('legacy server with the official @actions/artifact 1.1.x client', () => {
  const ENV_KEYS = [
    'ACTIONS_RUNTIME_URL',
    'ACTIONS_RUNTIME_TOKEN',
    'GITHUB_RUN_ID',
    'GITHUB_WORKSPACE',
  ] as const;
  const saved: Partial<Record<(typeof ENV_KEYS)[number], string | undefined>> = {};
  let restoreStdout: (() => void) | undefined;

  beforeEach(() => {
    for (const key of ENV_KEYS) saved[key] = process.env[key];
    // The official client logs every step (and `::debug::` lines) to stdout; keep test output readable.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    restoreStdout = () => (process.stdout.write = write);
  });
  afterEach(() => {
    restoreStdout?.();
    for (const key of ENV_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('uploads and downloads small, large (>8 MiB), gzip-able, empty, nested and oddly named files byte for byte', async () => {
    const f = await start('official-client-token', (l) => process.stderr.write(`SRV ${l}\n`));
    process.env.ACTIONS_RUNTIME_URL = f.server.url;
    process.env.ACTIONS_RUNTIME_TOKEN = 'official-client-token';
    process.env.GITHUB_RUN_ID = '1001';

    const src = join(f.root, 'src');
    const files: Record<string, Buffer> = {
      'small.txt': Buffer.from('hello artifact\n'.repeat(200)), // < 64 KiB, gzipped in memory
      'tiny-random.bin': randomBytes(100), // < 64 KiB, gzip does not help: sent raw
      'empty.txt': Buffer.alloc(0), // bytes 0--1/0
      'nested/deeper/big-random.bin': randomBytes(9 * 1024 * 1024 + 321), // > 8 MiB raw: two chunks
      'nested/big-text.txt': Buffer.from(randomBytes(9 * 1024 * 1024).toString('base64')), // > 8 MiB gzip: two chunks
      'nested/archive.tar.gz': gzipSync(randomBytes(100 * 1024)), // exempt extension, >= 64 KiB: raw
      'odd name #1 %2 +3 漢字.txt': Buffer.from('odd'),
    };
    for (const [name, data] of Object.entries(files)) {
      await mkdir(join(src, name, '..'), { recursive: true });
      await writeFile(join(src, name), data);
    }

    const client = createRequire(import.meta.url)('actions-artifact-legacy').create() as {
      uploadArtifact(
        name: string,
        files: string[],
        root: string,
      ): Promise<{ failedItems: string[]; artifactItems: string[] }>;
      downloadArtifact(name: string, path: string): Promise<{ artifactName: string; downloadPath: string }>;
      downloadAllArtifacts(path: string): Promise<Array<{ artifactName: string; downloadPath: string }>>;
    };
    const uploaded = await client.uploadArtifact(
      'official art',
      Object.keys(files).map((n) => join(src, n)),
      src,
    );
    expect(uploaded.failedItems).toEqual([]);
    expect(uploaded.artifactItems).toHaveLength(Object.keys(files).length);

    // The PATCH carried the total original size.
    const listed = (
      await rawRequest('GET', artifactsUrl(f.server, '1001'), {
        headers: { Authorization: 'Bearer official-client-token' },
      })
    ).json<ListJson<ArtifactJson>>();
    const totalSize = Object.values(files).reduce((n, b) => n + b.length, 0);
    expect(listed.value).toEqual([expect.objectContaining({ name: 'official art', size: totalSize })]);

    const out = join(f.root, 'out');
    const result = await client.downloadArtifact('official art', out);
    expect(result.artifactName).toBe('official art');
    for (const [name, data] of Object.entries(files)) {
      const got = await readFile(join(out, name));
      expect([name, got.length, got.equals(data)]).toEqual([name, data.length, true]);
    }

    const all = join(f.root, 'all');
    const everything = await client.downloadAllArtifacts(all);
    expect(everything.map((a) => a.artifactName)).toEqual(['official art']);
    expect(
      (await readFile(join(all, 'official art', 'nested/deeper/big-random.bin'))).equals(
        files['nested/deeper/big-random.bin']!,
      ),
    ).toBe(true);
    await rm(out, { recursive: true, force: true });
    // The official 1.1.x client spends 40-55 s here on 2 cores (its own backoff between chunk
    // retries; the same at fba7d6d): 60 s left too little room on a busy machine.
  }, 150_000);
});
