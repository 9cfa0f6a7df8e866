import { artifactNameProblem, serviceNameMessage } from '../../core/artifact-name.js';
import { badRequest } from '../http/error-response.js';

/**
 * The client's artifact name rule (core/artifact-name.ts): a name that got past a third-party
 * client still cannot create odd containers, and the results protocol accepts the same names.
 */
export function validateArtifactName(name: unknown): string {
  const problem = artifactNameProblem(name);
  if (problem !== undefined) throw badRequest(serviceNameMessage(name, problem));
  return name as string;
}

/** Run ids are opaque strings in the URL path; they never reach the file system. */
export function validateRunId(runId: string): string {
  if (runId.length === 0 || runId.length > 256 || [...runId].some((ch) => ch.charCodeAt(0) < 0x20)) {
    throw badRequest(`Invalid workflow run id ${JSON.stringify(runId)}`);
  }
  return runId;
}

/**
 * Turns a client `itemPath` (already form-decoded by URLSearchParams) into the canonical
 * `name/rel/path` form. Windows runners send `\` separators; empty and `.` segments are dropped.
 * Absolute paths, `..` segments and NUL are rejected outright rather than "fixed": they only come
 * from broken or hostile clients. Storage never uses this path as a file name either way.
 */
export function normalizeItemPath(raw: string, artifactName: string): string {
  if (raw.includes('\0')) throw badRequest('itemPath must not contain NUL');
  const slashed = raw.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) {
    throw badRequest(`itemPath ${JSON.stringify(raw)} must be relative (name/path), not absolute`);
  }
  const segments = slashed.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..'))
    throw badRequest(`itemPath ${JSON.stringify(raw)} must not contain '..' segments`);
  if (segments[0] !== artifactName) {
    throw badRequest(
      `itemPath ${JSON.stringify(raw)} must start with the artifact name ${JSON.stringify(`${artifactName}/`)}`,
    );
  }
  return segments.join('/');
}

export interface ContentRange {
  /** First byte offset, inclusive. */
  start: number;
  /** Offset one past the last byte (exclusive), so `end - start` is the chunk length. */
  end: number;
  /** Size of the whole item as uploaded (compressed size when gzip-encoded). */
  total: number;
}

/**
 * Parses `Content-Range: bytes start-end/total` (inclusive end). The empty-file form the official
 * client sends is `bytes 0--1/0`. Numbers may exceed 2^32 (A-D: >4 GiB files), so parse as safe
 * integers, not 32-bit.
 */
export function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined) throw badRequest('Content-Range header is required (bytes start-end/total)');
  const match = /^bytes (\d+)-(-1|\d+)\/(\d+)$/.exec(header.trim());
  if (!match)
    throw badRequest(`Malformed Content-Range ${JSON.stringify(header)}; expected "bytes start-end/total"`);
  const [start, lastInclusive, total] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (![start, lastInclusive, total].every(Number.isSafeInteger))
    throw badRequest(`Content-Range ${header} is out of range`);
  if (total === 0) {
    if (start === 0 && lastInclusive === -1) return { start: 0, end: 0, total: 0 };
    throw badRequest(`Content-Range ${header} is invalid: an empty item must be sent as "bytes 0--1/0"`);
  }
  if (lastInclusive < start || lastInclusive >= total)
    throw badRequest(`Content-Range ${header} is invalid for a ${total}-byte item`);
  return { start, end: lastInclusive + 1, total };
}

/** Parses an optional non-negative integer header (x-tfs-filelength, Content-Length). */
export function parseOptionalLength(
  value: string | string[] | undefined,
  header: string,
): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw badRequest(`${header} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Number(text);
}
