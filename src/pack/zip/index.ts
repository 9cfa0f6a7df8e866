export {
  readCentralDirectory,
  decodeCp437,
  type ZipEntry,
  type ReadDirectoryOptions,
} from './central-directory.js';
export { openEntryStream } from './entry-reader.js';
export {
  extractZip,
  PartialExtractionError,
  MAX_ENTRY_NAME_BYTES,
  type ExtractOptions,
  type ExtractResult,
} from './extract.js';
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from './limits.js';
