import { FerryError, IntegrityError, type ErrorContext } from '../../core/errors.js';
import { checkNameLengths } from '../../pack/name-limits.js';
import { resolveInside } from '../../pack/safe-path.js';
import { printable } from '../../core/format.js';
import { foldPath } from '../../core/fold-path.js';
import { limitError, type ExtractLimits } from '../../pack/zip/limits.js';
import type { ArtifactResponse, ContainerEntry } from './contracts.js';

/** One file of a legacy artifact, as its listing describes it, after every check passed. */
export interface ListedFile {
  /** The item's path in the container, '/'-separated: `${artifact name}/${artifactPath}`. */
  itemPath: string;
  /** Path inside the artifact, '/'-separated. */
  artifactPath: string;
  /** Absolute path inside the target. */
  destination: string;
  /** The item's `fileLength` (the uncompressed size), when the server reports one. */
  length: number | undefined;
  url: string;
}

/**
 * Refuses an artifact whose upload was never finalized. The service records `size` -1 when the
 * artifact is created and the uploader's PATCH sets the real total (protocol.md A2.1, A2.3);
 * an uploader that crashed never sends it. Servers that report no size at all (act, Gitea) are
 * not judged here: the listing and the bytes are, below.
 */
export function checkFinalized(artifact: ArtifactResponse, context: ErrorContext): void {
  const size: unknown = artifact.size;
  if (typeof size === 'number' && size < 0) {
    throw incomplete(
      `Artifact ${printable(artifact.name)} was never finalized (the service lists its size as ${size}): ` +
        'its upload did not finish, so its files may be missing or partial; nothing was downloaded',
      context,
    );
  }
}

/**
 * The checks on a legacy container listing, fed one item at a time (so a listing read as a
 * stream needs no second pass): the artifact prefix, item types, upload status, lengths, path
 * safety, name lengths, collisions, and the download limits of the zip path (entry count and
 * declared total bytes). Every refusal happens before a byte of any file is fetched.
 */
export class LegacyListingCheck {
  readonly #name: string;
  readonly #target: string;
  readonly #limits: ExtractLimits;
  readonly #context: ErrorContext;
  readonly #prefix: string;
  /** Folded path → the listed path, for files. */
  readonly #files = new Map<string, string>();
  /** Folded paths that must be directories (a listed folder, or a parent of a listed file). */
  readonly #directories = new Map<string, string>();
  /** The id in this artifact's `…/_apis/resources/Containers/<id>` URL, when it has that shape. */
  readonly #containerId: string | undefined;
  #declaredBytes = 0;
  #unknownLengths = 0;

  /** `containerUrl`: the artifact's fileContainerResourceUrl, to check where items point. */
  constructor(
    name: string,
    target: string,
    limits: ExtractLimits,
    context: ErrorContext,
    containerUrl?: string,
  ) {
    this.#name = name;
    this.#target = target;
    this.#limits = limits;
    this.#context = context;
    this.#prefix = `${name}/`;
    this.#containerId = containerUrl === undefined ? undefined : containerOf(containerUrl);
  }

  /** Sum of the listed `fileLength`s so far. */
  get declaredBytes(): number {
    return this.#declaredBytes;
  }

  /** How many listed files came without a `fileLength`. */
  get unknownLengths(): number {
    return this.#unknownLengths;
  }

