// Deterministic randomness for workload generation. Everything derives from one fixed seed, so
// the same flags always produce byte-identical workloads on every machine.
import { createCipheriv, createHash } from 'node:crypto';

export const SEED = 'ferry-bench-v1';

/** 32-bit seed for `label`, derived from the global seed. */
export function seedFor(label) {
  return createHash('sha256').update(`${SEED}/${label}`).digest().readUInt32LE(0);
}

/** mulberry32: small, fast, good enough to pick words and numbers. */
export function createRng(label) {
  let state = seedFor(label) >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    /** Float in [0, 1). */
    next,
    /** Integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    /** Integer in [lo, hi], inclusive. */
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (list) => list[Math.floor(next() * list.length)],
    /** Skewed pick: low indexes much more often (roughly Zipf-like), like words in real text. */
    skewed: (list) => list[Math.floor(next() * next() * list.length)],
  };
}

/**
 * Incompressible bytes: the AES-256-CTR keystream of a key derived from the seed (GB/s, and
 * deterministic). Call `fill(n)` repeatedly; successive calls continue the stream.
 */
export function createRandomBytes(label) {
  const key = createHash('sha256').update(`${SEED}/${label}/key`).digest();
  const iv = createHash('sha256').update(`${SEED}/${label}/iv`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return { fill: (n) => cipher.update(Buffer.alloc(n)) };
}
