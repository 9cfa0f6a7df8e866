import { mintRunnerToken, parseTtl } from '../server/http/mint-token.js';
import { readJwtSecretFile } from '../server/http/jwt-keys.js';
import { UsageError } from './args.js';

/** The default lifetime of a minted token: as long as the runner's own, and as a signed URL. */
const DEFAULT_TTL = '6h';

/**
 * `ferry token --run R --job J [--ttl 6h] --jwt-secret-file FILE`: prints a runtime token for one
 * job, for `ferry serve --jwt-secret-file FILE`. The token is the command's output, so it is
 * written raw to stdout (the CLI's output helpers would redact it as they redact every JWT).
 */
export async function tokenCommand(
  values: Readonly<Record<string, string | boolean | string[] | undefined>>,
): Promise<number> {
  const run = values['run'];
  const job = values['job'];
  const secretFile = values['jwt-secret-file'];
  if (typeof run !== 'string' || typeof job !== 'string' || typeof secretFile !== 'string') {
    throw new UsageError('ferry token needs --run, --job and --jwt-secret-file');
  }
  const ttl = typeof values['ttl'] === 'string' ? values['ttl'] : DEFAULT_TTL;
  let ttlMs: number;
  try {
    ttlMs = parseTtl(ttl);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const secret = await readJwtSecretFile(secretFile);
  let minted: ReturnType<typeof mintRunnerToken>;
  try {
    minted = mintRunnerToken({ run, job, ttlMs, secret });
  } catch (error) {
    // Bad ids or lifetime: the user's input, exit code 2 like every other usage error.
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  const { token, expiresAt } = minted;
  if (values['json']) {
    process.stdout.write(
      `${JSON.stringify({ event: 'result', command: 'token', token, run, job, expiresAt: expiresAt.toISOString() })}\n`,
    );
  } else {
    process.stdout.write(`${token}\n`);
  }
  return 0;
}
