import path from 'node:path';
import { AbortError, FerryError, ValidationError, isFerryError } from './core/errors.js';
import type { ArtifactInfo, DownloadResult, DownloadSpec } from './backends/backend.js';
import { latestPerName } from './backends/latest-per-name.js';
import type { DigestMismatchError } from './backends/results/blob-download.js';
import {
  checkDownloadOptions,
  isDigestMismatch,
  statsOf,
  withBackend,
  type DownloadArtifactOptions,
} from './client.js';
import { BatchStop } from './transport/batch-stop.js';
import type { OperationStats } from './core/stats.js';
import { normalizeOptions } from './options.js';
import type { ConflictPolicy } from './pack/conflict.js';
import { assertNoSymlinkInPath } from './pack/safe-path.js';
import { printable } from './core/format.js';
import { runPool } from './core/pool.js';
import type { HttpManager } from './transport/http-manager.js';
import { Operation } from './transport/operation.js';
import { artifactDirectory, windowsNameProblem } from './artifact-directory.js';
import { compileNamePattern } from './merge/name-pattern.js';

export interface DownloadArtifactsOptions extends Omit<DownloadArtifactOptions, 'artifactId' | 'conflict'> {
  /**
   * Only artifacts whose name matches this glob (`*`, `?`, `[..]`, `{a,b}`; minimatch semantics).
   * The newest artifact of each name is taken. Cannot be combined with `artifactIds`.
   * @example 'build-*'
   */
  pattern?: string;
  /**
   * The newest artifact of each of these names; a name the run does not have fails with
   * `ERR_FERRY_NOT_FOUND` before anything is downloaded. With `pattern`, an artifact is taken
   * when it has one of the names or matches the pattern (as `gh run download -n NAME -p GLOB`).
   * Cannot be combined with `artifactIds`.
   * @example ['linux-build', 'macos-build']
   */
  names?: string[];
  /**
   * Exactly these artifacts, by id. Two artifacts with the same name are both downloaded (into
   * the same directory, so the conflict policy applies between them).
   */
  artifactIds?: number[];
  /**
   * Download every artifact straight into `path` instead of `path/<artifact name>`. Artifacts
   * are applied one after the other, sorted by name then id, so under `'overwrite'` (the
   * default, as download-artifact's `merge-multiple`) the artifact last in that order wins, and
   * under `'skip'` the first: the same result on every run.
   * @default false
   */
  mergeMultiple?: boolean;
  /**
   * A file that already exists (from an earlier artifact or from before): see `ConflictPolicy`.
   * `'error'` is the opt-in for artifacts that must not overlap.
   * @default 'overwrite'
   */
  conflict?: ConflictPolicy;
  /**
   * Artifacts downloaded at the same time; each download also uses its own `concurrency` connections.
   * @default 2
   */
  artifactConcurrency?: number;
}

/** One downloaded artifact. */
export interface DownloadedArtifact {
  name: string;
  id: number | undefined;
  /** Absolute directory the artifact went into. */
  downloadPath: string;
  /** Files written (files left as they were under 'skip', or identical under 'error', are not counted). */
  fileCount: number;
  /** Bytes written. */
  size: number;
  digest: string | undefined;
  /** Only with `verifyDigest: false`: the bytes did not match the listed digest. */
  digestMismatch?: boolean;
  expectedDigest?: string;
}

export interface DownloadArtifactsResponse {
  /** In the order they were applied: by name, then id. */
  downloads: DownloadedArtifact[];
  /** Counters and timings of the whole batch (listing and every artifact). */
  stats: OperationStats;
}

export const DEFAULT_ARTIFACT_CONCURRENCY = 2;

/**
 * Downloads several artifacts: by `artifactIds`, by `pattern`, or all of the run (the newest of
 * each name), into `path/<artifact name>`, or straight into `path` with `mergeMultiple` or when
 * exactly one artifact is selected (as download-artifact does). At most `artifactConcurrency`
 * artifacts are in flight; each is downloaded to a temporary file and verified before anything
 * is written, and artifacts that share a directory are written in a fixed order (name, then id).
 * The first failure stops the rest and is thrown; artifacts already written stay written.
 */
