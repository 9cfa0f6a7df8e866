import { printableText } from '../../core/format.js';
import type { RequestRecord } from './request-record.js';

/** `json`: one JSON object per line; `text`: the historical one-line format; `off`: no access lines. */
export type AccessLogFormat = 'json' | 'text' | 'off';

export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['json', 'text', 'off'];

/**
 * Where the server writes: one access line per request (in the chosen format) and diagnostics
 * (storage failures, refused connections, a cold index). In `json` mode diagnostics are JSON
 * objects too, so the stream stays one object per line for a log shipper.
 *
 * Neither kind ever carries a credential: access lines name the route, not the path, and no
 * query string (signed URLs carry their signature there); no header is logged.
 */
export class ServerLog {
  readonly #sink: ((line: string) => void) | undefined;
  readonly format: AccessLogFormat;

  constructor(sink: ((line: string) => void) | undefined, format: AccessLogFormat) {
    this.#sink = sink;
    this.format = format;
  }

  /** Whether diagnostics go anywhere (a sink is set). */
  get enabled(): boolean {
    return this.#sink !== undefined;
  }

  access(record: RequestRecord, path: string): void {
    if (!this.#sink || this.format === 'off') return;
    if (this.format === 'json') {
      this.#sink(JSON.stringify({ type: 'access', ...record, status: record.status ?? null }));
      return;
    }
    // The historical line: path only (no query), escaped so a client's bytes cannot drive a terminal.
    const status = record.status === undefined ? 'no-answer' : String(record.status);
    const cut = record.status !== undefined && record.cut ? ' (answer cut)' : '';
    this.#sink(`${record.method} ${printableText(path)} ${status}${cut} ${record.durationMs.toFixed(1)}ms`);
  }

  /** A diagnostic line; `message` must already be free of secrets. */
  diag(level: 'info' | 'warn' | 'error', message: string): void {
    if (!this.#sink) return;
    if (this.format === 'json') {
      this.#sink(JSON.stringify({ type: 'log', time: new Date().toISOString(), level, message }));
      return;
    }
    // Text mode keeps the historical lines exactly as they were.
    this.#sink(message);
  }
}
