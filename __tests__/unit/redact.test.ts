import { inspect } from 'node:util';
import { FerryError, HttpError } from '../../src/core/errors.js';
import { redactText, redactUrl, redactingLogger } from '../../src/core/redact.js';
import { registerSecret, registeredSecrets } from '../../src/core/secrets.js';

describe('redaction', () => {
  it('removes SAS signatures and URL passwords', () => {
    const url = 'https://user:hunter2pass@blob.example/c/b?sv=2020&sig=SECRETSIG%2F%3D&se=2030';
    const out = redactUrl(url);
    expect(out).not.toContain('SECRETSIG');
    expect(out).not.toContain('hunter2pass');
    expect(out).toContain('sv=2020');
  });

  it('removes bearer tokens, JWTs and registered literals from free text', () => {
    registerSecret('literal-secret-value');
    const text =
      'Authorization: Bearer abcdefghijklmnop token eyJhbGciOiJIUzI1NiJ9.eyJzY3AiOiJ4In0.c2ln literal-secret-value';
    const out = redactText(text);
    expect(out).not.toContain('abcdefghijklmnop');
    expect(out).not.toContain('eyJhbGciOiJIUzI1NiJ9');
    expect(out).not.toContain('literal-secret-value');
  });

  it('keeps secrets out of error messages, causes, JSON and inspect output', () => {
    registerSecret('proxy-pass-42');
    const cause = Object.assign(new Error('Request timeout: /path?sig=CAUSESIG&x=1 proxy-pass-42'), {
      code: 'ETIMEDOUT',
    });
    const error = new HttpError(
      'ERR_FERRY_HTTP',
      'failed PUT https://h/x?sig=TOPSIG',
      500,
      'body sig=BODYSIG proxy-pass-42',
      {
        cause,
        context: { url: 'https://h/x?sig=CTXSIG', artifactName: 'a' },
      },
    );
    const everything = [
      error.message,
      JSON.stringify(error),
      inspect(error, { depth: 10 }),
      error.bodySnippet,
    ].join('\n');
    for (const secret of ['CAUSESIG', 'TOPSIG', 'BODYSIG', 'CTXSIG', 'proxy-pass-42'])
      expect(everything).not.toContain(secret);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ETIMEDOUT');
  });

  it('brands errors so instanceof works across realms', () => {
    const error = new FerryError('ERR_FERRY_HTTP', 'x');
    const foreign = Object.assign(Object.create(null), { [Symbol.for('ferry.error')]: true });
    expect(error instanceof FerryError).toBe(true);
    expect(foreign instanceof FerryError).toBe(true);
    expect(new Error('x') instanceof FerryError).toBe(false);
  });

  it('keeps registered values with their labels for the upload secret scan', () => {
    registerSecret('labelled-secret-0123456789', 'the value of TEST_TOKEN');
    registerSecret('labelled-secret-0123456789');
    expect(registeredSecrets()).toContainEqual({
      value: 'labelled-secret-0123456789',
      label: 'the value of TEST_TOKEN',
    });
  });

  it('wraps a logger so every level is scrubbed, once', () => {
    registerSecret('logged-secret-value');
    const lines: string[] = [];
    const sink = (m: string): number => lines.push(m);
    const logger = redactingLogger({ debug: sink, info: sink, warn: sink, error: sink });
    expect(redactingLogger(logger)).toBe(logger);
    logger.debug('GET https://h/x?sig=DEBUGSIG');
    logger.info('logged-secret-value');
    logger.warn('Authorization: Bearer abcdefghijklmnop');
    logger.error('https://u:pw-secret@proxy/');
    expect(lines.join('\n')).not.toMatch(/DEBUGSIG|logged-secret-value|abcdefghijklmnop|pw-secret/);
  });
});
