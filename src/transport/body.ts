import type { IncomingMessage } from 'node:http';

/**
 * Reads a response body to the end, keeping at most `limit` bytes. Unlike http-client's
 * readBody, it rejects on a stream error instead of hanging, and it collects chunks once
 * (no quadratic Buffer.concat). Reading to the end is what frees the keep-alive socket.
 */
export function readBody(res: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    res.on('data', (chunk: Buffer) => {
      if (kept < limit) {
        const take = chunk.subarray(0, Math.min(chunk.length, limit - kept));
        chunks.push(take);
        kept += take.length;
      }
    });
    res.once('end', () => resolve(Buffer.concat(chunks, kept)));
    res.once('error', reject);
    res.once('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
  });
}

export async function readText(res: IncomingMessage): Promise<string> {
  return (await readBody(res)).toString('utf8');
}

/** Parses a JSON body; a body that is not JSON is a protocol error worth one more try (proxies inject HTML). */
export async function readJson<T>(res: IncomingMessage): Promise<T> {
  const text = await readText(res);
  try {
    return JSON.parse(text) as T;
  } catch (error: unknown) {
    throw Object.assign(new Error(`expected a JSON response body, got: ${text.slice(0, 100)}`), {
      code: 'ERR_FERRY_BAD_JSON',
      cause: error,
    });
  }
}

/** Reads and discards the body: the response is only wanted for its status. */
export async function discardBody(res: IncomingMessage): Promise<void> {
  await readBody(res, 0);
}
