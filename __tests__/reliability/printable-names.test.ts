/**
 * Reliability case X35: names with ESC, C1 controls and bidi overrides, chosen by a hostile
 * server (or a hostile client of `ferry serve`), never reach a terminal or a log raw. The bytes
 * written are searched for every raw form (ESC, UTF-8 encoded C1, the bidi controls); the
 * escaped forms must be there instead, and --json must still parse back to the real names.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { actionLogger, progressLine } from '../../src/action/runtime.js';
import { runCli as ferry } from '../helpers/run-cli.js';
import { startServer } from '../../src/server/index.js';
import { waitFor } from '../helpers/loopback.js';
import { rawRequest } from '../helpers/server-fixture.js';
import { startHostileLegacy, RUN_ID, type HostileArtifact } from './hostile-legacy.js';

const EVIL = {
  osc: 'osc\u001b]0;pwned\u0007',
  csi: 'csi\u009b2J',
  bidi: 'bidi\u202egpj.exe',
  isolate: 'iso\u2066late',
  forged: 'nl\nforged line',
};

/** Raw characters a terminal or a bidi-aware viewer acts on (newlines and tabs are allowed). */
function rawUnsafe(text: string): string[] {
  return [...text].filter((ch) => {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\n' || ch === '\t') return false;
    return (
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069)
    );
  });
}

let work: string;
const saved = { ...process.env };
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-rel-x35-'));
  for (const key of Object.keys(process.env)) {
    if (/^(ACTIONS_|GITHUB_|FERRY_|HTTPS?_PROXY|NO_PROXY|CI$)/i.test(key)) delete process.env[key];
  }
});
afterAll(async () => {
  process.env = saved;
  await rm(work, { recursive: true, force: true });
});

const artifacts: HostileArtifact[] = Object.values(EVIL).map((name) => ({ name, size: 0 }));

describe('X35 hostile names printed escaped', () => {
  test('[X35] ferry list: every name escaped, one line per artifact; --json parses back to the real names', async () => {
    const hostile = await startHostileLegacy(artifacts, []);
    try {
      const human = await ferry('list', '--url', hostile.url, '--run-id', RUN_ID);
      expect(human.code).toBe(0);
      expect(rawUnsafe(human.stdout + human.stderr)).toEqual([]);
      const lines = human.stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(artifacts.length);
      expect(lines.map((l) => l.split('\t')[0])).toEqual([
        'osc\\x1b]0;pwned\\x07',
        'csi\\x9b2J',
        'bidi\\u202egpj.exe',
        'iso\\u2066late',
        'nl\\x0aforged line',
      ]);

      const json = await ferry('list', '--url', hostile.url, '--run-id', RUN_ID, '--json');
      expect(json.code).toBe(0);
      expect(rawUnsafe(json.stdout)).toEqual([]);
      const result = JSON.parse(json.stdout.trim().split('\n').pop() as string) as {
        artifacts: Array<{ name: string }>;
      };
      expect(result.artifacts.map((a) => a.name)).toEqual(Object.values(EVIL));
    } finally {
      await hostile.close();
    }
  });

  test('[X35] ferry download: errors naming a hostile artifact and file, and progress and result lines, are escaped', async () => {
    // The artifact name must pass the client's own name check (no controls); bidi controls do.
    const hostile = await startHostileLegacy(
      [{ name: EVIL.isolate, size: 10 }],
      [
        { path: `${EVIL.isolate}/ok.txt`, content: 'fine' },
        { path: `${EVIL.isolate}/${EVIL.csi}\u202etxt.exe`, content: 'pending', status: 'pendingUpload' },
      ],
    );
    try {
      const target = path.join(work, 'download-error');
      await mkdir(target);
      const failed = await ferry(
        'download',
        EVIL.isolate,
        '--url',
        hostile.url,
        '--run-id',
        RUN_ID,
        '--path',
        target,
      );
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("artifact 'iso\\u2066late'");
      expect(failed.stderr).toContain("its file 'csi\\x9b2J\\u202etxt.exe' has the status 'pendingUpload'");
      expect(rawUnsafe(failed.stdout + failed.stderr)).toEqual([]);
    } finally {
      await hostile.close();
    }

    const fine = await startHostileLegacy(
      [{ name: EVIL.bidi, size: 4 }],
      [{ path: `${EVIL.bidi}/ok.txt`, content: 'fine' }],
    );
    try {
      const target = path.join(work, 'download-ok');
      const done = await ferry(
        'download',
        EVIL.bidi,
        '--url',
        fine.url,
        '--run-id',
        RUN_ID,
        '--path',
        target,
      );
      expect(done.code).toBe(0);
      expect(done.stdout).toContain('downloaded bidi\\u202egpj.exe: 1 file,');
      expect(done.stderr).toContain('download bidi\\u202egpj.exe:');
      expect(rawUnsafe(done.stdout + done.stderr)).toEqual([]);
    } finally {
      await fine.close();
    }
  });

  test('[X35] the Action step log: progress lines and logged messages carry no raw control', () => {
    const line = progressLine({
      operation: 'download',
      artifactName: EVIL.osc,
      phase: 'transfer',
      bytesDone: 1,
      bytesTotal: 2,
      filesDone: 0,
      filesTotal: 1,
    });
    expect(line).toContain("Downloading 'osc\\x1b]0;pwned\\x07'");
    expect(rawUnsafe(line)).toEqual([]);

    let written = '';
    const out = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => (
      (written += String(chunk)),
      true
    )) as typeof process.stdout.write;
    try {
      actionLogger().info(`Artifact ${EVIL.csi} and ${EVIL.bidi}`);
    } finally {
      process.stdout.write = out;
    }
    expect(written).toContain('Artifact csi\\x9b2J and bidi\\u202egpj.exe');
    expect(rawUnsafe(written)).toEqual([]);
  });

  test('[X35] ferry serve: a request path with encoded ESC/C1/bidi is logged without decoding them', async () => {
    // Raw bytes >= 0x80 or controls in a request line never reach the server: Node's parser
    // answers 400 itself. What a client can send is percent-encoded, and the log keeps it so.
    const lines: string[] = [];
    const server = await startServer({ dataDir: path.join(work, 'serve'), log: (l) => lines.push(l) });
    try {
      const res = await rawRequest('GET', `${server.url}_apis/x%1b%5b2J%c2%9b%e2%80%ae`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      // The access line, not the listing indexes' cold-start notes written before the request.
      await waitFor(() => lines.some((l) => l.includes('/_apis/')));
      const logged = lines.join('\n');
      expect(logged).toContain('/_apis/x%1b%5b2J%c2%9b%e2%80%ae');
      expect(rawUnsafe(logged)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
