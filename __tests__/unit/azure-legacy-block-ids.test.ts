import {
  blockIdOf,
  isSessionId,
  NO_SESSION,
  parseBlockId,
  tileBlocks,
} from '../../src/server/legacy/azure/block-ids.js';

const A = 'a'.repeat(24);
const B = '0123456789abcdef01234567';
/** An id as versions before sessions made them: `ferry-legacy-` and 16 offset digits. */
const oldId = (offset: number): string =>
  Buffer.from(`ferry-legacy-${String(offset).padStart(16, '0')}`).toString('base64');

it('makes ids of one length, the length of the ids before sessions (Azure refuses mixed lengths)', () => {
  const lengths = new Set(
    [blockIdOf(A, 0), blockIdOf(B, 2 ** 53 - 1), blockIdOf(NO_SESSION, 4 * 1024 * 1024), oldId(7)].map(
      (id) => Buffer.from(id, 'base64').length,
    ),
  );
  expect([...lengths]).toEqual([29]);
  expect(parseBlockId(blockIdOf(B, 123_456_789))).toEqual({ session: B, offset: 123_456_789 });
  expect(parseBlockId(oldId(0))).toBe(undefined);
  expect(parseBlockId('not-base64-of-ours')).toBe(undefined);
});

it('accepts only session ids as the store makes them', () => {
  expect(isSessionId(B)).toBe(true);
  expect(isSessionId(null)).toBe(false);
  expect(isSessionId(B.toUpperCase())).toBe(false);
  expect(isSessionId(`${B}0`)).toBe(false);
  expect(() => blockIdOf('../x', 0)).toThrow(RangeError);
});

it("tiles a file from its own session's blocks only, committed or staged", () => {
  const committed = [
    { name: blockIdOf(A, 0), size: 10 },
    { name: blockIdOf(A, 10), size: 10 },
  ];
  const staged = [
    { name: blockIdOf(B, 0), size: 10 },
    { name: oldId(10), size: 10 },
    { name: blockIdOf(A, 10), size: 10 },
  ];
  expect(tileBlocks(committed, staged, 20, A)).toEqual([blockIdOf(A, 0), blockIdOf(A, 10)]);
  // B staged only its first chunk: its file is not complete, whatever A or older versions left.
  expect(tileBlocks(committed, staged, 20, B)).toBe(undefined);
  expect(tileBlocks([], [{ name: blockIdOf(B, 0), size: 20 }], 20, B)).toEqual([blockIdOf(B, 0)]);
});
