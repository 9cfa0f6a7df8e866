import { FerryError } from '../../src/core/errors.js';
import { isUnsafeForDisplay, printable, printableLines, printableText } from '../../src/core/format.js';
import { escapeJsonControls } from '../../src/cli/output.js';

/** Whether a raw character a terminal or a bidi-aware viewer acts on is left (newline and tab allowed). */
const RAW = {
  test(text: string): boolean {
    return [...text].some((ch) => {
      const code = ch.codePointAt(0) ?? 0;
      if (ch === '\n' || ch === '\t') return false;
      return (
        code < 0x20 ||
        (code >= 0x7f && code <= 0x9f) ||
        (code >= 0x202a && code <= 0x202e) ||
        (code >= 0x2066 && code <= 0x2069)
      );
    });
  },
};

const HOSTILE = 'a\u001b]0;pwned\u0007b\u009b31mc\u202etxt.exe\u2066d\u007fe\u0085f\nline\tg';

describe('printable output of server-supplied names', () => {
  test('printableText escapes C0 (newline and tab too), DEL, C1 and bidi controls, nothing else', () => {
    expect(printableText(HOSTILE)).toBe(
      'a\\x1b]0;pwned\\x07b\\x9b31mc\\u202etxt.exe\\u2066d\\x7fe\\x85f\\x0aline\\x09g',
    );
    expect(printableText('ünïcode 名前 🚀 C:\\dir\\file')).toBe('ünïcode 名前 🚀 C:\\dir\\file');
    expect(printableText('lone \ud800 surrogate')).toBe('lone \\ud800 surrogate');
    expect(RAW.test(printableText(HOSTILE))).toBe(false);
  });

  test('printableLines keeps newlines and tabs but escapes every other unsafe character', () => {
    expect(printableLines(HOSTILE)).toBe(
      'a\\x1b]0;pwned\\x07b\\x9b31mc\\u202etxt.exe\\u2066d\\x7fe\\x85f\nline\tg',
    );
  });

  test('the classification covers exactly the ranges the escapes promise', () => {
    const unsafe = [0x00, 0x1b, 0x1f, 0x7f, 0x80, 0x9b, 0x9f, 0x202a, 0x202e, 0x2066, 0x2069, 0xd800, 0xdfff];
    const safe = [0x20, 0x7e, 0xa0, 0x2029, 0x202f, 0x2065, 0x206a, 0xe000, 0x1f680];
    for (const code of unsafe) expect(isUnsafeForDisplay(code)).toBe(true);
    for (const code of safe) expect(isUnsafeForDisplay(code)).toBe(false);
  });

  test('printable (quoted, for error messages) escapes bidi overrides as well', () => {
    expect(printable('evil\u202egpj.exe')).toBe("'evil\\u202egpj.exe'");
    expect(printable('\u001b[2J')).toBe("'\\x1b[2J'");
  });

  test('error messages show the artifact and file of their context escaped', () => {
    const error = new FerryError('ERR_FERRY_INTEGRITY', 'Bad bytes', {
      context: { operation: 'download', artifactName: 'art\u001b[31m', file: 'x\u009b2J\u202e' },
    });
    expect(error.message).toBe(
      "Bad bytes (operation download, artifact 'art\\x1b[31m', file 'x\\x9b2J\\u202e')",
    );
    expect(RAW.test(error.message)).toBe(false);
    // The context itself keeps the real values for programs.
    expect(error.context.artifactName).toBe('art\u001b[31m');
  });

  test('--json output escapes C1 and bidi controls and still parses to the same strings', () => {
    const value = { name: HOSTILE, other: 'line\u2028sep' };
    const json = escapeJsonControls(JSON.stringify(value));
    expect(RAW.test(json)).toBe(false);
    expect(json).not.toMatch(/[\u2028\u2029]/u);
    expect(JSON.parse(json)).toEqual(value);
  });
});
