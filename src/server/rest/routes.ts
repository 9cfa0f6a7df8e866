import { grantedRuns, mayUseRun, type Access } from '../http/access.js';
import type { Authenticator } from '../http/auth.js';
import { ErrorResponse } from '../http/error-response.js';
import { sendJson } from '../http/respond.js';
import type { RequestContext } from '../route.js';
import type { ResultsArtifact } from '../results/artifact-index.js';
import type { ResultsService } from '../results/service.js';
import { ANY_METHOD, type ServerRoute } from '../server.js';
import { restArtifact } from './contracts.js';
import type { RunRegistry } from './run-registry.js';
import { listRuns, RECORD_RUN, recordRun, REPO_RUNS, WORKFLOW_RUNS } from './runs-routes.js';
import { renderRestError } from './errors.js';

const REPO = '^/repos/(?<owner>[^/]+)/(?<repo>[^/]+)/actions';
const RUN_ARTIFACTS = new RegExp(`${REPO}/runs/(?<runId>[^/]+)/artifacts/?$`);
const REPO_ARTIFACTS = new RegExp(`${REPO}/artifacts/?$`);
// Ids in canonical form only (no leading zeros): one resource, one URL.
const ARTIFACT = new RegExp(`${REPO}/artifacts/(?<id>[1-9]\\d{0,14})/?$`);
const ARCHIVE = new RegExp(`${REPO}/artifacts/(?<id>[1-9]\\d{0,14})/(?<format>[^/]+)/?$`);
const ANY_REPOS = /^\/repos(?:\/.*)?$/;

const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;

/**
 * The artifact subset of GitHub's REST API that cross-run downloads use (`findBy`; B2.4), on the
 * same origin: point GITHUB_API_URL at the server. A local server has one namespace, so owner and
 * repo are accepted as given; runs are the `workflow_run_backend_id` strings of the results
 * protocol. Only finalized artifacts are visible.
 *
 * What a credential reaches: the shared token (or no auth on a loopback store) every run, like a
 * GitHub token with repo scope; a runtime JWT only the runs its `scp` grants, read and delete.
 * Artifacts of other runs answer 404, exactly as ids that do not exist, so they cannot be probed.
 */
export function restRoutes(
  service: ResultsService,
  runs: RunRegistry,
  authenticate: Authenticator,
): ServerRoute[] {
  const route = (
    method: string,
    pattern: RegExp,
    handler: (ctx: RequestContext) => Promise<void>,
  ): ServerRoute => ({
    method,
    pattern,
    auth: 'self',
    renderError: renderRestError,
    handler: async (ctx) => {
      await handler({ ...ctx, access: authenticate(ctx.req, 'bearer-or-token') });
    },
  });
  return [
    route('GET', RUN_ARTIFACTS, (ctx) => list(service, ctx, ctx.params.runId)),
    route('GET', REPO_ARTIFACTS, (ctx) => list(service, ctx, undefined)),
    route('GET', ARTIFACT, (ctx) => getOne(service, ctx)),
    route('DELETE', ARTIFACT, (ctx) => deleteOne(service, ctx)),
    route('GET', ARCHIVE, (ctx) => download(service, ctx)),
    route('GET', REPO_RUNS, (ctx) => listRuns(runs, ctx, false)),
    route('GET', WORKFLOW_RUNS, (ctx) => listRuns(runs, ctx, true)),
    route('PUT', RECORD_RUN, (ctx) => recordRun(runs, ctx)),
    route(ANY_METHOD, ANY_REPOS, async () => {
      throw notFound();
    }),
  ];
}

async function list(service: ResultsService, ctx: RequestContext, runId: string | undefined): Promise<void> {
  const query = ctx.url.searchParams;
  const name = query.get('name') ?? undefined;
  if (runId !== undefined && !mayUseRun(ctx.access, runId)) throw notFound();
  const runs = grantedRuns(ctx.access);
  const perPage = Math.min(positiveInt(query.get('per_page'), DEFAULT_PER_PAGE), MAX_PER_PAGE);
  const page = positiveInt(query.get('page'), 1);
  // Newest first, as GitHub lists them.
  const all = (
    await service.store.records.list({
      ...(runId === undefined ? {} : { runId }),
      ...(name === undefined ? {} : { name }),
    })
  )
    .filter((r) => runs === undefined || runs.has(r.runId))
    .reverse();
  const slice = all.slice((page - 1) * perPage, page * perPage);
  const { owner, repo } = repoOf(ctx);
  sendJson(ctx.res, 200, {
    total_count: all.length,
    artifacts: slice.map((r) => restArtifact(ctx.baseUrl, owner, repo, r)),
  });
}

async function getOne(service: ResultsService, ctx: RequestContext): Promise<void> {
  const record = await visible(service, ctx.access, ctx.params.id);
  const { owner, repo } = repoOf(ctx);
  sendJson(ctx.res, 200, restArtifact(ctx.baseUrl, owner, repo, record));
}

/** 204 on success, as the toolkit requires. */
async function deleteOne(service: ResultsService, ctx: RequestContext): Promise<void> {
  // Checked before the removal; a concurrent delete of the same id still ends in one 404.
  await visible(service, ctx.access, ctx.params.id);
  const record = await service.store.records.removeById(Number(ctx.params.id));
  if (!record) throw notFound();
  ctx.res.writeHead(204);
  ctx.res.end();
}

/** A 302 to a signed download URL; the client fetches it without credentials (B4). */
async function download(service: ResultsService, ctx: RequestContext): Promise<void> {
  if (ctx.params.format !== 'zip') throw notFound();
  const record = await visible(service, ctx.access, ctx.params.id);
  const location = service.store.blobs.downloadUrl(ctx.baseUrl, record);
  ctx.res.writeHead(302, { Location: location, 'Content-Length': '0' });
  ctx.res.end();
}

/** The artifact with this id if the credential reaches its run; 404 for both "none" and "not yours". */
async function visible(
  service: ResultsService,
  access: Access,
  id: string | undefined,
): Promise<ResultsArtifact> {
  const record = await service.store.records.get(Number(id));
  if (!record || !mayUseRun(access, record.runId)) throw notFound();
  return record;
}

function repoOf(ctx: RequestContext): { owner: string; repo: string } {
  return { owner: ctx.params.owner ?? '', repo: ctx.params.repo ?? '' };
}

/** GitHub ignores junk paging values rather than failing; so do we. */
function positiveInt(raw: string | null, fallback: number): number {
  const value = raw === null ? NaN : Number(raw);
  return Number.isSafeInteger(value) && value >= 1 ? value : fallback;
}

function notFound(): ErrorResponse {
  return new ErrorResponse(404, 'Not Found');
}
