import * as core from '@actions/core';
import os from 'node:os';
import path from 'node:path';
import { uploadArtifact, type UploadArtifactOptions } from '../client.js';
import { globFiles } from '../pack/glob.js';
import {
  booleanInput,
  choiceInput,
  compressionLevelInput,
  InputError,
  requiredInput,
  stringInput,
} from './inputs.js';
import { setArtifactOutputs } from './outputs.js';
import { retentionDays } from './retention.js';
import { actionOptions, formatBytes, type Env } from './runtime.js';
import { StepStats } from './stats-summary.js';

export const IF_NO_FILES_FOUND = ['warn', 'error', 'ignore'] as const;
export const SYMLINK_MODES = ['follow', 'preserve'] as const;

export interface UploadInputs {
  name: string;
  path: string;
  ifNoFilesFound: (typeof IF_NO_FILES_FOUND)[number];
  retentionDays: number | undefined;
  compressionLevel: number;
  overwrite: boolean;
  includeHiddenFiles: boolean;
  archive: boolean;
  preservePermissions: boolean;
  symlinks: (typeof SYMLINK_MODES)[number];
  allowSecrets: boolean;
}

/** Every input of upload-artifact v7 with its defaults, plus Ferry's extras; all validated up front. */
export function readUploadInputs(env: Env = process.env): UploadInputs {
  return {
    name: stringInput('name', 'artifact'),
    path: requiredInput('path'),
    ifNoFilesFound: choiceInput('if-no-files-found', IF_NO_FILES_FOUND, 'warn'),
    retentionDays: retentionDays(env),
    compressionLevel: compressionLevelInput(),
    overwrite: booleanInput('overwrite', false),
    includeHiddenFiles: booleanInput('include-hidden-files', false),
    archive: booleanInput('archive', true),
    preservePermissions: booleanInput('preserve-permissions', true),
    symlinks: choiceInput('symlinks', SYMLINK_MODES, 'follow'),
    allowSecrets: booleanInput('allow-secrets', false),
  };
}

/** `uses: ./` (upload): search → uploadArtifact → outputs. */
export async function runUpload(env: Env = process.env): Promise<void> {
  const inputs = readUploadInputs(env);

  const found = await globFiles(inputs.path, {
    cwd: process.cwd(),
    home: env['HOME'] || env['USERPROFILE'] || os.homedir(),
    includeHidden: inputs.includeHiddenFiles,
  });
  for (const link of found.skippedSymlinkDirectories) {
    core.info(`Not descending into symlinked directory ${link}`);
  }
  for (const link of found.brokenSymlinks) core.debug(`Skipping broken symlink ${link}`);
  for (const special of found.specialFiles) {
    core.warning(`Skipping ${special}: not a regular file (a FIFO, socket or device is never uploaded)`);
  }

  if (found.files.length === 0) {
    const message = `No files were found with the provided path: ${inputs.path}. No artifacts will be uploaded.`;
    switch (inputs.ifNoFilesFound) {
      case 'error':
        core.setFailed(message);
        return;
      case 'warn':
        core.warning(message);
        return;
      case 'ignore':
        core.info(message);
        return;
    }
  }

  const count = found.files.length;
  core.info(`With the provided path, there will be ${count} file${count === 1 ? '' : 's'} uploaded`);
  core.debug(`Root directory: ${found.rootDirectory}`);

  let name = inputs.name;
  if (!inputs.archive) {
    if (count > 1) {
      throw new InputError(
        'archive',
        `Input 'archive' is false, which uploads exactly one file, but the path matched ${count} files`,
      );
    }
    // Without an archive the artifact is named after the file (upload-artifact v7), and
    // `overwrite` replaces that name, not the `name` input.
    name = path.basename(found.files[0] as string);
    if (inputs.name !== 'artifact' && inputs.name !== name) {
      core.info(`Input 'name' is ignored with 'archive: false'; the artifact is named '${name}'`);
    }
  }

  const stats = new StepStats();
  const options: UploadArtifactOptions = {
    ...actionOptions(env),
    onStats: stats.onStats,
    compressionLevel: inputs.compressionLevel,
    ...(inputs.retentionDays !== undefined ? { retentionDays: inputs.retentionDays } : {}),
    ...(inputs.overwrite ? { overwrite: true } : {}),
    symlinks: inputs.symlinks,
    preservePermissions: inputs.preservePermissions,
    ...(inputs.allowSecrets ? { allowSecretsInFiles: true } : {}),
    ...(inputs.archive ? {} : { archive: false }),
    ...(inputs.archive && found.emptyDirectories.length ? { emptyDirectories: found.emptyDirectories } : {}),
  };
  const result = await uploadArtifact(name, found.files, found.rootDirectory, options);

  core.info(
    `Artifact ${name} has been successfully uploaded! Final size is ${result.uploadedBytes} bytes ` +
      `(${formatBytes(result.size)} in ${result.fileCount} file${result.fileCount === 1 ? '' : 's'}).` +
      (result.id !== undefined ? ` Artifact ID is ${result.id}` : ''),
  );
  setArtifactOutputs(env, result);
  if (result.digest) core.info(`Artifact ${name} SHA256 hash: ${result.digest.replace(/^sha256:/, '')}`);
  await stats.report(env, 'Ferry upload stats');
}
