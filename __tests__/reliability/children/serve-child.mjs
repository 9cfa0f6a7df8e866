// Child process for the ferry serve cases of section S (__tests__/reliability/serve-*.test.ts):
// runs the server of the library compiled from src/ (FERRY_LIBRARY, its index.js) so the parent can kill -9 it, or run it inside a private mount
// namespace on a tiny tmpfs. Prints one JSON line `{"url": ...}` on stdout once listening, and
// every request log line on stderr.
//
// Usage: node serve-child.mjs '<json spec>'
//   spec = { dataDir, port?, token?, limits?, azure? }
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const library = process.env.FERRY_LIBRARY ?? 'FERRY_LIBRARY is not set';
const lib = await import(pathToFileURL(path.join(path.dirname(library), 'server', 'index.js')).href);
const spec = JSON.parse(process.argv[2] ?? '{}');

const server = await lib.startServer({
  dataDir: spec.dataDir,
  port: spec.port ?? 0,
  ...(spec.token ? { token: spec.token } : {}),
  ...(spec.limits ? { limits: spec.limits } : {}),
  ...(spec.azure ? { azure: spec.azure } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
