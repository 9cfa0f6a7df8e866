/**
 * The character rule shared by artifact names (core/artifact-name.ts) and file paths inside an
 * artifact (pack/validate.ts): a forbidden character, a control character or a lone surrogate
 * (a name that is not valid UTF-8) makes the value unusable.
 */
import { isControlCharacter } from './format.js';

export interface BadCharacter {
  ch: string;
  /** UTF-16 index, as JavaScript reports positions. */
  index: number;
  reason: string;
}

/** The first character that is forbidden, a control character or a lone surrogate, if any. */
export function findBadCharacter(value: string, forbidden: readonly string[]): BadCharacter | undefined {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid surrogate pair
        continue;
      }
      return { ch: value[i] as string, index: i, reason: 'a lone surrogate (not valid UTF-8)' };
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      return { ch: value[i] as string, index: i, reason: 'a lone surrogate (not valid UTF-8)' };
    }
    const ch = value[i] as string;
    if (forbidden.includes(ch)) return { ch, index: i, reason: 'not allowed' };
    if (isControlCharacter(code)) return { ch, index: i, reason: 'a control character' };
  }
  return undefined;
}
