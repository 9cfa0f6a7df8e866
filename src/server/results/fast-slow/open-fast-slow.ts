import type { EvictionPolicy } from '../../retention/eviction-policy.js';
import type { ServerMetrics } from '../../observe/server-metrics.js';
import type { AzureStoreSpec } from '../azure/azure-store.js';
import { ResultsLayout } from '../layout.js';
import type { ResultsService } from '../service.js';
import { UrlSigner } from '../signer.js';
import { FastCache } from './fast-cache.js';
import { cachedRead, derivedSigningKey, fastSlowStore, type CachedRead } from './fast-slow-store.js';

/** The fast half of a `fast_slow` store, as `ServerOptions.fastStore` takes it. */
export interface FastStoreSpec {
  /** The local directory of the cache (created if missing). */
  path: string;
  /** Bounds the cache; evicting removes only the cached copy. Default: nothing is evicted. */
  eviction?: EvictionPolicy | undefined;
}

/**
 * Puts the fast cache in front of an opened results store. The download URLs are signed with a
 * key every instance sharing the slow store has: the filesystem store's own signing key, or one
 * derived from the Azure account key. `legacyRead` reads the legacy protocol's files through the
 * same fast store (used when the slow store is a filesystem store, the only one legacy runs on).
 */
export async function openFastSlow(
  slow: ResultsService,
  spec: FastStoreSpec,
  source: { dataDir: string; azure: AzureStoreSpec | undefined; signedUrlTtlMs: number },
  metrics: ServerMetrics,
): Promise<{ results: ResultsService; legacyRead: CachedRead }> {
  const { azure } = source;
  const signer = azure
    ? UrlSigner.fromKey(
        derivedSigningKey(azure.account.accountKey, azure.container, azure.prefix),
        source.signedUrlTtlMs,
      )
    : await UrlSigner.open(new ResultsLayout(source.dataDir).keyFile, source.signedUrlTtlMs);
  // Read when an event fires, which is only after open() has returned (or during its first
  // eviction pass, when the gauge is set again just below).
  const ref: { cache?: FastCache } = {};
  const held = (): void => metrics.fastStoreHeld(ref.cache?.stats().bytes ?? 0);
  const cache = await FastCache.open(spec.path, spec.eviction ?? {}, {
    events: {
      hit: () => metrics.fastStore('hit'),
      miss: () => metrics.fastStore('miss'),
      fill: (bytes) => {
        metrics.fastStore('fill', 1, bytes);
        held();
      },
      evict: (entries, bytes) => {
        metrics.fastStore('evict', entries, bytes);
        held();
      },
      drop: () => {
        metrics.fastStore('drop');
        held();
      },
    },
  });
  ref.cache = cache;
  held();
  return {
    results: { store: fastSlowStore(slow.store, cache, signer), limits: slow.limits },
    legacyRead: cachedRead(cache),
  };
}
