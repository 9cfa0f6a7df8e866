import { artifactNameProblem, serviceNameMessage } from '../../core/artifact-name.js';
import { TwirpError } from './twirp-errors.js';

const MAX_ID_LENGTH = 256;

/** GitHub's artifact name rule, the client's too (core/artifact-name.ts). */
export function validateArtifactName(name: string): string {
  const problem = artifactNameProblem(name);
  if (problem !== undefined) throw new TwirpError('invalid_argument', serviceNameMessage(name, problem));
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