export async function downloadArtifacts(
  options: DownloadArtifactsOptions = {},
): Promise<DownloadArtifactsResponse> {
  const { downloads, stats } = await downloadMany(options);
  return { downloads, stats };
}

/** One artifact to download and the directory it goes into. */
export interface PlannedDownload {
  artifact: ArtifactInfo;
  target: string;
}

/**
 * How a caller other than the SDK's `downloadArtifacts` wants the same download run (the
 * Action: its own selection, `<name>-<id>` directories, and digest mismatches collected).
 */
export interface DownloadManyBehaviour {
  /**
   * Selects the artifacts and their directories from the run's listing (every artifact, and the
   * newest of each name), instead of `pattern`/`names`/`artifactIds`/`mergeMultiple`. Targets
   * other than `path` must come from artifactDirectory (they are checked for links here).
   */
  plan?: (
    listed: { all: readonly ArtifactInfo[]; latest: readonly ArtifactInfo[] },
    root: string,
  ) => PlannedDownload[];
  /**
   * `collect`: an artifact whose bytes do not match the listed digest (verification on) is
   * written nowhere and reported in `mismatches`, and the others go on; `stop` (the default):
   * it fails the whole download like any other error.
   */
  digestMismatch?: 'stop' | 'collect';
  /** Called as each artifact is written (completion order). */
  onDownloaded?: (artifact: DownloadedArtifact) => void;
}

export interface DownloadManyResponse extends DownloadArtifactsResponse {
  /** With `digestMismatch: 'collect'`: the artifacts refused for their digest, by name then id. */
  mismatches: { name: string; id: number | undefined; error: DigestMismatchError }[];
}

