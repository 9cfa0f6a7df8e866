import { printableText } from '../core/format.js';
import path from 'node:path';
import { downloadArtifact, type DownloadArtifactOptions } from '../client.js';
import { downloadArtifacts, type DownloadArtifactsOptions } from '../download-many.js';
import { validateArtifactName } from '../core/artifact-name.js';
import { normalizeLimits } from '../pack/zip/limits.js';
import { choiceOption, numberOption, stringOption, UsageError, type Values } from './args.js';
import type { Connect } from './connection.js';
import { formatBytes, type CliOutput } from './output.js';
import { countOf } from './plural.js';

export const DIGEST_MISMATCH = ['ignore', 'info', 'warn', 'error'] as const;
const CONFLICT = ['error', 'overwrite', 'skip'] as const;

/** One downloaded artifact, as reported. */
interface Downloaded {
  name: string;
  id?: number | undefined;
  downloadPath: string;
  fileCount: number;
  size: number;
  digestMismatch?: boolean;
  expectedDigest?: string | undefined;
  digest?: string | undefined;
}

/**
 * `ferry download [NAME...]`, like download-artifact and `gh run download`: one NAME goes
 * straight into --path; several names (positional or `-n`), `--pattern`, `--artifact-ids` or no
 * name at all (every artifact of the run) go to `--path/<artifact name>`, or all into --path
 * with `--merge-multiple`. Several artifacts are the SDK's `downloadArtifacts`.
 */
export async function download(
  positionals: string[],
  values: Values,
  connect: Connect,
  out: CliOutput,
): Promise<number> {
  const names = [...new Set([...positionals, ...((values['name'] as string[] | undefined) ?? [])])];
  const pattern = stringOption(values, 'pattern');
  const ids = artifactIds(values);
  if (ids !== undefined && (names.length > 0 || pattern !== undefined)) {
    throw new UsageError('--artifact-ids selects artifacts by itself; give no NAME and no --pattern with it');
  }
  const artifactId = numberOption(values, 'artifact-id');
  const mergeMultiple = Boolean(values['merge-multiple']);
  const digestMismatch = choiceOption(values, 'digest-mismatch', DIGEST_MISMATCH) ?? 'error';
  for (const name of names) validateArtifactName(name);
  const limits = limitsOption(values);
  // The SDK's checks (naming `limits.<field>`) before the first request, the --url probe included.
  if (limits.limits) normalizeLimits(limits.limits);
  const conflict = choiceOption(values, 'conflict', CONFLICT);
  const symlinks = symlinkOption(values);
  const [single] = names;
  const byName = single !== undefined && names.length === 1 && pattern === undefined && !mergeMultiple;
  if (!byName && artifactId !== undefined) {
    throw new UsageError('--artifact-id goes with exactly one NAME; use --artifact-ids to select by id');
  }
  const common: DownloadArtifactOptions = {
    ...(await connect()),
    path: path.resolve(stringOption(values, 'path') ?? process.cwd()),
    ...(values['skip-decompress'] ? { skipDecompress: true } : {}),
    ...(values['no-restore-modes'] ? { restoreModes: false } : {}),
    ...symlinks,
    ...limits,
    // `error`: the SDK verifies before writing and throws; otherwise write, then report here.
    ...(digestMismatch === 'error' ? {} : { verifyDigest: false }),
  };
  const started = Date.now();

  let downloads: Downloaded[];
  if (byName) {
    // By name, as download-artifact's `name`: the newest artifact of that name, into --path.
    const result = await downloadArtifact(single as string, {
      ...common,
      ...(artifactId !== undefined ? { artifactId } : {}),
      ...(conflict !== undefined ? { conflict } : {}),
    });
    downloads = [{ name: single as string, ...result }];
  } else {
    const many: DownloadArtifactsOptions = {
      ...common,
      ...(names.length > 0 ? { names } : {}),
      ...(pattern !== undefined ? { pattern } : {}),
      ...(ids !== undefined ? { artifactIds: ids } : {}),
      ...(mergeMultiple ? { mergeMultiple: true } : {}),
      // download-artifact's merge-multiple: the later artifact (by name, then id) wins a shared path.
      ...(conflict !== undefined ? { conflict } : mergeMultiple ? { conflict: 'overwrite' as const } : {}),
    };
    downloads = (await downloadArtifacts(many)).downloads;
  }
  const seconds = (Date.now() - started) / 1000;
  reportMismatches(downloads, digestMismatch, out);
  const lines = downloads.map(
    (d) =>
      `downloaded ${printableText(d.name)}: ${countOf(d.fileCount, 'file')}, ${formatBytes(d.size)} to ${printableText(d.downloadPath)}`,
  );
  out.result(
    { command: 'download', downloads, seconds },
    lines.length
      ? `${lines.join('\n')}${lines.length > 1 ? `\n${countOf(lines.length, 'artifact')} in ${seconds.toFixed(1)} s` : ` in ${seconds.toFixed(1)} s`}`
      : 'no artifacts downloaded',
  );
  return 0;
}

/** `--artifact-ids 12,34`: positive whole numbers, comma-separated. */
function artifactIds(values: Values): number[] | undefined {
  const raw = stringOption(values, 'artifact-ids');
  if (raw === undefined) return undefined;
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const ids = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  if (ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id < 1)) {
    throw new UsageError(
      `--artifact-ids must be comma-separated artifact ids (positive numbers); got '${raw}'`,
    );
  }
  return ids;
}

function symlinkOption(values: Values): Pick<DownloadArtifactOptions, 'symlinks'> {
  const symlinks = choiceOption(values, 'symlinks', ['refuse', 'file', 'preserve'] as const);
  return symlinks === undefined ? {} : { symlinks };
}

/** Zip-bomb limits (validated by the SDK, naming `limits.<field>`). */
function limitsOption(values: Values): Pick<DownloadArtifactOptions, 'limits'> {
  const maxEntries = numberOption(values, 'max-entries');
  const maxTotalBytes = numberOption(values, 'max-total-bytes');
  const maxRatio = numberOption(values, 'max-ratio');
  const limits = {
    ...(maxEntries !== undefined ? { maxEntries } : {}),
    ...(maxTotalBytes !== undefined ? { maxTotalBytes } : {}),
    ...(maxRatio !== undefined ? { maxRatio } : {}),
  };
  return Object.keys(limits).length > 0 ? { limits } : {};
}

/** `--digest-mismatch warn|info|ignore`: the artifact was written; say so at that level. */
function reportMismatches(
  downloads: readonly Downloaded[],
  policy: (typeof DIGEST_MISMATCH)[number],
  out: CliOutput,
): void {
  for (const d of downloads) {
    if (!d.digestMismatch) continue;
    const message = `Digest mismatch for artifact '${d.name}': the service listed ${d.expectedDigest ?? 'a digest'} but the download hashes to ${d.digest ?? 'something else'}; written anyway (--digest-mismatch ${policy})`;
    if (policy === 'warn') out.logger.warn(message);
    else if (policy === 'info') out.logger.info(message);
    else out.logger.debug(message);
  }
}
