// One blob download for bench/fast-slow.mjs, in its own process so its CPU is its own: Ferry's
// downloadBlob (what downloadArtifact uses; `Range: bytes=0-` above its ranged threshold, its
// own parallel ranges when the first response is slow), bytes hashed and dropped, or with
// `plain` one GET without a range, as @actions/artifact 6.2.1 asks. Usage:
//   node bench/fast-slow-client.mjs '<json spec>'   → one JSON line
import { createHash } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(process.argv[2]);
const lib = (p) => import(pathToFileURL(`${spec.libDir}/${p}`).href);
const { downloadBlob } = await lib('backends/results/blob-download.js');
const { HttpManager } = await lib('transport/http-manager.js');
const { Operation } = await lib('transport/operation.js');

/** One GET, no range, the body hashed: the official client's way. */
function plainGet(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        const hash = createHash('sha256');
        let size = 0;
        res.on('data', (chunk) => {
          size += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ size, sha256: hash.digest('hex') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
let result;
if (spec.plain) {
  result = await plainGet(spec.url);
} else {
  const manager = new HttpManager({ slots: 8, userAgent: 'ferry-bench' });
  result = await downloadBlob(
    spec.url,
    { start: async () => {}, write: async () => {} },
    {
      http: manager,
      operation: new Operation('download'),
      context: {},
      listedSize: spec.size,
      expectedSha256: spec.sha256,
    },
  );
  manager.dispose();
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
if (result.size !== spec.size || result.sha256 !== spec.sha256) {
  throw new Error(`wrong bytes: ${result.size} bytes, sha256 ${result.sha256}`);
}
process.stdout.write(`${JSON.stringify({ seconds, user: cpu.user / 1e6, system: cpu.system / 1e6 })}\n`);
process.exit(0);
