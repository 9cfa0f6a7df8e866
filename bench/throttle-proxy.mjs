// `--throttle MBPS`: a TCP proxy in front of the server that caps every connection at MBPS
// (10^6 bytes/s) in each direction, as real blob stores cap single streams. The server's public
// URL points at it, so every URL the clients are handed (Twirp, signed blob URLs, legacy item
// URLs) goes through it: a download in N parallel ranges can approach N x one stream, and one
// stream cannot go faster than the cap. It relays bytes only; HTTP is untouched.
//
// Runs as its own process (see spawnThrottleProxy), so its CPU is charged neither to the server
// (the bench process) nor to the client. The proxy listens before the server starts (the server
// must know its public URL when it starts); the upstream address follows on stdin.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * Lateness the pacer makes up for: timers fire a millisecond or two late, and without credit
 * for that a 40 MB/s cap would deliver ~30. Idle time beyond it earns nothing, so a keep-alive
 * connection that waited bursts at most this long's worth of bytes afterwards.
 */
const CREDIT_MS = 10;

/**
 * Paces one direction of one connection: each chunk leaves no earlier than the time the bytes
 * before it needed at `bytesPerSecond`.
 */
export function createPacer(bytesPerSecond) {
  let nextFree = 0;
  return {
    /** Milliseconds to wait before sending `n` bytes (and books them). */
    reserve(n) {
      const now = performance.now();
      nextFree = Math.max(nextFree, now - CREDIT_MS);
      const wait = nextFree - now;
      nextFree += (n / bytesPerSecond) * 1000;
      return wait;
    },
  };
}

/** Copies `from` to `to` at most at `bytesPerSecond`, with backpressure both ways. */
function relay(from, to, bytesPerSecond) {
  const pacer = createPacer(bytesPerSecond);
  let pending = Promise.resolve();
  from.on('data', (chunk) => {
    from.pause();
    const wait = pacer.reserve(chunk.length);
    pending = new Promise((resolve) => {
      const send = () => {
        if (to.destroyed) return resolve();
        if (to.write(chunk)) resolve();
        else to.once('drain', resolve);
      };
      if (wait >= 1) setTimeout(send, wait);
      else send();
    }).then(() => {
      if (!from.destroyed) from.resume();
    });
  });
  from.on('end', () => void pending.then(() => to.end()));
}

/**
 * Listens on 127.0.0.1 (ephemeral port); resolves with `{ port, connections(), close() }`.
 * `upstream()` returns `{ host, port }` of the server, asked at each connection.
 */
export async function startThrottleProxy({ upstream: upstreamAddress, bytesPerSecond }) {
  const sockets = new Set();
  let connections = 0;
  // Half-open both ways: one side's FIN must not cut the paced bytes still owed to it; each
  // direction ends on its own (relay), and a socket closes once both of its directions have.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    connections++;
    const upstream = net.connect({ ...upstreamAddress(), allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
    }
    const fail = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail);
    upstream.on('error', fail);
    relay(client, upstream, bytesPerSecond);
    relay(upstream, client, bytesPerSecond);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Starts the proxy at `mbps` per connection and direction in its own process. Resolves with
 * `{ pid, url, setUpstream(url), stop() }`;
 * requests fail until setUpstream names the server. The child exits when the bench's end of its
 * stdin closes, so it never outlives the bench.
 */
export async function spawnThrottleProxy(mbps) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--mbps', String(mbps)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the throttling proxy exited with ${code}`)));
  });
  const { port } = JSON.parse(first);
  return {
    pid: child.pid,
    url: `http://127.0.0.1:${port}/`,
    /** Resolves once the proxy has taken the new upstream (it answers with one line). */
    setUpstream: async (url) => {
      const { hostname, port: upstreamPort } = new URL(url);
      const ack = new Promise((resolve) => lines.once('line', resolve));
      child.stdin.write(`${hostname}:${upstreamPort}\n`);
      await ack;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await gone;
    },
  };
}

async function main() {
  const { values } = parseArgs({ options: { mbps: { type: 'string' } } });
  const mbps = Number(values.mbps);
  if (!(mbps > 0)) {
    process.stderr.write('usage: node bench/throttle-proxy.mjs --mbps N   (then HOST:PORT lines on stdin)\n');
    process.exit(2);
  }
  let upstream = { host: '127.0.0.1', port: 1 }; // nothing listens there: refused until set
  const proxy = await startThrottleProxy({ upstream: () => upstream, bytesPerSecond: mbps * 1e6 });
  process.stdout.write(`${JSON.stringify({ port: proxy.port })}\n`);
  // Each line names the server behind the proxy from then on (the bench starts one per workload).
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      const match = /^(.+):(\d+)$/.exec(line.trim());
      if (match) upstream = { host: match[1], port: Number(match[2]) };
      process.stdout.write(`${JSON.stringify({ upstream })}\n`);
    })
    .on('close', () => void proxy.close().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
