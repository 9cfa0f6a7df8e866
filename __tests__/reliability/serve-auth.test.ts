/**
 * Reliability section S: `ferry serve` against clients that hold some credential and try to
 * reach what it does not grant (issue 10, items 9 and 10, and beyond). Every request goes over a
 * real loopback socket (node:http or a raw net socket) to a real ferry serve started with an
 * HS256 key and the operator's shared token; the shared token is only used to check from outside
 * that the victim run's artifacts are unchanged. Every test ends by scanning the server's log
 * for every credential it handed out.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/run-cli.js';
import { downloadArtifact, listArtifacts, uploadArtifact } from '../../src/index.js';
import { startServer } from '../../src/server/index.js';
import { rawRequest } from '../helpers/server-fixture.js';
import {
  ADMIN,
  SECRET,
  bearer,
  expectNoCredentialInLog,
  ids,
  nowSeconds,
  rawExchange,
  rawJwt,
  resultsState,
  rpc,
  scope,
  sha256,
  signAsymmetric,
  startAuthServer,
  uploadResults,
  type AuthServer,
} from './serve-auth-harness.js';

const VICTIM_RUN = 'run-victim';
const VICTIM_JOB = 'job-victim';
const ATTACKER_RUN = 'run-attacker';
const ATTACKER_JOB = 'job-attacker';

let env: AuthServer;
let victimToken: string;
let attackerToken: string;
let victimArtifact: { id: string; data: Buffer; uploadUrl: string };
let victimBefore: unknown[];

beforeAll(async () => {
  env = await startAuthServer();
  victimToken = env.token(VICTIM_RUN, VICTIM_JOB);
  attackerToken = env.token(ATTACKER_RUN, ATTACKER_JOB);
  victimArtifact = await uploadResults(env.server, victimToken, VICTIM_RUN, VICTIM_JOB, 'secret-build');
  await uploadResults(env.server, attackerToken, ATTACKER_RUN, ATTACKER_JOB, 'mine');
  victimBefore = await resultsState(env.server, VICTIM_RUN);
});

afterAll(async () => {
  await env.close();
});

/** Nothing lost, nothing changed: the victim run holds exactly what it held before the attack. */
async function expectVictimUnchanged(): Promise<void> {
  expect(await resultsState(env.server, VICTIM_RUN)).toEqual(victimBefore);
  expectNoCredentialInLog(env);
}

