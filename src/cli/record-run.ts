import { defined } from '../core/defined.js';
import { RUN_CONCLUSIONS, RUN_STATUSES } from '../core/run-states.js';
import { recordRun, type RunDescription } from '../record-run.js';
import { choiceOption, stringOption, UsageError, type Values } from './args.js';
import type { Connect } from './connection.js';
import type { CliOutput } from './output.js';

/**
 * `ferry record-run --url URL [--conclusion success] ...`: tells a ferry serve what this run is
 * (workflow, branch, event, outcome) so `--workflow/--branch` downloads can find it later. Each
 * field defaults to the runner's variable (GITHUB_WORKFLOW_REF, GITHUB_REF_NAME, ...).
 */
export async function recordRunCommand(
  positionals: string[],
  values: Values,
  connect: Connect,
  out: CliOutput,
): Promise<number> {
  if (positionals.length) throw new UsageError('record-run takes no arguments');
  if (stringOption(values, 'url') === undefined)
    throw new UsageError('record-run needs --url of a ferry serve');
  const env = process.env;
  const options = await connect();
  const runId = stringOption(values, 'run-id') ?? options.runId ?? env['GITHUB_RUN_ID'];
  if (runId === undefined) throw new UsageError('record-run needs --run-id (or GITHUB_RUN_ID)');
  const conclusion = choiceOption(values, 'conclusion', RUN_CONCLUSIONS);
  const status = choiceOption(values, 'status', RUN_STATUSES);
  const path = stringOption(values, 'workflow') ?? workflowPath(env['GITHUB_WORKFLOW_REF']);
  const run: RunDescription = {
    runId,
    ...defined('path', path),
    ...defined('name', stringOption(values, 'workflow-name') ?? env['GITHUB_WORKFLOW']),
    ...defined('branch', stringOption(values, 'branch') ?? env['GITHUB_REF_NAME']),
    ...defined('sha', stringOption(values, 'sha') ?? env['GITHUB_SHA']),
    ...defined('event', stringOption(values, 'event') ?? env['GITHUB_EVENT_NAME']),
    ...defined('status', status),
    ...defined('conclusion', conclusion),
  };
  await recordRun(run, options);
  out.result(
    { command: 'record-run', ...run },
    `recorded run ${runId}${conclusion ? ` (${conclusion})` : ''}`,
  );
  return 0;
}

/** `owner/repo/.github/workflows/build.yml@refs/heads/main` → `.github/workflows/build.yml`. */
function workflowPath(ref: string | undefined): string | undefined {
  const match = ref === undefined ? null : /^[^/]+\/[^/]+\/(.+?)@/.exec(ref);
  return match?.[1];
}
