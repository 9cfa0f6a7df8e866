import { discardBody } from '../../transport/body.js';
import { checkCredentialedUrl } from '../../transport/url-policy.js';
import type { RequestSpec } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';
import { stat } from 'node:fs/promises';
import { FerryError, isFerryError, type ErrorContext } from '../../core/errors.js';
import { crc64Base64 } from '../../pack/crc64.js';
import { md5Base64 } from '../../pack/digest.js';
import { ChunkReader } from '../../pack/chunk-reader.js';
import { chunkRanges, contentRange, preparePayload, type Payload } from '../../pack/gzip-payload.js';
import type { OperationContext, UploadFile, UploadResult, UploadSpec } from '../backend.js';
import { sourceChanged } from '../source-changed.js';
import { runWorkers } from '../workers.js';
import { API_VERSION, type LegacyConfig, UPLOAD_USER_AGENT } from './contracts.js';
import { ArtifactService } from './artifact-service.js';
import { itemUrlBuilder } from './urls.js';

export { UPLOAD_USER_AGENT };

/**
 * Legacy upload (protocol.md A3): create the container, PUT every file in Content-Range chunks
 * from as many workers as the manager has slots, then PATCH the total size. Unlike the official
 * client, a file that fails fails the upload and the size is never PATCHed, so a partial
 * artifact is never presented as complete.
 */
export async function uploadLegacy(
  config: LegacyConfig,
  spec: UploadSpec,
  ctx: OperationContext,
): Promise<UploadResult> {
  const { http, operation, logger } = ctx;
  const context = { operation: 'upload', artifactName: spec.name };
  const bearer = config.token ? config.token : undefined;

  const service = new ArtifactService(config, ctx);
  const created = await service.create(spec.name, spec.retentionDays, context);
  const containerUrl = created.fileContainerResourceUrl;
  if (!containerUrl) {
    throw new FerryError(
      'ERR_FERRY_PROTOCOL',
      'The artifact service returned no fileContainerResourceUrl to upload to',
      {
        context,
      },
    );
  }

  // Every chunk PUT carries the runtime token: only to the runtime origin (or a trusted one).
  checkCredentialedUrl(containerUrl, config, 'the fileContainerResourceUrl', context);

  if (spec.files.some((f) => f.symlinkTarget !== undefined)) {
    // The file-container protocol has no notion of a link: store what the links point to.
    logger.warn('The legacy artifact protocol cannot store symlinks; uploading the files they point to');
  }
  const totalOriginal = spec.files.reduce((sum, f) => sum + f.size, 0);
  let uploadedBytes = 0;
  let originalDone = 0;
  let filesDone = 0;
  const progress = (): void =>
    ctx.onProgress?.({
      operation: 'upload',
      artifactName: spec.name,
      phase: 'transfer',
      bytesDone: originalDone,
      bytesTotal: totalOriginal,
      filesDone,
      filesTotal: spec.files.length,
    });

  const itemUrl = itemUrlBuilder(containerUrl);
  const uploadFile = async (file: UploadFile, slot: number): Promise<void> => {
    const fileContext = { ...context, file: file.artifactPath };
    const scan = spec.secretScan?.file(file.artifactPath);
    const payload = await preparePayload(file.absolutePath, {
      tempDir: spec.tempDir,
      level: spec.compressionLevel,
      signal: operation.signal,
      file: file.artifactPath,
      scan,
    }).catch((error: unknown) => {
      throw isFerryError(error)
        ? error
        : new FerryError('ERR_FERRY_SOURCE_UNREADABLE', `Cannot read '${file.absolutePath}'`, {
            cause: error,
            context: fileContext,
          });
    });
    // A raw payload is the file itself: its chunks are searched as they are read, before each PUT.
    const onRead =
      scan && !payload.gzip ? (start: number, chunk: Buffer) => scan.feed(start, chunk) : undefined;
    const reader = payload.kind === 'file' ? new ChunkReader(payload.path, fileContext, onRead) : undefined;
    try {
      // PATCH reports the sizes listed before Create: a file that shrank or grew since then
      // changed under the upload (reliability plan item 14).
      if (payload.originalSize !== file.size) {
        throw sourceChanged(file, `${payload.originalSize} when read`, fileContext);
      }
      const total = payloadLength(payload);
      const url = itemUrl(`${spec.name}/${file.artifactPath}`);
      const ranges = chunkRanges(total, spec.chunkSize);
      const load = (index: number): Promise<{ chunk: Buffer; headers: Record<string, string> }> => {
        const range = ranges[index] as { start: number; end: number };
        const bytes =
          payload.kind === 'memory'
            ? Promise.resolve(payload.data.subarray(range.start, range.end + 1))
            : (reader as ChunkReader).read(range.start, range.end - range.start + 1);
        return bytes.then((chunk) => ({
          chunk,
          headers: chunkHeaders(payload, range.start, range.end, total, chunk),
        }));
      };
      // Chunks of one file go strictly in order (servers such as act append them), but the next
      // chunk is read and hashed while the current one is on the wire.
      let next = load(0);
      for (let index = 0; index < ranges.length; index++) {
        const { chunk, headers } = await next;
        const sent = http.request(
          chunkRequest(operation, bearer, slot, url, headers, chunk, fileContext),
          discardBody,
        );
        if (index + 1 < ranges.length) {
          next = load(index + 1);
          // Keep a read error from surfacing as an unhandled rejection while the PUT runs.
          next.catch(() => undefined);
        }
        await sent;
        uploadedBytes += chunk.length;
      }
      if (payload.kind === 'file' && !payload.gzip) {
        // Raw chunks are read by range: bytes appended while they were sent would go unseen.
        const after = await stat(file.absolutePath).catch(() => undefined);
        if (after?.size !== file.size) {
          const now = after === undefined ? 'gone' : String(after.size);
          throw sourceChanged(file, `${now} after it was sent`, fileContext);
        }
      }
      originalDone += payload.originalSize;
      filesDone++;
      progress();
      logger.debug(
        `uploaded ${file.artifactPath} (${payload.originalSize} bytes${payload.gzip ? `, gzip ${total}` : ''})`,
      );
    } finally {
      await reader?.close();
      if (payload.kind === 'file') await payload.cleanup();
    }
  };

  await runWorkers(spec.files, http.slots, ctx, uploadFile);

  ctx.onProgress?.({
    operation: 'upload',
    artifactName: spec.name,
    phase: 'finalize',
    bytesDone: originalDone,
    bytesTotal: totalOriginal,
    filesDone,
    filesTotal: spec.files.length,
  });
  await service.finalize(spec.name, totalOriginal, context);
  return {
    id:
      typeof created.containerId === 'number'
        ? created.containerId
        : Number(created.containerId) || undefined,
    uploadedBytes,
    size: totalOriginal,
    fileCount: spec.files.length,
    digest: undefined,
  };
}

