// Markdown output of a benchmark run: the conditions, the results table, the ratios to the
// official clients, Ferry next to the machine's floor, the embedded-store file counts, the
// concurrency sweep, and docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const fmt = (n, digits) => (n === undefined || n === null || Number.isNaN(n) ? '-' : n.toFixed(digits));
const fmtSpeed = (n) =>
  n === undefined ? '-' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);

/** Non-default Ferry settings of a row, e.g. " (c=4, level 1)". */
function settings(r) {
  const parts = [];
  if (r.concurrency) parts.push(`c=${r.concurrency}`);
  if (r.compressionLevel !== undefined) parts.push(`level ${r.compressionLevel}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** "user / sys" CPU seconds. */
const cpu = (user, system) => `${fmt(user, 2)} / ${fmt(system, 2)}`;

/** How long the disk took to settle before the row's operation; "NOT settled" when the wait ran out. */
function settled(r) {
  if (!r.settle) return '-';
  const waited = (r.settle.waitedMs / 1000).toFixed(1);
  return r.settle.settled ? waited : `${waited} NOT settled`;
}

export function resultsTable(rows) {
  const lines = [
    '| workload | op | client | wall s | MB/s | files/s | requests | TCP conns | peak RSS MiB | check | client CPU s user / sys | server CPU s user / sys | settle s |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.workload} | ${r.op} | ${r.client}${settings(r)} | ${fmt(r.wallSeconds, 2)}${r.spread ? ` [${r.spread}]` : ''} | ${fmtSpeed(r.mbPerSec)} | ${fmtSpeed(r.filesPerSec)} | ${r.requests ?? '-'} | ${r.connections ?? '-'} | ${fmt(r.rssMiB, 0)} | ${r.check} | ${cpu(r.clientUserSeconds, r.clientSystemSeconds)} | ${cpu(r.serverUserSeconds, r.serverSystemSeconds)} | ${settled(r)} |`,
    );
  }
  return lines.join('\n');
}

/** The run's conditions, one line each: load, busy core, throttle, disk settling. */
export function conditionsLines({ options, busyPid }) {
  return [
    options.busy
      ? `- **Busy**: one core was kept loaded by another process (a sha256 loop, pid ${busyPid}) during every measurement, floors included.`
      : '- Idle: no load was added (other users of the machine may still have run).',
    options.throttle === undefined
      ? '- No bandwidth cap: clients talked to the server directly over loopback.'
      : `- **Throttled**: every connection went through a TCP proxy capping it at ${options.throttle} MB/s in each direction (${options.store === 'azurite' ? "in front of Azurite, the blobs' server" : "the server's public URL"}).`,
    options.store === 'azurite'
      ? "- **Blobs on Azurite**: `ferry serve` with an azure_blob store on Azurite (Microsoft's storage emulator) answered the Twirp calls; every results client moved its bytes to and from Azurite through SAS URLs. Server CPU is ferry serve's plus Azurite's; requests and connections are ferry serve's only."
      : "- Blobs on `ferry serve`'s own blob server.",
    '- Before every timed operation: `sync`, then a wait (at most 30 s) until Dirty + Writeback in /proc/meminfo is below 8 MiB ("settle s").',
    options.repeat > 1
      ? `- Each figure is the median of ${options.repeat} runs (range in brackets); the client order was reversed on every other run.`
      : '- One run per figure; the client order is reversed from uploads to downloads and from one workload to the next (use --repeat 2 or more to alternate it per figure too).',
  ];
}

/** Ferry's clients of each protocol, for the floor table: the loopback server ones, then the embedded ones. */
const FERRY_BY_PROTOCOL = [
  ['ferry', 'ferry-results'],
  ['embedded-legacy', 'embedded-results'],
];

/**
 * One line per workload and operation Ferry ran: its throughput on each protocol next to the
 * floors measured in the same run (the small-file creation rate only for many-file workloads).
 */
