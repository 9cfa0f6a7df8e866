import { API_VERSION } from './contracts.js';

/** `{runtime}_apis/pipelines/workflows/{run}/artifacts?api-version=…[&extra]`. The runtime URL is concatenated as a string, as the official client does. */
export function artifactsUrl(runtimeUrl: string, runId: string, extra: Record<string, string> = {}): string {
  const base = runtimeUrl.endsWith('/') ? runtimeUrl : `${runtimeUrl}/`;
  const url = new URL(`${base}_apis/pipelines/workflows/${encodeURIComponent(runId)}/artifacts`);
  url.searchParams.append('api-version', API_VERSION);
  for (const [key, value] of Object.entries(extra)) url.searchParams.append(key, value);
  return url.toString();
}

/**
 * `{containerUrl}?itemPath=…` built with searchParams.append, which re-serialises the whole query
 * in form encoding (space → +). That is what the official client sends and what servers expect.
 */
export function itemUrl(containerUrl: string, itemPath: string): string {
  const url = new URL(containerUrl);
  url.searchParams.append('itemPath', itemPath);
  return url.toString();
}

export const jsonHeaders = {
  accept: `application/json;api-version=${API_VERSION}`,
  'content-type': 'application/json',
} as const;
