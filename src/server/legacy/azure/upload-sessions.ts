import type { ContainerClient } from '@azure/storage-blob';
import {
  isConflict,
  readSmallJson,
  writeSmallJson,
  type Timed,
  type WriteConditions,
} from '../../results/azure/small-json.js';
import { DEFAULT_SESSION_LEASE_MS, raceLost } from '../artifact-store.js';
import { itemKey } from '../layout.js';

/** Lost compare-and-swap races before giving up (only under a storm of writes to one file). */
const MAX_ATTEMPTS = 20;

/** One upload session as stored: when it last wrote (ms since the epoch), and whether it lost a race. */
interface SessionState {
  active: number;
  lost: boolean;
}

export interface UploadSessionsOptions {
  time: Timed;
  /** See DEFAULT_SESSION_LEASE_MS. */
  leaseMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

/** What a claim needs of the container: its id, its name (for the 409) and when a PATCH last closed it. */
export interface ClaimTarget {
  containerId: number;
  name: string;
  /** When the last PATCH of the artifact closed its sessions (ms since the epoch), if any. */
  closedAt: number | undefined;
}

/**
 * The upload sessions of the legacy protocol on an azure_blob store, shared by every instance:
 * the filesystem store's in-memory sessions and claims (ArtifactStore.claim), as blobs.
 *
 * - `legacy/uploads/<id>/sessions/<session>`: `{active, lost}`, created by the create that
 *   hands the session out (If-None-Match: *); renewed by a chunk when it is a quarter of the
 *   lease old (not by every chunk: that would be a write per chunk), or written after the last
 *   PATCH; marked lost (If-Match) when it tries to write a file another live session writes,
 *   or when another session takes over a file of it once it is no longer live.
 * - `legacy/uploads/<id>/claims/<sha256(path)>`: `{session}`, which session writes the file;
 *   created with If-None-Match: *, taken over with If-Match: <etag> once its session is no
 *   longer live (idle past the lease, beaten, or closed by a PATCH since its last write).
 *
 * A session lives while it is not lost, wrote within the lease, and wrote after the artifact's
 * last PATCH (ClaimTarget.closedAt, kept in the container record). Sessions this store did not
 * hand out (no session blob: a URL from a listing, or from before sessions were stored) are not
 * tracked, as on the filesystem store.
 */
export class AzureUploadSessions {
  readonly #container: ContainerClient;
  readonly #prefix: string;
  readonly #time: Timed;
  readonly #leaseMs: number;
  readonly #now: () => number;

