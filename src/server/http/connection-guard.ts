import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionGuardOptions {
  maxConnections: number;
  maxUntrustedConnections: number;
  /** A connection that has sent no byte within this time of connecting is closed. */
  firstRequestTimeoutMs: number;
  log: ((line: string) => void) | undefined;
}

/** What the guard knows about one socket. */
interface Tracked {
  socket: Socket;
  /** Set once a request on it passed authentication (or was answered with a success). */
  trusted: boolean;
  /** Requests whose answer has not closed yet: such a socket is never shed. */
  inFlight: number;
  firstRequest: NodeJS.Timeout | undefined;
}

// After refusing a request whose body we never read, the rest of the body is drained for at most
// this long / this much, so the client reads our answer instead of a reset, then the socket goes.
const LINGER_MS = 2_000;
const LINGER_BYTES = 256 * 1024;
// A refused body that declares at most this much is read to its end on a kept connection, as
// Node does by default: a client sending a whole upload block (4-8 MiB) then reads our answer
// (an expired signed URL's 403) instead of a reset from a proxy in between. Larger or chunked
// bodies are cut off after LINGER_BYTES.
const DRAIN_DECLARED_BYTES = 16 * 1024 * 1024;

/**
 * Keeps sockets from being a resource an unauthenticated peer can exhaust (Node's http server
 * has no connection cap and never times out a connection that sends nothing):
 *
 * - a connection that sends no complete request head within `firstRequestTimeoutMs` is closed;
 * - connections that have not yet made an authenticated request ("untrusted") are capped at
 *   `maxUntrustedConnections`: over it, the oldest idle untrusted one is shed;
 * - all connections are capped at `maxConnections`: over it, an idle untrusted one is shed to
 *   make room, or else the new one is refused. Clients that hold the token keep their sockets.
 */
export class ConnectionGuard {
  readonly #options: ConnectionGuardOptions;
  /** Insertion order is connection order, so the first idle untrusted entry is the oldest. */
  readonly #tracked = new Map<Socket, Tracked>();
  shed = 0;

  constructor(options: ConnectionGuardOptions) {
    this.#options = options;
  }

  /** Call on the server's 'connection' event. */
  admit(socket: Socket): void {
    const entry: Tracked = { socket, trusted: false, inFlight: 0, firstRequest: undefined };
    entry.firstRequest = setTimeout(() => {
      // A socket that sent part of a head is Node's to time out (it answers 408); this timer
      // is for the ones that sent nothing at all, which Node never times out.
      if (entry.inFlight === 0 && !entry.trusted && socket.bytesRead === 0) {
        this.#drop(entry, 'sent no request in time');
      }
    }, this.#options.firstRequestTimeoutMs);
    entry.firstRequest.unref();
    this.#tracked.set(socket, entry);
    socket.once('close', () => {
      clearTimeout(entry.firstRequest);
      this.#tracked.delete(socket);
    });
    if (this.#tracked.size > this.#options.maxConnections && !this.#shedOne()) {
      this.#drop(entry, `over the limit of ${this.#options.maxConnections} connections`);
      return;
    }
    if (this.#untrusted() > this.#options.maxUntrustedConnections) this.#shedOne();
  }

  /** Call when a request head arrived; returns a function to call once it is trusted. */
  requestStarted(req: IncomingMessage, res: ServerResponse): { trust(): void } {
    const entry = this.#tracked.get(req.socket);
    if (!entry) return { trust: () => undefined };
    clearTimeout(entry.firstRequest);
    entry.inFlight++;
    res.once('close', () => {
      entry.inFlight--;
      if (res.statusCode < 400) entry.trusted = true;
    });
    // A refused request whose body was not read: answer, then close instead of reading on.
    // The socket is taken now: a finished response may already have detached it from `req`.
    const socket = req.socket;
    const drainable = drainsRefusedBody(req);
    res.once('finish', () => {
      if (!req.complete && !drainable) lingerAndClose(req, socket);
    });
    return {
      trust: () => {
        entry.trusted = true;
      },
    };
  }

  #untrusted(): number {
    let count = 0;
    for (const entry of this.#tracked.values()) if (!entry.trusted) count++;
    return count;
  }

  /** Closes the oldest untrusted connection with no request in flight; false if there is none. */
  #shedOne(): boolean {
    for (const entry of this.#tracked.values()) {
      if (!entry.trusted && entry.inFlight === 0 && !entry.socket.destroyed) {
        this.#drop(entry, 'shed to make room for other clients');
        return true;
      }
    }
    return false;
  }

  #drop(entry: Tracked, why: string): void {
    this.shed++;
    this.#tracked.delete(entry.socket);
    const peer = `${entry.socket.remoteAddress ?? '?'}:${entry.socket.remotePort ?? '?'}`;
    this.#options.log?.(`connection from ${peer} closed: ${why}`);
    entry.socket.destroy();
  }
}

/**
 * Whether a body the server refused without reading is still read to its end (the connection
 * kept) rather than cut off: it declares a length of at most DRAIN_DECLARED_BYTES.
 */
export function drainsRefusedBody(req: IncomingMessage): boolean {
  const declared = Number(req.headers['content-length']);
  return Number.isSafeInteger(declared) && declared <= DRAIN_DECLARED_BYTES;
}

/**
 * Half-closes after our answer and discards what the peer still sends, for a short while: closing
 * with unread bytes in the receive buffer sends a reset, which can destroy our answer at the
 * client before it reads it. Bounded in time and bytes, so a refused body costs next to nothing.
 */
function lingerAndClose(req: IncomingMessage, socket: Socket): void {
  if (socket.destroyed) return;
  let drained = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // The http parser owns the socket's bytes; what is left of the body still arrives on `req`.
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > LINGER_BYTES) socket.destroy();
  });
  req.resume();
  socket.end();
}
