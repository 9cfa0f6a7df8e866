import http, { type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortError,
  FerryError,
  isFerryError,
  RateLimitedError,
  type ErrorContext,
  type FerryErrorCode,
} from '../core/errors.js';
import type { Logger } from '../core/types.js';
import { retryKindOf, type Phase, type TransportStatsSink } from '../core/stats.js';
import { silentLogger } from '../core/types.js';
import { DEFAULT_MAX_RESPONSE_BYTES, readBody } from './body.js';
import { systemClock, type Clock } from './clock.js';
import { extractErrorMessage } from './error-body.js';
import type { Operation } from './operation.js';
import { SlotAgents, type ProxySettings } from './proxy.js';
import { header, isRateLimited, networkFailure, statusFailure } from './http-failure.js';
import { urlWithoutQuery } from '../core/redact.js';
import { assertFetchableUrl, assertRedirectAllowed } from './url-policy.js';
import { DEFAULT_STALL_POLICY, type StallPolicy } from './stall-watchdog.js';
import { defaultRetryPolicy, type AttemptOutcome, type RetryPolicy } from './retry.js';
import { Retrier, type RetryBudget } from './retrier.js';
import type { RememberedAnswers } from './remembered-answers.js';
import { sendRaw, type RawBody } from './raw-request.js';
import { countedResponse } from './counted-response.js';

export interface HttpManagerOptions {
  /** Number of concurrency slots; each gets its own keep-alive client. */
  slots: number;
  userAgent: string;
  proxy?: ProxySettings;
  /** Idle socket timeout per request (no bytes either way). @default 120000 */
  socketTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  clock?: Clock;
  logger?: Logger;
  /** Extra TLS options (CA) for https targets and tunnels. */
  tls?: import('node:tls').ConnectionOptions;
  /** Source of randomness for jitter; tests pin it. */
  random?: () => number;
  /** Minimum throughput of download bodies (see stall-watchdog.ts); read by the download paths. */
  stall?: StallPolicy;
  /** Largest JSON answer (or legacy listing item) accepted; read by the JSON readers. @default 32 MiB */
  maxResponseBytes?: number;
  /**
   * Receives the operation's counters (requests, retries, connections, body bytes) and times
   * each request under its phase (RequestSpec.phase); a StatsCollector (core/stats.ts).
   */
  stats?: RequestStats;
  /**
   * Rate limits remembered across calls and processes (remembered-answers.ts), consulted by
   * requests that set `rememberAnswers` (the REST API's, which spend the token's rate limit).
   * `waitUpToSeconds`: a remembered reset at most this far away is waited for instead of failing.
   */
  remembered?: { answers: RememberedAnswers; waitUpToSeconds?: number | undefined } | undefined;
}

/** What HttpManager feeds: the transport counters, and the time of each request under its phase. */
export type RequestStats = TransportStatsSink & {
  startPhase(phase: Phase): () => void;
  /** Requests not sent because a remembered answer said how they would end. */
  spared(requests?: number): void;
};

export type RequestBody = Buffer | string | { length: number; open: () => Readable };

