import * as core from '@actions/core';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactInfo } from '../index.js';
import {
  downloadArtifact,
  isDigestMismatch,
  type DownloadArtifactOptions,
  type FindByOption,
} from '../client.js';
import { downloadMany, type DownloadedArtifact } from '../download-many.js';
import type { ArtifactClientOptions } from '../options.js';
import { artifactDirectory, windowsNameProblem } from '../artifact-directory.js';
import { compileNamePattern } from '../merge/name-pattern.js';
import {
  booleanInput,
  choiceInput,
  CONFLICT,
  DOWNLOAD_SYMLINKS,
  expandHome,
  idListInput,
  integerInput,
  InputError,
  optionalInput,
  rawInput,
} from './inputs.js';
import { actionOptions, formatBytes, mask, type Env } from './runtime.js';
import { StepStats } from './stats-summary.js';
import { printableText } from '../core/format.js';
import { FerryError, IntegrityError } from '../core/errors.js';

export const DIGEST_MISMATCH = ['ignore', 'info', 'warn', 'error'] as const;

/** Artifacts downloaded at the same time (each download has its own connections). */
export const DOWNLOAD_CONCURRENCY = 4;

/** The size bound of the `cache-path` cache (the SDK's cache.maxBytes): 10 GiB. */
export const DEFAULT_ACTION_CACHE_BYTES = 10 * 1024 ** 3;

export interface DownloadInputs {
  /** `cache-path`: the verified download cache's directory (shared by jobs on one runner). */
  cachePath: string | undefined;
  name: string | undefined;
  artifactIds: number[] | undefined;
  path: string;
  pattern: string | undefined;
  mergeMultiple: boolean;
  githubToken: string | undefined;
  repository: string | undefined;
  runId: string | undefined;
  /** `workflow`, `branch`, `workflow-event`, `workflow-conclusion`: the newest matching run instead of `run-id`. */
  latestRun: { workflow?: string; branch?: string; event?: string; conclusion?: string } | undefined;
  skipDecompress: boolean;
  digestMismatch: (typeof DIGEST_MISMATCH)[number];
  conflict: (typeof CONFLICT)[number];
  symlinks: (typeof DOWNLOAD_SYMLINKS)[number];
  /** `restore-modes`: archive permission bits under the umask (true) or default modes (false). */
  restoreModes: boolean;
  /** Zip-bomb limits from `max-entries`, `max-total-bytes`, `max-ratio` (unset: the SDK defaults). */
  limits: { maxEntries?: number; maxTotalBytes?: number; maxRatio?: number };
}

/** A positive whole-number input, or undefined when it is empty. */
function optionalLimitInput(name: string): number | undefined {
  if (rawInput(name) === '') return undefined;
  return integerInput(name, 0, 1, Number.MAX_SAFE_INTEGER, 'of at least 1');
}

/** Every input of download-artifact v8 with its defaults, plus Ferry's `conflict`. */
export function readDownloadInputs(env: Env): DownloadInputs {
  const name = optionalInput('name');
  const artifactIds = idListInput('artifact-ids');
  if (name !== undefined && artifactIds !== undefined) {
    throw new InputError(
      'artifact-ids',
      "Inputs 'name' and 'artifact-ids' cannot be used together; give one of them",
    );
  }
  const home = env['HOME'] || env['USERPROFILE'] || os.homedir();
  const rawPath = rawInput('path') || env['GITHUB_WORKSPACE'] || process.cwd();
  const githubToken = optionalInput('github-token');
  mask(githubToken);
  // 'repository' and 'run-id' are checked where they are used, with 'github-token' (findByFor):
  // without a token download-artifact ignores them, whatever they hold.
  const repository = optionalInput('repository') ?? env['GITHUB_REPOSITORY'];
  const runId = optionalInput('run-id') ?? env['GITHUB_RUN_ID'];
  const latestRun = latestRunInputs();
  const cachePath = optionalInput('cache-path');
  return {
    cachePath: cachePath === undefined ? undefined : path.resolve(expandHome(cachePath, home, 'cache-path')),
    name,
    artifactIds,
    path: path.resolve(expandHome(rawPath, home, 'path')),
    pattern: optionalInput('pattern'),
    mergeMultiple: booleanInput('merge-multiple', false),
    githubToken,
    repository,
    runId,
    latestRun,
    skipDecompress: booleanInput('skip-decompress', false),
    digestMismatch: choiceInput('digest-mismatch', DIGEST_MISMATCH, 'error'),
    conflict: choiceInput('conflict', CONFLICT, 'overwrite'),
    symlinks: choiceInput('symlinks', DOWNLOAD_SYMLINKS, 'refuse'),
    restoreModes: booleanInput('restore-modes', true),
    limits: limitInputs(),
  };
}

