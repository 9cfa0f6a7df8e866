import { readdir } from 'node:fs/promises';
import { readAll } from '../listing/read-all.js';
import type { ListingSource } from '../listing/listing-index.js';
import { readJsonFile } from '../util/atomic-file.js';
import { isArtifact, type ResultsArtifact } from './artifact-index.js';
import type { ResultsLayout } from './layout.js';

/** The finalized artifacts of the filesystem results store, read from their record files. */
export function resultsListingSource(layout: ResultsLayout): ListingSource<ResultsArtifact> {
  return {
    async loadAll() {
      const ids = (await readdir(layout.artifactsDir))
        .map((entry) => /^(\d+)\.json$/.exec(entry)?.[1])
        .filter((id): id is string => id !== undefined);
      return readAll(ids, async (id) => {
        // A record deleted between the directory read and this one is simply not listed.
        const record: unknown = await readJsonFile(layout.artifactFile(Number(id))).catch(() => undefined);
        return isArtifact(record) && record.finalized !== null ? record : undefined;
      });
    },
  };
}
