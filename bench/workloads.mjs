// The four benchmark workloads, generated deterministically into the cache directory (.bench/,
// gitignored) and reused while their manifest is intact. A manifest lists every file with its
// size and SHA-256; downloads are verified against it.
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { createRandomBytes, createRng } from './prng.mjs';
import { createLogText, sourceText } from './text.mjs';

/** Bump when a generator changes, so stale caches are regenerated. */
const FORMAT_VERSION = 1;
const MiB = 1024 * 1024;
const WRITE_CHUNK = 8 * MiB;

export const WORKLOADS = {
  W1: {
    title: '10,000 files of 1-16 KiB source-like text in nested dirs',
    generate: genW1,
  },
  W2: { title: 'one 512 MiB random file', generate: genW2 },
  W3: { title: 'one 512 MiB log-like text file', generate: genW3 },
  W4: { title: '300 files of 1 MiB, half text, half random', generate: genW4 },
};

/**
 * Returns `{ name, title, root, files: [{path, size, sha256}], totalBytes }` for workload `name`
 * at `scale`, generating it under `cacheDir` first if it is missing or incomplete.
 */
export function ensureWorkload(name, scale, cacheDir, log = () => {}) {
  const spec = WORKLOADS[name];
  if (!spec) throw new Error(`Unknown workload ${name}; known: ${Object.keys(WORKLOADS).join(', ')}`);
  const dir = path.join(cacheDir, scale === 1 ? name : `${name}-x${scale}`);
  const root = path.join(dir, 'files');
  const manifestPath = path.join(dir, 'manifest.json');
  const cached = readManifest(manifestPath, root, name, scale);
  if (cached) return { ...cached, title: spec.title, root };

  log(`generating ${name} (scale ${scale}) in ${path.relative(process.cwd(), dir)} ...`);
  const started = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const files = spec.generate(root, scale);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest = {
    version: FORMAT_VERSION,
    name,
    scale,
    totalBytes: files.reduce((sum, f) => sum + f.size, 0),
    files,
  };
  writeFileSync(`${manifestPath}.tmp`, JSON.stringify(manifest));
  renameSync(`${manifestPath}.tmp`, manifestPath);
  log(
    `generated ${name}: ${files.length} file${files.length === 1 ? '' : 's'}, ${(manifest.totalBytes / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { ...manifest, title: spec.title, root };
}

function readManifest(manifestPath, root, name, scale) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return undefined;
  }
  if (manifest.version !== FORMAT_VERSION || manifest.name !== name || manifest.scale !== scale)
    return undefined;
  // Cheap integrity check: every file is there with its size (contents are checked on download).
  for (const f of manifest.files) {
    try {
      if (statSync(path.join(root, f.path)).size !== f.size) return undefined;
    } catch {
      return undefined;
    }
  }
  return manifest;
}

/** Writes `data` (string or Buffer) to `root/rel` and returns its manifest entry. */
function writeSmall(root, rel, data) {
  const abs = path.join(root, rel);
  mkdirSync(path.dirname(abs), { recursive: true });
  const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  writeFileSync(abs, buf);
  return { path: rel, size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}

/** Streams `size` bytes to `root/rel`; `next(n)` returns the next piece (string or Buffer, about n bytes). */
function writeLarge(root, rel, size, next) {
  const abs = path.join(root, rel);
  mkdirSync(path.dirname(abs), { recursive: true });
  const hash = createHash('sha256');
  const fd = openSync(abs, 'w');
  try {
    let done = 0;
    while (done < size) {
      let buf = next(Math.min(WRITE_CHUNK, size - done));
      if (typeof buf === 'string') buf = Buffer.from(buf, 'latin1');
      if (buf.length > size - done) buf = buf.subarray(0, size - done);
      hash.update(buf);
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      done += buf.length;
    }
  } finally {
    closeSync(fd);
  }
  return { path: rel, size, sha256: hash.digest('hex') };
}

const PACKAGES = ['core', 'api', 'cli', 'server', 'transport', 'pack', 'store', 'util', 'auth', 'ui'];

/** W1: 10,000 files of 1-16 KiB (uniform) source-like text, three directory levels deep. */
function genW1(root, scale) {
  const rng = createRng('W1');
  const count = Math.max(1, Math.round(10000 * scale));
  const files = [];
  for (let i = 0; i < count; i++) {
    const pkg = PACKAGES[i % PACKAGES.length];
    const mod = `mod${String(Math.floor(i / PACKAGES.length) % 20).padStart(2, '0')}`;
    const sub = i % 3 === 0 ? '' : `/${['lib', 'internal'][i % 2]}`;
    const rel = `src/${pkg}/${mod}${sub}/file${String(i).padStart(5, '0')}.ts`;
    files.push(writeSmall(root, rel, sourceText(rng, rng.range(1024, 16 * 1024))));
  }
  return files;
}

/** W2: one 512 MiB file of incompressible bytes. */
function genW2(root, scale) {
  const random = createRandomBytes('W2');
  return [writeLarge(root, 'random.bin', Math.round(512 * MiB * scale), (n) => random.fill(n))];
}

/** W3: one 512 MiB log file. */
function genW3(root, scale) {
  const logText = createLogText(createRng('W3'));
  return [writeLarge(root, 'logs/build.log', Math.round(512 * MiB * scale), (n) => logText.chunk(n))];
}

/** W4: 300 files of 1 MiB; even ones source-like text, odd ones random bytes. */
function genW4(root, scale) {
  const rng = createRng('W4');
  const random = createRandomBytes('W4');
  const count = Math.max(2, Math.round(300 * scale));
  const files = [];
  for (let i = 0; i < count; i++) {
    const text = i % 2 === 0;
    const rel = `out/part-${String(i).padStart(3, '0')}.${text ? 'txt' : 'bin'}`;
    files.push(writeSmall(root, rel, text ? sourceText(rng, MiB) : random.fill(MiB)));
  }
  return files;
}
