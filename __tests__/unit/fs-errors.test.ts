import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FerryError, IntegrityError, NetworkError, isFerryError } from '../../src/core/errors.js';
import { asResourceError, findResourceFailure, freeBytes } from '../../src/pack/fs-errors.js';

function systemError(code: string, extra: Record<string, unknown> = {}): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, write`), { code, syscall: 'write', ...extra });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-fs-errors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('findResourceFailure', () => {
  it('finds ENOSPC, EDQUOT, EMFILE and ENFILE on the error, down its cause chain, and in errno', () => {
    expect(findResourceFailure(systemError('ENOSPC', { path: '/x/y' }))).toEqual({
      code: 'ENOSPC',
      path: '/x/y',
    });
    expect(findResourceFailure(systemError('EDQUOT'))?.code).toBe('EDQUOT');
    const wrapped = new IntegrityError('ERR_FERRY_INTEGRITY', 'Download broke off', {
      cause: systemError('ENOSPC'),
    });
    expect(findResourceFailure(wrapped)?.code).toBe('ENOSPC');
    expect(findResourceFailure(new NetworkError('connect EMFILE 127.0.0.1:1', 'EMFILE'))?.code).toBe(
      'EMFILE',
    );
    expect(
      findResourceFailure(new Error('x', { cause: new Error('y', { cause: systemError('ENFILE') }) }))?.code,
    ).toBe('ENFILE');
  });

  it('ignores everything else', () => {
    expect(findResourceFailure(systemError('ECONNRESET'))).toBeUndefined();
    expect(findResourceFailure(new FerryError('ERR_FERRY_NETWORK', 'reset'))).toBeUndefined();
    expect(findResourceFailure('ENOSPC')).toBeUndefined();
    expect(findResourceFailure(undefined)).toBeUndefined();
  });

  it('stops on a cause cycle', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(findResourceFailure(a)).toBeUndefined();
  });
});

describe('asResourceError', () => {
  it('returns other errors unchanged', async () => {
    const error = new Error('boom');
    expect(await asResourceError(error)).toBe(error);
  });

  it('ENOSPC: ERR_FERRY_NO_SPACE, not retryable, naming the directory, the bytes to write and the bytes free', async () => {
    const scratch = path.join(dir, 'scratch');
    await rm(scratch, { recursive: true, force: true });
    await mkdir(scratch);
    await writeFile(path.join(scratch, 'partial'), Buffer.alloc(4096));
    const cause = new IntegrityError('ERR_FERRY_INTEGRITY', 'Download broke off', {
      cause: systemError('ENOSPC'),
      retryable: true,
      context: { operation: 'download', artifactName: 'dist', file: 'a.bin' },
    });
    const free = (await freeBytes(dir)) as number;
    const mapped = await asResourceError(cause, { removedOnFailure: scratch, neededBytes: 3 * 1024 * 1024 });
    expect(isFerryError(mapped)).toBe(true);
    const error = mapped as FerryError;
    expect(error.code).toBe('ERR_FERRY_NO_SPACE');
    expect(error.retryable).toBe(false);
    expect(error.context).toEqual({ operation: 'download', artifactName: 'dist', file: 'a.bin' });
    expect(error.message).toContain(
      `Not enough disk space in ${dir} (ENOSPC); 3145728 bytes (3.0 MiB) to write`,
    );
    // The scratch directory's bytes count as free: they are deleted with it.
    const reported = Number(/, (\d+) bytes/.exec(error.message)?.[1]);
    expect(reported).toBeGreaterThanOrEqual(free + 4096 - 1024 * 1024);
    expect(error.message).toMatch(/\(operation download, artifact 'dist', file 'a\.bin'\)$/);
    expect((error as Error & { cause?: unknown }).cause).toBe(cause);
  });

  it('EDQUOT says quota; a failure without a known directory still reads well', async () => {
    const error = (await asResourceError(systemError('EDQUOT'))) as FerryError;
    expect(error.code).toBe('ERR_FERRY_NO_SPACE');
    expect(error.message).toBe(
      "Disk quota exceeded (EDQUOT). Free some space, or point the download path or 'tempDir' at a larger file system",
    );
  });

  it('EMFILE: ERR_FERRY_TOO_MANY_OPEN_FILES, suggesting a lower concurrency and naming the current one', async () => {
    const cause = new NetworkError('connect EMFILE 127.0.0.1:80', 'EMFILE', {
      context: { operation: 'upload', artifactName: 'logs', file: 'f1.txt', attempt: 6 },
    });
    const error = (await asResourceError(cause, { concurrency: 32 })) as FerryError;
    expect(error.code).toBe('ERR_FERRY_TOO_MANY_OPEN_FILES');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /^Too many open files: the process reached its limit of (\d+ )?open file descriptors \(EMFILE, 'ulimit -n'\)\. Lower the concurrency \(option 'concurrency' or --concurrency, now 32\) or raise the limit/,
    );
    // The attempt number of the last network try is not what the user needs to see.
    expect(error.context).toEqual({ operation: 'upload', artifactName: 'logs', file: 'f1.txt' });
  });

  it('ENFILE names the system-wide table; the context passed in fills gaps only', async () => {
    const error = (await asResourceError(systemError('ENFILE'), {
      context: { operation: 'download', artifactName: 'x' },
    })) as FerryError;
    expect(error.message).toMatch(/system-wide table of open files is full \(ENFILE\)/);
    expect(error.context).toEqual({ operation: 'download', artifactName: 'x' });
  });

  it('EMFILE mapped deep in a transfer is worded again by the operation, which knows the concurrency', async () => {
    const deep = (await asResourceError(systemError('EMFILE'), {
      context: { operation: 'download', artifactName: 'deep' },
    })) as FerryError;
    expect(deep.message).not.toMatch(/now \d+/);
    // Without a concurrency (another deep layer) it passes unchanged.
    expect(await asResourceError(deep, { context: { operation: 'download' } })).toBe(deep);
    const operation = (await asResourceError(deep, {
      context: { operation: 'download' },
      concurrency: 32,
    })) as FerryError;
    expect(operation.code).toBe('ERR_FERRY_TOO_MANY_OPEN_FILES');
    expect(operation.message).toMatch(/--concurrency, now 32\)/);
    expect(operation.context).toEqual({ operation: 'download', artifactName: 'deep' });
    // The errno failure itself, not the deep mapping wrapped once more.
    expect((operation as Error & { cause?: Error }).cause?.message).toBe('EMFILE: something, write');
  });

  it('an error already mapped passes unchanged', async () => {
    const once = await asResourceError(systemError('ENOSPC'));
    expect(await asResourceError(once, { neededBytes: 1 })).toBe(once);
  });
});