function chunkHeaders(
  payload: Payload,
  start: number,
  end: number,
  total: number,
  chunk: Buffer,
): Record<string, string> {
  const headers: Record<string, string> = {
    accept: `application/json;api-version=${API_VERSION}`,
    'content-type': 'application/octet-stream',
    connection: 'Keep-Alive',
    'keep-alive': '10',
    'content-range': contentRange(start, end, total),
    'x-actions-results-crc64': crc64Base64(chunk),
    'x-actions-results-md5': md5Base64(chunk),
  };
  if (payload.gzip) {
    headers['content-encoding'] = 'gzip';
    headers['x-tfs-filelength'] = String(payload.originalSize);
  }
  return headers;
}

function payloadLength(payload: Payload): number {
  return payload.kind === 'memory' ? payload.data.length : payload.size;
}

/**
 * The PUT of one chunk, built property by property. A spread of the shared fields
 * (`{ ...common, slot, ... }`, as this was written before) made V8 promote ~1.1 KiB per file out
 * of the young generation (a 20,000-file upload: 2.29 KiB promoted per file with it, 1.16
 * without, the rest being the resolved file list, which stays live), and promoted garbage is what
 * set the peak RSS of a 100,000-file upload (issue 12 item 5).
 */
function chunkRequest(
  operation: Operation,
  bearer: string | undefined,
  slot: number,
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  context: ErrorContext,
): RequestSpec {
  const spec: RequestSpec = {
    operation,
    slot,
    phase: 'transfer',
    method: 'PUT',
    url,
    headers,
    body,
    context,
  };
  if (bearer !== undefined) spec.bearer = bearer;
  return spec;
}
