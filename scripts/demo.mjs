// The README's first command: upload a real directory to the embedded local store, download
// it somewhere else, and compare every byte. No runner, no network.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const source = process.argv[2] ?? 'src';
const work = mkdtempSync(path.join(os.tmpdir(), 'ferry-demo-'));
const store = path.join(work, 'store');
const out = path.join(work, 'out');
const ferry = (...args) =>
  execFileSync(process.execPath, ['dist/cli.js', ...args, '--store', store], { stdio: 'inherit' });

try {
  ferry('upload', 'demo', source);
  ferry('list');
  ferry('download', 'demo', '--path', out);
  const files = (dir) =>
    readdirSync(dir, { recursive: true })
      .map(String)
      .filter(
        (f) => statSync(path.join(dir, f)).isFile() && !f.split(path.sep).some((p) => p.startsWith('.')),
      )
      .sort();
  const expected = files(source);
  const got = files(out);
  const same =
    expected.length === got.length &&
    expected.every(
      (f, i) => f === got[i] && readFileSync(path.join(source, f)).equals(readFileSync(path.join(out, f))),
    );
  console.log(
    same ? `demo ok: ${expected.length} files round-tripped byte for byte` : 'demo FAILED: contents differ',
  );
  process.exitCode = same ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
