#!/usr/bin/env node
// One results blob download through Ferry's downloadBlob (lib/, `npm run build` first), one
// stream against parallel ranges, isolated from the zip reader and the disk: a child process
// serves a random blob with Range and a strong ETag, optionally behind the bench's
// per-connection throttling proxy; the client hashes the bytes (and with `--sink file` writes
// them). Prints one JSON line: wall seconds, MB/s, requests, the client's peak RSS (VmHWM).
//
//   node bench/ranged-blob.mjs --size 512 --connections 8 [--throttle 40] [--sink null|file]
//       [--threshold MiB]   (the ranged threshold; default Ferry's own)
//       [--always-ranges]   (ranges even when the first response is fast)
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DEFAULT_RANGE_POLICY, downloadBlob } from '../lib/backends/results/blob-download.js';
import { HttpManager } from '../lib/transport/http-manager.js';
import { Operation } from '../lib/transport/operation.js';
import { vmHwmKiB } from './vmhwm.mjs';
import { spawnThrottleProxy } from './throttle-proxy.mjs';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '512' },
    connections: { type: 'string', default: '8' },
    throttle: { type: 'string' },
    sink: { type: 'string', default: 'null' },
    threshold: { type: 'string' },
    'always-ranges': { type: 'boolean', default: false },
  },
});
const MiB = 1024 * 1024;
const size = Number(values.size) * MiB;

// The blob server: its own process, so its CPU is not the client's.
const SERVER = `
import http from 'node:http';
import { randomFillSync } from 'node:crypto';
const blob = randomFillSync(Buffer.alloc(${size}));
let requests = 0;
const server = http.createServer((req, res) => {
  requests++;
  const m = /^bytes=(\\d+)-(\\d*)$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const end = m && m[2] ? Number(m[2]) : blob.length - 1;
  const headers = { etag: '"0xBENCH"', 'content-length': end - start + 1 };
  if (m) headers['content-range'] = 'bytes ' + start + '-' + end + '/' + blob.length;
  res.writeHead(m ? 206 : 200, headers);
  res.end(blob.subarray(start, end + 1));
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.stdin.on('data', () => console.log(requests));
`;

const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const lines = createInterface({ input: child.stdout });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));
const port = Number(await nextLine());
let url = `http://127.0.0.1:${port}/blob`;
let proxy;
if (values.throttle) {
  proxy = await spawnThrottleProxy(Number(values.throttle));
  await proxy.setUpstream(url);
  url = `${proxy.url}blob`;
}

const connections = Number(values.connections);
const http = new HttpManager({ slots: connections, userAgent: 'ferry-bench' });
const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-ranged-bench-'));
const sink =
  values.sink === 'file' ? path.join(work, 'blob') : { start: async () => {}, write: async () => {} };
const ranges = {
  ...DEFAULT_RANGE_POLICY,
  ...(values.threshold !== undefined ? { thresholdBytes: Number(values.threshold) * MiB } : {}),
  // Ranges even when the first response is fast (to measure what they cost there).
  ...(values['always-ranges'] ? { fastBytesPerSecond: Infinity } : {}),
};
const started = performance.now();
const result = await downloadBlob(url, sink, {
  http,
  operation: new Operation('download'),
  context: {},
  listedSize: size,
  ranges,
});
const seconds = (performance.now() - started) / 1000;
http.dispose();
child.stdin.write('\n');
const requests = Number(await nextLine());
child.kill();
await proxy?.stop();
await rm(work, { recursive: true, force: true });
const rssMiB = (vmHwmKiB() ?? NaN) / 1024;
console.log(
  JSON.stringify({
    sizeMiB: size / MiB,
    connections,
    throttle: values.throttle ?? null,
    sink: values.sink,
    seconds: Number(seconds.toFixed(2)),
    MBps: Number((result.size / seconds / 1e6).toFixed(1)),
    requests,
    rssMiB: Math.round(rssMiB),
  }),
);
process.exit(0);
