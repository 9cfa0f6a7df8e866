import type { IncomingMessage } from 'node:http';
import { mayUseRun, mayWriteAsJob, type Access } from '../http/access.js';
import { readJsonBody } from '../http/body.js';
import { sendJson } from '../http/respond.js';
import type { RequestContext } from '../route.js';
import { ANY_METHOD, type ServerRoute } from '../server.js';
import type { ResultsArtifact } from './artifact-index.js';
import { isMimeType } from './blob-params.js';
import type { ResultsService } from './service.js';
import { TwirpError, renderTwirpError } from './twirp-errors.js';
import { TwirpFields } from './twirp-fields.js';
import { validateArtifactName, validateBackendId } from './validate.js';

const SERVICE = 'github.actions.results.api.v1.ArtifactService';
// At the origin root: the client keeps only the origin of ACTIONS_RESULTS_URL (C2 v4.1).
const RPC = /^\/twirp\/github\.actions\.results\.api\.v1\.ArtifactService\/(?<method>[^/]+)$/;
const ANY_TWIRP = /^\/twirp(?:\/.*)?$/;

/** GitHub's default retention when the client sends no `expires_at`. */
const DEFAULT_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;

type Rpc = (service: ResultsService, fields: TwirpFields, ctx: RequestContext) => Promise<object>;

const RPCS: Readonly<Record<string, Rpc>> = {
  CreateArtifact: createArtifact,
  FinalizeArtifact: finalizeArtifact,
  ListArtifacts: listArtifacts,
  GetSignedArtifactURL: getSignedArtifactUrl,
  DeleteArtifact: deleteArtifact,
};

/**
 * The five ArtifactService RPCs in Twirp's JSON flavour (the official client never sends
 * protobuf). Everything else under /twirp, including other HTTP methods, is Twirp `bad_route`.
 */
export function twirpRoutes(service: ResultsService): ServerRoute[] {
  return [
    {
      method: 'POST',
      pattern: RPC,
      handler: (ctx) => callRpc(service, ctx),
      renderError: renderTwirpError,
    },
    {
      method: ANY_METHOD,
      pattern: ANY_TWIRP,
      handler: (ctx) => {
        throw new TwirpError(
          'bad_route',
          `no handler for ${ctx.req.method ?? ''} ${ctx.url.pathname}; the ${SERVICE} methods are POST ${Object.keys(RPCS).join(', ')}`,
        );
      },
      renderError: renderTwirpError,
    },
  ];
}

async function callRpc(service: ResultsService, ctx: RequestContext): Promise<void> {
  const name = ctx.params.method ?? '';
  const rpc = Object.hasOwn(RPCS, name) ? RPCS[name] : undefined;
  if (!rpc) {
    throw new TwirpError('bad_route', `no handler for path ${ctx.url.pathname}: unknown method ${name}`);
  }
  checkContentType(ctx.req);
  const fields = new TwirpFields(await readJsonBody(ctx.req, service.limits.maxJsonBodyBytes));
  sendJson(ctx.res, 200, await rpc(service, fields, ctx));
}

/** Twirp also defines a protobuf encoding; this server only speaks JSON. */
function checkContentType(req: IncomingMessage): void {
  const type = req.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
  if (type !== undefined && type !== '' && type !== 'application/json') {
    throw new TwirpError(
      'bad_route',
      `unexpected Content-Type ${JSON.stringify(type)}: only application/json is supported`,
    );
  }
}

function runAndJob(fields: TwirpFields): { runId: string; jobId: string } {
  return {
    runId: validateBackendId(fields.string('workflow_run_backend_id'), 'workflow_run_backend_id'),
    jobId: validateBackendId(fields.string('workflow_job_run_backend_id'), 'workflow_job_run_backend_id'),
  };
}

/**
 * The run and job of a request that writes (Create, Finalize): the token must grant exactly this
 * run and job. Checked before the store is touched, so a refused call changes and reveals nothing.
 */
function writerRunAndJob(fields: TwirpFields, access: Access, rpc: string): { runId: string; jobId: string } {
  const ids = runAndJob(fields);
  if (!mayWriteAsJob(access, ids.runId, ids.jobId)) {
    throw new TwirpError(
      'permission_denied',
      `${rpc}: the runtime token does not grant job ${JSON.stringify(ids.jobId)} of workflow run ${JSON.stringify(ids.runId)}`,
    );
  }
  return ids;
}

/** The run and job of a request that reads or deletes (List, GetSignedURL, Delete): any job of a granted run. */
function readerRunAndJob(fields: TwirpFields, access: Access, rpc: string): { runId: string; jobId: string } {
  const ids = runAndJob(fields);
  if (!mayUseRun(access, ids.runId)) {
    throw new TwirpError(
      'permission_denied',
      `${rpc}: the runtime token does not grant workflow run ${JSON.stringify(ids.runId)}`,
    );
  }
  return ids;
}