/** Set when any of the run-selecting inputs is: the newest run they match replaces `run-id`. */
function latestRunInputs(): DownloadInputs['latestRun'] {
  const workflow = optionalInput('workflow');
  const branch = optionalInput('branch');
  const event = optionalInput('workflow-event');
  const conclusion = optionalInput('workflow-conclusion');
  if (workflow === undefined && branch === undefined && event === undefined) {
    if (conclusion !== undefined) {
      throw new InputError(
        'workflow-conclusion',
        "Input 'workflow-conclusion' is used with 'workflow' or 'branch'",
      );
    }
    return undefined;
  }
  return {
    ...(workflow !== undefined ? { workflow } : {}),
    ...(branch !== undefined ? { branch } : {}),
    ...(event !== undefined ? { event } : {}),
    ...(conclusion !== undefined ? { conclusion } : {}),
  };
}

function limitInputs(): DownloadInputs['limits'] {
  const maxEntries = optionalLimitInput('max-entries');
  const maxTotalBytes = optionalLimitInput('max-total-bytes');
  const maxRatio = optionalLimitInput('max-ratio');
  return {
    ...(maxEntries !== undefined ? { maxEntries } : {}),
    ...(maxTotalBytes !== undefined ? { maxTotalBytes } : {}),
    ...(maxRatio !== undefined ? { maxRatio } : {}),
  };
}

/**
 * Cross-run / cross-repository mode (the SDK's `findBy`, REST API) when a token is given and the
 * requested repository or run is not the current one; the current run is read through the runtime
 * service as usual.
 */
export function findByFor(inputs: DownloadInputs, env: Env): FindByOption {
  const current =
    inputs.latestRun === undefined &&
    inputs.repository === env['GITHUB_REPOSITORY'] &&
    inputs.runId === env['GITHUB_RUN_ID'];
  if (!inputs.githubToken) {
    if (inputs.latestRun !== undefined) {
      throw new InputError(
        'github-token',
        "Inputs 'workflow' and 'branch' need 'github-token' (they read the runs API)",
      );
    }
    if (!current && (rawInput('repository') || rawInput('run-id'))) {
      core.warning(
        "Inputs 'repository' and 'run-id' are used only with 'github-token'; downloading from the current run",
      );
    }
    return {};
  }
  if (current) {
    core.debug("'github-token' given for the current run: using the runtime service");
    return {};
  }
  if (!inputs.repository)
    throw new InputError('repository', "Input 'repository' is required with 'github-token'");
  if (!/^[^/\s]+\/[^/\s]+$/.test(inputs.repository)) {
    throw new InputError('repository', `Input 'repository' must be 'owner/repo'; got '${inputs.repository}'`);
  }
  if (inputs.latestRun !== undefined) {
    return {
      findBy: {
        token: inputs.githubToken,
        repository: inputs.repository,
        ...inputs.latestRun,
        ...(env['GITHUB_API_URL'] ? { apiUrl: env['GITHUB_API_URL'] } : {}),
      },
    };
  }
  if (!inputs.runId || !/^\d+$/.test(inputs.runId)) {
    throw new InputError(
      'run-id',
      `Input 'run-id' must be a numeric workflow run id with 'github-token'; got '${inputs.runId ?? ''}'`,
    );
  }
  return {
    findBy: {
      token: inputs.githubToken,
      repository: inputs.repository,
      runId: inputs.runId,
      ...(env['GITHUB_API_URL'] ? { apiUrl: env['GITHUB_API_URL'] } : {}),
    },
  };
}

interface Planned {
  name: string;
  /** Undefined when downloading by name (the SDK resolves the newest artifact of that name). */
  id: number | undefined;
  target: string;
}

/** Sorted by name, then id: the order of the log and of writes into a shared directory. */
export function byNameThenId(
  a: { name: string; id: number | undefined },
  b: { name: string; id: number | undefined },
): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return (a.id ?? 0) - (b.id ?? 0);
}

