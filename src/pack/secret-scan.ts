import { Transform, pipeline, type Readable } from 'node:stream';
import { FerryError, ValidationError } from '../core/errors.js';
import { registeredSecrets } from '../core/secrets.js';
import type { Logger } from '../core/types.js';

/**
 * The upload secret scan (reliability plan, case 48): a file whose bytes contain, byte for byte,
 * a token Ferry was given (the runtime token, GITHUB_TOKEN, a proxy password...) is refused
 * before the artifact is finalized, naming the file and never the secret. A log that captured
 * `env` is the usual way such a file ends up in an artifact.
 *
 * The scan rides on the reads the upload does anyway: every reader feeds the bytes it read to a
 * {@link FileSecretScan}, which runs `Buffer.indexOf` per secret over them plus a small window
 * across the previous read, so a token split over two reads is still found and no byte is read
 * twice for it.
 */

/**
 * Secrets shorter than this are not searched for: a short value would match ordinary content by
 * chance, and every real token (JWT, `ghp_…`, SAS signature) is far longer.
 */
export const MIN_SCANNED_SECRET_LENGTH = 16;

export interface ScannedSecret {
  value: string;
  /** What the value is, for the error message, e.g. `the runtime token (ACTIONS_RUNTIME_TOKEN)`. */
  label: string;
}

const EMPTY = Buffer.alloc(0);

/** The secrets of one upload; hands out one {@link FileSecretScan} per file. */
export class SecretScanner {
  readonly artifactName: string;
  readonly #needles: ReadonlyArray<{ bytes: Buffer; label: string }>;
  /** Bytes kept from the end of one read: a match across the boundary starts within them. */
  readonly #carry: number;

  private constructor(artifactName: string, needles: Array<{ bytes: Buffer; label: string }>) {
    this.artifactName = artifactName;
    this.#needles = needles;
    this.#carry = Math.max(...needles.map((n) => n.bytes.length)) - 1;
  }

  /**
   * A scanner for `secrets` (duplicates and values shorter than
   * {@link MIN_SCANNED_SECRET_LENGTH} dropped; the first label of a value wins), or undefined when
   * none is left to look for.
   */
  static create(
    artifactName: string,
    secrets: ReadonlyArray<ScannedSecret | undefined>,
  ): SecretScanner | undefined {
    const byValue = new Map<string, string>();
    for (const secret of secrets) {
      if (!secret || typeof secret.value !== 'string') continue;
      if (secret.value.length < MIN_SCANNED_SECRET_LENGTH || byValue.has(secret.value)) continue;
      byValue.set(secret.value, secret.label);
    }
    if (byValue.size === 0) return undefined;
    const needles = [...byValue].map(([value, label]) => ({ bytes: Buffer.from(value, 'utf8'), label }));
    return new SecretScanner(artifactName, needles);
  }

  /** How many distinct secrets are searched for (never the values themselves). */
  get size(): number {
    return this.#needles.length;
  }

  /** A scan of one file; `file` is its path inside the artifact (named in the error). */
  file(file: string): FileSecretScan {
    return new FileSecretScan(this, file);
  }

  /** The first secret found in `bytes`, or undefined. */
  find(bytes: Buffer): string | undefined {
    for (const needle of this.#needles) if (bytes.indexOf(needle.bytes) !== -1) return needle.label;
    return undefined;
  }

  get carryLength(): number {
    return this.#carry;
  }
}

/**
 * The scan of one file, fed with the bytes its reader read, at their offsets. Readers may re-read
 * (a sample first, a CRC pass then a send pass): bytes before the scanned end are skipped, so a
 * file is searched once however often it is read.
 */
export class FileSecretScan {
  readonly file: string;
  readonly #scanner: SecretScanner;
  /** Offset up to which the file has been searched. */
  #scanned = 0;
  /** A copy of the last `carryLength` searched bytes (fewer at the start of the file). */
  #tail: Buffer = EMPTY;

  constructor(scanner: SecretScanner, file: string) {
    this.#scanner = scanner;
    this.file = file;
  }

  /** Bytes of the file searched so far (from offset 0). */
  get scanned(): number {
    return this.#scanned;
  }

