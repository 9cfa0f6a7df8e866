import { isFerryError } from '../../core/errors.js';
import type { Logger } from '../../core/types.js';

/**
 * The embedded store is a server on a loopback port that the user never started: its URL in a
 * message ("POST http://127.0.0.1:41234/twirp/...") would send them looking for it. These
 * helpers replace that URL (origin and path) with what it is, e.g. "the embedded store in DIR".
 */
export function hideStoreUrl(text: string, origin: string, label: string): string {
  if (!text.includes(origin)) return text;
  const escaped = origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`${escaped}[^\\s'"),]*`, 'g'), label);
}

/** A logger whose lines never show the store's URL. */
export function loggerHidingStoreUrl(logger: Logger, origin: string, label: string): Logger {
  const hide = (message: string): string => hideStoreUrl(message, origin, label);
  return {
    debug: (m) => logger.debug(hide(m)),
    info: (m) => logger.info(hide(m)),
    warn: (m) => logger.warn(hide(m)),
    error: (m) => logger.error(hide(m)),
  };
}

/**
 * Rewrites the message (and the stack's first line) of an error in place, keeping its class,
 * code and cause; a Ferry error's `context.url` goes too.
 */
export function hideStoreUrlInError(error: unknown, origin: string, label: string): unknown {
  if (!(error instanceof Error) && !isFerryError(error)) return error;
  const target = error as Error;
  const message = hideStoreUrl(target.message, origin, label);
  if (message !== target.message) {
    if (target.stack?.startsWith(`${target.name}: ${target.message}`)) {
      target.stack = `${target.name}: ${message}${target.stack.slice(target.name.length + 2 + target.message.length)}`;
    }
    target.message = message;
  }
  if (isFerryError(error) && error.context.url?.includes(origin)) {
    const { url: _hidden, ...rest } = error.context;
    Object.defineProperty(error, 'context', {
      value: Object.freeze(rest),
      enumerable: true,
      configurable: true,
      writable: false,
    });
  }
  return error;
}
