import { createHash, randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { mintRunnerToken } from '../../src/server/http/mint-token.js';
import type { RunningServer, ServerOptions } from '../../src/server/index.js';
import {
  artifactsUrl,
  chunkUrl,
  contentRange,
  md5Base64,
  rawRequest,
  startFixture,
  type ServerFixture,
} from '../helpers/server-fixture.js';

const TOKEN = 'operator-secret-token-5f1a';
const RUN = 'ce7f54c7-61c7-4aae-887f-30da475f5f1a';
const JOB = 'ca395085-040a-526b-2ce8-bdc85f692774';
const RPC = 'twirp/github.actions.results.api.v1.ArtifactService/';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

let fixture: ServerFixture | undefined;
afterEach(async () => {
  await fixture?.dispose();
  fixture = undefined;
});

async function start(extra: Partial<ServerOptions> = {}): Promise<RunningServer> {
  fixture = await startFixture({ token: TOKEN, ...extra });
  return fixture.server;
}

async function rpc<T>(server: RunningServer, method: string, body: object): Promise<T> {
  const res = await rawRequest('POST', `${server.url}${RPC}${method}`, {
    headers: { 'Content-Type': 'application/json', ...AUTH },
    body: JSON.stringify({ workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB, ...body }),
  });
  expect(res.status).toBe(200);
  return res.json<T>();
}

/** Results protocol: create, Put Blob, finalize, then download through a signed URL. */
async function resultsRoundTrip(server: RunningServer, name: string, data: Buffer): Promise<string> {
  const { signed_upload_url: upload } = await rpc<{ signed_upload_url: string }>(server, 'CreateArtifact', {
    name,
    version: 4,
  });
  const put = await rawRequest('PUT', upload, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': data.length },
    body: data,
  });
  expect(put.status).toBe(201);
  const hash = createHash('sha256').update(data).digest('hex');
  await rpc(server, 'FinalizeArtifact', { name, size: String(data.length), hash: `sha256:${hash}` });
  const { signed_url: url } = await rpc<{ signed_url: string }>(server, 'GetSignedArtifactURL', { name });
  const got = await rawRequest('GET', url);
  expect(got.body.equals(data)).toBe(true);
  return url;
}

/** Legacy protocol: create, one chunk, PATCH, then list the container and download the file. */
async function legacyRoundTrip(server: RunningServer, name: string, data: Buffer): Promise<void> {
  const headers = { 'Content-Type': 'application/json', ...AUTH };
  const created = await rawRequest('POST', artifactsUrl(server, RUN), {
    headers,
    body: JSON.stringify({ Type: 'actions_storage', Name: name }),
  });
  expect(created.status).toBe(201);
  const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
  const put = await rawRequest('PUT', chunkUrl(container, `${name}/file.bin`), {
    headers: {
      ...AUTH,
      'Content-Type': 'application/octet-stream',
      'Content-Range': contentRange(0, data.length, data.length),
      'x-actions-results-md5': md5Base64(data),
    },
    body: data,
  });
  expect(put.status).toBe(200);
  const patch = await rawRequest('PATCH', `${artifactsUrl(server, RUN)}&artifactName=${name}`, {
    headers,
    body: JSON.stringify({ Size: data.length }),
  });
  expect(patch.status).toBe(200);
  const listing = await rawRequest('GET', chunkUrl(container, name), { headers: AUTH });
  const entry = listing
    .json<{ value: { path: string; contentLocation?: string }[] }>()
    .value.find((e) => e.path === `${name}/file.bin`);
  const file = await rawRequest('GET', entry?.contentLocation ?? '', { headers: AUTH });
  expect(file.body.equals(data)).toBe(true);
}

