// The machine's floor, measured in the same run as the clients (same load, same disk, same
// --busy core): what one loopback HTTP stream, sha256 and page-cache writes can do here, and how
// fast N small files can be created. A transfer cannot beat the slowest of these that it needs;
// printed next to Ferry's throughput, they say how far from the machine's limits it is.
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { settleDisk } from './settle.mjs';
import { spawnThrottleProxy } from './throttle-proxy.mjs';

const MiB = 1024 * 1024;
/** Bytes moved by each throughput floor: long enough to be steady, short enough to be cheap. */
const FLOOR_BYTES = 256 * MiB;
/** Through the throttling proxy a stream is slow by design: less is enough there. */
const THROTTLED_BYTES = 64 * MiB;
const RESPONSE_BYTES = 32 * MiB;
const WRITE_CHUNK = 8 * MiB;

/**
 * The client of the loopback floor, in its own process as the bench's clients are: GETs over
 * one keep-alive connection until `total` bytes have arrived, discarding them; prints seconds.
 */
const GET_CLIENT = `const http = require('node:http');
const [url, total] = [process.argv[1], Number(process.argv[2])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = () => new Promise((resolve, reject) => {
  http.get(url, { agent }, (res) => { let n = 0; res.on('data', (c) => { n += c.length; }); res.on('end', () => resolve(n)); res.on('error', reject); }).on('error', reject);
});
(async () => {
  await get(); // connection set up and warm before the clock
  const started = process.hrtime.bigint();
  let got = 0;
  while (got < total) got += await get();
  process.stdout.write(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes: got }));
  agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });`;

/**
 * Loopback GET, one stream: node:http server here, node:http client in a child. MB/s; with
 * `throttleMbps`, through a throttling proxy of that cap (the single-stream floor of --throttle).
 */
async function loopbackGet(throttleMbps) {
  const body = Buffer.allocUnsafe(RESPONSE_BYTES);
  randomFillSync(body);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = throttleMbps === undefined ? undefined : await spawnThrottleProxy(throttleMbps);
  try {
    const direct = `http://127.0.0.1:${server.address().port}/`;
    await proxy?.setUpstream(direct);
    const total = proxy ? THROTTLED_BYTES : FLOOR_BYTES;
    const child = spawn(process.execPath, ['-e', GET_CLIENT, proxy?.url ?? direct, String(total)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const code = await new Promise((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`the loopback GET floor client exited with ${code}`);
    const { seconds, bytes } = JSON.parse(out);
    return bytes / 1e6 / seconds;
  } finally {
    await proxy?.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** sha256 of random bytes in 1 MiB updates (how the clients feed it). MB/s. */
function sha256() {
  const block = Buffer.allocUnsafe(MiB);
  randomFillSync(block);
  const hash = createHash('sha256');
  const started = process.hrtime.bigint();
  for (let done = 0; done < FLOOR_BYTES; done += block.length) hash.update(block);
  hash.digest();
  return FLOOR_BYTES / 1e6 / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** A new file written with 8 MiB writeSync calls into `dir` (page cache, no fsync). MB/s. */
async function fileWrite(dir) {
  const block = Buffer.allocUnsafe(WRITE_CHUNK);
  randomFillSync(block);
  const file = path.join(dir, 'floor-write.bin');
  await settleDisk();
  const started = process.hrtime.bigint();
  const fd = openSync(file, 'w');
  try {
    for (let done = 0; done < FLOOR_BYTES; done += block.length) {
      let off = 0;
      while (off < block.length) off += writeSync(fd, block, off, block.length - off);
    }
  } finally {
    closeSync(fd);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  unlinkSync(file);
  await settleDisk();
  return FLOOR_BYTES / 1e6 / seconds;
}

/**
 * Throughput floors of this run, measured in `dir` (on the filesystem the downloads go to):
 * `{ getMBps, sha256MBps, writeMBps }`, and `throttledGetMBps` (one stream through the
 * throttling proxy) when `throttleMbps` is given.
 */
export async function measureFloors(dir, throttleMbps) {
  return {
    getMBps: await loopbackGet(),
    ...(throttleMbps === undefined ? {} : { throttledGetMBps: await loopbackGet(throttleMbps) }),
    sha256MBps: sha256(),
    writeMBps: await fileWrite(dir),
  };
}

/**
 * How fast this machine creates the files of `workload` in `dir`: mkdir once per directory,
 * then open + write + close of every file with synchronous calls, as an extractor at the floor
 * would. Files/s (the removal afterwards is not timed).
 */
export async function smallFileFloor(workload, dir) {
  const root = path.join(dir, `floor-files-${workload.name}`);
  const largest = Math.max(...workload.files.map((f) => f.size));
  const body = Buffer.alloc(largest, 0x61);
  await settleDisk();
  const started = process.hrtime.bigint();
  const made = new Set();
  for (const f of workload.files) {
    const abs = path.join(root, f.path);
    const parent = path.dirname(abs);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    const fd = openSync(abs, 'w');
    try {
      let off = 0;
      while (off < f.size) off += writeSync(fd, body, off, f.size - off);
    } finally {
      closeSync(fd);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(root, { recursive: true, force: true });
  await settleDisk();
  return workload.files.length / seconds;
}
