import { link, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import type { CacheHit } from '../../cache/index.js';
import { entryPath } from '../../cache/layout.js';
import type { OperationContext, VerifiedBlob } from '../backend.js';
import { CacheTee } from './cache-tee.js';

/** What the download cache is keyed by: the listed digest and size. */
export interface CacheKey {
  digest: string;
  size: number;
}

/**
 * The cache key of a download, or undefined when the cache does not apply: no cache configured,
 * no listed digest or size (nothing to check a cached copy against), or a download that keeps
 * the zip as is (the cache holds archives that were extracted).
 */
export function cacheKeyOf(
  ctx: OperationContext,
  expectedHex: string | undefined,
  listedSize: number | undefined,
  skipDecompress: boolean,
): CacheKey | undefined {
  if (!ctx.cache || expectedHex === undefined || listedSize === undefined || skipDecompress) return undefined;
  return { digest: `sha256:${expectedHex}`, size: listedSize };
}

/**
 * A verified cached copy (the cache re-hashes it), or undefined: a miss, or a cache that failed,
 * which is a warning (the artifact is then downloaded as without a cache).
 */
export async function lookupCached(ctx: OperationContext, key: CacheKey): Promise<CacheHit | undefined> {
  const cache = ctx.cache;
  if (!cache) return undefined;
  const hit = await cache.lookup(key.digest, key.size).catch((error: unknown) => {
    ctx.logger.warn(
      `The download cache at ${cache.path} failed on lookup (${error instanceof Error ? error.message : String(error)}); downloading`,
    );
    return undefined;
  });
  if (hit) ctx.stats?.cacheHit(key.size);
  else ctx.stats?.cacheMiss();
  return hit;
}

/** The insert of a miss, fed while the blob downloads. */
export function cacheTeeFor(ctx: OperationContext, key: CacheKey): CacheTee | undefined {
  return ctx.cache ? new CacheTee(ctx.cache, key.digest, key.size, ctx.logger) : undefined;
}

/**
 * The cached entry as a file in a fresh temporary directory, for the normal extraction path.
 * A hard link when the entry is still the inode that was verified (no copy, and eviction of the
 * entry meanwhile cannot touch it); otherwise (another filesystem, the entry evicted or
 * replaced since) a copy of the verified bytes read through the hit's open handle.
 */
export async function cachedBlob(hit: CacheHit, cacheRoot: string, tempDir: string): Promise<VerifiedBlob> {
  const entryFile = entryPath(cacheRoot, hit.digest.replace(/^sha256:/, ''));
  await mkdir(tempDir, { recursive: true });
  const work = await mkdtemp(path.join(tempDir, 'ferry-cached-'));
  let disposed: Promise<void> | undefined;
  const dispose = (): Promise<void> => (disposed ??= rm(work, { recursive: true, force: true }));
  const file = path.join(work, 'blob');
  try {
    const held = await hit.handle.stat();
    const linked = await link(entryFile, file).then(
      () => true,
      () => false,
    );
    const same = linked && (await stat(file).then((s) => s.ino === held.ino && s.dev === held.dev));
    if (!same) {
      await rm(file, { force: true });
      await pipeline(hit.stream(), createWriteStream(file, { flags: 'wx' }));
    }
    const hex = hit.digest.replace(/^sha256:/, '');
    return {
      file,
      size: hit.size,
      sha256: hex,
      // Only archives are inserted (see downloadSignedArtifact).
      contentType: 'application/zip',
      contentDisposition: undefined,
      digestMismatch: false,
      expectedHex: hex,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  } finally {
    await hit.close();
  }
}
