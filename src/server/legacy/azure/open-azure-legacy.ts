import type { AzureStoreSpec } from '../../results/azure/azure-store.js';
import type { AzureLegacyOptions } from './azure-legacy-store.js';
import { AzureLegacyStore } from './azure-legacy-store.js';

/**
 * The legacy protocol's store on an azure_blob store's container (opened, and created when
 * asked, by openAzureStore before this). The SDK is loaded with import() as there: only when
 * such a store is configured. Chunk uploads go through a client without SDK retries: a request
 * body streams to Azure once, and a failed chunk is retried by the client, not by the server.
 */
export async function openAzureLegacyStore(
  spec: AzureStoreSpec,
  options: AzureLegacyOptions,
): Promise<AzureLegacyStore> {
  const sdk = await import('@azure/storage-blob');
  const credential = new sdk.StorageSharedKeyCredential(spec.account.accountName, spec.account.accountKey);
  const container = new sdk.BlobServiceClient(spec.account.blobEndpoint, credential).getContainerClient(
    spec.container,
  );
  const streaming = new sdk.BlobServiceClient(
    spec.account.blobEndpoint,
    sdk.newPipeline(credential, { retryOptions: { maxTries: 1 } }),
  ).getContainerClient(spec.container);
  return new AzureLegacyStore(container, streaming, spec.prefix, options);
}