describe('[X36] runtime JWTs are verified before anything else', () => {
  const list = (token: string) =>
    rpc(env.server, 'ListArtifacts', ids(ATTACKER_RUN, ATTACKER_JOB), bearer(token));
  const claims = (extra: Record<string, unknown> = {}) => ({
    scp: scope(ATTACKER_RUN, ATTACKER_JOB),
    exp: nowSeconds() + 3600,
    ...extra,
  });

  test('[X36] a minted token works; forged, unsigned, expired, early and exp-less tokens are 401 saying why', async () => {
    expect((await list(attackerToken)).status).toBe(200);
    const [h, p] = attackerToken.split('.');
    const cases: Array<[string, string, RegExp]> = [
      ['a payload re-signed with another key', `${h}.${p}.${'A'.repeat(43)}`, /signature does not match/],
      ['the signature dropped', `${h}.${p}.`, /signature does not match/],
      ['alg none', rawJwt({ alg: 'none', typ: 'JWT' }, claims()), /algorithm "none" is not accepted/],
      ['alg HS512', rawJwt({ alg: 'HS512' }, claims(), 'AAAA'), /algorithm "HS512"/],
      [
        'scp widened to the victim run, old signature kept',
        `${h}.${Buffer.from(JSON.stringify(claims({ scp: scope(VICTIM_RUN, VICTIM_JOB) }))).toString('base64url')}.${attackerToken.split('.')[2]}`,
        /signature does not match/,
      ],
      ['expired 2 minutes ago', hs256(claims({ exp: nowSeconds() - 120 })), /expired at/],
      ['not valid for 10 minutes', hs256(claims({ nbf: nowSeconds() + 600 })), /not valid before/],
      ['no exp', hs256({ scp: scope(ATTACKER_RUN, ATTACKER_JOB) }), /no expiry/],
      ['not a JWT', 'definitely-not-a-jwt', /not a JWT/],
      ['4 parts', `${attackerToken}.x`, /not a JWT/],
      [
        'header not JSON',
        `${Buffer.from('{{').toString('base64url')}.${p}.x`,
        /header is not base64url JSON/,
      ],
      ['10 KiB of junk', `${'a'.repeat(10 * 1024)}.b.c`, /too long/],
    ];
    for (const [what, token, reason] of cases) {
      const answer = await list(token);
      expect({ what, status: answer.status }).toEqual({ what, status: 401 });
      const body = answer.json<{ code: string; msg: string }>();
      expect(body.code).toBe('unauthenticated');
      expect(body.msg).toMatch(reason);
      for (const part of token.split('.').filter((x) => x.length >= 16)) {
        expect(answer.body.toString()).not.toContain(part);
      }
    }
    await expectVictimUnchanged();
  });

  test('[X36] 60 s of clock skew is tolerated both ways, not more', async () => {
    expect((await list(hs256(claims({ exp: nowSeconds() - 30 })))).status).toBe(200);
    expect((await list(hs256(claims({ nbf: nowSeconds() + 30 })))).status).toBe(200);
    expect((await list(hs256(claims({ exp: nowSeconds() - 90 })))).status).toBe(401);
    expect((await list(hs256(claims({ nbf: nowSeconds() + 90 })))).status).toBe(401);
  });

  test('[X36] RS256 and ES256 tokens verify against configured public keys; HS256 signed with the public key does not', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const own = await startAuthServer({
      token: undefined,
      jwt: { publicKeys: [rsa.publicKey, ec.publicKey] },
    });
    try {
      const call = (token: string) =>
        rpc(own.server, 'ListArtifacts', ids(ATTACKER_RUN, ATTACKER_JOB), bearer(token));
      expect((await call(signAsymmetric('RS256', claims(), rsa.privateKey))).status).toBe(200);
      expect((await call(signAsymmetric('ES256', claims(), ec.privateKey))).status).toBe(200);
      expect((await call(signAsymmetric('RS256', claims(), other.privateKey))).status).toBe(401);
      // Algorithm confusion: the PEM of the public key used as an HMAC secret.
      const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
      expect((await call(hs256(claims(), Buffer.from(pem)))).status).toBe(401);
      // RS256 header over an ES256 signature and vice versa.
      const es = signAsymmetric('ES256', claims(), ec.privateKey).split('.');
      expect(
        (await call(`${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${es[1]}.${es[2]}`)).status,
      ).toBe(401);
      // No HMAC secret configured: a token minted with the test secret is refused.
      expect((await call(hs256(claims()))).status).toBe(401);
      expectNoCredentialInLog(own);
    } finally {
      await own.close();
    }
  });

  test('[X36] two secrets during a rotation: tokens of both verify; after it the old one is refused', async () => {
    const next = Buffer.from('the-next-secret-of-the-rotation-0123456789', 'utf8');
    const both = await startAuthServer({ jwt: { secrets: [next, SECRET] } });
    try {
      const call = (token: string) =>
        rpc(both.server, 'ListArtifacts', ids(ATTACKER_RUN, ATTACKER_JOB), bearer(token));
      expect((await call(hs256(claims(), SECRET))).status).toBe(200);
      expect((await call(hs256(claims(), next))).status).toBe(200);
    } finally {
      await both.close();
    }
    const after = await startAuthServer({ jwt: { secrets: [next] } });
    try {
      const answer = await rpc(
        after.server,
        'ListArtifacts',
        ids(ATTACKER_RUN, ATTACKER_JOB),
        bearer(hs256(claims())),
      );
      expect(answer.status).toBe(401);
    } finally {
      await after.close();
    }
  });

  test('[X36] keys too short or of the wrong kind, and unauthenticated non-loopback binds, refuse to start', async () => {
    const dataDir = join(env.root, 'never');
    await expect(startServer({ dataDir, jwt: { secrets: ['short'] } })).rejects.toThrow(/at least 32/);
    const ed = generateKeyPairSync('ed25519');
    await expect(startServer({ dataDir, jwt: { publicKeys: [ed.publicKey] } })).rejects.toThrow(
      /RS256 needs an RSA key/,
    );
    await expect(startServer({ dataDir, host: '0.0.0.0' })).rejects.toThrow(/without authentication/);
  });
});

/** An HS256 token over arbitrary claims (the minting helper only makes well-formed ones). */
function hs256(payload: Record<string, unknown>, secret: Buffer = SECRET): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  env.secrets.push(token);
  return token;
}

describe('[X37] results RPCs stay inside the runs and jobs the token grants', () => {
  test('[X37] List, GetSignedURL and Delete on another run are 403 and reveal nothing; the victim is untouched', async () => {
    const auth = bearer(attackerToken);
    const victim = { ...ids(VICTIM_RUN, VICTIM_JOB), name: 'secret-build' };
    for (const [method, body] of [
      ['ListArtifacts', ids(VICTIM_RUN, VICTIM_JOB)],
      ['GetSignedArtifactURL', victim],
      ['DeleteArtifact', victim],
      ['DeleteArtifact', { ...victim, name: 'does-not-exist' }],
    ] as const) {
      const answer = await rpc(env.server, method, body, auth);
      expect({ method, status: answer.status }).toEqual({ method, status: 403 });
      const text = answer.body.toString();
      expect(answer.json<{ code: string }>().code).toBe('permission_denied');
      // Same answer for an artifact that exists and one that does not: nothing to probe.
      expect(text).not.toContain('secret-build');
      expect(text).not.toContain('sig=');
    }
    await expectVictimUnchanged();
  });

  test('[X37] Create and Finalize as the victim run, or as another job of the own run, are 403', async () => {
    const auth = bearer(attackerToken);
    for (const [run, job] of [
      [VICTIM_RUN, VICTIM_JOB],
      [VICTIM_RUN, ATTACKER_JOB],
      [ATTACKER_RUN, VICTIM_JOB],
    ] as const) {
      const create = await rpc(
        env.server,
        'CreateArtifact',
        { ...ids(run, job), name: 'planted', version: 4 },
        auth,
      );
      expect(create.status).toBe(403);
      expect(create.body.toString()).not.toContain('signed_upload_url');
      const fin = await rpc(
        env.server,
        'FinalizeArtifact',
        { ...ids(run, job), name: 'secret-build', size: '1' },
        auth,
      );
      expect(fin.status).toBe(403);
    }
    await expectVictimUnchanged();
  });

  test('[X37] a token granting two runs reaches both, and only those; the shared token reaches all', async () => {
    const two = rawJwtHs256({
      scp: `${scope(ATTACKER_RUN, ATTACKER_JOB)} Actions.Other ${scope('run-3', 'j')}`,
      exp: nowSeconds() + 60,
    });
    for (const run of [ATTACKER_RUN, 'run-3']) {
      expect((await rpc(env.server, 'ListArtifacts', ids(run, 'x'), bearer(two))).status).toBe(200);
    }
    expect((await rpc(env.server, 'ListArtifacts', ids(VICTIM_RUN, 'x'), bearer(two))).status).toBe(403);
    // Malformed scopes grant nothing: four parts, empty run, a prefix look-alike.
    const odd = rawJwtHs256({
      scp: `Actions.Results:${VICTIM_RUN}:${VICTIM_JOB}:x Actions.Results::${VICTIM_JOB} Actions.ResultsX:${VICTIM_RUN}:${VICTIM_JOB}`,
      exp: nowSeconds() + 60,
    });
    expect((await rpc(env.server, 'ListArtifacts', ids(VICTIM_RUN, VICTIM_JOB), bearer(odd))).status).toBe(
      403,
    );
    expect((await rpc(env.server, 'ListArtifacts', ids(VICTIM_RUN, 'x'), bearer(ADMIN))).status).toBe(200);
    await expectVictimUnchanged();
  });
});

