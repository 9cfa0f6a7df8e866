import { describe, expect, it } from '@jest/globals';
import { inspect } from 'node:util';

import { matchNoProxy, parseIp, parseNoProxy } from '../../src/transport/no-proxy.js';
import {
  describeProxyDecision,
  mergeProxySettings,
  proxyAuthRequiredError,
  proxyFor,
  proxySettingsFromEnv,
  ProxyError,
  SlotAgents,
  type ProxySettings,
} from '../../src/transport/proxy.js';
import { isFerryError } from '../../src/core/errors.js';

/** [NO_PROXY list, target URL, bypassed?] */
const NO_PROXY_TABLE: Array<[string, string, boolean]> = [
  // empty / wildcard
  ['', 'https://example.com/', false],
  [' , ,, ', 'https://example.com/', false],
  ['*', 'https://example.com/', true],
  ['foo.test, *', 'http://10.1.2.3:8080/', true],
  // names: bare, leading dot, leading "*." all match the host and its subdomains
  ['example.com', 'https://example.com/', true],
  ['example.com', 'https://a.example.com/', true],
  ['example.com', 'https://a.b.example.com/x?y', true],
  ['example.com', 'https://notexample.com/', false],
  ['example.com', 'https://example.com.evil.test/', false],
  ['.example.com', 'https://example.com/', true],
  ['.example.com', 'https://a.example.com/', true],
  ['*.example.com', 'https://example.com/', true],
  ['*.example.com', 'https://deep.a.example.com/', true],
  ['*.example.com', 'https://badexample.com/', false],
  ['a.example.com', 'https://example.com/', false],
  // case-insensitive, trailing dots
  ['EXAMPLE.Com', 'https://Api.example.COM/', true],
  ['example.com.', 'https://example.com/', true],
  ['example.com', 'https://example.com./', true],
  // separators: commas, spaces, tabs, newlines
  ['foo.test bar.test', 'https://bar.test/', true],
  ['foo.test,\tbar.test\nbaz.test', 'https://baz.test/', true],
  // ports
  ['example.com:8443', 'https://example.com:8443/', true],
  ['example.com:8443', 'https://example.com/', false],
  ['example.com:443', 'https://example.com/', true],
  ['example.com:80', 'https://example.com/', false],
  ['example.com:80', 'http://a.example.com/', true],
  ['.example.com:8080', 'http://a.example.com:8080/', true],
  // IPv4 exact (+port), never a suffix match
  ['10.1.2.3', 'http://10.1.2.3/', true],
  ['10.1.2.3', 'http://10.1.2.4/', false],
  ['10.1.2.3:8080', 'http://10.1.2.3:8080/', true],
  ['10.1.2.3:8080', 'http://10.1.2.3:9090/', false],
  ['2.3', 'http://10.1.2.3/', false],
  // IPv4 CIDR
  ['10.0.0.0/8', 'http://10.200.3.4/', true],
  ['10.0.0.0/8', 'http://11.0.0.1/', false],
  ['192.168.0.0/16', 'https://192.168.44.1/', true],
  ['172.16.0.0/12', 'https://172.31.255.255/', true],
  ['172.16.0.0/12', 'https://172.32.0.1/', false],
  ['127.0.0.1/32', 'http://127.0.0.1:9/', true],
  ['0.0.0.0/0', 'http://8.8.8.8/', true],
  ['10.0.0.0/8', 'http://10.example.com/', false],
  ['10.0.0.0/8', 'http://[::ffff:10.0.0.1]/', true],
  // IPv6 exact, with or without brackets, with port
  ['::1', 'http://[::1]/', true],
  ['[::1]', 'http://[::1]:8080/', true],
  ['[::1]:8080', 'http://[::1]:8080/', true],
  ['[::1]:8080', 'http://[::1]:9090/', false],
  ['0:0:0:0:0:0:0:1', 'http://[::1]/', true],
  ['::1', 'http://[::2]/', false],
  ['2001:db8::1', 'https://[2001:DB8::1]/', true],
  // IPv6 CIDR
  ['fd00::/8', 'https://[fd12:3456::1]/', true],
  ['fd00::/8', 'https://[fe80::1]/', false],
  ['[fd00::]/8', 'https://[fdff::1]/', true],
  ['2001:db8::/32', 'https://[2001:db8:ffff::1]/', true],
  ['2001:db8::/32', 'https://[2001:db9::1]/', false],
  ['::/0', 'https://[2001:db8::1]/', true],
  ['::/0', 'https://10.0.0.1/', false],
  // IPv4 entry vs IPv4-mapped IPv6 target
  ['10.1.2.3', 'http://[::ffff:10.1.2.3]/', true],
  // loopback is not bypassed implicitly
  ['', 'http://localhost/', false],
  ['', 'http://127.0.0.1/', false],
  ['', 'http://[::1]/', false],
  ['example.com', 'http://localhost/', false],
  ['localhost', 'http://localhost:3000/', true],
  ['127.0.0.0/8', 'http://127.0.0.1:3000/', true],
  // unparsable entries are ignored, the rest still applies
  ['http://example.com', 'https://example.com/', false],
  ['10.0.0.0/33, example.com', 'https://example.com/', true],
  ['a:b:c', 'https://a/', false],
  ['example.com:0', 'https://example.com/', false],
  ['example.com:99999', 'https://example.com/', false],
];

