import type { ContainerClient } from '@azure/storage-blob';
import {
  filterRuns,
  MAX_RUNS,
  mergeRun,
  type RunFields,
  type RunFilter,
  type RunRecord,
  type RunRegistry,
} from '../../rest/run-registry.js';
import {
  decodeMetaRecord,
  hex,
  isConflict,
  readSmallJson,
  writeSmallJson,
  type Timed,
} from './small-json.js';

/** Gives up after this many lost races in a row (only under a storm of updates of one run). */
const MAX_ATTEMPTS = 50;
/** Metadata key holding the run, so one List Blobs call returns every run. */
const RUN_META = 'ferryrun';
/** A run record is a handful of fields of at most 512 characters each (runs-routes.ts). */
const MAX_RUN_META = 16_384;

/**
 * The runs table of an azure_blob store (`ferry run record`, `PUT /_apis/ferry/runs/{run}`), in
 * the container so that every instance answers the runs API alike: one blob per run,
 * `workflow-runs/<hex run id>`, read and written back with If-Match on its ETag (If-None-Match: *
 * for a new run), so two instances recording one run at once both land, merged field by field.
 * The run also rides in the blob's metadata: a list is one List Blobs call per 5,000 runs, read
 * fresh each time (a run recorded on one instance is listed on the other at once).
 */
export class AzureRunRegistry implements RunRegistry {
  readonly #container: ContainerClient;
  readonly #prefix: string;
  readonly #time: Timed;

  constructor(container: ContainerClient, prefix: string, time: Timed) {
    this.#container = container;
    this.#prefix = `${prefix}workflow-runs/`;
    this.#time = time;
  }

  async record(id: string, fields: RunFields, now: Date): Promise<RunRecord> {
    const blob = this.#container.getBlockBlobClient(`${this.#prefix}${hex(id)}`);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await readSmallJson(blob, this.#time);
      const run = mergeRun(id, isRun(current?.value) ? current.value : undefined, fields, now);
      try {
        await writeSmallJson(blob, this.#time, 'write_record', run, {
          conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
          metadataKey: RUN_META,
        });
        return run;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
      }
    }
    throw new Error(`could not record workflow run after ${MAX_ATTEMPTS} concurrent attempts`);
  }

  async list(filter: RunFilter): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    await this.#time('list_runs', async () => {
      for await (const item of this.#container.listBlobsFlat({
        prefix: this.#prefix,
        includeMetadata: true,
      })) {
        const run = decodeMeta(item.metadata?.[RUN_META]);
        if (run) runs.push(run);
        // The same bound as a filesystem registry's: a container full of runs cannot exhaust memory.
        if (runs.length >= MAX_RUNS) break;
      }
    });
    return filterRuns(runs, filter);
  }
}

function decodeMeta(value: string | undefined): RunRecord | undefined {
  return decodeMetaRecord(value, MAX_RUN_META, isRun);
}

function isRun(value: unknown): value is RunRecord {
  const run = value as Partial<RunRecord> | null | undefined;
  return (
    typeof run === 'object' &&
    run !== null &&
    typeof run.id === 'string' &&
    typeof run.path === 'string' &&
    typeof run.headBranch === 'string' &&
    typeof run.createdAt === 'string' &&
    typeof run.status === 'string'
  );
}
