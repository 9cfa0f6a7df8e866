// Types for bench/azurite.mjs, which the tests' Azurite helper imports.
export declare const DEV_ACCOUNT: string;
export declare const DEV_KEY: string;

export interface AzuriteAccount {
  accountName: string;
  accountKey: string;
  blobEndpoint: string;
}

export interface AzuriteProcess {
  pid: number;
  port: number;
  origin: string;
  account(endpointOrigin?: string): AzuriteAccount;
  cpu(): { user: number; system: number };
  stop(): Promise<void>;
}

export declare function startAzurite(repo: string): Promise<AzuriteProcess>;
