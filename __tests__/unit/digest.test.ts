import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream, md5Base64, sha256Hex } from '../../src/pack/digest.js';

describe('md5Base64 / sha256Hex', () => {
  it('match node:crypto', () => {
    const buf = randomBytes(12345);
    expect(md5Base64(buf)).toBe(createHash('md5').update(buf).digest('base64'));
    expect(sha256Hex(buf)).toBe(createHash('sha256').update(buf).digest('hex'));
  });

  it('known values for empty input', () => {
    expect(md5Base64(Buffer.alloc(0))).toBe('1B2M2Y8AsgTpgAmY7PhCfg==');
    expect(sha256Hex(Buffer.alloc(0))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});

describe('HashingStream', () => {
  it('passes bytes through unchanged and hashes them', async () => {
    const parts = [randomBytes(10), randomBytes(70_000), Buffer.alloc(0), randomBytes(3)];
    const hashing = new HashingStream();
    const received: Buffer[] = [];
    await pipeline(
      Readable.from(parts),
      hashing,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          received.push(chunk);
          callback();
        },
      }),
    );
    const all = Buffer.concat(parts);
    expect(Buffer.concat(received).equals(all)).toBe(true);
    expect(hashing.bytes).toBe(all.length);
    expect(hashing.digestHex()).toBe(createHash('sha256').update(all).digest('hex'));
  });

  it('hashes an empty stream', async () => {
    const hashing = new HashingStream();
    await pipeline(Readable.from([]), hashing, new Writable({ write: (_c, _e, cb) => cb() }));
    expect(hashing.digestHex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hashing.bytes).toBe(0);
  });

  it('refuses to give a digest before the stream finished', () => {
    const hashing = new HashingStream();
    hashing.write(Buffer.from('abc'));
    expect(() => hashing.digestHex()).toThrow(/before the stream finished/);
    hashing.destroy();
  });
});
