import { describe, expect, it } from '@jest/globals';

import { redactText } from '../../src/core/redact.js';
import { onSecretRegistered, registerSecret, registeredSecrets } from '../../src/core/secrets.js';

describe('the process-wide secret set', () => {
  it('tells a subscriber about secrets registered before and after it subscribed, each once', () => {
    registerSecret('before-subscribing-0001');
    const seen: string[] = [];
    const unsubscribe = onSecretRegistered((value) => seen.push(value));
    registerSecret('after-subscribing-0002', 'the value of TEST_TOKEN');
    registerSecret('after-subscribing-0002');
    registerSecret('short');
    unsubscribe();
    registerSecret('after-unsubscribing-0003');

    expect(seen).toContain('before-subscribing-0001');
    expect(seen.filter((v) => v === 'after-subscribing-0002')).toHaveLength(1);
    expect(seen).not.toContain('short');
    expect(seen).not.toContain('after-unsubscribing-0003');
    expect(registeredSecrets()).toContainEqual({
      value: 'after-subscribing-0002',
      label: 'the value of TEST_TOKEN',
    });
  });

  it('redacts a registered secret as given and percent-encoded', () => {
    registerSecret('p@ss/word-0004');
    expect(redactText('a p@ss/word-0004 b p%40ss%2Fword-0004 c')).toBe('a *** b *** c');
  });
});
