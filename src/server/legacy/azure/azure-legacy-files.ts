import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { ErrorResponse } from '../../http/error-response.js';
import { isMissing, type Timed } from '../../results/azure/small-json.js';
import { listComplete, type ContainerListing, type ItemRecord } from '../container-items.js';
import { itemKey } from '../layout.js';
import type { LegacyChunk, LegacyItems } from '../store.js';
import { blockIdOf, tileBlocks } from './block-ids.js';
import type { Undo } from './container-bytes.js';
import { deletePrefix } from './delete-prefix.js';
import { VerifiedBody } from './verified-body.js';

/** Metadata key of a file blob: the item record (path, sizes, encoding), base64 JSON. */
const ITEM_META = 'ferryitem';
/** Azure allows 8 KiB of metadata per blob; a longer item path is refused before any byte is stored. */
const MAX_META_CHARS = 6 * 1024;
/** Azure's largest block (Put Block). */
export const MAX_BLOCK_BYTES = 4000 * 1024 * 1024;
/** A file sent whole up to this size is one Put Blob; a larger one is staged and committed like chunks. */
const WHOLE_PUT_LIMIT = 64 * 1024 * 1024;

interface StoredItem {
  path: string;
  total: number;
  gzip: boolean;
  fileLength: number | null;
  createdAt: string;
}

/** Asked before a file is committed: counts it, or throws when the container would grow beyond its limit. */
export type CheckSize = (previous: number, total: number) => Promise<Undo>;

/**
 * The files of one legacy container in an azure_blob store: one block blob per file,
 * `legacy/items/<containerId>/<sha256(itemPath)>`. Each chunk is staged as a block straight from
 * the request (Put Block, id from its upload session and offset), and the chunk that ends at the
 * file's total commits that session's blocks that tile the file (Put Block List) with the item
 * record as metadata. A file
 * is listed once committed, so an upload in progress is never half-listed; a file uploaded again
 * keeps its previous bytes listed until the new ones commit.
 */
export class AzureLegacyFiles implements LegacyItems {
  readonly #container: ContainerClient;
  /** The same container without SDK retries: a request body can be sent to it only once. */
  readonly #streaming: ContainerClient;
  readonly #prefix: string;
  readonly #time: Timed;
  /** ETags of items handed out by get(), so open() reads exactly those bytes. */
  readonly #etags = new WeakMap<ItemRecord, string>();

  constructor(
    container: ContainerClient,
    streaming: ContainerClient,
    prefix: string,
    containerId: number,
    time: Timed,
  ) {
    this.#container = container;
    this.#streaming = streaming;
    this.#prefix = `${prefix}legacy/items/${containerId}/`;
    this.#time = time;
  }

