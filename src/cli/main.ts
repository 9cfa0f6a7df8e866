import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { deleteArtifact, downloadArtifact, getArtifact, listArtifacts, uploadArtifact } from '../client.js';
import { mergeArtifacts } from '../merge/merge.js';
import type { ArtifactInfo } from '../backends/backend.js';
import type { FindBy } from '../backends/results/rest.js';
import { fromEnvironment } from '../environment.js';
import { isFerryError } from '../errors.js';
import type { ArtifactClientOptions } from '../options.js';
import { findFiles } from '../pack/find-files.js';
import { startServer } from '../server/index.js';
import { registerSecret } from '../transport/redact.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import { runDoctor } from './doctor.js';
import { TokenUsageError, tokenCommand } from './token-command.js';
import { readJwtSecretFile } from '../server/http/jwt-keys.js';
import { createOutput, formatBytes, type CliOutput } from './output.js';

const COMMON: NonNullable<ParseArgsConfig['options']> = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  concurrency: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  'run-id': { type: 'string' },
  store: { type: 'string' },
};

const COMMANDS: Record<string, NonNullable<ParseArgsConfig['options']>> = {
  upload: {
    root: { type: 'string' },
    overwrite: { type: 'boolean' },
    'no-archive': { type: 'boolean' },
    'include-hidden': { type: 'boolean' },
    'allow-secrets': { type: 'boolean' },
    'retention-days': { type: 'string' },
    'compression-level': { type: 'string' },
    'chunk-size': { type: 'string' },
  },
  download: {
    path: { type: 'string' },
    'artifact-id': { type: 'string' },
    'skip-decompress': { type: 'boolean' },
    'max-entries': { type: 'string' },
    'max-total-bytes': { type: 'string' },
    'max-ratio': { type: 'string' },
    repository: { type: 'string' },
    'github-token': { type: 'string' },
  },
  list: { latest: { type: 'boolean' }, repository: { type: 'string' }, 'github-token': { type: 'string' } },
  get: { repository: { type: 'string' }, 'github-token': { type: 'string' } },
  delete: { repository: { type: 'string' }, 'github-token': { type: 'string' } },
  serve: {
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    'jwt-secret-file': { type: 'string', multiple: true },
    'jwt-public-key': { type: 'string', multiple: true },
    'public-url': { type: 'string' },
  },
  token: {
    run: { type: 'string' },
    job: { type: 'string' },
    ttl: { type: 'string' },
    'jwt-secret-file': { type: 'string' },
  },
  doctor: {},
  merge: {
    pattern: { type: 'string' },
    'separate-directories': { type: 'boolean' },
    'delete-merged': { type: 'boolean' },
    conflict: { type: 'string' },
    'include-hidden': { type: 'boolean' },
    'retention-days': { type: 'string' },
    'compression-level': { type: 'string' },
  },
};

class UsageError extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${MAIN_HELP}\n`);
    return command ? 0 : 2;
  }
  if (command === '--version') {
    process.stdout.write('ferry 0.1.0\n');
    return 0;
  }
  const spec = COMMANDS[command];
  if (!spec) {
    process.stderr.write(`error: unknown command '${command}'\n\n${MAIN_HELP}\n`);
    return 2;
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { ...COMMON, ...spec },
      allowPositionals: true,
      strict: true,
    }) as {
      values: Values;
      positionals: string[];
    });
  } catch (error: unknown) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${COMMAND_HELP[command] ?? ''}\n`);
    return 2;
  }
  if (values['help']) {
    process.stdout.write(`${COMMAND_HELP[command]}\n`);
    return 0;
  }
  const out = createOutput({
    json: Boolean(values['json']),
    verbose: Boolean(values['verbose']),
    quiet: Boolean(values['quiet']),
    tty: Boolean(process.stderr.isTTY) && !process.env['CI'],
  });
  try {
    if (command === 'serve') return await serve(values, out);
    if (command === 'token') return await tokenCommand(values);
    const options = { ...clientOptions(values, out), ...findByOption(values) };
    switch (command) {
      case 'upload':
        return await upload(positionals, values, options, out);
      case 'download':
        return await download(positionals, values, options, out);
      case 'list':
        return await list(positionals, values, options, out);
      case 'get':
        return await get(positionals, options, out);
      case 'delete':
        return await remove(positionals, options, out);
      case 'doctor':
        return await doctor(options, out);
      case 'merge':
        return await merge(positionals, values, options, out);
    }
    return 2;
  } catch (error: unknown) {
    if (error instanceof UsageError || error instanceof TokenUsageError) {
      out.error(error.message, 'ERR_FERRY_USAGE');
      process.stderr.write(`\n${COMMAND_HELP[command]}\n`);
      return 2;
    }
    if (isFerryError(error)) {
      out.error(error.message, error.code);
      if (error.code === 'ERR_FERRY_NOT_FOUND') return 3;
      if (error.code.startsWith('ERR_FERRY_INVALID') || error.code === 'ERR_FERRY_NO_FILES') return 2;
      return 1;
    }
    out.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
}

