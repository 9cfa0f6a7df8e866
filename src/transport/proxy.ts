/**
 * The one proxy implementation of Ferry. Every request (results RPC, REST, blob upload, blob
 * download) is routed by {@link SlotAgents.prepare}, so all of them follow the same rules.
 *
 * ## Where settings come from
 *
 * The entry points (Action, CLI) call {@link proxySettingsFromEnv} with `process.env` and merge
 * explicit options on top with {@link mergeProxySettings}; the core never reads the environment.
 *
 * - `https_proxy` / `HTTPS_PROXY`: proxy for `https://` targets.
 * - `http_proxy` / `HTTP_PROXY`: proxy for `http://` targets only. It is NOT used for https
 *   targets (curl, Go and @actions/http-client agree on this); set HTTPS_PROXY as well.
 * - `no_proxy` / `NO_PROXY`: targets that bypass the proxy (semantics in `no-proxy.ts`).
 * - The lowercase variable wins over the uppercase one, as in curl. A lowercase variable that is
 *   set but empty also wins, and means "no proxy" (so `https_proxy=` switches off an inherited
 *   `HTTPS_PROXY`). Unlike curl, uppercase `HTTP_PROXY` is honoured when `http_proxy` is unset.
 * - `ALL_PROXY` is not read.
 *
 * ## Proxy URLs
 *
 * `http://` and `https://` proxies are supported (`https://` means TLS to the proxy itself).
 * A URL without a scheme (`proxy:3128`) is treated as `http://`. Without a port, the scheme
 * default is used (80 / 443; note that curl assumes 1080). Credentials come from the URL
 * userinfo, percent-decoded (`http://user:p%40ss@proxy:3128` sends the password `p@ss`), and
 * are sent as `Proxy-Authorization: Basic` on CONNECT (https targets) or on each request
 * (http targets). They are never sent to the target, never logged, and never put in errors.
 * Any other scheme (e.g. `socks5://`) or an unparsable URL is a configuration error
 * (`ERR_FERRY_CONFIG`): Ferry never silently falls back to a direct connection.
 *
 * ## Routing
 *
 * - http target, no proxy: direct keep-alive `http.Agent`.
 * - https target, no proxy: direct keep-alive `https.Agent` with the `tls` options.
 * - http target through a proxy: the request goes to the proxy with an absolute-URI path,
 *   `Host: <target>` and `Proxy-Authorization` (RFC 9112 §3.2.2).
 * - https target through a proxy: `CONNECT host:port` to the proxy, then TLS to the target over
 *   the tunnel. The resulting TLS socket is kept alive and reused by later requests.
 *
 * Proxy failures are {@link ProxyError}s (`ERR_FERRY_PROXY`): an unreachable proxy, a CONNECT
 * answered with anything but 200 (407: proxy authentication required), a TLS failure inside a
 * tunnel. Their messages name the proxy as `host:port` only.
 *
 * ## Files
 *
 * `proxy/settings.ts` (environment and options), `proxy/routing.ts` (which proxy for which URL),
 * `proxy/proxy-url.ts`, `proxy/credentials.ts`, `proxy/endpoint.ts` (the proxy URL and what is
 * sent to it), `proxy/errors.ts`, `proxy/connect.ts`, `proxy/forward-agent.ts`,
 * `proxy/tunnel-agent.ts`, `proxy/slot-agents.ts` (the agents) and `proxy/describe.ts` (doctor's
 * text). This file is the module's public face.
 */
export { parseNoProxy, matchNoProxy, type NoProxyRule, type ParsedNoProxy } from './no-proxy.js';
export { proxySettingsFromEnv, mergeProxySettings, type ProxySettings } from './proxy/settings.js';
export { proxyFor } from './proxy/routing.js';
export { describeProxyDecision } from './proxy/describe.js';
export { ProxyError, proxyAuthRequiredError } from './proxy/errors.js';
export { SlotAgents, type SlotAgentsOptions } from './proxy/slot-agents.js';
