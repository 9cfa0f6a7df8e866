import type { IncomingMessage } from 'node:http';
import { requestBaseUrl } from '../../src/server/http/base-url.js';

const request = (headers: Record<string, string | string[]>): IncomingMessage =>
  ({ headers }) as unknown as IncomingMessage;

describe('requestBaseUrl', () => {
  const fallback = 'http://127.0.0.1:8080/';

  test('uses the Host the client reached us by', () => {
    expect(requestBaseUrl(request({ host: 'ferry.internal:9000' }), fallback)).toBe(
      'http://ferry.internal:9000/',
    );
    expect(requestBaseUrl(request({ host: '[::1]:9000' }), fallback)).toBe('http://[::1]:9000/');
  });

  test('behind a TLS terminator, X-Forwarded-Proto: https makes the handed-out URLs https', () => {
    expect(
      requestBaseUrl(request({ host: 'artifacts.example', 'x-forwarded-proto': 'https' }), fallback),
    ).toBe('https://artifacts.example/');
    // Proxies append: the first value is the client's.
    expect(
      requestBaseUrl(request({ host: 'artifacts.example', 'x-forwarded-proto': 'HTTPS, http' }), fallback),
    ).toBe('https://artifacts.example/');
  });

  test('any other forwarded scheme, and a hostile Host, change nothing', () => {
    expect(requestBaseUrl(request({ host: 'a.example', 'x-forwarded-proto': 'javascript' }), fallback)).toBe(
      'http://a.example/',
    );
    expect(requestBaseUrl(request({ host: 'evil/path?x', 'x-forwarded-proto': 'https' }), fallback)).toBe(
      fallback,
    );
    expect(requestBaseUrl(request({}), fallback)).toBe(fallback);
  });
});