function clientOptions(values: Values, out: CliOutput): ArtifactClientOptions {
  const env = fromEnvironment(process.env);
  const options: ArtifactClientOptions = { ...env, logger: out.logger, onProgress: (e) => out.progress(e) };
  const url = values['url'];
  if (typeof url === 'string') {
    options.backend = 'legacy';
    options.runtimeUrl = url;
    const token = (values['token'] as string | undefined) ?? process.env['FERRY_TOKEN'];
    if (token) options.runtimeToken = token;
    else delete options.runtimeToken;
    options.runId = (values['run-id'] as string | undefined) ?? 'local';
  } else if (typeof values['run-id'] === 'string') {
    options.runId = values['run-id'];
  }
  if (typeof values['store'] === 'string') options.localStore = values['store'];
  registerSecret(options.runtimeToken);
  const concurrency = numberOption(values, 'concurrency');
  if (concurrency !== undefined) options.concurrency = concurrency;
  return options;
}

/** A repeatable option (`multiple: true`) as a list. */
function listOption(values: Values, name: string): string[] {
  const raw = values[name];
  return Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
}

function numberOption(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number; got '${String(raw)}'`);
  }
  return value;
}

async function upload(
  positionals: string[],
  values: Values,
  options: ArtifactClientOptions,
  out: CliOutput,
): Promise<number> {
  const [name, ...paths] = positionals;
  if (!name || paths.length === 0)
    throw new UsageError('upload needs an artifact NAME and at least one PATH');
  const found = await findFiles(paths, { includeHidden: Boolean(values['include-hidden']) });
  for (const entry of found.skipped) out.logger.warn(`Skipping ${entry.path}: ${entry.reason}`);
  const root = typeof values['root'] === 'string' ? path.resolve(values['root']) : found.rootDirectory;
  const retention = numberOption(values, 'retention-days');
  const level = numberOption(values, 'compression-level');
  const chunk = numberOption(values, 'chunk-size');
  const started = Date.now();
  const result = await uploadArtifact(name, found.files, root, {
    ...options,
    ...(retention !== undefined ? { retentionDays: retention } : {}),
    ...(level !== undefined ? { compressionLevel: level } : {}),
    ...(chunk !== undefined ? { chunkSize: chunk } : {}),
    ...(values['overwrite'] ? { overwrite: true } : {}),
    ...(values['no-archive'] ? { archive: false } : {}),
    ...(values['allow-secrets'] ? { allowSecretsInFiles: true } : {}),
  });
  const seconds = (Date.now() - started) / 1000;
  out.result(
    { command: 'upload', ...result, seconds },
    `uploaded ${name}: ${result.fileCount} files, ${formatBytes(result.size)} (${formatBytes(result.uploadedBytes)} sent) in ${seconds.toFixed(1)} s via ${result.backend}`,
  );
  return 0;
}

async function download(
  positionals: string[],
  values: Values,
  options: ArtifactClientOptions,
  out: CliOutput,
): Promise<number> {
  const name = exactlyOneName(positionals, 'download needs exactly one artifact NAME');
  const target = typeof values['path'] === 'string' ? values['path'] : process.cwd();
  const started = Date.now();
  const artifactId = numberOption(values, 'artifact-id');
  // Zip-bomb limits (validated by the SDK, naming `limits.<field>`).
  const maxEntries = numberOption(values, 'max-entries');
  const maxTotalBytes = numberOption(values, 'max-total-bytes');
  const maxRatio = numberOption(values, 'max-ratio');
  const limits = {
    ...(maxEntries !== undefined ? { maxEntries } : {}),
    ...(maxTotalBytes !== undefined ? { maxTotalBytes } : {}),
    ...(maxRatio !== undefined ? { maxRatio } : {}),
  };
  const result = await downloadArtifact(name, {
    ...options,
    path: target,
    ...(artifactId !== undefined ? { artifactId } : {}),
    ...(values['skip-decompress'] ? { skipDecompress: true } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  });
  const seconds = (Date.now() - started) / 1000;
  out.result(
    { command: 'download', ...result, seconds },
    `downloaded ${name}: ${result.fileCount} files, ${formatBytes(result.size)} to ${result.downloadPath} in ${seconds.toFixed(1)} s`,
  );
  return 0;
}

async function list(
  positionals: string[],
  values: Values,
  options: ArtifactClientOptions,
  out: CliOutput,
): Promise<number> {
  if (positionals.length) throw new UsageError('list takes no arguments');
  const artifacts = await listArtifacts({ ...options, ...(values['latest'] ? { latest: true } : {}) });
  const human = artifacts.length ? artifacts.map(artifactLine).join('\n') : 'no artifacts';
  out.result({ command: 'list', artifacts }, human);
  return 0;
}

async function get(positionals: string[], options: ArtifactClientOptions, out: CliOutput): Promise<number> {
  const name = exactlyOneName(positionals, 'get needs exactly one artifact NAME');
  const artifact = await getArtifact(name, options);
  out.result({ command: 'get', artifact }, artifactLine(artifact));
  return 0;
}

async function merge(
  positionals: string[],
  values: Values,
  options: ArtifactClientOptions,
  out: CliOutput,
): Promise<number> {
  const name = exactlyOneName(positionals, 'merge needs exactly one NAME for the new artifact');
  const conflict = values['conflict'];
  if (conflict !== undefined && conflict !== 'error' && conflict !== 'overwrite' && conflict !== 'skip') {
    throw new UsageError(`--conflict must be error, overwrite or skip; got '${String(conflict)}'`);
  }
  const retention = numberOption(values, 'retention-days');
  const level = numberOption(values, 'compression-level');
  const result = await mergeArtifacts(name, {
    ...options,
    ...(typeof values['pattern'] === 'string' ? { pattern: values['pattern'] } : {}),
    ...(values['separate-directories'] ? { separateDirectories: true } : {}),
    ...(values['delete-merged'] ? { deleteMerged: true } : {}),
    ...(values['include-hidden'] ? { includeHiddenFiles: true } : {}),
    ...(conflict ? { conflict } : {}),
    ...(retention !== undefined ? { retentionDays: retention } : {}),
    ...(level !== undefined ? { compressionLevel: level } : {}),
  });
  out.result(
    { command: 'merge', artifactName: name, ...result },
    `merged ${result.merged.length} artifacts (${result.merged.join(', ')}) into ${name}${result.id !== undefined ? ` (id ${result.id})` : ''}: ${formatBytes(result.size)}`,
  );
  return 0;
}

async function doctor(options: ArtifactClientOptions, out: CliOutput): Promise<number> {
  const checks = await runDoctor(options, { apiUrl: process.env['GITHUB_API_URL'] });
  const human = checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`).join('\n');
  out.result({ command: 'doctor', ok: checks.every((c) => c.ok), checks }, human);
  return checks.every((c) => c.ok) ? 0 : 1;
}

