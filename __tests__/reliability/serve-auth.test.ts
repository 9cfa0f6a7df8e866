/**
 * Reliability section S: `ferry serve` against clients that hold some credential and try to
 * reach what it does not grant (issue 10, items 9 and 10, and beyond). Every request goes over a
 * real loopback socket (node:http or a raw net socket) to a real ferry serve started with an
 * HS256 key and the operator's shared token; the shared token is only used to check from outside
 * that the victim run's artifacts are unchanged. Every test ends by scanning the server's log
 * for every credential it handed out.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { startServer } from '../../src/server/index.js';
import { rawRequest } from '../helpers/server-fixture.js';
import {
  ADMIN,
  SECRET,
  bearer,
  expectNoCredentialInLog,
  ids,
  nowSeconds,
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
