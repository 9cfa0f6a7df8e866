import { recordRunCommand } from './record-run.js';
import { tokenCommand } from './token-command.js';
import { parseArgs } from 'node:util';
import { isFerryError, type FerryErrorCode } from '../core/errors.js';
import { COMMANDS, COMMON, UsageError, type Values } from './args.js';
import { doctor, get, list, merge, remove, serve } from './commands.js';
import { lazyConnection } from './connection.js';
import { download } from './download.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import { createOutput, type CliOutput } from './output.js';
import { upload } from './upload.js';
import { packageVersion } from './version.js';

/** The code of every usage error in `--json` output (bad flags, unknown command, missing arguments). */
export const USAGE_ERROR_CODE: FerryErrorCode = 'ERR_FERRY_USAGE';

export async function main(argv: string[]): Promise<number> {
  // Known before parsing, so that even a usage error is one JSON line on stdout.
  const json = wantsJson(argv);
  // `--json` may come before the command too (`ferry --json list`); it is taken out here.
  const [command, ...rest] = withoutJson(argv);
  if (command === '--version' || command === '-V' || command === 'version') {
    if (command !== 'version' || rest.length === 0) return printVersion(json);
  }
  if (command === '--help' || command === '-h') {
    process.stdout.write(`${MAIN_HELP}\n`);
    return 0;
  }
  if (command === 'help') return help(rest, json);
  if (command === undefined || command.startsWith('-')) {
    return usageError(
      json,
      command === undefined ? 'no command given' : `unknown option '${command}' before the command`,
      MAIN_HELP,
    );
  }
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!spec) return usageError(json, `unknown command '${command}'`, MAIN_HELP);
  const commandHelp = COMMAND_HELP[command] ?? MAIN_HELP;

  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { ...COMMON, ...spec },
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] });
  } catch (error: unknown) {
    return usageError(json, (error as Error).message, commandHelp);
  }
  if (values['help']) {
    process.stdout.write(`${commandHelp}\n`);
    return 0;
  }
  if (command === 'version') return usageError(json, 'version takes no arguments', commandHelp);
  const out = createOutput({
    json,
    verbose: Boolean(values['verbose']),
    quiet: Boolean(values['quiet']),
    tty: Boolean(process.stderr.isTTY) && !process.env['CI'],
  });
  try {
    if (command === 'serve') return await serve(positionals, values, out);
    if (command === 'doctor') return await doctor(positionals, values, out);
    if (command === 'token') return await tokenCommand(values);
    const connect = lazyConnection(values, out);
    switch (command) {
      case 'upload':
        return await upload(positionals, values, connect, out);
      case 'download':
        return await download(positionals, values, connect, out);
      case 'list':
        return await list(positionals, values, connect, out);
      case 'get':
        return await get(positionals, connect, out);
      case 'delete':
        return await remove(positionals, connect, out);
      case 'merge':
        return await merge(positionals, values, connect, out);
      case 'record-run':
        return await recordRunCommand(positionals, values, connect, out);
    }
    return usageError(json, `unknown command '${command}'`, MAIN_HELP);
  } catch (error: unknown) {
    return reportFailure(error, out, commandHelp, json);
  }
}

/** `--json` anywhere before a `--` that ends the options. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

function withoutJson(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  return [...options.filter((a) => a !== '--json'), ...(end === -1 ? [] : argv.slice(end))];
}

function printVersion(json: boolean): number {
  const version = packageVersion();
  process.stdout.write(
    json ? `${JSON.stringify({ event: 'result', command: 'version', version })}\n` : `ferry ${version}\n`,
  );
  return 0;
}

/** `ferry help` and `ferry help CMD`. */
function help(rest: readonly string[], json: boolean): number {
  if (rest.length === 0) {
    process.stdout.write(`${MAIN_HELP}\n`);
    return 0;
  }
  const [topic, ...extra] = rest;
  if (extra.length > 0) return usageError(json, 'help takes at most one COMMAND', MAIN_HELP);
  const text = topic !== undefined && Object.hasOwn(COMMAND_HELP, topic) ? COMMAND_HELP[topic] : undefined;
  if (text === undefined) return usageError(json, `no help for unknown command '${topic}'`, MAIN_HELP);
  process.stdout.write(`${text}\n`);
  return 0;
}

/** Bad usage: one JSON line on stdout with --json, otherwise the message and the help on stderr. */
function usageError(json: boolean, message: string, helpText: string): number {
  const out = createOutput({ json, verbose: false, quiet: true });
  out.error(message, USAGE_ERROR_CODE);
  if (!json) process.stderr.write(`\n${helpText}\n`);
  return 2;
}

/** Exit codes: 2 bad usage or invalid input, 3 not found, 1 anything else. */
function reportFailure(error: unknown, out: CliOutput, helpText: string, json: boolean): number {
  if (error instanceof UsageError) {
    out.error(error.message, USAGE_ERROR_CODE);
    if (!json) process.stderr.write(`\n${helpText}\n`);
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
