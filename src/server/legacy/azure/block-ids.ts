/**
 * Block ids of a legacy file's blob. A chunk's block id is made from its upload session and its
 * offset: a retried chunk is staged under the id of its first attempt and replaces it, and the
 * blocks of two uploads of one file (two sessions) never tile each other's file.
 *
 * Azure refuses a block whose id has another length than the blob's uncommitted blocks, so the
 * ids keep the 29 bytes of the ids of earlier versions (`ferry-legacy-` and 16 offset digits):
 * a 9-byte marker, the session's 12 bytes, the offset as a 64-bit integer. A blob with blocks
 * staged by an earlier version (an upload in progress across an upgrade) takes the new ones, and
 * the old ones are never part of a file (no session).
 */
const MARKER = Buffer.from('ferry-lg2', 'latin1');
const ID_BYTES = MARKER.length + 12 + 8;
const SESSION = /^[0-9a-f]{24}$/;
/** The session of chunks sent without one (a container URL not handed out by a create). */
export const NO_SESSION = '0'.repeat(24);

/** Whether `text` is a session id as the azure_blob store makes them (randomBytes(12), hex). */
export function isSessionId(text: string | null): text is string {
  return text !== null && SESSION.test(text);
}

export function blockIdOf(session: string, offset: number): string {
  if (!SESSION.test(session)) throw new RangeError('a block id needs a session id of 24 hex digits');
  const id = Buffer.alloc(ID_BYTES);
  MARKER.copy(id, 0);
  Buffer.from(session, 'hex').copy(id, MARKER.length);
  id.writeBigUInt64BE(BigInt(offset), MARKER.length + 12);
  return id.toString('base64');
}

/** The session and offset a block id was made from; undefined for ids this store did not make. */
export function parseBlockId(blockId: string): { session: string; offset: number } | undefined {
  const id = Buffer.from(blockId, 'base64');
  if (id.length !== ID_BYTES || !id.subarray(0, MARKER.length).equals(MARKER)) return undefined;
  const offset = Number(id.readBigUInt64BE(MARKER.length + 12));
  if (!Number.isSafeInteger(offset)) return undefined;
  return { session: id.subarray(MARKER.length, MARKER.length + 12).toString('hex'), offset };
}

export interface StagedBlock {
  name: string;
  size: number;
}

/**
 * The blocks of `session` that make the file: starting at offset 0, each next block is the one
 * staged at the offset where the previous one ended, up to exactly `total` bytes. Blocks staged
 * later (the uncommitted list) replace committed ones at the same offset, as Put Block List's
 * `Latest` does; blocks of other sessions (another upload of the file, or an older version of
 * it) are never used. Undefined while a chunk is missing, or when the chunks do not end exactly
 * at `total` (a restarted upload of another size left blocks behind: they are not part of this file).
 */
export function tileBlocks(
  committed: readonly StagedBlock[],
  uncommitted: readonly StagedBlock[],
  total: number,
  session: string,
): string[] | undefined {
  const byOffset = new Map<number, StagedBlock>();
  for (const block of [...committed, ...uncommitted]) {
    const parsed = parseBlockId(block.name);
    if (parsed?.session === session) byOffset.set(parsed.offset, block);
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
