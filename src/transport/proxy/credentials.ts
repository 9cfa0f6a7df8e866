/**
 * The credentials in a proxy URL's userinfo, percent-decoded, and the `Proxy-Authorization`
 * value built from them. They are sent to the proxy only, never to the target.
 */

export function credentialsOf(proxy: URL): { username: string; password: string } | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  return { username: safeDecode(proxy.username), password: safeDecode(proxy.password) };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `Basic base64(user:password)` for the proxy, or undefined when the URL has no credentials. */
export function basicAuthorization(proxy: URL): string | undefined {
  const credentials = credentialsOf(proxy);
  return credentials
    ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`
    : undefined;
}
