import { FerryError } from '../../core/errors.js';
import { readJson } from '../../transport/body.js';
import type { OperationContext } from '../backend.js';
import {
  listRunArtifacts,
  restActionsBase,
  REST_HEADERS,
  type FindBy,
  type FindByRun,
} from './artifact-service.js';

/** How many runs, newest first, are searched for the artifact before giving up (one request each). */
export const MAX_RUNS_SEARCHED = 30;

interface RestRun {
  id?: unknown;
  head_branch?: unknown;
  conclusion?: unknown;
  status?: unknown;
}

/**
 * The run a FindBy means. With `runId` that is it; otherwise the newest run of `workflow` (file
 * name such as `build.yml`, or its numeric id) on `branch` triggered by `event` that ended with
 * `conclusion` (default `success`), and, when `name` is given, that has a live artifact of that
 * name — action-download-artifact's "latest successful build of main", through the public runs API
 * (GET /repos/{owner}/{repo}/actions[/workflows/{workflow}]/runs).
 */
export async function resolveFindByRun(
  findBy: FindBy,
  name: string | undefined,
  ctx: OperationContext,
): Promise<FindByRun> {
  if (findBy.runId !== undefined) return findBy as FindByRun;
  const conclusion = findBy.conclusion ?? 'success';
  const query = new URLSearchParams({
    per_page: String(MAX_RUNS_SEARCHED),
    ...(findBy.branch ? { branch: findBy.branch } : {}),
    ...(findBy.event ? { event: findBy.event } : {}),
    // GitHub's `status` filter takes a conclusion too; `any` asks for every completed run.
    ...(conclusion === 'any' ? { status: 'completed' } : { status: conclusion }),
  });
  const scope = findBy.workflow ? `/workflows/${encodeURIComponent(findBy.workflow)}` : '';
  const body = await ctx.http.request(
    {
      slot: 0,
      method: 'GET',
      url: `${restActionsBase(findBy)}${scope}/runs?${query}`,
      headers: REST_HEADERS,
      bearer: findBy.token,
      rememberAnswers: true,
      operation: ctx.operation,
      context: { operation: 'find run', ...(name ? { artifactName: name } : {}) },
    },
    (res) =>
      readJson<{ workflow_runs?: unknown }>(res, {
        maxBytes: ctx.http.maxResponseBytes,
        call: 'list workflow runs',
        stall: ctx.http.stallPolicy,
      }),
  );
  const runs = (Array.isArray(body.workflow_runs) ? (body.workflow_runs as RestRun[]) : [])
    .filter((run) => typeof run.id === 'number' || (typeof run.id === 'string' && run.id !== ''))
    // The server filtered already; checked again so a server ignoring the query cannot pick a failed run.
    .filter((run) => conclusion === 'any' || run.conclusion === conclusion)
    .filter((run) => !findBy.branch || run.head_branch === findBy.branch)
    .slice(0, MAX_RUNS_SEARCHED);
  for (const run of runs) {
    const candidate: FindByRun = { ...findBy, runId: run.id as number | string };
    if (name === undefined) return candidate;
    const artifacts = await listRunArtifacts(candidate, ctx, name);
    if (artifacts.some((a) => a.name === name)) return candidate;
  }
  throw new FerryError('ERR_FERRY_NOT_FOUND', noRunMessage(findBy, conclusion, name, runs.length), {
    context: { operation: 'find run', ...(name ? { artifactName: name } : {}) },
  });
}

function noRunMessage(
  findBy: FindBy,
  conclusion: string,
  name: string | undefined,
  searched: number,
): string {
  const what = [
    findBy.workflow ? `workflow ${findBy.workflow}` : 'any workflow',
    findBy.branch ? `on branch ${findBy.branch}` : undefined,
    findBy.event ? `triggered by ${findBy.event}` : undefined,
    conclusion === 'any' ? 'completed' : `with conclusion ${conclusion}`,
  ]
    .filter(Boolean)
    .join(' ');
  if (searched === 0) return `No run of ${what} in ${findBy.repository}`;
  return `None of the ${searched} newest runs of ${what} in ${findBy.repository} has an artifact named '${name ?? ''}'`;
}
