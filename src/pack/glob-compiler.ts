import { ValidationError } from '../core/errors.js';
import { printable } from '../core/format.js';

/**
 * The one glob-to-RegExp compiler. Two callers read globs with deliberately different rules, and
 * each difference is an option here rather than a second compiler:
 *
 * - file paths (pack/glob.ts, upload-artifact's `path`), compiled one segment at a time:
 *   `*`/`?` stop at `/`, a negated class never matches `/`, POSIX classes (`[[:alpha:]]`), `\` is
 *   an escape only off Windows, case-insensitive on Windows, a backwards range (`[z-a]`) leaves the
 *   `[` literal as @actions/glob does;
 * - artifact names (merge/name-pattern.ts, minimatch's `pattern`): whole names, so `*` crosses
 *   everything, `{a,b}` alternatives, characters are code points, a backwards range is an error.
 *
 * Common to both: `*` any run, `?` one character, `[abc]`, `[a-z]`, `[!a]`/`[^a]`, `\x` literal,
 * an unclosed or empty `[` is a literal `[`.
 */
export interface GlobSyntax {
  /** `*`, `?` and negated classes stay within one `/`-separated segment. */
  segmented: boolean;
  /** `{a,b}` alternatives (nestable); otherwise `{` is literal. */
  braces: boolean;
  /** `[:alpha:]`-style classes inside `[...]`. */
  posixClasses: boolean;
  /** `\` escapes the next character; otherwise it is literal. */
  escapes: boolean;
  /** Match without regard to case. */
  caseInsensitive: boolean;
  /** Characters are code points (`u` flag); otherwise UTF-16 code units. */
  codePoints: boolean;
  /** A range whose end precedes its start: `throw` (ERR_FERRY_INVALID_OPTION for `option`) or leave the `[` literal. */
  badRange: 'throw' | 'literal';
  /** The option named by a thrown error. */
  option?: string;
}

export interface CompiledGlob {
  /** Anchored at both ends. */
  regex: RegExp;
  /** The unescaped text when the glob has no wildcard (a one-character class counts as literal). */
  literal: string | undefined;
}

export function compileGlob(text: string, syntax: GlobSyntax): CompiledGlob {
  const chars = syntax.codePoints ? Array.from(text) : text.split('');
  const { source, literal } = translate(chars, syntax);
  const flags = `${syntax.codePoints ? 'u' : ''}${syntax.caseInsensitive ? 'i' : ''}`;
  return { regex: new RegExp(`^${source}$`, flags), literal };
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: 'A-Za-z0-9',
  alpha: 'A-Za-z',
  blank: ' \\t',
  digit: '0-9',
  lower: 'a-z',
  punct: '!-\\/:-@\\[-`{-~',
  space: ' \\t\\r\\n\\v\\f',
  upper: 'A-Z',
  word: 'A-Za-z0-9_',
  xdigit: '0-9A-Fa-f',
};

function translate(
  chars: readonly string[],
  syntax: GlobSyntax,
): { source: string; literal: string | undefined } {
  let source = '';
  let literal: string | undefined = '';
  const any = syntax.segmented ? '[^/]' : '.';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\' && syntax.escapes && i + 1 < chars.length) {
      const next = chars[++i] as string;
      source += escapeRegex(next);
      if (literal !== undefined) literal += next;
    } else if (c === '*') {
      while (chars[i + 1] === '*') i++;
      source += `${any}*`;
      literal = undefined;
    } else if (c === '?') {
      source += any;
      literal = undefined;
    } else if (c === '[') {
      const parsed = parseClass(chars, i, syntax);
      if (parsed === undefined) {
        source += '\\[';
        if (literal !== undefined) literal += '[';
        continue;
      }
      i = parsed.end;
      source += parsed.source;
      literal = parsed.single !== undefined && literal !== undefined ? literal + parsed.single : undefined;
    } else if (c === '{' && syntax.braces && braces(chars, i) !== undefined) {
      const { alternatives, end } = braces(chars, i) as { alternatives: string[][]; end: number };
      source += `(?:${alternatives.map((alternative) => translate(alternative, syntax).source).join('|')})`;
      literal = undefined;
      i = end;
    } else {
      source += escapeRegex(c);
      if (literal !== undefined) literal += c;
    }
  }
  return { source, literal };
}