  /**
   * Checks one container item. Returns the file to download, or `undefined` for an item that
   * is not a file of this artifact (a folder, or another artifact's item in a shared container).
   */
  add(item: unknown): ListedFile | undefined {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw this.#protocol(`A container item is not an object (got ${printable(JSON.stringify(item))})`);
    }
    const entry = item as Partial<ContainerEntry>;
    const raw: unknown = entry.path;
    if (typeof raw !== 'string') {
      throw this.#protocol(`A container item has no path (got ${JSON.stringify(raw) ?? 'nothing'})`);
    }
    // Windows uploaders send `\`; the official client accepts both separators.
    const normalized = raw.replace(/\\/g, '/');
    if (!normalized.startsWith(this.#prefix)) return undefined;
    const artifactPath = normalized.slice(this.#prefix.length);
    const itemType: unknown = entry.itemType;
    if (itemType === 'folder') {
      const key = artifactPath
        .split('/')
        .filter((segment) => segment !== '' && segment !== '.')
        .join('/');
      if (key !== '') this.#addDirectory(key, artifactPath);
      return undefined;
    }
    if (itemType !== 'file') {
      // The official client skips anything but 'file'; silently dropping an item of a type we
      // do not know would make a partial download look complete.
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has the unknown itemType ${printable(String(itemType))}; ` +
          "expected 'file' or 'folder'",
      );
    }
    const status: unknown = (entry as { status?: unknown }).status;
    if (typeof status === 'string' && status.toLowerCase() !== 'created') {
      throw incomplete(
        `Artifact ${printable(this.#name)} is not complete: its file ${printable(artifactPath)} has the status ` +
          `${printable(status)} (not uploaded yet); nothing was downloaded`,
        { ...this.#context, file: artifactPath },
      );
    }
    const length = this.#length(entry, artifactPath);
    const url: unknown = entry.contentLocation;
    if (length !== 0 && (typeof url !== 'string' || url === '')) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has no contentLocation to download it from`,
      );
    }
    if (typeof url === 'string' && url !== '') this.#checkLocation(url, normalized, artifactPath);

    const destination = resolveInside(this.#target, artifactPath, process.platform, this.#context);
    const key = destination
      .slice(this.#target.length + 1)
      .split(/[\\/]/)
      .join('/');
    try {
      checkNameLengths(artifactPath, key, destination);
    } catch (error: unknown) {
      throw new IntegrityError('ERR_FERRY_UNSAFE_PATH', (error as Error).message, { context: this.#context });
    }

    if (this.#files.size + 1 > this.#limits.maxEntries) {
      throw this.#limit(`it lists more than ${this.#limits.maxEntries} files`, 'maxEntries');
    }
    this.#addFile(key, artifactPath);
    if (length === undefined) this.#unknownLengths++;
    else {
      this.#declaredBytes += length;
      if (this.#declaredBytes > this.#limits.maxTotalBytes) {
        throw this.#limit(
          `its files declare at least ${this.#declaredBytes} bytes uncompressed`,
          'maxTotalBytes',
        );
      }
    }
    return {
      itemPath: normalized,
      artifactPath,
      destination,
      length,
      url: typeof url === 'string' ? url : '',
    };
  }

  /**
   * After the whole listing: when every file has a length, their sum must reach the size the
   * uploader finalized (the sum of the original sizes of every file it sent, protocol.md A2.3).
   * Less means files are missing. More is fine: v1 merges several uploads into one artifact and
   * the last finalize records only its own total.
   */
  finish(artifactSize: unknown): void {
    if (this.#unknownLengths > 0) return;
    checkReceived(this.#name, artifactSize, this.#declaredBytes, this.#files.size, 'lists', this.#context);
  }

  /**
   * Where the service uses the file-container URL shape (GitHub, GHES, ferry serve:
   * `…/_apis/resources/Containers/<id>?itemPath=<path>`), an item's contentLocation must be this
   * artifact's container and this item's path: otherwise the listing hands over another
   * artifact's (or another item's) bytes under this name. Other shapes (act, Gitea) say nothing
   * checkable and are left alone.
   */
  #checkLocation(url: string, itemPath: string, artifactPath: string): void {
    if (this.#containerId === undefined) return;
    let location: URL;
    try {
      location = new URL(url);
    } catch {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has a contentLocation that is not a URL`,
      );
    }
    const container = containerOf(url);
    if (container === undefined) return;
    if (container !== this.#containerId) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} points at container ${printable(container)}, ` +
          `not this artifact's container ${printable(this.#containerId)}`,
      );
    }
    const pointed = location.searchParams.get('itemPath');
    if (pointed !== null && pointed.replace(/\\/g, '/') !== itemPath) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} points at the item ${printable(pointed)} instead of itself`,
      );
    }
  }

  #length(entry: Partial<ContainerEntry>, artifactPath: string): number | undefined {
    const value: unknown = entry.fileLength;
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has the invalid fileLength ${printable(JSON.stringify(value))}`,
      );
    }
    return value;
  }

  #addFile(key: string, artifactPath: string): void {
    const folded = foldPath(key);
    const prior = this.#files.get(folded);
    if (prior !== undefined) {
      throw this.#unsafe(
        prior === artifactPath
          ? `The listing names the file ${printable(artifactPath)} more than once`
          : `Files ${printable(prior)} and ${printable(artifactPath)} differ only in letter case, separators or ` +
              'Unicode normalisation; they would overwrite each other, so the artifact is rejected',
      );
    }
    const directory = this.#directories.get(folded);
    if (directory !== undefined) {
      throw this.#unsafe(
        `${printable(artifactPath)} is listed as a file, but the listing also needs ${printable(directory)} to be a folder`,
      );
    }
    this.#files.set(folded, artifactPath);
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) this.#addDirectory(parts.slice(0, i).join('/'), artifactPath);
  }

  /** `path` must be a directory because of `because` (itself a folder item, or a file below it). */
  #addDirectory(path: string, because: string): void {
    const folded = foldPath(path);
    if (this.#directories.has(folded)) return;
    const file = this.#files.get(folded);
    if (file !== undefined) {
      throw this.#unsafe(
        `${printable(file)} is listed as a file, but ${printable(because)} needs it to be a folder`,
      );
    }
    this.#directories.set(folded, path);
  }

  #limit(what: string, option: keyof ExtractLimits): IntegrityError {
    const error = limitError(what, option, this.#limits[option], `Legacy artifact ${printable(this.#name)}`);
    return new IntegrityError(error.code, error.message, { context: this.#context });
  }

  #unsafe(message: string): IntegrityError {
    return new IntegrityError('ERR_FERRY_UNSAFE_PATH', `${message}; nothing was downloaded`, {
      context: this.#context,
    });
  }

  #protocol(message: string): FerryError {
    return new FerryError('ERR_FERRY_PROTOCOL', `${message}; nothing was downloaded`, {
      context: this.#context,
    });
  }
}

