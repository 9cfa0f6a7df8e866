import { readJwtSecretFile } from '../server/http/jwt-keys.js';
import { readFile } from 'node:fs/promises';
import { serveLimits } from './serve-limits.js';
import { printableText } from '../core/format.js';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactInfo } from '../index.js';
import { deleteArtifact, getArtifact, listArtifacts } from '../client.js';
import { mergeArtifacts } from '../merge/merge.js';
import { loadServeConfig } from '../server/config/serve-config.js';
import { azureStoreFromUrl, resolveAzureStore } from '../server/config/azure-store-config.js';
import { startServer } from '../server/index.js';
import { isFerryError } from '../core/errors.js';
import { validateArtifactName } from '../core/artifact-name.js';
import { redactText } from '../core/redact.js';
import { registerSecret } from '../core/secrets.js';
import { packageVersion } from './version.js';
import { choiceOption, listOption, numberOption, stringOption, UsageError, type Values } from './args.js';
import { resolveConnection, type Connect, type Connection } from './connection.js';
import { runDoctor } from './doctor.js';
import { formatBytes, type CliOutput } from './output.js';
import { countOf } from './plural.js';

export async function list(
  positionals: string[],
  values: Values,
  connect: Connect,
  out: CliOutput,
): Promise<number> {
  if (positionals.length) throw new UsageError('list takes no arguments');
  const options = await connect();
  const artifacts = await listArtifacts({ ...options, ...(values['latest'] ? { latest: true } : {}) });
  const human = artifacts.length ? artifacts.map(artifactLine).join('\n') : 'no artifacts';
  out.result({ command: 'list', artifacts }, human);
  return 0;
}

export async function get(positionals: string[], connect: Connect, out: CliOutput): Promise<number> {
  const name = exactlyOneName(positionals, 'get needs exactly one artifact NAME');
  validateArtifactName(name);
  const artifact = await getArtifact(name, await connect());
  out.result({ command: 'get', artifact }, artifactLine(artifact));
  return 0;
}

export async function merge(
  positionals: string[],
  values: Values,
  connect: Connect,
  out: CliOutput,
): Promise<number> {
  const name = exactlyOneName(positionals, 'merge needs exactly one NAME for the new artifact');
  validateArtifactName(name);
  const conflict = choiceOption(values, 'conflict', ['error', 'overwrite', 'skip'] as const);
  const retention = numberOption(values, 'retention-days');
  const level = numberOption(values, 'compression-level');
  const pattern = stringOption(values, 'pattern');
  const result = await mergeArtifacts(name, {
    ...(await connect()),
    ...(pattern !== undefined ? { pattern } : {}),
    ...(values['separate-directories'] ? { separateDirectories: true } : {}),
    ...(values['delete-merged'] ? { deleteMerged: true } : {}),
    ...(values['include-hidden-files'] || values['include-hidden'] ? { includeHiddenFiles: true } : {}),
    ...(conflict ? { conflict } : {}),
    ...(retention !== undefined ? { retentionDays: retention } : {}),
    ...(level !== undefined ? { compressionLevel: level } : {}),
  });
  out.result(
    { command: 'merge', artifactName: name, ...result },
    `merged ${countOf(result.merged.length, 'artifact')} (${result.merged.map(printableText).join(', ')}) into ${printableText(name)}${result.id !== undefined ? ` (id ${result.id})` : ''}: ${formatBytes(result.size)}`,
  );
  return 0;
}

