import { FerryError } from '../../core/errors.js';
import type { BackendIds } from './contracts.js';

/**
 * Reads the workflow run and job backend ids from the runtime token's `scp` claim
 * (`Actions.Results:<run>:<job>`). The signature is not checked: the service checks it, the
 * client only needs the ids. Returns undefined when the token carries no such scope, which is
 * how capability detection tells a results-capable runner from a legacy one.
 */
export function backendIdsFromToken(token: string | undefined): BackendIds | undefined {
  if (!token) return undefined;
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const scp = (claims as { scp?: unknown } | null)?.scp;
  if (typeof scp !== 'string') return undefined;
  for (const scope of scp.split(' ')) {
    const parts = scope.split(':');
    if (parts[0] !== 'Actions.Results') continue;
    if (parts.length !== 3 || !parts[1] || !parts[2]) return undefined;
    return { workflowRunBackendId: parts[1], workflowJobRunBackendId: parts[2] };
  }
  return undefined;
}

export function requireBackendIds(token: string | undefined): BackendIds {
  const ids = backendIdsFromToken(token);
  if (!ids) {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      'The runtime token (ACTIONS_RUNTIME_TOKEN) has no Actions.Results:<run>:<job> scope, so the results protocol cannot be used',
    );
  }
  return ids;
}
