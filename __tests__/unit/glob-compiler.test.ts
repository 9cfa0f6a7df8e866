import { compileGlob, type GlobSyntax } from '../../src/pack/glob-compiler.js';

/** The two syntaxes the callers use (pack/glob.ts on POSIX, merge/name-pattern.ts). */
const PATH: GlobSyntax = {
  segmented: true,
  braces: false,
  posixClasses: true,
  escapes: true,
  caseInsensitive: false,
  codePoints: false,
  badRange: 'literal',
};
const NAME: GlobSyntax = {
  ...PATH,
  segmented: false,
  braces: true,
  posixClasses: false,
  codePoints: true,
  badRange: 'throw',
};

describe('compileGlob: one compiler, the differences as options', () => {
  it('keeps * and negated classes inside a segment only when segmented', () => {
    expect(compileGlob('a*b', PATH).regex.test('a/x/b')).toBe(false);
    expect(compileGlob('a*b', NAME).regex.test('a/x/b')).toBe(true);
    expect(compileGlob('a[!x]b', PATH).regex.test('a/b')).toBe(false);
    expect(compileGlob('a[!x]b', NAME).regex.test('a/b')).toBe(true);
  });

  it('reads braces only when asked', () => {
    expect(compileGlob('{a,b}', NAME).regex.test('b')).toBe(true);
    expect(compileGlob('{a,b}', PATH).regex.test('{a,b}')).toBe(true);
    expect(compileGlob('{a,b}', PATH).regex.test('b')).toBe(false);
  });

  it('reads POSIX classes only when asked', () => {
    expect(compileGlob('[[:digit:]]', PATH).regex.test('7')).toBe(true);
    expect(compileGlob('[[:digit:]]', NAME).regex.test('7')).toBe(false);
  });

  it('treats a backwards range as a literal [ or as an error', () => {
    expect(compileGlob('[z-a]', PATH).regex.test('[z-a]')).toBe(true);
    expect(() => compileGlob('[z-a]', NAME)).toThrow(
      expect.objectContaining({ code: 'ERR_FERRY_INVALID_OPTION' }),
    );
  });

  it('counts code points or code units for ?', () => {
    expect(compileGlob('?', NAME).regex.test('😀')).toBe(true);
    expect(compileGlob('?', PATH).regex.test('😀')).toBe(false);
  });

  it('matches without case and takes \\ literally when told (the Windows path syntax)', () => {
    const windows = { ...PATH, escapes: false, caseInsensitive: true };
    expect(compileGlob('README.md', windows).regex.test('readme.MD')).toBe(true);
    expect(compileGlob('a\\b', windows).regex.test('a\\b')).toBe(true);
    expect(compileGlob('a\\*', PATH).regex.test('a*')).toBe(true);
  });

  it('reports the literal text of a glob without wildcards', () => {
    expect(compileGlob('a\\*[b]', PATH).literal).toBe('a*b');
    expect(compileGlob('a*', PATH).literal).toBeUndefined();
  });
});
