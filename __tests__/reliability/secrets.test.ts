/**
 * Reliability plan §F, cases P45–P50: secrets never leave the process.
 *
 * Every run here uses the sentinel secrets of invariants.ts: a runtime token whose signature is
 * SENTINEL.tokenSignature, GITHUB_TOKEN = SENTINEL.githubToken, signed blob URLs whose `sig` is
 * SENTINEL.sasSignature (a front rewrites ferry serve's URLs), and a proxy password
 * SENTINEL.proxyPassword. Hostile servers echo the credentials they received back in their error
 * bodies, so a leak would show.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import {
  downloadArtifact,
  listArtifacts,
  uploadArtifact,
  type UploadArtifactOptions,
} from '../../src/client.js';
import { fromEnvironment } from '../../src/environment.js';
import { FerryError, HttpError, NetworkError, isFerryError } from '../../src/core/errors.js';
import { normalizeOptions, type ArtifactClientOptions } from '../../src/options.js';
import { globFiles } from '../../src/pack/glob.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { Logger } from '../../src/core/types.js';
import { waitFor } from '../helpers/loopback.js';
import { inputEnvName, parseOutputs } from '../action/run-entry.js';
import { SENTINEL, expectNoSecrets, snapshotTree } from './invariants.js';
import {
  RUNTIME_TOKEN,
  RUN_ID,
  bundleEntries,
  runNode,
  startFront,
  startRefusingProxy,
  type Fault,
  type Front,
  type FrontOptions,
  type Seen,
} from './secrets-harness.js';

type Protocol = 'legacy' | 'results';

const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
/** Small, fast retries: a failing run is over in well under a second. */
const FAST_RETRY = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, jitter: 0 };

let work: string;
let server: RunningServer;
let bundles: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-secrets-'));
  server = await startServer({ dataDir: path.join(work, 'data'), token: RUNTIME_TOKEN });
  // One artifact per protocol to download in the failing download runs.
  const seedDir = path.join(work, 'seed');
  await mkdir(seedDir, { recursive: true });
  await writeFile(path.join(seedDir, 'a.txt'), 'alpha\n');
  await writeFile(path.join(seedDir, 'b.bin'), randomBytes(100_000));
  for (const backend of ['legacy', 'results'] as const) {
    await uploadArtifact('seed', [path.join(seedDir, 'a.txt'), path.join(seedDir, 'b.bin')], seedDir, {
      backend,
      runtimeUrl: server.url,
      resultsUrl: server.url,
      runtimeToken: RUNTIME_TOKEN,
      runId: RUN_ID,
    });
  }
  bundles = path.join(work, 'bundles');
  await bundleEntries(REPO_ROOT, bundles);
});

afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

/** The runner environment of a job whose services are reached through `api`. */
function runnerEnv(
  protocol: Protocol,
  api: Front,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ACTIONS_RUNTIME_URL: api.url,
    ...(protocol === 'results' ? { ACTIONS_RESULTS_URL: api.url } : {}),
    ACTIONS_RUNTIME_TOKEN: RUNTIME_TOKEN,
    GITHUB_RUN_ID: RUN_ID,
    GITHUB_TOKEN: SENTINEL.githubToken,
    ...extra,
  };
}

interface Fronts {
  api: Front;
  blob: Front;
  close(): Promise<void>;
}

/**
 * An API front (Twirp / legacy / REST) and a blob front on another port. For the results
 * protocol the API front makes ferry serve sign URLs for the blob front and puts the sentinel in
 * their `sig`; the blob front restores the real signature before forwarding.
 */
async function startFronts(
  protocol: Protocol,
  options: { api?: FrontOptions; blob?: FrontOptions } = {},
): Promise<Fronts> {
  const blob = await startFront(server.url, { restoreSig: true, ...options.blob });
  const api = await startFront(server.url, {
    injectSentinelSig: true,
    ...(protocol === 'results' ? { advertise: () => blob.host } : {}),
    ...options.api,
  });
  return {
    api,
    blob,
    close: async () => {
      await api.close();
      await blob.close();
    },
  };
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      debug: (m) => lines.push(`debug: ${m}`),
      info: (m) => lines.push(`info: ${m}`),
      warn: (m) => lines.push(`warn: ${m}`),
      error: (m) => lines.push(`error: ${m}`),
    },
  };
}

async function makeUploadDir(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = path.join(work, name);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  return dir;
}

const finalizeCount = (protocol: Protocol, api: Front): number =>
  api.seen.filter((s) => (protocol === 'results' ? /FinalizeArtifact/.test(s.url) : s.method === 'PATCH'))
    .length;

const isBlobPut = (s: Seen): boolean => s.method === 'PUT' && s.url.includes('/devstoreaccount1/');
const isBlobGet = (s: Seen): boolean => s.method === 'GET' && s.url.includes('/devstoreaccount1/');
const isLegacyChunk = (s: Seen): boolean => s.method === 'PUT' && s.url.includes('itemPath=');
const isLegacyFileGet = (s: Seen): boolean =>
  s.method === 'GET' && /itemPath=seed%2F(a\.txt|b\.bin)/.test(s.url);

/** A hostile answer that echoes every credential the server could have seen. */
function echo(status: number, contentType = 'application/json'): Fault {
  const body =
    contentType === 'application/json'
      ? JSON.stringify({
          code: 'permission_denied',
          msg: `Bearer ${RUNTIME_TOKEN} cannot do that; token ${SENTINEL.githubToken}; url ?sig=${SENTINEL.sasSignature}`,
          message: `Bad credentials: ${SENTINEL.githubToken} / ${RUNTIME_TOKEN}`,
        })
      : `<?xml version="1.0"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.</Message><AuthenticationErrorDetail>Signature did not match. URL: /devstoreaccount1/artifacts/x?sig=${SENTINEL.sasSignature}&amp;se=2030 Authorization: Bearer ${RUNTIME_TOKEN}</AuthenticationErrorDetail></Error>`;
  return { kind: 'respond', status, headers: { 'content-type': contentType }, body };
}

