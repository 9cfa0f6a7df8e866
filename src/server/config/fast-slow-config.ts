import { FerryError } from '../../core/errors.js';
import type { EvictionPolicy } from '../retention/eviction-policy.js';

/** A `fast_slow` store as written: the names of its two stores, and where it was written. */
export interface FastSlowReference {
  fast: string;
  slow: string;
  /** `stores.NAME.fast_slow`: the key path errors name. */
  at: string;
}

/** The fast half of a resolved `fast_slow` store: a local directory caching the slow store's reads. */
export interface FastStoreConfig {
  path: string;
  eviction: EvictionPolicy | undefined;
}

/** What a store name resolves to while references are followed. */
export type StoreEntry =
  | { kind: 'filesystem'; path: string; eviction: EvictionPolicy | undefined }
  | { kind: 'azure_blob' }
  | { kind: 'fast_slow'; ref: FastSlowReference };

/** Checks `{"fast": NAME, "slow": NAME}`; the names are resolved once every store is read. */
export function fastSlowReference(value: unknown, at: string): FastSlowReference {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError(at, 'must be a JSON object with "fast" and "slow" (names of stores)');
  }
  const spec = value as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (key !== 'fast' && key !== 'slow')
      throw configError(`${at}.${key}`, 'unknown key; expected one of fast, slow');
  }
  const name = (key: 'fast' | 'slow'): string => {
    const given = spec[key];
    if (typeof given !== 'string' || given === '') {
      throw configError(`${at}.${key}`, 'must be the name of a store in "stores"');
    }
    return given;
  };
  return { fast: name('fast'), slow: name('slow'), at };
}

/**
 * Follows a `fast_slow` store's references. The fast store must be a filesystem store (the
 * cache is files on a local disk); the slow store is a filesystem or azure_blob store, the source
 * of truth. A chain of references that comes back to a store already on it is a cycle, named
 * with its path; a fast_slow behind another is refused (one cache level in this version).
 */
export function resolveFastSlow(
  ref: FastSlowReference,
  stores: ReadonlyMap<string, StoreEntry>,
  self: string,
): { fast: FastStoreConfig; slowName: string } {
  const lookup = (name: string, at: string): StoreEntry => {
    const entry = stores.get(name);
    if (!entry) throw configError(at, `no store named ${JSON.stringify(name)}`);
    return entry;
  };
  const fast = lookup(ref.fast, `${ref.at}.fast`);
  if (ref.fast === self || ref.slow === self) {
    const key = ref.fast === self ? 'fast' : 'slow';
    throw configError(`${ref.at}.${key}`, `a cycle: ${self} -> ${self}`);
  }
  // Every chain is followed before the kinds are judged, so a cycle is reported as one.
  const chain = [self];
  let next: FastSlowReference | undefined = ref;
  let nextAt = `${ref.at}.slow`;
  while (next) {
    const name: string = next.slow;
    if (chain.includes(name)) throw configError(nextAt, `a cycle: ${[...chain, name].join(' -> ')}`);
    chain.push(name);
    const entry = lookup(name, nextAt);
    next = entry.kind === 'fast_slow' ? entry.ref : undefined;
    nextAt = next ? `${next.at}.slow` : nextAt;
  }
  if (fast.kind !== 'filesystem') {
    throw configError(
      `${ref.at}.fast`,
      `must name a filesystem store (the local cache); ${JSON.stringify(ref.fast)} is ${fast.kind}`,
    );
  }
  const slow = lookup(ref.slow, `${ref.at}.slow`);
  if (slow.kind === 'fast_slow') {
    throw configError(
      `${ref.at}.slow`,
      `must name a filesystem or azure_blob store; ${JSON.stringify(ref.slow)} is another fast_slow (one cache level is supported)`,
    );
  }
  if (slow.kind === 'filesystem' && slow.path === fast.path) {
    throw configError(`${ref.at}.fast`, 'the fast and slow stores must be different directories');
  }
  return { fast: { path: fast.path, eviction: fast.eviction }, slowName: ref.slow };
}

function configError(at: string, problem: string): FerryError {
  return new FerryError('ERR_FERRY_CONFIG', `${at}: ${problem}`, { context: { option: at } });
}
