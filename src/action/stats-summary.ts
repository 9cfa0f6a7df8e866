import * as core from '@actions/core';
import { formatStatsLine, formatStatsMarkdown, mergeStats, type OperationStats } from '../core/stats.js';
import type { Env } from './runtime.js';

/**
 * Gathers the stats of every SDK operation a step runs (a listing, then each artifact's
 * download) and reports their sum once: a table in the step summary and one log line.
 */
export class StepStats {
  readonly #all: OperationStats[] = [];

  /** The SDK's `onStats` option. */
  readonly onStats = (stats: OperationStats): void => {
    this.#all.push(stats);
  };

  /**
   * Logs the line and appends the table to GITHUB_STEP_SUMMARY when the runner gave one. The
   * summary is a report: failing to write it is a warning, never a failed step.
   */
  async report(env: Env, title: string): Promise<void> {
    if (this.#all.length === 0) return;
    const total = mergeStats(this.#all);
    core.info(formatStatsLine(total));
    if (!env['GITHUB_STEP_SUMMARY']) return;
    try {
      await core.summary.addRaw(formatStatsMarkdown(total, title)).write();
    } catch (error: unknown) {
      core.warning(
        `Could not write the step summary: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
