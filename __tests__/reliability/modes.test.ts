/**
 * Reliability case X15: modes from an archive land under the umask, never setuid, setgid or
 * sticky, and `restoreModes: false` gives default creation modes. Each download runs in a child
 * process (children/modes-download.mjs, the built lib/) whose umask its shell set, so the umask is
 * really the process's own; the child also proves that importing Ferry leaves the umask alone.
 */
import { builtLibrary } from '../helpers/built-lib.js';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startFixture, type ServerFixture } from '../helpers/server-fixture.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { buildZip } from '../helpers/zip-builder.js';

const RUN = 'run-modes';
const JOB = 'job-modes';
const TOKEN = runtimeJwt(RUN, JOB);
const TWIRP = '/twirp/github.actions.results.api.v1.ArtifactService/';
const CHILD = path.resolve('__tests__/reliability/children/modes-download.mjs');
let library: string;

let work: string;
let fixture: ServerFixture;

async function rpc<T>(method: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${fixture.server.url}${TWIRP.slice(1)}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB, ...body }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Publishes `bytes` as a finalized zip artifact on ferry serve, exactly as given. */
async function publish(name: string, bytes: Buffer): Promise<void> {
  const { signed_upload_url: url } = await rpc<{ signed_upload_url: string }>('CreateArtifact', {
    name,
    version: 7,
    mime_type: 'application/zip',
  });
  const put = await fetch(url, {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-blob-content-type': 'application/zip' },
    body: bytes,
  });
  if (put.status !== 201) throw new Error(`Put Blob: HTTP ${put.status}`);
  const hash = createHash('sha256').update(bytes).digest('hex');
  await rpc('FinalizeArtifact', { name, size: String(bytes.length), hash: `sha256:${hash}` });
}

interface ChildReport {
  before: string;
  afterImport: string;
  defaultFileMode?: string;
  modes?: Record<string, string>;
  error?: { code: string; message: string };
}

/** Downloads `name` in a child whose shell set `umask`. */
async function downloadUnderUmask(
  umask: string,
  name: string,
  target: string,
  options: Record<string, unknown> = {},
): Promise<ChildReport> {
  const spec = JSON.stringify({
    name,
    path: target,
    options: { resultsUrl: fixture.server.url, runtimeToken: TOKEN, tempDir: work, ...options },
  });
  const { stdout } = await promisify(execFile)(
    'bash',
    ['-c', `umask ${umask} && exec "$0" "$1" "$2"`, process.execPath, CHILD, spec],
    { timeout: 60_000, env: { ...process.env, FERRY_LIBRARY: library } },
  );
  return JSON.parse(stdout) as ChildReport;
}

const maybe = process.platform === 'linux' ? describe : describe.skip;

maybe('X15 archive modes under the umask', () => {
  beforeAll(async () => {
    // The library compiled from src/ (nothing needs to be built beforehand).
    library = await builtLibrary();
    work = await mkdtemp(path.join(os.tmpdir(), 'ferry-rel-modes-'));
    fixture = await startFixture({ token: TOKEN });
    await publish(
      'modes',
      buildZip([
        { name: 'open.sh', data: '#!/bin/sh\n', mode: 0o777 },
        { name: 'setuid', data: 'x', mode: 0o4755 },
        { name: 'shared.txt', data: 'y', mode: 0o666 },
        { name: 'sticky-dir/', directory: true, mode: 0o1777 },
        { name: 'sticky-dir/setgid', data: 'z', mode: 0o2775 },
      ]),
    );
  }, 60_000);
  afterAll(async () => {
    await fixture?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('[X15] under umask 022: 0777, 04755 and 0666 land as 0755, 0755 and 0644; no setuid, setgid or sticky bit; importing Ferry leaves the umask alone', async () => {
    const report = await downloadUnderUmask('022', 'modes', path.join(work, 'u022'));
    expect(report.error).toBeUndefined();
    expect(report.before).toBe('0022');
    expect(report.afterImport).toBe('0022');
    expect(report.modes).toEqual({
      'open.sh': '755',
      setuid: '755',
      'shared.txt': '644',
      'sticky-dir': '755',
      'sticky-dir/setgid': '755',
    });
  });

  test('[X15] under umask 077 the archive cannot widen access: everything is owner-only', async () => {
    const report = await downloadUnderUmask('077', 'modes', path.join(work, 'u077'));
    expect(report.error).toBeUndefined();
    expect(report.afterImport).toBe('0077');
    expect(report.modes).toEqual({
      'open.sh': '700',
      setuid: '700',
      'shared.txt': '600',
      'sticky-dir': '700',
      'sticky-dir/setgid': '700',
    });
  });

  test('[X15] restoreModes: false gives every file the default creation mode (0666 minus the umask)', async () => {
    const report = await downloadUnderUmask('022', 'modes', path.join(work, 'off'), { restoreModes: false });
    expect(report.error).toBeUndefined();
    expect(report.defaultFileMode).toBe('644');
    expect(report.modes).toEqual({
      'open.sh': '644',
      setuid: '644',
      'shared.txt': '644',
      'sticky-dir': '755',
      'sticky-dir/setgid': '644',
    });
  });

  test('[X15] restoreModes must be a boolean', async () => {
    const report = await downloadUnderUmask('022', 'modes', path.join(work, 'bad'), { restoreModes: 'no' });
    expect(report.error).toEqual({
      code: 'ERR_FERRY_INVALID_OPTION',
      message: expect.stringMatching(/Option 'restoreModes' must be a boolean/) as unknown as string,
    });
  });
});
