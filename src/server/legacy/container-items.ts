import {
  closeSync,
  constants,
  createReadStream,
  fsync,
  openSync,
  readSync,
  write as writeAt,
  writeSync,
} from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { isNotFound } from '../util/atomic-file.js';
import { fsyncDir, fsyncFile } from '../util/durable.js';
import { ErrorResponse } from '../http/error-response.js';
import { Journal } from '../util/journal.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import type { LegacyLayout } from './layout.js';
import { addRange, coversAll, removeRange, type ByteRange } from './ranges.js';
import type { ContentRange } from './validate.js';

/** One file of a container, as uploaded. */
export interface ItemRecord {
  /** Logical path `artifactName/rel/path` with `/` separators. */
  path: string;
  /** Size of the stored bytes (the compressed size when `gzip`). */
  total: number;
  /** Uploaded with `Content-Encoding: gzip`: stored compressed, served with that header. */
  gzip: boolean;
  /** `x-tfs-filelength` (original size) when the client sent it, else null. */
  fileLength: number | null;
  /** Byte ranges received so far, sorted and merged. */
  ranges: ByteRange[];
  complete: boolean;
  /** Set when the item arrived in one request and its bytes live in the container's pack file at this offset. */
  packOffset?: number;
  createdAt: string;
  updatedAt: string;
}

export interface ChunkInfo {
  range: ContentRange;
  gzip: boolean;
  fileLength: number | undefined;
}

/**
 * The in-memory ranges of every complete item in the pack file: it arrived whole in one request
 * and a later chunk of its path restarts it, so its ranges are never read. One shared empty list
 * instead of two arrays per item: at 100,000 files that was ~10 MB the server held in the
 * downloading (embedded) process (issue 12 item 5). Frozen: nothing may add to it.
 */
const PACKED_RANGES = Object.freeze([]) as unknown as ByteRange[];

/** Writes the chunk bytes into the item's data file; `fresh` = create/truncate the file first. */
export type ChunkWriter = (dataFile: string, fresh: boolean) => Promise<void>;

export interface ContainerListing {
  files: ItemRecord[];
  folders: string[];
}

/**
 * The items of one container: an in-memory index, written through to an append-only journal
 * (one line per change, replayed on start), so a 10,000-file artifact costs one small append
 * per file, not a rewrite of one big file or a temp-file-and-rename per item.
 *
 * Chunks of one item are serialized by a per-item lock: the official client sends them one at a
 * time anyway, and the lock makes "reset on a new total", the positional write and the range
 * bookkeeping one atomic step even when a retry races a stalled earlier attempt. Different items
 * proceed in parallel.
 */
export class ContainerItems {
  readonly #layout: LegacyLayout;
  readonly #containerId: number;
  readonly #items = new Map<string, ItemRecord>();
  /** Folder path -> number of items beneath it; used to refuse a file where a folder is (and vice versa). */
  readonly #folders = new Map<string, number>();
  readonly #locks = new KeyedMutex();
  readonly #journal: Journal;
  readonly packPath: string;
  #packFd: number | undefined;
  /** End of the pack file: space is reserved here before the bytes are written, so writes never overlap. */
  #packSize = 0;
  /** Sum of the declared totals of all items: the artifact's size, bounded by #maxBytes. */
  #totalBytes = 0;
  readonly #maxBytes: number;

  private constructor(layout: LegacyLayout, containerId: number, maxBytes: number) {
    this.#layout = layout;
    this.#containerId = containerId;
    this.#maxBytes = maxBytes;
    this.#journal = new Journal(`${layout.itemsDir(containerId)}/items.journal`);
    this.packPath = `${layout.itemsDir(containerId)}/items.pack`;
  }

