import * as core from '@actions/core';
import { fromEnvironment } from '../environment.js';
import { isFerryError } from '../core/errors.js';
import { redactText } from '../core/redact.js';
import { onSecretRegistered } from '../core/secrets.js';
import type { ArtifactClientOptions } from '../options.js';
import { forAction } from './hints.js';
import type { Logger, ProgressCallback, ProgressEvent } from '../core/types.js';

/** Minimum time between two progress lines of one artifact. */
export const PROGRESS_INTERVAL_MS = 10_000;

export type Env = Record<string, string | undefined>;

/**
 * The one place the Action reads the runner environment and wires the SDK to the step log:
 * runner options (`fromEnvironment`), a logger on core.debug/info/warning/error, throttled
 * progress lines, and masks for the runtime token and any signed-URL signature seen in a line.
 */
import { formatBytes, printableLines, printableText } from '../core/format.js';
export { formatBytes };

export function actionOptions(env: Env, progressIntervalMs = PROGRESS_INTERVAL_MS): ArtifactClientOptions {
  // Every secret the SDK is given (the runtime token and GITHUB_TOKEN that fromEnvironment
  // registers, a proxy password, a findBy token) is also masked by the runner, wherever it may
  // appear in the step log. Subscribing twice is harmless: the listener set holds `mask` once.
  onSecretRegistered(mask);
  return {
    ...fromEnvironment(env),
    logger: actionLogger(),
    onProgress: progressReporter(progressIntervalMs),
  };
}

/** `core.setSecret`, for values long enough to be worth masking. */
export function mask(secret: string | undefined): void {
  if (secret && secret.length >= 6) core.setSecret(secret);
}

/** Signature values in a line (`sig=...`, `signature=...`) that the SDK did not already scrub. */
const SIGNATURE = /[?&](?:sig|signature|x-amz-signature)=([^&\s"'#]+)/gi;

/**
 * Makes a line right for the step log: advice names the Action's inputs (see hints.ts), and the
 * line is safe: the runner is told to mask any signature value found (so it is hidden wherever
 * else it may appear), then the line itself is scrubbed, so not even the raw stdout the runner
 * reads carries a secret.
 */
function forStepLog(message: string): string {
  for (const match of message.matchAll(SIGNATURE)) {
    const value = decodeSafely(match[1] as string);
    if (value !== '***' && value !== '%2A%2A%2A') {
      mask(match[1]);
      mask(value);
    }
  }
  // Raw ESC/C1/bidi characters from a server-supplied name never reach the step log.
  return printableLines(redactText(forAction(message)));
}

function decodeSafely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export function actionLogger(): Logger {
  return {
    debug: (m) => core.debug(forStepLog(m)),
    info: (m) => core.info(forStepLog(m)),
    warn: (m) => core.warning(forStepLog(m)),
    error: (m) => core.error(forStepLog(m)),
  };
}

/**
 * Progress events → at most one `core.info` line per artifact per interval, e.g.
 * `Uploading 'dist': 12.0 MiB of 40.0 MiB (30%), 3/10 files`. Small transfers that finish within
 * one interval print nothing here (the step prints its own summary).
 */
export function progressReporter(intervalMs: number, now: () => number = Date.now): ProgressCallback {
  const last = new Map<string, number>();
  return (event: ProgressEvent) => {
    const key = `${event.operation}\0${event.artifactName}`;
    if (event.phase === 'prepare' || !last.has(key)) {
      last.set(key, now());
      return;
    }
    if (event.phase === 'done') {
      last.delete(key);
      return;
    }
    if (event.phase !== 'transfer') return;
    const t = now();
    if (t - (last.get(key) as number) < intervalMs) return;
    last.set(key, t);
    core.info(progressLine(event));
  };
}

export function progressLine(event: ProgressEvent): string {
  const verb = event.operation === 'upload' ? 'Uploading' : 'Downloading';
  let line = `${verb} '${printableText(event.artifactName)}': ${formatBytes(event.bytesDone)}`;
  if (event.bytesTotal !== undefined && event.bytesTotal > 0) {
    const percent = Math.min(100, Math.floor((event.bytesDone / event.bytesTotal) * 100));
    line += ` of ${formatBytes(event.bytesTotal)} (${percent}%)`;
  }
  if (event.filesTotal !== undefined && event.filesTotal > 0) {
    line += `, ${event.filesDone}/${event.filesTotal} ${event.filesTotal === 1 ? 'file' : 'files'}`;
  }
  return line;
}

/**
 * Runs an action body: any error fails the step with its message (SDK messages are already
 * redacted), with the error code and cause in the debug log.
 */
export async function runAction(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    if (isFerryError(error)) core.debug(`Error code ${error.code}`);
    core.setFailed(forStepLog(message));
  }
}
