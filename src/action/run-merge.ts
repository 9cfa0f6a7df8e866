import * as core from '@actions/core';
import { mergeArtifacts } from '../merge/index.js';
import { booleanInput, choiceInput, compressionLevelInput, CONFLICT, stringInput } from './inputs.js';
import { setArtifactOutputs } from './outputs.js';
import { retentionDays } from './retention.js';
import { actionOptions, formatBytes, type Env } from './runtime.js';
import { StepStats } from './stats-summary.js';
import { printableText } from '../core/format.js';

export interface MergeInputs {
  name: string;
  pattern: string;
  separateDirectories: boolean;
  retentionDays: number | undefined;
  compressionLevel: number;
  deleteMerged: boolean;
  includeHiddenFiles: boolean;
  conflict: (typeof CONFLICT)[number];
}

/** Every input of upload-artifact/merge v7 with its defaults, plus Ferry's `conflict`. */
export function readMergeInputs(env: Env = process.env): MergeInputs {
  return {
    name: stringInput('name', 'merged-artifacts'),
    pattern: stringInput('pattern', '*'),
    separateDirectories: booleanInput('separate-directories', false),
    retentionDays: retentionDays(env),
    compressionLevel: compressionLevelInput(),
    deleteMerged: booleanInput('delete-merged', false),
    includeHiddenFiles: booleanInput('include-hidden-files', false),
    conflict: choiceInput('conflict', CONFLICT, 'overwrite'),
  };
}

/** `merge/action.yml`: mergeArtifacts → outputs. */
export async function runMerge(env: Env = process.env): Promise<void> {
  const inputs = readMergeInputs(env);
  core.info(`Merging artifacts matching '${inputs.pattern}' into '${inputs.name}'`);
  const stats = new StepStats();
  const result = await mergeArtifacts(inputs.name, {
    ...actionOptions(env),
    onStats: stats.onStats,
    pattern: inputs.pattern,
    separateDirectories: inputs.separateDirectories,
    deleteMerged: inputs.deleteMerged,
    conflict: inputs.conflict,
    includeHiddenFiles: inputs.includeHiddenFiles,
    compressionLevel: inputs.compressionLevel,
    ...(inputs.retentionDays !== undefined ? { retentionDays: inputs.retentionDays } : {}),
  });
  core.info(
    `Merged ${result.merged.length} artifact${result.merged.length === 1 ? '' : 's'} (${result.merged.map(printableText).join(', ')}) ` +
      `into '${inputs.name}': ${result.fileCount} file${result.fileCount === 1 ? '' : 's'}, ${formatBytes(result.size)}` +
      (result.id !== undefined ? `, artifact ID ${result.id}` : ''),
  );
  if (inputs.deleteMerged)
    core.info(`Deleted the merged artifacts: ${result.merged.map(printableText).join(', ')}`);
  setArtifactOutputs(env, result);
  await stats.report(env, 'Ferry merge stats');
}
