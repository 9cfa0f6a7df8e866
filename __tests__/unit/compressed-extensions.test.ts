import {
  EXTRA_COMPRESSED_EXTENSIONS,
  isAlreadyCompressed,
  OFFICIAL_GZIP_EXEMPT_EXTENSIONS,
} from '../../src/pack/compressed-extensions.js';

describe('isAlreadyCompressed', () => {
  it('contains the official exempt list exactly, in order', () => {
    expect(OFFICIAL_GZIP_EXEMPT_EXTENSIONS).toEqual(
      '.gz .gzip .tgz .taz .Z .taZ .bz2 .tbz .tbz2 .tz2 .lz .lzma .tlz .lzo .xz .txz .zst .zstd .tzst .zip .7z'.split(
        ' ',
      ),
    );
  });

  it.each(OFFICIAL_GZIP_EXEMPT_EXTENSIONS.map((e) => [e]))('exempts the official extension %s', (ext) => {
    expect(isAlreadyCompressed(`file${ext}`)).toBe(true);
  });

  it.each([
    'a.png',
    'a.jpg',
    'a.jpeg',
    'a.gif',
    'a.webp',
    'a.mp4',
    'a.mkv',
    'a.mp3',
    'a.jar',
    'a.whl',
    'a.apk',
    'a.br',
    'a.rar',
    'a.woff2',
    'a.avif',
    'a.heic',
  ])('exempts common compressed formats: %s', (name) => {
    expect(isAlreadyCompressed(name)).toBe(true);
  });

  it('compares case-insensitively', () => {
    expect(isAlreadyCompressed('BUILD.ZIP')).toBe(true);
    expect(isAlreadyCompressed('photo.JPG')).toBe(true);
    expect(isAlreadyCompressed('x.Tar.Gz')).toBe(true);
    expect(isAlreadyCompressed('old.z')).toBe(true);
  });

  it('looks only at the last extension of the base name', () => {
    expect(isAlreadyCompressed('dist/app.tar.gz')).toBe(true);
    expect(isAlreadyCompressed('dist\\app.7z')).toBe(true);
    expect(isAlreadyCompressed('archive.zip.txt')).toBe(false);
    expect(isAlreadyCompressed('dir.zip/readme')).toBe(false);
    expect(isAlreadyCompressed('dir.zip\\readme')).toBe(false);
  });

  it('does not exempt text, binaries or names without an extension', () => {
    for (const name of [
      'a.txt',
      'a.js',
      'a.json',
      'a.tar',
      'a.exe',
      'a.so',
      'Makefile',
      'zip',
      'gz',
      'a.',
      '',
    ]) {
      expect(isAlreadyCompressed(name)).toBe(false);
    }
  });

  it('extra list entries all start with a dot and are lowercase', () => {
    for (const ext of EXTRA_COMPRESSED_EXTENSIONS) expect(ext).toMatch(/^\.[a-z0-9]+$/);
  });
});
