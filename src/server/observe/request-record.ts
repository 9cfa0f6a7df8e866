/** What the server knows about one request once its answer is over; the source of metrics and access-log lines. */
export interface RequestRecord {
  /** When the request head arrived, ISO 8601. */
  time: string;
  method: string;
  /** The route name (see routeName), never the raw path. */
  route: string;
  /** The status sent; undefined when the connection ended before any answer. */
  status: number | undefined;
  /** The answer was started but not sent to its end. */
  cut: boolean;
  /** Whether the answer was JSON (tells a legacy listing from a file download on one URL). */
  json: boolean;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  /** The peer's address as the socket sees it (the proxy's, behind one). */
  remote: string;
  /** Also sent back as the X-Request-Id header, so a client report can be matched to a line. */
  requestId: string;
}
