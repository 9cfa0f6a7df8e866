import { formatBytes, printableLines, printableText } from '../format.js';
import type { Logger, ProgressEvent } from '../types.js';
import { redactText } from '../transport/redact.js';

/** Where the CLI writes: results to stdout, human progress and logs to stderr, or JSON events to stdout. */
export interface CliOutput {
  logger: Logger;
  progress(event: ProgressEvent): void;
  result(value: Record<string, unknown>, human: string): void;
  error(message: string, code?: string): void;
}

export function createOutput(options: {
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  /** Redraw one progress bar line (stderr is a terminal) instead of printing throttled lines. */
  tty?: boolean;
}): CliOutput {
  const bar = options.tty ? new ProgressBar((text) => process.stderr.write(text)) : undefined;
  // JSON.stringify escapes C0 but not DEL, C1 or bidi controls: those are escaped as \u
  // sequences too, so the JSON stays equal (JSON.parse gives back the same strings) and no raw
  // escape byte reaches a terminal that shows it.
  const emit = (value: Record<string, unknown>): void => {
    process.stdout.write(`${escapeJsonControls(redactText(JSON.stringify(value)))}\n`);
  };
  const line = (text: string): void => {
    process.stderr.write(`${printableLines(redactText(text))}\n`);
  };
  let lastProgress = 0;
  const logger: Logger = {
    debug: (m) =>
      options.verbose
        ? options.json
          ? emit({ event: 'log', level: 'debug', message: m })
          : line(m)
        : undefined,
    info: (m) =>
      options.quiet ? undefined : options.json ? emit({ event: 'log', level: 'info', message: m }) : line(m),
    warn: (m) => (options.json ? emit({ event: 'log', level: 'warn', message: m }) : line(`warning: ${m}`)),
    error: (m) => (options.json ? emit({ event: 'log', level: 'error', message: m }) : line(`error: ${m}`)),
  };
  return {
    logger,
    progress(event) {
      if (options.json) {
        emit({ event: 'progress', ...event });
        return;
      }
      if (options.quiet) return;
      if (bar) {
        bar.update(event);
        return;
      }
      const now = Date.now();
      // Plain throttled lines: readable in a CI log, where a redrawn bar would be noise.
      if (event.phase === 'transfer' && now - lastProgress < 1000) return;
      lastProgress = now;
      const pct = event.bytesTotal
        ? ` ${Math.floor((100 * event.bytesDone) / Math.max(1, event.bytesTotal))}%`
        : '';
      const files = event.filesTotal !== undefined ? ` ${event.filesDone}/${event.filesTotal} files` : '';
      line(
        `${event.operation} ${printableText(event.artifactName)}: ${event.phase}${pct}${files} ${formatBytes(event.bytesDone)}`,
      );
    },
    result(value, human) {
      bar?.finish();
      if (options.json) emit({ event: 'result', ...value });
      else process.stdout.write(`${printableLines(redactText(human))}\n`);
    },
    error(message, code) {
      bar?.finish();
      if (options.json) emit({ event: 'error', code, message });
      else line(`error: ${message}`);
    },
  };
}

export { formatBytes };

/** DEL, C1 controls, bidi overrides/isolates and U+2028/2029, which JSON.stringify leaves raw, as `\uXXXX`. */
export function escapeJsonControls(json: string): string {
  return json.replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * A single redrawn line for terminals: phase, bytes, percent, rate, ETA and files. Redraws at
 * most ten times a second; the rate is measured from the first transfer event.
 */
export class ProgressBar {
  #started: number | undefined;
  #last = 0;
  #drawn = false;
  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  update(event: ProgressEvent): void {
    const now = this.now();
    if (event.phase === 'transfer') this.#started ??= now;
    if (event.phase === 'transfer' && now - this.#last < 100) return;
    this.#last = now;
    this.write(`\r\u001b[2K${this.render(event, now)}`);
    this.#drawn = true;
  }

  render(event: ProgressEvent, now: number): string {
    const elapsed = this.#started === undefined ? 0 : (now - this.#started) / 1000;
    const rate = elapsed > 0 ? event.bytesDone / elapsed : 0;
    const total = event.bytesTotal;
    const fraction = total ? Math.min(1, event.bytesDone / Math.max(1, total)) : undefined;
    const width = 24;
    const filled = fraction === undefined ? 0 : Math.round(fraction * width);
    const gauge =
      fraction === undefined
        ? ''
        : `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% `;
    const eta =
      fraction !== undefined && rate > 0 && total
        ? ` ETA ${formatDuration((total - event.bytesDone) / rate)}`
        : '';
    const files = event.filesTotal !== undefined ? ` ${event.filesDone}/${event.filesTotal} files` : '';
    const size = total
      ? `${formatBytes(event.bytesDone)}/${formatBytes(total)}`
      : formatBytes(event.bytesDone);
    return `${event.operation} ${printableText(event.artifactName)} ${event.phase} ${gauge}${size} ${formatBytes(rate)}/s${eta}${files}`;
  }

  finish(): void {
    if (this.#drawn) this.write('\n');
    this.#drawn = false;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}
