import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * Where the legacy protocol keeps things under dataDir. Client-supplied strings (run ids,
 * artifact names, item paths) never become path components: containers are numbered and items
 * are stored under the SHA-256 of their logical path, which lives only in metadata. So no
 * itemPath, however crafted, can address a file outside dataDir.
 *
 *   <dataDir>/legacy/next-container-id.json      {"next": N}
 *   <dataDir>/legacy/containers/<id>/artifact.json
 *   <dataDir>/legacy/containers/<id>/items/<sha256(itemPath)>.json   item metadata
 *   <dataDir>/legacy/containers/<id>/items/<sha256(itemPath)>.bin    item bytes as uploaded
 */
export class LegacyLayout {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'legacy');
  }

  get counterFile(): string {
    return join(this.root, 'next-container-id.json');
  }

  get containersDir(): string {
    return join(this.root, 'containers');
  }

  containerDir(containerId: number): string {
    return join(this.containersDir, String(containerId));
  }

  artifactFile(containerId: number): string {
    return join(this.containerDir(containerId), 'artifact.json');
  }

  itemsDir(containerId: number): string {
    return join(this.containerDir(containerId), 'items');
  }

  itemDataFile(containerId: number, itemPath: string): string {
    return join(this.itemsDir(containerId), `${itemKey(itemPath)}.bin`);
  }
}

/** Stable, fixed-length, filesystem-safe key for a logical item path. */
export function itemKey(itemPath: string): string {
  return createHash('sha256').update(itemPath, 'utf8').digest('hex');
}
