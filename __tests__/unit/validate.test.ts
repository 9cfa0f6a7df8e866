import { isFerryError, ValidationError } from '../../src/core/errors.js';
import { validateArtifactName } from '../../src/core/artifact-name.js';
import { describeCharacter, printable } from '../../src/core/format.js';
import { validateFilePath } from '../../src/pack/validate.js';

function errorOf(fn: () => void): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(isFerryError(error)).toBe(true);
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

const SHOWN: Array<[string, string]> = [
  ['"', `'"'`],
  [':', `':'`],
  ['<', `'<'`],
  ['>', `'>'`],
  ['|', `'|'`],
  ['*', `'*'`],
  ['?', `'?'`],
  ['\r', `'\\r'`],
  ['\n', `'\\n'`],
];

describe('validateArtifactName', () => {
  it.each([
    'my-artifact',
    'build output (linux, x64)',
    'a.b.c',
    '...',
    '.hidden',
    'name with spaces and #%+&=~',
    '日本語の名前',
    'emoji 🚀',
    'x'.repeat(256),
    'é'.repeat(128),
  ])('accepts %j', (name) => {
    expect(() => validateArtifactName(name)).not.toThrow();
  });

  it.each([...SHOWN, ['\\', `'\\'`], ['/', `'/'`]])('rejects %j and names it as %s', (ch, shown) => {
    const name = `bad${ch}name`;
    const error = errorOf(() => validateArtifactName(name));
    expect(error.code).toBe('ERR_FERRY_INVALID_NAME');
    expect(error.message).toContain(`character ${shown}`);
    expect(error.message).toContain('at index 3');
    expect(error.message).toContain(printable(name));
  });

  it.each([
    ['\0', 'U+0000'],
    ['\t', 'U+0009'],
    ['\x1b', 'U+001B'],
    ['\x7f', 'U+007F'],
    ['\u0085', 'U+0085'],
  ])('rejects control character %j', (ch, code) => {
    const error = errorOf(() => validateArtifactName(`a${ch}b`));
    expect(error.code).toBe('ERR_FERRY_INVALID_NAME');
    expect(error.message).toContain(code);
    expect(error.message).toContain('control character');
  });

  it('rejects lone surrogates but accepts pairs', () => {
    expect(errorOf(() => validateArtifactName('a\ud800b')).message).toContain('U+D800 (lone surrogate)');
    expect(errorOf(() => validateArtifactName('a\udc00')).message).toContain('U+DC00 (lone surrogate)');
    expect(() => validateArtifactName('a\ud83d\ude80b')).not.toThrow();
  });

  it('rejects empty, ".", ".." and non-strings', () => {
    expect(errorOf(() => validateArtifactName('')).code).toBe('ERR_FERRY_INVALID_NAME');
    expect(errorOf(() => validateArtifactName('.')).message).toContain(`'.'`);
    expect(errorOf(() => validateArtifactName('..')).message).toContain(`'..'`);
    expect(errorOf(() => validateArtifactName(undefined as unknown as string)).code).toBe(
      'ERR_FERRY_INVALID_NAME',
    );
  });

  it('rejects names over 256 characters, counted as code points, as GitHub counts them', () => {
    const error = errorOf(() => validateArtifactName('x'.repeat(257)));
    expect(error.message).toMatch(/257 characters long, the limit is 256/);
    // 256 three-byte characters (768 UTF-8 bytes) are a name GitHub's results service accepts.
    expect(() => validateArtifactName('漢'.repeat(256))).not.toThrow();
    // An emoji outside the BMP is one character (two UTF-16 units).
    expect(() => validateArtifactName('😀'.repeat(256))).not.toThrow();
    expect(errorOf(() => validateArtifactName('é'.repeat(257))).message).toMatch(/257 characters/);
  });

  it('escapes the value in the message so it cannot break a log line', () => {
    const error = errorOf(() => validateArtifactName('x\n::error::injected'));
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(`'x\\n::error::injected'`);
  });

  it('shortens very long values in the message', () => {
    const error = errorOf(() => validateArtifactName(`${'a'.repeat(4000)}:`));
    expect(error.message.length).toBeLessThan(600);
    expect(error.message).toContain('(4001 characters)');
  });
});

describe('validateFilePath', () => {
  it.each([
    'file.txt',
    'dir/sub/file.txt',
    'dir\\sub\\file.txt',
    'with space/and#hash%+.txt',
    'ünïcödé/文件.txt',
    '../outside-is-not-checked-here',
  ])('accepts %j', (p) => {
    expect(() => validateFilePath(p)).not.toThrow();
  });

  it.each(SHOWN)('rejects %j and names it as %s', (ch, shown) => {
    const p = `dir/bad${ch}file.txt`;
    const error = errorOf(() => validateFilePath(p));
    expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
    expect(error.message).toContain(`character ${shown}`);
    expect(error.message).toContain(printable(p));
  });

  it.each([['\0'], ['\x01'], ['\t'], ['\x7f']])('rejects control character %j', (ch) => {
    const error = errorOf(() => validateFilePath(`a${ch}b`));
    expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
    expect(error.message).toContain('control character');
  });

  it('rejects lone surrogates and the empty path', () => {
    expect(errorOf(() => validateFilePath('a\udfff')).message).toContain('lone surrogate');
    expect(errorOf(() => validateFilePath('')).code).toBe('ERR_FERRY_INVALID_PATH');
  });
});

describe('describeCharacter / printable', () => {
  it('describes characters printably', () => {
    expect(describeCharacter(':')).toBe(`':'`);
    expect(describeCharacter('\n')).toBe(`'\\n' (U+000A)`);
    expect(describeCharacter('\0')).toBe(`'\\0' (U+0000)`);
    expect(describeCharacter('\x1b')).toBe('U+001B');
  });

  it('quotes values with escapes', () => {
    expect(printable('a\r\nb')).toBe(`'a\\r\\nb'`);
    expect(printable("it's")).toBe(`'it\\'s'`);
    expect(printable('\x1b[31m')).toBe(`'\\x1b[31m'`);
  });
});
