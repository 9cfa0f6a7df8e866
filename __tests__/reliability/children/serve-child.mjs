// Child process for the ferry serve cases of section S (__tests__/reliability/serve-*.test.ts):
// runs the built server (lib/) so the parent can kill -9 it, or run it inside a private mount
// namespace on a tiny tmpfs. Prints one JSON line `{"url": ...}` on stdout once listening, and
// every request log line on stderr.
//
// Usage: node serve-child.mjs '<json spec>'
//   spec = { dataDir, port?, token?, limits? }
const lib = await import(new URL('../../../lib/server/index.js', import.meta.url).href);
const spec = JSON.parse(process.argv[2] ?? '{}');

const server = await lib.startServer({
  dataDir: spec.dataDir,
  port: spec.port ?? 0,
  ...(spec.token ? { token: spec.token } : {}),
  ...(spec.limits ? { limits: spec.limits } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
