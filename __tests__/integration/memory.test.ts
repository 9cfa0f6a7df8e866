import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';

const CLI = path.resolve('dist/cli.js');
const MIB = 1024 * 1024;
/** The bound for default settings; the files below are larger than it. */
const RSS_LIMIT_MIB = 200;

let work: string;
let server: RunningServer;

/** Runs the bundled CLI in a child process and reports its peak RSS (MiB). */
function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; rssMiB: number; stderr: string }> {
  // VmHWM, not resourceUsage().maxRSS: a child spawned by vfork+exec inherits the maxRSS of
  // the jest worker's address space, so maxRSS would report the worker's peak, not the CLI's.
  const hook = `data:text/javascript,${encodeURIComponent(
    'import { readFileSync } from "node:fs";' +
      'process.on("exit", () => process.stderr.write("MAXRSS=" + /^VmHWM:\\s+(\\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))[1] + "\\n"));',
  )}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', hook, CLI, ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: work, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const kib = Number(/MAXRSS=(\d+)/.exec(stderr)?.[1] ?? 'NaN');
      resolve({ code: code ?? -1, rssMiB: kib / 1024, stderr });
    });
  });
}

async function writeBigFiles(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const log = await open(path.join(dir, 'big.log'), 'w');
  const line = (i: number) =>
    `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z INFO worker-${i % 7} handled request id=${i} in ${i % 97} ms\n`;
  let block = '';
  for (let i = 0; block.length < MIB; i++) block += line(i);
  for (let i = 0; i < 240; i++) await log.write(block);
  await log.close();
  const bin = await open(path.join(dir, 'big.bin'), 'w');
  for (let i = 0; i < 80; i++) await bin.write(randomBytes(MIB));
  await bin.close();
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-memory-'));
  await writeBigFiles(path.join(work, 'src'));
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0 });
}, 120_000);
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const built = existsSync(CLI) ? describe : describe.skip;

built('peak memory stays bounded whatever the artifact size (bundled CLI, child process)', () => {
  it.each([
    ['legacy', (url: string) => ['--url', url]],
    ['embedded results store', () => ['--store', path.join(work, 'store')]],
  ])(
    '%s: 320 MiB up and down (240 MiB log + 80 MiB random) under the RSS bound, bytes intact',
    async (label, target) => {
      const extra = target(server.url);
      const up = await runCli(['upload', 'big', path.join(work, 'src'), '--quiet', ...extra]);
      expect(up.stderr).not.toMatch(/error:/);
      expect(up.code).toBe(0);
      expect(up.rssMiB).toBeLessThan(RSS_LIMIT_MIB);

      const out = path.join(work, `out-${label.replace(/\W+/g, '-')}`);
      const down = await runCli(['download', 'big', '--path', out, '--quiet', ...extra]);
      expect(down.code).toBe(0);
      expect(down.rssMiB).toBeLessThan(RSS_LIMIT_MIB);
      for (const name of ['big.log', 'big.bin']) {
        expect(await sha256(path.join(out, name))).toBe(await sha256(path.join(work, 'src', name)));
      }
    },
    240_000,
  );
});
