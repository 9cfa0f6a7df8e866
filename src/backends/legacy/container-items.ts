import type { Readable } from 'node:stream';
import type { ErrorContext } from '../../core/errors.js';
import { notJsonError, responseTooLarge } from '../../transport/body.js';

/**
 * Streams the `value` array of a legacy container listing (`{"count":N,"value":[{…},{…}]}`)
 * one item at a time. A listing of 50,000 files is a ~28 MB JSON document; parsed whole it
 * peaked at 336 MiB. Here memory is bounded by one item: the scanner tracks only nesting depth
 * and string state, cuts out each element of the top-level `value` array, and hands it to
 * JSON.parse alone.
 *
 * Bounds: each item at most `maxItemBytes`, and everything outside the items (other keys,
 * separators, whitespace) at most `maxItemBytes` in total, so neither a huge item nor endless
 * filler can grow memory or keep the download reading forever. The number of items is not bounded here: the consumer stops
 * the stream when it has seen enough (breaking out of the loop destroys the response).
 */
export interface ContainerItemsOptions {
  maxItemBytes: number;
  context?: ErrorContext | undefined;
  /** Called with the size of every chunk read (for a throughput watchdog). */
  onBytes?: ((bytes: number) => void) | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** Not JSON: the same retryable error readJson throws (an intermediary's HTML page, a cut body). */
function badJson(detail: string): Error {
  return notJsonError(`expected a JSON container listing, ${detail}`);
}

/** The byte-level state of the scan; one instance per listing. */
class ListingScanner {
  /** Nesting depth: 0 outside the root object, 1 inside it, 2 inside the `value` array. */
  #depth = 0;
  #inString = false;
  #escaped = false;
  #rootClosed = false;
  /** Inside the root object, the next string is a key (after `{` or `,`). */
  #expectKey = false;
  #readingKey = false;
  /** The key being read, as long as it could still be `value`. */
  #key = '';
  /** The last key read at depth 1, and whether its `:` has been seen. */
  #lastKey = '';
  #afterColon = false;
  #inValueArray = false;
  #sawValueArray = false;
  /** Pieces of the element being cut out, and their total length. */
  #pieces: Buffer[] = [];
  #pieceBytes = 0;
  #capturing = false;
  #captureStart = 0;
  /** Bytes seen inside items (all of them, for counting) and outside items. */
  #itemBytes = 0;
  #otherBytes = 0;

  constructor(readonly options: ContainerItemsOptions) {}

  /** Scans one chunk and returns the items completed in it. */
  scan(chunk: Buffer): unknown[] {
    const items: unknown[] = [];
    const itemBytesBefore = this.#itemBytes;
    this.#captureStart = 0;
    // Where the next backslash of this chunk is, found once and reused: most bytes are inside
    // strings, and jumping to the next quote or backslash with indexOf is ten times faster
    // than looking at each byte.
    let nextBackslash = -2;
    for (let i = 0; i < chunk.length; i++) {
      if (this.#inString && !this.#escaped && !this.#readingKey) {
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
        const quote = chunk.indexOf(QUOTE, i);
        const stop =
          nextBackslash === -1 ? quote : quote === -1 ? nextBackslash : Math.min(quote, nextBackslash);
        if (stop === -1) break;
        i = stop;
      }
      const byte = chunk[i] as number;
      if (this.#inString) {
        this.#scanString(byte);
        continue;
      }
      if (isWhitespace(byte)) continue;
      if (this.#rootClosed) throw badJson('got data after the end of the document');
      if (this.#depth === 0) {
        if (byte !== OPEN_BRACE) throw badJson(`got '${String.fromCharCode(byte)}' where an object starts`);
        this.#depth = 1;
        this.#expectKey = true;
        continue;
      }
      const elementLevel = this.#inValueArray && this.#depth === 2;
      if (elementLevel && (byte === COMMA || byte === CLOSE_BRACKET)) {
        if (this.#capturing) items.push(this.#finishElement(chunk, i));
        else if (byte === COMMA) throw badJson("got an empty element in the 'value' array");
        if (byte === CLOSE_BRACKET) {
          this.#depth = 1;
          this.#inValueArray = false;
        }
        continue;
      }
      if (elementLevel && !this.#capturing) {
        this.#capturing = true;
        this.#captureStart = i;
      }
      this.#scanStructure(byte);
    }
    if (this.#capturing) this.#keepPiece(chunk.subarray(this.#captureStart));
    this.#countOther(chunk.length - (this.#itemBytes - itemBytesBefore));
    return items;
  }

  /** The whole body arrived: it must have been one complete object. */
  end(): void {
    if (!this.#rootClosed) throw badJson('the body ended before the listing did');
  }

  #scanString(byte: number): void {
    if (this.#escaped) {
      this.#escaped = false;
    } else if (byte === BACKSLASH) {
      this.#escaped = true;
    } else if (byte === QUOTE) {
      this.#inString = false;
      if (this.#readingKey) {
        this.#readingKey = false;
        this.#lastKey = this.#key;
        this.#afterColon = false;
      }
      return;
    }
    // Only `value` matters; a longer key is kept as a non-match without growing.
    if (this.#readingKey && this.#key.length <= 5) this.#key += String.fromCharCode(byte);
  }

  #scanStructure(byte: number): void {
    switch (byte) {
      case QUOTE:
        this.#inString = true;
        if (this.#depth === 1 && this.#expectKey) {
          this.#readingKey = true;
          this.#expectKey = false;
          this.#key = '';
        }
        return;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        if (this.#depth === 1 && byte === OPEN_BRACKET && this.#afterColon && this.#lastKey === 'value') {
          // A second `value` would make JSON.parse keep only the last: refuse rather than merge.
          if (this.#sawValueArray) throw badJson("got two 'value' arrays");
          this.#inValueArray = true;
          this.#sawValueArray = true;
        }
        this.#depth++;
        return;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        this.#depth--;
        if (this.#depth === 0) this.#rootClosed = true;
        if (this.#depth < 0) throw badJson('got unbalanced brackets');
        return;
      case COMMA:
        if (this.#depth === 1) {
          this.#expectKey = true;
          this.#afterColon = false;
        }
        return;
      case COLON:
        if (this.#depth === 1) this.#afterColon = true;
        return;
      default:
        return;
    }
  }

  /** Ends the element at `end` (exclusive) in `chunk` and parses it. */
  #finishElement(chunk: Buffer, end: number): unknown {
    this.#keepPiece(chunk.subarray(this.#captureStart, end));
    const text = Buffer.concat(this.#pieces, this.#pieceBytes).toString('utf8');
    this.#pieces = [];
    this.#pieceBytes = 0;
    this.#capturing = false;
    this.#captureStart = end + 1;
    try {
      return JSON.parse(text) as unknown;
    } catch (error: unknown) {
      throw Object.assign(badJson(`got an item that is not JSON: ${text.slice(0, 100)}`), { cause: error });
    }
  }

  #keepPiece(piece: Buffer): void {
    this.#itemBytes += piece.length;
    this.#pieceBytes += piece.length;
    if (this.#pieceBytes > this.options.maxItemBytes) {
      throw responseTooLarge(
        'An item of the container listing',
        this.options.maxItemBytes,
        'maxResponseBytes',
        this.options.context,
      );
    }
    this.#pieces.push(piece);
  }

  /** Counts bytes outside items: separators, other keys, whitespace. */
  #countOther(bytes: number): void {
    this.#otherBytes += bytes;
    if (this.#otherBytes > this.options.maxItemBytes) {
      throw responseTooLarge(
        'The container listing outside its items',
        this.options.maxItemBytes,
        'maxResponseBytes',
        this.options.context,
      );
    }
  }
}

/**
 * Yields the items of a container listing as they arrive. Stopping early (break, return, a
 * throw in the loop body) destroys `body`.
 */
export async function* streamContainerItems(
  body: Readable,
  options: ContainerItemsOptions,
): AsyncGenerator<unknown, void, undefined> {
  const scanner = new ListingScanner(options);
  for await (const chunk of body) {
    options.onBytes?.((chunk as Buffer).length);
    const items = scanner.scan(chunk as Buffer);
    for (const item of items) yield item;
  }
  scanner.end();
}