async function createArtifact(
  service: ResultsService,
  fields: TwirpFields,
  ctx: RequestContext,
): Promise<object> {
  const { runId, jobId } = writerRunAndJob(fields, ctx.access, 'CreateArtifact');
  const name = validateArtifactName(fields.string('name'));
  const mimeType = fields.optionalString('mime_type') ?? 'application/zip';
  if (!isMimeType(mimeType)) {
    throw new TwirpError(
      'invalid_argument',
      `mime_type ${JSON.stringify(mimeType)} is not a valid MIME type`,
    );
  }
  const now = Date.now();
  const expiresAt = fields.optionalTimestamp('expires_at') ?? new Date(now + DEFAULT_RETENTION_MS);
  // The toolkit turns a negative retention into a past date instead of refusing it (B1).
  if (expiresAt.getTime() <= now) {
    throw new TwirpError('invalid_argument', `expires_at ${expiresAt.toISOString()} is not in the future`);
  }
  const record = await service.store.records.create({
    runId,
    jobId,
    name,
    mimeType,
    version: fields.int32('version'),
    expiresAt,
  });
  return { ok: true, signed_upload_url: service.store.blobs.uploadUrl(ctx.baseUrl, record) };
}

async function finalizeArtifact(
  service: ResultsService,
  fields: TwirpFields,
  ctx: RequestContext,
): Promise<object> {
  const { runId } = writerRunAndJob(fields, ctx.access, 'FinalizeArtifact');
  const name = validateArtifactName(fields.string('name'));
  const record = await service.store.records.finalize({
    runId,
    name,
    size: fields.optionalCount('size'),
    hash: fields.optionalString('hash'),
  });
  return { ok: true, artifact_id: String(record.id) };
}

/** The whole run, all jobs, finalized only; each artifact keeps its own job id (C2 v4.5). */
async function listArtifacts(
  service: ResultsService,
  fields: TwirpFields,
  ctx: RequestContext,
): Promise<object> {
  const { runId } = readerRunAndJob(fields, ctx.access, 'ListArtifacts');
  const name = fields.optionalString('name_filter');
  const id = fields.optionalCount('id_filter');
  const artifacts = await service.store.records.list({
    runId,
    ...(name === undefined ? {} : { name }),
    ...(id === undefined ? {} : { id }),
  });
  return { artifacts: artifacts.map(monolithArtifact) };
}

async function getSignedArtifactUrl(
  service: ResultsService,
  fields: TwirpFields,
  ctx: RequestContext,
): Promise<object> {
  const { runId, jobId } = readerRunAndJob(fields, ctx.access, 'GetSignedArtifactURL');
  const name = validateArtifactName(fields.string('name'));
  // Re-runs leave same-named artifacts from different jobs in one run: the job id the client
  // sends (taken from the listed artifact) says which one it means; otherwise the newest.
  const candidates = await service.store.records.list({ runId, name });
  const record = candidates.filter((r) => r.jobId === jobId).at(-1) ?? candidates.at(-1);
  if (!record) throw notFound(runId, name);
  return { signed_url: service.store.blobs.downloadUrl(ctx.baseUrl, record) };
}

async function deleteArtifact(
  service: ResultsService,
  fields: TwirpFields,
  ctx: RequestContext,
): Promise<object> {
  const { runId, jobId } = readerRunAndJob(fields, ctx.access, 'DeleteArtifact');
  const name = validateArtifactName(fields.string('name'));
  const record = await service.store.records.remove(runId, name, jobId);
  if (!record) {
    throw new TwirpError(
      'not_found',
      `No artifact named ${JSON.stringify(name)} in workflow run ${JSON.stringify(runId)}`,
    );
  }
  return { ok: true, artifact_id: String(record.id) };
}

/** Proto field names; int64 as strings, as protobuf JSON writes them. */
function monolithArtifact(record: ResultsArtifact): object {
  return {
    workflow_run_backend_id: record.runId,
    workflow_job_run_backend_id: record.jobId,
    database_id: String(record.id),
    name: record.name,
    size: String(record.finalized?.size ?? 0),
    created_at: record.createdAt,
    ...(record.finalized?.digest ? { digest: record.finalized.digest } : {}),
  };
}

function notFound(runId: string, name: string): TwirpError {
  return new TwirpError(
    'not_found',
    `No finalized artifact named ${JSON.stringify(name)} in workflow run ${JSON.stringify(runId)}`,
  );
}
