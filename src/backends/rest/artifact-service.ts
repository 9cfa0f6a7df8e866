import { FerryError, type ErrorContext } from '../../core/errors.js';
import { discardBody, readJson } from '../../transport/body.js';
import { registerSecret } from '../../core/secrets.js';
import { checkSignedUrl, parseServerUrl } from '../../transport/url-policy.js';
import type { ArtifactInfo, DownloadSpec, OperationContext } from '../backend.js';
import { latestPerName } from '../latest-per-name.js';
import { listedSize, toSafeId } from '../results/twirp.js';

/** Where to look for artifacts of another run or repository, through the public REST API. */
export interface FindBy {
  /** A token with `actions:read` on the repository. Never logged. */
  token: string;
  /** `owner/repo`. */
  repository: string;
  /** The run; leave it out to take the newest run matching `workflow`, `branch`, `event` and `conclusion`. */
  runId?: number | string | undefined;
  /** Workflow file name (`build.yml`) or numeric id, when `runId` is left out. */
  workflow?: string | undefined;
  /** Only runs of this branch, when `runId` is left out. */
  branch?: string | undefined;
  /** Only runs triggered by this event (`push`, `pull_request`, ...), when `runId` is left out. */
  event?: string | undefined;
  /** Only runs that ended so (`success`, `failure`, ..., or `any`), when `runId` is left out. @default 'success' */
  conclusion?: string | undefined;
  /** GITHUB_API_URL. @default 'https://api.github.com' */
  apiUrl?: string;
}

/** A FindBy whose run is known: what every REST artifact call needs (see resolveFindByRun). */
export type FindByRun = FindBy & { runId: number | string };

interface RestArtifact {
  id: number;
  name: string;
  size_in_bytes: number;
  created_at?: string;
  digest?: string | null;
  expired?: boolean;
}

interface RestList {
  total_count: number;
  artifacts: RestArtifact[];
}

/** The public listing is capped, as the official client caps it (ACTIONS_ARTIFACT_MAX_ARTIFACT_COUNT). */
const MAX_ARTIFACTS = 1000;
const PER_PAGE = 100;

export function validateFindBy(findBy: FindBy): void {
  if (!findBy.token) throw invalid('findBy.token', 'is required');
  if (!/^[^/\s]+\/[^/\s]+$/.test(findBy.repository))
    throw invalid('findBy.repository', `must be 'owner/repo'; got '${findBy.repository}'`);
  if (findBy.runId !== undefined && !/^\d+$/.test(String(findBy.runId)))
    throw invalid('findBy.runId', `must be a numeric run id; got '${String(findBy.runId)}'`);
  for (const key of ['workflow', 'branch', 'event', 'conclusion'] as const) {
    const value = findBy[key];
    if (value === undefined) continue;
    if (findBy.runId !== undefined)
      throw invalid(`findBy.${key}`, 'selects a run, so it cannot be combined with runId');
    if (typeof value !== 'string' || value === '' || value.length > 255 || hasControlCharacter(value))
      throw invalid(`findBy.${key}`, 'must be a non-empty printable string of at most 255 characters');
  }
  registerSecret(findBy.token);
}

/** C0 controls and DEL: a selector ends up in a query string and in messages. */
function hasControlCharacter(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(value);
}

function invalid(option: string, message: string): FerryError {
  return new FerryError('ERR_FERRY_INVALID_OPTION', `Option '${option}' ${message}`, { context: { option } });
}

/** `<api>/repos/<owner>/<repo>/actions`, the root of every REST artifact and run call. */
export function restActionsBase(findBy: FindBy): string {
  const api = (findBy.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const [owner, repo] = findBy.repository.split('/') as [string, string];
  return `${api}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions`;
}

export const REST_HEADERS = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };

