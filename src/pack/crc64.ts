/**
 * CRC-64 exactly as the legacy (v1) official client sends it in `x-actions-results-crc64`:
 * Azure Storage's reflected polynomial 0x9A6C9329AC4BC9B5, initial value ~0, final xor ~0.
 *
 * The official implementation shifts BigInts one byte at a time (~15 MB/s). This one keeps the
 * 64-bit state as two unsigned 32-bit halves and uses slicing-by-8 tables (8 bytes per step, no
 * BigInt and no allocation in the inner loop), which is more than an order of magnitude faster.
 */

const POLY_LO = 0xac4bc9b5;
const POLY_HI = 0x9a6c9329;

/**
 * Slicing-by-8 tables, split into low and high halves: entry `k * 256 + i` is table k for byte i.
 * Table 0 is the classic byte-wise table; table k advances a byte through k further zero bytes.
 */
const { TLO, THI } = buildTables();

function buildTables(): { TLO: Uint32Array; THI: Uint32Array } {
  const lo = new Uint32Array(8 * 256);
  const hi = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let l = i;
    let h = 0;
    for (let bit = 0; bit < 8; bit++) {
      const lsb = l & 1;
      l = ((l >>> 1) | (h << 31)) >>> 0;
      h = h >>> 1;
      if (lsb) {
        l = (l ^ POLY_LO) >>> 0;
        h = (h ^ POLY_HI) >>> 0;
      }
    }
    lo[i] = l;
    hi[i] = h;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const pl = lo[(k - 1) * 256 + i] as number;
      const ph = hi[(k - 1) * 256 + i] as number;
      const idx = pl & 0xff;
      // t_k[i] = (t_{k-1}[i] >>> 8) ^ t_0[t_{k-1}[i] & 0xff]
      lo[k * 256 + i] = (((pl >>> 8) | (ph << 24)) ^ (lo[idx] as number)) >>> 0;
      hi[k * 256 + i] = ((ph >>> 8) ^ (hi[idx] as number)) >>> 0;
    }
  }
  return { TLO: lo, THI: hi };
}

/** Incremental CRC-64 (Azure / `@actions/artifact` 1.1.x flavour). */
export class Crc64 {
  /** The running register, i.e. the CRC before the final xor, as two unsigned 32-bit halves. */
  #lo = 0xffffffff;
  #hi = 0xffffffff;

  /** Feeds more bytes; may be called any number of times, with any split. */
  update(buf: Uint8Array): this {
    const tlo = TLO;
    const thi = THI;
    let lo = this.#lo;
    let hi = this.#hi;
    const n = buf.length;
    let i = 0;
    const end8 = n - (n & 7);
    for (; i < end8; i += 8) {
      // The values read from typed arrays below are always defined; `as number` only silences
      // noUncheckedIndexedAccess without adding a check to the hot loop.
      const a =
        lo ^
        ((buf[i] as number) |
          ((buf[i + 1] as number) << 8) |
          ((buf[i + 2] as number) << 16) |
          ((buf[i + 3] as number) << 24));
      const b =
        hi ^
        ((buf[i + 4] as number) |
          ((buf[i + 5] as number) << 8) |
          ((buf[i + 6] as number) << 16) |
          ((buf[i + 7] as number) << 24));
      const i7 = 7 * 256 + (a & 0xff);
      const i6 = 6 * 256 + ((a >>> 8) & 0xff);
      const i5 = 5 * 256 + ((a >>> 16) & 0xff);
      const i4 = 4 * 256 + (a >>> 24);
      const i3 = 3 * 256 + (b & 0xff);
      const i2 = 2 * 256 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      lo =
        (tlo[i7] as number) ^
        (tlo[i6] as number) ^
        (tlo[i5] as number) ^
        (tlo[i4] as number) ^
        (tlo[i3] as number) ^
        (tlo[i2] as number) ^
        (tlo[i1] as number) ^
        (tlo[i0] as number);
      hi =
        (thi[i7] as number) ^
        (thi[i6] as number) ^
        (thi[i5] as number) ^
        (thi[i4] as number) ^
        (thi[i3] as number) ^
        (thi[i2] as number) ^
        (thi[i1] as number) ^
        (thi[i0] as number);
    }
    for (; i < n; i++) {
      const idx = (lo ^ (buf[i] as number)) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ (tlo[idx] as number);
      hi = (hi >>> 8) ^ (thi[idx] as number);
    }
    this.#lo = lo >>> 0;
    this.#hi = hi >>> 0;
    return this;
  }

  /** The CRC so far as 8 bytes, least significant byte first (the wire format). Does not reset. */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32LE(~this.#lo >>> 0, 0);
    out.writeUInt32LE(~this.#hi >>> 0, 4);
    return out;
  }
}

/** Base64 of the little-endian CRC-64 of `buf`: the value of the `x-actions-results-crc64` header. */
export function crc64Base64(buf: Uint8Array): string {
  return new Crc64().update(buf).digest().toString('base64');
}
