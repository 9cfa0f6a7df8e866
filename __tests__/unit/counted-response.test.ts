import http from 'node:http';
import { StatsCollector } from '../../src/core/stats.js';
import { countedResponse } from '../../src/transport/counted-response.js';
import { startLoopback, type Loopback } from '../helpers/loopback.js';

let server: Loopback;
beforeAll(async () => {
  server = await startLoopback((req, res) => {
    const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? '0');
    res.writeHead(200, { 'content-length': size });
    res.end(Buffer.alloc(size, 7));
  });
});
afterAll(() => server.close());

/** GETs `path` through `agent`, counting the response, and reads its body the way a reader would. */
function get(stats: StatsCollector, agent: http.Agent, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http
      .get(new URL(path, server.url), { agent }, (raw) => {
        const res = countedResponse(raw, stats);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('counts every body byte and each new connection, and leaves the body as it was', async () => {
  const stats = new StatsCollector();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const bodies = [];
    for (const size of [0, 5, 70_000, 3_000]) bodies.push(await get(stats, agent, `/?size=${size}`));
    expect(bodies.map((b) => b.length)).toEqual([0, 5, 70_000, 3_000]);
    expect(bodies[2]?.every((byte) => byte === 7)).toBe(true);
    const counted = stats.snapshot();
    expect(counted.bytesReceived).toBe(73_005);
    // One keep-alive socket for all four.
    expect(counted.connectionsOpened).toBe(1);
  } finally {
    agent.destroy();
  }
});

test('shares one push function between responses (no closure per response)', async () => {
  const stats = new StatsCollector();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const pushes: unknown[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        http
          .get(new URL('/?size=10', server.url), { agent }, (raw) => {
            pushes.push(countedResponse(raw, stats).push);
            raw.resume();
            raw.on('end', resolve);
          })
          .on('error', reject);
      });
    }
    expect(pushes[0]).toBe(pushes[1]);
    expect(stats.snapshot().bytesReceived).toBe(20);
  } finally {
    agent.destroy();
  }
});
