// One `ferry serve` for bench/fast-slow.mjs, in its own process so its CPU and peak RSS are its
// own: an azure_blob store on the bench's Azurite, with a fast_slow cache in `fastDir` unless
// `fastDir` is null (then downloads are SAS URLs straight to Azure). Usage:
//   node bench/fast-slow-server.mjs '<json spec>'
// Prints `{"url": ...}` once listening; each line on stdin is answered with one JSON line of
// this process's CPU seconds so far and peak RSS (VmHWM). Exits when stdin closes.
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { vmHwmKiB } from './vmhwm.mjs';

const spec = JSON.parse(process.argv[2]);
const { startServer } = await import(pathToFileURL(spec.libIndex).href);
const server = await startServer({
  dataDir: spec.dataDir,
  port: 0,
  host: '127.0.0.1',
  token: spec.token,
  azure: { account: spec.account, container: spec.container, prefix: '', createContainer: true },
  ...(spec.fastDir ? { fastStore: { path: spec.fastDir } } : {}),
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

function peakRssMiB() {
  return (vmHwmKiB() ?? NaN) / 1024;
}

const lines = createInterface({ input: process.stdin });
lines.on('line', () => {
  const cpu = process.cpuUsage();
  process.stdout.write(
    `${JSON.stringify({ user: cpu.user / 1e6, system: cpu.system / 1e6, peakRssMiB: peakRssMiB() })}\n`,
  );
});
lines.on('close', () => {
  void server.close(0).then(() => process.exit(0));
});
