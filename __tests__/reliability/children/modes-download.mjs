// Child process for X15 (__tests__/reliability/modes.test.ts): runs under the umask the parent's
// shell set, downloads one artifact with the library compiled from src/ (FERRY_LIBRARY) and prints one JSON line: the
// umask before and after importing the library (from /proc/self/status, which reads it without
// setting it), the mode of every file and directory written, and the mode of a file this process
// creates itself (the default creation mode), or the error.
//
// Usage: node modes-download.mjs '<json: { name, path, options }>'
import { lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(process.argv[2] ?? '{}');
const umask = () => /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
const before = umask();
const lib = await import(pathToFileURL(process.env.FERRY_LIBRARY ?? 'FERRY_LIBRARY is not set').href);
const afterImport = umask();

const probe = path.join(path.dirname(spec.path), `probe-${process.pid}`);
writeFileSync(probe, '');
const defaultFileMode = lstatSync(probe).mode & 0o7777;
rmSync(probe);

const modes = {};
const walk = (dir, prefix) => {
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const key = prefix ? `${prefix}/${name}` : name;
    const stats = lstatSync(full);
    modes[key] = (stats.mode & 0o7777).toString(8);
    if (stats.isDirectory()) walk(full, key);
  }
};
try {
  await lib.downloadArtifact(spec.name, { ...spec.options, path: spec.path });
  walk(spec.path, '');
  process.stdout.write(
    `${JSON.stringify({ before, afterImport, defaultFileMode: defaultFileMode.toString(8), modes })}\n`,
  );
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ before, afterImport, error: { code: error.code, message: error.message } })}\n`,
  );
}