export interface RequestSpec {
  slot: number;
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** Headers, or a function of the 1-based attempt (a resumed download adds Range on a retry). */
  headers?: OutgoingHttpHeaders | ((attempt: number) => OutgoingHttpHeaders);
  /**
   * `throw` hands a network failure straight back instead of retrying it, for calls that must
   * be reconciled with the server before being repeated (create, finalize). @default 'retry'
   */
  networkErrors?: 'retry' | 'throw';
  /** Replayable body: a buffer, a string, or a factory that opens a fresh stream per attempt. */
  body?: RequestBody;
  /** `manual` hands a redirect to the reader (list it in okStatuses) instead of following it. @default 'follow' */
  redirect?: 'follow' | 'manual';
  /** Non-2xx statuses the reader handles itself (e.g. a 404 that means "empty"). */
  okStatuses?: readonly number[];
  /** Bearer token for this request; dropped on a redirect to another origin. */
  bearer?: string;
  operation?: Operation;
  signal?: AbortSignal;
  context?: ErrorContext;
  /** Maps a final HTTP failure to a domain message (e.g. "artifact storage quota hit"). */
  describeFailure?: (
    status: number,
    serverMessage: string | undefined,
  ) => { code?: FerryErrorCode; message?: string } | undefined;
  /** Called before each retry sleep, for logs and tests. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /**
   * The call's name for messages (e.g. `CreateArtifact`), so a final error says which call of
   * the operation failed, not only which URL.
   */
  call?: string;
  /**
   * For a call repeated by a reconciled step (create, finalize, delete): the step's budget, so
   * that attempts and the time budget are counted across the whole step, not restarted per call.
   */
  budget?: RetryBudget;
  /** The phase this request's time (retries and body reading included) counts under in `stats`. @default 'metadata' */
  phase?: Phase;
  /**
   * Check the remembered rate limits of (origin, bearer) before sending, and remember a spent
   * one from the answer (see HttpManagerOptions.remembered). For calls that spend an API rate limit.
   */
  rememberAnswers?: boolean;
}

/** Consumes a 2xx response completely. Throwing marks the attempt failed (retryable if the error says so). */
export type ResponseReader<T> = (res: IncomingMessage) => Promise<T>;

export interface HttpManagerStats {
  requests: number;
  retries: number;
  clientsCreated: number;
  clientsDisposed: number;
}

interface Slot {
  agents: SlotAgents;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * One set of keep-alive agents per concurrency slot. A worker owns a slot for its whole run, so a
 * slot holds at most one socket; after a failed attempt the slot's agents are disposed (their
 * sockets destroyed, whatever state they were left in) and replaced. `dispose()` must run at the
 * end of every operation, success or not.
 */
export class HttpManager {
  readonly slots: number;
  /** The retry policy over time, shared with the reconciled steps that repeat calls themselves. */
  readonly retrier: Retrier;
  readonly #options: HttpManagerOptions;
  readonly #logger: Logger;
  readonly #slots: Slot[];
  readonly #stats: Omit<HttpManagerStats, 'retries'> = { requests: 0, clientsCreated: 0, clientsDisposed: 0 };
  /** The signal of the request each slot is sending, so an abort can cut exactly those sockets. */
  readonly #slotSignals: (AbortSignal | undefined)[] = [];
  /** One 'abort' listener per signal for the manager's life, removed by dispose(). */
  readonly #abortListeners = new Map<AbortSignal, () => void>();
  #disposed = false;

  constructor(options: HttpManagerOptions) {
    if (!Number.isInteger(options.slots) || options.slots < 1) {
      throw new FerryError(
        'ERR_FERRY_INVALID_OPTION',
        `HttpManager slots must be a positive integer, got ${options.slots}`,
      );
    }
    this.slots = options.slots;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.retrier = new Retrier(
      { ...defaultRetryPolicy, ...options.retry },
      options.clock ?? systemClock,
      this.#logger,
      options.random,
    );
    this.#slots = Array.from({ length: options.slots }, () => this.#createSlot());
  }

