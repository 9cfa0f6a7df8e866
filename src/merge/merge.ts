import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { buffer as readAll } from 'node:stream/consumers';
import {
  FerryError,
  IntegrityError,
  ValidationError,
  isFerryError,
  type ErrorContext,
} from '../core/errors.js';
import {
  wholeArtifacts,
  type ArtifactInfo,
  type OperationContext,
  type VerifiedBlob,
  type WholeArtifactBackend,
} from '../backends/backend.js';
import { fileNameFromDisposition } from '../backends/results/content-disposition.js';
import { statsOf, withBackend } from '../client.js';
import type { OperationStats } from '../core/stats.js';
import { normalizeOptions, type ArtifactClientOptions } from '../options.js';
import { checkConflictPolicy, digestRegularFile, type ConflictPolicy } from '../pack/conflict.js';
import { validateArtifactName } from '../core/artifact-name.js';
import { printable } from '../core/format.js';
import { foldPath } from '../core/fold-path.js';
import {
  DEFAULT_EXTRACT_LIMITS,
  openEntryStream,
  readCentralDirectory,
  type ZipEntry,
} from '../pack/zip/index.js';
import { validateEntryName, type ZipInput } from '../pack/zip-writer/index.js';
import { sortArtifacts } from '../download-many.js';
import { compileNamePattern } from './name-pattern.js';

export interface MergeArtifactsOptions extends ArtifactClientOptions {
  /**
   * Glob over the names of the run's artifacts to merge (minimatch semantics; the newest
   * artifact of each name). The new artifact's own name never matches.
   * @default '*'
   */
  pattern?: string;
  /** Put each artifact's files under `<artifact name>/` in the merged artifact. @default false */
  separateDirectories?: boolean;
  /** Delete the merged artifacts once the new one is finalized (never before). @default false */
  deleteMerged?: boolean;
  /**
   * The same path in several artifacts with different content: `'overwrite'` keeps the later
   * artifact's file (artifacts are taken by name, then id; what upload-artifact/merge does, in a
   * fixed order), `'skip'` the earlier one, `'error'` fails naming both artifacts and the path
   * (before anything is created). Identical files are always fine.
   * @default 'overwrite'
   */
  conflict?: ConflictPolicy;
  /** Keep paths with a segment starting with `.` (dropped by default, as upload-artifact/merge does). @default false */
  includeHiddenFiles?: boolean;
}

export interface MergeArtifactsResult {
  /** Id of the new artifact. */
  id?: number;
  /** `sha256:<hex>` of the new artifact's zip. */
  digest?: string;
  /** Bytes of the new artifact's zip. */
  size: number;
  /** Files in the new artifact. */
  fileCount: number;
  /** Names of the merged artifacts, in the order they were applied. */
  merged: string[];
  /** Counters and timings of the merge (every download, the upload, the deletes). */
  stats: OperationStats;
}

/** The longest link text merged from a symlink entry. */
const MAX_LINK_BYTES = 4096;

interface Source {
  info: ArtifactInfo;
  blob: VerifiedBlob;
}

/** One path of the merged artifact and where its bytes come from. */
interface Planned {
  path: string;
  kind: 'file' | 'directory' | 'symlink';
  source: Source;
  /** The entry in the source zip; undefined for a raw (non-zip) artifact, whose blob is the file. */
  entry: ZipEntry | undefined;
  size: number;
  crc32: number;
  mode: number | undefined;
  mtime: Date | undefined;
  linkTarget?: string;
}

/**
 * Merges artifacts of the current run into a new artifact `name` (upload-artifact/merge), without
 * extracting anything to disk: each source is downloaded to a temporary file and its digest
 * verified, the merged entry list is computed from the central directories (conflicts are
 * resolved, or reported, before anything is created), and the new zip is streamed entry by entry
 * out of the source zips into the upload. Results protocol and the local store only.
 */
