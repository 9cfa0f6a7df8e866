import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { uploadArtifact } from '../../src/index.js';
import { crc64Base64 } from '../../src/pack/crc64.js';
import { http, HttpResponse, setupServer } from '../helpers/msw.js';

const RUNTIME = 'http://runtime.test/abc/';
const CONTAINER = 'http://runtime.test/abc/_apis/resources/Containers/7';

interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: Buffer;
}

const seen: Seen[] = [];
const server = setupServer(
  http.post(`${RUNTIME}_apis/pipelines/workflows/:run/artifacts`, async ({ request }) => {
    seen.push({
      method: 'POST',
      url: new URL(request.url),
      headers: request.headers,
      body: Buffer.from(await request.arrayBuffer()),
    });
    return HttpResponse.json(
      {
        containerId: 7,
        size: -1,
        fileContainerResourceUrl: CONTAINER,
        type: 'actions_storage',
        name: 'n',
        url: 'x',
      },
      { status: 201 },
    );
  }),
  http.put(CONTAINER, async ({ request }) => {
    seen.push({
      method: 'PUT',
      url: new URL(request.url),
      headers: request.headers,
      body: Buffer.from(await request.arrayBuffer()),
    });
    return HttpResponse.json({ message: 'success' });
  }),
  http.patch(`${RUNTIME}_apis/pipelines/workflows/:run/artifacts`, async ({ request }) => {
    seen.push({
      method: 'PATCH',
      url: new URL(request.url),
      headers: request.headers,
      body: Buffer.from(await request.arrayBuffer()),
    });
    return HttpResponse.json({ size: 1 });
  }),
);

let dir: string;
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());
beforeEach(async () => {
  seen.length = 0;
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-proto-'));
});
afterEach(async () => {
  server.resetHandlers();
  await rm(dir, { recursive: true, force: true });
});

const options = () => ({
  runtimeUrl: RUNTIME,
  runtimeToken: 'runtime-token-abc',
  runId: '42',
  concurrency: 2,
  chunkSize: 64 * 1024,
});

describe('legacy upload on the wire', () => {
  it('creates the container with the official body and headers, and PATCHes the original size', async () => {
    await writeFile(path.join(dir, 'a.txt'), 'hello hello hello hello');
    await uploadArtifact('my-artifact', [path.join(dir, 'a.txt')], dir, { ...options(), retentionDays: 5 });
    const create = seen.find((s) => s.method === 'POST')!;
    expect(create.url.search).toBe('?api-version=6.0-preview');
    expect(create.url.pathname).toBe('/abc/_apis/pipelines/workflows/42/artifacts');
    expect(create.body.toString()).toBe(
      '{\n  "Type": "actions_storage",\n  "Name": "my-artifact",\n  "RetentionDays": 5\n}',
    );
    expect(create.headers.get('accept')).toBe('application/json;api-version=6.0-preview');
    expect(create.headers.get('content-type')).toBe('application/json');
    expect(create.headers.get('authorization')).toBe('Bearer runtime-token-abc');
    const patch = seen.find((s) => s.method === 'PATCH')!;
    expect(patch.url.searchParams.get('artifactName')).toBe('my-artifact');
    expect(patch.body.toString()).toBe('{\n  "Size": 23\n}');
    expect(seen.map((s) => s.method)).toEqual(['POST', 'PUT', 'PATCH']);
  });

  it('gzips a small compressible file in memory and sends the official headers', async () => {
    const text = 'log line repeated\n'.repeat(200);
    await writeFile(path.join(dir, 'log.txt'), text);
    await uploadArtifact('n', [path.join(dir, 'log.txt')], dir, options());
    const put = seen.find((s) => s.method === 'PUT')!;
    expect(put.url.searchParams.get('itemPath')).toBe('n/log.txt');
    expect(put.headers.get('content-encoding')).toBe('gzip');
    expect(put.headers.get('x-tfs-filelength')).toBe(String(text.length));
    expect(put.headers.get('content-range')).toBe(`bytes 0-${put.body.length - 1}/${put.body.length}`);
    expect(put.headers.get('content-type')).toBe('application/octet-stream');
    expect(put.headers.get('x-actions-results-md5')).toBe(
      createHash('md5').update(put.body).digest('base64'),
    );
    expect(put.headers.get('x-actions-results-crc64')).toBe(crc64Base64(put.body));
    expect(gunzipSync(put.body).toString()).toBe(text);
  });

  it('sends incompressible data raw and splits a large file into Content-Range chunks', async () => {
    const data = randomBytes(200 * 1024);
    await writeFile(path.join(dir, 'r.bin'), data);
    await uploadArtifact('n', [path.join(dir, 'r.bin')], dir, options());
    const puts = seen.filter((s) => s.method === 'PUT');
    expect(puts.map((p) => p.headers.get('content-range'))).toEqual([
      'bytes 0-65535/204800',
      'bytes 65536-131071/204800',
      'bytes 131072-196607/204800',
      'bytes 196608-204799/204800',
    ]);
    expect(puts.every((p) => p.headers.get('content-encoding') === null)).toBe(true);
    expect(Buffer.concat(puts.map((p) => p.body)).equals(data)).toBe(true);
  });

  it('sends an empty file as one PUT with bytes 0--1/0', async () => {
    await writeFile(path.join(dir, 'empty'), '');
    await uploadArtifact('n', [path.join(dir, 'empty')], dir, options());
    const put = seen.find((s) => s.method === 'PUT')!;
    expect(put.headers.get('content-range')).toBe('bytes 0--1/0');
    expect(put.body.length).toBe(0);
  });

  it('form-encodes itemPath with spaces, #, %, + and CJK', async () => {
    const name = 'a b#c%d+e 文件.txt';
    await mkdir(path.join(dir, 'sub dir'));
    await writeFile(path.join(dir, 'sub dir', name), 'x');
    await uploadArtifact('n', [path.join(dir, 'sub dir', name)], dir, options());
    const put = seen.find((s) => s.method === 'PUT')!;
    expect(put.url.searchParams.get('itemPath')).toBe(`n/sub dir/${name}`);
    expect(put.url.search).toContain('itemPath=n%2Fsub+dir%2Fa+b%23c%25d%2Be+');
  });

  it('stops at a 403 on create with a quota error, sending nothing else', async () => {
    server.use(
      http.post(`${RUNTIME}_apis/pipelines/workflows/:run/artifacts`, () =>
        HttpResponse.json({ message: 'quota' }, { status: 403 }),
      ),
    );
    await writeFile(path.join(dir, 'a.txt'), 'x');
    await expect(uploadArtifact('n', [path.join(dir, 'a.txt')], dir, options())).rejects.toMatchObject({
      code: 'ERR_FERRY_QUOTA',
    });
    expect(seen.filter((s) => s.method !== 'POST')).toHaveLength(0);
  });

  it('never PATCHes when a file fails permanently', async () => {
    server.use(http.put(CONTAINER, () => HttpResponse.json({ message: 'bad path' }, { status: 400 })));
    await writeFile(path.join(dir, 'a.txt'), 'x');
    await writeFile(path.join(dir, 'b.txt'), 'y');
    await expect(
      uploadArtifact('n', [path.join(dir, 'a.txt'), path.join(dir, 'b.txt')], dir, options()),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_HTTP',
      context: expect.objectContaining({ artifactName: 'n' }),
    });
    expect(seen.some((s) => s.method === 'PATCH')).toBe(false);
  });
});