describe('[X38] legacy routes: the run in the path and the run of the container must be granted', () => {
  let container: string;
  let victimLegacyBefore: unknown;

  beforeAll(async () => {
    const base = `${env.server.url}_apis/pipelines/workflows/${VICTIM_RUN}/artifacts?api-version=6.0-preview`;
    const created = await rawRequest('POST', base, {
      headers: { ...bearer(victimToken), 'Content-Type': 'application/json' },
      body: JSON.stringify({ Type: 'actions_storage', Name: 'legacy-secret' }),
    });
    expect(created.status).toBe(201);
    container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
    const url = new URL(container);
    url.searchParams.set('itemPath', 'legacy-secret/a.txt');
    const put = await rawRequest('PUT', url, {
      headers: {
        ...bearer(victimToken),
        'Content-Range': 'bytes 0-4/5',
        'Content-Type': 'application/octet-stream',
      },
      body: 'hello',
    });
    expect(put.status).toBe(200);
    const patch = await rawRequest('PATCH', `${base}&artifactName=legacy-secret`, {
      headers: { ...bearer(victimToken), 'Content-Type': 'application/json' },
      body: JSON.stringify({ Size: 5 }),
    });
    expect(patch.status).toBe(200);
    victimLegacyBefore = await legacyState();
  });

  async function legacyState(): Promise<unknown> {
    const listed = await rawRequest(
      'GET',
      `${env.server.url}_apis/pipelines/workflows/${VICTIM_RUN}/artifacts`,
      {
        headers: bearer(ADMIN),
      },
    );
    const url = new URL(container);
    url.searchParams.set('itemPath', 'legacy-secret/a.txt');
    const file = await rawRequest('GET', url, { headers: bearer(ADMIN) });
    return { listed: listed.json<{ count: number }>().count, file: file.status, bytes: sha256(file.body) };
  }

  test('[X38] create, list and finalize in the victim run are 403; its container is 404 like a missing one', async () => {
    const auth = { ...bearer(attackerToken), 'Content-Type': 'application/json' };
    const base = `${env.server.url}_apis/pipelines/workflows/${VICTIM_RUN}/artifacts`;
    expect((await rawRequest('POST', base, { headers: auth, body: '{"Name":"planted"}' })).status).toBe(403);
    expect((await rawRequest('GET', base, { headers: auth })).status).toBe(403);
    expect(
      (await rawRequest('PATCH', `${base}?artifactName=legacy-secret`, { headers: auth, body: '{"Size":0}' }))
        .status,
    ).toBe(403);
    const listing = new URL(container);
    const file = new URL(container);
    file.searchParams.set('itemPath', 'legacy-secret/a.txt');
    const missing = new URL(container.replace(/Containers\/\d+/, 'Containers/999999'));
    const answers = await Promise.all([
      rawRequest('GET', listing, { headers: auth }),
      rawRequest('GET', file, { headers: auth }),
      rawRequest('PUT', file, { headers: { ...auth, 'Content-Range': 'bytes 0-4/5' }, body: 'PWNED' }),
      rawRequest('GET', missing, { headers: auth }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404]);
    // Foreign and missing containers are indistinguishable apart from the id the caller sent.
    const strip = (text: string) => text.replace(/\d{3,}|\d+/g, 'N');
    expect(strip(answers[0]!.body.toString())).toBe(strip(answers[3]!.body.toString()));
    expect(answers.some((a) => a.body.toString().includes('hello'))).toBe(false);
    expect(await legacyState()).toEqual(victimLegacyBefore);
    await expectVictimUnchanged();
  });

  test('[X38] the victim itself still works with its own token', async () => {
    const file = new URL(container);
    file.searchParams.set('itemPath', 'legacy-secret/a.txt');
    const own = await rawRequest('GET', file, { headers: bearer(victimToken) });
    expect(own.status).toBe(200);
    expect(own.body.toString()).toBe('hello');
  });
});

describe('[X39] REST API: a runtime JWT reaches only its runs; other artifacts are 404', () => {
  const api = (path: string) => `${env.server.url}repos/o/r/actions/${path}`;

  test('[X39] list, get, download and delete of the victim artifact by id with the attacker token', async () => {
    const auth = { Authorization: `token ${attackerToken}` };
    const all = await rawRequest('GET', api('artifacts'), { headers: auth });
    expect(all.status).toBe(200);
    const names = all.json<{ artifacts: Array<{ name: string }> }>().artifacts.map((a) => a.name);
    expect(names).toEqual(['mine']);
    expect((await rawRequest('GET', api(`runs/${VICTIM_RUN}/artifacts`), { headers: auth })).status).toBe(
      404,
    );
    const id = victimArtifact.id;
    const answers = await Promise.all([
      rawRequest('GET', api(`artifacts/${id}`), { headers: auth }),
      rawRequest('GET', api(`artifacts/${id}/zip`), { headers: auth }),
      rawRequest('DELETE', api(`artifacts/${id}`), { headers: auth }),
      rawRequest('GET', api('artifacts/987654'), { headers: auth }),
    ]);
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404]);
    expect(answers.map((a) => a.body.toString())).toEqual(Array(4).fill(answers[3]!.body.toString()));
    expect(answers[1]!.headers.location).toBeUndefined();
    await expectVictimUnchanged();
  });

  test('[X39] the shared token lists every run (repo-scoped, like a GitHub token)', async () => {
    const all = await rawRequest('GET', api('artifacts'), { headers: { Authorization: `token ${ADMIN}` } });
    const names = all.json<{ artifacts: Array<{ name: string }> }>().artifacts.map((a) => a.name);
    expect(names.sort()).toEqual(['mine', 'secret-build']);
  });
});

