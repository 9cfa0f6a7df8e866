import type { ServerResponse } from 'node:http';
import type { HttpError } from '../http/http-error.js';
import { sendJson } from '../http/respond.js';

const DOCS = 'https://docs.github.com/rest/actions/artifacts';

/** GitHub's error shape, `{"message", "documentation_url"}`, which Octokit puts into its RequestError. */
export function renderRestError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { message: error.message, documentation_url: DOCS }, error.headers);
}
