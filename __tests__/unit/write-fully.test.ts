import type { FileHandle } from 'node:fs/promises';
import { writeFully } from '../../src/core/write-fully.js';

/** A FileHandle stand-in that accepts at most `max` bytes per call, like a filling disk or a pipe. */
function shortWriter(max: number): { handle: FileHandle; written: Buffer[]; calls: number } {
  const state = { written: [] as Buffer[], calls: 0, handle: undefined as unknown as FileHandle };
  const take = (buffers: Buffer[]): { bytesWritten: number } => {
    state.calls++;
    let room = max;
    for (const b of buffers) {
      if (room === 0) break;
      const part = b.subarray(0, Math.min(room, b.length));
      state.written.push(Buffer.from(part));
      room -= part.length;
    }
    return { bytesWritten: max - room };
  };
  state.handle = {
    write: (b: Buffer) => Promise.resolve(take([b])),
    writev: (bs: Buffer[]) => Promise.resolve(take(bs)),
  } as unknown as FileHandle;
  return state;
}

describe('writeFully', () => {
  test('keeps writing after short writes until every byte of every buffer is out, in order', async () => {
    const buffers = [Buffer.from('hello '), Buffer.alloc(0), Buffer.from('short'), Buffer.from(' writes!')];
    const w = shortWriter(4);
    await writeFully(w.handle, buffers);
    expect(Buffer.concat(w.written).toString()).toBe('hello short writes!');
    expect(w.calls).toBe(Math.ceil('hello short writes!'.length / 4));
  });

  test('a single buffer written one byte at a time arrives whole', async () => {
    const w = shortWriter(1);
    await writeFully(w.handle, [Buffer.from('abc')]);
    expect(Buffer.concat(w.written).toString()).toBe('abc');
    expect(w.calls).toBe(3);
  });

  test('the error of the write after a short one is what the caller sees', async () => {
    let calls = 0;
    const handle = {
      write: (b: Buffer) => {
        calls++;
        if (calls === 1) return Promise.resolve({ bytesWritten: Math.floor(b.length / 2) });
        return Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      },
    } as unknown as FileHandle;
    await expect(writeFully(handle, [Buffer.alloc(100)])).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(calls).toBe(2);
  });

  test('a write that accepts nothing fails as ENOSPC instead of looping', async () => {
    let calls = 0;
    const handle = {
      write: () => {
        calls++;
        return Promise.resolve({ bytesWritten: 0 });
      },
    } as unknown as FileHandle;
    await expect(writeFully(handle, [Buffer.alloc(10)])).rejects.toMatchObject({
      code: 'ENOSPC',
      message: 'Short write: the file system accepted no bytes',
    });
    expect(calls).toBe(1);
  });
});
