import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorContext } from '../../core/errors.js';
import { writeFully } from '../../core/write-fully.js';
import { asResourceError, freeBytes, type ResourceErrorInfo } from '../../pack/fs-errors.js';
import { HeldTarget, type HeldStaging } from '../../pack/held-target.js';
import {
  NotStreamableError,
  openStreamExtraction,
  type StreamExtraction,
} from '../../pack/zip/stream-extract.js';
import type { ExtractOptions } from '../../pack/zip/index.js';
import type { BlobSink } from './blob-download.js';
import { removeCreatedChain } from '../../pack/remove-created.js';

/** Whether a response is a zip to extract, from its Content-Type (or the URL's extension). */
export type ZipDecision = (contentType: string | undefined) => boolean;

/**
 * The one-pass destination of a results download: a zip streams into a {@link StreamExtraction}
 * (entries staged in the target, placed only after the digest matched), anything else (or a zip
 * with `skipDecompress`) into one staged file in the target, `<target>/.ferry-staging-XXXXXX/blob`.
 * Which one is decided by each fresh response's Content-Type.
 *
 * Every byte is written once: a zip's raw bytes are not kept. When the streaming reader gives up
 * (an archive it cannot follow, or a faulty one), its staging is removed and the rest of the body
 * is only hashed; the caller then fetches the archive again into a temporary file and extracts it
 * from its central directory, which also reports a real fault with the usual error. That second
 * GET is the price of archives Ferry and the official clients never write; keeping a raw copy of
 * every zip instead doubled the bytes written by every download, and on machines where writing
 * is the scarce resource it made the one pass slower than the temp-file path it replaced.
 */
export class OnePassSink implements BlobSink {
  extraction: StreamExtraction | undefined;
  raw: StagedRawFile | undefined;
  /**
   * Set when the zip cannot be read front to back: the rest of the body is only hashed. Not
   * thrown, since a failed request would fail the whole operation (HttpManager stops every
   * worker on a permanent error), and a digest mismatch must still be told apart.
   */
  notStreamable: NotStreamableError | undefined;

  constructor(
    private readonly isZip: ZipDecision,
    private readonly extractOptions: ExtractOptions,
    private readonly context: ErrorContext,
  ) {}

  async start(contentType: string | undefined, declaredLength: number | undefined): Promise<void> {
    await this.dispose();
    this.notStreamable = undefined;
    if (this.isZip(contentType)) this.extraction = await openStreamExtraction(this.extractOptions);
    else
      this.raw = await StagedRawFile.open(this.extractOptions.targetDirectory, this.context, declaredLength);
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    if (this.notStreamable !== undefined) return;
    if (this.extraction !== undefined) {
      try {
        await this.extraction.write(chunks);
      } catch (error) {
        if (!(error instanceof NotStreamableError)) throw error;
        this.notStreamable = error;
        const extraction = this.extraction;
        this.extraction = undefined;
        await extraction.dispose();
      }
    } else await this.raw?.write(chunks);
  }

  async dispose(): Promise<void> {
    const { extraction, raw } = this;
    this.extraction = undefined;
    this.raw = undefined;
    await extraction?.dispose();
    await raw?.dispose();
  }
}

/** One file written into a hidden staging directory of the target, until it is placed. */
export class StagedRawFile {
  readonly file: string;
  #handle: FileHandle | undefined;

  private constructor(
    private readonly target: string,
    private readonly held: HeldTarget,
    private readonly staging: HeldStaging,
    private readonly createdTarget: string | undefined,
    handle: FileHandle,
    private readonly context: ErrorContext,
    /** The response's Content-Length, quoted when the disk is full. */
    private readonly declaredLength: number | undefined,
  ) {
    this.file = staging.file('blob');
    this.#handle = handle;
  }

  static async open(
    targetDirectory: string,
    context: ErrorContext,
    declaredLength: number | undefined,
  ): Promise<StagedRawFile> {
    const target = path.resolve(targetDirectory);
    await ensureRoom(target, declaredLength, { context, directory: target });
    const createdTarget = await mkdir(target, { recursive: true });
    const held = HeldTarget.open(target, { context });
    try {
      const staging = held.createStaging('.ferry-staging-');
      const handle = await open(staging.file('blob'), 'wx', 0o666);
      return new StagedRawFile(target, held, staging, createdTarget, handle, context, declaredLength);
    } catch (error) {
      held.close();
      throw error;
    }
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    try {
      await writeFully(this.#handle as FileHandle, chunks);
    } catch (error) {
      throw await asResourceError(error, {
        context: this.context,
        // The staging is removed because of the failure: what it holds counts as free in the target.
        removedOnFailure: path.join(this.target, this.staging.name),
        neededBytes: this.declaredLength,
      });
    }
  }

  /** All bytes are in: the file can be placed (while this object is not yet disposed). */
  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  async dispose(): Promise<void> {
    await this.close().catch(() => undefined);
    this.staging.remove(() => ['blob']);
    this.held.close();
    if (this.createdTarget !== undefined) await removeCreatedChain(this.target, this.createdTarget);
  }
}

/**
 * Refuses a response that declares more bytes than `directory` has free, before its first byte
 * is written (ERR_FERRY_NO_SPACE, naming the directory and both figures): the write would meet
 * the full disk anyway, only after those bytes were downloaded. The figure is statfs's space for an unprivileged writer (a
 * directory whose file system cannot say is not checked); the limit is the declared length, so
 * only a write that cannot fit is refused.
 */
async function ensureRoom(
  directory: string,
  declaredLength: number | undefined,
  info: ResourceErrorInfo,
): Promise<void> {
  if (declaredLength === undefined) return;
  const free = await freeBytes(directory);
  if (free === undefined || free >= declaredLength) return;
  const full = Object.assign(
    new Error(`ENOSPC: ${declaredLength} bytes to write, ${free} free (checked before writing)`),
    { code: 'ENOSPC' },
  );
  throw await asResourceError(full, { ...info, neededBytes: declaredLength });
}
