/**
 * Issue 13, the rate-limit drain: permanent answers from a real loopback server that answers
 * as GitHub does, remembered across calls and processes; a batch stopped by a 401.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { HttpError, isFerryError } from '../../src/core/errors.js';
import { BatchStop } from '../../src/transport/batch-stop.js';
import type { Clock } from '../../src/transport/clock.js';
import { RememberedAnswers, STATE_FILE } from '../../src/transport/remembered-answers.js';
import { resolveStateDir } from '../../src/transport/state-dir.js';
import { builtLibrary } from '../helpers/built-lib.js';
import { startLoopback } from '../helpers/loopback.js';
import type { Loopback } from '../helpers/loopback.js';

const execFileP = promisify(execFile);
const TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a';

type Answer = { status: number; headers?: Record<string, string>; body: string };
let answer: (req: http.IncomingMessage) => Answer;
let server: Loopback;
let dir: string;
/** The library compiled from src/, for the second process; compiling can take a minute on a busy machine. */
let library: string;

beforeAll(async () => {
  library = await builtLibrary();
}, 300_000);

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-state-test-'));
  server = await startLoopback((req, res) => {
    const a = answer(req);
    res.writeHead(a.status, a.headers ?? {});
    res.end(a.body);
  });
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function logger() {
  const warnings: string[] = [];
  return { warnings, log: { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} } };
}

/** A REST call as the rest backend will make it: check, send, observe a 4xx. */
async function restCall(store: RememberedAnswers, token: string, pathName = 'repos/o/r/actions/artifacts') {
  const origin = server.url;
  await store.check(origin, token);
  const res = await fetch(new URL(pathName, origin), { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  if (res.ok) return body;
  const { error } = await store.observe(origin, token, {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body,
  });
  throw (
    error ??
    new HttpError(
      res.status === 401 ? 'ERR_FERRY_UNAUTHORIZED' : 'ERR_FERRY_HTTP',
      'refused',
      res.status,
      body,
    )
  );
}

const epochIn = (seconds: number) => String(Math.floor(Date.now() / 1000) + seconds);

test('a spent primary limit is remembered: the next call, here and in another process, sends nothing', async () => {
  const reset = epochIn(900);
  answer = () => ({
    status: 403,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': reset,
      'x-ratelimit-resource': 'core',
    },
    body: JSON.stringify({
      message: 'API rate limit exceeded for installation ID 41258743.',
      documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting',
      status: '403',
    }),
  });
  const store = await RememberedAnswers.open({ stateDir: dir });
  const first = await restCall(store, TOKEN).catch((e: unknown) => e);
  expect(first).toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED', remembered: false });
  expect(server.requests).toHaveLength(1);

  const resetIso = new Date(Number(reset) * 1000).toISOString();
  const second = await restCall(store, TOKEN).catch((e: unknown) => e);
  expect(second).toMatchObject({
    code: 'ERR_FERRY_RATE_LIMITED',
    remembered: true,
    origin: server.url.slice(0, -1),
  });
  expect((second as Error).message).toContain(resetIso);
  expect((second as Error).message).toContain(server.url.slice(0, -1));
  expect(JSON.stringify([second, (second as Error).message])).not.toContain(TOKEN);
  expect(server.requests).toHaveLength(1);
  expect(store.spared).toBe(1);

  // The state file names the origin and a hash, never the token.
  const state = await readFile(path.join(dir, STATE_FILE), 'utf8');
  expect(state).not.toContain(TOKEN);
  expect(state).toContain(resetIso);

  // Another process, same state directory: fails at once, zero requests.
  const lib = path.join(path.dirname(library), 'transport', 'remembered-answers.js');
  const child = `
    const [lib, dir, origin, token] = process.argv.slice(1);
    const { RememberedAnswers } = await import(lib);
    const store = await RememberedAnswers.open({ stateDir: dir });
    try { await store.check(origin, token); process.stdout.write('sent'); }
    catch (e) { process.stdout.write(JSON.stringify({ code: e.code, message: e.message, spared: store.spared })); }
  `;
  const out = await execFileP(process.execPath, [
    '--input-type=module',
    '-e',
    child,
    lib,
    dir,
    server.url,
    TOKEN,
  ]);
  const result = JSON.parse(out.stdout) as { code: string; message: string; spared: number };
  expect(result).toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED', spared: 1 });
  expect(result.message).toContain(resetIso);
  expect(result.message).not.toContain(TOKEN);
  expect(server.requests).toHaveLength(1);

  // Another token at the same origin has its own limit.
  answer = () => ({ status: 200, body: '{}' });
  await expect(restCall(store, 'ghs_another0token0000000000000000000000')).resolves.toBe('{}');
  expect(server.requests).toHaveLength(2);
});

test.each<[string, Answer, number]>([
  [
    'secondary limit, JSON with retry-after',
    {
      status: 403,
      headers: { 'content-type': 'application/json', 'retry-after': '120', 'x-ratelimit-remaining': '4873' },
      body: JSON.stringify({
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0C4A:3B64:1A2B3C:4D5E6F:674F1A2B.',
        documentation_url:
          'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
        status: '403',
      }),
    },
    120,
  ],
  [
    '429 in plain text',
    {
      status: 429,
      headers: { 'content-type': 'text/plain', 'retry-after': '30' },
      body: 'Too Many Requests\n',
    },
    30,
  ],
  [
    'secondary limit as an HTML page, no headers',
    {
      status: 403,
      headers: { 'content-type': 'text/html; charset=utf-8' },
      body: '<!DOCTYPE html><html><head><title>Rate limit &middot; GitHub</title></head><body><div class="c"><h1>Whoa there!</h1><p>You have exceeded a secondary rate limit.</p><p>Please wait a few minutes before you try again;<br>in some cases this may take up to an hour.</p></div></body></html>',
    },
    60,
  ],
  [
    'abuse detection wording',
    {
      status: 403,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        message:
          'You have triggered an abuse detection mechanism. Please wait a few minutes before you try again.',
        documentation_url: 'https://developer.github.com/v3/#abuse-rate-limits',
      }),
    },
    60,
  ],
])('%s is a rate limit, remembered until its reset', async (_name, reply, seconds) => {
  answer = () => reply;
  const { warnings, log } = logger();
  const store = await RememberedAnswers.open({ stateDir: dir, logger: log });
  const before = Date.now();
  const error = (await restCall(store, TOKEN).catch((e: unknown) => e)) as { resetAt: Date };
  expect(error).toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED' });
  const wait = error.resetAt.getTime() - before;
  expect(wait).toBeGreaterThanOrEqual(seconds * 1000 - 1000);
  expect(wait).toBeLessThanOrEqual(seconds * 1000 + 2000);
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ remembered: true });
  expect(server.requests).toHaveLength(1);
  expect(warnings).toEqual([]);
});

