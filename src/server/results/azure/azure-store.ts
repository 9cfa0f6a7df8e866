import type { ServerLimits } from '../../http/limits.js';
import type { ResultsStore } from '../store.js';
import { AzureRecords } from './azure-records.js';
import { AzureRunRegistry } from './azure-runs.js';
import type { AzureAccount } from './connection-string.js';
import type { Timed } from './small-json.js';
import { AzureSweepLease } from './sweep-lease.js';

export interface AzureStoreSpec {
  account: AzureAccount;
  container: string;
  /** Prepended to every blob name (`team-a/`), so several stores can share one container. */
  prefix: string;
  /** Create the container when it is missing (the `--store azure://` shortcut). */
  createContainer: boolean;
}

export interface AzureStoreOptions {
  limits: ServerLimits;
  signedUrlTtlMs: number;
  time: Timed;
  /** Diagnostics (a run read whole in a list's path). */
  log?: (level: 'warn', message: string) => void;
}

/** SAS start a little in the past: the storage's clock may run behind ours. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * The azure_blob results store. The SDK is loaded here, with import(), only when such a store is
 * configured: the Action bundles and the CLI's start-up never load it. Clients get blob SAS URLs
 * of the storage account (signed with its key), so their bytes go to and from Azure directly.
 */
export async function openAzureStore(
  spec: AzureStoreSpec,
  options: AzureStoreOptions,
): Promise<ResultsStore> {
  const sdk = await import('@azure/storage-blob');
  const credential = new sdk.StorageSharedKeyCredential(spec.account.accountName, spec.account.accountKey);
  const service = new sdk.BlobServiceClient(spec.account.blobEndpoint, credential);
  const container = service.getContainerClient(spec.container);
  if (spec.createContainer) {
    await options.time('create_container', () => container.createIfNotExists());
  } else if (!(await options.time('container_exists', () => container.exists()))) {
    throw new Error(`the Azure container ${JSON.stringify(spec.container)} does not exist`);
  }
  const records = new AzureRecords(container, spec.prefix, {
    limits: options.limits,
    time: options.time,
    ...(options.log ? { log: options.log } : {}),
  });
  const sas = (blobId: string, permissions: string): string => {
    const blobName = records.dataBlobName(blobId);
    const now = Date.now();
    const query = sdk
      .generateBlobSASQueryParameters(
        {
          containerName: spec.container,
          blobName,
          permissions: sdk.BlobSASPermissions.parse(permissions),
          startsOn: new Date(now - CLOCK_SKEW_MS),
          expiresOn: new Date(now + options.signedUrlTtlMs),
        },
        credential,
      )
      .toString();
    return `${container.getBlockBlobClient(blobName).url}?${query}`;
  };
  return {
    kind: 'azure_blob',
    records,
    blobs: {
      uploadUrl: (_baseUrl, record) => sas(record.blobId, 'cw'),
      downloadUrl: (_baseUrl, record) => sas(record.blobId, 'r'),
      routes: [],
      read: async (record, start, end) => {
        const blob = container.getBlockBlobClient(records.dataBlobName(record.blobId));
        try {
          const response = await options.time('download', () => blob.download(start, end - start + 1));
          return response.readableStreamBody as AsyncIterable<Buffer> | undefined;
        } catch (error) {
          if ((error as { statusCode?: unknown }).statusCode === 404) return undefined;
          throw error;
        }
      },
    },
    probe: async () => {
      await container.getProperties();
    },
    sweepLease: new AzureSweepLease(container.getBlockBlobClient(`${spec.prefix}sweep-lease`), options.time),
    runs: new AzureRunRegistry(container, spec.prefix, options.time),
  };
}