export function floorTable({ rows, floors, fileFloors }) {
  const lines = [
    `Floors of this run: loopback GET (one stream) ${fmtSpeed(floors.getMBps)} MB/s${floors.throttledGetMBps === undefined ? '' : `, one stream through the throttling proxy ${fmtSpeed(floors.throttledGetMBps)} MB/s`}, sha256 ${fmtSpeed(floors.sha256MBps)} MB/s, file writes (page cache) ${fmtSpeed(floors.writeMBps)} MB/s.`,
    '',
    `| workload | op | Ferry MB/s legacy / results | loopback GET MB/s${floors.throttledGetMBps === undefined ? '' : ' | throttled GET MB/s (one stream)'} | sha256 MB/s | file write MB/s | Ferry files/s legacy / results | files created/s (sync) |`,
    `|---|---|---:|---:|${floors.throttledGetMBps === undefined ? '' : '---:|'}---:|---:|---:|---:|`,
  ];
  const groups = new Map();
  for (const r of rows) {
    const key = `${r.workload}\u0000${r.op}`;
    if (!groups.has(key)) groups.set(key, { workload: r.workload, op: r.op, byClient: {} });
    groups.get(key).byClient[r.client] = r;
  }
  for (const g of groups.values()) {
    const pair = FERRY_BY_PROTOCOL.find(([a, b]) => g.byClient[a] || g.byClient[b]);
    if (!pair) continue;
    const [legacy, results] = pair.map((c) => g.byClient[c]);
    const fileFloor = fileFloors[g.workload];
    lines.push(
      `| ${g.workload} | ${g.op} | ${fmtSpeed(legacy?.mbPerSec)} / ${fmtSpeed(results?.mbPerSec)} | ${fmtSpeed(floors.getMBps)}${floors.throttledGetMBps === undefined ? '' : ` | ${fmtSpeed(floors.throttledGetMBps)}`} | ${fmtSpeed(floors.sha256MBps)} | ${fmtSpeed(floors.writeMBps)} | ${fileFloor === undefined ? '-' : `${fmtSpeed(legacy?.filesPerSec)} / ${fmtSpeed(results?.filesPerSec)}`} | ${fileFloor === undefined ? '-' : fmtSpeed(fileFloor)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The embedded-store rows (client and server in one process), with peak RSS per file; when
 * more than one file count ran, also what each added file costs (the growth between the
 * smallest and the largest count), which is what says whether memory grows with the work.
 */
export function embeddedTable(rows) {
  const lines = [
    '| files | op | client | wall s | files/s | MB/s | peak RSS MiB | KiB RSS per file | client+server CPU s user / sys | requests | check |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.files} | ${r.op} | ${r.client}${settings(r)} | ${fmt(r.wallSeconds, 2)}${r.spread ? ` [${r.spread}]` : ''} | ${fmtSpeed(r.filesPerSec)} | ${fmtSpeed(r.mbPerSec)} | ${fmt(r.rssMiB, 0)} | ${r.rssMiB === undefined ? '-' : fmt((r.rssMiB * 1024) / r.files, 2)} | ${cpu(r.clientUserSeconds, r.clientSystemSeconds)} | ${r.requests ?? '-'} | ${r.check} |`,
    );
  }
  const growth = [];
  const byKey = new Map();
  for (const r of rows) {
    if (r.rssMiB === undefined) continue;
    const key = `${r.op} ${r.client}`;
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key).push(r);
  }
  for (const [key, list] of byKey) {
    if (list.length < 2) continue;
    const sorted = [...list].sort((a, b) => a.files - b.files);
    const [low, high] = [sorted[0], sorted.at(-1)];
    const perFile = ((high.rssMiB - low.rssMiB) * 1024) / (high.files - low.files);
    growth.push(
      `- ${key}: peak RSS ${fmt(low.rssMiB, 0)} MiB at ${low.files} files, ${fmt(high.rssMiB, 0)} MiB at ${high.files}: ${fmt(perFile, 2)} KiB per added file; wall ${fmt(low.wallSeconds, 2)} s -> ${fmt(high.wallSeconds, 2)} s (${fmt(high.wallSeconds / low.wallSeconds, 1)}x for ${fmt(high.files / low.files, 0)}x the files)`,
    );
  }
  return growth.length > 0 ? `${lines.join('\n')}\n\n${growth.join('\n')}` : lines.join('\n');
}

/** One line per workload/op that both clients ran: how many times faster ferry was. */
export function ratioLines(rows) {
  const out = [];
  const key = (r) => `${r.workload} ${r.op}`;
  const groups = new Map();
  for (const r of rows) {
    if (!groups.has(key(r))) groups.set(key(r), {});
    groups.get(key(r))[r.client] = r;
  }
  const pairs = [
    ['ferry', 'legacy', 'the legacy client (1.1.3)'],
    ['ferry-results', 'current', 'the current client (6.2.1)'],
  ];
  for (const [k, g] of groups) {
    for (const [mine, theirs, label] of pairs) {
      const a = g[mine];
      const b = g[theirs];
      if (!a?.wallSeconds || !b?.wallSeconds) continue;
      const x = b.wallSeconds / a.wallSeconds;
      out.push(
        `- ${k}: ${mine} ${x >= 1 ? `${x.toFixed(2)}x faster` : `${(1 / x).toFixed(2)}x SLOWER`} than ${label} (${a.wallSeconds.toFixed(2)} s vs ${b.wallSeconds.toFixed(2)} s; peak RSS ${fmt(a.rssMiB, 0)} vs ${fmt(b.rssMiB, 0)} MiB; TCP connections ${a.connections} vs ${b.connections})`,
      );
    }
  }
  return out.join('\n');
}

