/**
 * An error that maps directly to an HTTP answer. Handlers throw it; the router turns it into a
 * JSON body `{"message": ...}` with this status. Anything else thrown becomes a 500.
 */
export class HttpError extends Error {
  override name = 'HttpError';

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
