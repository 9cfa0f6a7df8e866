import { promisify } from 'node:util';
import { deflateRaw, type ZlibOptions } from 'node:zlib';

const deflateRawAsync = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

/** How much of a large file is compressed to decide whether deflating it is worthwhile. */
export const SAMPLE_SIZE = 256 * 1024;
/** Below this saving (5 %) a file is stored: deflate would spend CPU on both ends for nothing. */
export const MIN_SAVING = 0.05;
/** The sample is compressed at the fastest level: the decision only needs a rough ratio. */
export const SAMPLE_LEVEL = 1;

/** True when compressing `originalSize` bytes down to `compressedSize` saves at least 5 %. */
export function isWorthDeflating(originalSize: number, compressedSize: number): boolean {
  return originalSize > 0 && compressedSize <= originalSize * (1 - MIN_SAVING);
}

/**
 * Compresses `sample` (the first {@link SAMPLE_SIZE} bytes of a file) with raw deflate at level 1
 * on the thread pool and reports whether the whole file is worth deflating. Random data, media
 * and archives save nothing; text and binaries with structure save far more than 5 %.
 */
export async function sampleIsCompressible(sample: Buffer): Promise<boolean> {
  if (sample.length === 0) return false;
  const compressed = await deflateRawAsync(sample, { level: SAMPLE_LEVEL });
  return isWorthDeflating(sample.length, compressed.length);
}