export async function mergeArtifacts(
  name: string,
  options: MergeArtifactsOptions = {},
): Promise<MergeArtifactsResult> {
  const { pattern, separateDirectories, deleteMerged, conflict, includeHiddenFiles, ...rest } = options;
  const opts = normalizeOptions(rest);
  validateArtifactName(name);
  const policy = checkConflictPolicy(conflict) ?? 'overwrite';
  for (const [option, value] of Object.entries({ separateDirectories, deleteMerged, includeHiddenFiles })) {
    if (value !== undefined && typeof value !== 'boolean') {
      throw new ValidationError('ERR_FERRY_INVALID_OPTION', `Option '${option}' must be a boolean`, {
        option,
      });
    }
  }
  const matches = compileNamePattern(pattern ?? '*');
  const context: ErrorContext = { operation: 'merge', artifactName: name };

  return withBackend('merge', opts, async (backend, ctx) => {
    const results = wholeArtifacts(
      backend,
      () =>
        new FerryError(
          'ERR_FERRY_CONFIG',
          `Cannot merge into '${name}': merging needs the results protocol (github.com) or the local store; ` +
            'the legacy artifact protocol has no whole-artifact zip download and no delete. ' +
            'Download the artifacts with downloadArtifacts({ mergeMultiple: true }) and upload the directory instead',
          { context },
        ),
    );
    const listed = await results.list(ctx, { latest: true });
    if (listed.some((a) => a.name === name)) {
      throw new FerryError(
        'ERR_FERRY_CONFLICT',
        `An artifact named '${name}' already exists in this workflow run; choose another name for the merged artifact or delete it first`,
        { context },
      );
    }
    const selected = sortArtifacts(listed.filter((a) => a.name !== name && matches(a.name)));
    if (selected.length === 0) {
      throw new FerryError(
        'ERR_FERRY_NOT_FOUND',
        `No artifacts to merge: none in this workflow run matches the pattern '${pattern ?? '*'}'`,
        { context },
      );
    }

    const sources: Source[] = [];
    try {
      const byPath = new Map<string, Planned>();
      const byFolded = new Map<string, Planned>();
      for (const info of selected) {
        const blob = await results.downloadVerified({ name: info.name, id: info.id }, ctx);
        const source: Source = { info, blob };
        sources.push(source);
        for (const item of await planSource(source, { separateDirectories: separateDirectories ?? false })) {
          if (!(includeHiddenFiles ?? false) && item.path.split('/').some((s) => s.startsWith('.'))) continue;
          const prior = byPath.get(item.path);
          if (prior === undefined) {
            const folded = byFolded.get(foldPath(item.path));
            if (folded !== undefined) throw caseCollision(folded, item, context);
            byPath.set(item.path, item);
            byFolded.set(foldPath(item.path), item);
            continue;
          }
          if (prior.source === source) {
            throw new IntegrityError(
              'ERR_FERRY_INTEGRITY',
              `Artifact '${info.name}' contains ${printable(item.path)} more than once`,
              { context },
            );
          }
          if (prior.kind === 'directory' && item.kind === 'directory') continue;
          if ((prior.kind === 'directory') !== (item.kind === 'directory')) {
            throw kindConflict(prior, item, context);
          }
          if (policy === 'error') {
            if (await identical(prior, item)) continue;
            throw new FerryError(
              'ERR_FERRY_CONFLICT',
              `${printable(item.path)} differs between artifacts '${prior.source.info.name}' and '${info.name}', ` +
                "and the conflict policy is 'error'. Use conflict 'overwrite' (the later artifact wins), " +
                "'skip' (the earlier one wins) or separateDirectories",
              { context },
            );
          }
          // 'overwrite': the later artifact wins (keeping the first position); 'skip': the earlier.
          if (policy === 'overwrite') byPath.set(item.path, item);
        }
      }
      const planned = [...byPath.values()];
      checkAncestors(byPath, context);
      const fileCount = planned.filter((p) => p.kind !== 'directory').length;
      if (fileCount === 0) {
        throw new FerryError(
          'ERR_FERRY_NO_FILES',
          `Nothing to merge into '${name}': the matching artifacts (${selected.map((a) => `'${a.name}'`).join(', ')}) hold no files` +
            (includeHiddenFiles ? '' : ' other than hidden ones (set includeHiddenFiles to keep them)'),
          { context },
        );
      }

      const uploaded = await results.uploadStream(
        name,
        planned.map(toZipInput),
        { retentionDays: opts.retentionDays, compressionLevel: opts.compressionLevel },
        ctx,
      );
      const merged = selected.map((a) => a.name);
      if (deleteMerged) await deleteSources(results, name, uploaded.id, merged, ctx);
      return {
        ...(uploaded.id !== undefined ? { id: uploaded.id } : {}),
        ...(uploaded.digest !== undefined ? { digest: uploaded.digest } : {}),
        size: uploaded.uploadedBytes,
        fileCount: uploaded.fileCount,
        merged,
        stats: statsOf(ctx),
      };
    } finally {
      await Promise.all(sources.map((s) => s.blob.dispose()));
    }
  });
}

