import path from 'node:path';

/**
 * The file name a raw (non-zip) artifact is saved under: `filename*=UTF-8''…` preferred over
 * `filename="…"`, percent-decoding that never throws, then reduced to a safe base name. A name
 * that is empty, `.`/`..`, or would need a directory falls back to `fallback`.
 */
export function fileNameFromDisposition(header: string | undefined, fallback: string): string {
  const candidates: string[] = [];
  if (header) {
    const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
    if (extended?.[1]) candidates.push(safeDecode(extended[1].trim()));
    const plain = /filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;]+)/.exec(header);
    const value = plain?.[1] ?? plain?.[2];
    if (value) candidates.push(value.trim());
  }
  for (const candidate of candidates) {
    const safe = sanitizeBaseName(candidate);
    if (safe) return safe;
  }
  return sanitizeBaseName(fallback) ?? 'artifact';
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

export function sanitizeBaseName(name: string): string | undefined {
  const base = path.posix.basename(name.replace(/\\/g, '/'));
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').replace(/[. ]+$/, '');
  if (
    !cleaned ||
    cleaned === '.' ||
    cleaned === '..' ||
    WINDOWS_RESERVED.test(cleaned) ||
    cleaned.length > 255
  )
    return undefined;
  return cleaned;
}
