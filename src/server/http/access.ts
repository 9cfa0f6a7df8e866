import { ErrorResponse } from './error-response.js';

/** One `Actions.Results:<workflowRunBackendId>:<workflowJobRunBackendId>` scope of a runtime JWT. */
export interface RunGrant {
  readonly run: string;
  readonly job: string;
}

/**
 * What an authenticated request may reach. `all`: no auth configured (loopback store) or the
 * operator's shared `--token`. `runs`: a runtime JWT, limited to the runs and jobs its `scp` names.
 */
export type Access =
  { readonly kind: 'all' } | { readonly kind: 'runs'; readonly grants: readonly RunGrant[] };

export const FULL_ACCESS: Access = Object.freeze({ kind: 'all' });
/** Routes that authenticate themselves (signed blob URLs) get no header-based access at all. */
export const NO_ACCESS: Access = Object.freeze({ kind: 'runs', grants: Object.freeze([]) });

/**
 * The run grants of an `scp` claim, parsed as the official client does (space-separated scopes,
 * `Actions.Results:<run>:<job>` with exactly three parts); other scopes grant nothing here.
 */
export function grantsOf(scp: string): RunGrant[] {
  const grants: RunGrant[] = [];
  for (const scope of scp.split(' ')) {
    const parts = scope.split(':');
    if (parts[0] !== 'Actions.Results' || parts.length !== 3) continue;
    const [, run, job] = parts as [string, string, string];
    if (run !== '' && job !== '') grants.push({ run, job });
  }
  return grants;
}

/** May this request read, list or delete artifacts of `runId` (any job)? */
export function mayUseRun(access: Access, runId: string): boolean {
  return access.kind === 'all' || access.grants.some((g) => g.run === runId);
}

/** May this request create or finalize artifacts as job `jobId` of run `runId`? */
export function mayWriteAsJob(access: Access, runId: string, jobId: string): boolean {
  return access.kind === 'all' || access.grants.some((g) => g.run === runId && g.job === jobId);
}

/** Only the runs a scoped token grants, or `undefined` for unrestricted access. */
export function grantedRuns(access: Access): ReadonlySet<string> | undefined {
  return access.kind === 'all' ? undefined : new Set(access.grants.map((g) => g.run));
}

/**
 * The 403 for a run outside the token's scope. It names the run the caller asked for (it sent
 * it) but says nothing of what that run holds, so a refusal cannot be used to probe other runs.
 */
export function runForbidden(runId: string, action: string): ErrorResponse {
  return new ErrorResponse(
    403,
    `The runtime token does not grant ${action} in workflow run ${JSON.stringify(runId)} (its scp names other runs or jobs)`,
  );
}
