import type { IncomingMessage } from 'node:http';
import { BlobError } from './blob-errors.js';
import { decodeBlockId } from './blob-params.js';

/** Azure allows 50,000 blocks; each entry is ~100 bytes of XML, so 8 MiB is ample. */
const MAX_BLOCK_LIST_BYTES = 8 * 1024 * 1024;

const ENTRY = /<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g;

/**
 * Parses a Put Block List body, `<BlockList><Latest>id</Latest>…</BlockList>`, into decoded block
 * ids in list order (the blob's byte order). `Committed` and `Uncommitted` entries are accepted
 * and treated like `Latest`: this store keeps only staged blocks, see BlobStore.commit.
 */
export async function readBlockList(req: IncomingMessage): Promise<Buffer[]> {
  const xml = await readText(req);
  const open = xml.indexOf('<BlockList>');
  const close = xml.lastIndexOf('</BlockList>');
  const selfClosed = /<BlockList\s*\/>/.test(xml);
  if (selfClosed) return [];
  if (open === -1 || close < open) {
    throw invalidXml('the body has no <BlockList> element.');
  }
  const inner = xml.slice(open + '<BlockList>'.length, close);
  const ids: Buffer[] = [];
  // Everything between the entries must be whitespace, so a typo cannot silently drop a block.
  const leftover = inner.replace(ENTRY, (_all, _kind: string, text: string) => {
    ids.push(decodeBlockId(unescapeXml(text.trim()), 'Put Block List'));
    return '';
  });
  if (leftover.trim() !== '') {
    throw invalidXml(`unexpected content in <BlockList>: ${JSON.stringify(leftover.trim().slice(0, 100))}.`);
  }
  return ids;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BLOCK_LIST_BYTES) {
      throw new BlobError(413, 'RequestBodyTooLarge', 'The block list is too large.', {
        Connection: 'close',
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_all, entity: string) => {
    if (entity.startsWith('#')) {
      const code = entity.startsWith('#x') ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      // An out-of-range reference yields a character base64 rejects, i.e. a clean 400.
      return code <= 0x10ffff ? String.fromCodePoint(code) : '\0';
    }
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[entity] ?? '';
  });
}

function invalidXml(detail: string): BlobError {
  return new BlobError(400, 'InvalidXmlDocument', `XML specified is not syntactically valid: ${detail}`);
}
