import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from './errors.js';
import type { UploadFile } from './backends/backend.js';
import { validateFilePath } from './pack/validate.js';

/**
 * Maps the caller's file list onto artifact paths under `rootDirectory`. Every file must be a
 * regular file inside the root (checked on path segments, so `/w/abc` is not inside `/w/ab`);
 * every artifact path must be valid and unique.
 */
export async function resolveUploadFiles(
  artifactName: string,
  files: readonly string[],
  rootDirectory: string,
): Promise<UploadFile[]> {
  const root = path.resolve(rootDirectory);
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_PATH',
      `Root directory '${rootDirectory}' does not exist or is not a directory`,
      {
        artifactName,
        option: 'rootDirectory',
      },
    );
  }
  const seen = new Map<string, string>();
  const out: UploadFile[] = [];
  for (const file of files) {
    const absolutePath = path.resolve(root, file);
    const relative = path.relative(root, absolutePath);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_PATH',
        `File '${file}' is not inside the root directory '${root}'`,
        {
          artifactName,
          file,
        },
      );
    }
    const info = await stat(absolutePath).catch((error: unknown) => {
      throw new ValidationError(
        'ERR_FERRY_INVALID_PATH',
        `File '${file}' cannot be read: ${(error as Error).message}`,
        {
          artifactName,
          file,
        },
      );
    });
    if (info.isDirectory()) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_PATH',
        `'${file}' is a directory; pass the files inside it`,
        {
          artifactName,
          file,
        },
      );
    }
    if (!info.isFile()) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_PATH',
        `'${file}' is not a regular file (FIFO, socket or device)`,
        {
          artifactName,
          file,
        },
      );
    }
    const artifactPath = relative.split(path.sep).join('/');
    validateFilePath(artifactPath);
    const previous = seen.get(artifactPath);
    if (previous !== undefined) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_PATH',
        `'${file}' and '${previous}' map to the same artifact path '${artifactPath}'`,
        {
          artifactName,
          file,
        },
      );
    }
    seen.set(artifactPath, file);
    out.push({ absolutePath, artifactPath });
  }
  return out;
}