/** The one multi-artifact download: the SDK's `downloadArtifacts`, the Action and the CLI. */
export async function downloadMany(
  options: DownloadArtifactsOptions = {},
  behaviour: DownloadManyBehaviour = {},
): Promise<DownloadManyResponse> {
  const {
    path: target,
    skipDecompress,
    findBy,
    conflict,
    verifyDigest,
    pattern,
    names,
    artifactIds,
    mergeMultiple,
    artifactConcurrency,
    symlinks,
    limits,
    restoreModes,
    ...rest
  } = options as DownloadArtifactsOptions & { artifactId?: unknown };
  if ((rest as { artifactId?: unknown }).artifactId !== undefined) {
    throw invalid('artifactId', "is not an option of downloadArtifacts; use 'artifactIds'");
  }
  const opts = normalizeOptions(rest);
  checkDownloadOptions({ conflict, restoreModes, limits, verifyDigest, findBy });
  if (symlinks !== undefined && !['refuse', 'file', 'preserve'].includes(symlinks)) {
    throw invalid('symlinks', `must be one of 'refuse', 'file', 'preserve'; got ${String(symlinks)}`);
  }
  if (mergeMultiple !== undefined && typeof mergeMultiple !== 'boolean') {
    throw invalid('mergeMultiple', 'must be a boolean');
  }
  const parallel = artifactConcurrency ?? DEFAULT_ARTIFACT_CONCURRENCY;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) {
    throw invalid(
      'artifactConcurrency',
      `must be an integer from 1 to 64; got ${String(artifactConcurrency)}`,
    );
  }
  if (artifactIds !== undefined && pattern !== undefined) {
    throw invalid('pattern', "cannot be combined with 'artifactIds'; use one of them");
  }
  if (artifactIds !== undefined && names !== undefined) {
    throw invalid('names', "cannot be combined with 'artifactIds'; use one of them");
  }
  const ids = artifactIds === undefined ? undefined : checkIds(artifactIds);
  const wanted = names === undefined ? undefined : checkNames(names);
  const matches = pattern === undefined ? undefined : compileNamePattern(pattern);
  const root = path.resolve(target ?? process.cwd());

  return withBackend(
    'download',
    opts,
    async (backend, ctx, _kind, spareHttp) => {
      const listed = await backend.list(ctx);
      const planned = behaviour.plan
        ? sortArtifacts(
            behaviour.plan({ all: listed, latest: latestPerName([...listed]) }, root).map((p) => ({
              ...p.artifact,
              target: p.target,
            })),
          )
        : undefined;
      const selected = planned ?? sortArtifacts(select(listed, ids, matches, wanted));
      if (selected.length === 0) {
        if (!behaviour.plan) {
          ctx.logger.warn(
            pattern === undefined
              ? 'No artifacts to download'
              : `No artifacts match the pattern '${pattern}'; nothing was downloaded`,
          );
        }
        return { downloads: [], mismatches: [], stats: statsOf(ctx) };
      }
      const single = selected.length === 1;
      // Every destination is checked before anything is downloaded: names from other runs are data.
      const destinations =
        planned?.map((p) => p.target) ??
        selected.map((a) => (mergeMultiple || single ? root : artifactDirectory(root, a.name)));
      if (!planned && !mergeMultiple && !single && process.platform !== 'win32') {
        for (const a of selected) {
          const problem = windowsNameProblem(a.name);
          if (problem !== undefined) {
            ctx.logger.warn(
              `The directory of artifact ${printable(a.name)} could not be created on Windows (${problem}); a Windows runner refuses this artifact`,
            );
          }
        }
      }
      // What download-artifact does: a later artifact's file replaces an earlier one's.
      const policy: ConflictPolicy = conflict ?? 'overwrite';

      // Artifacts sharing a destination write in list order: each waits for the previous one.
      const previousWriter = new Map<string, Promise<void>>();
      const turns = destinations.map((destination) => {
        const before = previousWriter.get(destination) ?? Promise.resolve();
        let release: () => void = () => {};
        const done = new Promise<void>((resolve) => {
          release = resolve;
        });
        previousWriter.set(destination, done);
        return { before, release };
      });

      const stop = new AbortController();
      // A permanent answer (401, a 403 that is not a rate limit) would be the same for every
      // artifact: the workers still queued stop before their first request (counted as spared).
      const batch = new BatchStop();
      const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
      let firstError: unknown;
      const mismatches: DownloadManyResponse['mismatches'] = [];
      const results: Array<DownloadedArtifact | undefined> = [];
      let started = 0;
      // HttpManagers are reused from one artifact to the next (the listing's first): at most
      // `parallel` exist, and their keep-alive sockets carry over, so 1,000 artifacts need
      // `parallel` connections, not 1,000 (reliability plan D39).
      const idle: HttpManager[] = [ctx.http];
      const downloadOne = async (index: number): Promise<DownloadedArtifact | undefined> => {
        const artifact = selected[index] as (typeof selected)[number];
        const turn = turns[index] as (typeof turns)[number];
        const destination = destinations[index] as string;
        // One HttpManager per artifact in flight: its own slots, so artifacts never share a socket at once.
        const http = idle.pop() ?? spareHttp();
        try {
          batch.check();
          if (signal.aborted) throw firstError ?? new AbortError(signal.reason);
          const sub = {
            ...ctx,
            http,
            operation: new Operation('download', signal),
          };
          const spec: DownloadSpec = {
            name: artifact.name,
            id: artifact.id,
            targetDirectory: destination,
            conflict: policy,
            ...(symlinks !== undefined ? { symlinks } : {}),
            ...(restoreModes !== undefined ? { restoreModes } : {}),
            ...(limits !== undefined ? { limits } : {}),
            ...(skipDecompress ? { skipDecompress } : {}),
            ...(verifyDigest !== undefined ? { verifyDigest } : {}),
            beforeWrite: async () => {
              await turn.before;
              // An earlier artifact failed meanwhile: write nothing more.
              if (signal.aborted) throw firstError ?? new AbortError(signal.reason);
            },
          };
          // `root/<name>` is Ferry's choice, not the caller's: a link someone put there is
          // refused rather than followed (the backends hold the directory once they open it).
          if (destination !== root) {
            await assertNoSymlinkInPath(root, destination, {
              operation: 'download',
              artifactName: artifact.name,
            });
          }
          const result: DownloadResult = await backend.download(spec, sub);
          ctx.onProgress?.({
            operation: 'download',
            artifactName: artifact.name,
            phase: 'done',
            bytesDone: result.size,
            bytesTotal: result.size,
            filesDone: result.fileCount,
            filesTotal: result.fileCount,
          });
          const downloaded: DownloadedArtifact = {
            name: artifact.name,
            id: artifact.id,
            downloadPath: result.downloadPath,
            fileCount: result.fileCount,
            size: result.size,
            digest: result.digest,
            ...(result.digestMismatch ? { digestMismatch: true } : {}),
            ...(result.expectedDigest !== undefined ? { expectedDigest: result.expectedDigest } : {}),
          };
          behaviour.onDownloaded?.(downloaded);
          return downloaded;
        } catch (error: unknown) {
          // Nothing of it was written (the digest is checked before any write): the rest go on.
          if (behaviour.digestMismatch === 'collect' && isDigestMismatch(error)) {
            mismatches.push({ name: artifact.name, id: artifact.id, error });
            return undefined;
          }
          batch.fail(error);
          firstError ??= error;
          stop.abort(isFerryError(error) ? error : new FerryError('ERR_FERRY_PROTOCOL', String(error)));
          throw error;
        } finally {
          turn.release();
          idle.push(http);
        }
      };
      // The one worker pool (core/pool.ts): after the first failure nothing new starts.
      await runPool(
        selected.map((_, index) => index),
        parallel,
        async (index) => {
          started++;
          results[index] = await downloadOne(index);
        },
      ).catch(() => undefined);
      // After a permanent answer the artifacts never started are requests spared too.
      ctx.stats?.spared(batch.spared + (batch.stopped ? selected.length - started : 0));
      if (firstError !== undefined) throw firstError;
      return {
        downloads: results.flatMap((r) => r ?? []),
        mismatches: sortArtifacts(mismatches),
        stats: statsOf(ctx),
      };
    },
    findBy,
  );
}

