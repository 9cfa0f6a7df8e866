import { Readable } from 'node:stream';
import { streamContainerItems } from '../../src/backends/legacy/container-items.js';

/** Streams `text` split at the given byte offsets and collects what the scanner yields. */
async function scan(text: string, cuts: number[], maxItemBytes = 1 << 20): Promise<unknown[]> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(at, cut));
    at = cut;
  }
  const out: unknown[] = [];
  for await (const item of streamContainerItems(Readable.from(chunks), { maxItemBytes })) out.push(item);
  return out;
}

/** Deterministic pseudo-random cut points (no Math.random: the test must fail the same way twice). */
function cuts(length: number, seed: number): number[] {
  const out: number[] = [];
  let x = seed;
  for (let at = 0; ;) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    at += 1 + (x % 7);
    if (at >= length) return out;
    out.push(at);
  }
}

const DOCUMENTS = [
  { count: 0, value: [] },
  { value: [{ path: 'a/"quoted"\\back\\\\slash', itemType: 'file' }, 7, 'str]ing', null, [1, [2]], true] },
  { other: { value: [1] }, 'value ': [2], valu: [3], value: [{ 'é€😀': '\u0000\u001b' }], after: 'value' },
  { value: [{ deep: [[[[{ x: '}]' }]]]] }, { n: -1.5e300 }] },
];

describe('streamContainerItems', () => {
  it.each(DOCUMENTS.map((doc, i) => [i, doc] as const))(
    'document %i yields exactly JSON.parse(...).value, however the bytes are cut',
    async (_i, doc) => {
      for (const text of [JSON.stringify(doc), JSON.stringify(doc, null, 2)]) {
        const expected = (JSON.parse(text) as { value: unknown[] }).value;
        expect(await scan(text, [])).toEqual(expected);
        for (let seed = 1; seed <= 20; seed++) {
          expect(await scan(text, cuts(Buffer.byteLength(text), seed))).toEqual(expected);
        }
      }
    },
  );

  it('refuses an item over the limit and filler over the limit, and malformed listings', async () => {
    await expect(scan(`{"value":[{"a":"${'x'.repeat(2000)}"}]}`, [10, 500], 1024)).rejects.toMatchObject({
      code: 'ERR_FERRY_RESPONSE_TOO_LARGE',
    });
    await expect(scan(`{"value":[1${' '.repeat(5000)}]}`, [], 1024)).rejects.toMatchObject({
      code: 'ERR_FERRY_RESPONSE_TOO_LARGE',
    });
    for (const bad of ['[1,2]', '{"value":[1,,2]}', '{"value":[1]', '{"value":[1]} x', '{"value":[{]}', '']) {
      await expect(scan(bad, [])).rejects.toMatchObject({ code: 'ERR_FERRY_BAD_JSON' });
    }
  });
});