interface Scenario {
  protocol: Protocol;
  op: 'upload' | 'download';
  api?: (s: Seen) => Fault | undefined;
  blob?: (s: Seen) => Fault | undefined;
  rewriteJson?: FrontOptions['rewriteJson'];
  /** Route through a proxy that answers 407 (its URL carries the sentinel password). */
  proxy?: boolean;
  timeoutMs?: number;
  code: string;
  /** The failure was retried (so debug lines about retries must exist, and be clean). */
  retried?: boolean;
  /** An http-client `Request timeout: <path with sig>` is the cause (P46). */
  timeoutCause?: boolean;
}

const PASS = undefined;
const scenarios: Array<[string, Scenario]> = [
  [
    'results upload: CreateArtifact answers 403 echoing the token',
    {
      protocol: 'results',
      op: 'upload',
      api: (s) => (s.url.includes('CreateArtifact') ? echo(403) : PASS),
      code: 'ERR_FERRY_UNAUTHORIZED',
    },
  ],
  [
    'results upload: every blob block is reset (retries exhausted)',
    {
      protocol: 'results',
      op: 'upload',
      blob: (s) => (isBlobPut(s) ? { kind: 'reset' } : PASS),
      code: 'ERR_FERRY_NETWORK',
      retried: true,
    },
  ],
  [
    'results upload: the blob host never answers (timeout)',
    {
      protocol: 'results',
      op: 'upload',
      blob: (s) => (isBlobPut(s) ? { kind: 'hang' } : PASS),
      timeoutMs: 250,
      code: 'ERR_FERRY_TIMEOUT',
      retried: true,
      timeoutCause: true,
    },
  ],
  [
    'results upload: the blob host answers 403 AuthenticationFailed echoing the signed URL',
    {
      protocol: 'results',
      op: 'upload',
      blob: (s) => (isBlobPut(s) ? echo(403, 'application/xml') : PASS),
      code: 'ERR_FERRY_UNAUTHORIZED',
    },
  ],
  [
    'results upload: a proxy answers 407',
    { protocol: 'results', op: 'upload', proxy: true, code: 'ERR_FERRY_PROXY' },
  ],
  [
    'results download: the listed digest does not match the bytes',
    {
      protocol: 'results',
      op: 'download',
      rewriteJson: (text) => text.replace(/sha256:[0-9a-f]{64}/g, `sha256:${'0'.repeat(64)}`),
      code: 'ERR_FERRY_INTEGRITY',
    },
  ],
  [
    'results download: the blob host never answers (timeout)',
    {
      protocol: 'results',
      op: 'download',
      blob: (s) => (isBlobGet(s) ? { kind: 'hang' } : PASS),
      timeoutMs: 250,
      code: 'ERR_FERRY_TIMEOUT',
      retried: true,
      timeoutCause: true,
    },
  ],
  [
    'results download: the blob host answers 403 echoing the signed URL',
    {
      protocol: 'results',
      op: 'download',
      blob: (s) => (isBlobGet(s) ? echo(403, 'application/xml') : PASS),
      code: 'ERR_FERRY_UNAUTHORIZED',
    },
  ],
  [
    'legacy upload: creating the container answers 401 echoing the token',
    {
      protocol: 'legacy',
      op: 'upload',
      api: (s) => (s.method === 'POST' ? echo(401) : PASS),
      code: 'ERR_FERRY_UNAUTHORIZED',
    },
  ],
  [
    'legacy upload: every chunk PUT is reset (retries exhausted)',
    {
      protocol: 'legacy',
      op: 'upload',
      api: (s) => (isLegacyChunk(s) ? { kind: 'reset' } : PASS),
      code: 'ERR_FERRY_NETWORK',
      retried: true,
    },
  ],
  [
    'legacy upload: chunk PUTs never answer (timeout)',
    {
      protocol: 'legacy',
      op: 'upload',
      api: (s) => (isLegacyChunk(s) ? { kind: 'hang' } : PASS),
      timeoutMs: 250,
      code: 'ERR_FERRY_TIMEOUT',
      retried: true,
    },
  ],
  [
    'legacy upload: a proxy answers 407',
    { protocol: 'legacy', op: 'upload', proxy: true, code: 'ERR_FERRY_PROXY' },
  ],
  [
    'legacy download: file GETs never answer (timeout)',
    {
      protocol: 'legacy',
      op: 'download',
      api: (s) => (isLegacyFileGet(s) ? { kind: 'hang' } : PASS),
      timeoutMs: 250,
      code: 'ERR_FERRY_TIMEOUT',
      retried: true,
    },
  ],
  [
    'legacy download: listing answers 403 echoing the token',
    {
      protocol: 'legacy',
      op: 'download',
      api: (s) => (s.method === 'GET' && s.url.includes('/artifacts') ? echo(403) : PASS),
      code: 'ERR_FERRY_UNAUTHORIZED',
    },
  ],
];