/** The entries of one source as merged paths (hidden ones included; the caller filters). */
async function planSource(source: Source, options: { separateDirectories: boolean }): Promise<Planned[]> {
  const { info, blob } = source;
  const prefix = options.separateDirectories ? `${info.name}/` : '';
  const mime = (blob.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!['application/zip', 'application/x-zip-compressed', 'application/zip-compressed'].includes(mime)) {
    // An artifact uploaded without an archive is one file: it is merged under its own file name.
    const digest = await digestRegularFile(blob.file);
    const fileName = fileNameFromDisposition(blob.contentDisposition, info.name);
    return [
      {
        path: checkedPath(info.name, `${prefix}${fileName}`, 'file'),
        kind: 'file',
        source,
        entry: undefined,
        size: digest?.size ?? blob.size,
        crc32: digest?.crc32 ?? 0,
        mode: undefined,
        mtime: undefined,
      },
    ];
  }
  const entries = await readCentralDirectory(blob.file, { maxEntries: DEFAULT_EXTRACT_LIMITS.maxEntries });
  const out: Planned[] = [];
  for (const entry of entries) {
    const bare = entry.isDirectory ? entry.name.replace(/[/\\]+$/, '') : entry.name;
    if (entry.isDirectory && (bare === '' || bare === '.')) continue;
    const kind = entry.isDirectory ? 'directory' : entry.isSymlink ? 'symlink' : 'file';
    const planned: Planned = {
      path: checkedPath(info.name, `${prefix}${bare}`, kind),
      kind,
      source,
      entry,
      size: entry.uncompressedSize,
      crc32: entry.crc32,
      mode: entry.mode === undefined ? undefined : entry.mode & 0o7777,
      mtime: new Date(entry.mtimeMs),
    };
    if (kind === 'symlink') planned.linkTarget = await readLinkText(blob.file, entry, info.name);
    out.push(planned);
  }
  return out;
}

/** The path as the zip writer will write it; an unsafe name (`..`, absolute, `\`) fails naming the artifact. */
function checkedPath(artifact: string, candidate: string, kind: Planned['kind']): string {
  try {
    const checked = validateEntryName(candidate, kind === 'directory' ? 'directory' : 'file');
    return kind === 'directory' ? checked.slice(0, -1) : checked;
  } catch (error) {
    throw new IntegrityError(
      'ERR_FERRY_UNSAFE_PATH',
      `Artifact '${artifact}' has an entry that cannot be merged: ${(error as Error).message}`,
      { cause: error, context: { operation: 'merge', artifactName: artifact } },
    );
  }
}

