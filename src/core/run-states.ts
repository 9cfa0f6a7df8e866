/**
 * The states of a workflow run, as GitHub's runs API spells them. One list for the three places
 * that need it: `ferry serve` accepts and stores them (server/rest/), `ferry record-run` offers
 * them as flag values (cli/record-run.ts), and `recordRun` types them (record-run.ts).
 */
export const RUN_STATUSES = ['queued', 'in_progress', 'completed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** How a completed run ended. */
export const RUN_CONCLUSIONS = [
  'success',
  'failure',
  'cancelled',
  'skipped',
  'neutral',
  'timed_out',
  'action_required',
  'stale',
] as const;
export type RunConclusion = (typeof RUN_CONCLUSIONS)[number];
