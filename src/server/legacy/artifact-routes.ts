import { mayUseRun, runForbidden } from '../http/access.js';
import { expectObject, readJsonBody } from '../http/body.js';
import { badRequest, notFound } from '../http/error-response.js';
import { sendJson } from '../http/respond.js';
import type { RequestContext, Route } from '../route.js';
import { withUploadSession, type ArtifactStore } from './artifact-store.js';
import { artifactResponse, type ListResponse, type ArtifactResponse } from './contracts.js';
import { validateArtifactName, validateRunId } from './validate.js';

// `{runtime}_apis/pipelines/workflows/{runId}/artifacts` (A2.1, A2.3, A2.4). The api-version
// query parameter is accepted and ignored: there is only one version of this API.
const ARTIFACTS = /^\/_apis\/pipelines\/workflows\/(?<runId>[^/]+)\/artifacts\/?$/i;

/** Create (POST), list (GET) and finalize (PATCH) artifacts of a workflow run. */
export function artifactRoutes(store: ArtifactStore): Route[] {
  return [
    { method: 'POST', pattern: ARTIFACTS, handler: (ctx) => create(store, ctx) },
    { method: 'GET', pattern: ARTIFACTS, handler: (ctx) => list(store, ctx) },
    { method: 'PATCH', pattern: ARTIFACTS, handler: (ctx) => patch(store, ctx) },
  ];
}

async function create(store: ArtifactStore, ctx: RequestContext): Promise<void> {
  const runId = grantedRunId(ctx, 'creating artifacts');
  const body = expectObject(
    await readJsonBody(ctx.req, store.limits.maxJsonBodyBytes),
    'Create artifact body',
  );
  if (body.Type !== undefined && body.Type !== 'actions_storage') {
    throw badRequest(
      `Unsupported artifact Type ${JSON.stringify(body.Type)}; only "actions_storage" is supported`,
    );
  }
  const name = validateArtifactName(body.Name);
  const retentionDays = parseRetention(body.RetentionDays);
  const { record, session } = await store.create(runId, name, retentionDays);
  // 201 for a new and an existing container alike: the client treats every 2xx the same, and a
  // repeated create (retry after a lost response, or a second upload to merge) is the same call.
  // The container URL carries this upload's session, so concurrent uploads can be told apart.
  const response = artifactResponse(ctx.baseUrl, record);
  sendJson(ctx.res, 201, {
    ...response,
    fileContainerResourceUrl: withUploadSession(response.fileContainerResourceUrl, session),
  });
}

async function list(store: ArtifactStore, ctx: RequestContext): Promise<void> {
  const runId = grantedRunId(ctx, 'listing artifacts');
  const filter = ctx.url.searchParams.get('artifactName');
  const records = store.list(runId).filter((r) => filter === null || r.name === filter);
  // An empty run is `count: 0` with 200, never 404: the official client treats 404 as fatal (C2 v1.7).
  const body: ListResponse<ArtifactResponse> = {
    count: records.length,
    value: records.map((r) => artifactResponse(ctx.baseUrl, r)),
  };
  sendJson(ctx.res, 200, body);
}

async function patch(store: ArtifactStore, ctx: RequestContext): Promise<void> {
  const runId = grantedRunId(ctx, 'finalizing artifacts');
  const rawName = ctx.url.searchParams.get('artifactName');
  if (rawName === null)
    throw badRequest('The artifactName query parameter is required to finalize an artifact');
  const name = validateArtifactName(rawName);
  const body = expectObject(
    await readJsonBody(ctx.req, store.limits.maxJsonBodyBytes),
    'Patch artifact body',
  );
  const size = body.Size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw badRequest(`Size must be a non-negative integer, got ${JSON.stringify(size)}`);
  }
  const record = await store.patchSize(runId, name, size);
  if (!record) throw notFound(`An Artifact with the name ${name} was not found in run ${runId}`);
  const response = artifactResponse(ctx.baseUrl, record);
  sendJson(ctx.res, 200, { ...response, uploadUrl: response.fileContainerResourceUrl });
}

/** The run of the URL path, if the credential grants it; refused before the store is touched. */
function grantedRunId(ctx: RequestContext, action: string): string {
  const runId = validateRunId(ctx.params.runId ?? '');
  if (!mayUseRun(ctx.access, runId)) throw runForbidden(runId, action);
  return runId;
}

/** Absent, null or 0 mean "server default" (the client omits the field for 0). */
function parseRetention(value: unknown): number | null {
  if (value === undefined || value === null || value === 0) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw badRequest(`RetentionDays must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}