async function readLinkText(file: string, entry: ZipEntry, artifact: string): Promise<string> {
  if (entry.uncompressedSize === 0 || entry.uncompressedSize > MAX_LINK_BYTES) {
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Symbolic link entry ${printable(entry.name)} of artifact '${artifact}' has a link text of ${entry.uncompressedSize} bytes`,
      { context: { operation: 'merge', artifactName: artifact } },
    );
  }
  return (await readAll(await openEntryStream(file, entry))).toString('utf8');
}

/** SHA-256 (hex) of a planned file's bytes, streamed (verified against its size and CRC-32 on the way). */
async function contentSha256(item: Planned): Promise<string> {
  if (item.entry === undefined) return item.source.blob.sha256;
  const hash = createHash('sha256');
  for await (const chunk of await openEntryStream(item.source.blob.file, item.entry))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Same size and CRC-32, then the same SHA-256 (both streamed); links compare their text. */
async function identical(a: Planned, b: Planned): Promise<boolean> {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'symlink') return a.linkTarget === b.linkTarget;
  if (a.size !== b.size || a.crc32 >>> 0 !== b.crc32 >>> 0) return false;
  return (await contentSha256(a)) === (await contentSha256(b));
}

function toZipInput(item: Planned): ZipInput {
  const mode = item.mode === undefined ? {} : { mode: item.mode };
  if (item.kind === 'directory') return { kind: 'directory', name: item.path, ...mode };
  if (item.kind === 'symlink') return { kind: 'symlink', name: item.path, target: item.linkTarget as string };
  const { entry, source } = item;
  return {
    kind: 'stream',
    name: item.path,
    size: item.size,
    crc32: item.crc32,
    ...mode,
    ...(item.mtime !== undefined ? { mtime: item.mtime } : {}),
    open: () =>
      entry === undefined
        ? Promise.resolve(createReadStream(source.blob.file, { highWaterMark: 1024 * 1024 }))
        : openEntryStream(source.blob.file, entry),
  };
}

function caseCollision(a: Planned, b: Planned, context: ErrorContext): FerryError {
  return new FerryError(
    'ERR_FERRY_CONFLICT',
    `${printable(a.path)} (artifact '${a.source.info.name}') and ${printable(b.path)} (artifact '${b.source.info.name}') ` +
      'differ only in letter case or Unicode normalisation; the merged artifact could not be extracted on macOS or Windows. ' +
      'Use separateDirectories or rename one of them',
    { context },
  );
}

function kindConflict(a: Planned, b: Planned, context: ErrorContext): FerryError {
  const what = (p: Planned): string => (p.kind === 'directory' ? 'a directory' : 'a file');
  return new FerryError(
    'ERR_FERRY_CONFLICT',
    `${printable(b.path)} is ${what(a)} in artifact '${a.source.info.name}' but ${what(b)} in artifact '${b.source.info.name}'; ` +
      'use separateDirectories to merge them',
    { context },
  );
}

/** A file (or link) cannot also be a directory on the way to another path. */
function checkAncestors(byPath: ReadonlyMap<string, Planned>, context: ErrorContext): void {
  for (const item of byPath.values()) {
    const parts = item.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const holder = byPath.get(parts.slice(0, i).join('/'));
      if (holder !== undefined && holder.kind !== 'directory') throw kindConflict(holder, item, context);
    }
  }
}

/** Deletes the sources after the merged artifact is finalized; a failure says what was done. */
async function deleteSources(
  backend: WholeArtifactBackend,
  name: string,
  id: number | undefined,
  merged: readonly string[],
  ctx: OperationContext,
): Promise<void> {
  const deleted: string[] = [];
  for (const source of merged) {
    try {
      await backend.delete(source, ctx);
      deleted.push(source);
    } catch (error) {
      throw new FerryError(
        isFerryError(error) ? error.code : 'ERR_FERRY_PROTOCOL',
        `Merged artifact '${name}'${id !== undefined ? ` (id ${id})` : ''} was created, but deleting the source '${source}' failed` +
          ` (${deleted.length} of ${merged.length} deleted${deleted.length ? `: ${deleted.map((d) => `'${d}'`).join(', ')}` : ''}): ${(error as Error).message}`,
        { cause: error, context: { operation: 'merge', artifactName: source } },
      );
    }
  }
}