test('401 and a plain 403 are not remembered; an unfamiliar 403 shape is warned about once', async () => {
  const { warnings, log } = logger();
  const store = await RememberedAnswers.open({ stateDir: dir, logger: log });
  answer = () => ({
    status: 401,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }),
  });
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED' });
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED' });
  expect(server.requests).toHaveLength(2);

  answer = () => ({
    status: 403,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: 'forbidden', detail: `token ${TOKEN} lacks actions:read` }),
  });
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ status: 403 });
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ status: 403 });
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain('403 with JSON keys [detail, error]');
  expect(warnings[0]).toContain('permanent refusal, not a rate limit');
  expect(warnings[0]).not.toContain(TOKEN);
  expect(store.spared).toBe(0);
});

test('a caller that allows waiting waits for the reset instead of failing, and only that long', async () => {
  let now = Date.now();
  const slept: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
  answer = () => ({ status: 429, headers: { 'retry-after': '45' }, body: '' });
  const store = await RememberedAnswers.open({ stateDir: dir, clock });
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED' });
  await expect(store.check(server.url, TOKEN, { waitUpToSeconds: 10 })).rejects.toMatchObject({
    code: 'ERR_FERRY_RATE_LIMITED',
  });
  expect(slept).toEqual([]);
  await store.check(server.url, TOKEN, { waitUpToSeconds: 60 });
  expect(slept).toEqual([45_000]);
  // After the reset nothing is remembered: the call is sent.
  answer = () => ({ status: 200, body: 'ok' });
  await expect(restCall(store, TOKEN)).resolves.toBe('ok');
  expect(server.requests).toHaveLength(2);
});

test('a state directory writable by others is refused: answers stay in this process', async () => {
  const open = path.join(dir, 'open');
  await mkdir(open);
  await chmod(open, 0o777);
  const { warnings, log } = logger();
  const store = await RememberedAnswers.open({ stateDir: open, logger: log });
  expect(warnings[0]).toContain('writable by other users');
  answer = () => ({ status: 429, body: '' });
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED' });
  await expect(restCall(store, TOKEN)).rejects.toMatchObject({ remembered: true });
  const other = await RememberedAnswers.open({ stateDir: open });
  await expect(other.check(server.url, TOKEN)).resolves.toBeUndefined();
});

test('where the state lives: FERRY_STATE_DIR, else beside the cache, else per user under the temp dir', () => {
  expect(resolveStateDir({ env: { FERRY_STATE_DIR: '/x/state' }, cachePath: '/c' })).toBe('/x/state');
  expect(resolveStateDir({ env: {}, cachePath: '/c' })).toBe('/c/state');
  expect(resolveStateDir({ env: { FERRY_STATE_DIR: ' ' } })).toBe(
    path.join(os.tmpdir(), `ferry-state-${process.getuid!()}`),
  );
});

test('a permanent 401 among 100 artifacts stops every other worker before its next request', async () => {
  let served = 0;
  answer = () => {
    served++;
    // The fifth request finds the token revoked.
    return served < 5
      ? { status: 200, body: 'zip' }
      : {
          status: 401,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'Bad credentials' }),
        };
  };
  const store = await RememberedAnswers.open({});
  const batch = new BatchStop();
  const queue = Array.from({ length: 100 }, (_, i) => i);
  const outcomes: string[] = [];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        batch.check();
        await restCall(store, TOKEN, `artifacts/${item}/zip`);
        outcomes.push('ok');
      } catch (error: unknown) {
        batch.fail(error);
        outcomes.push(isFerryError(error) ? error.code : 'other');
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  expect(outcomes).toHaveLength(100);
  // At most the requests already in flight when the 401 came (one per other worker) were sent.
  expect(server.requests.length).toBeLessThanOrEqual(5 + 3);
  expect(outcomes.filter((o) => o === 'ERR_FERRY_BATCH_STOPPED').length).toBe(100 - server.requests.length);
  expect(batch.spared).toBe(100 - server.requests.length);
  expect(batch.error).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED' });
  expect(batch.signal.aborted).toBe(true);
  // A transient failure does not stop a batch.
  const other = new BatchStop();
  expect(other.fail(new HttpError('ERR_FERRY_HTTP', 'busy', 503, '', { retryable: true }))).toBe(false);
  expect(() => other.check()).not.toThrow();
});
