import { FerryError, IntegrityError, type ErrorContext } from '../../core/errors.js';
import { responseTooLarge } from '../../transport/body.js';
import { printable } from '../../core/format.js';
import { limitError, RATIO_THRESHOLD_BYTES, type ExtractLimits } from '../../pack/zip/limits.js';

/** What the meter needs to know about the file being written. */
export interface MeteredFile {
  artifactPath: string;
  /** The listed `fileLength`; the bytes written may not exceed it (nor, in the end, fall short). */
  length: number | undefined;
}

/** The running count for one response body of one file. */
export interface FileMeter {
  /**
   * Counts `bytes` more written (after gunzip) with `compressed` bytes of the body received so
   * far. Returns the error to stop the transfer with, or undefined.
   */
  written(bytes: number, compressed: number): FerryError | undefined;
  /** The body failed and will be fetched again (or not at all): its bytes no longer count. */
  discard(): void;
}

/**
 * The download limits applied while legacy items are written, on the actual bytes: the listing
 * was checked before (see LegacyListingCheck), but a server can send more than it listed, and
 * items without a `fileLength` were not counted. Stops a file at its listed length, the whole
 * artifact at `maxTotalBytes`, and a gzip body whose output outgrows its input by `maxRatio`
 * (past the first MiB, as for zip entries) — a gzip bomb is stopped after at most one chunk
 * past the limit, never inflated to the end.
 */
export class LegacyWriteLimits {
  readonly #name: string;
  readonly #limits: ExtractLimits;
  readonly #context: ErrorContext;
  #total = 0;

  constructor(name: string, limits: ExtractLimits, context: ErrorContext) {
    this.#name = name;
    this.#limits = limits;
    this.#context = context;
  }

  /** Bytes written so far across the artifact (bodies discarded for a retry not included). */
  get total(): number {
    return this.#total;
  }

  meter(file: MeteredFile, gzip: boolean): FileMeter {
    let mine = 0;
    const context = { ...this.#context, file: file.artifactPath };
    return {
      written: (bytes, compressed) => {
        mine += bytes;
        this.#total += bytes;
        if (file.length !== undefined && mine > file.length) {
          // Not this file (a body without end, or a gzip body inflating past it): not retried.
          return responseTooLarge(
            `The download of ${printable(file.artifactPath)}`,
            file.length,
            'the listed fileLength',
            context,
          );
        }
        if (this.#total > this.#limits.maxTotalBytes) {
          return this.#limit(`its files are at least ${this.#total} bytes`, 'maxTotalBytes', context);
        }
        if (gzip && mine > RATIO_THRESHOLD_BYTES) {
          const ratio = compressed === 0 ? Infinity : mine / compressed;
          if (ratio > this.#limits.maxRatio) {
            return this.#limit(
              `file ${printable(file.artifactPath)} inflates at a ratio of ${ratio === Infinity ? 'infinity' : Math.round(ratio)}:1 ` +
                `(${mine} bytes from ${compressed})`,
              'maxRatio',
              context,
            );
          }
        }
        return undefined;
      },
      discard: () => {
        this.#total -= mine;
        mine = 0;
      },
    };
  }

  #limit(what: string, option: keyof ExtractLimits, context: ErrorContext): IntegrityError {
    const error = limitError(what, option, this.#limits[option], `Legacy artifact ${printable(this.#name)}`);
    return new IntegrityError(error.code, error.message, { context });
  }
}
