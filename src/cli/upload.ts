import { printableText } from '../core/format.js';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { uploadArtifact, type UploadArtifactOptions } from '../client.js';
import { retentionLimitFromEnvironment } from '../environment.js';
import { FerryError } from '../core/errors.js';
import { normalizeOptions } from '../options.js';
import { validateArtifactName } from '../core/artifact-name.js';
import { escapeGlob, globFiles } from '../pack/glob.js';
import { booleanOption, choiceOption, numberOption, stringOption, UsageError, type Values } from './args.js';
import type { Connect } from './connection.js';
import { formatBytes, type CliOutput } from './output.js';
import { countOf } from './plural.js';

/** What happens when the paths match no file. The CLI fails by default; the Action warns. */
export const IF_NO_FILES_FOUND = ['error', 'warn', 'ignore'] as const;

/**
 * `ferry upload NAME PATH...`: each PATH is a line of upload-artifact's `path` input (the
 * Action's own search, src/pack/glob.ts): globs, `!` excludes, hidden files only when asked,
 * empty directories kept, the artifact root computed as upload-artifact computes it.
 */
export async function upload(
  positionals: string[],
  values: Values,
  connect: Connect,
  out: CliOutput,
): Promise<number> {
  const [givenName, ...paths] = positionals;
  if (!givenName || paths.length === 0)
    throw new UsageError('upload needs an artifact NAME and at least one PATH');
  const ifNoFilesFound = choiceOption(values, 'if-no-files-found', IF_NO_FILES_FOUND) ?? 'error';
  const symlinks = choiceOption(values, 'symlinks', ['follow', 'preserve'] as const);
  const preservePermissions = booleanOption(values, 'preserve-permissions');
  const archive = values['no-archive'] ? false : (booleanOption(values, 'archive') ?? true);
  const retention = retentionDays(values, out);
  const level = numberOption(values, 'compression-level');
  const chunk = numberOption(values, 'chunk-size');

  const found = await globFiles(paths.map(literalWhenItExists), {
    cwd: process.cwd(),
    home: process.env['HOME'] || process.env['USERPROFILE'] || os.homedir(),
    includeHidden: Boolean(values['include-hidden-files'] || values['include-hidden']),
  });
  for (const link of found.skippedSymlinkDirectories)
    out.logger.info(`Not descending into symlinked directory ${link}`);
  for (const link of found.brokenSymlinks) out.logger.warn(`Skipping broken symlink ${printableText(link)}`);
  for (const special of found.specialFiles) {
    out.logger.warn(
      `Skipping ${printableText(special)}: not a regular file (a FIFO, socket or device is never uploaded)`,
    );
  }
  if (found.files.length === 0) {
    const message = `No files were found with the provided path: ${paths.join(' ')}. No artifact was uploaded.`;
    if (ifNoFilesFound === 'error') {
      throw new FerryError('ERR_FERRY_NO_FILES', message, {
        context: { operation: 'upload', artifactName: givenName },
      });
    }
    if (ifNoFilesFound === 'warn') out.logger.warn(message);
    else out.logger.info(message);
    out.result({ command: 'upload', artifactName: givenName, fileCount: 0, uploaded: false }, message);
    return 0;
  }

  let name = givenName;
  if (!archive) {
    if (found.files.length > 1) {
      throw new UsageError(
        `--archive false uploads exactly one file, but the paths matched ${countOf(found.files.length, 'file')}`,
      );
    }
    // As upload-artifact v7: without an archive the artifact is named after the file.
    name = path.basename(found.files[0] as string);
    if (name !== givenName)
      out.logger.info(`With --archive false the artifact is named '${name}', not '${givenName}'`);
  }
  validateArtifactName(name);
  const root = stringOption(values, 'root');
  const rootDirectory = root === undefined ? found.rootDirectory : path.resolve(root);
  // Empty directories come relative to the search root; --root moves the artifact's root.
  const emptyDirectories = found.emptyDirectories.map((d) =>
    path.relative(rootDirectory, path.join(found.rootDirectory, d)).split(path.sep).join('/'),
  );
  const started = Date.now();
  const tuning = {
    ...(retention !== undefined ? { retentionDays: retention } : {}),
    ...(level !== undefined ? { compressionLevel: level } : {}),
    ...(chunk !== undefined ? { chunkSize: chunk } : {}),
  };
  // The SDK's own checks (naming the option) before the first request, the --url probe included.
  normalizeOptions(tuning);
  const uploadOptions: UploadArtifactOptions = {
    ...(await connect()),
    ...tuning,
    ...(values['overwrite'] ? { overwrite: true } : {}),
    ...(archive ? {} : { archive: false }),
    ...(symlinks !== undefined ? { symlinks } : {}),
    ...(preservePermissions !== undefined ? { preservePermissions } : {}),
    ...(values['allow-secrets'] ? { allowSecretsInFiles: true } : {}),
    ...(archive && emptyDirectories.length ? { emptyDirectories } : {}),
  };
  const result = await uploadArtifact(name, found.files, rootDirectory, uploadOptions);
  const seconds = (Date.now() - started) / 1000;
  out.result(
    { command: 'upload', ...result, seconds },
    `uploaded ${printableText(name)}: ${countOf(result.fileCount, 'file')}, ${formatBytes(result.size)} (${formatBytes(result.uploadedBytes)} sent) in ${seconds.toFixed(1)} s via ${result.backend}`,
  );
  return 0;
}

/**
 * A PATH the shell already expanded may name a file such as `x[1].txt`, which as a pattern
 * would match `x1.txt` instead. A PATH that exists on disk exactly as written is taken
 * literally; anything else (a quoted glob, an exclude) is a pattern.
 */
function literalWhenItExists(input: string): string {
  if (!/[[\]*?]/.test(input) || input.startsWith('!') || input.startsWith('#')) return input;
  return existsSync(path.resolve(input)) ? escapeGlob(input) : input;
}

/** `--retention-days`, capped at the repository's limit (GITHUB_RETENTION_DAYS) with a warning, as the Action does. */
function retentionDays(values: Values, out: CliOutput): number | undefined {
  const days = numberOption(values, 'retention-days');
  const limit = retentionLimitFromEnvironment(process.env);
  if (days !== undefined && limit !== undefined && limit > 0 && days > limit) {
    out.logger.warn(
      `--retention-days ${days} exceeds the repository's limit of ${countOf(limit, 'day')}; using ${limit}`,
    );
    return limit;
  }
  return days;
}
