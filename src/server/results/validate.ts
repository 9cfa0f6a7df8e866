import { TwirpError } from './twirp-errors.js';

// The characters the official client rejects in names (B7); GitHub rejects them server-side too.
const FORBIDDEN_NAME_CHARS = ['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/'];
const MAX_NAME_LENGTH = 256;
const MAX_ID_LENGTH = 256;

/** GitHub's artifact name rules: 1–256 characters, none of the forbidden ones, not `.`/`..`. */
export function validateArtifactName(name: string): string {
  const length = [...name].length;
  if (length < 1 || length > MAX_NAME_LENGTH) {
    throw new TwirpError(
      'invalid_argument',
      `name invalid length for artifact name: must be between 1 and ${MAX_NAME_LENGTH} characters, got ${length}`,
    );
  }
  const bad = FORBIDDEN_NAME_CHARS.find((ch) => name.includes(ch));
  if (bad !== undefined) {
    throw new TwirpError(
      'invalid_argument',
      `The artifact name ${JSON.stringify(name)} is not valid: it contains the forbidden character ${JSON.stringify(bad)}`,
    );
  }
  if (name.includes('\0') || name === '.' || name === '..') {
    throw new TwirpError('invalid_argument', `The artifact name ${JSON.stringify(name)} is not valid`);
  }
  return name;
}

/**
 * Workflow run / job backend ids are opaque strings (UUIDs on GitHub, integers in act); they
 * only ever appear in metadata, never in paths.
 */
export function validateBackendId(value: string, field: string): string {
  const control = [...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch === '\x7f');
  if (value.length === 0 || value.length > MAX_ID_LENGTH || control) {
    throw new TwirpError(
      'invalid_argument',
      `${field} must be 1–${MAX_ID_LENGTH} printable characters, got ${JSON.stringify(value.slice(0, 300))}`,
    );
  }
  return value;
}
