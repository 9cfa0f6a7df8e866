/**
 * Files whose bytes are already compressed: gzipping them again costs CPU and saves nothing.
 */

/** The official client's exempt list (`@actions/artifact` 1.x upload-gzip.ts), in its order. */
export const OFFICIAL_GZIP_EXEMPT_EXTENSIONS: readonly string[] = [
  '.gz',
  '.gzip',
  '.tgz',
  '.taz',
  '.Z',
  '.taZ',
  '.bz2',
  '.tbz',
  '.tbz2',
  '.tz2',
  '.lz',
  '.lzma',
  '.tlz',
  '.lzo',
  '.xz',
  '.txz',
  '.zst',
  '.zstd',
  '.tzst',
  '.zip',
  '.7z',
];

/** Further formats that are compressed containers or compressed media. */
export const EXTRA_COMPRESSED_EXTENSIONS: readonly string[] = [
  // archives and packages (zip- or otherwise compressed containers)
  '.br',
  '.rar',
  '.cab',
  '.lz4',
  '.sz',
  '.jar',
  '.war',
  '.ear',
  '.aar',
  '.apk',
  '.aab',
  '.ipa',
  '.xpi',
  '.crx',
  '.vsix',
  '.nupkg',
  '.snupkg',
  '.whl',
  '.egg',
  '.gem',
  '.deb',
  '.rpm',
  '.snap',
  '.appimage',
  '.dmg',
  '.msi',
  '.squashfs',
  // office / document formats that are zip containers
  '.docx',
  '.xlsx',
  '.pptx',
  '.odt',
  '.ods',
  '.odp',
  '.epub',
  // images
  '.png',
  '.jpg',
  '.jpeg',
  '.gif',
  '.webp',
  '.avif',
  '.heic',
  '.heif',
  '.jxl',
  // audio / video
  '.mp3',
  '.aac',
  '.m4a',
  '.ogg',
  '.oga',
  '.opus',
  '.flac',
  '.mp4',
  '.m4v',
  '.mkv',
  '.webm',
  '.mov',
  '.avi',
  '.wmv',
  // fonts
  '.woff',
  '.woff2',
];

const ALL = new Set(
  [...OFFICIAL_GZIP_EXEMPT_EXTENSIONS, ...EXTRA_COMPRESSED_EXTENSIONS].map((e) => e.toLowerCase()),
);

/**
 * True when `fileName` (a base name or a path) ends in a known compressed extension, compared
 * case-insensitively (the official client compares case-sensitively, so it gzips `X.ZIP`).
 */
export function isAlreadyCompressed(fileName: string): boolean {
  const base = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot >= 0 && ALL.has(base.slice(dot).toLowerCase());
}
