// Child process for the proxy cases (__tests__/reliability/proxies.test.ts), bundled from src by
// esbuild at test time. It exists because NODE_EXTRA_CA_CERTS (the documented way to trust a
// private or TLS-inspecting CA) is only read when a process starts: the https cases must run
// in a process of their own. Options come from the environment exactly as the CLI and the
// Action read it (fromEnvironment: HTTPS_PROXY, NO_PROXY, ACTIONS_RESULTS_URL, ...); only the
// retry delays are shortened so faults cost milliseconds.
//
// Usage: node proxy-client.mjs '<json spec>'
//   spec = { ops: Op[], retry?: Partial<RetryPolicy> }
//   Op   = { op: 'upload', name, dir }             every regular file under dir, root = dir
//        | { op: 'download', name, path }
//        | { op: 'list', findBy? }                  findBy: REST listing of another run
// Prints one JSON line per op: { op, ok: true, result } or { op, ok: false, error }.
// Stops at the first failure (exit code 1).
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { inspect } from 'node:util';

import { downloadArtifact, listArtifacts, uploadArtifact } from '../../../src/client.js';
import { fromEnvironment } from '../../../src/environment.js';
import type { FindBy } from '../../../src/backends/rest/artifact-service.js';
import type { RetryPolicy } from '../../../src/transport/retry.js';

type Op =
  | { op: 'upload'; name: string; dir: string }
  | { op: 'download'; name: string; path: string }
  | { op: 'list'; findBy?: FindBy };

interface Spec {
  ops: Op[];
  retry?: Partial<RetryPolicy>;
}

const spec = JSON.parse(process.argv[2] ?? '{"ops":[]}') as Spec;
const options = {
  ...fromEnvironment(process.env),
  retry: { baseDelayMs: 1, maxDelayMs: 5, ...spec.retry },
};

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

function describeError(error: unknown): Record<string, unknown> {
  const e = error as Record<string, unknown> & { message?: unknown; stack?: unknown };
  let json = '';
  try {
    json = JSON.stringify(error) ?? '';
  } catch {
    json = '<circular>';
  }
  return {
    name: e?.['name'],
    code: e?.['code'],
    message: String(e?.message ?? error),
    retryable: e?.['retryable'],
    status: e?.['status'],
    proxy: e?.['proxy'],
    errno: e?.['errno'],
    context: e?.['context'],
    // Every rendering a user or a log could see, for the parent's secret scan.
    rendered: [json, inspect(error, { depth: 10, showHidden: true }), String(e?.stack ?? '')].join('\n'),
  };
}

async function run(op: Op): Promise<unknown> {
  switch (op.op) {
    case 'upload':
      return uploadArtifact(op.name, await files(op.dir), op.dir, options);
    case 'download':
      return downloadArtifact(op.name, { ...options, path: op.path });
    case 'list':
      return listArtifacts({ ...options, ...(op.findBy ? { findBy: op.findBy } : {}) });
  }
}

for (const op of spec.ops) {
  try {
    const result = await run(op);
    process.stdout.write(`${JSON.stringify({ op: op.op, ok: true, result })}\n`);
  } catch (error: unknown) {
    process.stdout.write(`${JSON.stringify({ op: op.op, ok: false, error: describeError(error) })}\n`);
    process.exitCode = 1;
    break;
  }
}