function invalid(option: string, message: string): ValidationError {
  return new ValidationError('ERR_FERRY_INVALID_OPTION', `Option '${option}' ${message}`, { option });
}

function checkIds(ids: unknown): number[] {
  if (!Array.isArray(ids) || ids.length === 0)
    throw invalid('artifactIds', 'must be a non-empty array of ids');
  for (const id of ids) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      throw invalid('artifactIds', `must hold positive integers; got ${String(id)}`);
    }
  }
  return [...new Set(ids as number[])];
}

function checkNames(names: unknown): string[] {
  if (!Array.isArray(names) || names.length === 0)
    throw invalid('names', 'must be a non-empty array of names');
  for (const name of names) {
    if (typeof name !== 'string' || name === '') {
      throw invalid('names', `must hold non-empty strings; got ${JSON.stringify(name)}`);
    }
  }
  return [...new Set(names as string[])];
}

/**
 * By id (every listed artifact with one of the ids), else the newest of each name: with one of
 * `names` or matching the pattern, or all of them when neither is given.
 */
function select(
  listed: readonly ArtifactInfo[],
  ids: readonly number[] | undefined,
  matches: ((name: string) => boolean) | undefined,
  names?: readonly string[],
): ArtifactInfo[] {
  if (ids !== undefined) {
    const byId = new Map<number, ArtifactInfo>();
    for (const a of listed) if (a.id !== undefined && ids.includes(a.id)) byId.set(a.id, a);
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) {
      throw new FerryError(
        'ERR_FERRY_NOT_FOUND',
        `No artifact with id ${missing.map((id) => `#${id}`).join(', ')} in this workflow run`,
        { context: { operation: 'download' } },
      );
    }
    return [...byId.values()];
  }
  const latest = latestPerName([...listed]);
  if (names !== undefined) {
    const missing = names.filter((name) => !latest.some((a) => a.name === name));
    if (missing.length > 0) {
      throw new FerryError(
        'ERR_FERRY_NOT_FOUND',
        `No artifact named ${missing.map((name) => printable(name)).join(', ')} in this workflow run; nothing was downloaded`,
        { context: { operation: 'download' } },
      );
    }
    return latest.filter((a) => names.includes(a.name) || (matches?.(a.name) ?? false));
  }
  return matches ? latest.filter((a) => matches(a.name)) : latest;
}

/** By name (code unit order, locale-independent), then id. */
export function sortArtifacts<T extends { name: string; id: number | undefined }>(
  artifacts: readonly T[],
): T[] {
  return [...artifacts].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : (a.id ?? 0) - (b.id ?? 0),
  );
}