/**
 * Where each artifact goes (download-artifact v8): straight into `path` for a download by name, a
 * single match, or `merge-multiple`; otherwise `path/<artifact name>`. Artifacts selected by id
 * that share a name are all kept: the newest goes to `<name>`, older ones to `<name>-<id>`.
 */
export function planTargets(
  selected: readonly ArtifactInfo[],
  root: string,
  mergeMultiple: boolean,
): Planned[] {
  const sorted = [...selected].sort(byNameThenId);
  if (mergeMultiple || sorted.length === 1)
    return sorted.map((a) => ({ name: a.name, id: a.id, target: root }));
  const newest = new Map<string, number | undefined>();
  for (const a of sorted) newest.set(a.name, a.id);
  const names = new Set(sorted.map((a) => a.name));
  return sorted.map((a) => {
    let directory = a.name;
    if (newest.get(a.name) !== a.id) {
      directory = `${a.name}-${a.id}`;
      if (names.has(directory)) {
        throw new FerryError(
          'ERR_FERRY_CONFLICT',
          `Artifacts ${a.id} and the artifact named '${directory}' would be downloaded into the same directory; use merge-multiple or select fewer artifacts`,
        );
      }
    }
    // Listed names are data: one safe directory name each, or nothing is downloaded. Names only
    // Windows cannot hold are refused on Windows and downloaded elsewhere, with a warning.
    const target = artifactDirectory(root, directory);
    const problem = process.platform === 'win32' ? undefined : windowsNameProblem(directory);
    if (problem !== undefined) {
      core.warning(
        `Artifact '${a.name}' is downloaded to ${target}, a directory that could not be created on Windows (${problem})`,
      );
    }
    return { name: a.name, id: a.id, target };
  });
}

