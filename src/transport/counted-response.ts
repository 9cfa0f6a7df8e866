import { IncomingMessage, type ClientRequest } from 'node:http';
import type { TransportStatsSink } from '../core/stats.js';

/** Where a counted response reports its body bytes (a property, not a closure: see below). */
const kSink = Symbol('ferry.statsSink');

type Counted = IncomingMessage & { [kSink]?: TransportStatsSink };

/** The one `push` every counted response shares: counts the chunk, then pushes it as Node would. */
function countingPush(this: Counted, chunk: unknown, encoding?: BufferEncoding): boolean {
  if (chunk !== null && chunk !== undefined) this[kSink]?.received((chunk as { length: number }).length);
  return IncomingMessage.prototype.push.call(this, chunk, encoding);
}

/**
 * Feeds `stats` the response's connection (a socket not taken from the keep-alive pool is a new
 * one) and its body bytes as they arrive. The bytes are counted where http hands them to the
 * stream (push), not with a 'data' listener, which would switch the body to flowing mode before
 * its reader is attached; so every reader (JSON, blob, legacy items, drained error bodies)
 * is counted without knowing about stats.
 *
 * `push` is replaced by one shared function and the sink is a symbol-keyed property. It used to
 * be a closure per response over a `bind` of the response's own push: with that, a 20,000-file
 * legacy download (client alone, server in another process) promoted 107-146 MB to the old
 * generation instead of ~22 MB, V8 pretenured the responses' allocation sites and ran a full
 * collection every few seconds, and the peak RSS of the embedded 100,000-file download was set
 * by that garbage (docs/benchmarks.md, "Legacy download: one push for every response").
 */
export function countedResponse(res: IncomingMessage, stats: TransportStatsSink): IncomingMessage {
  if (!(res as IncomingMessage & { req?: ClientRequest }).req?.reusedSocket) stats.connectionOpened();
  const counted = res as Counted;
  counted[kSink] = stats;
  counted.push = countingPush;
  return res;
}
