/** Injected logger. The SDK never writes to stdout itself; the Action and CLI decide where lines go. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Progress of an upload or download. `total*` are undefined until known. */
export interface ProgressEvent {
  operation: 'upload' | 'download';
  artifactName: string;
  phase: 'prepare' | 'transfer' | 'finalize' | 'done';
  /** Bytes of file content processed so far (before compression on upload, after on download). */
  bytesDone: number;
  bytesTotal: number | undefined;
  filesDone: number;
  filesTotal: number | undefined;
}

export type ProgressCallback = (event: ProgressEvent) => void;