/** Lists the artifacts of another run (all pages up to the cap). */
export async function listRunArtifacts(
  findBy: FindByRun,
  ctx: OperationContext,
  name?: string,
): Promise<ArtifactInfo[]> {
  const out: ArtifactInfo[] = [];
  for (let page = 1; out.length < MAX_ARTIFACTS; page++) {
    const query = new URLSearchParams({
      per_page: String(PER_PAGE),
      page: String(page),
      ...(name ? { name } : {}),
    });
    const body = await ctx.http.request(
      {
        slot: 0,
        method: 'GET',
        url: `${restActionsBase(findBy)}/runs/${findBy.runId}/artifacts?${query}`,
        headers: REST_HEADERS,
        bearer: findBy.token,
        rememberAnswers: true,
        operation: ctx.operation,
        context: { operation: 'list', ...(name ? { artifactName: name } : {}) },
      },
      (res) =>
        readJson<RestList>(res, {
          maxBytes: ctx.http.maxResponseBytes,
          call: 'list run artifacts',
          stall: ctx.http.stallPolicy,
        }),
    );
    const artifacts = Array.isArray(body.artifacts) ? body.artifacts : [];
    for (const a of artifacts) {
      out.push({
        name: a.name,
        id: toSafeId(a.id),
        size: listedSize(a.size_in_bytes) ?? 0,
        createdAt: a.created_at,
        digest: a.digest ?? undefined,
      });
    }
    if (artifacts.length < PER_PAGE || out.length >= Math.min(body.total_count ?? 0, MAX_ARTIFACTS)) break;
  }
  return out.slice(0, MAX_ARTIFACTS);
}

/** The artifact a download names (by id, or the newest of the name) and a signed URL for its zip. */
export async function signedRunArtifact(
  findBy: FindByRun,
  spec: Pick<DownloadSpec, 'name' | 'id'>,
  ctx: OperationContext,
  context: ErrorContext,
): Promise<{ artifact: ArtifactInfo; url: string }> {
  const candidates = await listRunArtifacts(findBy, ctx, spec.id === undefined ? spec.name : undefined);
  const artifact =
    spec.id !== undefined
      ? candidates.find((a) => a.id === spec.id)
      : latestPerName(candidates.filter((a) => a.name === spec.name))[0];
  if (!artifact?.id) {
    throw new FerryError(
      'ERR_FERRY_NOT_FOUND',
      `No artifact ${spec.id !== undefined ? `#${spec.id}` : `named '${spec.name}'`} in run ${findBy.runId} of ${findBy.repository}`,
      { context },
    );
  }
  const url = await ctx.http.request(
    {
      slot: 0,
      method: 'GET',
      url: `${restActionsBase(findBy)}/artifacts/${artifact.id}/zip`,
      headers: REST_HEADERS,
      bearer: findBy.token,
      rememberAnswers: true,
      redirect: 'manual',
      okStatuses: [301, 302, 303, 307, 308],
      operation: ctx.operation,
      context,
    },
    async (res) => {
      await discardBody(res);
      const value = res.headers['location'];
      if (!value || (res.statusCode ?? 0) < 300) {
        throw new FerryError(
          'ERR_FERRY_PROTOCOL',
          `Expected a redirect to the artifact's signed URL, got HTTP ${res.statusCode}`,
          { context },
        );
      }
      // The signed URL must be http(s), without credentials, and not downgrade the API's https.
      const signed = parseServerUrl(
        value,
        "the artifact's signed URL",
        context,
        new URL(`${restActionsBase(findBy)}/`),
      );
      return checkSignedUrl(signed.toString(), restActionsBase(findBy), "the artifact's signed URL", context);
    },
  );
  return { artifact, url };
}

/** The newest artifact called `name` in another run; ERR_FERRY_NOT_FOUND (naming run and repository) if none. */
export async function findRunArtifact(
  findBy: FindByRun,
  name: string,
  ctx: OperationContext,
  operation: string,
): Promise<ArtifactInfo> {
  const artifact = latestPerName(
    (await listRunArtifacts(findBy, ctx, name)).filter((a) => a.name === name),
  )[0];
  if (!artifact) throw runArtifactNotFound(findBy, name, operation);
  return artifact;
}

function runArtifactNotFound(findBy: FindByRun, name: string, operation: string): FerryError {
  return new FerryError(
    'ERR_FERRY_NOT_FOUND',
    `No artifact named '${name}' in run ${findBy.runId} of ${findBy.repository}`,
    { context: { operation, artifactName: name } },
  );
}

/** Deletes an artifact of another run by name (the newest of that name). */
export async function deleteRunArtifact(
  findBy: FindByRun,
  name: string,
  ctx: OperationContext,
): Promise<number> {
  const artifact = await findRunArtifact(findBy, name, ctx, 'delete');
  if (!artifact.id) throw runArtifactNotFound(findBy, name, 'delete');
  await ctx.http.request(
    {
      slot: 0,
      method: 'DELETE',
      url: `${restActionsBase(findBy)}/artifacts/${artifact.id}`,
      headers: REST_HEADERS,
      bearer: findBy.token,
      rememberAnswers: true,
      operation: ctx.operation,
      context: { operation: 'delete', artifactName: name },
    },
    discardBody,
  );
  return artifact.id;
}
