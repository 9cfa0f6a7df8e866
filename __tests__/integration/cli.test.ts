import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli as ferry } from '../helpers/run-cli.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';

let work: string;
let store: string;
const saved = { ...process.env };

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-cli-'));
  store = path.join(work, 'store');
  for (const key of Object.keys(process.env)) {
    if (/^(ACTIONS_|GITHUB_|FERRY_|HTTPS?_PROXY|NO_PROXY)/i.test(key)) delete process.env[key];
  }
  await mkdir(path.join(work, 'src', 'sub'), { recursive: true });
  await writeFile(path.join(work, 'src', 'a.txt'), 'alpha\n');
  await writeFile(path.join(work, 'src', 'sub', 'b.txt'), 'beta\n');
  await writeFile(path.join(work, 'src', '.hidden'), 'secret');
});
afterAll(async () => {
  process.env = saved;
  await rm(work, { recursive: true, force: true });
});

describe('ferry CLI against the embedded local store', () => {
  it('uploads a directory (hidden files skipped), lists, downloads, and deletes', async () => {
    const up = await ferry('upload', 'demo', path.join(work, 'src'), '--store', store);
    expect(up).toMatchObject({ code: 0 });
    expect(up.stdout).toMatch(/uploaded demo: 2 files/);

    const list = await ferry('list', '--store', store, '--json');
    const events = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.at(-1)).toMatchObject({
      event: 'result',
      artifacts: [expect.objectContaining({ name: 'demo' })],
    });

    const target = path.join(work, 'out');
    expect((await ferry('download', 'demo', '--path', target, '--store', store)).code).toBe(0);
    expect(await readFile(path.join(target, 'sub', 'b.txt'), 'utf8')).toBe('beta\n');
    await expect(readFile(path.join(target, '.hidden'))).rejects.toThrow();

    expect((await ferry('delete', 'demo', '--store', store)).code).toBe(0);
    const gone = await ferry('get', 'demo', '--store', store);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/No artifact named 'demo'/);
  });

  it('merges artifacts without extracting them, with the conflict policy, and deletes the sources', async () => {
    const a = path.join(work, 'merge-a');
    const b = path.join(work, 'merge-b');
    await mkdir(a, { recursive: true });
    await mkdir(b, { recursive: true });
    await writeFile(path.join(a, 'same.txt'), 'same');
    await writeFile(path.join(b, 'same.txt'), 'same');
    await writeFile(path.join(a, 'a.txt'), 'from a');
    await writeFile(path.join(b, 'clash.txt'), 'b version');
    await writeFile(path.join(a, 'clash.txt'), 'a version');
    expect((await ferry('upload', 'part-a', a, '--store', store)).code).toBe(0);
    expect((await ferry('upload', 'part-b', b, '--store', store)).code).toBe(0);

    // The default is overwrite, as the real merge action does; `error` refuses a clash.
    const refused = await ferry(
      'merge',
      'whole',
      '--pattern',
      'part-*',
      '--conflict',
      'error',
      '--store',
      store,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/clash\.txt/);

    const merged = await ferry(
      'merge',
      'whole',
      '--pattern',
      'part-*',
      '--conflict',
      'overwrite',
      '--delete-merged',
      '--store',
      store,
    );
    expect(merged.code).toBe(0);
    expect(merged.stdout).toMatch(/merged 2 artifacts \(part-a, part-b\) into whole/);
    const target = path.join(work, 'merged-out');
    expect((await ferry('download', 'whole', '--path', target, '--store', store)).code).toBe(0);
    expect(await readFile(path.join(target, 'clash.txt'), 'utf8')).toBe('b version');
    expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('from a');
    expect((await ferry('get', 'part-a', '--store', store)).code).toBe(3);
  });

  it('uses exit code 2 for bad usage and invalid input, naming the problem', async () => {
    const noArgs = await ferry('upload');
    expect(noArgs.code).toBe(2);
    expect(noArgs.stderr).toMatch(/needs an artifact NAME/);
    const badLevel = await ferry(
      'upload',
      'x',
      path.join(work, 'src'),
      '--compression-level',
      '12',
      '--store',
      store,
    );
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr).toMatch(/compressionLevel.*12/);
    const badName = await ferry('upload', 'a:b', path.join(work, 'src'), '--store', store);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/':'/);
    expect((await ferry('bogus')).code).toBe(2);
  });

  it('prints help with examples for every command', async () => {
    for (const command of ['upload', 'download', 'list', 'get', 'delete', 'merge', 'doctor', 'serve']) {
      const help = await ferry(command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Usage: ferry/);
      expect(help.stdout).toMatch(/Examples:/);
    }
  });
});

