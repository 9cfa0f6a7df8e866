/**
 * Appends query parameters to a signed URL as text, leaving the signature's own encoding
 * untouched: re-serialising it through URLSearchParams could rewrite `%3A` as `:` and some
 * stores compare the raw query.
 */
export function withQuery(signedUrl: string, params: Record<string, string>): string {
  const extra = Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const hashAt = signedUrl.indexOf('#');
  const base = hashAt === -1 ? signedUrl : signedUrl.slice(0, hashAt);
  return `${base}${base.includes('?') ? '&' : '?'}${extra}`;
}

/** Block ids must all have the same length; deriving them from the index makes a retry re-PUT the same id. */
export function blockId(index: number): string {
  return Buffer.from(`ferry-block-${String(index).padStart(10, '0')}`).toString('base64');
}

export function blockListXml(ids: readonly string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
}

export const AZURE_VERSION = '2024-11-04';
