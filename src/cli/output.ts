import type { Logger, ProgressEvent } from '../types.js';
import { redactText } from '../transport/redact.js';

/** Where the CLI writes: results to stdout, human progress and logs to stderr, or JSON events to stdout. */
export interface CliOutput {
  logger: Logger;
  progress(event: ProgressEvent): void;
  result(value: Record<string, unknown>, human: string): void;
  error(message: string, code?: string): void;
}

export function createOutput(options: { json: boolean; verbose: boolean; quiet: boolean }): CliOutput {
  const emit = (value: Record<string, unknown>): void => {
    process.stdout.write(`${redactText(JSON.stringify(value))}\n`);
  };
  const line = (text: string): void => {
    process.stderr.write(`${redactText(text)}\n`);
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
      const now = Date.now();
      // Plain throttled lines: readable in a CI log, where a redrawn bar would be noise.
      if (event.phase === 'transfer' && now - lastProgress < 1000) return;
      lastProgress = now;
      const pct = event.bytesTotal
        ? ` ${Math.floor((100 * event.bytesDone) / Math.max(1, event.bytesTotal))}%`
        : '';
      const files = event.filesTotal !== undefined ? ` ${event.filesDone}/${event.filesTotal} files` : '';
      line(
        `${event.operation} ${event.artifactName}: ${event.phase}${pct}${files} ${formatBytes(event.bytesDone)}`,
      );
    },
    result(value, human) {
      if (options.json) emit({ event: 'result', ...value });
      else process.stdout.write(`${redactText(human)}\n`);
    },
    error(message, code) {
      if (options.json) emit({ event: 'error', code, message });
      else line(`error: ${message}`);
    },
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
