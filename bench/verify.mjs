// Compares a downloaded tree with the workload manifest: the same set of paths, and for each
// file the same size and SHA-256. Anything extra in the tree (a leftover staging directory, a
// stray temp file) is a mismatch too.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Relative '/'-separated paths of every non-directory entry below `dir`. */
export async function listTree(dir) {
  const out = [];
  const walk = async (rel) => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(childRel);
      else out.push(childRel);
    }
  };
  await walk('');
  return out.sort();
}

function hashFile(abs) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    createReadStream(abs, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => {
        size += chunk.length;
        hash.update(chunk);
      })
      .on('error', reject)
      .on('end', () => resolve({ size, sha256: hash.digest('hex') }));
  });
}

/** Returns `{ ok, problems: string[] }`; `problems` names at most a few differences. */
export async function verifyTree(dir, manifest) {
  const problems = [];
  const expected = new Map(manifest.files.map((f) => [f.path, f]));
  const actual = await listTree(dir);
  const actualSet = new Set(actual);
  for (const rel of actual) if (!expected.has(rel)) problems.push(`unexpected file ${rel}`);
  for (const rel of expected.keys()) if (!actualSet.has(rel)) problems.push(`missing file ${rel}`);
  // Hash with a little parallelism; W1 has 10,000 small files.
  const present = manifest.files.filter((f) => actualSet.has(f.path));
  let next = 0;
  const worker = async () => {
    while (next < present.length) {
      const f = present[next++];
      const got = await hashFile(path.join(dir, f.path));
      if (got.size !== f.size) problems.push(`${f.path}: size ${got.size}, expected ${f.size}`);
      else if (got.sha256 !== f.sha256) problems.push(`${f.path}: content differs (sha256)`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { ok: problems.length === 0, problems: problems.slice(0, 5), problemCount: problems.length };
}
