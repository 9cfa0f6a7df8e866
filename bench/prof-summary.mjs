#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof`, or `node --cpu-prof`):
// the top functions by self time, and self time per source file / package.
// Usage: node bench/prof-summary.mjs FILE.cpuprofile [--top N]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
if (positionals.length === 0) {
  console.error('Usage: node bench/prof-summary.mjs FILE.cpuprofile [--top N]');
  process.exit(2);
}
const top = Number(values.top);

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node: samples x the interval that follows each one.
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const where = new Map();
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    const url = callFrame.url.replace(/^file:\/\//, '');
    const short = url ? shorten(url) : '(native)';
    const name = `${callFrame.functionName || '(anonymous)'}  ${short}${url ? `:${callFrame.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    where.set(short, (where.get(short) ?? 0) + us);
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log(`\nTop ${top} functions by self time:`);
  for (const [name, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${ms(us)} ${pct(us)}  ${name}`);
  console.log('\nSelf time by file:');
  for (const [name, us] of [...where].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`${ms(us)} ${pct(us)}  ${name}`);
}

function shorten(url) {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  if (url.startsWith('node:')) return url;
  const rel = path.relative(process.cwd(), url);
  return rel.startsWith('..') ? url : rel;
}
