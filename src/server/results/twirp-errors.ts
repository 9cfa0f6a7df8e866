import type { ServerResponse } from 'node:http';
import { ErrorResponse } from '../http/error-response.js';
import { sendJson } from '../http/respond.js';

/** The Twirp error codes this server uses, with their standard HTTP statuses. */
const STATUS = {
  invalid_argument: 400,
  malformed: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  internal: 500,
  unimplemented: 501,
  unavailable: 503,
} as const;

export type TwirpCode = keyof typeof STATUS;

/** A Twirp error: rendered as `{"code","msg"}` with the code's standard status. */
export class TwirpError extends ErrorResponse {
  override name = 'TwirpError';

  constructor(
    readonly code: TwirpCode,
    message: string,
  ) {
    super(STATUS[code], message);
  }
}

/** The Twirp code for an error thrown without one (router 401/404/405, JSON body limits, 500s). */
function codeFor(status: number): TwirpCode {
  switch (status) {
    case 401:
      return 'unauthenticated';
    case 403:
      return 'permission_denied';
    case 404:
    case 405:
      return 'bad_route';
    case 409:
      return 'already_exists';
    case 412:
      return 'failed_precondition';
    case 429:
      return 'resource_exhausted';
    case 501:
      return 'unimplemented';
    case 503:
      return 'unavailable';
    default:
      // 413 (body limit) included: the client must not retry it, and 4xx codes other than the
      // ones above have no Twirp equivalent.
      return status >= 500 ? 'internal' : 'invalid_argument';
  }
}

/**
 * Renders every error on a Twirp route as Twirp JSON. The official client parses the body as JSON
 * before it looks at the status, and retries a body that is not JSON five times, so no error on
 * these routes may be plain text or empty.
 */
export function renderTwirpError(res: ServerResponse, error: ErrorResponse): void {
  const code = error instanceof TwirpError ? error.code : codeFor(error.status);
  // A full disk keeps its 507 (Twirp has no code for it): clients map the status to "no space"
  // and do not retry, where the 500 of `internal` would be retried into the same full disk.
  const status = error.status === 507 && !(error instanceof TwirpError) ? 507 : STATUS[code];
  // Keep the router's WWW-Authenticate / Allow headers; the status follows the code.
  sendJson(res, status, { code, msg: error.message }, error.headers);
}
