import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { inspect } from 'node:util';

/**
 * Recognisable secrets the reliability cases run with. Every failing case asserts that none of
 * them shows up in output, messages, JSON.stringify or util.inspect of what was thrown (I6).
 * The token is a JWT-shaped string so code paths that parse it still work.
 */
export const SENTINEL = {
  /** Not a real JWT signature: only the shape matters. */
  tokenSignature: 'SENTINELtokenSIGNATURE0123456789abcdef',
  sasSignature: 'SENTINELsasSIG%2Bzz0123456789abcdef%3D',
  proxyPassword: 'SENTINEL-proxy-p@ss:w%rd',
  githubToken: 'ghp_SENTINELgithubTOKEN0123456789abcdef',
} as const;

/** The values a leak would contain (decoded and encoded forms of each secret). */
export function sentinelNeedles(): string[] {
  const values = Object.values(SENTINEL);
  const needles = new Set<string>();
  for (const v of values) {
    needles.add(v);
    needles.add(encodeURIComponent(v));
    needles.add(decodeURIComponentSafe(v));
  }
  // The distinctive core survives any encoding of the whole value.
  needles.add('SENTINELtokenSIGNATURE');
  needles.add('SENTINELsasSIG');
  needles.add('SENTINELgithubTOKEN');
  needles.add('p@ss:w%rd');
  return [...needles];
}

function decodeURIComponentSafe(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Renders anything the way a user or a log could see it. */
export function everyRendering(value: unknown): string {
  if (typeof value === 'string') return value;
  const parts: string[] = [];
  try {
    parts.push(JSON.stringify(value) ?? '');
  } catch {
    // circular: inspect still shows it
  }
  parts.push(inspect(value, { depth: 10, showHidden: true }));
  if (value instanceof Error) {
    parts.push(String(value), value.stack ?? '');
  }
  return parts.join('\n');
}

/** Throws (with the offending needle, not the context) when any rendering contains a sentinel. */
export function expectNoSecrets(...values: unknown[]): void {
  const needles = sentinelNeedles();
  for (const value of values) {
    const text = everyRendering(value);
    for (const needle of needles) {
      if (text.includes(needle)) {
        throw new Error(`secret leaked: output contains ${JSON.stringify(needle.slice(0, 12))}…`);
      }
    }
  }
}

export type TreeEntry = { type: 'file'; sha256: string } | { type: 'dir' } | { type: 'link'; target: string };

/**
 * Every entry under `dir` (links not followed), by '/'-separated relative path. Compare a
 * before/after pair to prove containment (I1) and atomic visibility (I2).
 */
export async function snapshotTree(dir: string): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  async function walk(current: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(current);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const full = path.join(current, name);
      const rel = path.relative(dir, full).split(path.sep).join('/');
      const stat = await lstat(full);
      if (stat.isSymbolicLink()) out[rel] = { type: 'link', target: await readlink(full) };
      else if (stat.isDirectory()) {
        out[rel] = { type: 'dir' };
        await walk(full);
      } else
        out[rel] = {
          type: 'file',
          sha256: createHash('sha256')
            .update(await readFile(full))
            .digest('hex'),
        };
    }
  }
  await walk(dir);
  return out;
}