describe('failing runs print no secret (in-process SDK, debug logs captured)', () => {
  test.each(scenarios)('[P45,P50] %s', async (_title, scenario) => {
    const { protocol, op } = scenario;
    const fronts = await startFronts(protocol, {
      api: {
        ...(scenario.api ? { fault: (s: Seen) => scenario.api?.(s) ?? { kind: 'pass' } } : {}),
        ...(scenario.rewriteJson ? { rewriteJson: scenario.rewriteJson } : {}),
      },
      blob: scenario.blob ? { fault: (s: Seen) => scenario.blob?.(s) ?? { kind: 'pass' } } : {},
    });
    const proxy = scenario.proxy ? await startRefusingProxy() : undefined;
    const { logger, lines } = recordingLogger();
    const env = runnerEnv(protocol, fronts.api, proxy ? { HTTP_PROXY: proxy.urlWithCredentials } : {});
    const options: ArtifactClientOptions = {
      ...fromEnvironment(env),
      logger,
      retry: FAST_RETRY,
      ...(scenario.timeoutMs ? { timeoutMs: scenario.timeoutMs } : {}),
    };
    const name = `p45-${protocol}-${op}-${Math.random().toString(36).slice(2, 8)}`;
    const target = path.join(work, `${name}-target`);
    const outside = path.join(work, `${name}-outside`);
    await mkdir(target, { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(target, 'keep.txt'), 'existing');
    await writeFile(path.join(outside, 'sentinel.txt'), 'outside');
    const before = [await snapshotTree(target), await snapshotTree(outside)];
    let error: unknown;
    try {
      if (op === 'upload') {
        const dir = await makeUploadDir(name, { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n'.repeat(1000) });
        await uploadArtifact(name, [path.join(dir, 'a.txt'), path.join(dir, 'sub/b.txt')], dir, options);
      } else {
        await downloadArtifact('seed', { ...options, path: target });
      }
    } catch (caught: unknown) {
      error = caught;
    } finally {
      await proxy?.close();
    }
    try {
      // I4: typed, coded, and it says what failed.
      expect(isFerryError(error)).toBe(true);
      const ferry = error as FerryError;
      expect(ferry.code).toBe(scenario.code);
      expect(ferry.message).toContain(`operation ${op}`);
      expect(ferry.message).toContain(`artifact '${op === 'upload' ? name : 'seed'}'`);
      // I6 / P50: nothing secret in the error (JSON, inspect depth 10, stack, causes) nor in any log line.
      expectNoSecrets(error, lines.join('\n'));
      if (scenario.retried) expect(lines.some((l) => /^debug: .*retry/.test(l))).toBe(true);
      if (scenario.timeoutCause) {
        // P46: the http-client cause names the signed path; its signature is gone, the rest stays.
        const cause = ferry.cause as Error;
        expect(cause.message).toMatch(/Request timeout: \/devstoreaccount1\/.*sig=\*\*\*/);
        expect(ferry.context.url).toMatch(/sig=\*\*\*/);
      }
      if (proxy) {
        expect(proxy.seen.length).toBeGreaterThan(0);
        // The proxy got its own credentials only; the 407 was not retried into a storm.
        expect(proxy.seen.length).toBeLessThanOrEqual(FAST_RETRY.maxAttempts);
      }
      // I3: nothing finalized.
      expect(finalizeCount(protocol, fronts.api)).toBe(0);
      // I2 / I1: the target and its neighbour are as they were.
      expect([await snapshotTree(target), await snapshotTree(outside)]).toEqual(before);
      // Sockets released.
      await waitFor(() => fronts.api.open === 0 && fronts.blob.open === 0);
    } finally {
      await fronts.close();
    }
  });

  test('[P45,P47] a REST download (GITHUB_TOKEN) answered 401 with the token echoed leaks nothing', async () => {
    const rest = await startFront(server.url, {
      fault: (s) => (s.url.startsWith('/repos/') ? echo(401) : { kind: 'pass' }),
    });
    const { logger, lines } = recordingLogger();
    const target = path.join(work, 'rest-401');
    let error: unknown;
    try {
      await downloadArtifact('seed', {
        logger,
        retry: FAST_RETRY,
        path: target,
        findBy: { token: SENTINEL.githubToken, repository: 'octo/ferry', runId: RUN_ID, apiUrl: rest.url },
      });
    } catch (caught: unknown) {
      error = caught;
    }
    try {
      expect(isFerryError(error)).toBe(true);
      expect((error as FerryError).code).toBe('ERR_FERRY_UNAUTHORIZED');
      expect((error as FerryError).retryable).toBe(false);
      // A 401 is permanent: exactly one request.
      expect(rest.seen).toHaveLength(1);
      expect(rest.seen[0]?.headers.authorization).toBe(`Bearer ${SENTINEL.githubToken}`);
      expectNoSecrets(error, lines.join('\n'));
      await waitFor(() => rest.open === 0);
    } finally {
      await rest.close();
    }
  });
});

describe('P46: errors that carry URLs and credentials in their properties', () => {
  const signedUrl = `https://acct.blob.core.windows.net/artifacts/x.zip?sv=2021-08-06&se=2030-01-01&sp=r&sig=${SENTINEL.sasSignature}`;

  test('[P46] an http-client style "Request timeout: /path?sig=..." is redacted in the message, the context and the cause', () => {
    const cause = Object.assign(
      new Error(`Request timeout: /artifacts/x.zip?sv=2021&sig=${SENTINEL.sasSignature}`),
      { code: 'ESOCKETTIMEDOUT' },
    );
    const error = new NetworkError(`No data on GET ${signedUrl}: socket idle`, 'ETIMEDOUT', {
      cause,
      context: { operation: 'download', artifactName: 'a', method: 'GET', url: signedUrl },
    });
    expect(error.code).toBe('ERR_FERRY_TIMEOUT');
    expect(error.message).toContain('sig=***');
    expect(error.context.url).toContain('sig=***');
    expect(error.context.url).toContain('sv=2021-08-06');
    expect((error.cause as Error).message).toMatch(
      /^Request timeout: \/artifacts\/x\.zip\?sv=2021&sig=\*\*\*/,
    );
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ESOCKETTIMEDOUT');
    expectNoSecrets(error);
  });

  test('[P46] an Azure RestError with request.url, headers and a nested cause keeps none of them', () => {
    const inner = new Error(`connect failed for ${signedUrl} with Authorization: Bearer ${RUNTIME_TOKEN}`);
    const restError = Object.assign(new Error(`Server failed to authenticate the request. ${signedUrl}`), {
      name: 'RestError',
      statusCode: 403,
      request: {
        url: signedUrl,
        headers: { authorization: `Bearer ${RUNTIME_TOKEN}`, 'x-gh': SENTINEL.githubToken },
      },
      response: { bodyAsText: `<Error>sig=${SENTINEL.sasSignature}</Error>` },
      cause: inner,
    });
    const error = new HttpError(
      'ERR_FERRY_UNAUTHORIZED',
      `PUT ${signedUrl} failed`,
      403,
      `${restError.message}`,
      {
        cause: restError,
        context: { operation: 'upload', artifactName: 'a', url: signedUrl },
      },
    );
    expect(error.message).toContain('PUT https://acct.blob.core.windows.net/artifacts/x.zip?');
    expect(error.bodySnippet).toContain('Server failed to authenticate');
    expect((error.cause as Error).name).toBe('RestError');
    expectNoSecrets(error, JSON.stringify(error), inspect(error, { depth: 10, showHidden: true }));
  });

  test('[P46] a registered token in free text (message, body snippet, cause) is replaced, not just JWT-shaped ones', () => {
    // fromEnvironment registers GITHUB_TOKEN, which has no recognisable shape in prose.
    fromEnvironment({ GITHUB_TOKEN: SENTINEL.githubToken });
    const error = new FerryError('ERR_FERRY_HTTP', `failed with ${SENTINEL.githubToken}`, {
      cause: new Error(`echo ${SENTINEL.githubToken}`),
    });
    expect(error.message).toBe('failed with ***');
    expectNoSecrets(error);
  });
});

describe('P47: where each credential is sent', () => {
  test('[P47] results: the runtime token goes to the results host only, never to the blob host; GITHUB_TOKEN to neither', async () => {
    const fronts = await startFronts('results');
    try {
      const options = { ...fromEnvironment(runnerEnv('results', fronts.api)), retry: FAST_RETRY };
      const dir = await makeUploadDir('p47-results', { 'a.txt': 'alpha\n', 'big.bin': randomBytes(300_000) });
      await uploadArtifact('p47', [path.join(dir, 'a.txt'), path.join(dir, 'big.bin')], dir, options);
      const target = path.join(work, 'p47-results-out');
      await downloadArtifact('p47', { ...options, path: target });
      expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('alpha\n');

      expect(fronts.api.seen.length).toBeGreaterThan(0);
      for (const s of fronts.api.seen) expect(s.headers.authorization).toBe(`Bearer ${RUNTIME_TOKEN}`);
      // The blob host is another origin: it got the signed URLs (with the sentinel sig), no token.
      expect(fronts.blob.seen.filter(isBlobPut).length).toBeGreaterThan(0);
      expect(fronts.blob.seen.filter(isBlobGet).length).toBeGreaterThan(0);
      for (const s of fronts.blob.seen) {
        expect(s.url).toContain(`sig=${SENTINEL.sasSignature}`);
        expect(s.headers.authorization).toBeUndefined();
        expect(JSON.stringify(s.headers)).not.toContain(SENTINEL.tokenSignature);
      }
      for (const s of [...fronts.api.seen, ...fronts.blob.seen]) {
        expect(JSON.stringify(s)).not.toContain(SENTINEL.githubToken);
      }
    } finally {
      await fronts.close();
    }
  });

  test('[P47] a cross-host redirect of an authenticated call reaches the other host without the token', async () => {
    const fronts = await startFronts('legacy');
    // The other host answers as the service would (it adds the credential itself) and hands out
    // URLs that point back at the runtime host (`api`, assigned below before any request is
    // made): container URLs on any other origin are refused since issue 10.
    const other = await startFront(server.url, {
      advertise: () => api.host,
      upstreamHeaders: { authorization: `Bearer ${RUNTIME_TOKEN}` },
    });
    let redirected = false;
    const api = await startFront(server.url, {
      fault: (s) => {
        if (!redirected && s.method === 'GET' && s.url.includes('/artifacts')) {
          redirected = true;
          return { kind: 'respond', status: 307, headers: { location: `${other.url.slice(0, -1)}${s.url}` } };
        }
        return { kind: 'pass' };
      },
    });
    try {
      const options = { ...fromEnvironment(runnerEnv('legacy', api)), retry: FAST_RETRY };
      const target = path.join(work, 'p47-redirect-out');
      await downloadArtifact('seed', { ...options, path: target });
      expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('alpha\n');
      expect(redirected).toBe(true);
      expect(other.seen).toHaveLength(1);
      expect(other.seen[0]?.headers.authorization).toBeUndefined();
      expect(JSON.stringify(other.seen)).not.toContain(SENTINEL.tokenSignature);
      // The runtime host itself did get it.
      expect(api.seen[0]?.headers.authorization).toBe(`Bearer ${RUNTIME_TOKEN}`);
    } finally {
      await api.close();
      await other.close();
      await fronts.close();
    }
  });

  test('[P47] GITHUB_TOKEN goes to the REST API host only, never to the blob host it redirects to', async () => {
    const blob = await startFront(server.url, { restoreSig: true });
    // The REST front stands in for api.github.com: it checks the GitHub token, then asks ferry
    // serve with its own credential; signed URLs point at the blob front.
    const rest = await startFront(server.url, {
      advertise: () => blob.host,
      injectSentinelSig: true,
      upstreamHeaders: { authorization: `Bearer ${RUNTIME_TOKEN}` },
    });
    try {
      const target = path.join(work, 'p47-rest-out');
      await downloadArtifact('seed', {
        retry: FAST_RETRY,
        path: target,
        findBy: { token: SENTINEL.githubToken, repository: 'octo/ferry', runId: RUN_ID, apiUrl: rest.url },
      });
      expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('alpha\n');
      expect(rest.seen.length).toBeGreaterThanOrEqual(2);
      for (const s of rest.seen) expect(s.headers.authorization).toBe(`Bearer ${SENTINEL.githubToken}`);
      expect(blob.seen.filter(isBlobGet).length).toBeGreaterThan(0);
      for (const s of blob.seen) {
        expect(s.headers.authorization).toBeUndefined();
        expect(JSON.stringify(s.headers)).not.toContain(SENTINEL.githubToken);
      }
    } finally {
      await rest.close();
      await blob.close();
    }
  });

  test('[P47] a CONNECT to the proxy carries the proxy credentials only, never the runtime token', async () => {
    const proxy = await startRefusingProxy();
    try {
      const env = {
        // An https runtime host: reached through a CONNECT tunnel.
        ACTIONS_RUNTIME_URL: 'https://127.0.0.1:9/',
        ACTIONS_RUNTIME_TOKEN: RUNTIME_TOKEN,
        GITHUB_RUN_ID: RUN_ID,
        GITHUB_TOKEN: SENTINEL.githubToken,
        HTTPS_PROXY: proxy.urlWithCredentials,
      };
      const dir = await makeUploadDir('p47-connect', { 'a.txt': 'alpha\n' });
      let error: unknown;
      try {
        await uploadArtifact('p47-connect', [path.join(dir, 'a.txt')], dir, {
          ...fromEnvironment(env),
          retry: FAST_RETRY,
        });
      } catch (caught: unknown) {
        error = caught;
      }
      expect((error as FerryError).code).toBe('ERR_FERRY_PROXY');
      expectNoSecrets(error);
      const connects = proxy.seen.filter((s) => s.kind === 'connect');
      expect(connects.length).toBeGreaterThan(0);
      for (const c of connects) {
        expect(c.url).toBe('127.0.0.1:9');
        expect(c.headers.authorization).toBeUndefined();
        const text = JSON.stringify(c.headers);
        expect(text).not.toContain(SENTINEL.tokenSignature);
        expect(text).not.toContain(SENTINEL.githubToken);
        expect(c.headers['proxy-authorization']).toBe(
          `Basic ${Buffer.from(`ferry:${SENTINEL.proxyPassword}`).toString('base64')}`,
        );
      }
      expect(proxy.seen.filter((s) => s.kind === 'request')).toHaveLength(0);
    } finally {
      await proxy.close();
    }
  });
});

/** Text that contains `secret` starting `at` bytes in (a token split over two reads when `at` is just below a read boundary). */
function fileWithSecretAt(size: number, at: number, secret: string, random: boolean): Buffer {
  const data = random ? randomBytes(size) : Buffer.alloc(size, 'build log line: everything is fine\n');
  data.write(secret, at, 'utf8');
  return data;
}

describe('P48: the secret scan of uploaded files', () => {
  const envLog = (token: string): string =>
    `PATH=/usr/bin\nHOME=/home/runner\nACTIONS_RUNTIME_TOKEN=${token}\nCI=true\n`;

  async function attempt(
    protocol: Protocol,
    name: string,
    files: Record<string, string | Buffer>,
    extra: UploadArtifactOptions = {},
  ): Promise<{ error: unknown; fronts: Fronts; lines: string[] }> {
    const fronts = await startFronts(protocol);
    const { logger, lines } = recordingLogger();
    const dir = await makeUploadDir(name, files);
    let error: unknown;
    try {
      await uploadArtifact(
        name,
        Object.keys(files).map((f) => path.join(dir, f)),
        dir,
        {
          ...fromEnvironment(runnerEnv(protocol, fronts.api)),
          logger,
          retry: FAST_RETRY,
          ...extra,
        },
      );
    } catch (caught: unknown) {
      error = caught;
    }
    return { error, fronts, lines };
  }

  function expectRefused(
    protocol: Protocol,
    run: { error: unknown; fronts: Fronts; lines: string[] },
    name: string,
    file: string,
    label: RegExp,
  ): void {
    const error = run.error as FerryError;
    expect(isFerryError(error)).toBe(true);
    expect(error.code).toBe('ERR_FERRY_SECRET_IN_ARTIFACT');
    expect(error.retryable).toBe(false);
    expect(error.context).toMatchObject({ operation: 'upload', artifactName: name, file });
    expect(error.message).toContain(`File '${file}'`);
    expect(error.message).toMatch(label);
    expectNoSecrets(error, run.lines.join('\n'));
    expect(finalizeCount(protocol, run.fronts.api)).toBe(0);
  }

  test.each<Protocol>(['results', 'legacy'])(
    '[P48] %s: a log holding the runtime token fails the upload naming the file, nothing finalized',
    async (protocol) => {
      const name = `p48-token-${protocol}`;
      const run = await attempt(protocol, name, {
        'a.txt': 'alpha\n',
        'logs/env.txt': envLog(RUNTIME_TOKEN),
        'z.txt': 'zulu\n',
      });
      try {
        expectRefused(protocol, run, name, 'logs/env.txt', /the runtime token \(ACTIONS_RUNTIME_TOKEN\)/);
        if (protocol === 'legacy') {
          // The file's bytes never left: no chunk of it was PUT.
          expect(
            run.fronts.api.seen.filter((s) => isLegacyChunk(s) && s.url.includes('env.txt')),
          ).toHaveLength(0);
        }
        await waitFor(() => run.fronts.api.open === 0 && run.fronts.blob.open === 0);
        if (protocol === 'results') {
          // Only finalized artifacts are listed (a legacy container exists from its POST on, unsized).
          const listed = await listArtifacts({
            backend: protocol,
            resultsUrl: server.url,
            runtimeToken: RUNTIME_TOKEN,
            runId: RUN_ID,
          });
          expect(listed.map((a) => a.name)).not.toContain(name);
        }
      } finally {
        await run.fronts.close();
      }
    },
  );

  test.each<Protocol>(['results', 'legacy'])(
    '[P48] %s: GITHUB_TOKEN in a file is refused too (any token Ferry was given)',
    async (protocol) => {
      const name = `p48-gh-${protocol}`;
      const run = await attempt(protocol, name, { 'notes.md': `token: ${SENTINEL.githubToken}\n` });
      try {
        expectRefused(protocol, run, name, 'notes.md', /GITHUB_TOKEN/);
      } finally {
        await run.fronts.close();
      }
    },
  );

  const MiB = 1024 * 1024;
  const boundaryCases: Array<[string, Protocol, number, number, boolean, UploadArtifactOptions]> = [
    ['results, deflated in 1 MiB pieces', 'results', 2 * MiB + 17, MiB - 20, false, {}],
    ['results, stored (incompressible) in 1 MiB reads', 'results', 2 * MiB + 17, MiB - 20, true, {}],
    [
      'results, archive: false in 1 MiB stream chunks',
      'results',
      2 * MiB + 17,
      MiB - 20,
      true,
      { archive: false },
    ],
    ['legacy, gzip in 1 MiB pieces', 'legacy', 2 * MiB + 17, MiB - 20, false, {}],
    [
      'legacy, raw in 128 KiB chunks',
      'legacy',
      700_000,
      4 * 128 * 1024 - 20,
      true,
      { chunkSize: 128 * 1024 },
    ],
  ];
  test.each(boundaryCases)(
    '[P48] a token split across two reads is found (%s)',
    async (_title, protocol, size, at, random, extra) => {
      const name = `p48-split-${protocol}-${Math.random().toString(36).slice(2, 8)}`;
      const run = await attempt(
        protocol,
        name,
        { 'build.log': fileWithSecretAt(size, at, RUNTIME_TOKEN, random) },
        extra,
      );
      try {
        // The error names the artifact as the caller asked for it (archive: false stores it as 'build.log').
        expectRefused(protocol, run, name, 'build.log', /runtime token/);
      } finally {
        await run.fronts.close();
      }
    },
  );

  test.each<Protocol>(['results', 'legacy'])(
    '[P48] %s: allowSecretsInFiles uploads the file as it is',
    async (protocol) => {
      const name = `p48-allowed-${protocol}`;
      const run = await attempt(
        protocol,
        name,
        { 'logs/env.txt': envLog(RUNTIME_TOKEN) },
        { allowSecretsInFiles: true },
      );
      try {
        expect(run.error).toBeUndefined();
        expect(finalizeCount(protocol, run.fronts.api)).toBe(1);
        expect(run.lines.some((l) => l.includes('Secret scan') && l.includes('off'))).toBe(true);
        expectNoSecrets(run.lines.join('\n'));
      } finally {
        await run.fronts.close();
      }
    },
  );

  test('[P48] results: the refused upload deletes its unfinalized artifact, so a re-run under the same name succeeds at once', async () => {
    const name = 'p48-rerun-results';
    const files = { 'logs/env.txt': envLog(RUNTIME_TOKEN) };
    const refused = await attempt('results', name, files);
    try {
      expectRefused('results', refused, name, 'logs/env.txt', /runtime token/);
      expect(refused.fronts.api.seen.filter((s) => s.url.endsWith('/DeleteArtifact'))).toHaveLength(1);
    } finally {
      await refused.fronts.close();
    }
    const rerun = await attempt('results', name, files, { allowSecretsInFiles: true });
    try {
      expect(rerun.error).toBeUndefined();
      expect(finalizeCount('results', rerun.fronts.api)).toBe(1);
    } finally {
      await rerun.fronts.close();
    }
  });

  test('[P48] a wrong allowSecretsInFiles is rejected naming the option; short values are never searched', async () => {
    const one = await makeUploadDir('p48-bad-option', { a: 'a' });
    await expect(
      uploadArtifact('x', [path.join(one, 'a')], one, { allowSecretsInFiles: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_INVALID_OPTION', context: { option: 'allowSecretsInFiles' } });
    // A 9-character token is too short to search for: the file uploads (to the local store).
    const dir = await makeUploadDir('p48-short', { 'a.txt': 'token=short-tok\n' });
    const result = await uploadArtifact('p48-short', [path.join(dir, 'a.txt')], dir, {
      localStore: path.join(work, 'store-short'),
      runtimeToken: 'short-tok',
    });
    expect(result.fileCount).toBe(1);
  });
});

describe('P49: hidden and credential files', () => {
  async function credentialWorkspace(name: string): Promise<string> {
    return makeUploadDir(name, {
      'out/app.js': 'console.log(1)\n',
      'out/.git/config': '[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3M=\n',
      'out/.npmrc': '//registry.npmjs.org/:_authToken=npm_NOTREGISTEREDbutSECRET\n',
      'out/.env': 'DATABASE_PASSWORD=hunter2\n',
      'out/.netrc': 'machine example.com login me password hunter2\n',
    });
  }
  const CREDENTIAL_PATHS = ['.env', '.git/config', '.netrc', '.npmrc'];

  test('[P49] the search (globFiles, for the CLI and the Action) leaves .git/config, .npmrc, .env, .netrc out by default', async () => {
    const ws = await credentialWorkspace('p49-default');
    const globbed = await globFiles('out', { cwd: ws });
    expect(globbed.files.map((f) => path.relative(path.join(ws, 'out'), f))).toEqual(['app.js']);
    // Opted in, they are found.
    const all = await globFiles('out', { cwd: ws, includeHidden: true });
    expect(all.files.map((f) => path.relative(path.join(ws, 'out'), f)).sort()).toEqual(
      ['app.js', ...CREDENTIAL_PATHS].sort(),
    );
  });

  test('[P49] uploading them (include-hidden opt-in) works but warns, naming each file', async () => {
    const ws = await credentialWorkspace('p49-optin');
    const { logger, lines } = recordingLogger();
    const store = path.join(work, 'store-p49');
    const found = await globFiles('out', { cwd: ws, includeHidden: true });
    const result = await uploadArtifact('p49', found.files, found.rootDirectory, {
      localStore: store,
      logger,
    });
    expect(result.fileCount).toBe(5);
    const warnings = lines.filter((l) => l.startsWith('warn: '));
    expect(warnings).toHaveLength(1);
    for (const p of CREDENTIAL_PATHS) expect(warnings[0]).toContain(`'${p}'`);
    expect(warnings[0]).not.toContain('app.js');
    // Without them in the set there is no warning.
    const quiet = recordingLogger();
    await uploadArtifact('p49-clean', [path.join(ws, 'out', 'app.js')], path.join(ws, 'out'), {
      localStore: store,
      logger: quiet.logger,
    });
    expect(quiet.lines.filter((l) => l.startsWith('warn: '))).toHaveLength(0);
  });

  test('[P49,P48] an opted-in .npmrc that holds GITHUB_TOKEN is still refused by the secret scan', async () => {
    const ws = await makeUploadDir('p49-npmrc', {
      'out/.npmrc': `//npm.pkg.github.com/:_authToken=${SENTINEL.githubToken}\n`,
      'out/a.txt': 'a',
    });
    const found = await globFiles('out', { cwd: ws, includeHidden: true });
    fromEnvironment({ GITHUB_TOKEN: SENTINEL.githubToken });
    const error = await uploadArtifact('p49-npmrc', found.files, found.rootDirectory, {
      localStore: path.join(work, 'store-p49-npmrc'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_FERRY_SECRET_IN_ARTIFACT', context: { file: '.npmrc' } });
    expectNoSecrets(error);
  });
});

describe('P50: debug logging goes through redaction', () => {
  test('[P50] every line given to a caller logger is scrubbed, debug included', () => {
    fromEnvironment({ ACTIONS_RUNTIME_TOKEN: RUNTIME_TOKEN, GITHUB_TOKEN: SENTINEL.githubToken });
    const { logger, lines } = recordingLogger();
    const opts = normalizeOptions({ logger });
    opts.logger.debug(
      `PUT https://blob/x?sig=${SENTINEL.sasSignature} Authorization: Bearer ${RUNTIME_TOKEN}`,
    );
    opts.logger.info(`gh ${SENTINEL.githubToken}`);
    opts.logger.warn(`proxy http://u:${encodeURIComponent(SENTINEL.proxyPassword)}@proxy:3128`);
    opts.logger.error(`token ${RUNTIME_TOKEN}`);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain('sig=***');
    expectNoSecrets(lines.join('\n'));
  });
});

describe('child processes: the CLI and the Action print no secret (P45, P48, P49, P50)', () => {
  const baseEnv = (extra: Record<string, string>): Record<string, string> => ({
    HOME: work,
    FERRY_STORE: path.join(work, 'child-store'),
    ...extra,
  });

  async function cli(
    args: string[],
    env: Record<string, string>,
  ): Promise<{ code: number | null; out: string }> {
    const r = await runNode(path.join(bundles, 'cli.mjs'), args, baseEnv(env), work);
    return { code: r.code, out: `${r.stdout}\n${r.stderr}` };
  }

  /** Runs an Action entry like the runner does; `log` is stdout without `::add-mask::` registrations. */
  async function step(
    entry: 'upload' | 'download',
    inputs: Record<string, string>,
    env: Record<string, string>,
    cwd: string,
  ): Promise<{ code: number | null; log: string; outputs: Record<string, string> }> {
    const outputFile = path.join(work, `output-${Math.random().toString(36).slice(2)}`);
    await writeFile(outputFile, '');
    const childEnv: Record<string, string> = {
      ...baseEnv(env),
      GITHUB_OUTPUT: outputFile,
      RUNNER_DEBUG: '1',
      ACTIONS_STEP_DEBUG: 'true',
    };
    for (const [k, v] of Object.entries(inputs)) childEnv[inputEnvName(k)] = v;
    const r = await runNode(path.join(bundles, `${entry}.mjs`), [], childEnv, cwd);
    const log = `${r.stdout
      .split(/\r?\n/)
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')}\n${r.stderr}`;
    return { code: r.code, log, outputs: parseOutputs(await readFile(outputFile, 'utf8')) };
  }

  test('[P45,P50] CLI --verbose and --json: failing uploads and downloads on both protocols print no secret', async () => {
    const fronts = await startFronts('results', {
      blob: { fault: (s) => (isBlobPut(s) ? echo(403, 'application/xml') : { kind: 'pass' }) },
    });
    const legacy = await startFronts('legacy', {
      api: { fault: (s) => (s.method === 'GET' || s.method === 'POST' ? echo(401) : { kind: 'pass' }) },
    });
    const proxy = await startRefusingProxy();
    const dir = await makeUploadDir('cli-fail', { 'a.txt': 'alpha\n' });
    try {
      const runs = [
        await cli(['upload', 'cli-a', dir, '--verbose'], runnerEnv('results', fronts.api)),
        await cli(['upload', 'cli-a', dir, '--json', '--verbose'], runnerEnv('results', fronts.api)),
        await cli(
          ['download', 'seed', '--path', path.join(work, 'cli-out'), '--verbose'],
          runnerEnv('legacy', legacy.api),
        ),
        await cli(['upload', 'cli-b', dir, '--verbose'], runnerEnv('legacy', legacy.api)),
        await cli(
          ['upload', 'cli-c', dir, '--verbose'],
          runnerEnv('legacy', legacy.api, { HTTP_PROXY: proxy.urlWithCredentials }),
        ),
        await cli(
          [
            'download',
            'seed',
            '--repository',
            'octo/ferry',
            '--run-id',
            RUN_ID,
            '--path',
            path.join(work, 'cli-out2'),
            '--verbose',
          ],
          { GITHUB_TOKEN: SENTINEL.githubToken, GITHUB_API_URL: legacy.api.url },
        ),
      ];
      for (const run of runs) {
        expect(run.code).not.toBe(0);
        expect(run.out).toMatch(/error/i);
        expectNoSecrets(run.out);
      }
      expect(runs[0]?.out).toMatch(/ERR_FERRY|status code 403|403/);
      expect(runs[4]?.out).toMatch(/[Pp]roxy/);
    } finally {
      await proxy.close();
      await fronts.close();
      await legacy.close();
    }
  });

  test('[P45,P50] Action upload/download steps (debug on) that fail print no secret', async () => {
    const fronts = await startFronts('results', {
      blob: {
        fault: (s) => (isBlobPut(s) || isBlobGet(s) ? echo(403, 'application/xml') : { kind: 'pass' }),
      },
    });
    const proxy = await startRefusingProxy();
    const ws = await makeUploadDir('action-fail', { 'dist/a.txt': 'alpha\n' });
    try {
      const steps = [
        await step('upload', { name: 'act-a', path: 'dist' }, runnerEnv('results', fronts.api), ws),
        await step('download', { name: 'seed', path: 'out' }, runnerEnv('results', fronts.api), ws),
        await step(
          'upload',
          { name: 'act-b', path: 'dist' },
          runnerEnv('legacy', fronts.api, { HTTP_PROXY: proxy.urlWithCredentials }),
          ws,
        ),
      ];
      for (const s of steps) {
        expect(s.code).not.toBe(0);
        expect(s.log).toContain('::error::');
        expect(s.log).toContain('::debug::');
        expectNoSecrets(s.log);
      }
    } finally {
      await proxy.close();
      await fronts.close();
    }
  });

  test('[P48,P49] CLI and Action: a secret in a file fails naming the file; --allow-secrets / allow-secrets: true let it through; hidden credential files warn', async () => {
    const fronts = await startFronts('results');
    const ws = await makeUploadDir('child-secret', {
      'dist/a.txt': 'alpha\n',
      'dist/env.log': `ACTIONS_RUNTIME_TOKEN=${RUNTIME_TOKEN}\n`,
      'hidden/app.js': 'x',
      'hidden/.env': 'PASSWORD=hunter2\n',
    });
    try {
      const env = runnerEnv('results', fronts.api);
      const refused = await cli(['upload', 'cli-secret', path.join(ws, 'dist')], env);
      expect(refused.code).toBe(1);
      expect(refused.out).toContain("File 'env.log'");
      expectNoSecrets(refused.out);
      // A refused results upload was created, not finalized: ferry serve holds its name as "being
      // uploaded" for a while, so each attempt below uses its own name.
      const refusedJson = await cli(['upload', 'cli-secret-json', path.join(ws, 'dist'), '--json'], env);
      expect(refusedJson.out).toContain('"code":"ERR_FERRY_SECRET_IN_ARTIFACT"');
      expectNoSecrets(refusedJson.out);
      const allowed = await cli(
        ['upload', 'cli-secret-allowed', path.join(ws, 'dist'), '--allow-secrets'],
        env,
      );
      expect(allowed.code).toBe(0);
      expectNoSecrets(allowed.out);

      const stepRefused = await step('upload', { name: 'act-secret', path: 'dist' }, env, ws);
      expect(stepRefused.code).not.toBe(0);
      expect(stepRefused.log).toMatch(/::error::.*File 'env\.log'/);
      expectNoSecrets(stepRefused.log);
      const stepAllowed = await step(
        'upload',
        { name: 'act-secret-allowed', path: 'dist', 'allow-secrets': 'true' },
        env,
        ws,
      );
      expect(stepAllowed.code).toBe(0);
      expect(stepAllowed.outputs['artifact-id']).toMatch(/^\d+$/);
      expectNoSecrets(stepAllowed.log);
      expect(finalizeCount('results', fronts.api)).toBe(2);

      const hiddenCli = await cli(['upload', 'cli-hidden', path.join(ws, 'hidden'), '--include-hidden'], env);
      expect(hiddenCli.code).toBe(0);
      expect(hiddenCli.out).toMatch(/warning: .*credentials: '\.env'/);
      const hiddenStep = await step(
        'upload',
        { name: 'act-hidden', path: 'hidden', 'include-hidden-files': 'true' },
        env,
        ws,
      );
      expect(hiddenStep.code).toBe(0);
      expect(hiddenStep.log).toMatch(/::warning::.*credentials: '\.env'/);
      const defaultStep = await step('upload', { name: 'act-hidden2', path: 'hidden' }, env, ws);
      expect(defaultStep.code).toBe(0);
      expect(defaultStep.log).not.toMatch(/credentials/);
    } finally {
      await fronts.close();
    }
  });
});
