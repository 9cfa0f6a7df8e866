import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Everything that decides what `tsc -p tsconfig.build.json` emits. */
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];
/** Under node_modules, so the compiled copy resolves the package's dependencies as lib/ does. */
const CACHE = path.resolve('node_modules/.cache/ferry-lib');
/** Copies for an older src/ that nobody has used for this long are removed. */
const PRUNE_AFTER_MS = 30 * 60 * 1000;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** sha256 over the path and bytes of every build input: the cache key of one compiled copy. */
async function buildKey(): Promise<string> {
  const files = [...(await sourceFiles('src')), ...INPUTS].sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(await readFile(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

async function pruneOthers(keep: string): Promise<void> {
  for (const name of await readdir(CACHE).catch(() => [])) {
    if (name === keep) continue;
    const dir = path.join(CACHE, name);
    const info = await stat(dir).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > PRUNE_AFTER_MS) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The path of `index.js` of the library compiled from the current src/ exactly as
 * `npm run build` compiles lib/ (tsc -p tsconfig.build.json), for tests that must run the
 * library in a process of their own. Tests never use lib/ itself: a fresh clone has none (the
 * README runs `npm test` with nothing built) and an earlier build may be stale. Copies are keyed
 * by the content of src/ and the build settings, so a second run with the same sources (or a
 * concurrent jest worker) reuses one; a build lands in a temporary directory and is renamed into
 * place, so nobody ever sees a half-written copy.
 */
export async function builtLibrary(): Promise<string> {
  const key = await buildKey();
  const target = path.join(CACHE, key);
  const index = path.join(target, 'index.js');
  if (existsSync(index)) {
    // Marks the copy as in use, so a run with other sources does not prune it (see pruneOthers).
    await utimes(target, new Date(), new Date()).catch(() => undefined);
    return index;
  }

  await mkdir(CACHE, { recursive: true });
  const scratch = path.join(CACHE, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await execFileP(
      process.execPath,
      [path.resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', scratch],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    // Node stops looking for a package.json at node_modules: say that these .js files are ESM.
    await writeFile(path.join(scratch, 'package.json'), '{ "type": "module" }\n');
    await rename(scratch, target).catch((error: NodeJS.ErrnoException) => {
      // A concurrent build of the same sources got there first; its copy is identical.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } catch (error) {
    const out = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`compiling src/ with tsc failed: ${out.stdout ?? ''}${out.stderr ?? ''}${out.message}`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await pruneOthers(key);
  return index;
}