  static async load(layout: LegacyLayout, containerId: number, maxBytes: number): Promise<ContainerItems> {
    const items = new ContainerItems(layout, containerId, maxBytes);
    await mkdir(layout.itemsDir(containerId), { recursive: true });
    // Later lines supersede earlier ones for the same path: the journal is replayed in order.
    await Journal.replay(items.#journal.path, (record) => {
      if (!isItemRecord(record)) return;
      // Parsed apart, the two dates are two strings; most items were never touched again.
      if (record.updatedAt === record.createdAt) record.updatedAt = record.createdAt;
      if (record.complete && record.packOffset !== undefined) record.ranges = PACKED_RANGES;
      items.#put(record);
    });
    items.#packSize = (await stat(items.packPath).catch(() => undefined))?.size ?? 0;
    await items.#dropShortItems();
    return items;
  }

  /**
   * After a crash or power loss before a finalize's fsync, the journal can say "complete" for
   * bytes that never reached the disk. Such an item is listed as not uploaded (its path can be
   * uploaded again) rather than served short: pack items must lie inside the pack, own files
   * must hold their whole size.
   */
  async #dropShortItems(): Promise<void> {
    for (const item of this.#items.values()) {
      if (!item.complete || item.total === 0) continue;
      const onDisk =
        item.packOffset !== undefined
          ? this.#packSize - item.packOffset
          : ((await stat(this.dataFile(item.path)).catch(() => undefined))?.size ?? 0);
      if (onDisk < item.total) this.#items.set(item.path, { ...item, complete: false, ranges: [] });
    }
  }

  /** Releases the journal's and the pack's file descriptors. */
  async close(): Promise<void> {
    const fd = this.#packFd;
    this.#packFd = undefined;
    await this.#journal.close();
    if (fd !== undefined) closeSync(fd);
  }

  /**
   * Receives an item sent whole in one request (every small file is). Its bytes are appended to
   * the container's pack file instead of a file of their own: creating a file costs far more
   * than the write itself, and a 10,000-file artifact would create 10,000 of them. A retry of
   * the same item takes new space; the journal's last record says which bytes count.
   */
  async receiveWhole(path: string, chunk: ChunkInfo, body: Buffer): Promise<ItemRecord> {
    return this.#locks.run(path, async () => {
      const existing = this.#items.get(path);
      if (existing === undefined) this.#checkNoClash(path);
      this.#checkSize(path, existing, chunk.range.total);
      // Every retry of a small item takes new pack space, so the pack itself is bounded too.
      if (this.#packSize + body.length > this.#maxBytes) throw this.#tooLarge(path, body.length);
      const offset = this.#packSize;
      this.#packSize += body.length;
      if (body.length > 0) {
        // Not O_APPEND: on Linux pwrite on an append descriptor ignores the offset, and concurrent
        // items must land exactly at the space reserved for them.
        this.#packFd ??= openSync(this.packPath, constants.O_RDWR | constants.O_CREAT, 0o644);
        await writeFully(this.#packFd, body, offset);
      }
      const now = new Date().toISOString();
      const record: ItemRecord = {
        path,
        total: chunk.range.total,
        gzip: chunk.gzip,
        fileLength: chunk.fileLength ?? null,
        ranges: PACKED_RANGES,
        complete: true,
        packOffset: offset,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      // The journal keeps the range the bytes cover, as for every other item.
      await this.#persist({ ...record, ranges: chunk.range.total === 0 ? [] : [[0, chunk.range.total - 1]] });
      this.#put(record);
      return record;
    });
  }

  /**
   * Makes everything received so far durable: the bytes (pack file and each item's own file),
   * then the journal that says they are complete, then the directory entries. Called when the
   * client finalizes the artifact (PATCH), so a power loss cannot leave a journal that lists
   * files whose bytes never reached the disk.
   */
  async flush(): Promise<void> {
    if (this.#packFd !== undefined) await promisify(fsync)(this.#packFd);
    const ownFiles = [...this.#items.values()].filter((i) => i.packOffset === undefined && i.total > 0);
    for (const item of ownFiles) {
      // An item whose first chunk failed before its file was created has nothing to flush.
      await fsyncFile(this.dataFile(item.path)).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    }
    await this.#journal.sync();
    await fsyncDir(this.#layout.itemsDir(this.#containerId));
  }

  get(path: string): ItemRecord | undefined {
    return this.#items.get(path);
  }

  /**
   * The stored bytes of a complete item of at most SMALL_READ_LIMIT bytes (undefined for a larger
   * one: `open` streams it), read at once with synchronous calls (page cache, microseconds), as small bodies are written. A stream per file
   * (a FileHandle, a ReadStream and a pipeline with its listeners and AbortController) was a
   * quarter of what a 20,000-file download allocated, and V8 promoted much of it to the old
   * generation: peak RSS (issue 12 item 5). Stored bytes shorter than recorded are a 500, never
   * an answer cut short.
   */
  readSmall(item: ItemRecord): Buffer | undefined {
    if (item.total > SMALL_READ_LIMIT) return undefined;
    const bytes = Buffer.allocUnsafe(item.total);
    const fd = openSync(item.packOffset !== undefined ? this.packPath : this.dataFile(item.path), 'r');
    try {
      const start = item.packOffset ?? 0;
      let done = 0;
      while (done < bytes.length) {
        const read = readSync(fd, bytes, done, bytes.length - done, start + done);
        if (read === 0) {
          throw new ErrorResponse(
            500,
            "Internal server error: the server's storage holds fewer bytes of this item than it recorded",
          );
        }
        done += read;
      }
    } finally {
      closeSync(fd);
    }
    return bytes;
  }

  /**
   * The stored bytes of a complete, non-empty item. The file is opened before the stream is
   * returned, so a missing data file is a clean error before any answer is sent.
   */
  async open(item: ItemRecord): Promise<Readable> {
    const start = item.packOffset ?? 0;
    const handle = await open(item.packOffset !== undefined ? this.packPath : this.dataFile(item.path), 'r');
    return createReadStream('', {
      fd: handle,
      start,
      end: start + item.total - 1,
      highWaterMark: Math.min(READ_HIGH_WATER_MARK, Math.max(item.total, 1)),
    });
  }

  dataFile(path: string): string {
    return this.#layout.itemDataFile(this.#containerId, path);
  }

  /**
   * Receives one chunk. Chunks are keyed by (itemPath, range): the bytes go to their offset in
   * the data file, so a retried chunk replaces the same bytes instead of appending. A different
   * total or encoding means the client started a new upload of that path, so the item restarts.
   */
  async receiveChunk(path: string, chunk: ChunkInfo, write: ChunkWriter): Promise<ItemRecord> {
    return this.#locks.run(path, async () => {
      const now = new Date().toISOString();
      const existing = this.#items.get(path);
      const restart =
        existing !== undefined &&
        (existing.total !== chunk.range.total ||
          existing.gzip !== chunk.gzip ||
          existing.packOffset !== undefined);
      const fresh = existing === undefined || restart;
      if (existing === undefined) this.#checkNoClash(path);
      this.#checkSize(path, existing, chunk.range.total);

      const { start, end, total } = chunk.range;
      const base: ItemRecord = fresh
        ? {
            path,
            total,
            gzip: chunk.gzip,
            fileLength: chunk.fileLength ?? null,
            ranges: [],
            complete: false,
            createdAt: existing?.createdAt ?? now,
            updatedAt: now,
          }
        : { ...existing, ranges: removeRange(existing.ranges, [start, end]), complete: false };
      if (chunk.fileLength !== undefined) base.fileLength = chunk.fileLength;

      // The range being (re)written is not "received" until it lands, so listings never show an
      // item whose bytes are being replaced. A restart is persisted first: the old metadata must
      // not outlive the truncation of the data file.
      this.#put(base);
      if (restart) await this.#persist(base);

      try {
        await write(this.dataFile(path), fresh);
      } catch (error) {
        // Keep the on-disk ranges in step with memory: the failed range may be half overwritten.
        if (!fresh) await this.#persist(base).catch(() => undefined);
        throw error;
      }

      const ranges = addRange(base.ranges, [start, end]);
      const done: ItemRecord = {
        ...base,
        ranges,
        complete: total === 0 || coversAll(ranges, total),
        updatedAt: new Date().toISOString(),
      };
      await this.#persist(done);
      this.#put(done);
      return done;
    });
  }

  /** Complete files at or below `prefix`, and every folder that contains one of them. */
  list(prefix: string | undefined): ContainerListing {
    return listComplete(this.#items.values(), prefix);
  }

  /**
   * The original size of every complete file, each path counted once (a path uploaded again
   * counts with its latest bytes): `x-tfs-filelength` when the client sent it, else the stored size.
   */
  originalSize(): number {
    let total = 0;
    for (const item of this.#items.values()) if (item.complete) total += item.fileLength ?? item.total;
    return total;
  }

  /** The artifact, with this item at `total` bytes, must stay within the size limit. */
  #checkSize(path: string, existing: ItemRecord | undefined, total: number): void {
    if (this.#totalBytes - (existing?.total ?? 0) + total > this.#maxBytes) throw this.#tooLarge(path, total);
  }

  #tooLarge(path: string, bytes: number): ErrorResponse {
    return new ErrorResponse(
      413,
      `Storing ${bytes} more bytes for ${JSON.stringify(path)} would make the artifact larger than the server's limit of ${this.#maxBytes} bytes (maxArtifactBytes)`,
    );
  }

  #put(record: ItemRecord): void {
    this.#totalBytes += record.total - (this.#items.get(record.path)?.total ?? 0);
    if (!this.#items.has(record.path)) {
      for (const folder of ancestors(record.path))
        this.#folders.set(folder, (this.#folders.get(folder) ?? 0) + 1);
    }
    this.#items.set(record.path, record);
  }

  /** A path cannot be both a file and a folder: the client would have to create both on disk. */
  #checkNoClash(path: string): void {
    if (this.#folders.has(path)) {
      throw new ErrorResponse(409, `itemPath ${JSON.stringify(path)} is already a folder in this artifact`);
    }
    const clash = ancestors(path).find((folder) => this.#items.has(folder));
    if (clash !== undefined) {
      throw new ErrorResponse(
        409,
        `itemPath ${JSON.stringify(path)} is below ${JSON.stringify(clash)}, which is already a file`,
      );
    }
  }

  #persist(record: ItemRecord): Promise<void> {
    return this.#journal.append(record);
  }
}

