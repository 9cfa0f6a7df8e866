// Starts `ferry serve` (the compiled CLI in lib/, `npm run build` first) as a child process for
// the benches that need a real server process: the URL it prints, a stop that sends SIGTERM (the
// graceful drain) and waits for the exit, and the diagnostics it wrote to stderr.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'cli', 'bin.js');

/** `args` follow `ferry serve`; `env` is added to this process's environment. */
export async function startFerryServe(args, env = {}) {
  const child = spawn(process.execPath, [bin, 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  // A failed measurement must not leave the server running.
  process.once('exit', () => child.kill());
  const diagnostics = [];
  createInterface({ input: child.stderr }).on('line', (line) => diagnostics.push(line));
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`ferry serve exited with ${code}: ${diagnostics.join('\n')}`)),
    );
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  // Without the trailing slash, so callers can append the protocols' absolute paths.
  return { url: url.trim().replace(/\/+$/, ''), stop, diagnostics };
}
