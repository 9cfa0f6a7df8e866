/**
 * Every size, count and time limit of `ferry serve`, in one place. A client is trusted with
 * nothing: each number a peer sends (Content-Length, Content-Range, block lists, JSON bodies)
 * and each resource it can hold (sockets, time, disk) is bounded by one of these.
 */
export interface ServerLimits {
  /**
   * Largest artifact the server stores: a committed blob (results) or the sum of a container's
   * file sizes (legacy), and so also the largest Content-Range offset. Default 10 GiB (GitHub's
   * own artifacts are capped well below that by storage quotas).
   */
  maxArtifactBytes: number;
  /** Entries in one Put Block List; Azure's limit, 50,000. Duplicates count once per entry. */
  maxBlocksPerList: number;
  /** Blocks staged (uncommitted) per blob at a time; Azure's limit, 100,000. */
  maxStagedBlocks: number;
  /** JSON request bodies (Twirp, legacy create/patch): 1 MiB; real ones are under 1 KiB. */
  maxJsonBodyBytes: number;
  /** HTTP request head (request line plus headers); Node's `maxHeaderSize`. Default 16 KiB. */
  maxHeaderBytes: number;
  /** Finalized artifacts per workflow run (results protocol), or containers (legacy). GitHub's per-job limit is 500. Default 10,000. */
  maxArtifactsPerRun: number;
  /** Uploads in progress (not yet finalized) per workflow run. Default 1,000. */
  maxLiveUploadsPerRun: number;
  /** Time to receive a complete request head, counted from connect or from the previous answer. Default 20 s. */
  headersTimeoutMs: number;
  /** Time for a whole request, body included; bounds a trickled body. Default 1 h (an 8 MiB block at 2.4 KB/s). */
  requestTimeoutMs: number;
  /** Socket silence allowed while a request is in flight (body progress). Default 120 s. */
  idleTimeoutMs: number;
  /** How long a kept-alive socket may wait for its next request. Default 60 s. */
  keepAliveTimeoutMs: number;
  /** Open connections at most; beyond it new ones are refused unless an idle untrusted one can be shed. Default 512. */
  maxConnections: number;
  /**
   * Connections that have not (yet) made a request that passed authentication. When there are
   * more, the oldest idle one is closed, so a flood of idle sockets cannot crowd out clients that
   * hold the token. Default 64.
   */
  maxUntrustedConnections: number;
}

const KIB = 1024;
const GIB = 1024 * 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxArtifactBytes: 10 * GIB,
  maxBlocksPerList: 50_000,
  maxStagedBlocks: 100_000,
  maxJsonBodyBytes: 1024 * KIB,
  maxHeaderBytes: 16 * KIB,
  maxArtifactsPerRun: 10_000,
  maxLiveUploadsPerRun: 1_000,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 60 * 60 * 1000,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 60_000,
  maxConnections: 512,
  maxUntrustedConnections: 64,
});

/** Fills defaults and refuses limits that are not positive safe integers (a typo must not disable a bound). */
export function resolveLimits(given: Partial<ServerLimits> | undefined): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(given ?? {}) as Array<[keyof ServerLimits, unknown]>) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) throw new RangeError(`Unknown server limit ${JSON.stringify(key)}`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`Server limit ${key} must be a positive integer, got ${String(value)}`);
    }
    limits[key] = value;
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    // Node refuses this combination; say which option to change instead.
    throw new RangeError(
      `headersTimeoutMs (${limits.headersTimeoutMs}) cannot exceed requestTimeoutMs (${limits.requestTimeoutMs})`,
    );
  }
  if (limits.maxUntrustedConnections > limits.maxConnections) {
    throw new RangeError(
      `maxUntrustedConnections (${limits.maxUntrustedConnections}) cannot exceed maxConnections (${limits.maxConnections})`,
    );
  }
  return limits;
}
