import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';

/** The file tree every interop test moves: the edge cases of both protocols in one artifact. */
export async function writeEdgeCaseTree(root: string): Promise<string[]> {
  const files: Record<string, Buffer> = {
    'small.txt': Buffer.from('hello artifact\n'.repeat(20)),
    'empty.txt': Buffer.alloc(0),
    'nested/deeper/leaf.json': Buffer.from(JSON.stringify({ a: 1, b: [1, 2, 3] })),
    'with space/a b.txt': Buffer.from('space'),
    'odd/hash#pct%plus+.txt': Buffer.from('odd characters'),
    '中文/文件.txt': Buffer.from('CJK 内容'),
    'random-small.bin': randomBytes(10_000),
    // Larger than one chunk of either client (official 8 MiB, Ferry 4 MiB by default).
    'big/log.txt': Buffer.from('2026-01-01T00:00:00Z INFO request handled in 12 ms id=42\n'.repeat(170_000)),
    'big/random.bin': randomBytes(9 * 1024 * 1024 + 123),
    'already/compressed.gz': gzipSync(Buffer.from('zipped text '.repeat(20_000))),
    'already/archive.zip': randomBytes(100_000),
  };
  const written: string[] = [];
  for (const [relative, data] of Object.entries(files)) {
    const full = path.join(root, relative);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, data);
    written.push(full);
  }
  return written;
}

/** sha256 of every regular file under `root`, keyed by '/'-separated relative path. */
export async function hashTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(root, full).split(path.sep).join('/');
    out[rel] = createHash('sha256')
      .update(await readFile(full))
      .digest('hex');
  }
  return out;
}