/**
 * Refuses an artifact whose files add up to less than the size its uploader finalized: files
 * (or their ends) are missing. `verb`: 'lists' before the download, 'sent' after it.
 */
export function checkReceived(
  name: string,
  artifactSize: unknown,
  bytes: number,
  files: number,
  verb: 'lists' | 'sent',
  context: ErrorContext,
): void {
  if (typeof artifactSize !== 'number' || !Number.isSafeInteger(artifactSize) || bytes >= artifactSize)
    return;
  throw incomplete(
    `Artifact ${printable(name)} is not complete: the service ${verb} ${files} file${files === 1 ? '' : 's'} ` +
      `with ${bytes} bytes, but its upload was finalized with ${artifactSize} bytes (${artifactSize - bytes} missing); ` +
      'nothing was written to the target',
    context,
  );
}

function incomplete(message: string, context: ErrorContext): FerryError {
  return new FerryError('ERR_FERRY_ARTIFACT_INCOMPLETE', message, { context });
}

/** The `<id>` of a `…/_apis/resources/Containers/<id>` URL, or undefined for any other shape. */
function containerOf(url: string): string | undefined {
  try {
    return /\/_apis\/resources\/Containers\/([^/]+)\/?$/i.exec(new URL(url).pathname)?.[1];
  } catch {
    return undefined;
  }
}
