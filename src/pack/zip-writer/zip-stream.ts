import { Readable } from 'node:stream';
import { types } from 'node:util';
import { AbortError } from '../../core/errors.js';
import { isAlreadyCompressed } from '../compressed-extensions.js';
import { SAMPLE_SIZE } from './compressibility.js';
import { readSmallFileSync } from './entry-source.js';
import { CentralDirectory } from './central-directory.js';
import { endOfCentralDirectory } from './headers.js';
import { emitInOrder, type OutputTask } from './parallel-deflate.js';
import {
  type ZipInput,
  type ZipWriterOptions,
  type ZipStreamStats,
  CENTRAL_DIRECTORY_BATCH,
  MAX_QUEUED_TASKS,
  EMPTY,
  normalizeZipWriterOptions,
} from './zip-options.js';
import { type PreparedInput, prepareInputs } from './zip-inputs.js';
import {
  type Context,
  newRecord,
  storedBufferTask,
  smallFileTask,
  fileTasks,
  streamTasks,
} from './entry-tasks.js';

/** Small files read ahead of the one being emitted: a few descriptors and a few MiB at most. */
const READ_AHEAD = 8;

type Prefetched = { kind: 'small'; data: Buffer; mtime: Date } | { kind: 'large' };

/**
 * Opens and reads a file if it is small; a large one is closed again and zipped by fileTasks.
 * Many small files are a chain of open/read/close round trips to the thread pool: doing
 * READ_AHEAD of them at once overlaps that latency while output order stays the input order.
 */
async function prefetchSmallFile(
  ctx: Context,
  input: Extract<PreparedInput, { kind: 'file' }>,
): Promise<Prefetched> {
  if (ctx.signal.aborted) throw new AbortError(ctx.signal.reason, { file: input.name });
  const small = readSmallFileSync(
    input.sourcePath,
    input.name,
    ctx.wholeFileLimit,
    ctx.files,
    ctx.options.secretScan?.file(input.name),
  );
  return small === undefined ? { kind: 'large' } : { kind: 'small', data: small.data, mtime: small.mtime };
}

async function* produceTasks(
  ctx: Context,
  inputs: readonly PreparedInput[],
): AsyncGenerator<OutputTask, void, undefined> {
  const prefetched = new Map<number, Promise<Prefetched>>();
  const startPrefetch = (from: number): void => {
    for (let i = from; i < Math.min(inputs.length, from + READ_AHEAD); i++) {
      const input = inputs[i] as PreparedInput;
      if (input.kind !== 'file' || prefetched.has(i)) continue;
      const pending = prefetchSmallFile(ctx, input);
      // Awaited in order below; until then a failure must not count as unhandled.
      pending.catch(() => undefined);
      prefetched.set(i, pending);
    }
  };
  for (const [index, input] of inputs.entries()) {
    if (ctx.signal.aborted) throw new AbortError(ctx.signal.reason);
    switch (input.kind) {
      case 'file': {
        startPrefetch(index);
        const ahead = await (prefetched.get(index) as Promise<Prefetched>);
        prefetched.delete(index);
        if (ahead.kind === 'large') {
          yield* fileTasks(ctx, input);
          break;
        }
        const record = newRecord(ctx, input, ahead.mtime);
        const storeOnly = ctx.options.level === 0 || isAlreadyCompressed(input.name);
        yield storeOnly || ahead.data.length === 0
          ? storedBufferTask(ctx, record, ahead.data)
          : smallFileTask(ctx, record, ahead.data);
        break;
      }
      case 'stream':
        yield* streamTasks(ctx, input);
        break;
      case 'directory':
        yield storedBufferTask(ctx, newRecord(ctx, input, ctx.now), EMPTY);
        break;
      case 'symlink':
        yield storedBufferTask(ctx, newRecord(ctx, input, ctx.now), input.target);
        break;
    }
  }
}

async function* zipBytes(
  ctx: Context,
  inputs: readonly PreparedInput[],
): AsyncGenerator<Buffer, void, undefined> {
  yield* emitInOrder(produceTasks(ctx, inputs), {
    limit: ctx.options.concurrency,
    maxQueued: MAX_QUEUED_TASKS,
    signal: ctx.signal,
    counters: ctx.counters,
  });

  const centralDirectoryOffset = ctx.counters.bytesEmitted;
  const { centralDirectory } = ctx;
  for (const block of centralDirectory.drain()) {
    ctx.counters.bytesEmitted += block.length;
    yield block;
  }
  const end = endOfCentralDirectory({
    entries: centralDirectory.entries,
    centralDirectoryOffset,
    centralDirectorySize: centralDirectory.size,
    forceZip64: ctx.options.forceZip64,
  });
  ctx.counters.bytesEmitted += end.length;
  yield end;
}

