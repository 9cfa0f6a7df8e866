import { defined } from '../../core/defined.js';
import { createHash } from 'node:crypto';
import { grantedRuns, mayUseRun, runForbidden } from '../http/access.js';
import { expectObject, readJsonBody } from '../http/body.js';
import { badRequest } from '../http/error-response.js';
import { sendJson } from '../http/respond.js';
import type { RequestContext } from '../route.js';
import { RUN_CONCLUSIONS, RUN_STATUSES, type RunConclusion, type RunStatus } from '../../core/run-states.js';
import type { RunRecord, RunRegistry } from './run-registry.js';

const REPO = '^/repos/(?<owner>[^/]+)/(?<repo>[^/]+)/actions';
export const REPO_RUNS = new RegExp(`${REPO}/runs/?$`);
export const WORKFLOW_RUNS = new RegExp(`${REPO}/workflows/(?<workflow>[^/]+)/runs/?$`);
/** Ferry's own extension: the runner tells the server what a run is (GitHub knows it already). */
export const RECORD_RUN = /^\/_apis\/ferry\/runs\/(?<runId>[A-Za-z0-9._-]{1,64})\/?$/;

const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;
/** A run record is a handful of short strings. */
const MAX_RECORD_BODY = 16 * 1024;
const MAX_FIELD = 512;

/** GET .../actions/runs and .../actions/workflows/{file or id}/runs, newest first, paged. */
export async function listRuns(runs: RunRegistry, ctx: RequestContext, byWorkflow: boolean): Promise<void> {
  const query = ctx.url.searchParams;
  const workflow = byWorkflow ? ctx.params.workflow : undefined;
  const granted = grantedRuns(ctx.access);
  const all = runs
    .list({
      workflow: workflow === undefined || /^\d+$/.test(workflow) ? undefined : workflow,
      branch: query.get('branch') ?? undefined,
      event: query.get('event') ?? undefined,
      status: query.get('status') ?? undefined,
    })
    .filter(
      (run) => workflow === undefined || !/^\d+$/.test(workflow) || workflowId(run.path) === Number(workflow),
    )
    .filter((run) => granted === undefined || granted.has(run.id));
  const perPage = Math.min(positiveInt(query.get('per_page'), DEFAULT_PER_PAGE), MAX_PER_PAGE);
  const page = positiveInt(query.get('page'), 1);
  const { owner, repo } = { owner: ctx.params.owner ?? '', repo: ctx.params.repo ?? '' };
  sendJson(ctx.res, 200, {
    total_count: all.length,
    workflow_runs: all
      .slice((page - 1) * perPage, page * perPage)
      .map((run) => restRun(ctx.baseUrl, owner, repo, run)),
  });
}

/** PUT /_apis/ferry/runs/{run}: a credential that reaches the run may describe it. */
export async function recordRun(runs: RunRegistry, ctx: RequestContext): Promise<void> {
  const runId = ctx.params.runId ?? '';
  if (!mayUseRun(ctx.access, runId)) throw runForbidden(runId, 'recording the run');
  const body = expectObject(await readJsonBody(ctx.req, MAX_RECORD_BODY), 'A run record');
  const status = optionalEnum(body, 'status', RUN_STATUSES) as RunStatus | undefined;
  const conclusion =
    body['conclusion'] === null
      ? null
      : (optionalEnum(body, 'conclusion', RUN_CONCLUSIONS) as RunConclusion | undefined);
  if (conclusion && status !== undefined && status !== 'completed') {
    throw badRequest(`A run with a conclusion is completed; got status ${JSON.stringify(status)}`);
  }
  const run = await runs.record(
    runId,
    {
      ...defined('path', optionalText(body, 'path')),
      ...defined('name', optionalText(body, 'name')),
      ...defined('headBranch', optionalText(body, 'head_branch')),
      ...defined('headSha', optionalText(body, 'head_sha')),
      ...defined('event', optionalText(body, 'event')),
      ...defined('status', conclusion ? 'completed' : status),
      ...(conclusion === undefined ? {} : { conclusion }),
    },
    new Date(),
  );
  sendJson(ctx.res, 200, restRun(ctx.baseUrl, ctx.params.owner ?? '', ctx.params.repo ?? '', run));
}

/** The workflow run object of GitHub's REST API, as far as a local server knows it. */
function restRun(baseUrl: string, owner: string, repo: string, run: RunRecord): Record<string, unknown> {
  const repoUrl = `${baseUrl}repos/${encodeURIComponent(owner || 'local')}/${encodeURIComponent(repo || 'local')}`;
  const id = /^\d{1,15}$/.test(run.id) ? Number(run.id) : run.id;
  return {
    id,
    name: run.name,
    path: run.path,
    workflow_id: workflowId(run.path),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    created_at: run.createdAt.replace(/\.\d+Z$/, 'Z'),
    updated_at: run.updatedAt.replace(/\.\d+Z$/, 'Z'),
    url: `${repoUrl}/actions/runs/${encodeURIComponent(run.id)}`,
    artifacts_url: `${repoUrl}/actions/runs/${encodeURIComponent(run.id)}/artifacts`,
  };
}

/** GitHub's workflow ids are numbers; a local server derives a stable one from the file path. */
export function workflowId(path: string): number {
  return createHash('sha256').update(path).digest().readUIntBE(0, 6);
}

function optionalText(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`Field '${key}' must be a string`);
  // eslint-disable-next-line no-control-regex
  if (value.length > MAX_FIELD || /[\u0000-\u001f\u007f]/.test(value)) {
    throw badRequest(`Field '${key}' must be at most ${MAX_FIELD} printable characters`);
  }
  return value;
}

function optionalEnum(
  body: Record<string, unknown>,
  key: string,
  allowed: readonly string[],
): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw badRequest(`Field '${key}' must be one of ${allowed.join(', ')}`);
  }
  return value;
}

function positiveInt(raw: string | null, fallback: number): number {
  const value = raw === null ? NaN : Number(raw);
  return Number.isSafeInteger(value) && value >= 1 ? value : fallback;
}