  /**
   * Searches `bytes`, read at `position`. Throws `ERR_FERRY_SECRET_IN_ARTIFACT` on a match.
   * `bytes` may be a reused buffer: nothing is kept but a copy of its last few bytes.
   */
  feed(position: number, bytes: Buffer): void {
    const end = position + bytes.length;
    if (end <= this.#scanned) return;
    let fresh = bytes;
    if (position < this.#scanned) fresh = bytes.subarray(this.#scanned - position);
    else if (position > this.#scanned) this.#tail = EMPTY; // not contiguous: no window across the gap
    const scanner = this.#scanner;
    const carry = scanner.carryLength;
    // A match either lies inside `fresh`, or starts in the tail and ends within its first `carry` bytes.
    let found = scanner.find(fresh);
    if (found === undefined && this.#tail.length > 0) {
      found = scanner.find(Buffer.concat([this.#tail, fresh.subarray(0, carry)]));
    }
    if (found !== undefined) throw secretInArtifact(scanner.artifactName, this.file, found);
    if (fresh.length >= carry) {
      this.#tail = Buffer.from(fresh.subarray(fresh.length - carry));
    } else {
      const joined = Buffer.concat([this.#tail, fresh]);
      this.#tail = Buffer.from(joined.subarray(Math.max(0, joined.length - carry)));
    }
    this.#scanned = end;
  }

  /** `source` passed through unchanged, searched on the way; a match destroys the result with the error. */
  stream(source: Readable): Readable {
    let position = 0;
    const scan = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        try {
          this.feed(position, chunk);
          position += chunk.length;
          callback(null, chunk);
        } catch (error: unknown) {
          callback(error as Error);
        }
      },
    });
    // pipeline forwards an error of either side to the other and destroys both.
    return pipeline(source, scan, () => undefined);
  }
}

/** The typed error of a match. It names the file and what kind of secret, never the value. */
export function secretInArtifact(artifactName: string, file: string, label: string): FerryError {
  return new FerryError(
    'ERR_FERRY_SECRET_IN_ARTIFACT',
    `File '${file}' contains ${label}, byte for byte, so it was not uploaded and the artifact was not finalized. ` +
      'Remove the value from the file or leave the file out of the upload; if the file must be uploaded as it is, ' +
      'set allowSecretsInFiles (CLI --allow-secrets, Action input allow-secrets: true)',
    { context: { operation: 'upload', artifactName, file } },
  );
}

/**
 * Files that hold credentials by convention: `.git/config` (an `extraheader` with the job's
 * token), `.npmrc`, `.env*`, `.netrc`, `.pypirc`, `.docker/config.json`, SSH keys. They are
 * hidden files, left out unless hidden files are included; when they are, the caller warns.
 */
const CREDENTIAL_BASENAMES = new Set([
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.netrc',
  '_netrc',
  '.pypirc',
  '.pgpass',
  '.git-credentials',
  '.htpasswd',
  'id_rsa',
  'id_dsa',
  'id_ecdsa',
  'id_ed25519',
]);

/** True when `artifactPath` ('/'-separated) names a file that conventionally holds credentials. */
export function isCredentialFile(artifactPath: string): boolean {
  const segments = artifactPath.split('/');
  const base = segments[segments.length - 1] ?? '';
  const parent = segments[segments.length - 2];
  if (CREDENTIAL_BASENAMES.has(base)) return true;
  if (base === '.env' || base.startsWith('.env.')) return true;
  if (parent === '.git' && base === 'config') return true;
  if (parent === '.docker' && base === 'config.json') return true;
  return false;
}

/** The warning for credential files in an upload set, or undefined when there are none. */
export function credentialFilesWarning(
  artifactName: string,
  artifactPaths: readonly string[],
): string | undefined {
  const found = artifactPaths.filter(isCredentialFile);
  if (found.length === 0) return undefined;
  const shown = found.slice(0, 10).map((p) => `'${p}'`);
  const more = found.length > shown.length ? ` and ${found.length - shown.length} more` : '';
  return (
    `Artifact '${artifactName}' includes ${found.length === 1 ? 'a file that usually holds' : 'files that usually hold'} credentials: ` +
    `${shown.join(', ')}${more}. Anyone who can download the artifact can read ${found.length === 1 ? 'it' : 'them'}; ` +
    'leave hidden files out unless they are needed'
  );
}

/**
 * The upload's side of both checks, run before anything is sent: logs a warning naming the
 * credential files in the upload set, and returns the scanner for the runtime token and every
 * registered secret (undefined when `allowSecretsInFiles` is true or there is nothing to find).
 */
export function prepareSecretScan(
  artifactName: string,
  files: ReadonlyArray<{ artifactPath: string }>,
  options: { runtimeToken: string | undefined; logger: Logger },
  allowSecretsInFiles: unknown,
): SecretScanner | undefined {
  if (allowSecretsInFiles !== undefined && typeof allowSecretsInFiles !== 'boolean') {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `Option 'allowSecretsInFiles' must be a boolean; got ${typeof allowSecretsInFiles}`,
      { option: 'allowSecretsInFiles' },
    );
  }
  const warning = credentialFilesWarning(
    artifactName,
    files.map((f) => f.artifactPath),
  );
  if (warning !== undefined) options.logger.warn(warning);
  if (allowSecretsInFiles === true) {
    options.logger.debug(`Secret scan of the files of '${artifactName}' is off (allowSecretsInFiles)`);
    return undefined;
  }
  const runtime = options.runtimeToken
    ? [{ value: options.runtimeToken, label: 'the runtime token (ACTIONS_RUNTIME_TOKEN)' }]
    : [];
  return SecretScanner.create(artifactName, [...runtime, ...registeredSecrets()]);
}
