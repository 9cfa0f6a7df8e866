import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../../core/errors.js';
import { BlobError } from './blob-errors.js';

/** `r` = read (GET/HEAD); `cw` = create + write (Put Block, Put Block List, Put Blob). */
export type Permission = 'r' | 'cw';

/** The path prefix of every blob URL: account / container / blob, as the Azure SDK requires. */
export const BLOB_PATH_PREFIX = '/devstoreaccount1/artifacts/';

const KEY_BYTES = 32;

/**
 * Signs and checks blob URLs, SAS style: `?sig=<HMAC>&se=<expiry>&sp=<permissions>`. The MAC covers
 * the blob path, the expiry and the permissions, so none of them can be changed or moved to
 * another blob. The key is random per dataDir and persisted, so URLs survive a restart but are
 * worthless against any other server.
 */
export class UrlSigner {
  readonly #key: Buffer;
  readonly #ttlMs: number;

  private constructor(key: Buffer, ttlMs: number) {
    this.#key = key;
    this.#ttlMs = ttlMs;
  }

  static async open(keyFile: string, ttlMs: number): Promise<UrlSigner> {
    return new UrlSigner(await loadOrCreateKey(keyFile), ttlMs);
  }

  /** An absolute signed URL for `blobId`, valid for the configured lifetime. */
  sign(baseUrl: string, blobId: string, permission: Permission, now = Date.now()): string {
    const path = `${BLOB_PATH_PREFIX}${blobId}`;
    const se = new Date(now + this.#ttlMs).toISOString();
    const query = new URLSearchParams({ sig: this.#mac(path, se, permission), se, sp: permission });
    return `${baseUrl.replace(/\/$/, '')}${path}?${query.toString()}`;
  }

  /**
   * Throws a 403 Azure error unless `query` carries a valid, unexpired signature for `blobId`
   * that grants `needed`. Values are compared decoded: the Azure SDK appends its own parameters
   * and may re-encode ours.
   */
  verify(blobId: string, query: URLSearchParams, needed: 'r' | 'w', now = Date.now()): void {
    const sig = query.get('sig');
    const se = query.get('se');
    const sp = query.get('sp');
    if (sig === null || se === null || sp === null) {
      throw authFailed('The URL is not signed: sig, se and sp are required.');
    }
    const expected = Buffer.from(this.#mac(`${BLOB_PATH_PREFIX}${blobId}`, se, sp));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw authFailed('Signature did not match: the URL was altered or signed by another server.');
    }
    const expiry = Date.parse(se);
    if (!Number.isFinite(expiry) || now >= expiry) {
      throw authFailed(
        `Signature not valid in the specified time frame: Expiry [${se}] - Current [${new Date(now).toISOString()}]`,
      );
    }
    if (!sp.includes(needed)) {
      throw new BlobError(
        403,
        'AuthorizationPermissionMismatch',
        'This request is not authorized to perform this operation using this permission.',
      );
    }
  }

  #mac(path: string, se: string, sp: string): string {
    // Newline-separated: none of the three can contain one (path is ours, se and sp are checked
    // by the MAC itself), so field boundaries cannot be shifted.
    return createHmac('sha256', this.#key).update(`${path}\n${se}\n${sp}`).digest('base64url');
  }
}

function authFailed(detail: string): BlobError {
  return new BlobError(
    403,
    'AuthenticationFailed',
    `Server failed to authenticate the request. Make sure the value of the signed URL is formed correctly. ${detail}`,
  );
}

/**
 * Reads the key, or creates it exactly once: the new key is written to a temp file and then
 * hard-linked into place, which fails if another process won the race, so every process ends
 * up with the same key and a crash never leaves a half-written one.
 */
async function loadOrCreateKey(keyFile: string): Promise<Buffer> {
  const existing = await readKey(keyFile);
  if (existing) return existing;
  await mkdir(dirname(keyFile), { recursive: true });
  const temp = `${keyFile}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, randomBytes(KEY_BYTES).toString('hex'), { mode: 0o600 });
  try {
    await link(temp, keyFile);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
  } finally {
    await rm(temp, { force: true });
  }
  const key = await readKey(keyFile);
  if (!key) {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      `The signing key ${keyFile} is unreadable; delete it to make a new one`,
    );
  }
  return key;
}

async function readKey(keyFile: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(keyFile, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
  const trimmed = text.trim();
  return /^[0-9a-f]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : undefined;
}