  #blobName(path: string): string {
    return `${this.#prefix}${itemKey(path)}`;
  }

  /**
   * Stages one chunk of upload `session` and, when it is the file's last, commits the file.
   * `checkSize` is asked before the commit with the file's previous committed size (0 when new):
   * it throws when the container would grow beyond its limit, and its undo is run when the
   * commit then fails.
   */
  async receive(
    path: string,
    session: string,
    chunk: LegacyChunk,
    req: IncomingMessage,
    checkSize: CheckSize,
  ): Promise<void> {
    const { range } = chunk;
    const length = range.end - range.start;
    if (length > MAX_BLOCK_BYTES) {
      throw new ErrorResponse(
        413,
        `A chunk of ${length} bytes is larger than an Azure block (${MAX_BLOCK_BYTES} bytes); send smaller chunks`,
      );
    }
    const meta = encodeItem({
      path,
      total: range.total,
      gzip: chunk.gzip,
      fileLength: chunk.fileLength ?? null,
      createdAt: new Date().toISOString(),
    });
    if (meta.length > MAX_META_CHARS) {
      throw new ErrorResponse(400, `itemPath ${JSON.stringify(path.slice(0, 200))}... is too long to store`);
    }
    const staging = this.#streaming.getBlockBlobClient(this.#blobName(path));
    const last = range.end === range.total;
    const whole = range.start === 0 && last && length <= WHOLE_PUT_LIMIT;
    // Sent whole (every small file is): bounded before its body is read, then one Put Blob.
    const undo = whole ? await checkSize(await this.#committedSize(path), range.total) : undefined;
    const body = VerifiedBody.of(req, length, chunk.expectedMd5);
    try {
      if (undo) {
        await this.#time('put_blob', () =>
          staging.upload(() => body, length, {
            abortSignal: body.abort.signal,
            metadata: { [ITEM_META]: meta },
            blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
          }),
        );
        return;
      }
      await this.#time('stage_block', () =>
        staging.stageBlock(blockIdOf(session, range.start), () => body, length, {
          abortSignal: body.abort.signal,
        }),
      );
    } catch (error) {
      // Counted but not stored (a bad body, the storage failed): the bytes are not the container's.
      await undo?.().catch(() => undefined);
      throw body.failure ?? error;
    }
    if (last) await this.#commit(path, session, range.total, meta, checkSize);
  }

  /** Commits the session's blocks that tile the file; a file with a chunk still missing stays unlisted. */
  async #commit(
    path: string,
    session: string,
    total: number,
    meta: string,
    checkSize: CheckSize,
  ): Promise<void> {
    const blob = this.#container.getBlockBlobClient(this.#blobName(path));
    const list = await this.#time('get_block_list', () => blob.getBlockList('all'));
    const ids = tileBlocks(list.committedBlocks ?? [], list.uncommittedBlocks ?? [], total, session);
    if (!ids) return;
    // The committed blob's length: a file first stored whole (Put Blob) has no committed blocks.
    const previous =
      list.blobContentLength ?? (list.committedBlocks ?? []).reduce((sum, b) => sum + b.size, 0);
    const undo = await checkSize(previous, total);
    try {
      await this.#time('commit_block_list', () =>
        blob.commitBlockList(ids, {
          metadata: { [ITEM_META]: meta },
          blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
        }),
      );
    } catch (error) {
      await undo().catch(() => undefined);
      throw error;
    }
  }

  async #committedSize(path: string): Promise<number> {
    return (await this.get(path))?.total ?? 0;
  }

  async get(path: string): Promise<ItemRecord | undefined> {
    try {
      const props = await this.#time('blob_properties', () =>
        this.#container.getBlockBlobClient(this.#blobName(path)).getProperties(),
      );
      const item = itemOf(props.metadata?.[ITEM_META], props.lastModified);
      // Another path with the same SHA-256 cannot happen; a record of another path would be ours misfiled.
      if (!item || item.path !== path) return undefined;
      if (props.etag) this.#etags.set(item, props.etag);
      return item;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string | undefined): Promise<ContainerListing> {
    return listComplete(await this.all(), prefix);
  }

  /** Every committed file of the container. */
  async all(): Promise<ItemRecord[]> {
    const items: ItemRecord[] = [];
    await this.#time('list_items', async () => {
      for await (const blob of this.#container.listBlobsFlat({
        prefix: this.#prefix,
        includeMetadata: true,
      })) {
        const item = itemOf(blob.metadata?.[ITEM_META], blob.properties.lastModified);
        if (item) items.push(item);
      }
    });
    return items;
  }

  async open(item: ItemRecord): Promise<Readable> {
    const etag = this.#etags.get(item);
    const answer = await this.#time('read_item', () =>
      this.#container
        .getBlockBlobClient(this.#blobName(item.path))
        .download(0, item.total, etag ? { conditions: { ifMatch: etag } } : {}),
    );
    const stream = answer.readableStreamBody;
    if (!stream) throw new Error(`the storage sent no body for ${JSON.stringify(item.path)}`);
    return stream as Readable;
  }

  /** Deletes every blob of the container, committed or only staged. */
  async removeAll(): Promise<void> {
    await deletePrefix(this.#container, this.#prefix, this.#time);
  }
}

function encodeItem(item: StoredItem): string {
  return Buffer.from(JSON.stringify(item), 'utf8').toString('base64');
}

function itemOf(meta: string | undefined, modified: Date | undefined): ItemRecord | undefined {
  if (meta === undefined || meta.length > MAX_META_CHARS) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(meta, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const r = value as Partial<StoredItem> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.path !== 'string' ||
    typeof r.total !== 'number' ||
    typeof r.gzip !== 'boolean' ||
    typeof r.createdAt !== 'string'
  ) {
    return undefined;
  }
  return {
    path: r.path,
    total: r.total,
    gzip: r.gzip,
    fileLength: typeof r.fileLength === 'number' ? r.fileLength : null,
    ranges: r.total === 0 ? [] : [[0, r.total - 1]],
    complete: true,
    createdAt: r.createdAt,
    updatedAt: (modified ?? new Date(r.createdAt)).toISOString(),
  };
}
