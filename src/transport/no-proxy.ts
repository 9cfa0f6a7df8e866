/**
 * `NO_PROXY` parsing and matching: pure functions, no I/O, no environment access.
 *
 * ## Semantics (the one rule set Ferry applies to every request: RPC, REST, blob up, blob down)
 *
 * - Entries are separated by commas and/or whitespace. Empty entries are ignored. Matching is
 *   case-insensitive. A trailing dot on a name (`example.com.`) is ignored on both sides.
 * - `*` (as any entry) disables proxying for every target.
 * - Names: `example.com`, `.example.com` and `*.example.com` are equivalent; each matches
 *   `example.com` itself and every subdomain (`a.example.com`, `a.b.example.com`), but not
 *   `notexample.com`. Names are compared as text, never resolved through DNS, and never match
 *   an IP-literal target (only IP and CIDR entries do).
 * - `host:port` (e.g. `example.com:8443`, `10.1.2.3:8080`, `[::1]:8080`) matches only that port.
 *   Without a port an entry matches every port. A target's port is its explicit port or the
 *   scheme default (80 for http:, 443 for https:).
 * - IP addresses match exactly: IPv4 (`10.1.2.3`) and IPv6 with or without brackets (`::1`,
 *   `[::1]`). IPv6 addresses are compared by value, so `::1` equals `0:0:0:0:0:0:0:1`. An
 *   unbracketed IPv6 entry never carries a port (`::1:8080` is the address `::1:8080`); write
 *   `[::1]:8080` for a port. An IPv4 entry also matches the IPv4-mapped IPv6 form
 *   (`::ffff:10.1.2.3`) of the same address.
 * - CIDR blocks for IPv4 and IPv6 (`10.0.0.0/8`, `192.168.0.0/16`, `fd00::/8`, `[fd00::]/8`)
 *   match target IP literals inside the block. They never match host names (no DNS lookups).
 * - Loopback is NOT bypassed implicitly: `localhost`, `127.0.0.1` and `::1` go through the
 *   proxy unless NO_PROXY lists them. This is deliberate (a proxy on a CI runner may be the only
 *   route, and a test proxy on loopback must see loopback traffic); add
 *   `localhost,127.0.0.0/8,::1` to NO_PROXY for the usual bypass.
 * - Entries that cannot be parsed (e.g. `http://example.com`, `a:b:c`, `10.0.0.0/33`) are
 *   ignored; {@link parseNoProxy} reports them in `ignored` so `ferry doctor` can show them.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';

/** One parsed NO_PROXY entry. `raw` is the entry as written (trimmed), for diagnostics. */
export type NoProxyRule =
  | { readonly kind: 'all'; readonly raw: string }
  | { readonly kind: 'name'; readonly raw: string; readonly name: string; readonly port?: number }
  | { readonly kind: 'ip'; readonly raw: string; readonly bytes: Uint8Array; readonly port?: number }
  | { readonly kind: 'cidr'; readonly raw: string; readonly bytes: Uint8Array; readonly prefix: number };

export interface ParsedNoProxy {
  readonly rules: readonly NoProxyRule[];
  /** Entries that were not understood and are therefore ignored. */
  readonly ignored: readonly string[];
}

/** Splits and parses a NO_PROXY list. Never throws. */
export function parseNoProxy(list: string | undefined): ParsedNoProxy {
  const rules: NoProxyRule[] = [];
  const ignored: string[] = [];
  for (const raw of (list ?? '').split(/[\s,]+/)) {
    if (raw === '') continue;
    const rule = parseEntry(raw);
    if (rule) rules.push(rule);
    else ignored.push(raw);
  }
  return { rules, ignored };
}

/** The first rule that exempts `target` from proxying, or undefined. */
export function matchNoProxy(target: URL, parsed: ParsedNoProxy): NoProxyRule | undefined {
  if (parsed.rules.length === 0) return undefined;
  const host = normalizeHost(target.hostname);
  const port = targetPort(target);
  const ip = parseIp(host);
  for (const rule of parsed.rules) {
    if (ruleMatches(rule, host, port, ip)) return rule;
  }
  return undefined;
}

/** The explicit port of a URL, or its scheme's default (80/443; 0 for other schemes). */
export function targetPort(target: URL): number {
  if (target.port !== '') return Number(target.port);
  if (target.protocol === 'https:') return 443;
  if (target.protocol === 'http:') return 80;
  return 0;
}

