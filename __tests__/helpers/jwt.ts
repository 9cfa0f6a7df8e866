/** An unsigned runtime token with the results scope, like the ones act and the runner mint. */
export function runtimeJwt(run: string, job: string, extraScopes = 'Actions.ExampleScope'): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ scp: `${extraScopes} Actions.Results:${run}:${job}`, ac: '[]' })}.c2lnbmF0dXJl`;
}
