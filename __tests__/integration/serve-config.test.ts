import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

  it('names the key path of every problem', () => {
    const fs = { filesystem: { path: '/x' } };
    expect(problem([])).toBe('configuration: must be a JSON object; got an array');
    expect(problem({ stores: { a: fs }, stor: 'a' })).toMatch(/^stor: unknown key/);
    expect(problem({ stores: {} })).toMatch(/^stores: at least one store/);
    expect(problem({ stores: { a: fs, b: fs } })).toMatch(/^store: name the store/);
    expect(problem({ stores: { a: fs }, store: 'fss' })).toBe('store: no store named "fss"');
    expect(problem({ stores: { a: {} } })).toMatch(/^stores\.a: a store has exactly one kind/);
    expect(problem({ stores: { fs: { fast_slow: {} } } })).toMatch(
      /^stores\.fs\.fast_slow: unknown store kind "fast_slow"; this version of ferry serve supports: filesystem, azure_blob/,
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
    });
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
