// An attacker process for X12: while a download runs into <target>, it keeps swapping directories
// of the target (staging directories included) for symbolic links to <outside>, and back.
//
//   node swap-attacker.mjs <target> <outside> <stop-file> <report-file> [<trigger-dir>]
//
// With <trigger-dir> (relative to the target) it waits until a regular file shows up there, that
// is until the download has begun moving files into place, and attacks from then on.
//
// Each round picks a random directory, preferring those that already hold files (a download is
// filling them right now), renames it to `<name>.away` and puts a link to <outside> at its name;
// at most 16 are swapped at once, the oldest is restored (link removed, directory renamed back)
// when another is made. It stops when <stop-file> exists, restores every swap it
// still holds, and writes {"swaps": n, "restored": n} to <report-file> (and, at the first swap,
// an empty <report-file>.started). Every step tolerates the
// download racing it (names vanishing, appearing, directories not empty).
import {
  existsSync,
  lstatSync,
  readdirSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

const [target, outside, stopFile, reportFile, trigger] = process.argv.slice(2);
const AWAY = '.away';
const MAX_SWAPPED = 16;
let swaps = 0;
let restored = 0;
const swapped = [];

/** Directories of the target, those already holding files (being filled right now) first. */
function directories() {
  const filling = [];
  const empty = [];
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    let hasFiles = false;
    for (const entry of entries) {
      // Dirent types come from readdir itself: no lstat per file, so a round stays fast.
      if (entry.isFile()) hasFiles = true;
      if (!entry.isDirectory() || entry.name.endsWith(AWAY)) continue;
      walk(path.join(dir, entry.name), depth + 1);
    }
    if (dir !== target && depth <= 4) (hasFiles ? filling : empty).push(dir);
  };
  walk(target, 0);
  return filling.length > 0 ? filling : empty;
}

function restore(dir) {
  try {
    if (lstatSync(dir).isSymbolicLink()) unlinkSync(dir);
  } catch {
    // Gone already.
  }
  try {
    renameSync(dir + AWAY, dir);
    restored++;
  } catch {
    // The download created a new directory there meanwhile: the old one stays `.away`, inside.
  }
}

function placing() {
  try {
    return readdirSync(path.join(target, trigger)).some((name) =>
      lstatSync(path.join(target, trigger, name)).isFile(),
    );
  } catch {
    return false;
  }
}

let list = directories();
if (trigger !== undefined) while (!placing() && !existsSync(stopFile));

for (let round = 0; !existsSync(stopFile); round++) {
  if (round % 10 === 0 || list.length === 0) list = directories();
  if (list.length === 0) continue;
  const dir = list[Math.floor(Math.random() * list.length)];
  try {
    renameSync(dir, dir + AWAY);
  } catch {
    list = [];
    continue;
  }
  try {
    symlinkSync(outside, dir, 'dir');
  } catch {
    // The download recreated it first.
  }
  if (swaps++ === 0) writeFileSync(`${reportFile}.started`, '');
  swapped.push(dir);
  if (swapped.length > MAX_SWAPPED) restore(swapped.shift());
}
while (swapped.length > 0) restore(swapped.pop());
writeFileSync(reportFile, JSON.stringify({ swaps, restored }));
