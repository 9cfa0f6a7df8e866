/**
 * A streaming zip writer for artifact uploads (from files, or from streams of known size and CRC-32
 * such as entries of other zips): STORED entries with their CRC-32 in the local
 * header (no data descriptor), DEFLATED entries compressed in parallel pieces (pigz method) with
 * a data descriptor, ZIP64 where needed, lazy reads with backpressure.
 */
export { createZipStream, zipStreamStats } from './zip-stream.js';
export {
  normalizeZipWriterOptions,
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
  MAX_CONCURRENCY,
  MIN_CHUNK_SIZE,
  type ZipEntryInfo,
  type ZipInput,
  type ZipStreamStats,
  type ZipWriterOptions,
} from './zip-options.js';
export { validateEntryName } from './zip-inputs.js';
export { SAMPLE_SIZE, MIN_SAVING, isWorthDeflating, sampleIsCompressible } from './compressibility.js';
export { DictionaryWindow, deflatePiece, emitInOrder, type OutputTask } from './parallel-deflate.js';
export { EntrySource, StreamSource, type PieceSource, type StreamInputSpec } from './entry-source.js';
export {
  centralDirectoryHeader,
  dataDescriptor,
  dosDateTime,
  endOfCentralDirectory,
  externalAttributes,
  localFileHeader,
  type EntryRecord,
} from './headers.js';
