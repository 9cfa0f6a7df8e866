import { Worker } from 'node:worker_threads';

/**
 * Small zip entries of a many-file download, inflated, checked and written to their staged files
 * by one worker thread, in batches, while the main thread goes on reading the socket, hashing and
 * parsing the next entries.
 *
 * Each small entry costs an open, a write and a close (and an inflate): written inline they took
 * about 0.8 s of a 10,000-file download's main thread, and twice that when the disk was shared
 * (issue 12: the system time of file creation doubles under contention). libuv's thread pool is
 * no answer: one round trip per call is what the synchronous path removed. One worker given a
 * batch of entries at a time does the same synchronous calls, off the thread that receives.
 *
 * Only entries past the first {@link INLINE_ENTRIES} go to the worker: most artifacts have fewer
 * files, and a worker costs ~20 ms to start and a few MiB of its own heap.
 */

/** Small entries a stager writes inline before it starts the worker. */
export const INLINE_ENTRIES = 256;
/** A batch is sent when it holds this many entries ... */
const BATCH_ENTRIES = 128;
/** ... or this many compressed bytes. */
const BATCH_BYTES = 1024 * 1024;
/** Batches handed over and not yet answered; the caller waits beyond this (bounded memory). */
const MAX_IN_FLIGHT = 4;

/** An entry's data is not what its local header declares: the archive is not streamable. */
export class EntryDataError extends Error {
  override name = 'EntryDataError';
}

/**
 * The worker's code: plain CommonJS in a string, so that no bundler (esbuild for dist/) or
 * coverage tool rewrites it. For every entry of a batch: inflate (method 8) into at most the
 * declared size, check that the whole input was one deflate stream and that the size is the
 * declared one, CRC-32, then create the staged file exclusively ('wx': nothing is written through
 * a name someone put there). The first failure ends the batch; its answer says which entry and why.
 * These are the checks and messages of StreamStager's inline path (#writeSmall), kept in step by
 * hand: a string cannot import them. zip-stream-extract.test.ts runs the faults inline,
 * small-entry-batches.test.ts past the inline entries.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { writeFileSync } = require('node:fs');
const { crc32, inflateRawSync } = require('node:zlib');
parentPort.on('message', (batch) => {
  const { id, names, methods, sizes, ends, mode } = batch;
  const input = Buffer.from(batch.bytes);
  const crcs = new Uint32Array(names.length);
  let start = 0;
  for (let i = 0; i < names.length; i++) {
    const compressed = input.subarray(start, ends[i]);
    start = ends[i];
    let data = compressed;
    if (methods[i] === 8) {
      try {
        const { buffer, engine } = inflateRawSync(compressed, { maxOutputLength: Math.max(sizes[i], 1), info: true });
        if (engine.bytesWritten !== compressed.length) {
          parentPort.postMessage({ id, failure: { kind: 'data', index: i, message: 'an entry ends before or after the size its local header declares' } });
          return;
        }
        data = buffer;
      } catch (error) {
        parentPort.postMessage({ id, failure: { kind: 'data', index: i, message: 'an entry does not inflate (' + error.message + ')' } });
        return;
      }
    }
    if (data.length !== sizes[i]) {
      parentPort.postMessage({ id, failure: { kind: 'data', index: i, message: 'an entry has a different size than its local header declares' } });
      return;
    }
    crcs[i] = crc32(data);
    try {
      writeFileSync(names[i], data, { flag: 'wx', mode });
    } catch (error) {
      const { code, errno, syscall, path, message } = error;
      parentPort.postMessage({ id, failure: { kind: 'fs', index: i, message, code, errno, syscall, path } });
      return;
    }
  }
  parentPort.postMessage({ id, crcs }, [crcs.buffer]);
});
`;

interface Failure {
  kind: 'data' | 'fs';
  index: number;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

interface Answer {
  id: number;
  crcs?: Uint32Array;
  failure?: Failure;
}

/** Entries gathered for the next batch. */
interface Pending {
  entries: number[];
  names: string[];
  methods: number[];
  sizes: number[];
  parts: Buffer[][];
  bytes: number;
}

const emptyPending = (): Pending => ({ entries: [], names: [], methods: [], sizes: [], parts: [], bytes: 0 });

/**
 * One worker and the batches handed to it. `add` queues an entry (and waits while
 * {@link MAX_IN_FLIGHT} batches are unanswered); `flush` sends what is queued and waits for every
 * answer; `close` waits for the batches already handed over (a file the worker is creating must
 * not appear after the staging was removed), then stops the worker. A failure is thrown by the
 * next `add` or `flush`: an {@link EntryDataError} for data that is not what was declared, the
 * file system's own error (code, syscall, path) for a failed write, as the inline path throws it.
 */
