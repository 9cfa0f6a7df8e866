/**
 * An unsigned runtime token with an Actions.Results scope, as act and the runner mint them: the
 * results clients read their run and job backend ids from it, the legacy clients send it as an
 * opaque bearer token. `extra` claims follow the scope (e.g. `ac`, as the real runner's carry).
 */
export function runtimeToken(run, job, extra = {}) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ scp: `Actions.Results:${run}:${job}`, ...extra })}.c2ln`;
}
