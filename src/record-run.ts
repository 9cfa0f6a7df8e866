import { FerryError } from './core/errors.js';
import type { RunConclusion, RunStatus } from './core/run-states.js';
import { readJson } from './transport/body.js';
import { withBackend } from './client.js';
import { normalizeOptions, type ArtifactClientOptions } from './options.js';

/** What a runner tells ferry serve about its run, so `findBy` can select it by workflow and branch. */
export interface RunDescription {
  /** The run id artifacts name (the results protocol's workflow run backend id; numeric for GitHub-style ids). */
  runId: string;
  /** Workflow file path, e.g. `.github/workflows/build.yml` (GITHUB_WORKFLOW_REF's path). */
  path?: string;
  /** Display name of the workflow (GITHUB_WORKFLOW). */
  name?: string;
  branch?: string;
  sha?: string;
  event?: string;
  status?: RunStatus;
  /** Marks the run completed: `success`, `failure`, `cancelled`, ... */
  conclusion?: RunConclusion;
}

/**
 * Records a run on a `ferry serve` (Ferry's extension `PUT /_apis/ferry/runs/{run}`): GitHub knows
 * its runs, a local server learns them from the runner. Fields left out keep their recorded values.
 * The credential is the runtime token (a JWT for that run, or the operator's token).
 */
export async function recordRun(run: RunDescription, options: ArtifactClientOptions = {}): Promise<void> {
  const opts = normalizeOptions(options);
  const server = opts.resultsUrl ?? opts.runtimeUrl;
  if (!server) {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      'Recording a run needs the URL of a ferry serve (--url, ACTIONS_RESULTS_URL)',
    );
  }
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(run.runId)) {
    throw new FerryError(
      'ERR_FERRY_INVALID_OPTION',
      `Run id must be 1-64 letters, digits, '.', '_' or '-'; got '${run.runId}'`,
      {
        context: { option: 'runId' },
      },
    );
  }
  const body = JSON.stringify({
    ...(run.path !== undefined ? { path: run.path } : {}),
    ...(run.name !== undefined ? { name: run.name } : {}),
    ...(run.branch !== undefined ? { head_branch: run.branch } : {}),
    ...(run.sha !== undefined ? { head_sha: run.sha } : {}),
    ...(run.event !== undefined ? { event: run.event } : {}),
    ...(run.status !== undefined ? { status: run.status } : {}),
    ...(run.conclusion !== undefined ? { conclusion: run.conclusion } : {}),
  });
  const url = new URL(`_apis/ferry/runs/${run.runId}`, server.endsWith('/') ? server : `${server}/`);
  await withBackend('record run', opts, (_backend, ctx) =>
    ctx.http.request(
      {
        slot: 0,
        method: 'PUT',
        url: url.toString(),
        headers: { 'content-type': 'application/json' },
        body,
        ...(opts.runtimeToken ? { bearer: opts.runtimeToken } : {}),
        operation: ctx.operation,
        context: { operation: 'record run' },
      },
      (res) =>
        readJson<unknown>(res, { maxBytes: 64 * 1024, call: 'record run', stall: ctx.http.stallPolicy }),
    ),
  );
}