/** An HS256 token with arbitrary claims, registered as a secret for the log scan. */
function rawJwtHs256(payload: Record<string, unknown>): string {
  return hs256(payload);
}

describe('[X40] signed blob URLs are bound to their blob, permission and expiry', () => {
  test('[X40] a read URL with the blob id, expiry, permission or signature changed is 403; the real one reads', async () => {
    const signed = await rpc(
      env.server,
      'GetSignedArtifactURL',
      { ...ids(ATTACKER_RUN, ATTACKER_JOB), name: 'mine' },
      bearer(attackerToken),
    );
    const url = new URL(signed.json<{ signed_url: string }>().signed_url);
    expect((await rawRequest('GET', url)).status).toBe(200);
    const victimBlob = new URL(victimArtifact.uploadUrl).pathname;
    const tamper = (edit: (u: URL) => void): URL => {
      const copy = new URL(url);
      edit(copy);
      return copy;
    };
    const far = new Date(Date.now() + 365 * 86400_000).toISOString();
    const attempts: Array<[string, URL]> = [
      ['moved to the victim blob', tamper((u) => (u.pathname = victimBlob))],
      ['expiry extended', tamper((u) => u.searchParams.set('se', far))],
      ['write permission added', tamper((u) => u.searchParams.set('sp', 'rcw'))],
      ['signature flipped', tamper((u) => u.searchParams.set('sig', flip(u.searchParams.get('sig') ?? '')))],
      ['signature dropped', tamper((u) => u.searchParams.delete('sig'))],
      [
        'signature truncated',
        tamper((u) => u.searchParams.set('sig', (u.searchParams.get('sig') ?? '').slice(0, 10))),
      ],
    ];
    for (const [what, target] of attempts) {
      const answer = await rawRequest('GET', target);
      expect({ what, status: answer.status }).toEqual({ what, status: 403 });
      expect(answer.body.includes(victimArtifact.data)).toBe(false);
    }
    // The read URL does not write, an upload URL does not read, and neither works on another verb.
    const put = await rawRequest('PUT', url, {
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': 5 },
      body: 'PWNED',
    });
    expect(put.status).toBe(403);
    expect((await rawRequest('GET', victimArtifact.uploadUrl)).status).toBe(403);
    expect((await rawRequest('DELETE', url)).status).toBe(405);
    await expectVictimUnchanged();
  });

  test('[X40] the upload URL is dead once finalized, and every URL of a deleted artifact is 404 (no replay)', async () => {
    const own = await uploadResults(env.server, attackerToken, ATTACKER_RUN, ATTACKER_JOB, 'short-lived');
    const rewrite = await rawRequest('PUT', own.uploadUrl, {
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': 5 },
      body: 'PWNED',
    });
    expect(rewrite.status).toBe(409);
    const signed = await rpc(
      env.server,
      'GetSignedArtifactURL',
      { ...ids(ATTACKER_RUN, ATTACKER_JOB), name: 'short-lived' },
      bearer(attackerToken),
    );
    const readUrl = signed.json<{ signed_url: string }>().signed_url;
    expect(sha256((await rawRequest('GET', readUrl)).body)).toBe(sha256(own.data));
    const deleted = await rpc(
      env.server,
      'DeleteArtifact',
      { ...ids(ATTACKER_RUN, ATTACKER_JOB), name: 'short-lived' },
      bearer(attackerToken),
    );
    expect(deleted.status).toBe(200);
    // Re-created under the same name: the old URLs still must not reach the new bytes.
    const again = await uploadResults(env.server, attackerToken, ATTACKER_RUN, ATTACKER_JOB, 'short-lived');
    const replay = await rawRequest('GET', readUrl);
    expect(replay.status).toBe(404);
    expect(replay.body.includes(again.data)).toBe(false);
    expect(
      (
        await rawRequest('PUT', own.uploadUrl, {
          headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': 1 },
          body: 'x',
        })
      ).status,
    ).toBe(404);
    await expectVictimUnchanged();
  });
});

