import { foldPath } from '../../src/core/fold-path.js';

test('paths a case-insensitive or normalising file system merges fold to the same key', () => {
  expect(foldPath('Src/Main.TS')).toBe('src/main.ts');
  expect(foldPath('src/main.ts')).toBe('src/main.ts');
  // NFD (e + combining acute) and NFC (é) are one name on macOS.
  expect(foldPath('caf\u0065\u0301/A.txt')).toBe(foldPath('caf\u00e9/a.txt'));
  expect(foldPath('ÄRGER')).toBe('ärger');
  // Characters outside the BMP (surrogate pairs) take the full path and are kept.
  expect(foldPath('\u{1F600}/X')).toBe('\u{1F600}/x');
});

test('a path without upper-case ASCII or non-ASCII characters is its own key', () => {
  for (const path of ['', 'a', 'dist/app.js', 'x_1-2.3/@scope/[id]/~tmp', '.github/workflows/ci.yml']) {
    expect(foldPath(path)).toBe(path);
  }
  // Every ASCII character but A-Z is left alone; A-Z become a-z.
  const ascii = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)).join('');
  expect(foldPath(ascii)).toBe(ascii.toLowerCase());
});
