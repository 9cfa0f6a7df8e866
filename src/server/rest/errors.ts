import type { ServerResponse } from 'node:http';
import type { ErrorResponse } from '../http/error-response.js';
import { sendJson } from '../http/respond.js';

const DOCS = 'https://docs.github.com/rest/actions/artifacts';

/** GitHub's error shape, `{"message", "documentation_url"}`, which Octokit puts into its RequestError. */
export function renderRestError(res: ServerResponse, error: ErrorResponse): void {
  sendJson(res, error.status, { message: error.message, documentation_url: DOCS }, error.headers);
}
