import { CentralDirectory } from '../../src/pack/zip-writer/central-directory.js';
import { centralDirectoryHeader, type EntryRecord } from '../../src/pack/zip-writer/headers.js';

function record(i: number, overrides: Partial<EntryRecord> = {}): EntryRecord {
  const name = `dir-${i % 7}/file-${i}.txt`;
  return {
    name,
    nameBytes: Buffer.from(name, 'utf8'),
    kind: 'file',
    mode: 0o644,
    dosTime: 0,
    dosDate: 33,
    method: 8,
    dataDescriptor: false,
    zip64Local: false,
    crc32: i * 7919,
    compressedSize: i * 3,
    uncompressedSize: i * 5,
    localHeaderOffset: i * 100,
    ...overrides,
  };
}

describe('CentralDirectory', () => {
  it('packs headers in order into blocks of about the block size, byte for byte what each record encodes', () => {
    const directory = new CentralDirectory(1024, false);
    const expected: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      const r = record(i, i === 3 ? { localHeaderOffset: 2 ** 33, uncompressedSize: 2 ** 32 } : {});
      expected.push(centralDirectoryHeader(r, false));
      directory.add(r);
    }
    const blocks = [...directory.drain()];
    const all = Buffer.concat(expected);
    expect(Buffer.concat(blocks).equals(all)).toBe(true);
    expect(directory.entries).toBe(500);
    expect(directory.size).toBe(all.length);
    // Many blocks, each closed as soon as it reached the block size (one header at most over).
    expect(blocks.length).toBeGreaterThan(10);
    for (const block of blocks.slice(0, -1)) expect(block.length).toBeLessThan(1024 + 200);
    // Drained blocks are released: a second drain has nothing left.
    expect([...directory.drain()]).toEqual([]);
  });

  it('writes the zip64 forms for every entry when zip64 is forced', () => {
    const directory = new CentralDirectory(64 * 1024, true);
    directory.add(record(1));
    const [block] = [...directory.drain()];
    expect(block?.equals(centralDirectoryHeader(record(1), true))).toBe(true);
    expect(block?.equals(centralDirectoryHeader(record(1), false))).toBe(false);
  });
});
