import { ValidationError } from '../core/errors.js';
import { compileGlob, type GlobSyntax } from '../pack/glob-compiler.js';

/** minimatch's rules for a whole name: see the list below; the compiler is shared with file paths. */
const NAME_SYNTAX: GlobSyntax = {
  segmented: false,
  braces: true,
  posixClasses: false,
  escapes: true,
  caseInsensitive: false,
  codePoints: true,
  badRange: 'throw',
};

/**
 * A glob over artifact names, with the minimatch semantics download-artifact and
 * upload-artifact/merge use for `pattern` (names have no `/`, so no `**`):
 *
 * - `*` any run of characters, `?` one character;
 * - `[abc]`, `[a-z]`, `[!a-c]` / `[^a-c]` a character class;
 * - `{a,b}` alternatives (nestable);
 * - `\x` the character `x` literally;
 * - a leading `!` negates the whole pattern;
 * - as in minimatch, a name starting with `.` only matches a pattern that starts with a literal `.`.
 *
 * Returns a predicate. An empty pattern is rejected (`ERR_FERRY_INVALID_OPTION`).
 */
export function compileNamePattern(pattern: string, option = 'pattern'): (name: string) => boolean {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', `Option '${option}' must be a non-empty glob`, {
      option,
    });
  }
  let negate = false;
  let body = pattern;
  while (body.startsWith('!')) {
    negate = !negate;
    body = body.slice(1);
  }
  const { regex } = compileGlob(body, NAME_SYNTAX);
  const dotAllowed = body.startsWith('.') || body.startsWith('\\.');
  return (name: string): boolean => {
    const matched = (dotAllowed || !name.startsWith('.')) && regex.test(name);
    return negate ? !matched : matched;
  };
}
