import { createHmac } from 'node:crypto';
import path from 'node:path';

import { DEV_ACCOUNT, DEV_KEY, startAzurite as startAzuriteProcess } from '../../bench/azurite.mjs';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { parseConnectionString } from '../../src/server/results/azure/connection-string.js';

export { DEV_ACCOUNT, DEV_KEY };
const SAS_VERSION = '2021-08-06';

export interface Azurite {
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  accountUrl: string;
  /** An account SAS query string (no leading '?') allowing everything on blobs and containers. */
  sas: string;
  stop(): Promise<void>;
}

/** Account SAS (service b, resource types s/c/o, all permissions), signed like the Azure SDKs do. */
function accountSas(expiry: Date): string {
  const fields = {
    sv: SAS_VERSION,
    ss: 'b',
    srt: 'sco',
    sp: 'rwdlacup',
    se: expiry.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    spr: 'http',
  };
  const stringToSign = [
    DEV_ACCOUNT,
    fields.sp,
    fields.ss,
    fields.srt,
    '',
    fields.se,
    '',
    fields.spr,
    fields.sv,
    '',
    '',
  ].join('\n');
  const sig = createHmac('sha256', Buffer.from(DEV_KEY, 'base64'))
    .update(stringToSign, 'utf8')
    .digest('base64');
  return new URLSearchParams({ ...fields, sig }).toString();
}

/** Starts the Azurite blob service from node_modules on a free loopback port, with a temp workspace. */
export async function startAzurite(): Promise<Azurite> {
  const azurite = await startAzuriteProcess(path.resolve('.'));
  return {
    accountUrl: `http://127.0.0.1:${azurite.port}/${DEV_ACCOUNT}`,
    sas: accountSas(new Date(Date.now() + 3600_000)),
    stop: () => azurite.stop(),
  };
}

/**
 * The azure_blob store of `ferry serve` on this Azurite, as the tests' instances are started
 * with (`--store azure://` semantics: the container is created when missing).
 */
export function azureStoreSpec(azurite: Azurite, container: string, prefix = ''): AzureStoreSpec {
  const text = `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${azurite.accountUrl};`;
  return { account: parseConnectionString(text, 'TEST'), container, prefix, createContainer: true };
}
