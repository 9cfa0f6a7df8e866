import { ValidationError } from '../core/errors.js';
import { printable } from '../core/format.js';

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
  const regex = new RegExp(`^${translate(body)}$`, 'u');
  const dotAllowed = body.startsWith('.') || body.startsWith('\\.');
  return (name: string): boolean => {
    const matched = (dotAllowed || !name.startsWith('.')) && regex.test(name);
    return negate ? !matched : matched;
  };
}

const SPECIAL = /[.*+?^${}()|[\]\\/]/g;

function escapeRegex(text: string): string {
  return text.replace(SPECIAL, '\\$&');
}

/** Escapes a character for use inside a RegExp character class. */
function escapeClass(ch: string): string {
  return /[\\\]^-]/.test(ch) ? `\\${ch}` : ch;
}

/** The index of the `}` that closes the `{` at `start`, or -1. */
function closingBrace(chars: readonly string[], start: number): number {
  let depth = 0;
  for (let i = start; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '\\') i++;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return i;
  }
  return -1;
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

/** Parses the class at `start` (`[`); returns its RegExp source and the index after `]`, or undefined. */
function parseClass(chars: readonly string[], start: number): { source: string; next: number } | undefined {
  let i = start + 1;
  let negated = false;
  if (chars[i] === '!' || chars[i] === '^') {
    negated = true;
    i++;
  }
  let members = '';
  let first = true;
  for (; i < chars.length; i++) {
    let ch = chars[i] as string;
    if (ch === ']' && !first) {
      if (members === '') return undefined;
      return { source: `[${negated ? '^' : ''}${members}]`, next: i + 1 };
    }
    first = false;
    if (ch === '\\' && i + 1 < chars.length) ch = chars[++i] as string;
    if (chars[i + 1] === '-' && chars[i + 2] !== undefined && chars[i + 2] !== ']') {
      let end = chars[i + 2] as string;
      let skip = 2;
      if (end === '\\' && chars[i + 3] !== undefined) {
        end = chars[i + 3] as string;
        skip = 3;
      }
      if ((end.codePointAt(0) ?? 0) < (ch.codePointAt(0) ?? 0)) {
        throw new ValidationError(
          'ERR_FERRY_INVALID_OPTION',
          `Pattern ${printable(chars.join(''))} has the invalid range ${printable(`${ch}-${end}`)}`,
          { option: 'pattern' },
        );
      }
      members += `${escapeClass(ch)}-${escapeClass(end)}`;
      i += skip;
      continue;
    }
    members += escapeClass(ch);
  }
  return undefined;
}

function translate(pattern: string): string {
  return translateChars(Array.from(pattern));
}

function translateChars(chars: readonly string[]): string {
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    switch (ch) {
      case '\\':
        if (i + 1 < chars.length) out += escapeRegex(chars[++i] as string);
        else out += '\\\\';
        break;
      case '*':
        while (chars[i + 1] === '*') i++;
        out += '.*';
        break;
      case '?':
        out += '.';
        break;
      case '[': {
        const parsed = parseClass(chars, i);
        if (parsed === undefined) out += '\\[';
        else {
          out += parsed.source;
          i = parsed.next - 1;
        }
        break;
      }
      case '{': {
        const end = closingBrace(chars, i);
        const alternatives = end === -1 ? [] : splitAlternatives(chars.slice(i + 1, end));
        if (alternatives.length < 2) {
          out += '\\{';
          break;
        }
        out += `(?:${alternatives.map(translateChars).join('|')})`;
        i = end;
        break;
      }
      default:
        out += escapeRegex(ch);
    }
  }
  return out;
}
