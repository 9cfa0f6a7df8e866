import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access } from './http/access.js';

/**
 * What every protocol handler receives. The router has already checked auth and matched the
 * path, so handlers only deal with their own protocol.
 */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The parsed request URL (query already available as `url.searchParams`, form-decoded). */
  url: URL;
  /** Named groups of the matched route pattern, percent-decoded. */
  params: Readonly<Record<string, string>>;
  /**
   * Absolute base URL the client used to reach us, with a trailing slash. URLs we hand out
   * (container URLs, contentLocation) are built from it so they work through whatever host name
   * the client used (127.0.0.1, a container name, a forwarded port).
   */
  baseUrl: string;
  /**
   * The runs the request's credential reaches (checked by the router on bearer routes). Handlers
   * check it against the run they act on before touching the store.
   */
  access: Access;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

export interface Route {
  method: string;
  /** Matched against the raw (still percent-encoded) pathname; use named groups for params. */
  pattern: RegExp;
  handler: Handler;
}

/** One protocol (legacy pipelines, later results/Twirp + blob) mounted on the shared server. */
export interface ProtocolModule {
  readonly name: string;
  readonly routes: readonly Route[];
  /** Releases what the protocol holds open (file descriptors); called after the last socket closed. */
  close?(): Promise<void>;
}