/** Changes the first character of a base64url string to another valid one. */
function flip(text: string): string {
  return `${text[0] === 'A' ? 'B' : 'A'}${text.slice(1)}`;
}

describe('[X41] DNS rebinding: only Host values naming this server are served', () => {
  let open: AuthServer;

  beforeAll(async () => {
    // The no-token loopback mode is what a rebinding page attacks: everything is open there.
    open = await startAuthServer({ token: undefined, jwt: {} });
    await uploadResults(open.server, 'unused', 'r', 'j', 'local-secret');
  });

  afterAll(async () => {
    await open.close();
  });

  const requestWithHost = (host: string, method: string, path: string, body?: string) =>
    rawRequest(method, `${open.server.url}${path}`, {
      headers: { Host: host, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body }),
    });

  test('[X41] a foreign Host is 421 on every protocol, before any signed URL is made', async () => {
    const port = open.server.port;
    for (const host of [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1.nip.io:${port}`,
      `localhost.:${port}`,
      `10.0.0.1:${port}`,
    ]) {
      const answers = await Promise.all([
        requestWithHost(
          host,
          'POST',
          `${RPC_PATH}GetSignedArtifactURL`,
          JSON.stringify({ ...ids('r', 'j'), name: 'local-secret' }),
        ),
        requestWithHost(host, 'POST', `${RPC_PATH}ListArtifacts`, JSON.stringify(ids('r', 'j'))),
        requestWithHost(host, 'GET', '_apis/pipelines/workflows/r/artifacts'),
        requestWithHost(host, 'GET', 'repos/o/r/actions/artifacts'),
        requestWithHost(host, 'GET', 'repos/o/r/actions/artifacts/1/zip'),
        requestWithHost(host, 'GET', 'devstoreaccount1/artifacts/00000000000000000000000000000000'),
      ]);
      for (const answer of answers) {
        expect({ host, status: answer.status }).toEqual({ host, status: 421 });
        const text = answer.body.toString();
        expect(text).toMatch(/not an address of this ferry serve.*--public-url/);
        expect(text).not.toContain('sig=');
        expect(text).not.toContain('local-secret');
      }
    }
    expectNoCredentialInLog(open);
  });

  test('[X41] loopback names on any port (forwards, proxies) and the bound address are served', async () => {
    const port = open.server.port;
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
      'localhost:9999',
    ]) {
      const answer = await requestWithHost(
        host,
        'POST',
        `${RPC_PATH}GetSignedArtifactURL`,
        JSON.stringify({ ...ids('r', 'j'), name: 'local-secret' }),
      );
      expect({ host, status: answer.status }).toEqual({ host, status: 200 });
      expect(new URL(answer.json<{ signed_url: string }>().signed_url).host).toBe(host.toLowerCase());
    }
  });

  test('[X41] a cross-origin browser request (Origin of another site) is 403 even with a loopback Host', async () => {
    const answer = await rawRequest('POST', `${open.server.url}_apis/pipelines/workflows/r/artifacts`, {
      headers: { Origin: 'http://evil.example', 'Content-Type': 'text/plain' },
      body: JSON.stringify({ Name: 'planted' }),
    });
    expect(answer.status).toBe(403);
    expect(answer.body.toString()).toMatch(/Cross-origin request/);
    const nullOrigin = await rawRequest('GET', `${open.server.url}_apis/pipelines/workflows/r/artifacts`, {
      headers: { Origin: 'null' },
    });
    expect(nullOrigin.status).toBe(403);
    const same = await rawRequest('GET', `${open.server.url}_apis/pipelines/workflows/r/artifacts`, {
      headers: { Origin: open.server.url.replace(/\/$/, '') },
    });
    expect(same.status).toBe(200);
    const listed = await rawRequest('GET', `${open.server.url}_apis/pipelines/workflows/r/artifacts`);
    expect(listed.json<{ count: number }>().count).toBe(0);
  });

  test('[X41] an absolute-form target naming another host is 421 even with a good Host; two Host headers are 400', async () => {
    const port = open.server.port;
    const absolute = await rawExchange(
      port,
      `GET http://evil.example/_apis/pipelines/workflows/r/artifacts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    );
    expect(absolute.status).toBe(421);
    const good = await rawExchange(
      port,
      `GET http://127.0.0.1:${port}/_apis/pipelines/workflows/r/artifacts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    );
    expect(good.status).toBe(200);
    const twoHosts = await rawExchange(
      port,
      `GET /_apis/pipelines/workflows/r/artifacts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
    );
    expect(twoHosts.status).toBe(400);
    const noHost = await rawExchange(port, `GET /_apis/pipelines/workflows/r/artifacts HTTP/1.0\r\n\r\n`);
    expect(noHost.status).toBe(400);
  });

  test('[X41] with --public-url, its host is served and every handed-out URL uses it, whatever the request said', async () => {
    const behind = await startAuthServer({
      token: undefined,
      jwt: {},
      publicUrl: 'https://artifacts.example.com/',
    });
    try {
      const base = `http://127.0.0.1:${behind.server.port}/`;
      await uploadResultsAt(base, 'r', 'j', 'x');
      const headers = { 'Content-Type': 'application/json', 'X-Forwarded-Proto': 'http' };
      const body = JSON.stringify({ ...ids('r', 'j'), name: 'x' });
      const viaPublic = await rawRequest('POST', `${base}${RPC_PATH}GetSignedArtifactURL`, {
        headers: { ...headers, Host: 'artifacts.example.com:443' },
        body,
      });
      expect(viaPublic.status).toBe(200);
      expect(viaPublic.json<{ signed_url: string }>().signed_url).toMatch(
        /^https:\/\/artifacts\.example\.com\/devstoreaccount1\//,
      );
      const viaLoopback = await rawRequest('POST', `${base}${RPC_PATH}GetSignedArtifactURL`, {
        headers,
        body,
      });
      expect(viaLoopback.json<{ signed_url: string }>().signed_url).toMatch(
        /^https:\/\/artifacts\.example\.com\//,
      );
      const wrongPort = await rawRequest('POST', `${base}${RPC_PATH}ListArtifacts`, {
        headers: { ...headers, Host: 'artifacts.example.com:8443' },
        body,
      });
      expect(wrongPort.status).toBe(421);
      expect(behind.server.url).toBe('https://artifacts.example.com/');
      await expect(
        startServer({ dataDir: join(behind.root, 'x'), publicUrl: 'https://a.example/sub/path' }),
      ).rejects.toThrow(/must be an origin/);
    } finally {
      await behind.close();
    }
  });
});

const RPC_PATH = 'twirp/github.actions.results.api.v1.ArtifactService/';

/** Create + Put Blob + Finalize against an explicit base URL, without a token. */
async function uploadResultsAt(base: string, run: string, job: string, name: string): Promise<void> {
  const post = (method: string, body: unknown) =>
    rawRequest('POST', `${base}${RPC_PATH}${method}`, {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const created = await post('CreateArtifact', { ...ids(run, job), name, version: 4 });
  const upload = new URL(created.json<{ signed_upload_url: string }>().signed_upload_url);
  // The URL names the public host; send it to the loopback port with that path and query.
  const put = await rawRequest('PUT', `${base}${upload.pathname.slice(1)}${upload.search}`, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': 3 },
    body: 'abc',
  });
  expect(put.status).toBe(201);
  expect((await post('FinalizeArtifact', { ...ids(run, job), name, size: '3' })).status).toBe(200);
}

describe('[X42] names and item paths cannot escape the store or collide across runs', () => {
  test('[X42] traversal in results names and legacy item paths is 400; nothing is written outside the data dir', async () => {
    const outsideBefore = await listOutside();
    const auth = bearer(attackerToken);
    for (const name of ['..', '.', '../x', 'a/b', 'a\\b', 'x\0y', '', 'a'.repeat(257)]) {
      const answer = await rpc(
        env.server,
        'CreateArtifact',
        { ...ids(ATTACKER_RUN, ATTACKER_JOB), name, version: 4 },
        auth,
      );
      expect({ name, status: answer.status }).toEqual({ name, status: 400 });
    }
    const base = `${env.server.url}_apis/pipelines/workflows/${ATTACKER_RUN}/artifacts`;
    const created = await rawRequest('POST', base, {
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ Name: 'paths' }),
    });
    const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
    const encodedPaths = [
      'paths/../../../../escaped.txt',
      'paths/%2e%2e/%2e%2e/escaped.txt',
      'paths%2F..%2F..%2Fescaped.txt',
      'paths\\..\\..\\escaped.txt',
      'paths/a%00b',
      '/etc/passwd',
      'C:\\escaped.txt',
      'other-artifact/x.txt',
    ];
    for (const raw of encodedPaths) {
      // Appended raw so percent-encodings reach the server as an attacker wrote them.
      const answer = await rawRequest('PUT', `${container}&itemPath=${raw.replace(/\\/g, '%5C')}`, {
        headers: { ...auth, 'Content-Range': 'bytes 0-4/5' },
        body: 'PWNED',
      });
      expect({ raw, status: answer.status }).toEqual({ raw, status: 400 });
    }
    expect(await listOutside()).toEqual(outsideBefore);
    await expectVictimUnchanged();
  });

  test('[X42] names equal up to case or Unicode normalization in two runs stay two artifacts with their own bytes', async () => {
    const nfc = 'r\u00e9sum\u00e9';
    const nfd = nfc.normalize('NFD');
    const a = await uploadResults(env.server, attackerToken, ATTACKER_RUN, ATTACKER_JOB, nfc);
    const b = await uploadResults(env.server, victimToken, VICTIM_RUN, VICTIM_JOB, nfd);
    const c = await uploadResults(env.server, attackerToken, ATTACKER_RUN, ATTACKER_JOB, 'SECRET-BUILD');
    const read = async (token: string, run: string, name: string) => {
      const signed = await rpc(env.server, 'GetSignedArtifactURL', { ...ids(run, 'j'), name }, bearer(token));
      if (signed.status !== 200) return signed.status;
      return sha256((await rawRequest('GET', signed.json<{ signed_url: string }>().signed_url)).body);
    };
    expect(await read(attackerToken, ATTACKER_RUN, nfc)).toBe(sha256(a.data));
    expect(await read(attackerToken, ATTACKER_RUN, nfd)).toBe(404);
    expect(await read(victimToken, VICTIM_RUN, nfd)).toBe(sha256(b.data));
    expect(await read(attackerToken, ATTACKER_RUN, 'SECRET-BUILD')).toBe(sha256(c.data));
    expect(await read(victimToken, VICTIM_RUN, 'secret-build')).toBe(sha256(victimArtifact.data));
    // The victim's own upload above is the only change to its run.
    victimBefore = await resultsState(env.server, VICTIM_RUN);
    expect(victimBefore).toHaveLength(2);
  });
});

