import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JwtKeys } from './jwt.js';

/** HS256 secrets shorter than the hash output make brute force of a captured token cheaper. */
export const MIN_SECRET_BYTES = 32;

export interface JwtKeyOptions {
  /** HS256 secrets, at least 32 bytes each. Several: tokens signed with any of them verify. */
  secrets?: readonly (string | Buffer)[] | undefined;
  /** RS256 (RSA) or ES256 (EC P-256) public keys: PEM text or KeyObjects. */
  publicKeys?: readonly (string | Buffer | KeyObject)[] | undefined;
}

/** Checks configured keys once at start, so a bad key fails `ferry serve` instead of every request. */
export function jwtKeysOf(options: JwtKeyOptions): JwtKeys {
  const hmacSecrets = (options.secrets ?? []).map((secret, i) => {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new RangeError(
        `JWT secret #${i + 1} has ${bytes.length} bytes; HS256 needs at least ${MIN_SECRET_BYTES} (e.g. openssl rand -hex 32)`,
      );
    }
    return bytes;
  });
  const publicKeys = (options.publicKeys ?? []).map((key, i) => {
    let object: KeyObject;
    try {
      object = typeof key === 'string' || Buffer.isBuffer(key) ? createPublicKey(key) : key;
    } catch {
      throw new RangeError(`JWT public key #${i + 1} is not a PEM public key (or certificate)`);
    }
    const type = object.asymmetricKeyType;
    const curve = object.asymmetricKeyDetails?.namedCurve;
    if (object.type !== 'public' || !(type === 'rsa' || (type === 'ec' && curve === 'prime256v1'))) {
      throw new RangeError(
        `JWT public key #${i + 1} is ${type ?? object.type}${curve ? ` (${curve})` : ''}; RS256 needs an RSA key, ES256 an EC P-256 key`,
      );
    }
    return object;
  });
  return { hmacSecrets, publicKeys };
}

/**
 * Reads an HS256 secret file (`--jwt-secret-file`). Surrounding whitespace is dropped so a
 * trailing newline from `echo` or an editor does not change the key; the bytes are used as is.
 */
export async function readJwtSecretFile(file: string): Promise<Buffer> {
  const bytes = Buffer.from((await readFile(file, 'utf8')).trim(), 'utf8');
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new RangeError(
      `The JWT secret in ${file} has ${bytes.length} bytes; it needs at least ${MIN_SECRET_BYTES} (e.g. openssl rand -hex 32 > ${file})`,
    );
  }
  return bytes;
}
