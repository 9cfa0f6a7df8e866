import type { IncomingMessage } from 'node:http';
import { createAuthenticator } from '../../src/server/http/auth.js';
import { grantsOf } from '../../src/server/http/access.js';
import { mintRunnerToken } from '../../src/server/http/mint-token.js';

const secret = Buffer.alloc(32, 7);
const request = (authorization: string): IncomingMessage =>
  ({
    headers: { authorization },
    rawHeaders: ['Authorization', authorization],
  }) as unknown as IncomingMessage;

describe('ferry serve authenticator', () => {
  test('a token verified once is still refused once it expires, and before nbf (the verification cache re-checks the clock)', () => {
    let now = 1_800_000_000_000;
    const authenticate = createAuthenticator({
      jwtKeys: { hmacSecrets: [secret], publicKeys: [] },
      now: () => now,
    });
    const { token } = mintRunnerToken({ run: 'r', job: 'j', ttlMs: 60_000, secret, now });
    expect(authenticate(request(`Bearer ${token}`), 'bearer')).toEqual({
      kind: 'runs',
      grants: [{ run: 'r', job: 'j' }],
    });
    now += 60_000 + 59_000; // inside the skew
    expect(authenticate(request(`Bearer ${token}`), 'bearer').kind).toBe('runs');
    now += 2_000;
    expect(() => authenticate(request(`Bearer ${token}`), 'bearer')).toThrow(/expired at/);
    now -= 60_000 + 61_000 + 61_000; // before nbf - skew
    expect(() => authenticate(request(`Bearer ${token}`), 'bearer')).toThrow(/not valid before/);
  });

  test('the REST scheme `token` is only accepted where asked for', () => {
    const authenticate = createAuthenticator({ token: 'shared-token-value' });
    expect(authenticate(request('token shared-token-value'), 'bearer-or-token')).toEqual({ kind: 'all' });
    expect(() => authenticate(request('token shared-token-value'), 'bearer')).toThrow(/bearer token/);
    expect(() => authenticate(request('Bearer other'), 'bearer')).toThrow(/bearer token/);
  });

  test('scp parsing grants exactly the well-formed Actions.Results scopes', () => {
    expect(
      grantsOf(
        'Actions.ExampleScope Actions.Results:a:b Actions.Results:c Actions.Results:d:e:f Actions.Results::g  Actions.Results:h:i',
      ),
    ).toEqual([
      { run: 'a', job: 'b' },
      { run: 'h', job: 'i' },
    ]);
  });
});
