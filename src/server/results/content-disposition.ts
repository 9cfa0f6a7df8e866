/**
 * `attachment; filename="<ascii>"; filename*=UTF-8''<pct-encoded>` (RFC 6266 / 8187). Clients that
 * know `filename*` (toolkit ≥ 6.2.1) get the exact UTF-8 name; others get an ASCII fallback with
 * `_` for everything unsafe. `%` is replaced in the fallback too: the official client runs
 * `decodeURIComponent` on it, which throws on a stray `%`.
 */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/gu, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc8187(fileName)}`;
}

/** encodeURIComponent leaves `!'()*` alone; RFC 8187 attr-char does not allow `'()*`. */
function encodeRfc8187(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Zipped artifacts download as `<name>.zip`; raw ones (skipArchive) are named after their file. */
export function downloadName(name: string, contentType: string): string {
  const isZip = contentType.split(';', 1)[0]?.trim().toLowerCase() === 'application/zip';
  return isZip && !name.toLowerCase().endsWith('.zip') ? `${name}.zip` : name;
}
