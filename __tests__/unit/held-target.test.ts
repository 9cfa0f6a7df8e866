import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isFerryError } from '../../src/core/errors.js';
import { HeldTarget, type HoldMode } from '../../src/pack/held-target.js';

/**
 * The placement primitive against a swapped component (X12–X14 at unit level): every case swaps a
 * directory for a link to `outside` at the worst moment, by hand, and checks that `outside` stays
 * empty and that the file went to the held directory or the call failed typed.
 */

let base: string;
let target: string;
let outside: string;
let spare: string;

beforeEach(() => {
  base = mkdtempSync(path.join(tmpdir(), 'ferry-held-'));
  target = path.join(base, 'target');
  outside = path.join(base, 'outside');
  spare = path.join(base, 'spare');
  mkdirSync(target);
  mkdirSync(outside);
  mkdirSync(spare);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

/** Writes a file to move into the target (outside it, as a staged download would be). */
function staged(name: string, content = name): string {
  const file = path.join(spare, name);
  writeFileSync(file, content);
  return file;
}

/** Renames `dir` away (inside the target) and puts a link to `outside` in its place. */
function swapForLink(dir: string): string {
  const away = `${dir}.away`;
  renameSync(dir, away);
  symlinkSync(outside, dir);
  return away;
}

function expectUnsafe(
  fn: () => unknown,
  component: string,
  reason = 'is a symbolic link in the target directory',
): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(isFerryError(thrown)).toBe(true);
  expect(thrown).toMatchObject({ code: 'ERR_FERRY_UNSAFE_PATH' });
  expect((thrown as Error).message).toContain(`'${component}' ${reason}`);
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

const descriptorsWork = HeldTarget.open(tmpdir()).mode === 'descriptors';
const onLinux = descriptorsWork ? test : test.skip;

describe('HeldTarget, descriptors mode (/proc/self/fd)', () => {
  onLinux(
    '[X13] a directory swapped for a link between mkdir and rename: the file lands in the held directory',
    () => {
      const held = HeldTarget.open(target);
      try {
        expect(held.mode).toBe('descriptors');
        expect(held.ensureDirectory('a/b')).toEqual(['a', 'a/b']);
        const away = swapForLink(path.join(target, 'a'));
        held.renameIn(staged('f.txt'), 'a/b/f.txt');
        expect(readFileSync(path.join(away, 'b', 'f.txt'), 'utf8')).toBe('f.txt');
      } finally {
        held.close();
      }
      expect(readdirSync(outside)).toEqual([]);
    },
  );

  onLinux('[X13] a level swapped before it was ever opened is refused, naming the component', () => {
    mkdirSync(path.join(target, 'a', 'b'), { recursive: true });
    swapForLink(path.join(target, 'a'));
    const held = HeldTarget.open(target);
    try {
      expectUnsafe(() => held.ensureDirectory('a/b'), 'a');
      expectUnsafe(() => held.entry('a/b/f.txt'), 'a');
      expectUnsafe(() => held.directory('a'), 'a');
    } finally {
      held.close();
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  onLinux('[X13] a file where a directory goes is a conflict, not a crash', () => {
    writeFileSync(path.join(target, 'a'), 'plain file');
    const held = HeldTarget.open(target);
    try {
      expect(() => held.ensureDirectory('a/b')).toThrow(
        expect.objectContaining({ code: 'ERR_FERRY_CONFLICT' }) as Error,
      );
    } finally {
      held.close();
    }
  });

  onLinux(
    '[X14] a file swapped for a link: rename replaces the link, no-clobber refuses it; the link target is untouched',
    async () => {
      writeFileSync(path.join(outside, 'secret.txt'), 'outside');
      symlinkSync(path.join(outside, 'secret.txt'), path.join(target, 'f.txt'));
      symlinkSync(path.join(outside, 'secret.txt'), path.join(target, 'g.txt'));
      const held = HeldTarget.open(target);
      try {
        held.renameIn(staged('f.txt'), 'f.txt');
        expect(lstatSync(path.join(target, 'f.txt')).isFile()).toBe(true);
        expect(readFileSync(path.join(target, 'f.txt'), 'utf8')).toBe('f.txt');
        expect(await held.linkIn(staged('g.txt'), 'g.txt')).toBe(false);
        expect(lstatSync(path.join(target, 'g.txt')).isSymbolicLink()).toBe(true);
        expect(readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('outside');
        expect(readdirSync(outside)).toEqual(['secret.txt']);
      } finally {
        held.close();
      }
    },
  );

  onLinux('[X13] the target root swapped for a link after it was opened: files stay in the held root', () => {
    const held = HeldTarget.open(target);
    try {
      held.ensureDirectory('d');
      const away = swapForLink(target);
      held.renameIn(staged('one.txt'), 'one.txt');
      held.renameIn(staged('two.txt'), 'd/two.txt');
      expect(readdirSync(away).sort()).toEqual(['d', 'one.txt']);
      expect(readdirSync(path.join(away, 'd'))).toEqual(['two.txt']);
    } finally {
      held.close();
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  onLinux(
    '[X13] a parent of the target root swapped for a link after it was opened: files stay in the held root',
    () => {
      const parent = path.join(base, 'parent');
      const inner = path.join(parent, 'target');
      mkdirSync(inner, { recursive: true });
      const held = HeldTarget.open(inner);
      try {
        const away = swapForLink(parent);
        held.renameIn(staged('one.txt'), 'one.txt');
        expect(held.ensureDirectory('d')).toEqual(['d']);
        held.renameIn(staged('two.txt'), 'd/two.txt');
        expect(readdirSync(path.join(away, 'target')).sort()).toEqual(['d', 'one.txt']);
      } finally {
        held.close();
      }
      expect(readdirSync(outside)).toEqual([]);
    },
  );

  onLinux('[X13] at most maxOpenDirectories directory descriptors are open, however many directories', () => {
    const before = openFds();
    const held = HeldTarget.open(target, { maxOpenDirectories: 4 });
    let peak = 0;
    try {
      for (let i = 0; i < 60; i++) {
        const dir = `d${i % 20}/e${i % 3}`;
        held.ensureDirectory(dir);
        held.renameIn(staged(`f${i}`), `${dir}/f${i}`);
        peak = Math.max(peak, openFds() - before);
      }
    } finally {
      held.close();
    }
    // The root and four levels.
    expect(peak).toBeLessThanOrEqual(5);
    expect(openFds()).toBe(before);
    expect(readdirSync(path.join(target, 'd7', 'e1')).sort()).toEqual(['f7']);
  });

  onLinux('[X13] removing a staging directory swapped for a link deletes nothing outside', () => {
    writeFileSync(path.join(outside, '0'), 'outside file named like a staged one');
    const held = HeldTarget.open(target);
    try {
      const staging = held.createStaging('.ferry-test-');
      writeFileSync(staging.file('0'), 'staged');
      const away = swapForLink(path.join(target, staging.name));
      // Writes still go to the held staging directory.
      writeFileSync(staging.file('1'), 'staged too');
      expect(readdirSync(away).sort()).toEqual(['0', '1']);
      staging.remove();
      expect(readdirSync(away)).toEqual([]);
    } finally {
      held.close();
    }
    expect(readFileSync(path.join(outside, '0'), 'utf8')).toBe('outside file named like a staged one');
    expect(readdirSync(outside)).toEqual(['0']);
  });

  onLinux(
    'a staging path asked for after its removal is refused: its descriptor number may hold another directory by then',
    () => {
      const held = HeldTarget.open(target);
      let other: number | undefined;
      try {
        const staging = held.createStaging('.ferry-test-');
        const late = staging.file('late');
        staging.remove();
        // The lowest free descriptor is the staging's old one: a directory opened now (another
        // download's target, say) takes its number, and the old /proc/self/fd path leads there.
        other = openSync(outside, 'r');
        expect(late).toBe(`/proc/self/fd/${other}/late`);
        // A write still running when the download was disposed asks for its path now.
        expect(() => staging.file('1234')).toThrow(/staging directory .* was removed/);
      } finally {
        if (other !== undefined) closeSync(other);
        held.close();
      }
      expect(readdirSync(outside)).toEqual([]);
    },
  );
});

describe.each<HoldMode>(['checks', 'descriptors'])('HeldTarget staging, %s mode', (mode) => {
  test('no path is handed out after the staging was removed', () => {
    const held = HeldTarget.open(target, { mode });
    try {
      const staging = held.createStaging('.ferry-test-');
      writeFileSync(staging.file('0'), 'staged');
      staging.remove();
      const error = (() => {
        try {
          staging.file('1');
        } catch (e: unknown) {
          return e;
        }
        return undefined;
      })();
      expect(isFerryError(error) && error.code).toBe('ERR_FERRY_ABORTED');
      expect(readdirSync(target)).toEqual([]);
    } finally {
      held.close();
    }
  });
});

describe.each<HoldMode>(['checks'])('HeldTarget, %s mode (no /proc/self/fd)', (mode) => {
  test('[X13] a link on the way is refused, naming the component', () => {
    mkdirSync(path.join(target, 'a', 'b'), { recursive: true });
    swapForLink(path.join(target, 'a'));
    const held = HeldTarget.open(target, { mode });
    try {
      expectUnsafe(() => held.ensureDirectory('a/b'), 'a');
    } finally {
      held.close();
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  test('[X13] a swap between the check and the rename is detected after placing: the misplaced file is removed, typed error', () => {
    const held = HeldTarget.open(target, { mode });
    try {
      held.ensureDirectory('a');
      const file = staged('f.txt');
      const stats = lstatSync(file);
      const destination = held.entry('a/f.txt');
      swapForLink(path.join(target, 'a'));
      // The rename a path-based placement does goes through the link...
      renameSync(file, destination);
      expect(readdirSync(outside)).toEqual(['f.txt']);
      // ...and the confirmation catches it and takes the file back out of `outside`.
      expectUnsafe(() => held.confirmPlaced('a/f.txt', stats), 'a', 'was swapped for a symbolic link');
    } finally {
      held.close();
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  test('[X13] an undisturbed placement is confirmed', () => {
    const held = HeldTarget.open(target, { mode });
    try {
      held.ensureDirectory('a/b');
      held.renameIn(staged('f.txt'), 'a/b/f.txt');
      expect(readFileSync(path.join(target, 'a', 'b', 'f.txt'), 'utf8')).toBe('f.txt');
    } finally {
      held.close();
    }
  });
});