/** The alternatives of the `{...}` at `start` and the index of its `}`; undefined when fewer than two. */
function braces(
  chars: readonly string[],
  start: number,
): { alternatives: string[][]; end: number } | undefined {
  let depth = 0;
  for (let i = start; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '\\') i++;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) {
      const alternatives = splitAlternatives(chars.slice(start + 1, i));
      return alternatives.length < 2 ? undefined : { alternatives, end: i };
    }
  }
  return undefined;
}

/** Splits a brace body at its top-level commas. */
function splitAlternatives(chars: readonly string[]): string[][] {
  const parts: string[][] = [[]];
  let depth = 0;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    const current = parts[parts.length - 1] as string[];
    if (ch === '\\' && i + 1 < chars.length) {
      current.push(ch, chars[++i] as string);
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}') depth--;
    if (ch === ',' && depth === 0) parts.push([]);
    else current.push(ch);
  }
  return parts;
}

/**
 * Parses `[...]` starting at `start`: its RegExp source, the index of its `]`, and its one
 * character when it is a plain one-character class. Undefined when there is no closing `]`, the
 * class is empty, or (with `badRange: 'literal'`) a range runs backwards: then `[` is literal.
 */
function parseClass(
  chars: readonly string[],
  start: number,
  syntax: GlobSyntax,
): { source: string; end: number; single: string | undefined } | undefined {
  let i = start + 1;
  let negate = false;
  if (chars[i] === '!' || chars[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  // The characters the class names; a POSIX class adds two blanks so it never counts as single.
  const members: string[] = [];
  let first = true;
  for (; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === ']' && !first) {
      if (body === '') return undefined;
      const single =
        !negate && members.length === 1 && body === escapeClassChar(members[0] as string)
          ? members[0]
          : undefined;
      const excluded = syntax.segmented ? '/' : '';
      return { source: negate ? `[^${excluded}${body}]` : `[${body}]`, end: i, single };
    }
    first = false;
    if (syntax.posixClasses && c === '[' && chars[i + 1] === ':') {
      const close = chars.join('').indexOf(':]', i + 2);
      const cls = close === -1 ? undefined : POSIX_CLASSES[chars.slice(i + 2, close).join('')];
      if (cls !== undefined) {
        body += cls;
        members.push('', '');
        i = close + 1;
        continue;
      }
    }
    let ch = c;
    if (c === '\\' && syntax.escapes && i + 1 < chars.length) ch = chars[++i] as string;
    if (chars[i + 1] === '-' && i + 2 < chars.length && chars[i + 2] !== ']') {
      let to = chars[i + 2] as string;
      let skip = 2;
      if (to === '\\' && syntax.escapes && i + 3 < chars.length) {
        to = chars[i + 3] as string;
        skip = 3;
      }
      if ((to.codePointAt(0) ?? 0) < (ch.codePointAt(0) ?? 0)) {
        if (syntax.badRange === 'literal') return undefined;
        const option = syntax.option ?? 'pattern';
        throw new ValidationError(
          'ERR_FERRY_INVALID_OPTION',
          `Pattern ${printable(chars.join(''))} has the invalid range ${printable(`${ch}-${to}`)}`,
          { option },
        );
      }
      body += `${escapeClassChar(ch)}-${escapeClassChar(to)}`;
      members.push(ch, to);
      i += skip;
      continue;
    }
    body += escapeClassChar(ch);
    members.push(ch);
  }
  return undefined;
}

function escapeClassChar(c: string): string {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}

/** `text` with every RegExp syntax character escaped (`/` too, harmless and valid with `u`). */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