/** Everything under the test root except the data dir: where an escape would land. */
async function listOutside(): Promise<string[]> {
  const entries = await readdir(env.root, { recursive: true });
  return entries.filter((e) => e !== 'data' && !e.startsWith(`data/`)).sort();
}

describe('[X43] ids and Twirp JSON of the wrong shape are refused, never coerced across runs', () => {
  test('[X43] negative, huge, non-numeric and padded ids are 400/404 on every protocol', async () => {
    const auth = bearer(attackerToken);
    const api = (path: string) => `${env.server.url}repos/o/r/actions/${path}`;
    for (const id of ['-1', '1e3', '0x1', '99999999999999999999', 'NaN', '1.0', `0${victimArtifact.id}`]) {
      const answer = await rawRequest('GET', api(`artifacts/${id}`), { headers: auth });
      expect({ id, status: answer.status }).toEqual({ id, status: 404 });
      const container = await rawRequest('GET', `${env.server.url}_apis/resources/Containers/${id}`, {
        headers: auth,
      });
      expect({ id, status: container.status }).toEqual({ id, status: 404 });
    }
    for (const idFilter of ['-1', '99999999999999999999', 'abc', 1.5, true, [1]]) {
      const answer = await rpc(
        env.server,
        'ListArtifacts',
        { ...ids(ATTACKER_RUN, ATTACKER_JOB), id_filter: idFilter },
        auth,
      );
      expect({ idFilter, status: answer.status }).toEqual({ idFilter, status: 400 });
    }
    await expectVictimUnchanged();
  });

  test('[X43] wrong types, __proto__, duplicate spellings and extra fields cannot smuggle in another run', async () => {
    const auth = bearer(attackerToken);
    const victimIds = ids(VICTIM_RUN, VICTIM_JOB);
    const bodies: Array<[string, string, number]> = [
      [
        'run id as an array',
        JSON.stringify({ workflow_run_backend_id: [VICTIM_RUN], workflow_job_run_backend_id: ATTACKER_JOB }),
        400,
      ],
      ['run id as an object', JSON.stringify({ workflow_run_backend_id: { toString: VICTIM_RUN } }), 400],
      [
        'run id as a number',
        JSON.stringify({ workflow_run_backend_id: 7, workflow_job_run_backend_id: 'x' }),
        400,
      ],
      [
        '__proto__ carrying the victim ids',
        `{"__proto__": ${JSON.stringify(victimIds)}, "name": "secret-build"}`,
        400,
      ],
      ['constructor.prototype', `{"constructor": {"prototype": ${JSON.stringify(victimIds)}}}`, 400],
      ['body is an array', JSON.stringify([victimIds]), 400],
      ['body is a string', JSON.stringify(VICTIM_RUN), 400],
      [
        'snake for the check, camel for the act',
        JSON.stringify({
          ...ids(ATTACKER_RUN, ATTACKER_JOB),
          workflowRunBackendId: VICTIM_RUN,
          name: 'secret-build',
        }),
        404,
      ],
      [
        'duplicate keys, victim last',
        `{"workflow_run_backend_id":"${ATTACKER_RUN}","workflow_run_backend_id":"${VICTIM_RUN}","workflow_job_run_backend_id":"j","name":"secret-build"}`,
        403,
      ],
      [
        'extra fields',
        JSON.stringify({
          ...ids(ATTACKER_RUN, ATTACKER_JOB),
          name: 'secret-build',
          run: VICTIM_RUN,
          admin: true,
        }),
        404,
      ],
    ];
    for (const [what, body, status] of bodies) {
      const answer = await rawRequest('POST', `${env.server.url}${RPC_PATH}GetSignedArtifactURL`, {
        headers: { ...auth, 'Content-Type': 'application/json' },
        body,
      });
      expect({ what, status: answer.status }).toEqual({ what, status });
      expect(answer.body.toString()).not.toContain('sig=');
    }
    expect(({} as Record<string, unknown>)['workflow_run_backend_id']).toBeUndefined();
    await expectVictimUnchanged();
  });
});

