import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningServer } from '../../src/server/index.js';
import { md5Base64, startFixture, type ServerFixture } from '../helpers/server-fixture.js';

const RPC_BASE = 'twirp/github.actions.results.api.v1.ArtifactService/';
const RUN = 'ce7f54c7-61c7-4aae-887f-30da475f5f1a';
const JOB = 'ca395085-040a-526b-2ce8-bdc85f692774';

interface RpcResult<T> {
  status: number;
  headers: Headers;
  body: T;
}
interface TwirpErrorJson {
  code: string;
  msg: string;
}
interface MonolithJson {
  workflow_run_backend_id: string;
  workflow_job_run_backend_id: string;
  database_id: string;
  name: string;
  size: string;
  created_at: string;
  digest?: string;
}
interface RestArtifactJson {
  id: number;
  node_id: string;
  name: string;
  size_in_bytes: number;
  url: string;
  archive_download_url: string;
  expired: boolean;
  created_at: string;
  updated_at: string;
  expires_at: string;
  digest: string;
  workflow_run: { id: number | string };
}

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.dispose();
  fixture = undefined;
});

async function start(extra: { token?: string; signedUrlTtlMs?: number } = {}): Promise<RunningServer> {
  fixture = await startFixture(extra);
  return fixture.server;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function rpc<T = unknown>(
  server: RunningServer,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RpcResult<T>> {
  const res = await fetch(`${server.url}${RPC_BASE}${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as T };
}

async function create(
  server: RunningServer,
  name: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await rpc<{ ok: boolean; signed_upload_url: string }>(
    server,
    'CreateArtifact',
    { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB, name, version: 7, ...extra },
    headers,
  );
  expect([res.status, res.body.ok]).toEqual([200, true]);
  return res.body.signed_upload_url;
}

/** Equal-length ids, as the Azure SDK makes them. */
const blockId = (i: number, width = 8): string =>
  Buffer.from(`blk-${String(i).padStart(width, '0')}`).toString('base64');

function putBlock(
  uploadUrl: string,
  id: string,
  data: Buffer,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${uploadUrl}&comp=block&blockid=${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'x-ms-version': '2025-01-05', ...headers },
    body: data,
  });
}

function commit(uploadUrl: string, ids: string[], contentType?: string): Promise<Response> {
  const xml = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList>${ids
    .map((id) => `<Latest>${id}</Latest>`)
    .join('')}</BlockList>`;
  return fetch(`${uploadUrl}&comp=blocklist`, {
    method: 'PUT',
    headers: {
      'Content-Type': 'application/xml; charset=utf-8',
      ...(contentType === undefined ? {} : { 'x-ms-blob-content-type': contentType }),
    },
    body: xml,
  });
}

function finalize(server: RunningServer, name: string, extra: Record<string, unknown> = {}) {
  return rpc<{ ok: boolean; artifact_id: string } & Partial<TwirpErrorJson>>(server, 'FinalizeArtifact', {
    workflow_run_backend_id: RUN,
    workflow_job_run_backend_id: JOB,
    name,
    ...extra,
  });
}

async function list(server: RunningServer, extra: Record<string, unknown> = {}): Promise<MonolithJson[]> {
  const res = await rpc<{ artifacts: MonolithJson[] }>(server, 'ListArtifacts', {
    workflow_run_backend_id: RUN,
    workflow_job_run_backend_id: JOB,
    ...extra,
  });
  expect(res.status).toBe(200);
  return res.body.artifacts;
}

async function signedUrl(server: RunningServer, name: string, run = RUN): Promise<string> {
  const res = await rpc<{ signed_url: string }>(server, 'GetSignedArtifactURL', {
    workflow_run_backend_id: run,
    workflow_job_run_backend_id: JOB,
    name,
  });
  expect(res.status).toBe(200);
  return res.body.signed_url;
}

/** Create, stage in `blockSize` blocks, commit, finalize with the right size and hash. */
async function upload(
  server: RunningServer,
  name: string,
  data: Buffer,
  options: { blockSize?: number; mime?: string; run?: string; job?: string } = {},
): Promise<number> {
  const run = options.run ?? RUN;
  const job = options.job ?? JOB;
  const url = await create(server, name, {
    workflow_run_backend_id: run,
    workflow_job_run_backend_id: job,
    ...(options.mime === undefined ? {} : { mime_type: options.mime }),
  });
  const blockSize = options.blockSize ?? 1024 * 1024;
  const ids: string[] = [];
  for (let offset = 0, i = 0; offset < data.length; offset += blockSize, i++) {
    ids.push(blockId(i));
    expect((await putBlock(url, blockId(i), data.subarray(offset, offset + blockSize))).status).toBe(201);
  }
  expect((await commit(url, ids, options.mime)).status).toBe(201);
  const fin = await finalize(server, name, {
    workflow_run_backend_id: run,
    workflow_job_run_backend_id: job,
    ...(data.length === 0 ? {} : { size: String(data.length) }),
    hash: `sha256:${sha256(data)}`,
  });
  expect([fin.status, fin.body.ok]).toEqual([200, true]);
  return Number(fin.body.artifact_id);
}

async function azureCode(res: Response): Promise<string | undefined> {
  const text = await res.text();
  expect(text).toMatch(/^<\?xml [^>]*\?><Error><Code>\w+<\/Code><Message>[^<]*<\/Message><\/Error>$/);
  return /<Code>(\w+)<\/Code>/.exec(text)?.[1];
}

const download = async (url: string, init: RequestInit = {}): Promise<{ res: Response; body: Buffer }> => {
  const res = await fetch(url, init);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
};

describe('results server: blocks and blobs', () => {
  it('assembles blocks in block-list order whatever their arrival order, and a re-PUT block id replaces the block', async () => {
    const server = await start();
    const url = await create(server, 'ordered');
    expect(url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/artifacts\/[0-9a-f]{32}\?sig=[^&]+&se=[^&]+&sp=cw$/,
    );
    const parts = [randomBytes(300_000), randomBytes(200_001), randomBytes(77)];
    // Block 1 first goes up with the wrong bytes, as a retried block whose first attempt landed.
    expect((await putBlock(url, blockId(1), randomBytes(5000))).status).toBe(201);
    const staged = await Promise.all([2, 0, 1].map((i) => putBlock(url, blockId(i), parts[i]!)));
    expect(staged.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(staged[0]!.headers.get('x-ms-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(staged[0]!.headers.get('x-ms-version')).toBe('2025-01-05');

    const committed = await commit(
      url,
      [0, 1, 2].map((i) => blockId(i)),
    );
    expect(committed.status).toBe(201);
    expect(committed.headers.get('etag')).toMatch(/^"0x[0-9A-F]+"$/);
    const whole = Buffer.concat(parts);
    const fin = await finalize(server, 'ordered', {
      size: String(whole.length),
      hash: `sha256:${sha256(whole)}`,
    });
    expect(fin.body).toEqual({ ok: true, artifact_id: '1' });

    const got = await download(await signedUrl(server, 'ordered'));
    expect(got.res.status).toBe(200);
    expect(got.body.equals(whole)).toBe(true);
    expect(got.res.headers.get('content-type')).toBe('application/zip');
    expect(got.res.headers.get('content-length')).toBe(String(whole.length));
    expect(got.res.headers.get('accept-ranges')).toBe('bytes');
    expect(got.res.headers.get('etag')).toBe(committed.headers.get('etag'));
    expect(got.res.headers.get('content-disposition')).toBe(
      `attachment; filename="ordered.zip"; filename*=UTF-8''ordered.zip`,
    );
    // Staged blocks are gone once committed.
    const blobDirs = await readdir(join(fixture!.dataDir, 'results', 'blobs'));
    expect(await readdir(join(fixture!.dataDir, 'results', 'blobs', blobDirs[0]!, 'blocks'))).toEqual([]);
  });

  it('takes 8 concurrent 8 MiB blocks for one blob and serves the exact bytes', async () => {
    const server = await start();
    const url = await create(server, 'big');
    const block = 8 * 1024 * 1024;
    const data = randomBytes(8 * block + 12345);
    const ids = Array.from({ length: 9 }, (_, i) => blockId(i));
    const results = await Promise.all(
      ids.map((id, i) => putBlock(url, id, data.subarray(i * block, (i + 1) * block))),
    );
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 201));
    expect((await commit(url, ids)).status).toBe(201);
    const fin = await finalize(server, 'big', { size: String(data.length), hash: `sha256:${sha256(data)}` });
    expect(fin.body.ok).toBe(true);
    const got = await download(await signedUrl(server, 'big'));
    expect(got.body.length).toBe(data.length);
    expect(sha256(got.body)).toBe(sha256(data));
  });

  it('rejects unknown block ids, MD5 mismatches, unequal block id lengths and malformed ids with Azure errors', async () => {
    const server = await start();
    const url = await create(server, 'strict');
    const data = randomBytes(1000);

    const badMd5 = await putBlock(url, blockId(0), data, { 'Content-MD5': md5Base64(randomBytes(10)) });
    expect(badMd5.status).toBe(400);
    expect(badMd5.headers.get('x-ms-error-code')).toBe('Md5Mismatch');
    expect(await azureCode(badMd5)).toBe('Md5Mismatch');

    const goodMd5 = await putBlock(url, blockId(0), data, { 'Content-MD5': md5Base64(data) });
    expect(goodMd5.status).toBe(201);
    expect(goodMd5.headers.get('content-md5')).toBe(md5Base64(data));

    const shorter = await putBlock(url, Buffer.from('short').toString('base64'), data);
    expect(shorter.status).toBe(400);
    expect(await azureCode(shorter)).toBe('InvalidBlobOrBlock');

    const tooLong = await putBlock(url, Buffer.alloc(65, 1).toString('base64'), data);
    expect(tooLong.status).toBe(400);
    expect(await azureCode(tooLong)).toBe('InvalidBlobOrBlock');

    const notBase64 = await putBlock(url, 'not base64!', data);
    expect(notBase64.status).toBe(400);

    const unknown = await commit(url, [blockId(0), blockId(7)]);
    expect(unknown.status).toBe(400);
    expect(await azureCode(unknown)).toBe('InvalidBlockList');

    const badXml = await fetch(`${url}&comp=blocklist`, { method: 'PUT', body: '<BlockList><Latest>x' });
    expect(badXml.status).toBe(400);
    expect(await azureCode(badXml)).toBe('InvalidXmlDocument');

    // Nothing was committed by the failed attempts: finalize has nothing to seal.
    const early = await finalize(server, 'strict');
    expect([early.status, early.body.code]).toEqual([412, 'failed_precondition']);

    // The valid block is still staged and commits fine; the blob is exactly it.
    expect((await commit(url, [blockId(0)])).status).toBe(201);
    expect((await finalize(server, 'strict', { hash: `sha256:${sha256(data)}` })).status).toBe(200);
    expect((await download(await signedUrl(server, 'strict'))).body.equals(data)).toBe(true);
  });

  it('repeats a lost Put Block List idempotently and accepts Put Blob and empty blobs', async () => {
    const server = await start();
    const url = await create(server, 'repeat');
    const data = randomBytes(4096);
    expect((await putBlock(url, blockId(0), data)).status).toBe(201);
    const first = await commit(url, [blockId(0)]);
    const again = await commit(url, [blockId(0)]);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));

    const whole = await create(server, 'put-blob', { mime_type: 'text/plain' });
    const text = Buffer.from('a whole blob in one request\n');
    const put = await fetch(whole, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: text });
    expect(put.status).toBe(201);
    const noType = await fetch(whole, { method: 'PUT', body: text });
    expect(noType.status).toBe(400);
    expect(await azureCode(noType)).toBe('MissingRequiredHeader');
    expect((await finalize(server, 'put-blob', { size: String(text.length) })).body.ok).toBe(true);
    const got = await download(await signedUrl(server, 'put-blob'));
    expect(got.body.equals(text)).toBe(true);
    expect(got.res.headers.get('content-type')).toBe('text/plain');
    // Not a zip: the download is named after the artifact itself.
    expect(got.res.headers.get('content-disposition')).toBe(
      `attachment; filename="put-blob"; filename*=UTF-8''put-blob`,
    );

    // An empty payload stages nothing and commits an empty list; the client then omits size.
    const empty = await create(server, 'empty.txt', { mime_type: 'text/plain' });
    expect((await commit(empty, [])).status).toBe(201);
    const fin = await finalize(server, 'empty.txt', { hash: `sha256:${sha256(Buffer.alloc(0))}` });
    expect(fin.body.ok).toBe(true);
    const gotEmpty = await download(await signedUrl(server, 'empty.txt'));
    expect([gotEmpty.res.status, gotEmpty.body.length]).toEqual([200, 0]);
    expect((await list(server, { name_filter: 'empty.txt' }))[0]?.size).toBe('0');
  });
});

describe('results server: Twirp RPCs', () => {
  it('verifies Finalize size and hash against the committed bytes and is idempotent for the same content', async () => {
    const server = await start();
    const url = await create(server, 'checked');
    const data = randomBytes(10_000);
    expect((await putBlock(url, blockId(0), data)).status).toBe(201);
    expect((await commit(url, [blockId(0)])).status).toBe(201);

    const wrongSize = await finalize(server, 'checked', { size: '9999', hash: `sha256:${sha256(data)}` });
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.body.code).toBe('invalid_argument');
    expect(wrongSize.body.msg).toMatch(/9999.*10000/);

    const wrongHash = `sha256:${sha256(randomBytes(1))}`;
    const badHash = await finalize(server, 'checked', { size: 10_000, hash: wrongHash });
    expect(badHash.status).toBe(400);
    expect(badHash.body.msg).toContain(wrongHash);
    expect(badHash.body.msg).toContain(`sha256:${sha256(data)}`);

    const malformed = await finalize(server, 'checked', { hash: 'md5:abc' });
    expect([malformed.status, malformed.body.code]).toEqual([400, 'invalid_argument']);

    // Not listed while unfinalized.
    expect(await list(server)).toEqual([]);

    // int64 as a number and lowerCamel names are accepted too.
    const ok = await rpc<{ ok: boolean; artifact_id: string }>(server, 'FinalizeArtifact', {
      workflowRunBackendId: RUN,
      workflowJobRunBackendId: JOB,
      name: 'checked',
      size: 10_000,
      hash: `sha256:${sha256(data).toUpperCase()}`,
    });
    expect(ok.body).toEqual({ ok: true, artifact_id: '1' });
    const repeat = await finalize(server, 'checked', { size: '10000', hash: `sha256:${sha256(data)}` });
    expect(repeat.body).toEqual({ ok: true, artifact_id: '1' });
    const repeatOther = await finalize(server, 'checked', { hash: wrongHash });
    expect(repeatOther.status).toBe(400);

    // The upload URL is dead once the artifact is sealed.
    const late = await putBlock(url, blockId(1), data);
    expect(late.status).toBe(409);
    await late.text();

    const unknown = await finalize(server, 'never-created');
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
  });

  it('answers a duplicate name with 409 already_exists, also while an earlier upload is unfinalized', async () => {
    const server = await start();
    const abandoned = await create(server, 'dup');
    expect((await putBlock(abandoned, blockId(0), Buffer.from('old'))).status).toBe(201);
    // An upload in progress holds the name (P41); deleting it frees the name for a retry.
    const busy = await rpc<TwirpErrorJson>(server, 'CreateArtifact', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      name: 'dup',
      version: 7,
    });
    expect([busy.status, busy.body.code]).toEqual([409, 'already_exists']);
    expect(busy.body.msg).toMatch(/being uploaded/);
    await rpc(server, 'DeleteArtifact', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      name: 'dup',
    });
    const retry = await create(server, 'dup');
    const stale = await putBlock(abandoned, blockId(1), Buffer.from('old'));
    expect(stale.status).toBe(404);
    expect(await azureCode(stale)).toBe('BlobNotFound');
    expect((await putBlock(retry, blockId(0), Buffer.from('new'))).status).toBe(201);
    expect((await commit(retry, [blockId(0)])).status).toBe(201);
    const fin = await finalize(server, 'dup', { size: '3' });
    // The abandoned attempt used id 1; ids only grow.
    expect(fin.body).toEqual({ ok: true, artifact_id: '2' });

    const dup = await rpc<TwirpErrorJson>(server, 'CreateArtifact', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: 'another-job',
      name: 'dup',
      version: 7,
    });
    expect(dup.status).toBe(409);
    expect(dup.headers.get('content-type')).toMatch(/^application\/json/);
    expect(dup.body).toEqual({
      code: 'already_exists',
      msg: 'an artifact with this name already exists on the workflow run',
    });
    // Another run may use the name.
    await create(server, 'dup', { workflow_run_backend_id: 'other-run' });
  });

  it('lists the whole run with each job id, only finalized artifacts, with name and id filters and digests', async () => {
    const server = await start();
    const a = randomBytes(100);
    const b = randomBytes(200);
    const idA = await upload(server, 'alpha', a, { job: 'job-1' });
    const idB = await upload(server, 'beta', b, { job: 'job-2' });
    await upload(server, 'alpha', a, { run: 'other-run' });
    await create(server, 'pending');

    const all = await list(server);
    expect(all).toEqual([
      {
        workflow_run_backend_id: RUN,
        workflow_job_run_backend_id: 'job-1',
        database_id: String(idA),
        name: 'alpha',
        size: '100',
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
        digest: `sha256:${sha256(a)}`,
      },
      expect.objectContaining({
        workflow_job_run_backend_id: 'job-2',
        database_id: String(idB),
        name: 'beta',
        size: '200',
        digest: `sha256:${sha256(b)}`,
      }),
    ]);
    expect((await list(server, { name_filter: 'beta' })).map((x) => x.name)).toEqual(['beta']);
    expect((await list(server, { name_filter: 'alph' })).map((x) => x.name)).toEqual([]);
    expect((await list(server, { id_filter: String(idA) })).map((x) => x.name)).toEqual(['alpha']);
    expect((await list(server, { idFilter: idB })).map((x) => x.name)).toEqual(['beta']);
    expect(await list(server, { id_filter: '999' })).toEqual([]);
    expect(await list(server, { workflow_run_backend_id: 'empty-run' })).toEqual([]);
  });

  it('serializes concurrent creates and finalizes: unique ids, one artifact per name, repeat-safe finalize', async () => {
    const server = await start();
    const urls = await Promise.all(Array.from({ length: 10 }, (_, i) => create(server, `n${i}`)));
    expect(new Set(urls).size).toBe(10);
    // Three racing creates of one name: exactly one gets an upload URL, the others 409 (P41).
    const racing = await Promise.all(
      [1, 2, 3].map(() =>
        rpc<{ signed_upload_url?: string; code?: string }>(server, 'CreateArtifact', {
          workflow_run_backend_id: RUN,
          workflow_job_run_backend_id: JOB,
          name: 'race',
          version: 7,
        }),
      ),
    );
    expect(racing.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const winner = racing.find((r) => r.status === 200)!.body.signed_upload_url!;
    expect((await putBlock(winner, blockId(0), Buffer.from('r'))).status).toBe(201);
    expect((await commit(winner, [blockId(0)])).status).toBe(201);
    const finals = await Promise.all([1, 2, 3, 4].map(() => finalize(server, 'race', { size: '1' })));
    expect(new Set(finals.map((f) => `${f.status} ${f.body.artifact_id}`)).size).toBe(1);
    expect(finals[0]!.status).toBe(200);
    const ids = (await list(server)).map((a) => Number(a.database_id));
    expect(ids).toEqual([Number(finals[0]!.body.artifact_id)]);
    expect(ids[0]).toBeGreaterThan(10);
  });

  it('deletes artifacts, and a recreated name gets a new, larger id', async () => {
    const server = await start();
    const first = await upload(server, 'again', randomBytes(10));
    const oldUrl = await signedUrl(server, 'again');
    const del = await rpc<{ ok: boolean; artifact_id: string }>(server, 'DeleteArtifact', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      name: 'again',
    });
    expect(del.body).toEqual({ ok: true, artifact_id: String(first) });
    expect(await list(server)).toEqual([]);
    const gone = await fetch(oldUrl);
    expect(gone.status).toBe(404);
    expect(await azureCode(gone)).toBe('BlobNotFound');
    const missing = await rpc<TwirpErrorJson>(server, 'GetSignedArtifactURL', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      name: 'again',
    });
    expect([missing.status, missing.body.code]).toEqual([404, 'not_found']);
    const delAgain = await rpc<TwirpErrorJson>(server, 'DeleteArtifact', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      name: 'again',
    });
    expect([delAgain.status, delAgain.body.code]).toEqual([404, 'not_found']);

    const second = await upload(server, 'again', randomBytes(20));
    expect(second).toBeGreaterThan(first);
    expect((await list(server)).map((x) => x.database_id)).toEqual([String(second)]);
  });

  it('answers every failure with Twirp JSON {code, msg} and the standard status', async () => {
    const server = await start();
    const unknown = await rpc<TwirpErrorJson>(server, 'UploadArtifact', {});
    expect([unknown.status, unknown.body.code]).toEqual([404, 'bad_route']);
    const get = await fetch(`${server.url}${RPC_BASE}CreateArtifact`);
    expect(get.status).toBe(404);
    expect(((await get.json()) as TwirpErrorJson).code).toBe('bad_route');
    const otherService = await rpc<TwirpErrorJson>(server, '../../twirp/x.Y/Z', {});
    expect(otherService.body.code).toBe('bad_route');

    const notJson = await rpc<TwirpErrorJson>(server, 'CreateArtifact', '{nope');
    expect([notJson.status, notJson.body.code]).toEqual([400, 'invalid_argument']);
    const notObject = await rpc<TwirpErrorJson>(server, 'CreateArtifact', '[1]');
    expect([notObject.status, notObject.body.code]).toEqual([400, 'malformed']);
    const noRun = await rpc<TwirpErrorJson>(server, 'CreateArtifact', { name: 'x' });
    expect([noRun.status, noRun.body.code]).toEqual([400, 'invalid_argument']);
    expect(noRun.body.msg).toMatch(/workflow_run_backend_id/);

    const names: Array<[string, RegExp]> = [
      ['', /between 1 and 256/],
      ['x'.repeat(257), /between 1 and 256/],
      ['a:b', /forbidden character ":"/],
      ['a/b', /forbidden/],
      ['back\\slash', /forbidden/],
      ['..', /not valid/],
    ];
    for (const [name, message] of names) {
      const res = await rpc<TwirpErrorJson>(server, 'CreateArtifact', {
        workflow_run_backend_id: RUN,
        workflow_job_run_backend_id: JOB,
        name,
      });
      expect([name, res.status, res.body.code]).toEqual([name, 400, 'invalid_argument']);
      expect(res.body.msg).toMatch(message);
    }
    expect(await create(server, '漢'.repeat(256))).toContain('sp=cw');

    const past = await rpc<TwirpErrorJson>(server, 'CreateArtifact', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      name: 'expired',
      expires_at: '2001-01-01T00:00:00Z',
    });
    expect([past.status, past.body.code]).toEqual([400, 'invalid_argument']);
    const badTime = await rpc<TwirpErrorJson>(server, 'CreateArtifact', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      name: 'expired',
      expires_at: 1234,
    });
    expect([badTime.status, badTime.body.code]).toEqual([400, 'invalid_argument']);
    const badSize = await finalize(server, 'x', { size: '12.5' });
    expect([badSize.status, badSize.body.code]).toEqual([400, 'invalid_argument']);
    const protobuf = await rpc<TwirpErrorJson>(server, 'ListArtifacts', '{}', {
      'Content-Type': 'application/protobuf',
    });
    expect([protobuf.status, protobuf.body.code]).toEqual([404, 'bad_route']);
  });

  it('requires the token on Twirp and REST calls but not on signed blob URLs', async () => {
    const token = 's3cret-results-token';
    const server = await start({ token });
    const anonymous = await rpc<TwirpErrorJson>(server, 'ListArtifacts', {
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('unauthenticated');
    const wrong = await rpc<TwirpErrorJson>(
      server,
      'ListArtifacts',
      { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB },
      { Authorization: 'Bearer nope' },
    );
    expect(wrong.status).toBe(401);

    const auth = { Authorization: `Bearer ${token}` };
    const url = await create(server, 'guarded', {}, auth);
    // The Azure SDK sends no Authorization to blob URLs: the signature is the credential.
    expect((await putBlock(url, blockId(0), Buffer.from('x'))).status).toBe(201);
    expect((await commit(url, [blockId(0)])).status).toBe(201);
    const fin = await rpc<{ artifact_id: string }>(
      server,
      'FinalizeArtifact',
      { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB, name: 'guarded' },
      auth,
    );
    expect(fin.status).toBe(200);

    const rest = `${server.url}repos/o/r/actions/artifacts/${fin.body.artifact_id}`;
    const restNone = await fetch(rest);
    expect(restNone.status).toBe(401);
    expect(((await restNone.json()) as { message: string }).message).toBe('Bad credentials');
    expect((await fetch(rest, { headers: { Authorization: 'token nope' } })).status).toBe(401);
    expect((await fetch(rest, { headers: { Authorization: `token ${token}` } })).status).toBe(200);
    expect((await fetch(rest, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    // The legacy protocol still wants the bearer token.
    expect((await fetch(`${server.url}_apis/pipelines/workflows/1/artifacts`)).status).toBe(401);
  });
});

describe('results server: signed URLs and downloads', () => {
  it('refuses expired, tampered and wrong-permission URLs with 403 Azure XML', async () => {
    const server = await start({ signedUrlTtlMs: 300 });
    const url = await create(server, 'short-lived');
    expect((await putBlock(url, blockId(0), Buffer.from('abc'))).status).toBe(201);

    const tampered = url.replace(/sig=([^&])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    const badSig = await putBlock(tampered, blockId(1), Buffer.from('x'));
    expect(badSig.status).toBe(403);
    expect(badSig.headers.get('x-ms-error-code')).toBe('AuthenticationFailed');
    expect(await azureCode(badSig)).toBe('AuthenticationFailed');

    const later = new Date(Date.now() + 3_600_000).toISOString();
    const extended = url.replace(/se=[^&]+/, `se=${encodeURIComponent(later)}`);
    expect((await putBlock(extended, blockId(1), Buffer.from('x'))).status).toBe(403);
    const unsigned = url.replace(/\?.*$/, '?comp=block');
    expect((await putBlock(unsigned, blockId(1), Buffer.from('x'))).status).toBe(403);
    const otherBlob = url.replace(/artifacts\/[0-9a-f]{32}/, `artifacts/${'0'.repeat(32)}`);
    expect((await putBlock(otherBlob, blockId(1), Buffer.from('x'))).status).toBe(403);

    // An upload URL does not grant reads.
    const readWithUploadUrl = await fetch(url);
    expect(readWithUploadUrl.status).toBe(403);
    expect(await azureCode(readWithUploadUrl)).toBe('AuthorizationPermissionMismatch');

    await new Promise((r) => setTimeout(r, 400));
    const expired = await commit(url, [blockId(0)]);
    expect(expired.status).toBe(403);
    const text = await expired.text();
    expect(text).toMatch(
      /^<\?xml version="1\.0" encoding="utf-8"\?><Error><Code>AuthenticationFailed<\/Code>/,
    );
    expect(text).toMatch(/time frame/);
  });

  it('serves ranges, honours If-Match / If-None-Match, answers HEAD, and names CJK downloads with filename*', async () => {
    const server = await start();
    const data = randomBytes(1000);
    await upload(server, '報告 #1 100%', data);
    const url = await signedUrl(server, '報告 #1 100%');
    expect(url).toMatch(/sp=r$/);

    const full = await download(url);
    const etag = full.res.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(full.res.headers.get('content-disposition')).toBe(
      `attachment; filename="__ #1 100_.zip"; filename*=UTF-8''${encodeURIComponent('報告 #1 100%.zip')}`,
    );
    // What the official client does with it.
    const star = /filename\*\s*=\s*UTF-8''([^;\r\n]*)/i.exec(full.res.headers.get('content-disposition')!);
    expect(decodeURIComponent(star![1]!)).toBe('報告 #1 100%.zip');

    const middle = await download(url, { headers: { Range: 'bytes=100-199' } });
    expect(middle.res.status).toBe(206);
    expect(middle.res.headers.get('content-range')).toBe('bytes 100-199/1000');
    expect(middle.res.headers.get('content-length')).toBe('100');
    expect(middle.body.equals(data.subarray(100, 200))).toBe(true);

    const tail = await download(url, { headers: { Range: 'bytes=900-', 'If-Match': etag } });
    expect(tail.res.status).toBe(206);
    expect(tail.body.equals(data.subarray(900))).toBe(true);
    const suffix = await download(url, { headers: { Range: 'bytes=-10' } });
    expect(suffix.body.equals(data.subarray(990))).toBe(true);
    const clipped = await download(url, { headers: { 'x-ms-range': 'bytes=990-5000' } });
    expect(clipped.res.headers.get('content-range')).toBe('bytes 990-999/1000');

    const outside = await download(url, { headers: { Range: 'bytes=1000-' } });
    expect(outside.res.status).toBe(416);
    expect(outside.res.headers.get('content-range')).toBe('bytes */1000');
    const multi = await download(url, { headers: { Range: 'bytes=0-1,5-6' } });
    expect([multi.res.status, multi.body.length]).toEqual([200, 1000]);

    const stale = await download(url, { headers: { Range: 'bytes=0-9', 'If-Match': '"0xOTHER"' } });
    expect(stale.res.status).toBe(412);
    expect(stale.res.headers.get('x-ms-error-code')).toBe('ConditionNotMet');
    const cached = await download(url, { headers: { 'If-None-Match': etag } });
    expect(cached.res.status).toBe(304);
    const staleRange = await download(url, { headers: { Range: 'bytes=0-9', 'If-Range': '"0xOTHER"' } });
    expect([staleRange.res.status, staleRange.body.length]).toEqual([200, 1000]);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('1000');
    expect(head.headers.get('etag')).toBe(etag);
    expect(Buffer.from(await head.arrayBuffer()).length).toBe(0);

    const put = await fetch(url, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'x' });
    expect(put.status).toBe(403);
    const del = await fetch(url, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(await azureCode(del)).toBe('UnsupportedHttpVerb');
  });
});

describe('results server: REST API and persistence', () => {
  it('lists, gets, redirects to and deletes artifacts through the GitHub REST subset', async () => {
    const server = await start();
    const run = '4242';
    const one = randomBytes(300);
    const idOne = await upload(server, 'one', one, { run });
    const idTwo = await upload(server, 'two', randomBytes(30), { run, job: 'j2' });
    await upload(server, 'elsewhere', randomBytes(3));
    const base = `${server.url}repos/octo/repo/actions`;

    const listed = await fetch(`${base}/runs/${run}/artifacts`);
    expect(listed.status).toBe(200);
    const body = (await listed.json()) as { total_count: number; artifacts: RestArtifactJson[] };
    expect(body.total_count).toBe(2);
    expect(body.artifacts.map((a) => a.id)).toEqual([idTwo, idOne]);
    expect(body.artifacts[1]).toEqual({
      id: idOne,
      node_id: expect.any(String) as unknown,
      name: 'one',
      size_in_bytes: 300,
      url: `${base}/artifacts/${idOne}`,
      archive_download_url: `${base}/artifacts/${idOne}/zip`,
      expired: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as unknown,
      updated_at: expect.stringMatching(/Z$/) as unknown,
      expires_at: expect.stringMatching(/Z$/) as unknown,
      digest: `sha256:${sha256(one)}`,
      workflow_run: { id: 4242 },
    });

    const byName = (await (await fetch(`${base}/runs/${run}/artifacts?name=one`)).json()) as {
      total_count: number;
      artifacts: RestArtifactJson[];
    };
    expect(byName.artifacts.map((a) => a.name)).toEqual(['one']);
    const paged = (await (await fetch(`${base}/runs/${run}/artifacts?per_page=1&page=2`)).json()) as {
      total_count: number;
      artifacts: RestArtifactJson[];
    };
    expect([paged.total_count, paged.artifacts.map((a) => a.id)]).toEqual([2, [idOne]]);
    const uuidRun = (await (await fetch(`${base}/runs/${RUN}/artifacts`)).json()) as {
      artifacts: RestArtifactJson[];
    };
    expect(uuidRun.artifacts[0]?.workflow_run).toEqual({ id: RUN });

    const single = await fetch(`${base}/artifacts/${idOne}`);
    expect(((await single.json()) as RestArtifactJson).name).toBe('one');

    const zip = await fetch(`${base}/artifacts/${idOne}/zip`, { redirect: 'manual' });
    expect(zip.status).toBe(302);
    const location = zip.headers.get('location')!;
    expect(location).toMatch(/\/devstoreaccount1\/artifacts\/[0-9a-f]{32}\?sig=.*&sp=r$/);
    expect((await download(location)).body.equals(one)).toBe(true);

    const deleted = await fetch(`${base}/artifacts/${idOne}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    const after = await fetch(`${base}/artifacts/${idOne}`);
    expect(after.status).toBe(404);
    expect(await after.json()).toEqual(expect.objectContaining({ message: 'Not Found' }));
    expect((await fetch(`${base}/artifacts/${idOne}`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${base}/artifacts/${idOne}/zip`, { redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${base}/artifacts/${idTwo}/tar`, { redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${server.url}repos/octo/repo/nothing`)).status).toBe(404);
    expect(await list(server, { workflow_run_backend_id: run })).toEqual([
      expect.objectContaining({ name: 'two' }),
    ]);
  });

  it('keeps artifacts, staged blocks, signed URLs and the id counter across a restart', async () => {
    await start();
    const f = fixture!;
    const data = randomBytes(5000);
    const id = await upload(f.server, 'kept', data);
    const downloadUrl = await signedUrl(f.server, 'kept');
    const pendingUrl = await create(f.server, 'half');
    const firstHalf = randomBytes(100);
    expect((await putBlock(pendingUrl, blockId(0), firstHalf)).status).toBe(201);

    const server = await f.restart();
    expect(await list(server)).toEqual([
      expect.objectContaining({ name: 'kept', database_id: String(id), digest: `sha256:${sha256(data)}` }),
    ]);
    // Same key on disk: URLs minted before the restart still verify (same port is not required).
    const samePath = new URL(downloadUrl);
    const moved = `${server.url}${samePath.pathname.slice(1)}${samePath.search}`;
    expect((await download(moved)).body.equals(data)).toBe(true);
    // The half-done upload continues where it stopped.
    const resumed = pendingUrl.replace(/^http:\/\/[^/]+\//, server.url);
    const secondHalf = randomBytes(50);
    expect((await putBlock(resumed, blockId(1), secondHalf)).status).toBe(201);
    expect((await commit(resumed, [blockId(0), blockId(1)])).status).toBe(201);
    const whole = Buffer.concat([firstHalf, secondHalf]);
    const fin = await finalize(server, 'half', {
      size: String(whole.length),
      hash: `sha256:${sha256(whole)}`,
    });
    expect(Number(fin.body.artifact_id)).toBe(id + 1);
    expect(await upload(server, 'later', randomBytes(1))).toBe(id + 2);
    // Metadata lives under results/, never under client-chosen names.
    const entries = await readdir(join(f.dataDir, 'results'));
    expect(entries.sort()).toEqual(['artifacts', 'blobs', 'next-artifact-id.json', 'signing-key']);
  });
});

/** An unsigned JWT as the official client decodes it (it never checks the signature). */
function runtimeToken(run: string, job: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ scp: `Actions.ExampleScope Actions.Results:${run}:${job}` })}.sig`;
}

interface OfficialClient {
  uploadArtifact(
    name: string,
    files: string[],
    root: string,
    options?: { retentionDays?: number; compressionLevel?: number; skipArchive?: boolean },
  ): Promise<{ id?: number; size?: number; digest?: string }>;
  downloadArtifact(
    id: number,
    options?: {
      path?: string;
      expectedHash?: string;
      findBy?: { token: string; workflowRunId: number; repositoryOwner: string; repositoryName: string };
    },
  ): Promise<{ downloadPath?: string; digestMismatch?: boolean }>;
  listArtifacts(options?: {
    latest?: boolean;
  }): Promise<{ artifacts: Array<{ id: number; name: string; size: number; digest?: string }> }>;
  getArtifact(
    name: string,
  ): Promise<{ artifact: { id: number; name: string; size: number; digest?: string } }>;
  deleteArtifact(name: string): Promise<{ id: number }>;
}

describe('results server: interop with the official @actions/artifact 6.x client', () => {
  const ENV_KEYS = [
    'ACTIONS_RESULTS_URL',
    'ACTIONS_RUNTIME_TOKEN',
    'ACTIONS_RUNTIME_URL',
    'GITHUB_SERVER_URL',
    'GITHUB_WORKSPACE',
    'GITHUB_API_URL',
  ] as const;
  const saved: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};
  const run = '7001';
  const token = runtimeToken(run, 'job-7');
  let interop: ServerFixture;
  let client: OfficialClient;
  let restoreStdout: (() => void) | undefined;
  const requestLog: string[] = [];

  beforeAll(async () => {
    for (const key of ENV_KEYS) {
      const value = process.env[key];
      if (value !== undefined) saved[key] = value;
    }
    // The server token is the runtime JWT: the client sends it as the bearer on every RPC.
    interop = await startFixture({ token, log: (line) => requestLog.push(line) });
    process.env.ACTIONS_RESULTS_URL = interop.server.url;
    process.env.ACTIONS_RUNTIME_TOKEN = token;
    // Unset means github.com; plain `localhost` would count as GHES and be refused (B1).
    delete process.env.GITHUB_SERVER_URL;
    delete process.env.ACTIONS_RUNTIME_URL;
    process.env.GITHUB_WORKSPACE = interop.root;
    // @actions/github reads this once, when the module loads: set it before the first import.
    process.env.GITHUB_API_URL = interop.server.url.replace(/\/$/, '');
    const mod = (await import('actions-artifact-current')) as unknown as {
      DefaultArtifactClient: new () => OfficialClient;
    };
    client = new mod.DefaultArtifactClient();
  });
  afterAll(async () => {
    await interop.dispose();
    for (const key of ENV_KEYS) {
      const value = saved[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  beforeEach(() => {
    // The client prints ::debug:: and progress lines for every block; keep the test output readable.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    restoreStdout = () => (process.stdout.write = write);
  });
  afterEach(() => restoreStdout?.());

  it('uploads, lists, downloads (same run and by REST), and deletes byte for byte', async () => {
    const src = join(interop.root, 'src');
    const files: Record<string, Buffer> = {
      'small.txt': Buffer.from('hello results protocol\n'.repeat(100)),
      'empty.txt': Buffer.alloc(0),
      'nested/deeper/big-random.bin': randomBytes(9 * 1024 * 1024 + 321),
      'nested/big-text.txt': Buffer.from(randomBytes(6 * 1024 * 1024).toString('base64')),
      '漢字 フォルダ/データ #1 %2 +3.txt': Buffer.from('CJK names survive'),
    };
    for (const [name, data] of Object.entries(files)) {
      await mkdir(join(src, name, '..'), { recursive: true });
      await writeFile(join(src, name), data);
    }
    // Level 0 (STORED) keeps the zip > 8 MiB, so the upload takes several blocks.
    const uploaded = await client.uploadArtifact(
      'official 成果物',
      Object.keys(files).map((n) => join(src, n)),
      src,
      { compressionLevel: 0, retentionDays: 3 },
    );
    expect(uploaded.id).toBe(1);
    expect(uploaded.size).toBeGreaterThan(16 * 1024 * 1024);

    // The digest the client computed is the one the server lists (download-artifact compares them).
    const listed = await rpc<{ artifacts: MonolithJson[] }>(
      interop.server,
      'ListArtifacts',
      { workflow_run_backend_id: run, workflow_job_run_backend_id: 'job-7' },
      { Authorization: `Bearer ${token}` },
    );
    expect(listed.body.artifacts.map((a) => [a.database_id, a.size, a.digest])).toEqual([
      ['1', String(uploaded.size), `sha256:${uploaded.digest}`],
    ]);
    const { artifacts } = await client.listArtifacts();
    expect(artifacts).toEqual([
      expect.objectContaining({
        id: 1,
        name: 'official 成果物',
        size: uploaded.size,
        digest: `sha256:${uploaded.digest}`,
      }),
    ]);
    const { artifact } = await client.getArtifact('official 成果物');
    expect(artifact.digest).toBe(`sha256:${uploaded.digest}`);

    const out = join(interop.root, 'out');
    const result = await client.downloadArtifact(1, { path: out, expectedHash: `sha256:${uploaded.digest}` });
    expect(result.digestMismatch).toBe(false);
    for (const [name, data] of Object.entries(files)) {
      const got = await readFile(join(out, name));
      expect([name, got.length, got.equals(data)]).toEqual([name, data.length, true]);
    }

    // Cross-run mode: REST list, 302 to the signed URL, same bytes.
    const viaRest = join(interop.root, 'via-rest');
    const publicResult = await client.downloadArtifact(1, {
      path: viaRest,
      expectedHash: `sha256:${uploaded.digest}`,
      findBy: { token, workflowRunId: Number(run), repositoryOwner: 'octo', repositoryName: 'repo' },
    });
    expect(publicResult.digestMismatch).toBe(false);
    const big = 'nested/deeper/big-random.bin';
    expect((await readFile(join(viaRest, big))).equals(files[big]!)).toBe(true);

    // A second upload of the same name is refused until the first is deleted.
    await expect(client.uploadArtifact('official 成果物', [join(src, 'small.txt')], src)).rejects.toThrow(
      /already exists/,
    );
    expect(await client.deleteArtifact('official 成果物')).toEqual({ id: 1 });
    const again = await client.uploadArtifact('official 成果物', [join(src, 'small.txt')], src);
    expect(again.id).toBe(2);
    // No request needed a retry: the only failure is the deliberate duplicate.
    // The cold-start notes of the listing indexes are diagnostics, not requests.
    const failures = requestLog.filter(
      (line) => !/ [23]\d\d [\d.]+ms$/.test(line) && !line.startsWith('listing index '),
    );
    expect(failures).toEqual([expect.stringMatching(/^POST \/twirp\/.*\/CreateArtifact 409 /)]);
    expect(requestLog.filter((line) => line.startsWith('PUT /devstoreaccount1/')).length).toBeGreaterThan(3);
    const { artifacts: afterDelete } = await client.listArtifacts();
    expect(afterDelete.map((a) => a.id)).toEqual([2]);
    await rm(out, { recursive: true, force: true });
  });

  it('round-trips an unzipped (skipArchive) file with a CJK name through Content-Disposition', async () => {
    const dir = join(interop.root, 'raw');
    await mkdir(dir, { recursive: true });
    const file = join(dir, '報告書 100%.txt');
    const data = Buffer.from('raw artifact, no zip\n'.repeat(1000));
    await writeFile(file, data);
    const uploaded = await client.uploadArtifact('ignored-for-raw', [file], dir, { skipArchive: true });
    const { artifact } = await client.getArtifact('報告書 100%.txt');
    expect(artifact).toEqual(
      expect.objectContaining({ id: uploaded.id, digest: `sha256:${uploaded.digest}` }),
    );
    const out = join(interop.root, 'raw-out');
    const result = await client.downloadArtifact(uploaded.id!, {
      path: out,
      expectedHash: `sha256:${uploaded.digest}`,
    });
    expect(result.digestMismatch).toBe(false);
    expect((await readFile(join(out, '報告書 100%.txt'))).equals(data)).toBe(true);
  });
});
