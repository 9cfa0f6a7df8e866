/**
 * The name a request is counted and logged under. Metrics and access-log lines carry this, never
 * the raw path: paths hold run ids, artifact names and blob ids, which would make the number of
 * metric series unbounded and put a client's bytes into the log. The set of names is fixed here.
 */

const TWIRP = /^\/twirp\/github\.actions\.results\.api\.v1\.ArtifactService\/(?<method>[^/]+)$/;
const TWIRP_METHODS = new Set([
  'CreateArtifact',
  'FinalizeArtifact',
  'ListArtifacts',
  'GetSignedArtifactURL',
  'DeleteArtifact',
]);

const NAMED: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/_apis\/pipelines\/workflows\/[^/]+\/artifacts\/?$/i, 'legacy_artifacts'],
  [/^\/_apis\/resources\/Containers\/[^/]+\/?$/i, 'legacy_container'],
  [/^\/devstoreaccount1\/[^/]+\/[0-9a-f]{32}$/, 'blob'],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/runs\/[^/]+\/artifacts\/?$/, 'rest_run_artifacts'],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/artifacts\/?$/, 'rest_artifacts'],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/artifacts\/[^/]+\/?$/, 'rest_artifact'],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/artifacts\/[^/]+\/[^/]+\/?$/, 'rest_archive'],
  [/^\/metrics$/, 'metrics'],
  [/^\/status$/, 'status'],
];

/** One of a fixed set of names for the request's path; `other` for anything no route serves. */
export function routeName(pathname: string): string {
  const twirp = TWIRP.exec(pathname);
  if (twirp) {
    const method = twirp.groups?.method ?? '';
    return TWIRP_METHODS.has(method) ? `twirp_${method}` : 'twirp_other';
  }
  for (const [pattern, name] of NAMED) if (pattern.test(pathname)) return name;
  return 'other';
}

/** The path of a request target without its query (signed URLs carry their signature there). */
export function pathOnly(target: string | undefined): string {
  const raw = target ?? '/';
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The request method as a label: the methods the routes use, everything else `OTHER`. */
export function methodName(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'OTHER';
}
