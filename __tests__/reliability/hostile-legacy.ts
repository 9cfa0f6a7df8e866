/**
 * A hostile pipelines file-container service on a loopback socket, for the X28–X35 cases: it
 * lists exactly the artifacts and items it is given (sizes, statuses, lengths and types that
 * lie) and serves each item's bytes as told (gzip or raw, with or without Content-Length).
 */
import { gzipSync } from 'node:zlib';
import { startLoopback, type Loopback } from '../helpers/loopback.js';

export const RUN_ID = '2828';

export interface HostileItem {
  path: string;
  /** Default 'file'. */
  itemType?: string;
  status?: string;
  /** The bytes the file really has (before any gzip). */
  content?: Buffer | string;
  /** The listed fileLength; default the content's length; `null` leaves the field out. */
  fileLength?: number | null;
  /** Serve the body gzipped with `Content-Encoding: gzip`. */
  gzip?: boolean;
  /** A body sent exactly as given (already compressed when `gzip`); overrides `content`. */
  body?: Buffer;
  /** Send no Content-Length (the body ends when the connection closes). */
  noContentLength?: boolean;
  /** Leave contentLocation out of the listing. */
  noContentLocation?: boolean;
  /** A contentLocation relative to the server's URL, instead of the item's own content URL. */
  contentLocation?: string;
}

export interface HostileArtifact {
  name: string;
  /** The artifact's size as listed; `undefined` leaves the field out (act, Gitea). */
  size?: number;
}

export interface HostileLegacy {
  server: Loopback;
  url: string;
  /** Paths of the items whose content was requested, in order. */
  fetched: string[];
  close(): Promise<void>;
}

export async function startHostileLegacy(
  artifacts: readonly HostileArtifact[],
  items: readonly HostileItem[],
): Promise<HostileLegacy> {
  const fetched: string[] = [];
  const self = { url: '' };
  const server = await startLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (value: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === `/_apis/pipelines/workflows/${RUN_ID}/artifacts`) {
      json({
        count: artifacts.length,
        value: artifacts.map((artifact, i) => ({
          containerId: i + 1,
          ...(artifact.size === undefined ? {} : { size: artifact.size }),
          signedContent: null,
          fileContainerResourceUrl: `${self.url}_apis/resources/Containers/1`,
          type: 'actions_storage',
          name: artifact.name,
          url: `${self.url}_apis/pipelines/1/artifacts?artifactName=${encodeURIComponent(artifact.name)}`,
        })),
      });
      return;
    }
    if (url.pathname === '/_apis/resources/Containers/1') {
      json({
        count: items.length,
        value: items.map((item, i) => {
          const length =
            item.fileLength === undefined ? Buffer.byteLength(item.content ?? '') : item.fileLength;
          return {
            path: item.path,
            itemType: item.itemType ?? 'file',
            ...(item.status === undefined ? {} : { status: item.status }),
            ...(length === null ? {} : { fileLength: length }),
            ...(item.noContentLocation
              ? {}
              : { contentLocation: `${self.url}${item.contentLocation ?? `content/${i}`}` }),
          };
        }),
      });
      return;
    }
    const match = /^\/content\/(\d+)$/.exec(url.pathname);
    const item = match ? items[Number(match[1])] : undefined;
    if (item) {
      fetched.push(item.path);
      const raw = Buffer.from(item.content ?? '');
      const body = item.body ?? (item.gzip ? gzipSync(raw) : raw);
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (item.gzip) headers['content-encoding'] = 'gzip';
      if (item.noContentLength) headers['connection'] = 'close';
      else headers['content-length'] = String(body.length);
      res.writeHead(200, headers);
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  self.url = server.url;
  return { server, url: server.url, fetched, close: () => server.close() };
}
