/**
 * The process-wide set of secrets: tokens and passwords Ferry was given (runtime token,
 * GITHUB_TOKEN, `--token`, a proxy password, a findBy token). Whoever learns a secret registers
 * it here, once, with {@link registerSecret}; redaction ({@link ./redact.ts}) removes every
 * registered value from messages and logs, the upload secret scan refuses files that contain
 * one, and an entry point can subscribe ({@link onSecretRegistered}) to mask them in its own
 * output (the Action tells the runner to mask each one).
 */

/** Values to remove from text: each secret as given and percent-encoded. */
const literals = new Set<string>();
/** The registered values as given (not their encodings), with what each one is. */
const originals = new Map<string, string>();
const listeners = new Set<(value: string) => void>();

/** How a registered secret is described when no label was given. */
export const DEFAULT_SECRET_LABEL = 'a token or password Ferry was given';

/** Shorter values are ignored: masking "a" would mangle every message without protecting anything. */
export const MIN_SECRET_LENGTH = 6;

/**
 * Registers a literal secret (token, proxy password) so that it is redacted wherever it appears.
 * `label` says what the value is (e.g. `GITHUB_TOKEN`) where an error must refer to it without
 * showing it (the upload secret scan).
 */
export function registerSecret(value: string | undefined, label?: string): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  const isNew = !originals.has(value);
  literals.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) literals.add(encoded);
  if (label !== undefined || isNew) originals.set(value, label ?? DEFAULT_SECRET_LABEL);
  if (isNew) for (const listener of listeners) listener(value);
}

/**
 * Calls `listener` with every secret registered so far and every one registered later (each
 * value once). Returns a function that unsubscribes.
 */
export function onSecretRegistered(listener: (value: string) => void): () => void {
  listeners.add(listener);
  for (const value of originals.keys()) listener(value);
  return () => listeners.delete(listener);
}

/** Every secret registered in this process, as given, with its label (for the upload secret scan). */
export function registeredSecrets(): Array<{ value: string; label: string }> {
  return [...originals].map(([value, label]) => ({ value, label }));
}

/** Every value redaction must remove: the secrets and their percent-encodings. */
export function registeredLiterals(): ReadonlySet<string> {
  return literals;
}
