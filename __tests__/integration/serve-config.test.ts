import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFerryError } from '../../src/core/errors.js';
import { DEFAULT_SWEEP_INTERVAL_MS } from '../../src/server/retention/sweeper.js';
import { loadServeConfig, parseServeConfig } from '../../src/server/config/serve-config.js';
import { runCli } from '../helpers/run-cli.js';

// `ferry serve --config FILE`: named stores; invalid configuration fails at start naming the key.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-serve-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problem(json: unknown): string {
  try {
    parseServeConfig(json, '/base');
  } catch (error) {
    if (!isFerryError(error)) throw error;
    expect(error.code).toBe('ERR_FERRY_CONFIG');
    return error.message;
  }
  throw new Error('configuration was accepted');
}

describe('serve configuration', () => {
  it('resolves the chosen filesystem store, its eviction policy and the sweep interval', () => {
    const config = parseServeConfig(
      {
        stores: {
          main: {
            filesystem: {
              path: 'artifacts',
              eviction: { max_bytes: 1000, low_water_bytes: 600, max_age_seconds: 86400, max_entries: 50 },
            },
          },
          spare: { filesystem: { path: '/srv/spare' } },
        },
        store: 'main',
        retention: { sweep_interval_seconds: 60 },
      },
      '/etc/ferry',
    );
    expect(config).toEqual({
      dataDir: '/etc/ferry/artifacts',
      eviction: { maxBytes: 1000, lowWaterBytes: 600, maxAgeSeconds: 86400, maxEntries: 50 },
      sweepIntervalMs: 60_000,
    });
    // One store needs no "store"; evict_to_bytes is NativeLink's name for the low-water mark.
    expect(
      parseServeConfig(
        { stores: { only: { filesystem: { path: '/x', eviction: { max_bytes: 10, evict_to_bytes: 5 } } } } },
        '/',
      ),
    ).toEqual({
      dataDir: '/x',
      eviction: { maxBytes: 10, lowWaterBytes: 5 },
      sweepIntervalMs: DEFAULT_SWEEP_INTERVAL_MS,
    });
  });

  it('resolves a fast_slow store to its slow store plus the fast cache, over filesystem or azure_blob', () => {
    const stores = {
      cache: { filesystem: { path: 'cache', eviction: { max_bytes: 100, low_water_bytes: 50 } } },
      nfs: { filesystem: { path: '/mnt/ferry', eviction: { max_age_seconds: 60 } } },
      az: { azure_blob: { container: 'artifacts' } },
      local: { fast_slow: { fast: 'cache', slow: 'nfs' } },
      cloud: { fast_slow: { fast: 'cache', slow: 'az' } },
    };
    // The slow store is the source of truth: its directory, its eviction of artifacts.
    expect(parseServeConfig({ stores, store: 'local' }, '/etc/ferry')).toEqual({
      dataDir: '/mnt/ferry',
      azure: undefined,
      eviction: { maxAgeSeconds: 60 },
      sweepIntervalMs: DEFAULT_SWEEP_INTERVAL_MS,
      fast: { path: '/etc/ferry/cache', eviction: { maxBytes: 100, lowWaterBytes: 50 } },
    });
    expect(parseServeConfig({ stores, store: 'cloud' }, '/etc/ferry')).toMatchObject({
      dataDir: undefined,
      azure: { container: 'artifacts' },
      fast: { path: '/etc/ferry/cache' },
    });
  });

  it('accepts every configuration example in docs/serve.md', async () => {
    const page = await readFile('docs/serve.md', 'utf8');
    const examples = [...page.matchAll(/```json\n([\s\S]*?)```/g)]
      .map((m) => JSON.parse(m[1] ?? '') as unknown)
      // Configuration files are the examples with stores (others show answers, like /status).
      .filter((json) => typeof json === 'object' && json !== null && 'stores' in json);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const example of examples) expect(() => parseServeConfig(example, '/etc/ferry')).not.toThrow();
    expect(examples.map((e) => parseServeConfig(e, '/').fast?.path)).toContain('/var/cache/ferry');
  });

  it('names the key path of fast_slow reference problems: unknown names, cycles, a fast store that is no directory', () => {
    const fs = { filesystem: { path: '/x' } };
    const fs2 = { filesystem: { path: '/y' } };
    const az = { azure_blob: { container: 'artifacts' } };
    expect(problem({ stores: { a: fs, m: { fast_slow: { fast: 'a', slow: 'nope' } } }, store: 'm' })).toBe(
      'stores.m.fast_slow.slow: no store named "nope"',
    );
    expect(problem({ stores: { a: fs, m: { fast_slow: { fast: 'nope', slow: 'a' } } }, store: 'a' })).toBe(
      'stores.m.fast_slow.fast: no store named "nope"',
    );
    expect(problem({ stores: { a: fs, m: { fast_slow: { fast: 'a', slow: 'm' } } }, store: 'm' })).toBe(
      'stores.m.fast_slow.slow: a cycle: m -> m',
    );
    expect(
      problem({
        stores: {
          a: fs,
          m: { fast_slow: { fast: 'a', slow: 'n' } },
          n: { fast_slow: { fast: 'a', slow: 'm' } },
        },
        store: 'a',
      }),
    ).toBe('stores.n.fast_slow.slow: a cycle: m -> n -> m');
    expect(problem({ stores: { az, b: fs, m: { fast_slow: { fast: 'az', slow: 'b' } } }, store: 'm' })).toBe(
      'stores.m.fast_slow.fast: must name a filesystem store (the local cache); "az" is azure_blob',
    );
    expect(
      problem({
        stores: {
          a: fs,
          b: fs2,
          n: { fast_slow: { fast: 'a', slow: 'b' } },
          m: { fast_slow: { fast: 'b', slow: 'n' } },
        },
        store: 'm',
      }),
    ).toMatch(
      /^stores\.m\.fast_slow\.slow: must name a filesystem or azure_blob store; "n" is another fast_slow/,
    );
    expect(problem({ stores: { a: fs, m: { fast_slow: { fast: 'a', slow: 'a' } } }, store: 'm' })).toMatch(
      /^stores\.m\.fast_slow\.fast: the fast and slow stores must be different directories/,
    );
    expect(problem({ stores: { a: fs, m: { fast_slow: { fast: 'a', slow: 'a', verify: true } } } })).toMatch(
      /^stores\.m\.fast_slow\.verify: unknown key/,
    );
    expect(problem({ stores: { a: fs, m: { fast_slow: { fast: 'a' } } }, store: 'm' })).toMatch(
      /^stores\.m\.fast_slow\.slow: must be the name of a store/,
    );
  });

  it('names the key path of every problem', () => {
    const fs = { filesystem: { path: '/x' } };
    expect(problem([])).toBe('configuration: must be a JSON object; got an array');
    expect(problem({ stores: { a: fs }, stor: 'a' })).toMatch(/^stor: unknown key/);
    expect(problem({ stores: {} })).toMatch(/^stores: at least one store/);
    expect(problem({ stores: { a: fs, b: fs } })).toMatch(/^store: name the store/);
    expect(problem({ stores: { a: fs }, store: 'fss' })).toBe('store: no store named "fss"');
    expect(problem({ stores: { a: {} } })).toMatch(/^stores\.a: a store has exactly one kind/);
    expect(problem({ stores: { fs: { memory: {} } } })).toMatch(
      /^stores\.fs\.memory: unknown store kind "memory"; this version of ferry serve supports: filesystem, azure_blob, fast_slow/,
    );
    expect(problem({ stores: { az: { azure_blob: { container: 'c' } } } })).toMatch(
      /^stores\.az\.azure_blob\.container: must be an Azure container name/,
    );
    expect(problem({ stores: { az: { azure_blob: { container: 'ok-name', region: 'x' } } } })).toMatch(
      /^stores\.az\.azure_blob\.region: unknown key/,
    );
    expect(
      problem({ stores: { az: { azure_blob: { container: 'ok-name', connection_string_env: 'A B' } } } }),
    ).toMatch(/^stores\.az\.azure_blob\.connection_string_env: must name an environment variable/);
    expect(problem({ stores: { az: { azure_blob: { container: 'ok-name', prefix: '../x' } } } })).toMatch(
      /^stores\.az\.azure_blob\.prefix: must be a relative path/,
    );
    expect(
      parseServeConfig({ stores: { az: { azure_blob: { container: 'ok-name', prefix: 'team' } } } }, '/'),
    ).toMatchObject({
      dataDir: undefined,
      azure: {
        container: 'ok-name',
        connectionStringEnv: 'AZURE_STORAGE_CONNECTION_STRING',
        prefix: 'team/',
      },
      eviction: undefined,
    });
    // An eviction policy on an azure_blob store: run by the sweep under its lease; errors name the path.
    expect(
      parseServeConfig(
        { stores: { az: { azure_blob: { container: 'ok-name', eviction: { max_entries: 100 } } } } },
        '/',
      ),
    ).toMatchObject({ eviction: { maxEntries: 100 } });
    expect(
      problem({ stores: { az: { azure_blob: { container: 'ok-name', eviction: { max_entry: 1 } } } } }),
    ).toMatch(/^stores\.az\.azure_blob\.eviction\.max_entry: unknown key/);
    expect(problem({ stores: { a: { filesystem: { path: 7 } } } })).toMatch(
      /^stores\.a\.filesystem\.path: must be/,
    );
    expect(problem({ stores: { a: { filesystem: { path: '/x', eviction: { max_byte: 5 } } } } })).toMatch(
      /^stores\.a\.filesystem\.eviction\.max_byte: unknown key/,
    );
    expect(problem({ stores: { a: { filesystem: { path: '/x', eviction: { max_bytes: -1 } } } } })).toBe(
      'stores.a.filesystem.eviction.max_bytes: must be a whole number >= 1; got number -1',
    );
    expect(
      problem({
        stores: { a: { filesystem: { path: '/x', eviction: { max_bytes: 5, low_water_bytes: 9 } } } },
      }),
    ).toMatch(/^stores\.a\.filesystem\.eviction\.low_water_bytes: must not exceed max_bytes \(5\)/);
    expect(
      problem({ stores: { a: { filesystem: { path: '/x', eviction: { evict_to_bytes: 5 } } } } }),
    ).toMatch(/evict_to_bytes: needs max_bytes/);
    expect(problem({ stores: { a: fs }, retention: { sweep_interval_seconds: 0 } })).toMatch(
      /^retention\.sweep_interval_seconds: must be a whole number >= 1/,
    );
  });

  it('reads a file (paths relative to it) and refuses one that is not JSON', async () => {
    const file = join(dir, 'serve.json');
    await writeFile(file, JSON.stringify({ stores: { fs: { filesystem: { path: 'data' } } } }));
    expect((await loadServeConfig(file)).dataDir).toBe(join(dir, 'data'));
    await writeFile(file, '{ "stores": ');
    await expect(loadServeConfig(file)).rejects.toMatchObject({ code: 'ERR_FERRY_CONFIG' });
  });

  it('ferry serve --config fails at start with the key path, and refuses --data with it', async () => {
    const file = join(dir, 'serve.json');
    await writeFile(file, JSON.stringify({ stores: { fs: { filesystem: { path: 'data' } } }, store: 'fss' }));
    const bad = await runCli('serve', '--config', file, '--json');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('store: no store named \\"fss\\"');
    expect(bad.stdout).toContain('ERR_FERRY_CONFIG');
    const both = await runCli('serve', '--config', file, '--data', dir);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
  });

  it('ferry serve --store azure:// checks the container name and names the missing variable, never a secret', async () => {
    const saved = process.env['AZURE_STORAGE_CONNECTION_STRING'];
    delete process.env['AZURE_STORAGE_CONNECTION_STRING'];
    try {
      const name = await runCli('serve', '--store', 'azure://Bad_Name', '--json');
      expect(name.code).toBe(1);
      expect(name.stdout).toContain('--store: must be an Azure container name');
      const unset = await runCli('serve', '--store', 'azure://artifacts', '--json');
      expect(unset.code).toBe(1);
      expect(unset.stdout).toContain('AZURE_STORAGE_CONNECTION_STRING: the environment variable is not set');
      process.env['AZURE_STORAGE_CONNECTION_STRING'] =
        'AccountName=acct;SharedAccessSignature=sv=x&sig=secret-sig';
      const sasOnly = await runCli('serve', '--store', 'azure://artifacts', '--json');
      expect(sasOnly.code).toBe(1);
      expect(sasOnly.stdout).toContain('needs AccountName and AccountKey');
      expect(sasOnly.stdout).not.toContain('secret-sig');
      const both = await runCli('serve', '--store', 'azure://artifacts', '--config', join(dir, 'x.json'));
      expect(both.code).toBe(2);
    } finally {
      if (saved === undefined) delete process.env['AZURE_STORAGE_CONNECTION_STRING'];
      else process.env['AZURE_STORAGE_CONNECTION_STRING'] = saved;
    }
  });
});
