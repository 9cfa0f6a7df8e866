/**
 * An error the server answers with (not to be confused with core/errors.ts HttpError, a response
 * Ferry's client received). Handlers throw it; the router turns it into a
 * JSON body `{"message": ...}` with this status. Anything else thrown becomes a 500.
 */
export class ErrorResponse extends Error {
  override name = 'ErrorResponse';

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string): ErrorResponse => new ErrorResponse(400, message);
export const notFound = (message: string): ErrorResponse => new ErrorResponse(404, message);
