import { formatBytes, printableLines, printableText } from '../core/format.js';
import type { Logger, ProgressEvent } from '../core/types.js';
import { redactText } from '../core/redact.js';
import { statsToJson, type OperationStats } from '../core/stats.js';

/** Where the CLI writes: results to stdout, human progress and logs to stderr, or JSON events to stdout. */
export interface CliOutput {
  logger: Logger;
  progress(event: ProgressEvent): void;
  result(value: Record<string, unknown>, human: string): void;
  error(message: string, code?: string): void;
  /** The counters of the operation the command ran; the next `--json` result line carries them as `stats`. */
  stats(stats: OperationStats): void;
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
  let stats: OperationStats | undefined;
  const transferStarted = new TransferClock();
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
      if (event.phase === 'transfer') transferStarted.note(event, now);
      // Plain throttled lines: readable in a CI log, where a redrawn bar would be noise.
      if (event.phase === 'transfer' && now - lastProgress < 1000) return;
      lastProgress = now;
      const pct = event.bytesTotal
        ? ` ${Math.floor((100 * event.bytesDone) / Math.max(1, event.bytesTotal))}%`
        : '';
      const speed = event.phase === 'transfer' ? rateAndEta(event, transferStarted.get(event), now) : '';
      line(
        `${event.operation} ${printableText(event.artifactName)}: ${event.phase}${pct}${filesText(event)} ${formatBytes(event.bytesDone)}${speed}`,
      );
    },
    result(value, human) {
      bar?.finish();
      if (options.json) emit({ event: 'result', ...value, ...(stats ? { stats: statsToJson(stats) } : {}) });
      else process.stdout.write(`${printableLines(redactText(human))}\n`);
    },
    stats(value) {
      stats = value;
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
  /** Each artifact's own start: several download at once, and one's rate is not another's. */
  readonly #clock = new TransferClock();
  #last = 0;
  #drawn = false;
  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  update(event: ProgressEvent): void {
    const now = this.now();
    if (event.phase === 'transfer') this.#clock.note(event, now);
    if (event.phase === 'transfer' && now - this.#last < 100) return;
    this.#last = now;
    this.write(`\r\u001b[2K${this.render(event, now)}`);
    this.#drawn = true;
  }

  render(event: ProgressEvent, now: number): string {
    const total = event.bytesTotal;
    const fraction = total ? Math.min(1, event.bytesDone / Math.max(1, total)) : undefined;
    const width = 24;
    const filled = fraction === undefined ? 0 : Math.round(fraction * width);
    const gauge =
      fraction === undefined
        ? ''
        : `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% `;
    const size = total
      ? `${formatBytes(event.bytesDone)}/${formatBytes(total)}`
      : formatBytes(event.bytesDone);
    const speed = rateAndEta(event, this.#clock.get(event), now) || ` ${formatBytes(0)}/s`;
    return `${event.operation} ${printableText(event.artifactName)} ${event.phase} ${gauge}${size}${speed}${filesText(event)}`;
  }

  finish(): void {
    if (this.#drawn) this.write('\n');
    this.#drawn = false;
  }
}

/**
 * When each artifact's transfer began (several artifacts download at once), so the rate and
 * ETA of one are not measured from another's start.
 */
class TransferClock {
  readonly #started = new Map<string, number>();
  note(event: ProgressEvent, now: number): void {
    const key = `${event.operation}\u0000${event.artifactName}`;
    if (!this.#started.has(key)) this.#started.set(key, now);
  }
  get(event: ProgressEvent): number | undefined {
    return this.#started.get(`${event.operation}\u0000${event.artifactName}`);
  }
}

/** ` 3.1 MiB/s ETA 4s` from the bytes moved since `started`; the ETA only when the total is known. */
export function rateAndEta(event: ProgressEvent, started: number | undefined, now: number): string {
  const elapsed = started === undefined ? 0 : (now - started) / 1000;
  if (elapsed <= 0) return '';
  const rate = event.bytesDone / elapsed;
  const total = event.bytesTotal;
  const eta = total && rate > 0 ? ` ETA ${formatDuration(Math.max(0, total - event.bytesDone) / rate)}` : '';
  return ` ${formatBytes(Math.round(rate))}/s${eta}`;
}

/** ` 3/5 files`, ` 1/1 file`, or nothing when the count is not known yet. */
function filesText(event: ProgressEvent): string {
  if (event.filesTotal === undefined) return '';
  return ` ${event.filesDone}/${event.filesTotal} ${event.filesTotal === 1 ? 'file' : 'files'}`;
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
