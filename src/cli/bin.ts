import { redactText } from '../core/redact.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // main() reports what it expects; this is the last resort, still one JSON line with --json.
    const message = redactText(error instanceof Error ? error.message : String(error));
    if (process.argv.slice(2).includes('--json')) {
      process.stdout.write(`${JSON.stringify({ event: 'error', message })}\n`);
    } else process.stderr.write(`error: ${message}\n`);
    process.exitCode = 1;
  },
);