function toError(error: unknown): Error {
  return error instanceof Error || types.isNativeError(error) ? error : new Error(String(error));
}

/**
 * A Readable over an async generator of buffers. Unlike `Readable.from`, destroying it first
 * aborts the generator's work (so a long read pass stops at the next piece), then waits for the
 * generator to finish its `finally` blocks (file closed, jobs settled) before `'close'`.
 */
class ZipReadable extends Readable {
  readonly #source: AsyncGenerator<Buffer, void, undefined>;
  readonly #controller: AbortController;
  #pumping = false;
  #wanted = false;

  constructor(
    source: AsyncGenerator<Buffer, void, undefined>,
    controller: AbortController,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
    this.#source = source;
    this.#controller = controller;
  }

  override _read(): void {
    this.#wanted = true;
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#wanted && !this.destroyed) {
        const next = await this.#source.next();
        if (this.destroyed) return;
        if (next.done === true) {
          this.push(null);
          return;
        }
        // _read may be called again synchronously inside push(); it sets #wanted.
        this.#wanted = false;
        if (this.push(next.value)) this.#wanted = true;
      }
    } catch (error) {
      this.destroy(toError(error));
    } finally {
      this.#pumping = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(error ?? new AbortError('The zip stream was destroyed'));
    }
    this.#source.return(undefined).then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? toError(closeError)),
    );
  }
}

const STATS = new WeakMap<Readable, ZipStreamStats>();

/** A snapshot of the counters of a stream made by {@link createZipStream}. */
export function zipStreamStats(stream: Readable): ZipStreamStats | undefined {
  const stats = STATS.get(stream);
  return stats === undefined ? undefined : { ...stats };
}

/**
 * A Readable of the zip bytes of `inputs`, produced lazily with backpressure: one source file is
 * open at a time, and at most `concurrency` pieces of `chunkSize` are read ahead of the consumer.
 *
 * Per file: level 0 or an already-compressed extension → STORED; an empty file → STORED; a file
 * up to min(256 KiB, chunkSize) is deflated whole and stored instead if that saves < 5 %; a larger
 * file is STORED when a level-1 deflate of its first 256 KiB saves < 5 %, else DEFLATED in
 * parallel pieces at `level`.
 *
 * A `stream` input is treated like a file of its declared size, read once and in order (a large
 * STORED one carries its declared CRC-32 in the local header).
 *
 * Invalid options or inputs throw `ValidationError` here, before anything is read. Later failures
 * destroy the stream: `ERR_FERRY_SOURCE_UNREADABLE`, `ERR_FERRY_SOURCE_CHANGED`,
 * `ERR_FERRY_INVALID_PATH` (a source that is not a regular file), `ERR_FERRY_ABORTED`.
 */
export function createZipStream(inputs: readonly ZipInput[], options: ZipWriterOptions): Readable {
  const normalized = normalizeZipWriterOptions(options);
  const prepared = prepareInputs(inputs);
  const controller = new AbortController();
  const stats: ZipStreamStats = {
    piecesInFlight: 0,
    maxPiecesInFlight: 0,
    openFiles: 0,
    maxOpenFiles: 0,
    bytesEmitted: 0,
    entriesWritten: 0,
  };
  // The pipeline and the file reader update the same object the stats snapshot copies.
  const ctx: Context = {
    options: normalized,
    signal: controller.signal,
    now: new Date(),
    wholeFileLimit: Math.min(SAMPLE_SIZE, normalized.chunkSize),
    centralDirectory: new CentralDirectory(CENTRAL_DIRECTORY_BATCH, normalized.forceZip64),
    files: stats,
    counters: stats,
    stats,
  };
  const stream = new ZipReadable(zipBytes(ctx, prepared), controller, normalized.chunkSize);
  STATS.set(stream, stats);

  const signal = normalized.signal;
  if (signal !== undefined) {
    const onAbort = (): void => {
      stream.destroy(new AbortError(signal.reason));
    };
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
  }
  return stream;
}
