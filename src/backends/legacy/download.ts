import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FerryError, IntegrityError, isFerryError, type ErrorContext } from '../../core/errors.js';
import {
  compareExisting,
  conflictError,
  digestRegularFile,
  type ConflictPolicy,
  type ExpectedContent,
} from '../../pack/conflict.js';
import { asResourceError, findResourceFailure } from '../../pack/fs-errors.js';
import { HeldTarget, type HeldStaging } from '../../pack/held-target.js';
import { removeCreatedChain } from '../../pack/remove-created.js';
import { gunzipSmallSync, isSmallFile, writeSmallFileSync } from '../../pack/small-files.js';
import { printable } from '../../core/format.js';
import { normalizeLimits } from '../../pack/zip/limits.js';
import { checkCredentialedUrl } from '../../transport/url-policy.js';
import { streamContainerItems } from './container-items.js';
import { assertNoSymlinkInPath } from '../../pack/safe-path.js';
import type { DownloadResult, DownloadSpec, OperationContext } from '../backend.js';
import { StalledTransferError, watchThroughput, type StallPolicy } from '../../transport/stall-watchdog.js';
import { runWorkers } from '../workers.js';
import { API_VERSION, type ArtifactResponse, type LegacyConfig } from './contracts.js';
import { LegacyDownloadPlan, type PlannedFile } from './download-plan.js';
import { checkFinalized, checkReceived, LegacyListingCheck, type ListedFile } from './listing-check.js';
import { itemUrl, itemUrlBuilder, jsonHeaders } from './urls.js';
import { LegacyWriteLimits, type FileMeter } from './write-limits.js';

/**
 * Legacy download (protocol.md A4). An artifact that was never finalized is refused; every item
 * of the listing is checked (paths, types, status, lengths, the download limits) before anything
 * is written; files land in a staging directory inside the target and are moved into place only
 * after all of them arrived intact, each exactly its listed length and together at least the
 * artifact's finalized size, so a failed download leaves the target as it was.
 */
export async function downloadLegacy(
  config: LegacyConfig,
  artifact: ArtifactResponse,
  spec: DownloadSpec,
  ctx: OperationContext,
): Promise<DownloadResult> {
  const { http, operation } = ctx;
  const context: ErrorContext = { operation: 'download', artifactName: spec.name };
  const bearer = config.token ? { bearer: config.token } : {};
  const limits = normalizeLimits(spec.limits);
  checkFinalized(artifact, context);
  // The token goes only where the runtime URL (or a trusted origin) is: checked before each use.
  const containerUrl = checkCredentialedUrl(
    artifact.fileContainerResourceUrl,
    config,
    'the fileContainerResourceUrl',
    context,
  );
  const target = path.resolve(spec.targetDirectory);
  // Everything the listing says is checked before anything is created, the target included.
  // The listing goes straight into the plan's columns: no object per file is kept (download-plan.ts).
  const plan: LegacyDownloadPlan = await http.request(
    {
      ...bearer,
      slot: 0,
      method: 'GET',
      url: itemUrl(containerUrl, spec.name),
      headers: jsonHeaders,
      operation,
      context,
      call: 'list container items',
    },
    // A fresh check and plan for every attempt: a retried listing starts from nothing.
    (res) =>
      readListing(
        res,
        http,
        context,
        new LegacyListingCheck(spec.name, target, limits, context, artifact.fileContainerResourceUrl),
        new LegacyDownloadPlan(`${spec.name}/`, itemUrlBuilder(containerUrl), target),
        (file) =>
          checkCredentialedUrl(
            file.url,
            config,
            `the contentLocation of ${printable(file.artifactPath)}`,
            context,
          ),
        artifact.size,
      ),
  );
  const createdTarget = await mkdir(target, { recursive: true });
  // The target is held open from here on: staging writes and moves into place address names
  // relative to held directories, so a directory swapped for a link cannot redirect a file.
  let held: HeldTarget | undefined;
  let staging: HeldStaging | undefined;
  try {
    held = HeldTarget.open(target, { context });
    staging = held.createStaging('.ferry-staging-');
    plan.start(staging);
    // Files by index: the worker pool walks these, and each file is a view made when it is worked on.
    const indexes = new Uint32Array(plan.count).map((_, index) => index);
    const writeLimits = new LegacyWriteLimits(spec.name, limits, context);
    let bytesDone = 0;
    let filesDone = 0;
    const bytesTotal = plan.listedBytes();
    await runWorkers(indexes, http.slots, ctx, async (index, slot) => {
      const file = plan.file(index);
      if (file.length === 0) {
        writeSmallFileSync(file.staging, new Uint8Array(0), { replace: true });
      } else {
        const bytes = await http.request(
          {
            ...bearer,
            slot,
            phase: 'transfer',
            method: 'GET',
            url: file.url,
            headers: {
              'content-type': 'application/json',
              connection: 'Keep-Alive',
              'keep-alive': '10',
              'accept-encoding': 'gzip',
              accept: `application/octet-stream;api-version=${API_VERSION}`,
            },
            operation,
            context: { ...context, file: file.artifactPath },
          },
          (res) =>
            saveResponse(res, file, spec.name, http.stallPolicy, (gzip) => writeLimits.meter(file, gzip)),
        );
        bytesDone += bytes;
        file.written = bytes;
      }
      filesDone++;
      ctx.onProgress?.({
        operation: 'download',
        artifactName: spec.name,
        phase: 'transfer',
        bytesDone,
        bytesTotal,
        filesDone,
        filesTotal: plan.count,
      });
    });
    // Items without a listed length were not part of the check before the download.
    checkReceived(spec.name, artifact.size, plan.writtenBytes(), plan.count, 'sent', context);
    await spec.beforeWrite?.();
    const placed = await placeFiles(plan, held, spec.conflict ?? 'overwrite', context);
    return { downloadPath: target, fileCount: placed.files, size: placed.bytes };
  } catch (error: unknown) {
    // A failed download leaves the target as it found it: directories it created go again
    // (rmdir only removes empty ones, so nothing moved into place is ever lost).
    staging?.remove();
    staging = undefined;
    held?.close();
    held = undefined;
    if (createdTarget !== undefined) await removeCreatedChain(target, path.resolve(createdTarget));
    throw error;
  } finally {
    staging?.remove();
    held?.close();
  }
}

