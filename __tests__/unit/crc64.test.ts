import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Crc64, crc64Base64 } from '../../src/pack/crc64.js';

interface LegacyCrc64 {
  update(data: Uint8Array | string): void;
  digest(encoding?: 'hex' | 'base64'): string | Buffer;
}
const require = createRequire(import.meta.url);
const OfficialCrc64 = (
  require('actions-artifact-legacy/lib/internal/crc64.js') as { default: new () => LegacyCrc64 }
).default;

function official(...parts: Uint8Array[]): Buffer {
  const crc = new OfficialCrc64();
  for (const part of parts) crc.update(part);
  return crc.digest() as Buffer;
}

// The fixture of actions/toolkit packages/artifact/__tests__/crc64.test.ts (1.1.x), with its trailing newline.
const FIXTURE =
  '🚀 👉😎👉 Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.\n' +
  'Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.\n' +
  'Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.\n' +
  'Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.\n';

describe('Crc64', () => {
  it('matches the spec test vector', () => {
    const digest = new Crc64().update(Buffer.from(FIXTURE)).digest();
    expect(digest).toEqual(Buffer.from([0xed, 0x23, 0x62, 0xad, 0xad, 0xe4, 0x6c, 0x84]));
    expect(digest.readBigUInt64LE(0).toString(16).toUpperCase()).toBe('846CE4ADAD6223ED');
    expect(crc64Base64(Buffer.from(FIXTURE))).toBe('7SNira3kbIQ=');
  });

  it('matches the spec test vector fed line by line', () => {
    const crc = new Crc64();
    for (const line of FIXTURE.split('\n').slice(0, -1)) crc.update(Buffer.from(`${line}\n`));
    expect(crc.digest().toString('base64')).toBe('7SNira3kbIQ=');
  });

  it('matches the official client on the fixture', () => {
    expect(new Crc64().update(Buffer.from(FIXTURE)).digest()).toEqual(official(Buffer.from(FIXTURE)));
  });

  it('gives 0 for no input (init and xorout cancel)', () => {
    expect(new Crc64().digest()).toEqual(Buffer.alloc(8));
    expect(crc64Base64(new Uint8Array(0))).toBe('AAAAAAAAAAA=');
    expect(new Crc64().update(new Uint8Array(0)).digest()).toEqual(official(new Uint8Array(0)));
  });

  it.each([0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4099, 65536])(
    'matches the official client on %i random bytes',
    (size) => {
      const buf = randomBytes(size);
      expect(new Crc64().update(buf).digest()).toEqual(official(buf));
      expect(crc64Base64(buf)).toBe(official(buf).toString('base64'));
    },
  );

  it('matches the official client on 1 MiB of random bytes', () => {
    const buf = randomBytes(1024 * 1024);
    expect(crc64Base64(buf)).toBe(official(buf).toString('base64'));
  });

  it('matches the official client on all-0x00 and all-0xff input', () => {
    for (const fill of [0x00, 0xff]) {
      const buf = Buffer.alloc(4097, fill);
      expect(new Crc64().update(buf).digest()).toEqual(official(buf));
    }
  });

  it('gives the same result however the input is split across update calls', () => {
    const buf = randomBytes(100_003);
    const whole = crc64Base64(buf);
    expect(whole).toBe(official(buf).toString('base64'));
    for (const step of [1, 3, 7, 8, 9, 13, 4096, 65537]) {
      const crc = new Crc64();
      for (let i = 0; i < buf.length; i += step) crc.update(buf.subarray(i, i + step));
      expect(crc.digest().toString('base64')).toBe(whole);
    }
    // Irregular splits, including empty pieces.
    const crc = new Crc64();
    let offset = 0;
    for (const len of [0, 5, 0, 11, 1, 8, 1000, 0, 99_000]) {
      crc.update(buf.subarray(offset, offset + len));
      offset += len;
    }
    crc.update(buf.subarray(offset));
    expect(crc.digest().toString('base64')).toBe(whole);
  });

  it('works on unaligned views of a larger buffer and on plain Uint8Arrays', () => {
    const backing = randomBytes(10_000);
    for (const start of [0, 1, 2, 3, 5, 7]) {
      const view = new Uint8Array(backing.buffer, backing.byteOffset + start, 5000);
      expect(new Crc64().update(view).digest()).toEqual(official(Buffer.from(view)));
    }
  });

  it('digest() does not reset or disturb the running state', () => {
    const a = randomBytes(300);
    const b = randomBytes(301);
    const crc = new Crc64().update(a);
    expect(crc.digest()).toEqual(official(a));
    crc.update(b);
    expect(crc.digest()).toEqual(official(a, b));
    expect(crc.digest()).toEqual(crc.digest());
  });

  it('update() returns the instance for chaining', () => {
    const crc = new Crc64();
    expect(crc.update(Buffer.from('x'))).toBe(crc);
  });
});
