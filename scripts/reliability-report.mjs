#!/usr/bin/env node
// Builds docs/reliability.md from a jest JSON result file and the case catalogue.
// A test belongs to a case when its name contains the case id in brackets, e.g. "[P22] ...".
//   node scripts/reliability-report.mjs RESULTS.json --write   rewrite docs/reliability.md
//   node scripts/reliability-report.mjs RESULTS.json --check   fail if the file is stale or a case is not covered
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const catalogueFile = path.join(root, '__tests__', 'reliability', 'cases.json');
const docFile = path.join(root, 'docs', 'reliability.md');

const [resultsFile, mode = '--write'] = process.argv.slice(2);
if (!resultsFile || !['--write', '--check'].includes(mode)) {
  console.error('usage: reliability-report.mjs RESULTS.json [--write|--check]');
  process.exit(2);
}

const catalogue = JSON.parse(fs.readFileSync(catalogueFile, 'utf8'));
const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
const known = new Set(catalogue.cases.map((c) => c.id));

/** id → [{ name, status }] */
const byCase = new Map(catalogue.cases.map((c) => [c.id, []]));
const unknownIds = new Set();
for (const file of results.testResults) {
  const rel = path.relative(root, file.name ?? file.testFilePath ?? '');
  for (const test of file.assertionResults) {
    const name = test.fullName ?? [...test.ancestorTitles, test.title].join(' ');
    // A describe and its test may both carry the tag: each test counts once per case.
    const ids = new Set();
    for (const match of name.matchAll(/\[([PX]\d{2}(?:\s*,\s*[PX]\d{2})*)\]/g)) {
      for (const id of match[1].split(/\s*,\s*/)) ids.add(id);
    }
    for (const id of ids) {
      if (!known.has(id)) unknownIds.add(id);
      else byCase.get(id).push({ name: stripIds(name), status: test.status, file: rel });
    }
  }
}

function stripIds(name) {
  return name
    .replace(/\[[PX]\d{2}(?:\s*,\s*[PX]\d{2})*\]\s*/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function verdict(tests) {
  if (tests.length === 0) return 'not covered';
  if (tests.some((t) => t.status === 'failed')) return '**FAILED**';
  if (tests.every((t) => t.status === 'passed')) return 'passed';
  return 'partly skipped';
}

const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');

const lines = [];
lines.push('# What Ferry survives');
lines.push('');
lines.push(
  'Generated from the test run by `npm run docs:reliability` (CI regenerates it from its own run and fails when this file differs, or when a case has no passing test). Do not edit by hand: change `__tests__/reliability/cases.json` or the tests.',
);
lines.push('');
lines.push(
  'Cases P01–P50 are the adversarial plan of the reliability bar (numbered as there); X-cases are further faults the fault-injection issue asks for or that we found. Every test runs on loopback against real sockets: `ferry serve`, a fault-injecting proxy in front of it, forward proxies, Azurite, crafted archives and child processes with low limits. Failing cases are also run with a recognisable token, proxy password and SAS signature, and the output is scanned for them.',
);
lines.push('');
const total = catalogue.cases.length;
const passed = catalogue.cases.filter((c) => verdict(byCase.get(c.id)) === 'passed').length;
const testCount = [...byCase.values()].reduce((n, t) => n + t.length, 0);
lines.push(`**${passed} of ${total} cases pass** (${testCount} tests).`);
lines.push('');
for (const [key, title] of Object.entries(catalogue.sections)) {
  const cases = catalogue.cases.filter((c) => c.section === key);
  if (cases.length === 0) continue;
  lines.push(`## ${title}`);
  lines.push('');
  lines.push('| # | Case | What the tests assert | Tests | Result |');
  lines.push('|---|---|---|---|---|');
  for (const c of cases) {
    const tests = byCase.get(c.id);
    const ok = tests.filter((t) => t.status === 'passed').length;
    lines.push(
      `| ${c.id} | ${cell(c.title)} | ${cell(c.asserts)} | ${ok}/${tests.length} | ${verdict(tests)} |`,
    );
  }
  lines.push('');
}
// Static: the model section S tests against. The full statement lives in docs/serve-security.md.
lines.push('## Threat model of ferry serve');
lines.push('');
for (const line of [
  'Section S attacks `ferry serve` as a client holding some credential would. Who holds what, and what it reaches (details, minting and key rotation in [serve-security.md](serve-security.md)):',
  '',
  '- **No credential configured**: every request may do everything, so the server only binds loopback addresses, and a Host other than loopback, the bound address or `--public-url` is refused with 421 (DNS rebinding), a foreign browser Origin with 403.',
  '- **The shared `--token`** (the operator): every run, on every protocol, including the REST API (like a GitHub token with repo scope).',
  '- **A runtime JWT** (one per job, minted by `ferry token` or signed with an RS256/ES256 key): verified signature, `exp` required, `nbf` honoured (60 s skew). It creates and finalizes artifacts only as the run and job of its `scp` (`Actions.Results:<run>:<job>`), and lists, downloads and deletes only in those runs, on Twirp, legacy and REST alike; other runs answer 403 (Twirp, legacy paths) or 404 exactly like missing ids (containers, REST).',
  '- **A signed blob URL**: that one blob, with the permission and until the expiry it was signed for (HMAC over path, expiry and permission); dead once the artifact is deleted.',
  '',
  'Out of scope: an attacker with access to the data directory or the keys, and a token holder acting within its own run (jobs of one run trust each other for reads and deletes).',
]) {
  lines.push(line);
}
lines.push('');
lines.push('## Every test, by case');
lines.push('');
for (const c of catalogue.cases) {
  const tests = byCase.get(c.id);
  lines.push(`<details><summary>${c.id} ${c.title} (${tests.length})</summary>`);
  lines.push('');
  for (const t of [...tests].sort((a, b) => (a.file + a.name).localeCompare(b.file + b.name))) {
    lines.push(`- ${t.status === 'passed' ? '✓' : '✗'} ${t.name} — \`${t.file}\``);
  }
  lines.push('');
  lines.push('</details>');
  lines.push('');
}
const text = lines.join('\n');

const problems = [];
if (unknownIds.size > 0) problems.push(`tests name unknown case ids: ${[...unknownIds].join(', ')}`);
for (const c of catalogue.cases) {
  const v = verdict(byCase.get(c.id));
  if (v !== 'passed') problems.push(`${c.id} ${c.title}: ${v}`);
}

if (mode === '--write') {
  fs.writeFileSync(docFile, text);
  console.log(`wrote ${path.relative(root, docFile)}: ${passed}/${total} cases pass, ${testCount} tests`);
  for (const p of problems) console.log(`  ${p}`);
} else {
  const current = fs.existsSync(docFile) ? fs.readFileSync(docFile, 'utf8') : '';
  if (current !== text)
    problems.unshift('docs/reliability.md is stale: run npm run docs:reliability and commit it');
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    process.exit(1);
  }
  console.log(`docs/reliability.md is current: ${passed}/${total} cases pass`);
}
