// `--busy`: keeps one core loaded by another process for the whole run, as a CI runner that
// builds while it transfers. The load is a separate process (not a thread of the bench or of the
// client), so it competes for a core exactly as an unrelated compiler would.
import { spawn } from 'node:child_process';

/** sha256 over and over: pure CPU, no memory growth, no I/O. */
const SPIN = `const { createHash } = require('node:crypto');
const block = Buffer.alloc(1 << 20, 7);
for (;;) createHash('sha256').update(block).digest();`;

/** Starts the spinning process; resolves with `{ pid, stop() }` once it is running. */
export async function startBusyCore() {
  const child = spawn(process.execPath, ['-e', SPIN], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  return {
    pid: child.pid,
    /** True while it still spins (checked before every measurement). */
    alive: () => !exited,
    stop: async () => {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
  };
}
