import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Journal } from '../../src/server/util/journal.js';

async function replayAll(file: string): Promise<unknown[]> {
  const records: unknown[] = [];
  await Journal.replay(file, (record) => records.push(record));
  return records;
}

describe('Journal.replay', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-journal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a journal larger than its read block line by line, multi-byte names split across blocks included', async () => {
    const file = path.join(dir, 'items.journal');
    const journal = new Journal(file);
    const expected: unknown[] = [];
    // ~3 MiB of records with 3-byte characters: block boundaries fall inside lines and characters.
    for (let i = 0; i < 12_000; i++) {
      const record = { path: `art/${'ü€'.repeat(40)}-${i}`, total: i, gzip: false };
      expected.push(record);
      await journal.append(record);
    }
    await journal.close();
    expect(await replayAll(file)).toEqual(expected);
  });

  it('skips a torn last line and treats a missing journal as empty', async () => {
    const file = path.join(dir, 'items.journal');
    await writeFile(file, '{"a":1}\n{"b":2}\n');
    await appendFile(file, '{"c":');
    expect(await replayAll(file)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(await replayAll(path.join(dir, 'missing.journal'))).toEqual([]);
  });
});