  constructor(container: ContainerClient, prefix: string, options: UploadSessionsOptions) {
    this.#container = container;
    this.#prefix = prefix;
    this.#time = options.time;
    this.#leaseMs = options.leaseMs ?? DEFAULT_SESSION_LEASE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Stores a new session, handed out by a create. */
  async open(containerId: number, session: string): Promise<void> {
    await this.#writeSession(
      containerId,
      session,
      { active: this.#now(), lost: false },
      { ifNoneMatch: '*' },
    );
  }

  /**
   * Records that `session` writes `path`, or refuses (409) when another session still live writes
   * it: that one came first and keeps the file; this one is marked lost and every later write of
   * it is refused too, so no artifact mixes the two uploads. `first` says the chunk starts the
   * file (its claim is most likely new: try to create it before reading it).
   *
   * The session blobs are where races are settled. This session is renewed (conditionally)
   * before it claims anything, and a claim whose session is no longer live is taken over only
   * after that session is marked lost with If-Match on the very state judged: of an upload
   * coming back to life and one taking its file over, exactly one conditional write lands, so
   * they never both write the file.
   */
  async claim(target: ClaimTarget, path: string, session: string, first: boolean): Promise<void> {
    const mine = await this.#readSession(target.containerId, session);
    if (!mine) return;
    if (mine.state.lost) throw raceLost(target.name, path, true);
    await this.#renew(target, path, session, mine);
    const blob = this.#container.getBlockBlobClient(this.#claimBlob(target.containerId, path));
    let owner = first ? undefined : await this.#readClaim(target.containerId, path);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (owner?.session === session) return;
      if (owner) {
        const other = await this.#readSession(target.containerId, owner.session);
        if (other && this.#isLive(other.state, target.closedAt)) {
          await this.#markLost(target.containerId, session);
          throw raceLost(target.name, path, false);
        }
        if (other && !other.state.lost && !(await this.#fence(target.containerId, owner.session, other))) {
          // It wrote meanwhile: judge it again.
          owner = await this.#readClaim(target.containerId, path);
          continue;
        }
      }
      try {
        await writeSmallJson(
          blob,
          this.#time,
          'write_upload_claim',
          { session },
          {
            conditions: owner ? { ifMatch: owner.etag } : { ifNoneMatch: '*' },
          },
        );
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        owner = await this.#readClaim(target.containerId, path);
      }
    }
    throw new Error(`could not claim ${JSON.stringify(path)} after ${MAX_ATTEMPTS} concurrent attempts`);
  }

  /**
   * Marks a session that is no longer live as lost before its file is taken over, if its state
   * is still the one judged (`judged.etag`): false when it wrote meanwhile. An upload whose file
   * was taken over may write nothing more, as one that lost a race.
   */
  async #fence(
    containerId: number,
    session: string,
    judged: { state: SessionState; etag: string },
  ): Promise<boolean> {
    try {
      await this.#writeSession(
        containerId,
        session,
        { ...judged.state, lost: true },
        { ifMatch: judged.etag },
      );
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /**
   * Keeps the session live: written when a quarter of the lease has passed since its last write
   * (so it is live at least three quarters of the lease after its last chunk), or when a PATCH
   * closed it since (a session that writes after a PATCH is open again).
   */
  async #renew(
    target: ClaimTarget,
    path: string,
    session: string,
    mine: { state: SessionState; etag: string },
  ): Promise<void> {
    const now = this.#now();
    const closed = target.closedAt !== undefined && mine.state.active <= target.closedAt;
    if (!closed && now - mine.state.active < this.#leaseMs / 4) return;
    try {
      await this.#writeSession(
        target.containerId,
        session,
        { active: now, lost: false },
        { ifMatch: mine.etag },
      );
    } catch (error) {
      if (!isConflict(error)) throw error;
      // Written meanwhile: by another chunk of this session (renewed), or by its loss (refuse).
      const again = await this.#readSession(target.containerId, session);
      if (again?.state.lost) throw raceLost(target.name, path, true);
    }
  }

  #isLive(state: SessionState, closedAt: number | undefined): boolean {
    return (
      !state.lost &&
      this.#now() - state.active < this.#leaseMs &&
      (closedAt === undefined || state.active > closedAt)
    );
  }

  /** Marks this session lost (it came second for a file): retried over its own concurrent renewals. */
  async #markLost(containerId: number, session: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.#readSession(containerId, session);
      if (!current || current.state.lost) return;
      try {
        await this.#writeSession(
          containerId,
          session,
          { ...current.state, lost: true },
          { ifMatch: current.etag },
        );
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
  }

  async #readSession(
    containerId: number,
    session: string,
  ): Promise<{ state: SessionState; etag: string } | undefined> {
    const found = await readSmallJson(
      this.#container.getBlockBlobClient(this.#sessionBlob(containerId, session)),
      this.#time,
    );
    const value = found?.value as Partial<SessionState> | undefined;
    if (!found || typeof value?.active !== 'number' || typeof value.lost !== 'boolean') return undefined;
    return { state: { active: value.active, lost: value.lost }, etag: found.etag };
  }

  async #readClaim(
    containerId: number,
    path: string,
  ): Promise<{ session: string; etag: string } | undefined> {
    const found = await readSmallJson(
      this.#container.getBlockBlobClient(this.#claimBlob(containerId, path)),
      this.#time,
    );
    const session = (found?.value as { session?: unknown } | undefined)?.session;
    // A claim that is not well formed is treated as held by nobody: it is overwritten (If-Match).
    return found ? { session: typeof session === 'string' ? session : '', etag: found.etag } : undefined;
  }

  async #writeSession(
    containerId: number,
    session: string,
    state: SessionState,
    conditions: WriteConditions,
  ): Promise<void> {
    await writeSmallJson(
      this.#container.getBlockBlobClient(this.#sessionBlob(containerId, session)),
      this.#time,
      'write_upload_session',
      state,
      { conditions },
    );
  }

  #sessionBlob(containerId: number, session: string): string {
    return `${this.#prefix}legacy/uploads/${containerId}/sessions/${session}`;
  }

  #claimBlob(containerId: number, path: string): string {
    return `${this.#prefix}legacy/uploads/${containerId}/claims/${itemKey(path)}`;
  }
}