describe('[X44] methods, HEAD, OPTIONS and request targets outside the protocol', () => {
  test('[X44] without a credential every route and method is 401 and reads nothing (HEAD, OPTIONS, TRACE included)', async () => {
    const paths = [
      `${RPC_PATH}ListArtifacts`,
      `_apis/pipelines/workflows/${VICTIM_RUN}/artifacts`,
      '_apis/resources/Containers/1?itemPath=legacy-secret/a.txt',
      'repos/o/r/actions/artifacts',
      'nothing/here',
    ];
    for (const path of paths) {
      for (const method of ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE']) {
        const answer = await rawRequest(method, `${env.server.url}${path}`);
        expect({ path, method, status: answer.status }).toEqual({ path, method, status: 401 });
        expect(answer.body.toString()).not.toMatch(/secret-build|legacy-secret|hello/);
      }
    }
    await expectVictimUnchanged();
  });

  test('[X44] GET on PUT-only routes, HEAD on Twirp and wrong verbs on blobs never act', async () => {
    const auth = bearer(attackerToken);
    const twirpGet = await rawRequest('GET', `${env.server.url}${RPC_PATH}DeleteArtifact`, { headers: auth });
    expect(twirpGet.status).toBe(404);
    expect(twirpGet.json<{ code: string }>().code).toBe('bad_route');
    const twirpHead = await rawRequest('HEAD', `${env.server.url}${RPC_PATH}ListArtifacts`, {
      headers: auth,
    });
    expect(twirpHead.status).toBe(404);
    expect(twirpHead.body.length).toBe(0);
    const patchContainer = await rawRequest('DELETE', `${env.server.url}_apis/resources/Containers/1`, {
      headers: auth,
    });
    expect(patchContainer.status).toBe(405);
    const blob = new URL(victimArtifact.uploadUrl);
    for (const method of ['POST', 'DELETE', 'PATCH', 'OPTIONS']) {
      const answer = await rawRequest(method, blob);
      expect({ method, status: answer.status }).toEqual({ method, status: 405 });
    }
    // HEAD with a valid read URL: headers, no body.
    const signed = await rpc(
      env.server,
      'GetSignedArtifactURL',
      { ...ids(ATTACKER_RUN, ATTACKER_JOB), name: 'mine' },
      auth,
    );
    const head = await rawRequest('HEAD', signed.json<{ signed_url: string }>().signed_url);
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    await expectVictimUnchanged();
  });
});