  get #socketTimeoutMs(): number {
    return this.#options.socketTimeoutMs ?? 120_000;
  }

  get stats(): Readonly<HttpManagerStats> {
    return { ...this.#stats, retries: this.retrier.retries };
  }

  /** The download watchdog's policy for this operation. */
  get stallPolicy(): Readonly<StallPolicy> {
    return this.#options.stall ?? DEFAULT_STALL_POLICY;
  }

  /** The largest JSON answer this operation accepts (option maxResponseBytes). */
  get maxResponseBytes(): number {
    return this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** Destroys the slot's client and sockets and gives the slot a fresh client. */
  disposeAndReplace(slot: number): void {
    const current = this.#slot(slot);
    this.#destroySlot(current);
    if (!this.#disposed) this.#slots[slot] = this.#createSlot();
  }

  /** Destroys every client and socket. Later requests fail with ERR_FERRY_CLIENT_CLOSED. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const slot of this.#slots) this.#destroySlot(slot);
    for (const [signal, listener] of this.#abortListeners) signal.removeEventListener('abort', listener);
    this.#abortListeners.clear();
  }

  /**
   * Marks `slot` as sending under `signal`; an abort destroys the sockets of every slot still
   * sending under it, which fails their requests at once. One listener per signal rather than an
   * add/remove pair per request: on 10,000 small files the pairs cost ~0.1 s of CPU.
   */
  #watchAbort(slot: number, signal: AbortSignal | undefined): void {
    this.#slotSignals[slot] = signal;
    if (!signal || this.#abortListeners.has(signal)) return;
    const listener = (): void => {
      for (let i = 0; i < this.slots; i++) if (this.#slotSignals[i] === signal) this.disposeAndReplace(i);
    };
    this.#abortListeners.set(signal, listener);
    signal.addEventListener('abort', listener, { once: true });
  }

  /**
   * Sends a request with retries. On 2xx, `read` consumes the body and its result is returned.
   * Every other response body is read (bounded) or destroyed, on every path.
   */
  async request<T>(spec: RequestSpec, read: ResponseReader<T>): Promise<T> {
    const endPhase = this.#options.stats?.startPhase(spec.phase ?? 'metadata');
    try {
      return await this.#request(spec, read);
    } finally {
      endPhase?.();
    }
  }

  async #request<T>(spec: RequestSpec, read: ResponseReader<T>): Promise<T> {
    const budget = spec.budget ?? this.retrier.budget();
    const signal = spec.operation?.signal ?? spec.signal;
    const remembered = spec.rememberAnswers ? this.#options.remembered : undefined;
    if (remembered) {
      // Before the first attempt only: a retry of a rate-limited answer is the retrier's to time.
      try {
        await remembered.answers.check(new URL(spec.url).origin, spec.bearer, {
          ...(remembered.waitUpToSeconds !== undefined
            ? { waitUpToSeconds: remembered.waitUpToSeconds }
            : {}),
          ...(signal ? { signal } : {}),
        });
      } catch (error: unknown) {
        if (isFerryError(error) && error.code === 'ERR_FERRY_RATE_LIMITED') this.#options.stats?.spared(1);
        throw error;
      }
    }
    let rateLimitError: FerryError | undefined;
    for (; ; budget.attempt++) {
      const attempt = budget.attempt;
      spec.operation?.throwIfStopped();
      if (signal?.aborted) throw new AbortError(signal.reason, spec.context);
      if (this.#disposed)
        throw new FerryError('ERR_FERRY_CLIENT_CLOSED', 'The HTTP manager was disposed', {
          context: spec.context,
        });

      let outcome: AttemptOutcome;
      let failure: FerryError;
      let handBack = false;
      let rateLimited = false;
      this.#watchAbort(spec.slot, signal);
      try {
        const { res, url } = await this.#sendFollowingRedirects(spec, attempt);
        const status = res.statusCode ?? 0;
        if ((status >= 200 && status < 300) || spec.okStatuses?.includes(status)) {
          try {
            return await read(res);
          } catch (error: unknown) {
            res.destroy();
            if (signal?.aborted) throw new AbortError(signal.reason, spec.context);
            outcome = { kind: 'error', error };
            failure =
              error instanceof FerryError
                ? error
                : networkFailure(spec, url, error, attempt, this.#socketTimeoutMs);
            // A 2xx whose body broke off is a lost answer too: the caller reconciles before repeating.
            handBack = spec.networkErrors === 'throw' && failure.retryable && !(error instanceof FerryError);
          }
        } else {
          const body = await readBody(res, ERROR_BODY_LIMIT).catch(() => Buffer.alloc(0));
          const text = body.toString('utf8');
          const serverMessage = extractErrorMessage(text);
          rateLimited = isRateLimited(status, res, serverMessage);
          if (remembered) {
            const seen = await remembered.answers.observe(url.origin, spec.bearer, {
              status,
              headers: res.headers,
              body: text,
            });
            rateLimitError = seen.error;
          }
          outcome = {
            kind: 'status',
            // A GitHub rate limit arrives as 403; it clears by itself, so it is retried like 429.
            status: rateLimited ? 429 : status,
            retryAfter: header(res, 'retry-after'),
            rateLimitReset: header(res, 'x-ratelimit-reset'),
          };
          failure = statusFailure(
            spec,
            url,
            status,
            res.statusMessage,
            serverMessage,
            text,
            attempt,
            rateLimited,
            this.#options.proxy ?? {},
            this.retrier.policy.retryableStatuses,
          );
        }
      } catch (error: unknown) {
        if (signal?.aborted) throw spec.operation?.failure ?? new AbortError(signal.reason, spec.context);
        if (error instanceof FerryError && !error.retryable && error.code !== 'ERR_FERRY_PROXY') throw error;
        outcome = { kind: 'error', error };
        failure = networkFailure(spec, new URL(spec.url), error, attempt, this.#socketTimeoutMs);
        handBack = spec.networkErrors === 'throw' && failure.retryable;
      } finally {
        this.#slotSignals[spec.slot] = undefined;
      }
      if (handBack) {
        // Handed back for reconciling: the socket it failed on is in an unknown state either way.
        this.disposeAndReplace(spec.slot);
        throw failure;
      }

      const decision = this.retrier.decide(budget, outcome);
      if (!decision.retry) {
        if (decision.permanent) spec.operation?.fail(failure);
        // A spent rate limit that will not reset within the retry policy: typed, naming the reset.
        throw rateLimitError ?? failure;
      }
      if (
        rateLimitError instanceof RateLimitedError &&
        !this.#waitsFor(rateLimitError, remembered?.waitUpToSeconds)
      ) {
        // The limit resets later than this call may wait: fail now, naming the reset; it is
        // remembered, so the next call fails at once too, without a request.
        throw rateLimitError;
      }
      rateLimitError = undefined;
      this.#logger.debug(
        `${spec.call ? `${spec.call}: ` : ''}${spec.method} ${urlWithoutQuery(spec.url)} failed (${decision.reason}), retry ${attempt} in ${decision.delayMs} ms (${decision.basis})`,
      );
      spec.onRetry?.({ attempt, delayMs: decision.delayMs, reason: decision.reason });
      this.#options.stats?.retry(
        retryKindOf(outcome.kind === 'status' ? outcome.status : undefined, rateLimited),
      );
      // A failed attempt may leave its socket mid-body or half-closed: never reuse it.
      this.disposeAndReplace(spec.slot);
      try {
        await this.retrier.sleep(decision.delayMs, signal);
      } catch (error: unknown) {
        throw spec.operation?.failure ?? error;
      }
    }
  }

  /** Whether a spent limit resets soon enough to wait for: within the retry policy, or the caller's allowance. */
  #waitsFor(error: RateLimitedError, waitUpToSeconds: number | undefined): boolean {
    const waitMs = error.resetAt.getTime() - Date.now();
    return waitMs <= Math.max(this.retrier.policy.maxRetryAfterMs, (waitUpToSeconds ?? 0) * 1000);
  }

  async #sendFollowingRedirects(
    spec: RequestSpec,
    attempt: number,
  ): Promise<{ res: IncomingMessage; url: URL }> {
    const headers = typeof spec.headers === 'function' ? spec.headers(attempt) : spec.headers;
    let url = new URL(spec.url);
    let method = spec.method;
    let body = spec.body;
    let bearer = spec.bearer;
    assertFetchableUrl(url, spec.call ?? `${spec.method} request`, spec.context);
    for (let hop = 0; ; hop++) {
      const res = await this.#send(spec.slot, method, url, headers, body, bearer);
      const status = res.statusCode ?? 0;
      const location = header(res, 'location');
      if (!REDIRECTS.has(status) || location === undefined || spec.redirect === 'manual') return { res, url };
      await readBody(res, 0).catch(() => undefined);
      if (hop >= MAX_REDIRECTS) {
        throw new FerryError(
          'ERR_FERRY_PROTOCOL',
          `Too many redirects (${MAX_REDIRECTS}) from ${urlWithoutQuery(spec.url)}`,
          {
            context: spec.context,
          },
        );
      }
      // Refuses other schemes (ftp:, file:, data:…), credentials in the URL and https → http.
      const next = assertRedirectAllowed(url, location, spec.context);
      // Credentials are for the origin that asked for them, never for a storage host it points to.
      if (next.origin !== url.origin) bearer = undefined;
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  #send(
    slotIndex: number,
    method: string,
    url: URL,
    headers: OutgoingHttpHeaders | undefined,
    body: RequestBody | undefined,
    bearer: string | undefined,
  ): Promise<IncomingMessage> {
    const slot = this.#slot(slotIndex);
    const all: Record<string, string | number | string[]> = {};
    for (const [key, value] of Object.entries(headers ?? {}))
      if (value !== undefined) all[key.toLowerCase()] = value;
    if (bearer) all['authorization'] = `Bearer ${bearer}`;
    let data: RawBody = null;
    const stats = this.#options.stats;
    if (typeof body === 'string') {
      data = body;
      const length = Buffer.byteLength(body);
      all['content-length'] = length;
      stats?.sent(length);
    } else if (Buffer.isBuffer(body)) {
      all['content-length'] = body.length;
      data = body.length ? oneShotBody(body) : '';
      stats?.sent(body.length);
    } else if (body !== undefined) {
      all['content-length'] = body.length;
      data = body.length ? body.open() : '';
      stats?.sent(body.length);
    }
    this.#stats.requests++;
    stats?.request();
    all['user-agent'] = this.#options.userAgent;
    const secure = url.protocol === 'https:';
    const options: RequestOptions = {
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: url.pathname + url.search,
      method,
      headers: all,
    };
    // The slot's agents pick direct, tunnel or forward-proxy routing for this URL.
    slot.agents.prepare(options, url);
    // The options are prepared here, so the request goes straight to Node's http (raw-request.ts).
    return new Promise((resolve, reject) => {
      sendRaw(secure ? https : http, options, data, this.#socketTimeoutMs, (error, response) => {
        if (response) resolve(stats ? countedResponse(response, stats) : response);
        else reject(error ?? new Error(`No response to ${method} ${urlWithoutQuery(url)}`));
      });
    });
  }

  #createSlot(): Slot {
    const agents = new SlotAgents(this.#options.proxy ?? {}, {
      keepAlive: true,
      maxSockets: 1,
      ...(this.#options.tls ? { tls: this.#options.tls } : {}),
    });
    this.#stats.clientsCreated++;
    return { agents };
  }

  #destroySlot(slot: Slot): void {
    slot.agents.destroy();
    this.#stats.clientsDisposed++;
  }

  #slot(index: number): Slot {
    const slot = this.#slots[index];
    if (!slot) throw new FerryError('ERR_FERRY_INVALID_OPTION', `No HTTP slot ${index} (have ${this.slots})`);
    return slot;
  }
}

/**
 * A buffer body in the shape sendRaw consumes: it pipes the body into the request and ends
 * the request on the body's 'close'. A buffer needs no stream machinery for that (a Readable
 * costs ~20 µs of ticks and events per request): `pipe` writes it, then reports 'close'.
 */
function oneShotBody(body: Buffer): NodeJS.ReadableStream {
  const onClose: Array<() => void> = [];
  const shot = {
    on(event: string, listener: () => void) {
      if (event === 'close') onClose.push(listener);
      return shot;
    },
    pipe<T extends NodeJS.WritableStream>(destination: T): T {
      destination.write(body);
      for (const listener of onClose) listener();
      return destination;
    },
  };
  return shot as unknown as NodeJS.ReadableStream;
}