/**
 * Moves the staged files into place under the conflict policy, each relative to its held parent
 * directory (HeldTarget). A checking pass runs first, so under `'error'` nothing is moved when any
 * existing file differs (identical ones are left as they are); under `'error'` and `'skip'` a
 * file is placed with link(2), never replacing one that appeared since the check. Returns the
 * files placed.
 */
async function placeFiles(
  plan: LegacyDownloadPlan,
  held: HeldTarget,
  policy: ConflictPolicy,
  context: ErrorContext,
): Promise<{ files: number; bytes: number }> {
  const target = held.root;
  /** Indexes of the files left as they are (an identical or, under 'skip', any existing file). */
  const keep = new Set<number>();
  // A link already on the way is refused up front with a message naming it (once per
  // directory). A directory swapped for a link later cannot redirect anything: placement goes
  // through held directory descriptors, and a level first opened after the swap is refused.
  const checked = new Set<string>();
  for (let index = 0; index < plan.count; index++) {
    const file = plan.file(index);
    const dir = path.dirname(file.destination);
    if (!checked.has(dir)) {
      await assertNoSymlinkInPath(target, dir, context);
      checked.add(dir);
    }
    if (policy === 'overwrite') continue;
    const state =
      held.directory(parentKey(file.key)) === undefined
        ? 'missing'
        : await compareExisting(held.entry(file.key), await stagedContent(file));
    if (state === 'missing') continue;
    if (state === 'different' && policy === 'error') {
      throw conflictError(file.artifactPath, printable(target), { ...context, file: file.artifactPath });
    }
    // A directory there fails below, when the file is moved, as before.
    if (state !== 'directory') keep.add(index);
  }
  const placed = { files: 0, bytes: 0 };
  for (let index = 0; index < plan.count; index++) {
    if (keep.has(index)) continue;
    const file = plan.file(index);
    held.ensureDirectory(parentKey(file.key));
    let moved = true;
    try {
      if (policy === 'overwrite') held.renameIn(file.staging, file.key);
      else moved = await held.linkIn(file.staging, file.key);
    } catch (error: unknown) {
      if (isFerryError(error)) throw error;
      throw new FerryError(
        'ERR_FERRY_INVALID_PATH',
        `Cannot place '${file.artifactPath}' at ${file.destination}`,
        {
          cause: error,
          context: { ...context, file: file.artifactPath },
        },
      );
    }
    if (moved) {
      placed.files++;
      placed.bytes += file.written;
    } else if (policy === 'error') {
      // Appeared since the check (another writer): identical bytes are fine.
      const content = await stagedContent(file);
      const state = await compareExisting(held.entry(file.key), content);
      if (state !== 'identical') {
        throw conflictError(file.artifactPath, printable(target), { ...context, file: file.artifactPath });
      }
    }
  }
  return placed;
}

