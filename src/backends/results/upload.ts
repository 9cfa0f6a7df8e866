import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { FerryError, type ErrorContext } from '../../core/errors.js';
import { createZipStream, type ZipEntryInfo, type ZipInput } from '../../pack/zip-writer/index.js';
import type { OperationContext, UploadFile, UploadResult, UploadSpec } from '../backend.js';
import { sourceChanged } from '../source-changed.js';
import { ArtifactService } from './artifact-service.js';
import { uploadBlob } from './blob-upload.js';
import type { ResultsConfig } from './contracts.js';
import { mimeTypeFor } from './mime.js';

/** Uploads `spec.files` as one zip (or, with `archive: false`, the single file as it is). */
export async function uploadResults(
  config: ResultsConfig,
  spec: UploadSpec,
  ctx: OperationContext,
): Promise<UploadResult> {
  const archive = spec.archive ?? true;
  if (!archive && spec.files.length !== 1) {
    throw new FerryError(
      'ERR_FERRY_INVALID_PATH',
      `Uploading without an archive takes exactly one file; got ${spec.files.length}`,
      {
        context: { operation: 'upload', artifactName: spec.name },
      },
    );
  }
  // Without an archive the artifact is the file itself and carries the file's name, as upload-artifact does.
  const single = spec.files[0];
  const name = archive || !single ? spec.name : path.posix.basename(single.artifactPath);
  return send(
    config,
    {
      name,
      contentType: archive || !single ? 'application/zip' : mimeTypeFor(single.artifactPath),
      retentionDays: spec.retentionDays,
      overwrite: spec.overwrite ?? false,
      totalOriginal: sumSizes(spec),
      fileCount: spec.files.length,
      replayable: true,
      open: async (onEntry) =>
        archive
          ? createZipStream(zipInputs(spec), {
              level: spec.compressionLevel,
              signal: ctx.operation.signal,
              onEntry: checkListedSizes(spec, onEntry),
              ...(spec.secretScan ? { secretScan: spec.secretScan } : {}),
            })
          : scanned(
              spec,
              exactlyListedSize(
                single as UploadFile,
                // One byte past the listed size is enough to see that the file grew.
                createReadStream((single as UploadFile).absolutePath, {
                  highWaterMark: 1024 * 1024,
                  end: (single as UploadFile).size,
                }),
              ),
            ),
    },
    ctx,
  );
}

/**
 * Uploads a zip of `inputs` (files, directories, links, and `stream` entries, e.g. entries read
 * straight out of other zips) as artifact `name`, with the same create → blob upload → finalize
 * as {@link upload}. The inputs are validated before anything is created.
 */
export async function uploadResultsStream(
  config: ResultsConfig,
  name: string,
  inputs: readonly ZipInput[],
  options: { retentionDays: number | undefined; compressionLevel: number; overwrite?: boolean },
  ctx: OperationContext,
): Promise<UploadResult> {
  let totalOriginal = 0;
  let fileCount = 0;
  for (const input of inputs) {
    if (input.kind === 'directory') continue;
    fileCount++;
    if (input.kind === 'stream') totalOriginal += input.size;
    else if (input.kind === 'file') totalOriginal += (await stat(input.sourcePath)).size;
  }
  let onEntryHook: (() => void) | undefined;
  // Built now so that invalid inputs throw before CreateArtifact; nothing is read until consumed.
  const zip = createZipStream(inputs, {
    level: options.compressionLevel,
    signal: ctx.operation.signal,
    onEntry: () => onEntryHook?.(),
  });
  try {
    return await send(
      config,
      {
        name,
        contentType: 'application/zip',
        retentionDays: options.retentionDays,
        overwrite: options.overwrite ?? false,
        totalOriginal,
        fileCount,
        open: (onEntry) => {
          onEntryHook = onEntry;
          return Promise.resolve(zip);
        },
      },
      ctx,
    );
  } finally {
    if (!zip.destroyed) zip.destroy();
  }
}

/** The shared tail of every upload: (overwrite) → CreateArtifact → blob upload → FinalizeArtifact. */
async function send(
  config: ResultsConfig,
  upload: PreparedUpload,
  ctx: OperationContext,
): Promise<UploadResult> {
  const { name, contentType } = upload;
  const context: ErrorContext = { operation: 'upload', artifactName: name };
  const service = new ArtifactService(config, ctx);
  if (upload.overwrite) await service.deleteIfPresent(name);

  const signedUrl = await service.create(name, contentType, upload.retentionDays, context);
  try {
    return await transferAndFinalize(upload, signedUrl, service, ctx, context);
  } catch (error: unknown) {
    await service.abandon(name, context);
    throw error;
  }
}

