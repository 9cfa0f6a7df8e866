// Jest (ESM mode) gives ES modules a snapshot of a builtin's exports, taken the first time any
// ES module imports it. msw intercepts by replacing `http.request` / `https.request` on the
// CommonJS module later, at `server.listen()`, which such a snapshot never sees. This setup
// file runs before any test module and installs stable forwarders that always call whatever
// the CommonJS module currently holds, so interception works whatever the import order.
'use strict';
for (const name of ['http', 'https']) {
  const live = require(name);
  for (const fn of ['request', 'get']) {
    const original = live[fn];
    let inside = false;
    const forwarder = function (...args) {
      // msw's Proxy wraps this forwarder and calls it back; the flag sends that call to Node.
      if (inside || live[fn] === forwarder) return original.apply(this, args);
      inside = true;
      try {
        return live[fn].apply(this, args);
      } finally {
        inside = false;
      }
    };
    live[fn] = forwarder;
  }
}
