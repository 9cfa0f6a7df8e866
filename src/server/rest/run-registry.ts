import { join } from 'node:path';
import type { RunConclusion, RunStatus } from '../../core/run-states.js';
import { readJsonFile, writeJsonAtomic } from '../util/atomic-file.js';
import { KeyedMutex } from '../util/keyed-mutex.js';

/**
 * What ferry serve knows about a workflow run: GitHub keeps this in its runs API; a local server
 * learns it from the runner (`ferry run record`, `PUT /_apis/ferry/runs/{run}`), so "the latest
 * successful run of build.yml on main" can be answered without GitHub.
 */
export interface RunRecord {
  /** The run id as artifacts name it (the results protocol's workflow_run_backend_id). */
  id: string;
  /** Workflow file path, e.g. `.github/workflows/build.yml`. */
  path: string;
  /** Display name of the workflow; defaults to the file name. */
  name: string;
  headBranch: string;
  headSha: string;
  event: string;
  /** `queued`, `in_progress` or `completed`. */
  status: RunStatus;
  /** Set once completed: `success`, `failure`, `cancelled`, ... */
  conclusion: RunConclusion | null;
  createdAt: string;
  updatedAt: string;
}

export interface RunFilter {
  /** Matches the workflow's file name (`build.yml`) or its path (`.github/workflows/build.yml`). */
  workflow?: string | undefined;
  branch?: string | undefined;
  event?: string | undefined;
  /** A status or a conclusion, as GitHub's `status` query parameter takes either. */
  status?: string | undefined;
}

/** Upper bound on remembered runs: the oldest are forgotten first (their artifacts stay). */
export const MAX_RUNS = 100_000;

const FILE = 'runs.json';

/** The runs table, one JSON file written atomically; reads are served from memory. */
export class RunRegistry {
  readonly #file: string;
  readonly #runs: Map<string, RunRecord>;
  readonly #mutex = new KeyedMutex();

  private constructor(file: string, runs: Map<string, RunRecord>) {
    this.#file = file;
    this.#runs = runs;
  }

  static async open(dataDir: string): Promise<RunRegistry> {
    const file = join(dataDir, FILE);
    const stored = await readJsonFile(file);
    const runs = new Map<string, RunRecord>();
    if (Array.isArray(stored)) {
      for (const run of stored as RunRecord[]) runs.set(run.id, run);
    }
    return new RunRegistry(file, runs);
  }

  get(id: string): RunRecord | undefined {
    return this.#runs.get(id);
  }

  /** Creates or updates a run; fields left out keep their recorded values. */
  async record(id: string, fields: Partial<Omit<RunRecord, 'id' | 'createdAt' | 'updatedAt'>>, now: Date) {
    return this.#mutex.run('runs', async () => {
      const time = now.toISOString();
      const before = this.#runs.get(id);
      const path = fields.path ?? before?.path ?? '';
      const run: RunRecord = {
        id,
        path,
        name: fields.name ?? before?.name ?? (path.split('/').pop() || ''),
        headBranch: fields.headBranch ?? before?.headBranch ?? '',
        headSha: fields.headSha ?? before?.headSha ?? '',
        event: fields.event ?? before?.event ?? '',
        status: fields.status ?? before?.status ?? 'in_progress',
        conclusion: fields.conclusion !== undefined ? fields.conclusion : (before?.conclusion ?? null),
        createdAt: before?.createdAt ?? time,
        updatedAt: time,
      };
      // Re-inserting moves the run to the end: the map stays in creation-or-update order.
      this.#runs.delete(id);
      this.#runs.set(id, run);
      while (this.#runs.size > MAX_RUNS) {
        const oldest = this.#runs.keys().next().value as string;
        this.#runs.delete(oldest);
      }
      await writeJsonAtomic(this.#file, [...this.#runs.values()]);
      return run;
    });
  }

  /** Matching runs, newest first (by creation time, then id), as GitHub lists them. */
  list(filter: RunFilter): RunRecord[] {
    const workflow = filter.workflow;
    return [...this.#runs.values()]
      .filter(
        (run) => workflow === undefined || run.path === workflow || run.path.split('/').pop() === workflow,
      )
      .filter((run) => filter.branch === undefined || run.headBranch === filter.branch)
      .filter((run) => filter.event === undefined || run.event === filter.event)
      .filter(
        (run) =>
          filter.status === undefined || run.status === filter.status || run.conclusion === filter.status,
      )
      .sort((a, b) =>
        a.createdAt === b.createdAt ? compareIds(b.id, a.id) : b.createdAt < a.createdAt ? -1 : 1,
      );
  }
}

/** Numeric ids compare as numbers, so run 10 is newer than run 9. */
function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}