async function transferAndFinalize(
  upload: PreparedUpload,
  signedUrl: string,
  service: ArtifactService,
  ctx: OperationContext,
  context: ErrorContext,
): Promise<UploadResult> {
  const { name, contentType, totalOriginal, fileCount } = upload;
  let filesDone = 0;
  const source = await upload.open(() => {
    filesDone++;
  });
  const blob = await uploadBlob(signedUrl, source, {
    http: ctx.http,
    operation: ctx.operation,
    context,
    contentType,
    reopen: upload.replayable ? () => upload.open(() => undefined) : undefined,
    onBytes: (staged) =>
      ctx.onProgress?.({
        operation: 'upload',
        artifactName: name,
        phase: 'transfer',
        bytesDone: Math.min(staged, totalOriginal),
        bytesTotal: totalOriginal,
        filesDone,
        filesTotal: fileCount,
      }),
  });
  ctx.onProgress?.({
    operation: 'upload',
    artifactName: name,
    phase: 'finalize',
    bytesDone: totalOriginal,
    bytesTotal: totalOriginal,
    filesDone: fileCount,
    filesTotal: fileCount,
  });
  const digest = `sha256:${blob.sha256}`;
  if (blob.size === 0) ctx.logger.warn(`Artifact '${name}' is empty: no data was uploaded`);
  const id = await service.finalize(name, blob.size, digest, context);
  return { id, uploadedBytes: blob.size, size: totalOriginal, fileCount, digest };
}

interface PreparedUpload {
  name: string;
  contentType: string;
  retentionDays: number | undefined;
  overwrite: boolean;
  /** Sum of the original sizes, for progress and the result. */
  totalOriginal: number;
  fileCount: number;
  /** Opens the bytes to upload (after CreateArtifact); `onEntry` counts finished files for progress. */
  open: (onEntry: () => void) => Promise<Readable>;
  /** `open` may be called again for the same bytes (lets the blob upload re-stage after InvalidBlockList). */
  replayable?: boolean;
}

/**
 * The file of an `archive: false` upload, failing with ERR_FERRY_SOURCE_CHANGED when it does not
 * hold exactly the bytes it had when listed (the zip path checks each entry the same way), so
 * the blob is never committed nor the artifact finalized.
 */
function exactlyListedSize(file: UploadFile, source: Readable): Readable {
  let seen = 0;
  const changed = (): FerryError =>
    sourceChanged(file, `${seen > file.size ? 'more' : seen} when read`, { file: file.artifactPath });
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > file.size ? changed() : null, chunk);
    },
    flush(done) {
      done(seen === file.size ? null : changed());
    },
  });
  source.once('error', (error) => check.destroy(error));
  return source.pipe(check);
}

/** The single file of an `archive: false` upload, searched by the secret scan as it streams. */
function scanned(spec: UploadSpec, source: Readable): Readable {
  const file = spec.files[0];
  return spec.secretScan && file ? spec.secretScan.file(file.artifactPath).stream(source) : source;
}

/**
 * Wraps a zip entry callback: an entry whose size differs from the size the file had when it was
 * listed fails the stream with ERR_FERRY_SOURCE_CHANGED, so the blob is never committed nor the
 * artifact finalized (reliability plan item 14: a file that shrank or grew under the upload).
 */
function checkListedSizes(spec: UploadSpec, next: () => void): (info: ZipEntryInfo) => void {
  // Entries finish in the order of the inputs (zipInputs: the files in order, then empty
  // directories), so a cursor over the files finds each one without a map of 100,000 names.
  const files = spec.files;
  let cursor = 0;
  return (info) => {
    const file = files[cursor];
    if (file !== undefined && file.artifactPath === info.name) {
      cursor++;
      if (file.symlinkTarget === undefined && file.size !== info.uncompressedSize) {
        throw sourceChanged(file, `${info.uncompressedSize} when read`, { file: file.artifactPath });
      }
    }
    next();
  };
}

function sumSizes(spec: UploadSpec): number {
  return spec.files.reduce((total, f) => total + f.size, 0);
}

/** The mode written to the zip: the file's own, or the conventional 0644/0755 when asked to normalise. */
function storedMode(mode: number, spec: UploadSpec): number {
  if (spec.preservePermissions ?? true) return mode & 0o777;
  return mode & 0o111 ? 0o755 : 0o644;
}

function zipInputs(spec: UploadSpec): ZipInput[] {
  const inputs: ZipInput[] = spec.files.map((file) =>
    file.symlinkTarget !== undefined
      ? { kind: 'symlink', name: file.artifactPath, target: file.symlinkTarget }
      : {
          kind: 'file',
          sourcePath: file.absolutePath,
          name: file.artifactPath,
          mode: storedMode(file.mode, spec),
        },
  );
  for (const dir of spec.emptyDirectories ?? []) inputs.push({ kind: 'directory', name: dir });
  return inputs;
}
