import { compileNamePattern } from '../../src/merge/name-pattern.js';

const matches = (pattern: string, names: string[]): string[] => names.filter(compileNamePattern(pattern));

describe('compileNamePattern (minimatch semantics for artifact names)', () => {
  const names = [
    'build-linux',
    'build-macos',
    'build-win',
    'test-1',
    'test-22',
    'a.b',
    '.hidden',
    'x[1]',
    'a-b',
  ];

  it('supports *, ?, classes, ranges and negated classes', () => {
    expect(matches('*', names)).toEqual(names.filter((n) => n !== '.hidden'));
    expect(matches('build-*', names)).toEqual(['build-linux', 'build-macos', 'build-win']);
    expect(matches('test-?', names)).toEqual(['test-1']);
    expect(matches('test-[0-9]*', names)).toEqual(['test-1', 'test-22']);
    expect(matches('build-[!lm]*', names)).toEqual(['build-win']);
    expect(matches('build-[^lm]*', names)).toEqual(['build-win']);
    expect(matches('a.b', names)).toEqual(['a.b']);
    expect(matches('a?b', names)).toEqual(['a.b', 'a-b']);
  });

  it('supports braces, escapes and whole-pattern negation', () => {
    expect(matches('build-{linux,win}', names)).toEqual(['build-linux', 'build-win']);
    expect(matches('{build-{linux,macos},test-1}', names)).toEqual(['build-linux', 'build-macos', 'test-1']);
    expect(matches('x\\[1\\]', names)).toEqual(['x[1]']);
    expect(matches('x[[]1]', names)).toEqual(['x[1]']);
    expect(matches('!build-*', names)).toEqual(['test-1', 'test-22', 'a.b', '.hidden', 'x[1]', 'a-b']);
  });

  it('matches a leading dot only with a literal leading dot, and treats odd brackets literally', () => {
    expect(matches('.*', names)).toEqual(['.hidden']);
    expect(matches('x[1', ['x[1'])).toEqual(['x[1']);
    expect(matches('{a', ['{a'])).toEqual(['{a']);
    expect(matches('{a}', ['{a}'])).toEqual(['{a}']);
  });

  it('rejects an empty pattern and a reversed range', () => {
    expect(() => compileNamePattern('')).toThrow(/non-empty/);
    expect(() => compileNamePattern('[z-a]')).toThrow(/invalid range/);
  });
});