/** Complete files at or below `prefix` sorted by path, and every folder that contains one of them. */
export function listComplete(items: Iterable<ItemRecord>, prefix: string | undefined): ContainerListing {
  const within = (p: string): boolean => prefix === undefined || p === prefix || p.startsWith(`${prefix}/`);
  const files: ItemRecord[] = [];
  const folders = new Set<string>();
  for (const item of items) {
    if (!item.complete || !within(item.path)) continue;
    files.push(item);
    for (const folder of ancestors(item.path)) if (within(folder)) folders.add(folder);
  }
  files.sort((a, b) => compare(a.path, b.path));
  return { files, folders: [...folders].sort(compare) };
}

/** `a/b/c` -> [`a`, `a/b`]. */
function ancestors(path: string): string[] {
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isItemRecord(value: unknown): value is ItemRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.path === 'string' &&
    typeof r.total === 'number' &&
    typeof r.gzip === 'boolean' &&
    Array.isArray(r.ranges) &&
    typeof r.complete === 'boolean'
  );
}

/** Items up to this size are served from one synchronous read (readSmall), larger ones streamed. */
export const SMALL_READ_LIMIT = 64 * 1024;

// Large sequential reads for downloads: fewer syscalls and event-loop turns per MiB.
const READ_HIGH_WATER_MARK = 1024 * 1024;

/** Small bodies are written synchronously (page cache, microseconds; a thread-pool round trip per file costs more), larger ones on the pool. */
const SYNC_WRITE_LIMIT = 256 * 1024;

async function writeFully(fd: number, body: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < body.length) {
    const rest = body.length - done;
    done +=
      rest <= SYNC_WRITE_LIMIT
        ? writeSync(fd, body, done, rest, offset + done)
        : await new Promise<number>((resolve, reject) =>
            writeAt(fd, body, done, rest, offset + done, (error, written) =>
              error ? reject(error) : resolve(written),
            ),
          );
  }
}
