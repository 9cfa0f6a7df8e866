/**
 * Block ids of a legacy file's blob. A chunk's block id is derived from its offset alone, so a
 * retried chunk is staged under the id of its first attempt and replaces it. Azure requires the
 * ids of one blob to have one length: the offset is zero-padded to 16 digits (beyond 2^53).
 */
const PREFIX = 'ferry-legacy-';
const DIGITS = 16;

export function blockIdOf(offset: number): string {
  return Buffer.from(`${PREFIX}${String(offset).padStart(DIGITS, '0')}`, 'utf8').toString('base64');
}

/** The offset a block id was made from; undefined for ids this store did not make. */
export function offsetOf(blockId: string): number | undefined {
  const text = Buffer.from(blockId, 'base64').toString('utf8');
  if (!text.startsWith(PREFIX) || text.length !== PREFIX.length + DIGITS) return undefined;
  const digits = text.slice(PREFIX.length);
  if (!/^\d+$/.test(digits)) return undefined;
  const offset = Number(digits);
  return Number.isSafeInteger(offset) ? offset : undefined;
}

export interface StagedBlock {
  name: string;
  size: number;
}

/**
 * The blocks that make the file: starting at offset 0, each next block is the one staged at the
 * offset where the previous one ended, up to exactly `total` bytes. Blocks staged later (the
 * uncommitted list) replace committed ones at the same offset, as Put Block List's `Latest`
 * does. Undefined while a chunk is missing, or when the chunks do not end exactly at `total` (a
 * restarted upload of another size left blocks behind: they are not part of this file).
 */
export function tileBlocks(
  committed: readonly StagedBlock[],
  uncommitted: readonly StagedBlock[],
  total: number,
): string[] | undefined {
  const byOffset = new Map<number, StagedBlock>();
  for (const block of [...committed, ...uncommitted]) {
    const offset = offsetOf(block.name);
    if (offset !== undefined) byOffset.set(offset, block);
  }
  const ids: string[] = [];
  let position = 0;
  while (position < total) {
    const block = byOffset.get(position);
    if (!block || block.size <= 0) return undefined;
    ids.push(block.name);
    position += block.size;
  }
  return position === total ? ids : undefined;
}
