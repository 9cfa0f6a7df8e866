import { promisify } from 'node:util';
import { constants, deflateRaw, type ZlibOptions } from 'node:zlib';
import { AbortError } from '../../core/errors.js';

const deflateRawAsync = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

/** Output room beyond a small piece's length: deflate's framing of incompressible data fits in it. */
const SMALL_PIECE_HEADROOM = 64;

/**
 * Output buffer of a large piece's deflate job: room for a 1 MiB piece of text compressed
 * (about a fifth of it) in one buffer; data that compresses less takes a few more.
 */
const LARGE_PIECE_OUTPUT = 256 * 1024;

/** Deflate looks back at most 32 KiB, so that much of the previous piece primes the next one. */
export const DICTIONARY_SIZE = 32 * 1024;

/**
 * Compresses one piece of a larger deflate stream on the thread pool (the pigz method):
 *
 * - every piece but the last ends with `Z_SYNC_FLUSH`: an empty stored block that byte-aligns
 *   the output without setting BFINAL, so the pieces concatenate into one valid deflate stream;
 * - the last piece ends with `Z_FINISH` (a one-piece stream is just a normal raw deflate);
 * - `dictionary` (the last 32 KiB of uncompressed data before the piece) lets the first matches
 *   of the piece reach back into the previous one, keeping the ratio close to a single stream.
 */
export function deflatePiece(
  piece: Buffer,
  level: number,
  dictionary: Buffer | undefined,
  final: boolean,
): Promise<Buffer> {
  const options: ZlibOptions = {
    level,
    finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
  };
  if (dictionary !== undefined && dictionary.length > 0) options.dictionary = dictionary;
  // zlib writes into output buffers of 16 KiB by default and hands back a slice of the first: a
  // small file's few compressed bytes kept a 16 KiB ArrayBuffer alive until a collection (at
  // 100,000 files, most of the upload's ~60 MiB of external memory; issue 12 item 5). A piece
  // smaller than that gets an output buffer its own size plus room for the stored-block
  // framing deflate adds to data that does not compress (5 bytes a block, and the flush).
  if (piece.length < constants.Z_DEFAULT_CHUNK) {
    options.chunkSize = Math.max(constants.Z_MIN_CHUNK, piece.length + SMALL_PIECE_HEADROOM);
  } else {
    // A large piece's output in one thread-pool job where it fits: with 16 KiB buffers a 1 MiB
    // piece of text went back and forth between the pool and the main thread ~13 times, each
    // return handled on the main thread (1.8 s of a 512 MiB log upload's main-thread CPU, in
    // zlib's processCallback / processChunk). Measured on 256 MiB of W3's log text, level 6,
    // 3 pieces at once: 2.93-4.72 s with 16 KiB buffers, 2.53-2.54 s with 256 KiB.
    options.chunkSize = LARGE_PIECE_OUTPUT;
  }
  return deflateRawAsync(piece, options);
}

/** The last {@link DICTIONARY_SIZE} bytes of the data seen so far, copied (never a view of a piece). */
export class DictionaryWindow {
  #window: Buffer | undefined;

  /** The dictionary for the next piece, or undefined before the first piece. */
  get current(): Buffer | undefined {
    return this.#window;
  }

  push(piece: Buffer): void {
    if (piece.length >= DICTIONARY_SIZE) {
      this.#window = Buffer.from(piece.subarray(piece.length - DICTIONARY_SIZE));
      return;
    }
    const joined = this.#window === undefined ? piece : Buffer.concat([this.#window, piece]);
    this.#window = Buffer.from(joined.subarray(Math.max(0, joined.length - DICTIONARY_SIZE)));
  }
}

/**
 * One unit of output. `value` is either a promise that is already running (a deflate job) or a
 * function evaluated only when the task reaches the head of the queue, i.e. after every earlier
 * task has been emitted (headers and descriptors that need sizes known only by then).
 */
export interface OutputTask {
  /** 1 when the task holds a piece of source data (a read buffer or its compressed form), else 0. */
  readonly weight: 0 | 1;
  readonly value: Promise<readonly Buffer[]> | (() => readonly Buffer[]);
  /** Called with the archive offset of the task's first byte, just before its bytes are emitted. */
  readonly onEmit?: (offset: number) => void;
}

/** Counters shared with the stream's stats (see `zipStreamStats`). */
export interface PipelineCounters {
  piecesInFlight: number;
  maxPiecesInFlight: number;
  bytesEmitted: number;
}

export interface EmitInOrderOptions {
  /** At most this many weighted tasks (pieces) are read ahead and not yet handed on. */
  readonly limit: number;
  /** A cap on queued tasks of any weight, so a run of empty entries does not queue without bound. */
  readonly maxQueued: number;
  readonly signal: AbortSignal;
  readonly counters: PipelineCounters;
}

function noop(): void {}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * Pulls tasks from `tasks` (a lazy producer: pulling is what reads the source) and yields their
 * bytes strictly in order, with at most `limit` weighted tasks read ahead. The producer is only
 * pulled when this generator is resumed, so a slow consumer stops reading and compressing: the
 * running jobs finish and wait, nothing new starts.
 *
 * On any exit (done, error, `return()` from a destroyed stream) it waits for the jobs still
 * running and then closes the producer, so its file handle is closed before this settles.
 */
export async function* emitInOrder(
  tasks: AsyncGenerator<OutputTask, void, undefined>,
  options: EmitInOrderOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const { limit, maxQueued, signal, counters } = options;
  const queue: OutputTask[] = [];
  let weight = 0;
  let producerDone = false;
  try {
    for (;;) {
      while (!producerDone && weight < limit && queue.length < maxQueued) {
        if (signal.aborted) throw new AbortError(signal.reason);
        const next = await tasks.next();
        if (next.done === true) {
          producerDone = true;
          break;
        }
        const task = next.value;
        // A job may be abandoned (abort, earlier failure); never let its rejection go unhandled.
        if (typeof task.value !== 'function') task.value.catch(noop);
        queue.push(task);
        weight += task.weight;
        counters.piecesInFlight = weight;
        if (weight > counters.maxPiecesInFlight) counters.maxPiecesInFlight = weight;
      }
      const head = queue[0];
      if (head === undefined) return;
      const buffers = typeof head.value === 'function' ? head.value() : await raceAbort(head.value, signal);
      queue.shift();
      head.onEmit?.(counters.bytesEmitted);
      for (const buffer of buffers) {
        if (buffer.length === 0) continue;
        counters.bytesEmitted += buffer.length;
        yield buffer;
      }
      // The piece counts as read ahead until the consumer has taken its bytes.
      weight -= head.weight;
      counters.piecesInFlight = weight;
    }
  } finally {
    const running = queue.flatMap((task) => (typeof task.value === 'function' ? [] : [task.value]));
    await Promise.allSettled(running);
    counters.piecesInFlight = 0;
    await tasks.return(undefined);
  }
}
