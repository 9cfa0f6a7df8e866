/**
 * SDK messages give advice in terms of SDK options (`mergeMultiple`, `artifactIds`,
 * `limits.maxEntries`, `downloadArtifacts({...})`); in a step's log the advice must name what the
 * workflow author can change: the Action's inputs. Each rewrite below turns one piece of advice
 * the SDK can give into the same advice in terms of inputs; the messages themselves (what failed,
 * which artifact, which file) stay as they are. Then any remaining `option 'x'` that names an
 * option with an input is renamed. Rewriting at the edge keeps the SDK's messages right for SDK
 * callers and the Action's right for workflows; __tests__/action/hints.test.ts holds every piece
 * of advice the SDK gives, so a new one cannot slip through untranslated.
 */
export const REWRITES: ReadonlyArray<readonly [string, string]> = [
  [
    "select other artifacts (pattern, artifactIds) or use 'mergeMultiple'",
    "select other artifacts (input 'pattern' or 'artifact-ids') or set 'merge-multiple: true'",
  ],
  [
    "Use conflict 'overwrite' (the later artifact wins), 'skip' (the earlier one wins) or separateDirectories",
    "Set input 'conflict' to 'overwrite' (the later artifact wins) or 'skip' (the earlier one wins), or set 'separate-directories: true'",
  ],
  ['(set includeHiddenFiles to keep them)', "(set 'include-hidden-files: true' to keep them)"],
  ['Use separateDirectories or rename one of them', "Set 'separate-directories: true' or rename one of them"],
  ['use separateDirectories to merge them', "set 'separate-directories: true' to merge them"],
  [
    'Download the artifacts with downloadArtifacts({ mergeMultiple: true }) and upload the directory instead',
    "Download the artifacts with the download action ('merge-multiple: true') and upload the directory with the upload action instead",
  ],
  [
    "Use 'overwrite' to replace it or 'skip' to keep it (option 'conflict' of downloadArtifact, 'existing' of extractZip), or download into an empty directory",
    "Set input 'conflict' to 'overwrite' to replace it or 'skip' to keep it, or download into an empty 'path'",
  ],
  ["Set option 'symlinks' to", "Set input 'symlinks' to"],
  [
    'set allowSecretsInFiles (CLI --allow-secrets, Action input allow-secrets: true)',
    "set 'allow-secrets: true'",
  ],
  ['use overwrite to replace it', "set 'overwrite: true' to replace it"],
];

/** SDK option → the input that sets it. Options without an input are left alone. */
const INPUT_OF: Readonly<Record<string, string>> = {
  artifactIds: 'artifact-ids',
  mergeMultiple: 'merge-multiple',
  skipDecompress: 'skip-decompress',
  separateDirectories: 'separate-directories',
  includeHiddenFiles: 'include-hidden-files',
  deleteMerged: 'delete-merged',
  retentionDays: 'retention-days',
  compressionLevel: 'compression-level',
  allowSecretsInFiles: 'allow-secrets',
  preservePermissions: 'preserve-permissions',
  'limits.maxEntries': 'max-entries',
  'limits.maxTotalBytes': 'max-total-bytes',
  'limits.maxRatio': 'max-ratio',
  pattern: 'pattern',
  conflict: 'conflict',
  symlinks: 'symlinks',
  overwrite: 'overwrite',
};

const OPTION_REFERENCE = /\b[Oo]ption '([A-Za-z.]+)'/g;

/** `message` with its advice in terms of the Action's inputs. */
export function forAction(message: string): string {
  let out = message;
  for (const [sdk, action] of REWRITES) out = out.split(sdk).join(action);
  return out.replace(OPTION_REFERENCE, (whole, option: string) => {
    const input = INPUT_OF[option];
    return input === undefined ? whole : `${whole.startsWith('O') ? 'Input' : 'input'} '${input}'`;
  });
}
