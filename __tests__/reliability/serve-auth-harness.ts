import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/index.js';
import { mintRunnerToken } from '../../src/server/http/mint-token.js';
import { md5Base64, rawRequest, type RawResponse } from '../helpers/server-fixture.js';

/** The HS256 secret the hostile-client tests run ferry serve with. */
export const SECRET = Buffer.from('serve-auth-test-secret-0123456789abcdef', 'utf8');
/** The operator's shared token: full access, used to check the victim's state from outside. */
export const ADMIN = 'ADMINsharedTOKEN-serve-auth-0123456789';
export const RPC = 'twirp/github.actions.results.api.v1.ArtifactService/';

export interface AuthServer {
  server: RunningServer;
  root: string;
  /** Every request log line the server wrote. */
  log: string[];
  /** Every credential handed out in the test, to prove none reaches the log. */
  secrets: string[];
  /** An HS256 token for `run`/`job`, registered as a secret. */
  token(run: string, job: string, ttlMs?: number): string;
  close(): Promise<void>;
}

/** `token: undefined` starts the server without the shared token (JWT keys only). */
export type AuthServerOptions = Omit<Partial<ServerOptions>, 'token'> & { token?: string | undefined };

export async function startAuthServer(extra: AuthServerOptions = {}): Promise<AuthServer> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-serve-auth-'));
  const log: string[] = [];
  const secrets: string[] = [ADMIN, SECRET.toString('utf8')];
  const { token = 'token' in extra ? undefined : ADMIN, ...rest } = extra;
  const server = await startServer({
    dataDir: join(root, 'data'),
    jwt: { secrets: [SECRET] },
    log: (line) => log.push(line),
    ...rest,
    ...(token === undefined ? {} : { token }),
  });
  return {
    server,
    root,
    log,
    secrets,
    token(run, job, ttlMs = 60 * 60 * 1000) {
      const { token } = mintRunnerToken({ run, job, ttlMs, secret: SECRET });
      secrets.push(token);
      return token;
    },
    async close() {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Fails if any credential (whole, or its signature part) shows up in the server's log. */
export function expectNoCredentialInLog(env: AuthServer): void {
  const text = env.log.join('\n');
  for (const secret of env.secrets) {
    const needles = [secret, secret.split('.').at(-1) ?? secret].filter((n) => n.length >= 16);
    for (const needle of needles) {
      if (text.includes(needle))
        throw new Error(`a credential leaked into the server log (${needle.slice(0, 6)}…)`);
    }
  }
}

/** A JWT signed with an asymmetric key: RS256 (RSA PKCS#1 v1.5) or ES256 (P-256, r||s). */
export function signAsymmetric(
  alg: 'RS256' | 'ES256',
  payload: Record<string, unknown>,
  privateKey: KeyObject,
): string {
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  const signature =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), privateKey)
      : sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** Any header and payload with any signature bytes: for forged and malformed tokens. */
export function rawJwt(header: unknown, payload: unknown, signature = ''): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

export const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
export const scope = (run: string, job: string): string => `Actions.Results:${run}:${job}`;

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** A Twirp JSON call with node:http. */
export function rpc(
  server: RunningServer,
  method: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return rawRequest('POST', `${server.url}${RPC}${method}`, {
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export const ids = (run: string, job: string): Record<string, string> => ({
  workflow_run_backend_id: run,
  workflow_job_run_backend_id: job,
});

export const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Uploads a finalized results artifact the way a client does; returns its id and bytes. */
export async function uploadResults(
  server: RunningServer,
  token: string,
  run: string,
  job: string,
  name: string,
  data: Buffer = randomBytes(1000),
): Promise<{ id: string; data: Buffer; uploadUrl: string }> {
  const created = await rpc(server, 'CreateArtifact', { ...ids(run, job), name, version: 4 }, bearer(token));
  if (created.status !== 200) throw new Error(`CreateArtifact ${created.status} ${created.body.toString()}`);
  const uploadUrl = created.json<{ signed_upload_url: string }>().signed_upload_url;
  const put = await rawRequest('PUT', uploadUrl, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': data.length, 'Content-MD5': md5Base64(data) },
    body: data,
  });
  if (put.status !== 201) throw new Error(`Put Blob ${put.status}`);
  const fin = await rpc(
    server,
    'FinalizeArtifact',
    { ...ids(run, job), name, size: String(data.length), hash: `sha256:${sha256(data)}` },
    bearer(token),
  );
  if (fin.status !== 200) throw new Error(`FinalizeArtifact ${fin.status} ${fin.body.toString()}`);
  return { id: fin.json<{ artifact_id: string }>().artifact_id, data, uploadUrl };
}

/** What a run holds, seen with the admin token: names, ids, digests and the downloaded bytes' hashes. */
export async function resultsState(server: RunningServer, run: string): Promise<unknown[]> {
  const listed = await rpc(server, 'ListArtifacts', ids(run, 'any'), bearer(ADMIN));
  const artifacts = listed.json<{
    artifacts: Array<{ name: string; database_id: string; digest?: string }>;
  }>().artifacts;
  const state: unknown[] = [];
  for (const a of artifacts) {
    const signed = await rpc(
      server,
      'GetSignedArtifactURL',
      { ...ids(run, 'any'), name: a.name },
      bearer(ADMIN),
    );
    const blob = await rawRequest('GET', signed.json<{ signed_url: string }>().signed_url);
    state.push({ name: a.name, id: a.database_id, digest: a.digest, bytes: sha256(blob.body) });
  }
  return state;
}

/** Sends bytes exactly as given on a fresh socket and returns the status code and the raw answer. */
export function rawExchange(port: number, request: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text);
      if (head !== -1 && length && text.length >= head + 4 + Number(length[1])) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.write(request);
  });
}