export function sweepTable(rows) {
  const ops = [...new Set(rows.map((r) => r.op))];
  const byC = new Map();
  for (const r of rows) {
    if (!byC.has(r.concurrency)) byC.set(r.concurrency, {});
    byC.get(r.concurrency)[r.op] = r;
  }
  const head = ['concurrency'];
  const sep = ['---:'];
  for (const op of ops) {
    head.push(
      `${op} wall s`,
      `${op} files/s`,
      `${op} MB/s`,
      `${op} TCP conns`,
      `${op} peak RSS MiB`,
      `${op} check`,
    );
    sep.push('---:', '---:', '---:', '---:', '---:', '---');
  }
  const lines = [`| ${head.join(' | ')} |`, `|${sep.join('|')}|`];
  for (const [c, byOp] of [...byC].sort((a, b) => a[0] - b[0])) {
    const cells = [String(c)];
    for (const op of ops) {
      const r = byOp[op];
      cells.push(
        fmt(r?.wallSeconds, 2),
        fmtSpeed(r?.filesPerSec),
        fmtSpeed(r?.mbPerSec),
        String(r?.connections ?? '-'),
        fmt(r?.rssMiB, 0),
        r?.check ?? '-',
      );
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function machineInfo() {
  let nproc = String(os.availableParallelism?.() ?? os.cpus().length);
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // keep the Node figure
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    if (dirty) commit += ' (with uncommitted changes in src/)';
  } catch {
    // not a git checkout
  }
  return {
    nproc,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: (os.totalmem() / 1024 ** 3).toFixed(0),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    commit,
  };
}

/** The method section of docs/benchmarks.md, the same whenever it is regenerated. */
const METHOD = [
  '- **Servers.** One Ferry `startServer` per workload and client, in the benchmark process, on 127.0.0.1 with a fresh data dir. `ferry` and `legacy` (`@actions/artifact` 1.1.3) speak the legacy (pipelines) protocol to it; `ferry-results` and `current` (`@actions/artifact` 6.2.1) the results protocol (Twirp + blob).',
  '- **One process per operation.** Every measured operation runs in its own child process; "wall s" times only the `uploadArtifact` / `downloadArtifact` call (module loading and disk settling excluded). Peak RSS is the child\'s own VmHWM (its `maxRSS` would include the peak of the benchmark process it was spawned from, which hosts the server).',
  '- **Disk settled before every timed operation.** The child runs `sync`, then waits until Dirty + Writeback in /proc/meminfo is below 8 MiB (at most 30 s; "settle s" is the wait, and a row that ran out of time says "NOT settled"). Small-file work is mostly system time, and whoever runs right after another client wrote, verified and deleted 10,000 files would otherwise pay for that writeback. Nothing is dropped from the page cache: sources are warm for every client alike.',
  "- **Order.** Per workload, every client's upload, then every client's download. The order of the clients is reversed on every other turn: from one repetition (`--repeat N`) to the next, from uploads to downloads, and from one workload to the next, so no client always runs right after the same other one. Figures are medians of the repetitions.",
  "- **CPU.** The client's user and system CPU seconds are apart (getrusage of the child over the timed call, every thread included); so are the server's (the benchmark process, which does nothing else meanwhile: the `--busy` load and the throttling proxy are processes of their own). On a shared machine CPU time is steadier than wall time, and small-file work is mostly system time.",
  "- **Requests and TCP connections** are the server's counters before and after the child.",
  "- **The machine's floor**, measured in the same run under the same conditions: loopback HTTP GET over one keep-alive stream (node:http server in the benchmark process, node:http client in a child, discarding), sha256 in 1 MiB updates, writing a new 256 MiB file with 8 MiB `writeSync` calls into the benchmark's temp dir (page cache, no fsync), and for workloads of 100 files or more the rate of creating their files (mkdir once per directory, then open, write, close, all synchronous). A transfer cannot beat the slowest floor it needs.",
  '- **`--busy`** keeps one core loaded by another process (a sha256 loop) from before the floors until the end, as a CI runner that builds while it transfers.',
  "- **`--throttle MBPS`** puts a TCP proxy (its own process) in front of every server and makes it the server's public URL, so every URL a client is handed goes through it; it caps every connection at MBPS in each direction, as blob stores cap single streams. Parallel ranges should then approach N x one stream.",
  "- **`--store azurite`** keeps the results protocol's blobs on Azurite (Microsoft's storage emulator) instead of `ferry serve`'s own blob server: `ferry serve` runs with an azure_blob store and answers only the Twirp calls, and every results client moves its bytes to and from Azurite through SAS URLs, so the ratios do not depend on a server Ferry wrote. The legacy clients are skipped (that protocol's bytes always go through ferry serve). With `--throttle`, the proxy sits in front of Azurite.",
  "- **Through the embedded store** (`--files`, default 10000): client and server in one process, as the `ferry` CLI runs with no runner around (`embedded-results`: the CLI's embedded store; `embedded-legacy`: `startServer` in the same process over the legacy protocol), on W1-like workloads of N files. Peak RSS per file tells whether memory grows with the work.",
  '- MB/s and files/s are of the original data (MB = 10^6 bytes). Ferry runs with its defaults (concurrency 8, compression level 6) unless the client column says otherwise (`c=N`, `level N`).',
  '- Each client downloads what its own upload produced, into a fresh directory; "check" compares every file\'s size and SHA-256 with the source.',
];

/** The commands of the Reproduce section. */
const REPRODUCE = [
  'npm run bench -- --write-docs                       # the full run (this page)',
  'npm run bench -- --repeat 2 --workloads W1 --busy   # small files, order alternating, one core busy',
  'npm run bench -- --workloads W2 --clients ferry-results,current --throttle 40',
  'npm run bench -- --store azurite --repeat 2 --workloads W1,W2,W3 # results blobs on Azurite',
  'npm run bench -- --workloads none --files 10000,100000 # memory against file count',
  'npm run bench -- --size-scale 0.1 --workloads W1,W3 # a quick look',
  'npm run bench -- --clients ferry --ops upload --ferry-concurrency-sweep 2,4,8,16',
  'npm run bench -- --help                             # every flag',
  'node bench/ab-builds.mjs --old ../old/lib/index.js --load busy # two builds, interleaved',
  "node bench/rss-files.mjs --files 100000 --protocol results --op download --via cli # the CLI's peak RSS",
];

const KEEP_MARKER = '<!-- Everything below this line is kept when the file is regenerated. -->';

export function writeDocs(
  file,
  {
    rows,
    embedded,
    floors,
    fileFloors,
    conditions,
    sweep,
    workloads,
    options,
    machine,
    startedAt,
    loadBefore,
    loadAfter,
    noisy,
  },
) {
  const wl = workloads
    .map(
      (w) =>
        `- **${w.name}**: ${w.title}${options.scale === 1 ? '' : ` (scaled x${options.scale})`}: ${w.files.length} file${w.files.length === 1 ? '' : 's'}, ${(w.totalBytes / 1e6).toFixed(1)} MB`,
    )
    .join('\n');
  const parts = [
    '# Benchmarks: Ferry vs the official clients (`@actions/artifact` 1.1.3 and 6.2.1)',
    '',
    `Generated by \`npm run bench -- --write-docs\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    `- Machine: \`nproc\` = ${machine.nproc} (${machine.cpu}), ${machine.memGiB} GiB RAM, ${machine.platform}`,
    `- Node ${machine.node}; Ferry at ${machine.commit}`,
    `- Load average (1 min) before / after the run: ${loadBefore} / ${loadAfter} (the machine is shared; compare ratios within one run, not absolute times across runs)`,
    `- Flags: \`${options.argv.join(' ') || '(defaults)'}\`${options.repeat > 1 ? `; each figure is the median of ${options.repeat} runs (range in brackets)` : ''}`,
    ...conditions,
    ...(noisy ? [`- **Warning**: ${noisy}.`] : []),
    '',
    '## Workloads',
    '',
    wl,
    '',
    'Generated deterministically (fixed seed) into `.bench/` (gitignored) and reused while intact.',
    '',
    '## How it is measured',
    '',
    ...METHOD,
    '',
    '## Results',
    '',
    resultsTable(rows),
    '',
    ratioLines(rows),
    '',
    "## Ferry next to the machine's floor",
    '',
    floorTable({ rows: [...rows, ...embedded], floors, fileFloors }),
    '',
  ];
  if (embedded.length > 0) {
    parts.push(
      '## Through the embedded store (client and server in one process)',
      '',
      embeddedTable(embedded),
      '',
    );
  }
  if (sweep.length > 0) {
    parts.push('## Ferry concurrency sweep (W1)', '', sweepTable(sweep), '');
  }
  parts.push(
    '## Reproduce',
    '',
    '<!-- not-run: a benchmark run takes minutes and wants an idle machine -->',
    '```sh',
    ...REPRODUCE,
    '```',
    '',
    KEEP_MARKER,
  );
  let kept = '';
  if (existsSync(file)) {
    const old = readFileSync(file, 'utf8');
    const at = old.indexOf(KEEP_MARKER);
    if (at !== -1) kept = old.slice(at + KEEP_MARKER.length);
  }
  writeFileSync(file, `${parts.join('\n')}${kept || '\n'}`);
}
