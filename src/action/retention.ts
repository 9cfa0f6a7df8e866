import * as core from '@actions/core';
import { retentionLimitFromEnvironment } from '../environment.js';
import { MAX_RETENTION_DAYS } from '../options.js';
import { integerInput } from './inputs.js';
import type { Env } from './runtime.js';

/**
 * `retention-days` as upload-artifact v7 and its merge action treat it: empty or 0 is the
 * repository default; any other whole number of days is passed on, lowered with a warning to the
 * repository's limit when the runner states one (GITHUB_RETENTION_DAYS, as @actions/artifact
 * does). Where should the real action fail or the service refuse, Ferry fails up front instead:
 * a value that is not a whole number (`abc`, `1.5`, which the real action truncates to 1) or a
 * negative one (the real action asks for an expiry in the past). Without a repository limit a
 * value above GitHub's maximum of 400 days is lowered to 400 with a warning, never refused, so a
 * workflow written for GitHub runs unchanged against Gitea, act or `ferry serve`.
 */
export function retentionDays(env: Env, input = 'retention-days'): number | undefined {
  const days = integerInput(
    input,
    0,
    0,
    Number.MAX_SAFE_INTEGER,
    'of days, 0 (the repository default) or more',
  );
  if (days === 0) return undefined;
  let capped = days;
  const limit = retentionLimitFromEnvironment(env);
  if (limit !== undefined && limit > 0 && capped > limit) {
    core.warning(
      `Input '${input}' (${days}) exceeds the repository's limit of ${limit} days (GITHUB_RETENTION_DAYS); using ${limit}`,
    );
    capped = limit;
  }
  if (capped > MAX_RETENTION_DAYS) {
    core.warning(
      `Input '${input}' (${capped}) is more than the ${MAX_RETENTION_DAYS} days GitHub allows; using ${MAX_RETENTION_DAYS}`,
    );
    capped = MAX_RETENTION_DAYS;
  }
  return capped;
}
