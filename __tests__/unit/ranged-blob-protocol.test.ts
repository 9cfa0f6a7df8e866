/**
 * Protocol details of the parallel ranged download (ranged-blob-reader.ts): what a blob store
 * answering ranges wrongly gets, and the fallbacks to one stream without a second request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { http as route, HttpResponse, setupServer } from '../helpers/msw.js';
import { downloadBlob, type RangePolicy } from '../../src/backends/results/blob-download.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';
import { rangedAnswer } from '../helpers/ranged-answer.js';

const KiB = 1024;
const BLOB = randomBytes(40 * KiB + 7);
const SHA = createHash('sha256').update(BLOB).digest('hex');
const ETAG = '"0xETAG1"';
const URL_ = 'http://blob.test/container/blob?sig=secret';
const POLICY: RangePolicy = {
  thresholdBytes: 16 * KiB,
  rangeBytes: 10 * KiB,
  maxConnections: 4,
  bufferBytes: 20 * KiB,
  // Always ranges here, however fast the first response is.
  fastBytesPerSecond: Infinity,
};

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

let work: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ferry-ranged-msw-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Asked {
  range: string | null;
  ifMatch: string | null;
  sig: string | null;
}

/** A correct ranged answer for `range`, unless `answer` returns another response for it. */
function blobStore(answer: (asked: Asked, index: number) => Response | undefined = () => undefined): Asked[] {
  const asked: Asked[] = [];
  server.use(
    route.get('http://blob.test/container/blob', ({ request }) => {
      const a = {
        range: request.headers.get('range'),
        ifMatch: request.headers.get('if-match'),
        sig: new URL(request.url).searchParams.get('sig'),
      };
      asked.push(a);
      const special = answer(a, asked.length - 1);
      if (special) return special;
      const { status, body, headers } = rangedAnswer(BLOB, a.range, ETAG);
      return new HttpResponse(body, { status, headers });
    }),
  );
  return asked;
}

async function download(file = path.join(work, 'blob'), refreshUrl?: () => Promise<string>) {
  const http = new HttpManager({
    slots: 4,
    userAgent: 'ferry-test',
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
  });
  try {
    return await downloadBlob(URL_, file, {
      http,
      operation: new Operation('download'),
      context: { artifactName: 'big' },
      expectedSha256: SHA,
      listedSize: BLOB.length,
      ranges: POLICY,
      refreshUrl,
    });
  } finally {
    http.dispose();
  }
}

async function failure(): Promise<Error & { code?: string; retryable?: boolean }> {
  try {
    await download();
  } catch (error) {
    expect(String((error as Error).message)).not.toContain('secret');
    return error as Error;
  }
  throw new Error('the download succeeded');
}

test('the ranges are asked with If-Match and the bytes arrive whole', async () => {
  const asked = blobStore();
  const file = path.join(work, 'blob');
  expect((await download(file)).sha256).toBe(SHA);
  expect((await readFile(file)).equals(BLOB)).toBe(true);
  expect(asked[0]).toEqual({ range: 'bytes=0-', ifMatch: null, sig: 'secret' });
  expect(
    asked
      .slice(1)
      .map((a) => a.range)
      .sort(),
  ).toEqual(['bytes=10240-20479', 'bytes=20480-30719', 'bytes=30720-40959', 'bytes=40960-40966']);
  expect(asked.slice(1).every((a) => a.ifMatch === ETAG)).toBe(true);
});

test('a store that ignores Range (200 with the whole body) is read as one stream, one request', async () => {
  const asked = blobStore((a) =>
    a.range === 'bytes=0-' ? new HttpResponse(BLOB, { status: 200, headers: { etag: ETAG } }) : undefined,
  );
  const file = path.join(work, 'blob');
  expect((await download(file)).sha256).toBe(SHA);
  expect((await readFile(file)).equals(BLOB)).toBe(true);
  expect(asked).toHaveLength(1);
});

test('a 206 without an ETag is read as one stream from the first response, one request', async () => {
  const asked = blobStore((a) =>
    a.range === 'bytes=0-'
      ? new HttpResponse(BLOB, {
          status: 206,
          headers: {
            'content-range': `bytes 0-${BLOB.length - 1}/${BLOB.length}`,
            'content-length': String(BLOB.length),
          },
        })
      : undefined,
  );
  expect((await download()).sha256).toBe(SHA);
  expect(asked).toHaveLength(1);
});

test('a first 206 that is not the whole blob is a typed error', async () => {
  blobStore((a) =>
    a.range === 'bytes=0-'
      ? new HttpResponse(BLOB.subarray(0, 100), {
          status: 206,
          headers: { etag: ETAG, 'content-range': `bytes 0-99/${BLOB.length}`, 'content-length': '100' },
        })
      : undefined,
  );
  const error = await failure();
  expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY' });
  expect(error.message).toContain("Content-Range 'bytes 0-99/40967', not the whole blob");
});

