import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { builtLibrary } from '../helpers/built-lib.js';
import { artifactsUrl, chunkUrl, contentRange, rawRequest } from '../helpers/server-fixture.js';

const TOKEN = 'cli-operate-token-8c1d';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const RUN = '4242';

let work: string;
let child: ChildProcess | undefined;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ferry-serve-cli-'));
}, 240_000);
afterEach(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** `ferry serve` of the library compiled from src/, in a child; resolves with its URL and its stderr lines. */
async function serve(
  args: string[],
): Promise<{ url: string; stderr: string[]; exited: Promise<number | null> }> {
  const bin = path.join(path.dirname(await builtLibrary()), 'cli', 'bin.js');
  const proc = spawn(
    process.execPath,
    [bin, 'serve', '--data', path.join(work, randomBytes(4).toString('hex')), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FERRY_TOKEN: TOKEN },
    },
  );
  child = proc;
  const stderr: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    void exited.then((code) => reject(new Error(`ferry serve exited with ${code}: ${stderr.join('\n')}`)));
  });
  return { url, stderr, exited };
}

describe('ferry serve as an operator runs it', () => {
  it('--access-log json writes one JSON object per line on stderr; SIGTERM lets an upload in flight finish, then exits 0', async () => {
    const { url, stderr, exited } = await serve([
      '--port',
      '0',
      '--access-log',
      'json',
      '--instance-id',
      'cli-1',
    ]);
    const status = await rawRequest('GET', `${url}status`, { headers: AUTH });
    expect(status.json()).toMatchObject({ status: 'ok', instance: 'cli-1' });

    const created = await rawRequest('POST', artifactsUrl({ url } as never, RUN), {
      headers: { 'Content-Type': 'application/json', ...AUTH },
      body: JSON.stringify({ Type: 'actions_storage', Name: 'drained' }),
    });
    const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
    const data = randomBytes(100_000);
    const req = http.request(chunkUrl(container, 'drained/f.bin'), {
      method: 'PUT',
      agent: false,
      headers: {
        ...AUTH,
        'Content-Type': 'application/octet-stream',
        'Content-Length': data.length,
        'Content-Range': contentRange(0, data.length, data.length),
      },
    });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    req.write(data.subarray(0, 50_000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    child!.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    req.end(data.subarray(50_000));
    expect(await answered).toBe(200);
    expect(await exited).toBe(0);

    const objects = stderr
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects).toContainEqual(expect.objectContaining({ type: 'access', route: 'status', status: 200 }));
    expect(objects).toContainEqual(
      expect.objectContaining({
        type: 'access',
        route: 'legacy_container',
        method: 'PUT',
        status: 200,
        cut: false,
      }),
    );
    expect(objects).toContainEqual(
      expect.objectContaining({
        type: 'log',
        level: 'warn',
        message: expect.stringMatching(/^listing index "results" started cold/),
      }),
    );
    expect(stderr.join('\n')).not.toContain(TOKEN);
    expect(stderr.join('\n')).toContain('SIGTERM: finishing requests in flight, then stopping');
  }, 240_000);

  it('--access-log rejects an unknown format', async () => {
    await expect(serve(['--access-log', 'xml'])).rejects.toThrow(
      /--access-log must be one of json, text, off/,
    );
  }, 240_000);
});