describe('[X45] minted tokens work with real clients; ambiguous credentials are refused', () => {
  test('[X45] two Authorization headers are 400 in either order, whichever one is valid', async () => {
    for (const pair of [
      [`Bearer ${attackerToken}`, `Bearer ${victimToken}`],
      [`Bearer ${victimToken}`, `Bearer ${attackerToken}`],
      [`Bearer ${ADMIN}`, 'Bearer junk'],
    ]) {
      const answers = await Promise.all([
        rawRequest('POST', `${env.server.url}${RPC_PATH}ListArtifacts`, {
          headers: { Authorization: pair as unknown as string, 'Content-Type': 'application/json' },
          body: JSON.stringify(ids(VICTIM_RUN, VICTIM_JOB)),
        }),
        rawRequest('GET', `${env.server.url}repos/o/r/actions/artifacts`, {
          headers: { Authorization: pair as unknown as string },
        }),
      ]);
      expect(answers.map((a) => a.status)).toEqual([400, 400]);
      expect(answers.map((a) => a.body.toString()).join('\n')).not.toContain('secret-build');
    }
    await expectVictimUnchanged();
  });

  test('[X45] ferry token mints a token the official results client and Ferry (both protocols) use; another run stays invisible', async () => {
    const secretFile = join(env.root, 'jwt.key');
    await writeFile(secretFile, `${SECRET.toString('utf8')}\n`, { mode: 0o600 });
    const minted = await runCli(
      ...['token', '--run', 'run-cli', '--job', 'job-cli', '--ttl', '10m', '--jwt-secret-file', secretFile],
    );
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    env.secrets.push(token);
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims['scp']).toBe('Actions.Results:run-cli:job-cli');
    expect(Number(claims['exp']) - Number(claims['iat'])).toBe(600);
    const bad = await runCli(...['token', '--run', 'a b', '--job', 'j', '--jwt-secret-file', secretFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/without spaces or ':'/);

    const source = join(env.root, 'src');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'a.txt'), 'from a minted token\n');
    const saved = { ...process.env };
    process.env['ACTIONS_RESULTS_URL'] = env.server.url;
    process.env['ACTIONS_RUNTIME_TOKEN'] = token;
    process.env['GITHUB_WORKSPACE'] = env.root;
    delete process.env['GITHUB_SERVER_URL'];
    try {
      const official = new (
        (await import('actions-artifact-current')) as unknown as {
          DefaultArtifactClient: new () => {
            uploadArtifact(name: string, files: string[], root: string): Promise<{ id?: number }>;
            listArtifacts(): Promise<{ artifacts: Array<{ name: string }> }>;
          };
        }
      ).DefaultArtifactClient();
      const uploaded = await official.uploadArtifact('official-minted', [join(source, 'a.txt')], source);
      expect(uploaded.id).toBeGreaterThan(0);
      expect((await official.listArtifacts()).artifacts.map((a) => a.name)).toEqual(['official-minted']);
    } finally {
      process.env = saved;
    }
    const ferryResults = { resultsUrl: env.server.url, runtimeToken: token };
    expect((await listArtifacts(ferryResults)).map((a) => a.name)).toEqual(['official-minted']);
    const target = join(env.root, 'got');
    await downloadArtifact('official-minted', { ...ferryResults, path: target });
    expect(await readFile(join(target, 'a.txt'), 'utf8')).toBe('from a minted token\n');
    const legacy = { runtimeUrl: env.server.url, runtimeToken: token, runId: 'run-cli' };
    await uploadArtifact('legacy-minted', [join(source, 'a.txt')], source, legacy);
    expect((await listArtifacts(legacy)).map((a) => a.name)).toEqual(['legacy-minted']);
    // The same token against the victim run's legacy URL: refused, typed.
    const refused = await listArtifacts({ ...legacy, runId: VICTIM_RUN }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED' });
    await expectVictimUnchanged();
  });
});
