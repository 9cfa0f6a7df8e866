import { readdir } from 'node:fs/promises';
import { readAll } from '../listing/read-all.js';
import type { ListingSource } from '../listing/listing-index.js';
import { readJsonFile } from '../util/atomic-file.js';
import { isArtifactRecord, type ArtifactRecord } from './artifact-store.js';
import type { LegacyLayout } from './layout.js';

/** Every container of the filesystem legacy store, read from its `artifact.json`. */
export function legacyListingSource(layout: LegacyLayout): ListingSource<ArtifactRecord> {
  return {
    async loadAll() {
      const ids = (await readdir(layout.containersDir)).filter((entry) => /^\d+$/.test(entry));
      return readAll(ids, async (id) => {
        // A directory without artifact.json is a create that crashed half-way: not an artifact.
        const record: unknown = await readJsonFile(layout.artifactFile(Number(id))).catch(() => undefined);
        return isArtifactRecord(record) ? record : undefined;
      });
    },
  };
}
