/**
 * How a case-insensitive or normalising file system (macOS, Windows) compares two paths: NFC
 * normalisation, then lower case. Paths equal here overwrite each other there, so uploads,
 * extraction, merge and the legacy listing check all compare names through this one function.
 *
 * A path with no upper-case ASCII letter and nothing outside ASCII is its own fold and is
 * returned as it is: `normalize` and `toLowerCase` always allocate a new string, and the folded
 * keys of a 100,000-file artifact are kept in a map for the whole check (~5 MiB of copies).
 */
export function foldPath(path: string): string {
  return NEEDS_FOLDING.test(path) ? path.normalize('NFC').toLowerCase() : path;
}

/** Upper-case ASCII, or anything outside ASCII (whose normalisation or case may differ). */
const NEEDS_FOLDING = /[A-Z\u0080-\uffff]/;
