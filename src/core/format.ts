/** Byte counts for people: `512 B`, `1.5 KiB`, `3.2 GiB`. Shared by the CLI and the Action logs. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Characters that must never reach a terminal or a log raw: C0 controls, DEL, C1 controls (ESC
 * and CSI drive the terminal), the bidirectional overrides and isolates U+202A–202E and
 * U+2066–2069 (they reorder what a reader sees), and lone surrogates (not valid UTF-8).
 */
export function isUnsafeForDisplay(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    (code >= 0xd800 && code <= 0xdfff)
  );
}

/** `\x1b`, `\x85`, `\u202e`: the escape shown in place of one unsafe character. */
export function escapeCodePoint(code: number): string {
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * A server- or archive-supplied string (artifact name, file path) made safe for human output:
 * every character of {@link isUnsafeForDisplay}, newlines and tabs included, is shown as an
 * escape such as `\x1b` or `\u202e`. Everything else (any script, emoji, backslashes of Windows
 * paths) is kept as it is: this is for reading, not a reversible encoding (`--json` is that).
 */
export function printableText(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (isUnsafeForDisplay(code)) out += escapeCodePoint(code);
    else out += ch;
  }
  return out;
}

/**
 * A whole line or message for a terminal or log: like {@link printableText}, but newlines and
 * tabs are kept (messages span lines; `ferry list` separates columns with tabs). The last line
 * of defence: names inside are escaped where they are put in, so none can forge a line.
 */
export function printableLines(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch !== '\n' && ch !== '\t' && isUnsafeForDisplay(code)) out += escapeCodePoint(code);
    else out += ch;
  }
  return out;
}

/*
 * Quoting a value inside an error message: `'a:b'`, `'x\n::error::y'`, `U+001B`. Used for
 * names and paths that a user, a server or an archive supplied.
 */

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\0': '\\0',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\v': '\\v',
  '\f': '\\f',
  '\r': '\\r',
};

/** C0 controls, DEL and C1 controls. */
export function isControlCharacter(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

function hex4(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * A printable, quoted form of one character for an error message: `':'`, `'\n' (U+000A)`,
 * `U+001B`, `U+D800 (lone surrogate)`.
 */
export function describeCharacter(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  const named = NAMED_ESCAPES[ch];
  if (named !== undefined) return `'${named}' (U+${hex4(code)})`;
  if (code >= 0xd800 && code <= 0xdfff) return `U+${hex4(code)} (lone surrogate)`;
  if (isControlCharacter(code)) return `U+${hex4(code)}`;
  return `'${ch}'`;
}

/**
 * A value quoted for an error message with control characters, bidi overrides and lone surrogates escaped, so a
 * hostile name cannot break a log line or inject a workflow command; long values are shortened.
 */
export function printable(value: string, max = 120): string {
  let out = '';
  let count = 0;
  for (const ch of value) {
    if (count === max) {
      out += `…(${Array.from(value).length} characters)`;
      break;
    }
    count++;
    const code = ch.codePointAt(0) ?? 0;
    const named = NAMED_ESCAPES[ch];
    if (named !== undefined) out += named;
    else if (isUnsafeForDisplay(code)) out += escapeCodePoint(code);
    else if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else out += ch;
  }
  return `'${out}'`;
}
