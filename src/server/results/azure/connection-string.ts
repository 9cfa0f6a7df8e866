import { FerryError } from '../../../core/errors.js';

/** What the azure_blob store needs from a connection string: the endpoint and the key that signs SAS. */
export interface AzureAccount {
  accountName: string;
  accountKey: string;
  /** `https://ACCOUNT.blob.core.windows.net` or Azurite's `http://127.0.0.1:PORT/devstoreaccount1`, no trailing slash. */
  blobEndpoint: string;
}

/**
 * Parses an Azure Storage connection string (`Key=Value;…`, the Azure tools' format). The
 * account key is required: clients get blob SAS URLs signed with it. Errors name the setting
 * (`where`), never the string's content, which holds the secret.
 */
export function parseConnectionString(text: string, where: string): AzureAccount {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const accountName = fields.get('accountname');
  const accountKey = fields.get('accountkey');
  if (!accountName || !accountKey) {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      `${where}: the connection string needs AccountName and AccountKey (a SAS-only connection string cannot sign the blob URLs clients get)`,
      { context: { option: where } },
    );
  }
  const explicit = fields.get('blobendpoint');
  const protocol = fields.get('defaultendpointsprotocol') ?? 'https';
  const suffix = fields.get('endpointsuffix') ?? 'core.windows.net';
  const blobEndpoint = (explicit ?? `${protocol}://${accountName}.blob.${suffix}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(blobEndpoint)) {
    throw new FerryError('ERR_FERRY_CONFIG', `${where}: BlobEndpoint must be an http(s) URL`, {
      context: { option: where },
    });
  }
  return { accountName, accountKey, blobEndpoint };
}