function parentKey(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

/** What a staged file would put at its destination, for `compareExisting`. */
async function stagedContent(file: PlannedFile): Promise<ExpectedContent> {
  return {
    size: (await stat(file.staging)).size,
    sha256: async () => (await digestRegularFile(file.staging))?.sha256 ?? '',
  };
}

/**
 * Reads the container listing as a stream (container-items.ts) and runs every item through the
 * checks as it arrives, in listing order; each file, with a content URL the token may go to,
 * goes into `plan`, which is returned. Throws before anything is written when one is refused.
 * Memory grows with the number of files (the plan's columns), never with the size of one answer.
 */
async function readListing(
  res: IncomingMessage,
  http: OperationContext['http'],
  context: ErrorContext,
  check: LegacyListingCheck,
  plan: LegacyDownloadPlan,
  checkUrl: (file: ListedFile) => string,
  artifactSize: unknown,
): Promise<LegacyDownloadPlan> {
  // A listing dripping slower than the download minimum is dropped like a stalled file body.
  const watchdog = watchThroughput(http.stallPolicy, 'The container listing', context, (error) =>
    res.destroy(error),
  );
  const items = streamContainerItems(res, {
    maxItemBytes: http.maxResponseBytes,
    context,
    onBytes: (bytes) => watchdog.add(bytes),
  });
  try {
    for await (const item of items) {
      const file = check.add(item);
      if (file !== undefined) plan.add(file.url === '' ? file : { ...file, url: checkUrl(file) });
    }
  } finally {
    watchdog.stop();
  }
  check.finish(artifactSize);
  return plan;
}

async function saveResponse(
  res: IncomingMessage,
  file: PlannedFile,
  artifactName: string,
  stall: StallPolicy,
  meterFor: (gzip: boolean) => FileMeter,
): Promise<number> {
  const context = { operation: 'download', artifactName, file: file.artifactPath };
  const shown = printable(file.artifactPath);
  const gzip = res.headers['content-encoding'] === 'gzip';
  const declared =
    res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  // Counting with 'data' listeners and the write stream's own counter keeps the pipeline to
  // what the official client runs (response → gunzip → file): extra Transforms cost ~30 % on
  // a 512 MiB file.
  let received = 0;
  const meter = meterFor(gzip);
  /** Set when a limit stopped the body: that error, not the resulting stream error, is the answer. */
  let stopped: FerryError | undefined;
  const watchdog = watchThroughput(stall, `Download of ${shown}`, context, (error) => res.destroy(error));
  const count = (bytes: number): void => {
    const error = meter.written(bytes, received);
    if (error !== undefined && stopped === undefined) {
      stopped = error;
      res.destroy(error);
    }
  };
  // A small file (its listed length and the body's Content-Length both within
  // SMALL_FILE_BYTES) is kept in memory and gunzipped and written synchronously: no stream to
  // the disk and no thread-pool round trip (pack/small-files.ts).
  const small = isSmallFile(declared, file.length);
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => {
    received += chunk.length;
    watchdog.add(chunk.length);
    if (!gzip) count(chunk.length);
    if (small) chunks.push(chunk);
  });
  let bytesWritten = 0;
  let out: WriteStream | undefined;
  try {
    if (small) {
      await finished(res);
      if (stopped !== undefined) throw stopped;
      // At most Content-Length bytes (Node's parser stops a body there): bounded.
      const body = Buffer.concat(chunks, received);
      const listed = file.length ?? 0;
      const data = gzip ? gunzipSmallSync(body, listed) : body;
      // Inflating past the listed length is the meter's error, as on the streaming path.
      if (gzip) count(data?.length ?? listed + 1);
      if (stopped !== undefined || data === undefined) throw stopped;
      writeSmallFileSync(file.staging, data, { replace: true });
      bytesWritten = data.length;
    } else if (gzip) {
      const gunzip = createGunzip({ chunkSize: 256 * 1024 });
      gunzip.on('data', (chunk: Buffer) => {
        count(chunk.length);
        if (stopped !== undefined) gunzip.destroy(stopped);
      });
      out = createWriteStream(file.staging, { highWaterMark: 1024 * 1024 });
      await pipeline(res, gunzip, out);
      bytesWritten = out.bytesWritten;
    } else {
      // 256 KiB write buffer, not 1 MiB: ext4 with large folios (Linux 6.16+) sizes page-cache
      // folios by the write, and on a ballooned VM 1 MiB folios come from memory the host has
      // reclaimed, a host fault per page: the W2 download's system time was 1.3-5.2 s against
      // 0.65-1.1 s (docs/benchmarks.md, "Legacy W2 download (session 7)").
      out = createWriteStream(file.staging, { highWaterMark: RAW_WRITE_BUFFER_BYTES });
      await pipeline(res, out);
      bytesWritten = out.bytesWritten;
    }
  } catch (error: unknown) {
    meter.discard();
    // pipeline() rejects at the first error without waiting for the file stream to close; its
    // open(2) may still be in the thread pool and would create the staged file after the
    // caller has emptied the staging directory, leaving it (and the target) behind.
    if (out !== undefined) await closedStream(out);
    if (stopped !== undefined) throw stopped;
    if (error instanceof StalledTransferError) throw error;
    // A full disk is not a broken connection: typed, and not retried.
    if (findResourceFailure(error)) {
      throw await asResourceError(error, {
        context,
        // The staging directory is removed; its parent is the target.
        removedOnFailure: path.dirname(file.staging),
        directory: file.target,
        neededBytes: file.length,
      });
    }
    // A body cut short also fails to gunzip; that is a broken transfer (below), not corruption.
    const complete = declared === undefined || !Number.isFinite(declared) || received >= declared;
    if (isZlibError(error) && complete) {
      // Damage in transit is worth one more request; the same damage twice is the stored bytes.
      const retryable = !file.corruptOnce;
      file.corruptOnce = true;
      throw new IntegrityError(
        'ERR_FERRY_INTEGRITY',
        `The gzip body of ${shown} is corrupt (${(error as Error).message})${retryable ? '' : ' on the second download too'}; nothing was written to the target`,
        { cause: error, retryable, context },
      );
    }
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Download of ${shown} broke off after ${received} bytes`,
      {
        cause: error,
        retryable: true,
        context,
      },
    );
  } finally {
    watchdog.stop();
  }
  if (declared !== undefined && Number.isFinite(declared) && received !== declared) {
    meter.discard();
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Download of ${shown} is truncated: received ${received} of ${declared} bytes`,
      { retryable: true, context },
    );
  }
  if (file.length !== undefined && bytesWritten !== file.length) {
    // Longer was stopped above; shorter is a body that ended early without a Content-Length
    // (or a stored file that lost its end): worth one more request, bounded by the retry policy.
    meter.discard();
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Download of ${shown} ended after ${bytesWritten} bytes${gzip ? ' (after gunzip)' : ''}, but the listing gives its length as ${file.length}`,
      { retryable: true, context },
    );
  }
  return bytesWritten;
}

/** Resolves once a (destroyed) file write stream has closed its descriptor, or never opened one. */
async function closedStream(out: WriteStream): Promise<void> {
  if (out.closed) return;
  out.destroy();
  await new Promise<void>((resolve) => out.once('close', () => resolve()));
}

/** The write buffer of a raw (not gzipped) body; see its use. */
const RAW_WRITE_BUFFER_BYTES = 256 * 1024;

/** zlib's stream errors carry a negative errno and a Z_* code (Z_DATA_ERROR, Z_BUF_ERROR). */
function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