describe('NO_PROXY matching', () => {
  it.each(NO_PROXY_TABLE)('NO_PROXY=%j target %s -> bypass %s', (list, target, bypass) => {
    const rule = matchNoProxy(new URL(target), parseNoProxy(list));
    expect(rule !== undefined).toBe(bypass);
    // Same decision through the public API.
    expect(
      proxyFor(new URL(target), { httpProxy: 'proxy:3128', httpsProxy: 'proxy:3128', noProxy: list }) ===
        undefined,
    ).toBe(bypass);
  });

  it('reports unparsable entries and keeps the raw text of matches', () => {
    const parsed = parseNoProxy('http://x.test, 10.0.0.0/33, a:b:c, ok.test, [::1]:x, , *.Good.test');
    expect(parsed.ignored).toEqual(['http://x.test', '10.0.0.0/33', 'a:b:c', '[::1]:x']);
    expect(parsed.rules.map((r) => r.raw)).toEqual(['ok.test', '*.Good.test']);
    expect(matchNoProxy(new URL('https://a.good.test'), parsed)?.raw).toBe('*.Good.test');
  });

  it.each([
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['::ffff:10.1.2.3', '00000000000000000000ffff0a010203'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['10.1.2.3', '0a010203'],
  ])('parseIp(%s)', (text, hex) => {
    expect(Buffer.from(parseIp(text) ?? new Uint8Array()).toString('hex')).toBe(hex);
  });

  it('parseIp rejects non-addresses', () => {
    expect(parseIp('example.com')).toBeUndefined();
    expect(parseIp('1.2.3')).toBeUndefined();
    expect(parseIp('::g')).toBeUndefined();
  });
});

describe('proxySettingsFromEnv', () => {
  it('reads lowercase and uppercase names; lowercase wins', () => {
    expect(
      proxySettingsFromEnv({
        http_proxy: 'http://lower:1',
        HTTP_PROXY: 'http://upper:1',
        HTTPS_PROXY: 'http://upper:2',
        no_proxy: 'a.test',
        NO_PROXY: 'b.test',
      }),
    ).toEqual({ httpProxy: 'http://lower:1', httpsProxy: 'http://upper:2', noProxy: 'a.test' });
  });

  it('works with uppercase-only env', () => {
    expect(proxySettingsFromEnv({ HTTPS_PROXY: 'proxy:3128', NO_PROXY: '.corp' })).toEqual({
      httpsProxy: 'proxy:3128',
      noProxy: '.corp',
    });
  });

  it('a set-but-empty lowercase variable wins and means "no proxy"', () => {
    const settings = proxySettingsFromEnv({ https_proxy: '', HTTPS_PROXY: 'http://proxy:3128' });
    expect(settings).toEqual({ httpsProxy: '' });
    expect(proxyFor(new URL('https://example.com'), settings)).toBeUndefined();
    expect(describeProxyDecision(new URL('https://example.com'), settings)).toBe(
      'direct (https_proxy is empty)',
    );
  });

  it('leaves out unset variables and ignores unrelated ones', () => {
    expect(proxySettingsFromEnv({ ALL_PROXY: 'http://p:1', PATH: '/bin' })).toEqual({});
  });

  it('trims whitespace', () => {
    expect(proxySettingsFromEnv({ HTTPS_PROXY: '  http://p:1 \n' })).toEqual({ httpsProxy: 'http://p:1' });
  });
});

describe('mergeProxySettings', () => {
  it('explicit fields override env fields one by one', () => {
    const env = proxySettingsFromEnv({
      HTTP_PROXY: 'http://e:1',
      HTTPS_PROXY: 'http://e:2',
      NO_PROXY: 'e.test',
    });
    expect(mergeProxySettings(env, { httpsProxy: 'http://x:2' })).toEqual({
      httpProxy: 'http://e:1',
      httpsProxy: 'http://x:2',
      noProxy: 'e.test',
    });
    expect(mergeProxySettings(env, { noProxy: '' })).toEqual({
      httpProxy: 'http://e:1',
      httpsProxy: 'http://e:2',
      noProxy: '',
    });
    expect(mergeProxySettings(env)).toEqual(env);
    expect(mergeProxySettings({}, { httpProxy: 'http://x:1' })).toEqual({ httpProxy: 'http://x:1' });
  });

  it('keeps the source of each field for doctor output', () => {
    const env = proxySettingsFromEnv({ https_proxy: 'http://e:2', NO_PROXY: 'e.test' });
    const merged = mergeProxySettings(env, { httpProxy: 'http://x:1' });
    expect(describeProxyDecision(new URL('https://a.test'), merged)).toBe('via http://e:2 (https_proxy)');
    expect(describeProxyDecision(new URL('http://a.test'), merged)).toBe('via http://x:1 (httpProxy option)');
    expect(describeProxyDecision(new URL('https://e.test'), merged)).toBe('direct (NO_PROXY matches e.test)');
  });
});

describe('proxyFor', () => {
  const settings: ProxySettings = { httpProxy: 'http://hp:1', httpsProxy: 'https://sp:2' };

  it('picks the proxy by the target scheme', () => {
    expect(proxyFor(new URL('http://a.test'), settings)?.href).toBe('http://hp:1/');
    expect(proxyFor(new URL('https://a.test'), settings)?.href).toBe('https://sp:2/');
  });

  it('does not use HTTP_PROXY for https targets', () => {
    expect(proxyFor(new URL('https://a.test'), { httpProxy: 'http://hp:1' })).toBeUndefined();
    expect(describeProxyDecision(new URL('https://a.test'), { httpProxy: 'http://hp:1' })).toBe(
      'direct (HTTPS_PROXY not set)',
    );
  });

  it('treats a proxy without a scheme as http://', () => {
    expect(proxyFor(new URL('https://a.test'), { httpsProxy: 'proxy.corp:3128' })?.href).toBe(
      'http://proxy.corp:3128/',
    );
    expect(proxyFor(new URL('https://a.test'), { httpsProxy: 'u:p@proxy.corp:3128' })?.host).toBe(
      'proxy.corp:3128',
    );
    expect(proxyFor(new URL('https://a.test'), { httpsProxy: '[::1]:3128' })?.hostname).toBe('[::1]');
  });

  it('never proxies other schemes', () => {
    expect(
      proxyFor(new URL('file:///x'), { httpProxy: 'http://p:1', httpsProxy: 'http://p:1' }),
    ).toBeUndefined();
  });

  it('rejects unsupported schemes and garbage with ERR_FERRY_CONFIG, without showing the password', () => {
    const cases = ['socks5://u:s3cretpw@p:1080', 'http://u:s3cretpw@', 'http://u:s3cretpw@[::1'];
    for (const httpsProxy of cases) {
      let caught: unknown;
      try {
        proxyFor(new URL('https://a.test'), { httpsProxy });
      } catch (error) {
        caught = error;
      }
      expect(isFerryError(caught)).toBe(true);
      const err = caught as Error & { code: string };
      expect(err.code).toBe('ERR_FERRY_CONFIG');
      expect(err.message).toContain('HTTPS_PROXY');
      expect(`${err.message} ${JSON.stringify(err)} ${inspect(err, { depth: 10 })}`).not.toContain(
        's3cretpw',
      );
    }
    expect(() => new SlotAgents({ httpsProxy: 'socks5://p:1080' })).toThrow(/Unsupported proxy scheme/);
  });
});

describe('describeProxyDecision', () => {
  it.each<[string, ProxySettings, string]>([
    ['https://a.test', { httpsProxy: 'http://proxy:3128' }, 'via http://proxy:3128 (HTTPS_PROXY)'],
    [
      'https://a.test',
      { httpsProxy: 'http://alice:pa%40ss@proxy:3128' },
      'via http://alice:***@proxy:3128 (HTTPS_PROXY)',
    ],
    ['http://a.test', { httpProxy: 'proxy:3128' }, 'via http://proxy:3128 (HTTP_PROXY)'],
    [
      'https://x.example.com',
      { httpsProxy: 'p:1', noProxy: 'foo, .example.com' },
      'direct (NO_PROXY matches .example.com)',
    ],
    ['https://x.example.com', { httpsProxy: 'p:1', noProxy: '*' }, 'direct (NO_PROXY is *)'],
    ['https://a.test', {}, 'direct (HTTPS_PROXY not set)'],
    ['http://a.test', { httpsProxy: 'p:1' }, 'direct (HTTP_PROXY not set)'],
    ['ftp://a.test', { httpsProxy: 'p:1' }, 'direct (ftp: targets are never proxied)'],
  ])('%s with %j -> %s', (target, settings, expected) => {
    expect(describeProxyDecision(new URL(target), settings)).toBe(expected);
  });

  it('explains a bad proxy URL instead of throwing', () => {
    const line = describeProxyDecision(new URL('https://a.test'), { httpsProxy: 'socks5://u:hunter22@p:1' });
    expect(line).toMatch(/^error: Unsupported proxy scheme 'socks5:' in HTTPS_PROXY/);
    expect(line).not.toContain('hunter22');
  });
});

describe('proxyAuthRequiredError', () => {
  it('builds the 407 error for proxied plain-http requests', () => {
    const err = proxyAuthRequiredError(new URL('http://a.test/x'), {
      httpProxy: 'http://u:topsecret9@p:3128',
    });
    expect(err?.code).toBe('ERR_FERRY_PROXY');
    expect(err?.status).toBe(407);
    expect(err?.message).toContain('proxy authentication required');
    expect(err?.message).toContain('p:3128');
    expect(`${err?.message} ${JSON.stringify(err)} ${inspect(err)}`).not.toContain('topsecret9');
    expect(proxyAuthRequiredError(new URL('http://a.test/x'), {})).toBeUndefined();
  });
});

describe('ProxyError.inContext', () => {
  it('adds the operation, artifact and attempt to the message and keeps proxy, status, errno and cause', () => {
    const cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const raw = new ProxyError('proxy p:3128 failed during CONNECT a.test:443 (ECONNRESET)', {
      proxy: 'p:3128',
      status: 502,
      cause,
      retryable: true,
    });
    const err = raw.inContext({
      operation: 'upload',
      artifactName: 'logs',
      method: 'PUT',
      url: 'https://a.test/blob?sig=SECRETSIG',
      attempt: 2,
    });
    expect(err).toBeInstanceOf(ProxyError);
    expect(err.message).toBe(
      "proxy p:3128 failed during CONNECT a.test:443 (ECONNRESET) (operation upload, artifact 'logs', attempt 2)",
    );
    expect(err).toMatchObject({ code: 'ERR_FERRY_PROXY', proxy: 'p:3128', status: 502, errno: 'ECONNRESET' });
    expect(err.retryable).toBe(true);
    expect(err.context).toMatchObject({
      operation: 'upload',
      artifactName: 'logs',
      method: 'PUT',
      attempt: 2,
    });
    expect(JSON.stringify(err)).not.toContain('SECRETSIG');
    // Applying it again replaces the context instead of stacking suffixes.
    expect(err.inContext({ attempt: 3 }).message).toBe(
      "proxy p:3128 failed during CONNECT a.test:443 (ECONNRESET) (operation upload, artifact 'logs', attempt 3)",
    );
  });
});

describe('SlotAgents.prepare (no sockets)', () => {
  it('rewrites a proxied http request to an absolute URI with Host and Proxy-Authorization', () => {
    const agents = new SlotAgents({ httpProxy: 'http://us%40er:p%3Aw%25d@proxy.test:3128' });
    const options: import('node:http').RequestOptions = {
      host: 'target.test',
      port: 8080,
      path: '/a/b?c=d',
      method: 'GET',
      headers: { accept: 'x' },
    };
    agents.prepare(options, new URL('http://target.test:8080/a/b?c=d'));
    expect(options.host).toBe('proxy.test');
    expect(options.port).toBe(3128);
    expect(options.path).toBe('http://target.test:8080/a/b?c=d');
    expect(options.headers).toEqual({
      accept: 'x',
      host: 'target.test:8080',
      'proxy-authorization': `Basic ${Buffer.from('us@er:p:w%d').toString('base64')}`,
    });
    // idempotent
    agents.prepare(options, new URL('http://target.test:8080/a/b?c=d'));
    expect(options.path).toBe('http://target.test:8080/a/b?c=d');
    agents.destroy();
    expect(() => agents.prepare({ host: 'a', port: 80, path: '/' }, new URL('http://a/'))).toThrow(
      /destroyed/,
    );
  });

  it('leaves https targets on the target host (tunnel) and never adds Proxy-Authorization to them', () => {
    const agents = new SlotAgents({ httpsProxy: 'http://u:pw@proxy.test:3128' });
    const options: import('node:http').RequestOptions = {
      host: 'target.test',
      port: 443,
      path: '/x',
      headers: {},
    };
    agents.prepare(options, new URL('https://target.test/x'));
    expect(options.host).toBe('target.test');
    expect(options.port).toBe(443);
    expect(options.path).toBe('/x');
    expect(options.headers).toEqual({});
    expect(options.agent).toBeDefined();
    agents.destroy();
  });

  it('follows the options when the target is stale (http-client re-runs handlers on redirects)', () => {
    const agents = new SlotAgents({ httpProxy: 'http://proxy.test:3128', noProxy: 'first.test' });
    const options: import('node:http').RequestOptions = {
      host: 'second.test',
      port: 80,
      path: '/y',
      headers: {},
    };
    agents.prepare(options, new URL('http://first.test/x'));
    expect(options.host).toBe('proxy.test');
    expect(options.path).toBe('http://second.test/y');
    agents.destroy();
  });
});
