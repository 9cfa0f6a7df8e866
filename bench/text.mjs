// Text generators for the workloads: source-like code (W1, text half of W4) and log-like lines
// (W3). Plain ASCII, so string length = byte length. Tuned to compress like the real thing with
// gzip -6: source about 3.9x as one stream (2.9x file by file for 1-16 KiB files), logs about
// 4.9-5x.

const WORDS = (
  'value item data result index count error state config options buffer request response ' +
  'file path name size length offset chunk stream reader writer client server handle event ' +
  'context manager cache entry record token status message header body retry timeout limit ' +
  'queue worker task job slot agent proxy socket url host port target source digest hash ' +
  'artifact upload download archive folder list map set key node tree parent child first last ' +
  'total start end range block page batch group user owner repo branch commit tag build step ' +
  'input output format parse encode decode check verify update create remove open close read ' +
  'write send receive flush reset apply merge split join filter sort find load save init'
).split(' ');

const KEYWORDS = ['const', 'let', 'return', 'await', 'if', 'for', 'while', 'throw', 'new', 'typeof'];
const TYPES = [
  'string',
  'number',
  'boolean',
  'Buffer',
  'unknown',
  'void',
  'Promise<void>',
  'Record<string, string>',
];
const OPS = ['===', '!==', '<', '>', '<=', '>=', '+', '-', '&&', '||', '??'];

function ident(rng, parts) {
  let s = rng.skewed(WORDS);
  for (let i = 1; i < parts; i++) {
    const w = rng.skewed(WORDS);
    s += w[0].toUpperCase() + w.slice(1);
  }
  return s;
}

function expr(rng) {
  switch (rng.int(6)) {
    case 0:
      return `${ident(rng, 2)}.${ident(rng, 1)}(${ident(rng, 1)}, ${rng.int(100)})`;
    case 1:
      return `${ident(rng, 1)} ${rng.pick(OPS)} ${rng.int(2) ? ident(rng, 2) : rng.int(4096)}`;
    case 2:
      return `'${ident(rng, 1)}-${ident(rng, 1)}'`;
    case 3:
      return `await ${ident(rng, 2)}(${ident(rng, 1)})`;
    case 4:
      return `${ident(rng, 1)}[${ident(rng, 1)}.${ident(rng, 1)}]`;
    default:
      return `new ${capital(ident(rng, 2))}(${ident(rng, 1)}, { ${ident(rng, 1)}: ${rng.int(1000)} })`;
  }
}

function capital(s) {
  return s[0].toUpperCase() + s.slice(1);
}

function statement(rng, indent) {
  const pad = '  '.repeat(indent);
  switch (rng.int(8)) {
    case 0:
      return `${pad}// ${Array.from({ length: rng.range(3, 9) }, () => rng.skewed(WORDS)).join(' ')}.\n`;
    case 1:
      return `${pad}if (${expr(rng)}) {\n${pad}  ${rng.pick(KEYWORDS)} ${expr(rng)};\n${pad}}\n`;
    case 2:
      return `${pad}return ${expr(rng)};\n`;
    case 3:
      return `${pad}for (const ${ident(rng, 1)} of ${ident(rng, 2)}) {\n${pad}  ${ident(rng, 2)}.${ident(rng, 1)}(${ident(rng, 1)});\n${pad}}\n`;
    default:
      return `${pad}const ${ident(rng, 2)}: ${rng.pick(TYPES)} = ${expr(rng)};\n`;
  }
}

/** Source-like text (TypeScript-ish) of exactly `size` bytes. */
export function sourceText(rng, size) {
  let out = `// ${ident(rng, 3)}.ts: generated benchmark source\nimport { ${ident(rng, 2)}, ${ident(rng, 2)} } from './${ident(rng, 1)}.js';\n\n`;
  while (out.length < size) {
    const fn = ident(rng, 3);
    out += `/** ${capital(rng.skewed(WORDS))} the ${rng.skewed(WORDS)} of a ${rng.skewed(WORDS)}. */\n`;
    out += `export async function ${fn}(${ident(rng, 1)}: ${rng.pick(TYPES)}, ${ident(rng, 1)}: ${rng.pick(TYPES)}): ${rng.pick(TYPES)} {\n`;
    const n = rng.range(2, 10);
    for (let i = 0; i < n; i++) out += statement(rng, 1);
    out += '}\n\n';
  }
  return out.slice(0, size);
}

const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARN', 'ERROR'];
const COMPONENTS = [
  'http',
  'worker-1',
  'worker-2',
  'worker-3',
  'scheduler',
  'cache',
  'db',
  'auth',
  'uploader',
  'gc',
];
const METHODS = ['GET', 'GET', 'GET', 'PUT', 'POST', 'PATCH'];
const ROUTES = [
  '/api/v1/items',
  '/api/v1/artifacts',
  '/api/v2/runs',
  '/healthz',
  '/api/v1/users',
  '/api/v2/jobs',
];

function logMessage(rng) {
  switch (rng.int(9)) {
    case 0:
    case 1:
    case 2:
      return `${rng.pick(METHODS)} ${rng.pick(ROUTES)}/${rng.int(100000)} completed status=${rng.int(20) ? 200 : 404} duration=${rng.int(250)}ms bytes=${rng.int(65536)} trace=${hex8(rng)}`;
    case 3:
      return `Processed batch ${rng.int(10000)} of ${rng.int(10000)} (${rng.int(500)} items) in ${rng.int(5000)} ms run=${hex8(rng)}`;
    case 4:
      return `cache ${rng.int(4) ? 'hit' : 'miss'} for key build-${rng.int(65536).toString(16).padStart(4, '0')} size=${rng.int(1 << 20)} etag=${hex8(rng)}`;
    case 5:
      return `Connection pool stats: active=${rng.int(64)} idle=${rng.int(64)} waiting=${rng.int(8)} id=${hex8(rng)}`;
    case 6:
      return `[${hex8(rng)}] Retrying request to upstream after ${rng.int(30)} s (attempt ${rng.range(1, 5)} of 5)`;
    case 7:
      return `Garbage collection finished: freed ${rng.int(512)} MB in ${rng.int(200)} ms, heap ${rng.int(4096)} MB cycle=${hex8(rng)}`;
    default:
      return `Job ${rng.int(100000)} changed state from queued to running on runner-${rng.int(32)} (${hex8(rng)})`;
  }
}

function hex8(rng) {
  return (rng.int(0x100000000) >>> 0).toString(16).padStart(8, '0');
}

/** Log lines; call `chunk(minBytes)` repeatedly for the next few MB of a long log. */
export function createLogText(rng) {
  let clock = Date.UTC(2024, 4, 1, 8, 0, 0);
  let second = -1;
  let prefix = '';
  return {
    chunk(minBytes) {
      const lines = [];
      let n = 0;
      while (n < minBytes) {
        clock += rng.int(40);
        const s = Math.floor(clock / 1000);
        if (s !== second) {
          second = s;
          prefix = new Date(s * 1000).toISOString().slice(0, 20);
        }
        const ms = String(clock % 1000).padStart(3, '0');
        const line = `${prefix}${ms}Z ${rng.pick(LEVELS).padEnd(5)} [${rng.pick(COMPONENTS)}] ${logMessage(rng)}\n`;
        lines.push(line);
        n += line.length;
      }
      return lines.join('');
    },
  };
}