/** The value of one sample, `undefined` when the exposition has no such line. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',');
    if (want.every((pair) => have.includes(pair))) return Number(match[3]);
  }
  return undefined;
}

describe('ferry serve /metrics', () => {
  it('counts requests by route name, bytes, finalized uploads and downloads of both protocols', async () => {
    const server = await start({ instanceId: 'test-instance', version: '9.9.9' });
    const data = randomBytes(70_000);
    await resultsRoundTrip(server, 'res-one', data);
    await legacyRoundTrip(server, 'leg-one', data);

    // A request is counted when its response closes, which can come just after the client read
    // the last byte: ask until both downloads are in (bounded), then check everything at once.
    let res = await rawRequest('GET', `${server.url}metrics`, { headers: AUTH });
    for (
      let i = 0;
      i < 50 && !/ferry_downloads_finalized_total\{protocol="legacy"\} 1\n/.test(res.body.toString());
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      res = await rawRequest('GET', `${server.url}metrics`, { headers: AUTH });
    }
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = res.body.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(sample(text, 'ferry_uploads_finalized_total', { protocol: 'results' })).toBe(1);
    expect(sample(text, 'ferry_uploads_finalized_total', { protocol: 'legacy' })).toBe(1);
    expect(sample(text, 'ferry_downloads_finalized_total', { protocol: 'results' })).toBe(1);
    expect(sample(text, 'ferry_downloads_finalized_total', { protocol: 'legacy' })).toBe(1);
    expect(
      sample(text, 'ferry_http_requests_total', {
        route: 'twirp_CreateArtifact',
        method: 'POST',
        status: '200',
      }),
    ).toBe(1);
    expect(sample(text, 'ferry_http_requests_total', { route: 'blob', method: 'PUT', status: '201' })).toBe(
      1,
    );
    expect(sample(text, 'ferry_http_request_duration_seconds_count', { route: 'blob' })).toBe(2);
    // The upload's bytes crossed the wire on the blob and container routes.
    expect(sample(text, 'ferry_http_received_bytes_total', { route: 'blob' })).toBeGreaterThan(data.length);
    expect(sample(text, 'ferry_http_sent_bytes_total', { route: 'legacy_container' })).toBeGreaterThan(
      data.length,
    );
    expect(sample(text, 'ferry_build_info', { version: '9.9.9', instance: 'test-instance' })).toBe(1);
    // The retention sweeper runs once at start: the metric is its own count.
    expect(sample(text, 'ferry_sweep_runs_total', { instance: 'test-instance' })).toBe(
      server.sweepStats().runs,
    );
    // Route names only: no run id, artifact name, blob id or token in any series.
    expect(text).not.toContain(RUN);
    expect(text).not.toContain('res-one');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toMatch(/[0-9a-f]{32}/);
  });

  it('reports each listing index refresh per instance, and times the loads as store calls', async () => {
    const lines: string[] = [];
    const server = await start({ instanceId: 'idx-1', log: (line) => lines.push(line) });
    await resultsRoundTrip(server, 'listed', randomBytes(100));
    const text = (await rawRequest('GET', `${server.url}metrics`, { headers: AUTH })).body.toString();
    expect(
      sample(text, 'ferry_store_call_duration_seconds_count', { operation: 'index_load', outcome: 'ok' }),
    ).toBe(2);
    for (const index of ['results', 'legacy']) {
      const at = sample(text, 'ferry_index_refresh_timestamp_seconds', { instance: 'idx-1', index });
      expect(at).toBeGreaterThan(Date.now() / 1000 - 60);
      const took = sample(text, 'ferry_index_refresh_duration_seconds', { instance: 'idx-1', index });
      expect(took).toBeGreaterThanOrEqual(0);
      // The cold start says so, once per index.
      expect(lines.filter((l) => l.startsWith(`listing index "${index}" started cold`))).toHaveLength(1);
    }
    // As of the last rebuild (the cold start, empty): the finalize updated the index, not this figure.
    expect(sample(text, 'ferry_index_artifacts', { instance: 'idx-1', index: 'results' })).toBe(0);
  });

  it('lists every finalized artifact at once on all three list routes, with no load from storage in the request path', async () => {
    const server = await start({ instanceId: 'idx-2' });
    const loads = async (): Promise<number | undefined> =>
      sample(
        (await rawRequest('GET', `${server.url}metrics`, { headers: AUTH })).body.toString(),
        'ferry_store_call_duration_seconds_count',
        {
          operation: 'index_load',
        },
      );
    expect(await loads()).toBe(2);
    for (let i = 0; i < 5; i++) {
      await resultsRoundTrip(server, `r-${i}`, randomBytes(10));
      await legacyRoundTrip(server, `l-${i}`, randomBytes(10));
      // Each list right after the finalize shows it.
      const twirp = await rpc<{ artifacts: { name: string }[] }>(server, 'ListArtifacts', {});
      expect(twirp.artifacts.map((a) => a.name)).toEqual(Array.from({ length: i + 1 }, (_, k) => `r-${k}`));
      const rest = await rawRequest('GET', `${server.url}repos/o/r/actions/runs/${RUN}/artifacts`, {
        headers: AUTH,
      });
      expect(rest.json<{ total_count: number }>().total_count).toBe(i + 1);
      const legacy = await rawRequest('GET', artifactsUrl(server, RUN), { headers: AUTH });
      expect(legacy.json<{ count: number }>().count).toBe(i + 1);
    }
    // Still the two cold builds: no list read storage.
    expect(await loads()).toBe(2);
  });

  it('reads the sweep counters from sweepStats() at every scrape', async () => {
    let runs = 0;
    const server = await start({
      instanceId: 'i1',
      sweepStats: () => ({
        runs,
        deletedArtifacts: runs * 3,
        deletedBytes: runs * 1000,
        lastRunSeconds: 1_700_000_000,
      }),
    });
    runs = 2;
    const text = (await rawRequest('GET', `${server.url}metrics`, { headers: AUTH })).body.toString();
    expect(sample(text, 'ferry_sweep_runs_total', { instance: 'i1' })).toBe(2);
    expect(sample(text, 'ferry_sweep_deleted_artifacts_total', { instance: 'i1' })).toBe(6);
    expect(sample(text, 'ferry_sweep_deleted_bytes_total', { instance: 'i1' })).toBe(2000);
    expect(sample(text, 'ferry_sweep_last_run_timestamp_seconds', { instance: 'i1' })).toBe(1_700_000_000);
  });

  it('needs the operator token when one is set, refuses a run-scoped credential, and is open with metricsPublic', async () => {
    const secret = Buffer.from('observe-test-secret-0123456789abcdef');
    const server = await start({ jwt: { secrets: [secret] } });
    const { token: jwt } = mintRunnerToken({ run: RUN, job: JOB, ttlMs: 60_000, secret });
    for (const path of ['metrics', 'status']) {
      const res = await rawRequest('GET', `${server.url}${path}`);
      expect(res.status).toBe(401);
      expect(res.body.toString()).not.toContain(TOKEN);
      // A runtime JWT reaches its run, not the server's figures.
      const scoped = await rawRequest('GET', `${server.url}${path}`, {
        headers: { Authorization: `Bearer ${jwt}` },
      });
      expect(scoped.status).toBe(403);
      expect(scoped.body.toString()).not.toContain(jwt);
      expect((await rawRequest('GET', `${server.url}${path}`, { headers: AUTH })).status).toBe(200);
    }
    await fixture?.dispose();
    const open = await start({ metricsPublic: true });
    expect((await rawRequest('GET', `${open.url}metrics`)).status).toBe(200);
    expect((await rawRequest('GET', `${open.url}status`)).status).toBe(200);
  });
});

describe('ferry serve /status', () => {
  it('answers 200 with the version, uptime and instance while the store answers, 503 once it does not', async () => {
    const server = await start({ instanceId: 'st-1', version: '1.2.3' });
    const ok = await rawRequest('GET', `${server.url}status`, { headers: AUTH });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({
      status: 'ok',
      store: 'reachable',
      version: '1.2.3',
      uptimeSeconds: expect.any(Number),
      instance: 'st-1',
    });
    // The data directory replaced by a file: nothing can be stored any more.
    await rm(fixture!.dataDir, { recursive: true, force: true });
    await writeFile(fixture!.dataDir, 'not a directory');
    const down = await rawRequest('GET', `${server.url}status`, { headers: AUTH });
    expect(down.status).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unavailable', store: 'unreachable', instance: 'st-1' });
    await rm(fixture!.dataDir, { force: true });
  });
});

describe('ferry serve access log', () => {
  it('json: one object per request with route, status, duration, bytes and request id; no token, no signature, no path', async () => {
    const lines: string[] = [];
    const server = await start({ accessLog: 'json', log: (line) => lines.push(line) });
    const signed = await resultsRoundTrip(server, 'logged-artifact', randomBytes(1000));
    await rawRequest('GET', `${server.url}status`, { headers: AUTH });
    // The answer's close event may trail the client's view of the answer by a tick.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.length).toBeGreaterThanOrEqual(6);
    const get = records.find((r) => r.route === 'blob' && r.method === 'GET');
    expect(get).toEqual({
      type: 'access',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      method: 'GET',
      route: 'blob',
      status: 200,
      cut: false,
      json: false,
      durationMs: expect.any(Number),
      bytesIn: expect.any(Number),
      bytesOut: expect.any(Number),
      remote: '127.0.0.1',
      requestId: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(get!.bytesOut).toBeGreaterThan(1000);
    const all = lines.join('\n');
    const signature = new URL(signed).searchParams.get('sig') ?? '';
    expect(signature.length).toBeGreaterThan(10);
    expect(all).not.toContain(signature);
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('logged-artifact');
    expect(all).not.toContain(RUN);
  });

  it('text (the default with a log sink) keeps the historical line: method, path without query, status, time', async () => {
    const lines: string[] = [];
    const server = await start({ log: (line) => lines.push(line) });
    const signed = await resultsRoundTrip(server, 'text-log', randomBytes(10));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const path = new URL(signed).pathname;
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^GET ${path} 200 \\d+\\.\\dms$`)));
    expect(lines.join('\n')).not.toContain('sig=');
  });

  it('off: no access lines', async () => {
    const lines: string[] = [];
    const server = await start({ accessLog: 'off', log: (line) => lines.push(line) });
    await rawRequest('GET', `${server.url}status`, { headers: AUTH });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines.filter((l) => l.includes('/status'))).toEqual([]);
  });
});

describe('ferry serve graceful shutdown', () => {
  it('close() lets an upload in flight finish, closes idle keep-alive sockets at once and refuses new connections', async () => {
    const server = await start();
    const created = await rawRequest('POST', artifactsUrl(server, RUN), {
      headers: { 'Content-Type': 'application/json', ...AUTH },
      body: JSON.stringify({ Type: 'actions_storage', Name: 'in-flight' }),
    });
    const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;

    // An idle kept-alive connection: close() must not wait for it.
    const agent = new http.Agent({ keepAlive: true });
    expect((await rawRequest('GET', `${server.url}status`, { headers: AUTH, agent })).status).toBe(200);

    const data = randomBytes(256 * 1024);
    const target = chunkUrl(container, 'in-flight/big.bin');
    let inFlight: http.ClientRequest | undefined;
    const answer = new Promise<number>((resolve, reject) => {
      const req = http.request(target, {
        method: 'PUT',
        agent: false,
        headers: {
          ...AUTH,
          'Content-Type': 'application/octet-stream',
          'Content-Length': data.length,
          'Content-Range': contentRange(0, data.length, data.length),
        },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      // Half the body now; the rest only after close() has begun.
      req.write(data.subarray(0, data.length / 2));
      inFlight = req;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const started = Date.now();
    const closed = server.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Listening has stopped: a new connection is refused.
    await expect(rawRequest('GET', `${server.url}status`, { headers: AUTH })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    inFlight!.end(data.subarray(data.length / 2));
    expect(await answer).toBe(200);
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.stats().openConnections).toBe(0);
    agent.destroy();

    // The chunk is stored: a server on the same data directory lists it.
    const again = await fixture!.restart();
    const listing = await rawRequest('GET', chunkUrl(container.replace(server.url, again.url), 'in-flight'), {
      headers: AUTH,
    });
    expect(listing.json<{ value: { path: string; fileLength?: number }[] }>().value).toContainEqual(
      expect.objectContaining({ path: 'in-flight/big.bin', fileLength: data.length }),
    );
  });

  it('cuts what is still in flight when the drain time is over', async () => {
    const server = await start();
    const created = await rawRequest('POST', artifactsUrl(server, RUN), {
      headers: { 'Content-Type': 'application/json', ...AUTH },
      body: JSON.stringify({ Type: 'actions_storage', Name: 'stalled' }),
    });
    const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
    const req = http.request(chunkUrl(container, 'stalled/f'), {
      method: 'PUT',
      agent: false,
      headers: { ...AUTH, 'Content-Length': 1000, 'Content-Range': contentRange(0, 1000, 1000) },
    });
    const outcome = new Promise<string>((resolve) => {
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      req.on('response', (res) => resolve(String(res.statusCode)));
    });
    req.write(Buffer.alloc(10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await server.close(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await outcome).toBe('ECONNRESET');
  });

  it('a second close(0) while draining cuts the drain short (the second SIGTERM)', async () => {
    const server = await start();
    const created = await rawRequest('POST', artifactsUrl(server, RUN), {
      headers: { 'Content-Type': 'application/json', ...AUTH },
      body: JSON.stringify({ Type: 'actions_storage', Name: 'stalled' }),
    });
    const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
    const req = http.request(chunkUrl(container, 'stalled/f'), {
      method: 'PUT',
      agent: false,
      headers: { ...AUTH, 'Content-Length': 1000, 'Content-Range': contentRange(0, 1000, 1000) },
    });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const graceful = server.close(60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.close(0);
    await graceful;
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
