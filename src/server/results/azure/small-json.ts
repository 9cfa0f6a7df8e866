import type { BlockBlobClient } from '@azure/storage-blob';

/** ServerMetrics.time: a store call, timed by operation for /metrics. */
export type Timed = <T>(operation: string, call: () => Promise<T>) => Promise<T>;

/** Records, pointers and the counter are a few hundred bytes; anything bigger is not ours. */
const MAX_STATE_BYTES = 64 * 1024;

/**
 * A small JSON state blob and its ETag; undefined when it does not exist. `maxBytes` bounds what
 * is read (a larger blob is not ours and is refused, never buffered whole).
 */
export async function readSmallJson(
  blob: BlockBlobClient,
  time: Timed,
  maxBytes = MAX_STATE_BYTES,
): Promise<{ value: unknown; etag: string } | undefined> {
  try {
    return await time('read_record', async () => {
      const answer = await blob.download(0, maxBytes + 1);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of answer.readableStreamBody ?? []) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        total += bytes.length;
        if (total > maxBytes) throw new Error(`state blob ${blob.name} is larger than ${maxBytes} bytes`);
        chunks.push(bytes);
      }
      return {
        value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
        etag: answer.etag ?? '',
      };
    });
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The conditions of a state write: If-Match an ETag read, or If-None-Match: * for a new blob. */
export interface WriteConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

/**
 * Writes a small JSON state blob (`operation` names the call in /metrics), under `conditions`
 * when given; with `metadataKey`, the same JSON also rides in the blob's metadata (base64), so a
 * listing returns it without a read (decodeMetaRecord).
 */
export async function writeSmallJson(
  blob: BlockBlobClient,
  time: Timed,
  operation: string,
  value: unknown,
  options: { conditions?: WriteConditions; metadataKey?: string } = {},
): Promise<void> {
  const body = JSON.stringify(value);
  await time(operation, () =>
    blob.upload(body, Buffer.byteLength(body), {
      ...(options.conditions ? { conditions: options.conditions } : {}),
      blobHTTPHeaders: { blobContentType: 'application/json' },
      ...(options.metadataKey
        ? { metadata: { [options.metadataKey]: Buffer.from(body).toString('base64') } }
        : {}),
    }),
  );
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** 404: the blob (or container) is not there. */
export function isMissing(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** 409 (exists, for If-None-Match: *) or 412 (ETag changed, for If-Match): someone else wrote first. */
export function isConflict(error: unknown): boolean {
  const status = statusOf(error);
  return status === 409 || status === 412;
}

/** Run ids and names as blob-name-safe path segments (names may hold any character but / \ etc.). */
export function hex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex');
}

/**
 * A record carried in a blob's metadata (base64 JSON, so a list returns it without a read), or
 * undefined when it is missing, longer than `maxLength` or not what `isValid` accepts.
 */
export function decodeMetaRecord<T>(
  value: string | undefined,
  maxLength: number,
  isValid: (parsed: unknown) => parsed is T,
): T | undefined {
  if (value === undefined || value.length > maxLength) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
    return isValid(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