function ruleMatches(rule: NoProxyRule, host: string, port: number, ip: Uint8Array | undefined): boolean {
  switch (rule.kind) {
    case 'all':
      return true;
    case 'name':
      // Names never match IP literals ("2.3" must not match 10.1.2.3).
      if (ip !== undefined || (rule.port !== undefined && rule.port !== port)) return false;
      return host === rule.name || host.endsWith(`.${rule.name}`);
    case 'ip':
      if (rule.port !== undefined && rule.port !== port) return false;
      return ip !== undefined && sameIp(ip, rule.bytes);
    case 'cidr':
      return ip !== undefined && inCidr(ip, rule.bytes, rule.prefix);
  }
}

function parseEntry(raw: string): NoProxyRule | undefined {
  const entry = raw.toLowerCase();
  if (entry === '*') return { kind: 'all', raw };

  // CIDR: "10.0.0.0/8", "fd00::/8", "[fd00::]/8".
  const slash = entry.indexOf('/');
  if (slash !== -1) {
    const addr = stripBrackets(entry.slice(0, slash));
    const prefixText = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    const bytes = parseIp(addr);
    const prefix = Number(prefixText);
    if (!bytes || prefix > bytes.length * 8) return undefined;
    return { kind: 'cidr', raw, bytes, prefix };
  }

  // Bracketed IPv6, with an optional port: "[::1]", "[::1]:8080".
  if (entry.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (!m || !isIPv6(m[1] ?? '')) return undefined;
    const port = m[2] === undefined ? undefined : parsePort(m[2]);
    if (port === null) return undefined;
    return withPort({ kind: 'ip', raw, bytes: parseIp(m[1] ?? '') as Uint8Array }, port);
  }

  // Bare IPv6 never has a port.
  if (isIPv6(entry)) return { kind: 'ip', raw, bytes: parseIp(entry) as Uint8Array };

  let host = entry;
  let port: number | undefined;
  const colon = entry.lastIndexOf(':');
  if (colon !== -1) {
    const p = parsePort(entry.slice(colon + 1));
    if (p === null) return undefined;
    port = p;
    host = entry.slice(0, colon);
  }
  if (isIPv4(host)) return withPort({ kind: 'ip', raw, bytes: parseIp(host) as Uint8Array }, port);

  // Names: strip "*." / "." / trailing ".".
  if (host.startsWith('*.')) host = host.slice(2);
  else if (host.startsWith('.')) host = host.slice(1);
  host = host.replace(/\.$/, '');
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(host)) return undefined;
  return withPort({ kind: 'name', raw, name: host }, port);
}

function withPort<T extends { kind: 'name' | 'ip' }>(
  rule: T,
  port: number | undefined,
): T & { port?: number } {
  return port === undefined ? rule : { ...rule, port };
}

/** null when the text is not a valid port. */
function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function normalizeHost(hostname: string): string {
  return stripBrackets(hostname.toLowerCase()).replace(/\.$/, '');
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** 4 bytes for IPv4, 16 for IPv6 (zone ids are dropped), undefined for anything else. */
export function parseIp(text: string): Uint8Array | undefined {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split('.').map(Number));
  if (family !== 6) return undefined;
  let addr = text.replace(/%.*$/, '');
  // Embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups ("::ffff:102:304").
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    addr = `${addr.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [headText = '', tailText] = addr.split('::');
  const parseGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parseGroups(headText);
  const rest = tailText === undefined ? [] : parseGroups(tailText);
  const groups =
    tailText === undefined
      ? head
      : [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  const out = new Uint8Array(16);
  if (groups.length !== 8) return undefined;
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its 4 IPv4 bytes; other addresses unchanged. */
function unmapV4(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 16 && V4_MAPPED_PREFIX.every((b, i) => bytes[i] === b)) return bytes.slice(12);
  return bytes;
}

function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  const x = unmapV4(a);
  const y = unmapV4(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function inCidr(ip: Uint8Array, network: Uint8Array, prefix: number): boolean {
  const addr = network.length === 4 ? unmapV4(ip) : ip;
  if (addr.length !== network.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const bits = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - bits)) & 0xff;
    const i = bit / 8;
    if (((addr[i] ?? 0) & mask) !== ((network[i] ?? 0) & mask)) return false;
  }
  return true;
}
