import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import type { Timed } from '../../results/azure/small-json.js';

/**
 * Deletes every blob under `prefix`, committed or only staged. Listed first, then deleted one by
 * one: a blob already gone (another instance deleting the same prefix) is not an error.
 */
export async function deletePrefix(container: ContainerClient, prefix: string, time: Timed): Promise<void> {
  const names: string[] = [];
  await time('list_items', async () => {
    for await (const blob of container.listBlobsFlat({
      prefix,
      includeUncommitedBlobs: true,
    }) as AsyncIterable<BlobItem>) {
      names.push(blob.name);
    }
  });
  for (const name of names) {
    await time('delete_blob', () => container.getBlockBlobClient(name).deleteIfExists());
  }
}