/** `download/action.yml`: select → download (bounded, ordered) → `download-path`. */
export async function runDownload(env: Env = process.env): Promise<void> {
  const inputs = readDownloadInputs(env);
  const stats = new StepStats();
  const base: ArtifactClientOptions & FindByOption = {
    ...actionOptions(env),
    ...findByFor(inputs, env),
    onStats: stats.onStats,
    ...(inputs.cachePath !== undefined
      ? { cache: { path: inputs.cachePath, maxBytes: DEFAULT_ACTION_CACHE_BYTES } }
      : {}),
  };
  if (base.findBy) core.info(`Downloading from run ${inputs.runId} of ${inputs.repository} (REST API)`);
  core.debug(`Resolved path is ${inputs.path}`);

  let count: number;
  let mismatches: { name: string; id: number | undefined; error: Error }[] = [];
  if (inputs.name !== undefined) {
    if (inputs.pattern) core.info("Input 'pattern' is ignored because 'name' is set");
    core.info(`Downloading single artifact '${inputs.name}'`);
    count = 1;
    try {
      const result = await downloadArtifact(inputs.name, {
        ...base,
        ...downloadOptions(inputs),
        path: inputs.path,
      });
      report({ ...result, name: inputs.name, id: undefined }, inputs);
    } catch (error: unknown) {
      if (!(inputs.digestMismatch === 'error' && isDigestMismatch(error))) throw error;
      mismatches = [{ name: inputs.name, id: undefined, error }];
    }
  } else {
    const many = await downloadMany(
      {
        ...base,
        ...downloadOptions(inputs),
        path: inputs.path,
        artifactConcurrency: DOWNLOAD_CONCURRENCY,
      },
      {
        plan: (listed) => {
          const selected = select(inputs, listed);
          const planned = planTargets(selected, inputs.path, inputs.mergeMultiple);
          if (planned.length) {
            core.info('Preparing to download the following artifacts:');
            for (const p of planned)
              core.info(
                `- ${printableText(p.name)}${p.id !== undefined ? ` (ID: ${p.id})` : ''} → ${p.target}`,
              );
          }
          return planned.map((p) => ({
            artifact: selected.find((a) => a.name === p.name && a.id === p.id) as ArtifactInfo,
            target: p.target,
          }));
        },
        digestMismatch: inputs.digestMismatch === 'error' ? 'collect' : 'stop',
        onDownloaded: (artifact) => report(artifact, inputs),
      },
    );
    mismatches = many.mismatches;
    count = many.downloads.length;
  }
  if (mismatches.length) {
    for (const m of mismatches) core.error(m.error.message);
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Digest mismatch: ${mismatches.length} artifact${mismatches.length === 1 ? '' : 's'} did not match the digest the service listed and ${mismatches.length === 1 ? 'was' : 'were'} not written: ` +
        mismatches
          .map((m) => `'${printableText(m.name)}'${m.id !== undefined ? ` (ID ${m.id})` : ''}`)
          .join(', '),
    );
  }
  core.info(`Total of ${count} artifact(s) downloaded`);
  core.setOutput('download-path', inputs.path);
  core.info('Download artifact has finished successfully');
  await stats.report(env, 'Ferry download stats');
}

/** The artifacts the inputs select from the run's listing (every artifact, and the newest of each name). */
function select(
  inputs: DownloadInputs,
  listed: { all: readonly ArtifactInfo[]; latest: readonly ArtifactInfo[] },
): ArtifactInfo[] {
  if (inputs.artifactIds !== undefined) {
    core.info('Downloading artifacts by ID');
    // Every artifact, not only the newest of each name: an older id must not be dropped because
    // a newer artifact shares its name.
    const wanted = new Set(inputs.artifactIds);
    const found = listed.all.filter((a) => a.id !== undefined && wanted.has(a.id));
    if (found.length === 0) {
      throw new FerryError(
        'ERR_FERRY_NOT_FOUND',
        `None of the provided artifact IDs were found: ${inputs.artifactIds.join(', ')}`,
      );
    }
    const missing = inputs.artifactIds.filter((id) => !found.some((a) => a.id === id));
    if (missing.length) core.warning(`Could not find the following artifact IDs: ${missing.join(', ')}`);
    return found;
  }
  const all = listed.latest;
  core.debug(`Found ${all.length} artifact${all.length === 1 ? '' : 's'} in the run`);
  if (!inputs.pattern) {
    core.info("No input 'name', 'artifact-ids' or 'pattern' given: downloading all artifacts");
    if (!inputs.mergeMultiple && all.length > 1) {
      core.info('An extra directory with the artifact name will be created for each download');
    }
    return [...all];
  }
  core.info(`Filtering artifacts by pattern '${inputs.pattern}'`);
  const matches = compileNamePattern(inputs.pattern, 'pattern');
  const selected = all.filter((a) => matches(a.name));
  core.debug(`Filtered from ${all.length} to ${selected.length} artifact${selected.length === 1 ? '' : 's'}`);
  if (selected.length === 0) core.info(`No artifacts matched the pattern '${inputs.pattern}'`);
  return selected;
}

/** What every artifact of the step is downloaded with. */
function downloadOptions(inputs: DownloadInputs): DownloadArtifactOptions {
  return {
    ...(inputs.skipDecompress ? { skipDecompress: true } : {}),
    conflict: inputs.conflict,
    symlinks: inputs.symlinks,
    ...(inputs.restoreModes ? {} : { restoreModes: false }),
    ...(Object.keys(inputs.limits).length > 0 ? { limits: inputs.limits } : {}),
    // `error`: the SDK verifies before writing and refuses; otherwise write and report the mismatch.
    ...(inputs.digestMismatch === 'error' ? {} : { verifyDigest: false }),
  };
}

function report(
  item: Omit<DownloadedArtifact, 'digest'> & { digest?: string | undefined },
  inputs: DownloadInputs,
): void {
  const id = item.id !== undefined ? ` (ID ${item.id})` : '';
  core.info(
    `Artifact '${printableText(item.name)}'${id} downloaded to ${printableText(item.downloadPath)}: ${item.fileCount} file${item.fileCount === 1 ? '' : 's'}, ${formatBytes(item.size)}`,
  );
  if (item.digestMismatch) {
    const message =
      `Digest mismatch for artifact '${printableText(item.name)}'${id}: the service listed ${item.expectedDigest ?? 'a digest'} ` +
      `but the download hashes to ${item.digest ?? 'something else'}; written anyway (digest-mismatch: ${inputs.digestMismatch})`;
    if (inputs.digestMismatch === 'warn') core.warning(message);
    else if (inputs.digestMismatch === 'info') core.info(message);
    else core.debug(message);
  } else if (item.digest) {
    core.debug(`Artifact '${printableText(item.name)}'${id} digest ${item.digest}`);
  }
}
