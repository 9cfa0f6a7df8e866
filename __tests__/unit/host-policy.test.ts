import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { createHostPolicy, parsePublicUrl } from '../../src/server/http/host-policy.js';
import { parseTtl } from '../../src/server/http/mint-token.js';

const request = (host: string, url = '/x', origin?: string): IncomingMessage =>
  ({
    headers: { host, ...(origin === undefined ? {} : { origin }) },
    rawHeaders: ['Host', host],
    url,
  }) as unknown as IncomingMessage;

const status = (run: () => void): number => {
  try {
    run();
    return 200;
  } catch (error) {
    return (error as { status: number }).status;
  }
};

describe('host policy', () => {
  test('a wildcard bind answers to every interface address and the host name on its port, nothing else', () => {
    const policy = createHostPolicy({ boundHost: '0.0.0.0', port: () => 8080 });
    const ipv4 = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (ipv4) {
      expect(status(() => policy.check(request(`${ipv4.address}:8080`)))).toBe(200);
      expect(status(() => policy.check(request(`${ipv4.address}:8081`)))).toBe(421);
    }
    expect(status(() => policy.check(request(`${hostname()}:8080`)))).toBe(200);
    expect(status(() => policy.check(request('attacker.example:8080')))).toBe(421);
    expect(status(() => policy.check(request('localhost:1234')))).toBe(200);
  });

  test('a specific bind answers to itself on its port; IPv6 is compared bracketed and case-blind', () => {
    const policy = createHostPolicy({ boundHost: 'fd00::AB', port: () => 9000 });
    expect(status(() => policy.check(request('[fd00::ab]:9000')))).toBe(200);
    expect(status(() => policy.check(request('[fd00::ab]:9001')))).toBe(421);
    expect(status(() => policy.check(request('fd00::ab')))).toBe(421);
  });

  test('the public URL origin is accepted with its default port and is the base of handed-out URLs', () => {
    const policy = createHostPolicy({
      boundHost: '127.0.0.1',
      port: () => 9000,
      publicUrl: parsePublicUrl('https://Artifacts.Example.com'),
    });
    expect(status(() => policy.check(request('artifacts.example.com')))).toBe(421); // :80, not :443
    expect(status(() => policy.check(request('artifacts.example.com:443')))).toBe(200);
    expect(status(() => policy.check(request('127.0.0.1:9000', '/x', 'https://artifacts.example.com')))).toBe(
      200,
    );
    expect(status(() => policy.check(request('127.0.0.1:9000', '/x', 'https://evil.example')))).toBe(403);
    expect(policy.baseUrl(request('127.0.0.1:9000'), 'unused')).toBe('https://artifacts.example.com/');
  });

  test('public URLs must be http(s) origins without credentials, query or path', () => {
    for (const bad of [
      'ftp://a.example/',
      'https://u:p@a.example/',
      'https://a.example/?q',
      'https://a.example/p',
      'nope',
    ]) {
      expect(() => parsePublicUrl(bad)).toThrow(RangeError);
    }
  });
});

describe('token lifetimes', () => {
  test.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['6h', 21_600_000],
    ['7d', 604_800_000],
    ['45', 45_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseTtl(text)).toBe(ms);
  });

  test.each(['', '6x', '-1h', '1.5h', 'h'])('%j is refused', (text) => {
    expect(() => parseTtl(text)).toThrow(/--ttl must look like/);
  });
});