async function remove(
  positionals: string[],
  options: ArtifactClientOptions,
  out: CliOutput,
): Promise<number> {
  const name = exactlyOneName(positionals, 'delete needs exactly one artifact NAME');
  const { id } = await deleteArtifact(name, options);
  out.result(
    { command: 'delete', artifactName: name, id },
    `deleted ${name}${id !== undefined ? ` (id ${id})` : ''}`,
  );
  return 0;
}

/** `--repository owner/repo --run-id N` reads another run through the REST API with a token. */
function findByOption(values: Values): { findBy?: FindBy } {
  const repository = values['repository'];
  if (typeof repository !== 'string') return {};
  const token = (values['github-token'] as string | undefined) ?? process.env['GITHUB_TOKEN'];
  const runId = values['run-id'];
  if (!token) throw new UsageError('--repository needs --github-token or GITHUB_TOKEN');
  if (typeof runId !== 'string') throw new UsageError('--repository needs --run-id');
  registerSecret(token);
  return {
    findBy: {
      token,
      repository,
      runId,
      ...(process.env['GITHUB_API_URL'] ? { apiUrl: process.env['GITHUB_API_URL'] } : {}),
    },
  };
}

function exactlyOneName(positionals: string[], usage: string): string {
  const [name, ...extra] = positionals;
  if (!name || extra.length) throw new UsageError(usage);
  return name;
}

/** One artifact per line for people: name, size, id. */
function artifactLine(artifact: ArtifactInfo): string {
  return `${artifact.name}\t${formatBytes(artifact.size)}${artifact.id !== undefined ? `\tid ${artifact.id}` : ''}`;
}

async function serve(values: Values, out: CliOutput): Promise<number> {
  const port = numberOption(values, 'port') ?? 0;
  const host = typeof values['host'] === 'string' ? values['host'] : '127.0.0.1';
  const dataDir = path.resolve(
    typeof values['data'] === 'string' ? values['data'] : path.join(os.homedir(), '.ferry', 'serve'),
  );
  const token = typeof values['token'] === 'string' ? values['token'] : process.env['FERRY_TOKEN'];
  registerSecret(token);
  const secrets = await Promise.all(
    listOption(values, 'jwt-secret-file').map((file) => readJwtSecretFile(file)),
  );
  const publicKeys = await Promise.all(listOption(values, 'jwt-public-key').map((file) => readFile(file)));
  const publicUrl = values['public-url'];
  const server = await startServer({
    dataDir,
    port,
    host,
    ...(token ? { token } : {}),
    ...(secrets.length + publicKeys.length > 0 ? { jwt: { secrets, publicKeys } } : {}),
    ...(typeof publicUrl === 'string' ? { publicUrl } : {}),
    ...(values['verbose'] ? { log: (line: string) => out.logger.debug(line) } : {}),
  });
  out.result({ command: 'serve', url: server.url, dataDir }, server.url);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