export async function doctor(positionals: string[], values: Values, out: CliOutput): Promise<number> {
  if (positionals.length) throw new UsageError('doctor takes no arguments');
  let connection: Connection;
  try {
    connection = await resolveConnection(values, out);
  } catch (error: unknown) {
    // An unreachable --url or a refused token is what doctor is for: a failed check, not a crash.
    if (!isFerryError(error)) throw error;
    const checks = [{ name: 'protocol', ok: false, detail: error.message }];
    out.result({ command: 'doctor', ok: false, checks }, `FAIL protocol: ${error.message}`);
    return 1;
  }
  const checks = await runDoctor(connection.options, {
    apiUrl: process.env['GITHUB_API_URL'],
    protocolReason: connection.protocolReason,
  });
  const human = checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`).join('\n');
  out.result({ command: 'doctor', ok: checks.every((c) => c.ok), checks }, human);
  return checks.every((c) => c.ok) ? 0 : 1;
}

export async function remove(positionals: string[], connect: Connect, out: CliOutput): Promise<number> {
  const name = exactlyOneName(positionals, 'delete needs exactly one artifact NAME');
  validateArtifactName(name);
  const { id } = await deleteArtifact(name, await connect());
  out.result(
    { command: 'delete', artifactName: name, id },
    `deleted ${printableText(name)}${id !== undefined ? ` (id ${id})` : ''}`,
  );
  return 0;
}

export async function serve(positionals: string[], values: Values, out: CliOutput): Promise<number> {
  if (positionals.length) throw new UsageError('serve takes no arguments');
  const port = numberOption(values, 'port') ?? 0;
  const host = stringOption(values, 'host') ?? '127.0.0.1';
  const configFile = stringOption(values, 'config');
  if (configFile !== undefined && stringOption(values, 'data') !== undefined) {
    throw new UsageError('give --data or --config (whose store names the directory), not both');
  }
  const storeUrl = stringOption(values, 'store');
  if (storeUrl !== undefined && configFile !== undefined) {
    throw new UsageError('give --store or --config (which names its own store), not both');
  }
  const config = configFile === undefined ? undefined : await loadServeConfig(configFile);
  const azureConfig = storeUrl !== undefined ? azureStoreFromUrl(storeUrl) : config?.azure;
  // Read from the environment here, once: the connection string is never logged or printed.
  const azure = azureConfig ? resolveAzureStore(azureConfig, process.env) : undefined;
  const dataDir =
    config?.dataDir ??
    path.resolve(stringOption(values, 'data') ?? path.join(os.homedir(), '.ferry', 'serve'));
  const token = stringOption(values, 'token') ?? process.env['FERRY_TOKEN'];
  registerSecret(token);
  let limits;
  try {
    limits = serveLimits(values);
  } catch (error: unknown) {
    throw new UsageError((error as Error).message);
  }
  const secrets = await Promise.all(
    listOption(values, 'jwt-secret-file').map((file) => readJwtSecretFile(file)),
  );
  const publicKeys = await Promise.all(listOption(values, 'jwt-public-key').map((file) => readFile(file)));
  const publicUrl = stringOption(values, 'public-url');
  const accessLog = choiceOption(values, 'access-log', ['json', 'text', 'off'] as const);
  const drainTimeoutMs = numberOption(values, 'drain-timeout');
  const instanceId = stringOption(values, 'instance-id');
  const indexLifetimeMs = numberOption(values, 'index-lifetime');
  // --access-log writes every line to stderr as it is (JSON stays one object per line); without
  // it, --verbose keeps the historical text lines through the CLI's own logger.
  const log =
    accessLog !== undefined
      ? (line: string) => void process.stderr.write(`${redactText(line)}\n`)
      : values['verbose']
        ? (line: string) => out.logger.debug(line)
        : undefined;
  const server = await startServer({
    dataDir,
    ...(azure ? { azure } : {}),
    port,
    host,
    limits,
    ...(config ? { retention: { sweepIntervalMs: config.sweepIntervalMs, eviction: config.eviction } } : {}),
    version: packageVersion(),
    ...(token ? { token } : {}),
    ...(secrets.length + publicKeys.length > 0 ? { jwt: { secrets, publicKeys } } : {}),
    ...(publicUrl !== undefined ? { publicUrl } : {}),
    ...(log ? { log } : {}),
    ...(accessLog !== undefined ? { accessLog } : {}),
    ...(values['metrics-public'] ? { metricsPublic: true } : {}),
    ...(drainTimeoutMs !== undefined ? { drainTimeoutMs } : {}),
    ...(instanceId !== undefined ? { instanceId } : {}),
    ...(indexLifetimeMs !== undefined ? { indexLifetimeMs } : {}),
  });
  out.result({ command: 'serve', url: server.url, dataDir }, server.url);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // Graceful: requests in flight finish (up to --drain-timeout); a second signal cuts them.
  out.logger.info(`${signal}: finishing requests in flight, then stopping`);
  const force = (): void => void server.close(0);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  await server.close();
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  return 0;
}

export function exactlyOneName(positionals: string[], usage: string): string {
  const [name, ...extra] = positionals;
  if (!name || extra.length) throw new UsageError(usage);
  return name;
}

/** One artifact per line for people: name (escaped: it is the server's), size, id. */
function artifactLine(artifact: ArtifactInfo): string {
  return `${printableText(artifact.name)}\t${formatBytes(artifact.size)}${artifact.id !== undefined ? `\tid ${artifact.id}` : ''}`;
}