describe('secrets never reach the output of a failing run', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(work, 'serve'), port: 0, token: 'server-token-0000' });
  });
  afterAll(() => server.close());

  it('keeps the runtime token, a SAS signature and a proxy password out of every line', async () => {
    const TOKEN = 'sentinel-runtime-token-42';
    const SIG = 'SENTINELSIGNATURE';
    const PASSWORD = 'sentinel-proxy-pass';
    // Every call fails permanently (no retry sleeps) with a body that echoes the credentials back.
    const proxy = await startFaultProxy(server.url, (req) => ({
      kind: 'respond',
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        message: `boom ${String(req.headers['authorization'])} ?sig=${SIG} ${PASSWORD}`,
      }),
    }));
    try {
      process.env['ACTIONS_RUNTIME_URL'] = `${proxy.url}?sig=${SIG}&sv=1`;
      process.env['ACTIONS_RUNTIME_TOKEN'] = TOKEN;
      process.env['GITHUB_RUN_ID'] = '1';
      process.env['NO_PROXY'] = '*';
      process.env['HTTP_PROXY'] = `http://user:${PASSWORD}@127.0.0.1:9`;
      const result = await ferry(
        'upload',
        'leaky',
        path.join(work, 'src'),
        '--verbose',
        '--concurrency',
        '1',
      );
      expect(result.code).toBe(2);
      const everything = result.stdout + result.stderr;
      expect(everything).toMatch(/400/);
      for (const secret of [TOKEN, SIG, PASSWORD]) expect(everything).not.toContain(secret);
      const json = await ferry('list', '--json');
      for (const secret of [TOKEN, SIG, PASSWORD]) expect(json.stdout + json.stderr).not.toContain(secret);
    } finally {
      for (const key of [
        'ACTIONS_RUNTIME_URL',
        'ACTIONS_RUNTIME_TOKEN',
        'GITHUB_RUN_ID',
        'NO_PROXY',
        'HTTP_PROXY',
      ])
        delete process.env[key];
      await proxy.close();
    }
  });
});

describe('ferry doctor', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(work, 'doctor'), port: 0 });
  });
  afterAll(() => server.close());
  afterEach(() => {
    for (const key of [
      'ACTIONS_RUNTIME_URL',
      'ACTIONS_RUNTIME_TOKEN',
      'GITHUB_RUN_ID',
      'HTTP_PROXY',
      'NO_PROXY',
    ])
      delete process.env[key];
  });

  it('explains the protocol choice, the token and the route to a reachable endpoint', async () => {
    process.env['ACTIONS_RUNTIME_URL'] = server.url;
    process.env['ACTIONS_RUNTIME_TOKEN'] = 'opaque-token-123456';
    process.env['GITHUB_RUN_ID'] = '5';
    const result = await ferry('doctor');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ok {3}protocol: legacy \(ACTIONS_RUNTIME_URL is set/);
    expect(result.stdout).toMatch(/ok {3}runtime service: .* answered HTTP \d+, direct/);
    expect(result.stdout).not.toContain('opaque-token-123456');
  });

  it('names an unreachable endpoint and the proxy route in one line, exit code 1', async () => {
    process.env['ACTIONS_RUNTIME_URL'] = 'http://127.0.0.1:9/';
    process.env['ACTIONS_RUNTIME_TOKEN'] = 'opaque-token-123456';
    process.env['GITHUB_RUN_ID'] = '5';
    process.env['HTTP_PROXY'] = 'http://user:doctor-secret@127.0.0.1:9';
    const result = await ferry('doctor', '--json');
    expect(result.code).toBe(1);
    const event = JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as {
      checks: Array<{ name: string; ok: boolean; detail: string }>;
    };
    const endpoint = event.checks.find((c) => c.name === 'runtime service');
    expect(endpoint).toMatchObject({ ok: false });
    expect(endpoint?.detail).toMatch(/unreachable via http:\/\/.*127\.0\.0\.1:9/);
    expect(result.stdout).not.toContain('doctor-secret');
  });

  it('reports the embedded store when there is no runner', async () => {
    const result = await ferry('doctor', '--store', store);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('no runner environment');
  });
});
