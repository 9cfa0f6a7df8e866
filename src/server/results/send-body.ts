import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';

/** What a download body yields: single buffers, or batches of them sent as one write. */
export type BodyPiece = Buffer | readonly Buffer[];

/**
 * Streams `body` to the client, each batch as one corked write, so the socket gets one writev
 * per batch (a fast_slow miss groups the slow store's 16-64 KiB socket reads into ~1 MiB) instead
 * of a syscall and an event-loop turn per chunk. Waits for `drain` when the socket's buffer is
 * full, so memory stays at about one batch. A body that throws cuts the answer (the head is out:
 * the client sees a short body, never a complete-looking one); a client that goes away stops the
 * body (its generator's `finally` runs: a fill in progress is thrown away) and rejects.
 */
export async function sendBody(res: ServerResponse, body: AsyncIterable<BodyPiece>): Promise<void> {
  let gone = false;
  const onClose = (): void => {
    gone = true;
  };
  res.once('close', onClose);
  try {
    for await (const piece of body) {
      if (gone || res.destroyed) throw premature();
      let room: boolean;
      if (Buffer.isBuffer(piece)) {
        room = res.write(piece);
      } else {
        res.cork();
        room = true;
        for (const chunk of piece) room = res.write(chunk);
        res.uncork();
      }
      if (!room) await drained(res);
    }
    if (gone || res.destroyed) throw premature();
    res.end();
    await finished(res);
  } catch (error) {
    res.destroy();
    throw error;
  } finally {
    res.off('close', onClose);
  }
}

/** Resolves once the response can take more, or is gone (the next write then stops the body). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function premature(): Error {
  return Object.assign(new Error('the client closed the connection before the answer was complete'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}