export class SmallEntryBatches {
  readonly #worker: Worker;
  readonly #mode: number;
  /** Receives the CRC-32 of entry `index` once the worker has written it. */
  readonly #onWritten: (index: number, crc: number) => void;
  #pending = emptyPending();
  /** Entry indexes of each batch handed over, by batch id. */
  readonly #inFlight = new Map<number, number[]>();
  #nextId = 0;
  #failure: Error | undefined;
  #waiters: (() => void)[] = [];
  #stopped = false;

  private constructor(worker: Worker, mode: number, onWritten: (index: number, crc: number) => void) {
    this.#worker = worker;
    this.#mode = mode;
    this.#onWritten = onWritten;
    worker.unref();
    worker.on('message', (answer: Answer) => this.#answer(answer));
    worker.on('error', (error: Error) => this.#lost(`failed (${error.message})`));
    worker.on('exit', (code) => this.#lost(`exited with code ${code}`));
  }

  /** A worker for one staging, or undefined when no worker can be started (the caller stays inline). */
  static start(mode: number, onWritten: (index: number, crc: number) => void): SmallEntryBatches | undefined {
    let worker: Worker;
    try {
      // The worker keeps nothing between entries: a small young generation keeps its own heap
      // (and so the download's peak RSS) small; the old-generation cap is far above its needs.
      worker = new Worker(WORKER_SOURCE, {
        eval: true,
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
      });
    } catch {
      return undefined;
    }
    return new SmallEntryBatches(worker, mode, onWritten);
  }

  /** Queues entry `index`, to be written to `file`; resolves once there is room for more. */
  async add(index: number, file: string, method: number, size: number, compressed: Buffer[]): Promise<void> {
    this.#throwIfFailed();
    const pending = this.#pending;
    pending.entries.push(index);
    pending.names.push(file);
    pending.methods.push(method);
    pending.sizes.push(size);
    pending.parts.push(compressed);
    for (const part of compressed) pending.bytes += part.length;
    if (pending.entries.length >= BATCH_ENTRIES || pending.bytes >= BATCH_BYTES) this.#send();
    while (this.#inFlight.size > MAX_IN_FLIGHT && this.#failure === undefined) await this.#answered();
    this.#throwIfFailed();
  }

  /** Sends what is queued and waits until every batch is written; throws the first failure. */
  async flush(): Promise<void> {
    this.#throwIfFailed();
    this.#send();
    while (this.#inFlight.size > 0) await this.#answered();
    this.#throwIfFailed();
  }

  /** Waits for the batches handed over (their outcome no longer matters), then stops the worker. */
  async close(): Promise<void> {
    this.#pending = emptyPending();
    while (this.#inFlight.size > 0) await this.#answered();
    this.#stopped = true;
    await this.#worker.terminate();
  }

  #send(): void {
    const pending = this.#pending;
    if (pending.entries.length === 0) return;
    this.#pending = emptyPending();
    // One buffer per batch, transferred rather than copied again: the parts are views into the
    // socket's reads, which cannot be handed to another thread.
    const bytes = new ArrayBuffer(pending.bytes);
    const view = new Uint8Array(bytes);
    const ends = new Uint32Array(pending.entries.length);
    let at = 0;
    pending.parts.forEach((parts, i) => {
      for (const part of parts) {
        view.set(part, at);
        at += part.length;
      }
      ends[i] = at;
    });
    const id = this.#nextId++;
    if (this.#inFlight.size === 0) this.#worker.ref();
    this.#inFlight.set(id, pending.entries);
    this.#worker.postMessage(
      {
        id,
        names: pending.names,
        methods: Uint8Array.from(pending.methods),
        sizes: Uint32Array.from(pending.sizes),
        ends,
        bytes,
        mode: this.#mode,
      },
      [bytes],
    );
  }

  #answer(answer: Answer): void {
    const entries = this.#inFlight.get(answer.id);
    if (entries === undefined) return;
    this.#inFlight.delete(answer.id);
    if (answer.crcs !== undefined) {
      entries.forEach((index, i) => this.#onWritten(index, (answer.crcs as Uint32Array)[i] as number));
    } else if (answer.failure !== undefined) {
      this.#failure ??= toError(answer.failure);
    }
    this.#settled();
  }

  /** The worker is gone: nothing more will be answered. */
  #lost(how: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#inFlight.size > 0 || this.#pending.entries.length > 0) {
      this.#failure ??= new EntryDataError(`the worker writing small entries ${how}`);
    }
    this.#inFlight.clear();
    this.#settled();
  }

  #settled(): void {
    if (this.#inFlight.size === 0) this.#worker.unref();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #answered(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#stopped) throw new EntryDataError('the worker writing small entries has stopped');
  }
}

function toError(failure: Failure): Error {
  if (failure.kind === 'data') return new EntryDataError(failure.message);
  // The file system's error as the inline write would have thrown it, so a full disk is reported
  // the same way (asResourceError reads `code`).
  return Object.assign(new Error(failure.message), {
    code: failure.code,
    errno: failure.errno,
    syscall: failure.syscall,
    path: failure.path,
  });
}