test('a range answered with another range is a typed error, not appended, not retried', async () => {
  const asked = blobStore((a) =>
    a.range === 'bytes=20480-30719'
      ? new HttpResponse(BLOB.subarray(0, 10240), {
          status: 206,
          headers: { etag: ETAG, 'content-range': `bytes 0-10239/${BLOB.length}`, 'content-length': '10240' },
        })
      : undefined,
  );
  const error = await failure();
  expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY', retryable: false });
  expect(error.message).toContain("answered bytes=20480-30719 with Content-Range 'bytes 0-10239/40967'");
  expect(asked.filter((a) => a.range === 'bytes=20480-30719')).toHaveLength(1);
});

test('a range whose Content-Range total differs from the first answer is a typed error', async () => {
  blobStore((a) =>
    a.range === 'bytes=10240-20479'
      ? new HttpResponse(BLOB.subarray(10240, 20480), {
          status: 206,
          headers: { etag: ETAG, 'content-range': `bytes 10240-20479/99999`, 'content-length': '10240' },
        })
      : undefined,
  );
  const error = await failure();
  expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY' });
  expect(error.message).toContain('of the 40967-byte blob');
});

test('a range answered 200 (the store stopped honouring Range) is a protocol error', async () => {
  blobStore((a) =>
    a.range === 'bytes=40960-40966'
      ? new HttpResponse(BLOB, { status: 200, headers: { etag: ETAG } })
      : undefined,
  );
  const error = await failure();
  expect(error).toMatchObject({ code: 'ERR_FERRY_PROTOCOL' });
  expect(error.message).toContain('HTTP 200, expected 206');
});

test('the blob changing mid-download (412 to If-Match) is a typed error naming it', async () => {
  const asked = blobStore((a) =>
    a.range === 'bytes=20480-30719' ? new HttpResponse(null, { status: 412 }) : undefined,
  );
  const error = await failure();
  expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY', retryable: false });
  expect(error.message).toContain('The blob changed during the download');
  expect(asked.filter((a) => a.range === 'bytes=20480-30719')).toHaveLength(1);
});

test('a range refused as out of range (416) is a typed error', async () => {
  blobStore((a) =>
    a.range === 'bytes=40960-40966'
      ? new HttpResponse(null, { status: 416, headers: { 'content-range': 'bytes */30000' } })
      : undefined,
  );
  const error = await failure();
  expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY' });
  expect(error.message).toContain('shorter than the 40967 bytes it declared');
});

test('a first answer declaring more than the listed size is refused before reading', async () => {
  blobStore((a) =>
    a.range === 'bytes=0-'
      ? new HttpResponse(BLOB, {
          status: 206,
          headers: {
            etag: ETAG,
            'content-range': `bytes 0-${BLOB.length}/${BLOB.length + 1}`,
            'content-length': String(BLOB.length + 1),
          },
        })
      : undefined,
  );
  const error = await failure();
  expect(error).toMatchObject({ code: 'ERR_FERRY_RESPONSE_TOO_LARGE' });
});

test('a range refused with 403 (expired URL) gets one fresh URL, and the ranges continue on it', async () => {
  let refreshes = 0;
  const asked = blobStore((a) =>
    a.sig === 'secret' && a.range !== 'bytes=0-' && a.range !== 'bytes=10240-20479'
      ? new HttpResponse('<Error><Code>AuthenticationFailed</Code></Error>', {
          status: 403,
          headers: { 'x-ms-error-code': 'AuthenticationFailed' },
        })
      : undefined,
  );
  const file = path.join(work, 'blob');
  const result = await download(file, async () => {
    refreshes++;
    return 'http://blob.test/container/blob?sig=fresh';
  });
  expect(result.sha256).toBe(SHA);
  expect((await readFile(file)).equals(BLOB)).toBe(true);
  expect(refreshes).toBe(1);
  expect(
    asked
      .filter((a) => a.sig === 'fresh')
      .map((a) => a.range)
      .sort(),
  ).toEqual(['bytes=20480-30719', 'bytes=30720-40959', 'bytes=40960-40966']);
});

test('a 403 on the fresh URL too is a typed refusal', async () => {
  blobStore((a) => (a.range !== 'bytes=0-' ? new HttpResponse('denied', { status: 403 }) : undefined));
  const error = await (async () => {
    try {
      await download(path.join(work, 'blob'), async () => 'http://blob.test/container/blob?sig=fresh');
    } catch (e) {
      return e as Error;
    }
    throw new Error('the download succeeded');
  })();
  expect(error).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED' });
  expect(error.message).toContain('refused the fresh URL');
  expect(error.message).not.toContain('secret');
  expect(error.message).not.toContain('fresh&');
});
