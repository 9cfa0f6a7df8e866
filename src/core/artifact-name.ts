import { ValidationError } from './errors.js';
import { describeCharacter, printable } from './format.js';
import { findBadCharacter, type BadCharacter } from './name-characters.js';

/**
 * The one rule for artifact names, applied by the client before any request and by both
 * protocols of `ferry serve` (results and legacy), so that a name one accepts the others accept.
 *
 * It is GitHub's: non-empty, at most 256 characters, none of the characters the official client
 * forbids (protocol A7/B7), plus the hardening of the reliability plan (item 18): no control
 * character, no lone surrogate (not valid UTF-8), not `.` or `..`.
 *
 * Characters, not bytes: the results service answers "must be between 1 and 256 characters"
 * (protocol.md B2), and counting bytes would refuse names that GitHub takes (256 CJK characters
 * are 768 UTF-8 bytes). A character is a Unicode code point, so an emoji outside the BMP counts
 * once, as it does for a reader.
 */

/** Characters the official client rejects in artifact names. */
export const FORBIDDEN_NAME_CHARACTERS: readonly string[] = [
  '"',
  ':',
  '<',
  '>',
  '|',
  '*',
  '?',
  '\r',
  '\n',
  '\\',
  '/',
];

/** The longest artifact name in characters (Unicode code points). */
export const MAX_ARTIFACT_NAME_LENGTH = 256;

/** Why a name is refused; each face words it (client error, Twirp error, legacy 400). */
export type ArtifactNameProblem =
  | { kind: 'empty' }
  | ({ kind: 'character'; forbidden: boolean } & BadCharacter)
  | { kind: 'dot' }
  | { kind: 'length'; length: number };

/** What is wrong with `name`, or undefined when it is a usable artifact name. */
export function artifactNameProblem(name: unknown): ArtifactNameProblem | undefined {
  if (typeof name !== 'string' || name.length === 0) return { kind: 'empty' };
  const bad = findBadCharacter(name, FORBIDDEN_NAME_CHARACTERS);
  if (bad) return { kind: 'character', forbidden: FORBIDDEN_NAME_CHARACTERS.includes(bad.ch), ...bad };
  if (name === '.' || name === '..') return { kind: 'dot' };
  // Lone surrogates were refused above, so every code point here is a whole character.
  const length = [...name].length;
  if (length > MAX_ARTIFACT_NAME_LENGTH) return { kind: 'length', length };
  return undefined;
}

/** The reason in the client's words, after `Invalid artifact name '<name>': `. */
export function describeArtifactNameProblem(problem: ArtifactNameProblem): string {
  switch (problem.kind) {
    case 'empty':
      return 'must be a non-empty string';
    case 'character':
      return (
        `character ${describeCharacter(problem.ch)} at index ${problem.index} is ${problem.reason}. ` +
        `Artifact names must not contain " : < > | * ? \\r \\n \\ / or control characters`
      );
    case 'dot':
      return "'.' and '..' are not allowed";
    case 'length':
      return `${problem.length} characters long, the limit is ${MAX_ARTIFACT_NAME_LENGTH} characters`;
  }
}

/**
 * The reason in a service's words (GitHub's results service, which `ferry serve` answers like):
 * what both protocols of the server send back in their 400.
 */
export function serviceNameMessage(name: unknown, problem: ArtifactNameProblem): string {
  const quoted = JSON.stringify(name);
  switch (problem.kind) {
    case 'empty':
    case 'length':
      return (
        `name invalid length for artifact name: must be between 1 and ${MAX_ARTIFACT_NAME_LENGTH} ` +
        `characters, got ${problem.kind === 'empty' ? 0 : problem.length}`
      );
    case 'character':
      return problem.forbidden
        ? `The artifact name ${quoted} is not valid: it contains the forbidden character ${JSON.stringify(problem.ch)}`
        : `The artifact name ${quoted} is not valid: character ${describeCharacter(problem.ch)} at index ${problem.index} is ${problem.reason}`;
    case 'dot':
      return `The artifact name ${quoted} is not valid`;
  }
}

/**
 * Throws `ValidationError` (`ERR_FERRY_INVALID_NAME`) unless `name` is a usable artifact name
 * (see the rule above). The client calls it before any request.
 */
export function validateArtifactName(name: string): void {
  const problem = artifactNameProblem(name);
  if (problem === undefined) return;
  const message =
    problem.kind === 'empty'
      ? 'Artifact name must be a non-empty string'
      : `Invalid artifact name ${printable(name)}: ${describeArtifactNameProblem(problem)}`;
  throw new ValidationError('ERR_FERRY_INVALID_NAME', message);
}
