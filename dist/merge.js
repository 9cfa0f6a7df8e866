#!/usr/bin/env node
import { createRequire as __ferryCreateRequire } from 'node:module';
const require = __ferryCreateRequire(import.meta.url);
var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
  } catch (e) {
    throw err = [e], e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// src/core/write-fully.ts
async function writeFully(handle, buffers, position) {
  let rest = buffers.filter((b) => b.length > 0);
  let at = position;
  while (rest.length > 0) {
    const first = rest[0];
    const { bytesWritten } = rest.length === 1 ? await handle.write(first, 0, first.length, at ?? null) : await handle.writev(rest, at);
    if (bytesWritten === 0) {
      throw Object.assign(new Error("Short write: the file system accepted no bytes"), { code: "ENOSPC" });
    }
    if (at !== void 0) at += bytesWritten;
    let written = bytesWritten;
    const next = [];
    for (const buffer of rest) {
      if (written >= buffer.length) {
        written -= buffer.length;
        continue;
      }
      next.push(written > 0 ? buffer.subarray(written) : buffer);
      written = 0;
    }
    rest = next;
  }
}
var init_write_fully = __esm({
  "src/core/write-fully.ts"() {
    "use strict";
  }
});

// src/server/http/limits.ts
function resolveLimits(given) {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(given ?? {})) {
    if (value === void 0) continue;
    if (!(key in DEFAULT_LIMITS)) throw new RangeError(`Unknown server limit ${JSON.stringify(key)}`);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`Server limit ${key} must be a positive integer, got ${String(value)}`);
    }
    limits[key] = value;
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new RangeError(
      `headersTimeoutMs (${limits.headersTimeoutMs}) cannot exceed requestTimeoutMs (${limits.requestTimeoutMs})`
    );
  }
  if (limits.maxUntrustedConnections > limits.maxConnections) {
    throw new RangeError(
      `maxUntrustedConnections (${limits.maxUntrustedConnections}) cannot exceed maxConnections (${limits.maxConnections})`
    );
  }
  return limits;
}
var KIB, GIB, DEFAULT_LIMITS;
var init_limits = __esm({
  "src/server/http/limits.ts"() {
    "use strict";
    KIB = 1024;
    GIB = 1024 * 1024 * 1024;
    DEFAULT_LIMITS = Object.freeze({
      maxArtifactBytes: 10 * GIB,
      maxBlocksPerList: 5e4,
      maxStagedBlocks: 1e5,
      maxJsonBodyBytes: 1024 * KIB,
      maxHeaderBytes: 16 * KIB,
      maxArtifactsPerRun: 1e4,
      maxLiveUploadsPerRun: 1e3,
      headersTimeoutMs: 2e4,
      requestTimeoutMs: 60 * 60 * 1e3,
      idleTimeoutMs: 12e4,
      keepAliveTimeoutMs: 6e4,
      maxConnections: 512,
      maxUntrustedConnections: 64
    });
  }
});

// src/server/http/error-response.ts
var ErrorResponse, badRequest2, notFound2;
var init_error_response = __esm({
  "src/server/http/error-response.ts"() {
    "use strict";
    ErrorResponse = class extends Error {
      constructor(status, message, headers = {}) {
        super(message);
        this.status = status;
        this.headers = headers;
      }
      status;
      headers;
      name = "ErrorResponse";
    };
    badRequest2 = (message) => new ErrorResponse(400, message);
    notFound2 = (message) => new ErrorResponse(404, message);
  }
});

// src/server/util/durable.ts
import { open as open15 } from "node:fs/promises";
async function fsyncFile(path22) {
  const handle = await open15(path22, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
async function fsyncDir(path22) {
  let handle;
  try {
    handle = await open15(path22, "r");
  } catch (error2) {
    if (process.platform === "win32") return;
    throw error2;
  }
  try {
    await handle.sync();
  } catch (error2) {
    const code = error2.code;
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM") throw error2;
  } finally {
    await handle.close();
  }
}
var init_durable = __esm({
  "src/server/util/durable.ts"() {
    "use strict";
  }
});

// src/server/util/atomic-file.ts
import { randomBytes as randomBytes4 } from "node:crypto";
import { open as open16, readFile as readFile3, rename as rename3, rm as rm6 } from "node:fs/promises";
import { dirname as dirname2 } from "node:path";
async function writeJsonAtomic(path22, value) {
  const temp = `${path22}.${process.pid}.${randomBytes4(6).toString("hex")}${TEMP_SUFFIX}`;
  try {
    const handle = await open16(temp, "wx", 420);
    try {
      await handle.writeFile(JSON.stringify(value));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename3(temp, path22);
    await fsyncDir(dirname2(path22));
  } catch (error2) {
    await rm6(temp, { force: true });
    throw error2;
  }
}
async function readJsonFile(path22) {
  let text;
  try {
    text = await readFile3(path22, "utf8");
  } catch (error2) {
    if (isNotFound(error2)) return void 0;
    throw error2;
  }
  return JSON.parse(text);
}
function isNotFound(error2) {
  return typeof error2 === "object" && error2 !== null && error2.code === "ENOENT";
}
var TEMP_SUFFIX;
var init_atomic_file = __esm({
  "src/server/util/atomic-file.ts"() {
    "use strict";
    init_durable();
    TEMP_SUFFIX = ".tmp";
  }
});

// src/server/util/keyed-mutex.ts
var KeyedMutex;
var init_keyed_mutex = __esm({
  "src/server/util/keyed-mutex.ts"() {
    "use strict";
    KeyedMutex = class {
      #tails = /* @__PURE__ */ new Map();
      async run(key, work) {
        const previous = this.#tails.get(key) ?? Promise.resolve();
        let release;
        const current = new Promise((resolve2) => release = resolve2);
        const tail = previous.then(() => current);
        this.#tails.set(key, tail);
        await previous;
        try {
          return await work();
        } finally {
          release();
          if (this.#tails.get(key) === tail) this.#tails.delete(key);
        }
      }
    };
  }
});

// src/server/util/id-counter.ts
var IdCounter;
var init_id_counter = __esm({
  "src/server/util/id-counter.ts"() {
    "use strict";
    init_atomic_file();
    init_keyed_mutex();
    IdCounter = class {
      #file;
      #lock = new KeyedMutex();
      #next = 1;
      constructor(file) {
        this.#file = file;
      }
      /** Continues after the larger of the persisted counter and `highestSeen` (ids already on disk). */
      async resume(highestSeen) {
        const counter = await readJsonFile(this.#file);
        const persisted = typeof counter === "object" && counter !== null ? Number(counter.next) : NaN;
        this.#next = Math.max(highestSeen + 1, Number.isSafeInteger(persisted) ? persisted : 1);
      }
      allocate() {
        return this.#lock.run("counter", async () => {
          const id = this.#next;
          await writeJsonAtomic(this.#file, { next: id + 1 });
          this.#next = id + 1;
          return id;
        });
      }
    };
  }
});

// src/server/listing/listing-index.ts
function emptyState() {
  return { runs: /* @__PURE__ */ new Map(), runOfKey: /* @__PURE__ */ new Map() };
}
function applyTo(state, write, options) {
  const key = "put" in write ? options.keyOf(write.put) : write.remove;
  const previousRun = state.runOfKey.get(key);
  if (previousRun !== void 0) {
    const run2 = state.runs.get(previousRun);
    if (run2) {
      run2.byKey.delete(key);
      run2.sorted = void 0;
      if (run2.byKey.size === 0) state.runs.delete(previousRun);
    }
    state.runOfKey.delete(key);
  }
  if (!("put" in write)) return;
  const runId = options.runOf(write.put);
  let run = state.runs.get(runId);
  if (!run) {
    run = { byKey: /* @__PURE__ */ new Map(), sorted: void 0 };
    state.runs.set(runId, run);
  }
  run.byKey.set(key, write.put);
  run.sorted = void 0;
  state.runOfKey.set(key, runId);
}
var SYSTEM_CLOCK, DEFAULT_INDEX_LIFETIME_MS, REWARM_AT, ListingIndex;
var init_listing_index = __esm({
  "src/server/listing/listing-index.ts"() {
    "use strict";
    SYSTEM_CLOCK = {
      now: () => Date.now(),
      setTimeout: (run, ms) => setTimeout(run, ms).unref(),
      clearTimeout: (handle) => clearTimeout(handle)
    };
    DEFAULT_INDEX_LIFETIME_MS = 5 * 60 * 1e3;
    REWARM_AT = 0.9;
    ListingIndex = class _ListingIndex {
      #source;
      #options;
      #clock;
      #lifetimeMs;
      #state = emptyState();
      /** Writes applied since the running rebuild began; undefined when none runs. */
      #duringRebuild;
      #timer;
      #closed = false;
      #rebuilding;
      constructor(source, options) {
        this.#source = source;
        this.#options = options;
        this.#clock = options.clock ?? SYSTEM_CLOCK;
        this.#lifetimeMs = options.lifetimeMs ?? DEFAULT_INDEX_LIFETIME_MS;
        if (!Number.isFinite(this.#lifetimeMs) || this.#lifetimeMs <= 0) {
          throw new RangeError(
            `the index lifetime must be a positive number of milliseconds, got ${this.#lifetimeMs}`
          );
        }
      }
      /** Builds the index once from storage (the cold start, logged as a warning) and schedules its re-validation. */
      static async open(source, options) {
        const index = new _ListingIndex(source, options);
        const started = index.#clock.now();
        await index.rebuild();
        options.log?.(
          "warn",
          `listing index "${options.name}" started cold: built from storage once (${index.size} artifacts in ${index.#clock.now() - started} ms); lists are answered from memory and re-validated every ${Math.round(index.#lifetimeMs * REWARM_AT / 1e3)} s`
        );
        return index;
      }
      /** The run's artifacts in order; every run's when `runId` is undefined. Never touches storage. */
      list(runId) {
        if (runId !== void 0) {
          const run = this.#state.runs.get(runId);
          if (!run) return [];
          run.sorted ??= [...run.byKey.values()].sort(this.#options.compare);
          return run.sorted;
        }
        return [...this.#state.runs.keys()].flatMap((id) => this.list(id)).sort(this.#options.compare);
      }
      get size() {
        return this.#state.runOfKey.size;
      }
      /** Records a durable change. `put` adds or replaces an artifact; `remove` takes one out by key. */
      apply(write) {
        this.#duringRebuild?.push(write);
        applyTo(this.#state, write, this.#options);
      }
      /**
       * Re-reads everything from storage and replaces the index, keeping the writes applied meanwhile.
       * Concurrent calls share one rebuild.
       */
      rebuild() {
        return this.#rebuilding ??= this.#rebuildOnce().finally(() => {
          this.#rebuilding = void 0;
        });
      }
      async #rebuildOnce() {
        const started = this.#clock.now();
        this.#duringRebuild = [];
        let items;
        try {
          const load = () => this.#source.loadAll();
          items = await (this.#options.storeCalls ? this.#options.storeCalls.time("index_load", load) : load());
        } catch (error2) {
          this.#duringRebuild = void 0;
          throw error2;
        }
        const state = emptyState();
        for (const item of items) applyTo(state, { put: item }, this.#options);
        for (const write of this.#duringRebuild) applyTo(state, write, this.#options);
        this.#duringRebuild = void 0;
        this.#state = state;
        const finished4 = this.#clock.now();
        this.#options.onRefresh?.({
          index: this.#options.name,
          atMs: finished4,
          durationMs: finished4 - started,
          artifacts: this.size
        });
        this.#schedule();
      }
      /** The next re-validation, at 0.9 of the lifetime of the build that just finished. */
      #schedule() {
        if (this.#closed) return;
        if (this.#timer !== void 0) this.#clock.clearTimeout(this.#timer);
        this.#timer = this.#clock.setTimeout(() => {
          this.#timer = void 0;
          this.rebuild().catch((error2) => {
            this.#options.log?.(
              "error",
              `listing index "${this.#options.name}" could not be re-validated from storage: ${error2 instanceof Error ? error2.message : String(error2)}`
            );
            this.#schedule();
          });
        }, this.#lifetimeMs * REWARM_AT);
      }
      /** Stops the re-validation timer. */
      close() {
        this.#closed = true;
        if (this.#timer !== void 0) this.#clock.clearTimeout(this.#timer);
        this.#timer = void 0;
      }
    };
  }
});

// src/server/legacy/chunk-writer.ts
import { createHash as createHash7 } from "node:crypto";
import { constants as constants4 } from "node:fs";
import { open as open17 } from "node:fs/promises";
async function writeChunk(req, file, fresh, target) {
  const md5 = target.expectedMd5 === void 0 ? void 0 : createHash7("md5");
  const flags = constants4.O_WRONLY | constants4.O_CREAT | (fresh ? constants4.O_TRUNC : 0);
  const handle = await open17(file, flags, 420);
  let position = target.offset;
  let received = 0;
  let batch = [];
  let batchBytes = 0;
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      received += chunk.length;
      if (received > target.length) {
        throw new ErrorResponse(
          400,
          `Request body is longer than the Content-Range (${target.length} bytes)`,
          {
            Connection: "close"
          }
        );
      }
      md5?.update(chunk);
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH) {
        await writeFully(handle, batch, position);
        position += batchBytes;
        batch = [];
        batchBytes = 0;
      }
    }
    if (batchBytes > 0) await writeFully(handle, batch, position);
  } finally {
    await handle.close();
  }
  if (received !== target.length) {
    throw badRequest2(`Request body has ${received} bytes but the Content-Range says ${target.length}`);
  }
  if (md5 && target.expectedMd5 !== void 0) {
    const actual = md5.digest("base64");
    if (actual !== target.expectedMd5.trim()) {
      throw badRequest2(
        `MD5 mismatch for the chunk: x-actions-results-md5 is ${target.expectedMd5}, received bytes hash to ${actual}`
      );
    }
  }
}
async function readChunkBody(req, target) {
  const chunks = [];
  let received = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    received += chunk.length;
    if (received > target.length) {
      throw new ErrorResponse(400, `Request body is longer than the Content-Range (${target.length} bytes)`, {
        Connection: "close"
      });
    }
    chunks.push(chunk);
  }
  if (received !== target.length) {
    throw badRequest2(`Request body has ${received} bytes but the Content-Range says ${target.length}`);
  }
  const body = Buffer.concat(chunks, received);
  if (target.expectedMd5 !== void 0) {
    const actual = createHash7("md5").update(body).digest("base64");
    if (actual !== target.expectedMd5.trim()) {
      throw badRequest2(
        `MD5 mismatch for the chunk: x-actions-results-md5 is ${target.expectedMd5}, received bytes hash to ${actual}`
      );
    }
  }
  return body;
}
var WRITE_BATCH;
var init_chunk_writer = __esm({
  "src/server/legacy/chunk-writer.ts"() {
    "use strict";
    init_write_fully();
    init_error_response();
    WRITE_BATCH = 1024 * 1024;
  }
});

// src/server/util/journal.ts
import { closeSync as closeSync5, fsyncSync, openSync as openSync5, writeSync } from "node:fs";
import { open as open18 } from "node:fs/promises";
function parseLine(line, onRecord) {
  if (!line) return;
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    return;
  }
  onRecord(record);
}
var Journal, REPLAY_BLOCK_BYTES;
var init_journal = __esm({
  "src/server/util/journal.ts"() {
    "use strict";
    init_atomic_file();
    Journal = class {
      constructor(path22) {
        this.path = path22;
      }
      path;
      #fd;
      /**
       * Hands every complete record to `onRecord`, in order; a missing journal is an empty one. The
       * file is read a block at a time and parsed line by line: a 100,000-file container's journal
       * is ~25 MB, and reading it whole, splitting it and parsing every line before the first was
       * used held three copies of it at once when a store opened the container.
       */
      static async replay(path22, onRecord) {
        let handle;
        try {
          handle = await open18(path22, "r");
        } catch (error2) {
          if (isNotFound(error2)) return;
          throw error2;
        }
        try {
          const block = Buffer.allocUnsafe(REPLAY_BLOCK_BYTES);
          let carry = Buffer.alloc(0);
          for (; ; ) {
            const { bytesRead } = await handle.read(block, 0, block.length, null);
            if (bytesRead === 0) break;
            const data = carry.length > 0 ? Buffer.concat([carry, block.subarray(0, bytesRead)]) : block.subarray(0, bytesRead);
            let lineStart = 0;
            for (let newline = data.indexOf(10); newline !== -1; newline = data.indexOf(10, lineStart)) {
              parseLine(data.toString("utf8", lineStart, newline), onRecord);
              lineStart = newline + 1;
            }
            carry = Buffer.from(data.subarray(lineStart));
          }
          if (carry.length > 0) parseLine(carry.toString("utf8"), onRecord);
        } finally {
          await handle.close();
        }
      }
      append(record) {
        try {
          this.#fd ??= openSync5(this.path, "a");
          writeSync(this.#fd, `${JSON.stringify(record)}
`);
          return Promise.resolve();
        } catch (error2) {
          return Promise.reject(error2);
        }
      }
      /** Flushes every appended record to stable storage (when an artifact is finalized). */
      sync() {
        try {
          if (this.#fd !== void 0) fsyncSync(this.#fd);
          return Promise.resolve();
        } catch (error2) {
          return Promise.reject(error2);
        }
      }
      close() {
        const fd = this.#fd;
        this.#fd = void 0;
        if (fd !== void 0) closeSync5(fd);
        return Promise.resolve();
      }
    };
    REPLAY_BLOCK_BYTES = 1024 * 1024;
  }
});

// src/server/legacy/ranges.ts
function addRange(ranges, added) {
  if (added[1] <= added[0]) return [...ranges];
  const all = [...ranges, added].sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const [start, end] of all) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}
function coversAll(ranges, total) {
  const first = ranges[0];
  return ranges.length === 1 && first !== void 0 && first[0] === 0 && first[1] >= total;
}
function removeRange(ranges, removed) {
  const [cutStart, cutEnd] = removed;
  if (cutEnd <= cutStart) return [...ranges];
  const out = [];
  for (const [start, end] of ranges) {
    if (end <= cutStart || start >= cutEnd) {
      out.push([start, end]);
      continue;
    }
    if (start < cutStart) out.push([start, cutStart]);
    if (end > cutEnd) out.push([cutEnd, end]);
  }
  return out;
}
var init_ranges = __esm({
  "src/server/legacy/ranges.ts"() {
    "use strict";
  }
});

// src/server/legacy/container-items.ts
import {
  closeSync as closeSync6,
  constants as constants5,
  createReadStream as createReadStream2,
  fsync,
  openSync as openSync6,
  readSync as readSync3,
  write as writeAt,
  writeSync as writeSync2
} from "node:fs";
import { mkdir as mkdir9, open as open19, stat as stat9 } from "node:fs/promises";
import { promisify as promisify4 } from "node:util";
function listComplete(items, prefix) {
  const within = (p) => prefix === void 0 || p === prefix || p.startsWith(`${prefix}/`);
  const files = [];
  const folders = /* @__PURE__ */ new Set();
  for (const item of items) {
    if (!item.complete || !within(item.path)) continue;
    files.push(item);
    for (const folder of ancestors2(item.path)) if (within(folder)) folders.add(folder);
  }
  files.sort((a, b) => compare(a.path, b.path));
  return { files, folders: [...folders].sort(compare) };
}
function ancestors2(path22) {
  const parts = path22.split("/");
  const out = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}
function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}
function isItemRecord(value) {
  if (typeof value !== "object" || value === null) return false;
  const r = value;
  return typeof r.path === "string" && typeof r.total === "number" && typeof r.gzip === "boolean" && Array.isArray(r.ranges) && typeof r.complete === "boolean";
}
async function writeFully2(fd, body, offset) {
  let done = 0;
  while (done < body.length) {
    const rest = body.length - done;
    done += rest <= SYNC_WRITE_LIMIT ? writeSync2(fd, body, done, rest, offset + done) : await new Promise(
      (resolve2, reject) => writeAt(
        fd,
        body,
        done,
        rest,
        offset + done,
        (error2, written) => error2 ? reject(error2) : resolve2(written)
      )
    );
  }
}
var PACKED_RANGES, ContainerItems, SMALL_READ_LIMIT, READ_HIGH_WATER_MARK, SYNC_WRITE_LIMIT;
var init_container_items = __esm({
  "src/server/legacy/container-items.ts"() {
    "use strict";
    init_atomic_file();
    init_durable();
    init_error_response();
    init_journal();
    init_keyed_mutex();
    init_ranges();
    PACKED_RANGES = Object.freeze([]);
    ContainerItems = class _ContainerItems {
      #layout;
      #containerId;
      #items = /* @__PURE__ */ new Map();
      /** Folder path -> number of items beneath it; used to refuse a file where a folder is (and vice versa). */
      #folders = /* @__PURE__ */ new Map();
      #locks = new KeyedMutex();
      #journal;
      packPath;
      #packFd;
      /** End of the pack file: space is reserved here before the bytes are written, so writes never overlap. */
      #packSize = 0;
      /** Sum of the declared totals of all items: the artifact's size, bounded by #maxBytes. */
      #totalBytes = 0;
      #maxBytes;
      constructor(layout, containerId, maxBytes) {
        this.#layout = layout;
        this.#containerId = containerId;
        this.#maxBytes = maxBytes;
        this.#journal = new Journal(`${layout.itemsDir(containerId)}/items.journal`);
        this.packPath = `${layout.itemsDir(containerId)}/items.pack`;
      }
      static async load(layout, containerId, maxBytes) {
        const items = new _ContainerItems(layout, containerId, maxBytes);
        await mkdir9(layout.itemsDir(containerId), { recursive: true });
        await Journal.replay(items.#journal.path, (record) => {
          if (!isItemRecord(record)) return;
          if (record.updatedAt === record.createdAt) record.updatedAt = record.createdAt;
          if (record.complete && record.packOffset !== void 0) record.ranges = PACKED_RANGES;
          items.#put(record);
        });
        items.#packSize = (await stat9(items.packPath).catch(() => void 0))?.size ?? 0;
        await items.#dropShortItems();
        return items;
      }
      /**
       * After a crash or power loss before a finalize's fsync, the journal can say "complete" for
       * bytes that never reached the disk. Such an item is listed as not uploaded (its path can be
       * uploaded again) rather than served short: pack items must lie inside the pack, own files
       * must hold their whole size.
       */
      async #dropShortItems() {
        for (const item of this.#items.values()) {
          if (!item.complete || item.total === 0) continue;
          const onDisk = item.packOffset !== void 0 ? this.#packSize - item.packOffset : (await stat9(this.dataFile(item.path)).catch(() => void 0))?.size ?? 0;
          if (onDisk < item.total) this.#items.set(item.path, { ...item, complete: false, ranges: [] });
        }
      }
      /** Releases the journal's and the pack's file descriptors. */
      async close() {
        const fd = this.#packFd;
        this.#packFd = void 0;
        await this.#journal.close();
        if (fd !== void 0) closeSync6(fd);
      }
      /**
       * Receives an item sent whole in one request (every small file is). Its bytes are appended to
       * the container's pack file instead of a file of their own: creating a file costs far more
       * than the write itself, and a 10,000-file artifact would create 10,000 of them. A retry of
       * the same item takes new space; the journal's last record says which bytes count.
       */
      async receiveWhole(path22, chunk, body) {
        return this.#locks.run(path22, async () => {
          const existing = this.#items.get(path22);
          if (existing === void 0) this.#checkNoClash(path22);
          this.#checkSize(path22, existing, chunk.range.total);
          if (this.#packSize + body.length > this.#maxBytes) throw this.#tooLarge(path22, body.length);
          const offset = this.#packSize;
          this.#packSize += body.length;
          if (body.length > 0) {
            this.#packFd ??= openSync6(this.packPath, constants5.O_RDWR | constants5.O_CREAT, 420);
            await writeFully2(this.#packFd, body, offset);
          }
          const now = (/* @__PURE__ */ new Date()).toISOString();
          const record = {
            path: path22,
            total: chunk.range.total,
            gzip: chunk.gzip,
            fileLength: chunk.fileLength ?? null,
            ranges: PACKED_RANGES,
            complete: true,
            packOffset: offset,
            createdAt: existing?.createdAt ?? now,
            updatedAt: now
          };
          await this.#persist({ ...record, ranges: chunk.range.total === 0 ? [] : [[0, chunk.range.total - 1]] });
          this.#put(record);
          return record;
        });
      }
      /**
       * Makes everything received so far durable: the bytes (pack file and each item's own file),
       * then the journal that says they are complete, then the directory entries. Called when the
       * client finalizes the artifact (PATCH), so a power loss cannot leave a journal that lists
       * files whose bytes never reached the disk.
       */
      async flush() {
        if (this.#packFd !== void 0) await promisify4(fsync)(this.#packFd);
        const ownFiles = [...this.#items.values()].filter((i) => i.packOffset === void 0 && i.total > 0);
        for (const item of ownFiles) {
          await fsyncFile(this.dataFile(item.path)).catch((error2) => {
            if (!isNotFound(error2)) throw error2;
          });
        }
        await this.#journal.sync();
        await fsyncDir(this.#layout.itemsDir(this.#containerId));
      }
      get(path22) {
        return this.#items.get(path22);
      }
      /**
       * The stored bytes of a complete item of at most SMALL_READ_LIMIT bytes (undefined for a larger
       * one: `open` streams it), read at once with synchronous calls (page cache, microseconds), as small bodies are written. A stream per file
       * (a FileHandle, a ReadStream and a pipeline with its listeners and AbortController) was a
       * quarter of what a 20,000-file download allocated, and V8 promoted much of it to the old
       * generation: peak RSS (issue 12 item 5). Stored bytes shorter than recorded are a 500, never
       * an answer cut short.
       */
      readSmall(item) {
        if (item.total > SMALL_READ_LIMIT) return void 0;
        const bytes = Buffer.allocUnsafe(item.total);
        const fd = openSync6(item.packOffset !== void 0 ? this.packPath : this.dataFile(item.path), "r");
        try {
          const start = item.packOffset ?? 0;
          let done = 0;
          while (done < bytes.length) {
            const read = readSync3(fd, bytes, done, bytes.length - done, start + done);
            if (read === 0) {
              throw new ErrorResponse(
                500,
                "Internal server error: the server's storage holds fewer bytes of this item than it recorded"
              );
            }
            done += read;
          }
        } finally {
          closeSync6(fd);
        }
        return bytes;
      }
      /**
       * The stored bytes of a complete, non-empty item. The file is opened before the stream is
       * returned, so a missing data file is a clean error before any answer is sent.
       */
      async open(item) {
        const start = item.packOffset ?? 0;
        const handle = await open19(item.packOffset !== void 0 ? this.packPath : this.dataFile(item.path), "r");
        return createReadStream2("", {
          fd: handle,
          start,
          end: start + item.total - 1,
          highWaterMark: Math.min(READ_HIGH_WATER_MARK, Math.max(item.total, 1))
        });
      }
      dataFile(path22) {
        return this.#layout.itemDataFile(this.#containerId, path22);
      }
      /**
       * Receives one chunk. Chunks are keyed by (itemPath, range): the bytes go to their offset in
       * the data file, so a retried chunk replaces the same bytes instead of appending. A different
       * total or encoding means the client started a new upload of that path, so the item restarts.
       */
      async receiveChunk(path22, chunk, write) {
        return this.#locks.run(path22, async () => {
          const now = (/* @__PURE__ */ new Date()).toISOString();
          const existing = this.#items.get(path22);
          const restart = existing !== void 0 && (existing.total !== chunk.range.total || existing.gzip !== chunk.gzip || existing.packOffset !== void 0);
          const fresh = existing === void 0 || restart;
          if (existing === void 0) this.#checkNoClash(path22);
          this.#checkSize(path22, existing, chunk.range.total);
          const { start, end, total } = chunk.range;
          const base = fresh ? {
            path: path22,
            total,
            gzip: chunk.gzip,
            fileLength: chunk.fileLength ?? null,
            ranges: [],
            complete: false,
            createdAt: existing?.createdAt ?? now,
            updatedAt: now
          } : { ...existing, ranges: removeRange(existing.ranges, [start, end]), complete: false };
          if (chunk.fileLength !== void 0) base.fileLength = chunk.fileLength;
          this.#put(base);
          if (restart) await this.#persist(base);
          try {
            await write(this.dataFile(path22), fresh);
          } catch (error2) {
            if (!fresh) await this.#persist(base).catch(() => void 0);
            throw error2;
          }
          const ranges = addRange(base.ranges, [start, end]);
          const done = {
            ...base,
            ranges,
            complete: total === 0 || coversAll(ranges, total),
            updatedAt: (/* @__PURE__ */ new Date()).toISOString()
          };
          await this.#persist(done);
          this.#put(done);
          return done;
        });
      }
      /** Complete files at or below `prefix`, and every folder that contains one of them. */
      list(prefix) {
        return listComplete(this.#items.values(), prefix);
      }
      /**
       * The original size of every complete file, each path counted once (a path uploaded again
       * counts with its latest bytes): `x-tfs-filelength` when the client sent it, else the stored size.
       */
      originalSize() {
        let total = 0;
        for (const item of this.#items.values()) if (item.complete) total += item.fileLength ?? item.total;
        return total;
      }
      /** The artifact, with this item at `total` bytes, must stay within the size limit. */
      #checkSize(path22, existing, total) {
        if (this.#totalBytes - (existing?.total ?? 0) + total > this.#maxBytes) throw this.#tooLarge(path22, total);
      }
      #tooLarge(path22, bytes) {
        return new ErrorResponse(
          413,
          `Storing ${bytes} more bytes for ${JSON.stringify(path22)} would make the artifact larger than the server's limit of ${this.#maxBytes} bytes (maxArtifactBytes)`
        );
      }
      #put(record) {
        this.#totalBytes += record.total - (this.#items.get(record.path)?.total ?? 0);
        if (!this.#items.has(record.path)) {
          for (const folder of ancestors2(record.path))
            this.#folders.set(folder, (this.#folders.get(folder) ?? 0) + 1);
        }
        this.#items.set(record.path, record);
      }
      /** A path cannot be both a file and a folder: the client would have to create both on disk. */
      #checkNoClash(path22) {
        if (this.#folders.has(path22)) {
          throw new ErrorResponse(409, `itemPath ${JSON.stringify(path22)} is already a folder in this artifact`);
        }
        const clash = ancestors2(path22).find((folder) => this.#items.has(folder));
        if (clash !== void 0) {
          throw new ErrorResponse(
            409,
            `itemPath ${JSON.stringify(path22)} is below ${JSON.stringify(clash)}, which is already a file`
          );
        }
      }
      #persist(record) {
        return this.#journal.append(record);
      }
    };
    SMALL_READ_LIMIT = 64 * 1024;
    READ_HIGH_WATER_MARK = 1024 * 1024;
    SYNC_WRITE_LIMIT = 256 * 1024;
  }
});

// src/server/listing/read-all.ts
async function readAll(items, read, concurrency = 32) {
  const out = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      const value = await read(item);
      if (value !== void 0) out.push(value);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
var init_read_all = __esm({
  "src/server/listing/read-all.ts"() {
    "use strict";
  }
});

// src/server/legacy/listing-source.ts
import { readdir as readdir3 } from "node:fs/promises";
function legacyListingSource(layout) {
  return {
    async loadAll() {
      const ids = (await readdir3(layout.containersDir)).filter((entry) => /^\d+$/.test(entry));
      return readAll(ids, async (id) => {
        const record = await readJsonFile(layout.artifactFile(Number(id))).catch(() => void 0);
        return isArtifactRecord(record) ? record : void 0;
      });
    }
  };
}
var init_listing_source = __esm({
  "src/server/legacy/listing-source.ts"() {
    "use strict";
    init_read_all();
    init_atomic_file();
    init_artifact_store();
  }
});

// src/server/legacy/artifact-store.ts
import { randomBytes as randomBytes5 } from "node:crypto";
import { mkdir as mkdir10, readdir as readdir4, rm as rm7 } from "node:fs/promises";
function raceLost(artifact, path22, earlier) {
  const what = earlier ? `lost the race for a file to another upload of artifact ${JSON.stringify(artifact)} in this run and may not write ${JSON.stringify(path22)} either` : `came second: another upload of artifact ${JSON.stringify(artifact)} in this run is writing ${JSON.stringify(path22)}`;
  return new ErrorResponse(
    409,
    `This upload ${what}; it is refused so that no file and no artifact mixes the two uploads. Give concurrent uploads different artifact names, or different files`
  );
}
function withUploadSession(containerUrl2, session) {
  const url = new URL(containerUrl2);
  url.searchParams.set(UPLOAD_SESSION_PARAM, session);
  return url.toString();
}
function expiresAt2(record) {
  return Date.parse(record.createdAt) + (record.retentionDays ?? DEFAULT_RETENTION_DAYS) * 864e5;
}
function isArtifactRecord(value) {
  if (typeof value !== "object" || value === null) return false;
  const r = value;
  return typeof r.containerId === "number" && typeof r.runId === "string" && typeof r.name === "string" && typeof r.size === "number";
}
var UPLOAD_SESSION_PARAM, DEFAULT_SESSION_LEASE_MS, WHOLE_ITEM_LIMIT, DEFAULT_RETENTION_DAYS, ArtifactStore;
var init_artifact_store = __esm({
  "src/server/legacy/artifact-store.ts"() {
    "use strict";
    init_error_response();
    init_limits();
    init_atomic_file();
    init_id_counter();
    init_keyed_mutex();
    init_listing_index();
    init_chunk_writer();
    init_container_items();
    init_listing_source();
    UPLOAD_SESSION_PARAM = "upload";
    DEFAULT_SESSION_LEASE_MS = 2 * 60 * 1e3;
    WHOLE_ITEM_LIMIT = 1024 * 1024;
    DEFAULT_RETENTION_DAYS = 90;
    ArtifactStore = class _ArtifactStore {
      kind = "filesystem";
      #layout;
      #byId = /* @__PURE__ */ new Map();
      #items = /* @__PURE__ */ new Map();
      #locks = new KeyedMutex();
      /** Upload sessions by id, and which session writes each file (`containerId\0path`). In memory only. */
      #sessions = /* @__PURE__ */ new Map();
      #owners = /* @__PURE__ */ new Map();
      #leaseMs;
      #now;
      #ids;
      limits;
      /** Containers by run: what listings are answered from (set once open() has built it). */
      #listing;
      constructor(layout, options) {
        this.#layout = layout;
        this.limits = options.limits ?? DEFAULT_LIMITS;
        this.#ids = new IdCounter(layout.counterFile);
        this.#leaseMs = options.sessionLeaseMs ?? DEFAULT_SESSION_LEASE_MS;
        this.#now = options.now ?? Date.now;
      }
      static async open(layout, options = {}) {
        const store = new _ArtifactStore(layout, options);
        await mkdir10(layout.containersDir, { recursive: true });
        await store.#load();
        store.#listing = await ListingIndex.open(legacyListingSource(layout), {
          ...options.listing,
          name: "legacy",
          keyOf: (r) => String(r.containerId),
          runOf: (r) => r.runId,
          compare: (a, b) => a.containerId - b.containerId
        });
        return store;
      }
      async #load() {
        const entries = await readdir4(this.#layout.containersDir);
        let maxId = 0;
        await Promise.all(
          entries.map(async (entry) => {
            if (!/^\d+$/.test(entry)) return;
            const id = Number(entry);
            maxId = Math.max(maxId, id);
            const record = await readJsonFile(this.#layout.artifactFile(id));
            if (isArtifactRecord(record)) this.#byId.set(id, record);
            else if (record === void 0)
              await rm7(this.#layout.containerDir(id), { recursive: true, force: true });
          })
        );
        await this.#ids.resume(maxId);
      }
      get(containerId) {
        return this.#byId.get(containerId);
      }
      find(runId, name) {
        for (const record of this.#byId.values()) {
          if (record.runId === runId && record.name === name) return record;
        }
        return void 0;
      }
      /** Artifacts of one run in creation order, from the listing index: never a scan of storage. */
      list(runId) {
        return this.#listing?.list(runId) ?? [];
      }
      /**
       * Creates the container for (run, name), or returns the existing one: v1 clients merge several
       * uploads into one artifact by creating the same name again. Each call also opens an upload
       * session (see {@link claim}); its id goes into the fileContainerResourceUrl handed back.
       */
      async create(runId, name, retentionDays2) {
        const result = await this.#createContainer(runId, name, retentionDays2);
        const session = randomBytes5(12).toString("hex");
        this.#sessions.set(session, {
          id: session,
          containerId: result.record.containerId,
          lastActivity: this.#now(),
          closedAt: void 0,
          lostTo: void 0
        });
        this.#pruneSessions();
        return { ...result, session };
      }
      /**
       * Records that upload `session` writes `path` of the container, or refuses (409) when another
       * upload of the same artifact that is still in progress already writes it. v1 merges uploads
       * of one name, so different files from concurrent uploads are fine, and so is replacing a file
       * of an upload that finished (PATCHed) or was abandoned; but two uploads in progress writing
       * the same file would interleave its chunks or mix two versions of the artifact. The upload
       * that comes second loses: this and every later write of it is refused, so it never
       * finalizes, and the winner may replace whatever the loser wrote. Requests without a session
       * (a container URL taken from a listing, or another server's client) are not tracked.
       */
      claim(containerId, path22, session) {
        if (session === null) return;
        const mine = this.#sessions.get(session);
        if (!mine || mine.containerId !== containerId) return;
        const now = this.#now();
        const name = this.#byId.get(containerId)?.name ?? String(containerId);
        if (mine.lostTo !== void 0) throw raceLost(name, path22, true);
        const key = `${containerId}\0${path22}`;
        const owner = this.#owners.get(key);
        const other = owner === void 0 || owner === session ? void 0 : this.#sessions.get(owner);
        if (other && this.#isLive(other, now)) {
          mine.lostTo = owner;
          throw raceLost(name, path22, false);
        }
        mine.lastActivity = now;
        this.#owners.set(key, mine.id);
      }
      /** A session writes while it is not beaten, not idle past the lease, and not closed by a PATCH since its last write. */
      #isLive(session, now) {
        return session.lostTo === void 0 && now - session.lastActivity < this.#leaseMs && (session.closedAt === void 0 || session.lastActivity > session.closedAt);
      }
      /** Forgets sessions (and their claims) that can no longer matter: idle past the lease. */
      #pruneSessions() {
        const now = this.#now();
        const dead = /* @__PURE__ */ new Set();
        for (const [id, session] of this.#sessions) {
          if (now - session.lastActivity >= this.#leaseMs) dead.add(id);
        }
        if (dead.size === 0) return;
        for (const id of dead) this.#sessions.delete(id);
        for (const [key, owner] of this.#owners) if (dead.has(owner)) this.#owners.delete(key);
      }
      async #createContainer(runId, name, retentionDays2) {
        return this.#locks.run(`name:${runId}\0${name}`, async () => {
          const existing = this.find(runId, name);
          if (existing) return { record: await this.#reopen(existing), created: false };
          const max = this.limits.maxArtifactsPerRun;
          if (this.list(runId).length >= max) {
            throw new ErrorResponse(
              403,
              `Workflow run ${JSON.stringify(runId)} already has ${max} artifacts, the limit of this server (maxArtifactsPerRun)`
            );
          }
          const containerId = await this.#ids.allocate();
          await mkdir10(this.#layout.itemsDir(containerId), { recursive: true });
          const now = (/* @__PURE__ */ new Date()).toISOString();
          const record = {
            containerId,
            runId,
            name,
            size: -1,
            retentionDays: retentionDays2,
            createdAt: now,
            updatedAt: now
          };
          await writeJsonAtomic(this.#layout.artifactFile(containerId), record);
          this.#byId.set(containerId, record);
          this.#listing?.apply({ put: record });
          return { record, created: true };
        });
      }
      /**
       * A new upload into an existing artifact (v1 merges uploads of one name) makes it unfinished
       * again until that upload's PATCH: the size goes back to -1, so a download meanwhile (or after
       * that upload crashed) is refused as incomplete instead of mixing the old files with whichever
       * new ones had arrived. Called under the (run, name) lock.
       */
      async #reopen(existing) {
        if (existing.size === -1) return existing;
        return this.#locks.run(`artifact:${existing.containerId}`, async () => {
          const current = this.#byId.get(existing.containerId) ?? existing;
          const next = { ...current, size: -1, updatedAt: (/* @__PURE__ */ new Date()).toISOString() };
          await writeJsonAtomic(this.#layout.artifactFile(next.containerId), next);
          this.#byId.set(next.containerId, next);
          this.#listing?.apply({ put: next });
          return next;
        });
      }
      /**
       * Records the artifact's size when a client finalizes an upload; `undefined` when the artifact
       * does not exist. A client reports the size of its own upload only, but several uploads to one
       * name merge into one artifact, so the size kept is the total of the files the container holds
       * (see ContainerItems.originalSize), or the reported size when that is larger: the client also
       * counts files that failed to upload. A repeated PATCH gives the same size.
       *
       * The PATCH does not say which upload sends it, so it closes every session of the container:
       * a finished upload's files may then be replaced by a later one (v1 merge semantics), and a
       * session that keeps writing afterwards is open again.
       */
      async patchSize(runId, name, size) {
        const existing = this.find(runId, name);
        if (!existing) return void 0;
        const now = this.#now();
        for (const session of this.#sessions.values()) {
          if (session.containerId === existing.containerId) session.closedAt = now;
        }
        await (await this.items(existing.containerId)).flush();
        const held = (await this.items(existing.containerId)).originalSize();
        return this.#locks.run(`artifact:${existing.containerId}`, async () => {
          const current = this.#byId.get(existing.containerId) ?? existing;
          const total = Math.max(size, held);
          const next = { ...current, size: total, updatedAt: (/* @__PURE__ */ new Date()).toISOString() };
          await writeJsonAtomic(this.#layout.artifactFile(next.containerId), next);
          this.#byId.set(next.containerId, next);
          this.#listing?.apply({ put: next });
          return next;
        });
      }
      /** Finalized artifacts (their size PATCHed) whose retention ended by `now`, oldest first. */
      expired(now) {
        return [...this.#byId.values()].filter((r) => r.size !== -1 && expiresAt2(r) <= now).sort((a, b) => a.containerId - b.containerId);
      }
      /**
       * Deletes an artifact whose retention ended: the record first (so it is never listed with
       * files missing), then its files. Re-checked under the name's and the artifact's locks, so an
       * upload into it that started meanwhile (v1 merges uploads of one name) keeps it. Undefined when
       * there was nothing to delete: repeating it is harmless.
       */
      async removeExpired(containerId, now) {
        const record = this.#byId.get(containerId);
        if (!record) return void 0;
        return this.#locks.run(
          `name:${record.runId}\0${record.name}`,
          () => this.#locks.run(`artifact:${containerId}`, async () => {
            const current = this.#byId.get(containerId);
            if (!current || current.size === -1 || expiresAt2(current) > now) return void 0;
            for (const session of this.#sessions.values()) {
              if (session.containerId === containerId && this.#isLive(session, now)) return void 0;
            }
            await rm7(this.#layout.artifactFile(containerId), { force: true });
            this.#listing?.apply({ remove: String(containerId) });
            this.#byId.delete(containerId);
            const items = this.#items.get(containerId);
            this.#items.delete(containerId);
            await (await items?.catch(() => void 0))?.close();
            await rm7(this.#layout.containerDir(containerId), { recursive: true, force: true });
            return current;
          })
        );
      }
      /**
       * Stores one chunk: a file sent whole (every small file is) goes to the container's pack file,
       * a larger or chunked one to its own data file at the chunk's offset.
       */
      async receive(artifact, path22, session, chunk, req) {
        this.claim(artifact.containerId, path22, session);
        const items = await this.items(artifact.containerId);
        const { range, gzip: gzip2, fileLength, expectedMd5 } = chunk;
        const length = range.end - range.start;
        if (range.start === 0 && length === range.total && length <= WHOLE_ITEM_LIMIT) {
          const body = await readChunkBody(req, { length, expectedMd5 });
          await items.receiveWhole(path22, { range, gzip: gzip2, fileLength }, body);
        } else {
          await items.receiveChunk(
            path22,
            { range, gzip: gzip2, fileLength },
            (file, fresh) => writeChunk(req, file, fresh, { offset: range.start, length, expectedMd5 })
          );
        }
      }
      files(artifact) {
        return this.items(artifact.containerId);
      }
      /** The items of a container, loaded from disk on first use and cached. */
      items(containerId) {
        let items = this.#items.get(containerId);
        if (!items) {
          items = ContainerItems.load(this.#layout, containerId, this.limits.maxArtifactBytes);
          items.catch(() => this.#items.delete(containerId));
          this.#items.set(containerId, items);
        }
        return items;
      }
      /** Closes every loaded container's journal. */
      async close() {
        this.#listing?.close();
        const loaded = await Promise.allSettled(this.#items.values());
        this.#items.clear();
        await Promise.all(loaded.map((r) => r.status === "fulfilled" ? r.value.close() : void 0));
      }
    };
  }
});

// src/server/http/respond.ts
function sendJson(res, status, body, headers = {}) {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(payload.length)
  });
  res.end(payload);
}
function sendErrorJson(res, status, message, headers = {}) {
  sendJson(res, status, { message, statusCode: status }, headers);
}
var init_respond = __esm({
  "src/server/http/respond.ts"() {
    "use strict";
  }
});

// src/server/legacy/layout.ts
import { createHash as createHash8 } from "node:crypto";
import { join } from "node:path";
function itemKey(itemPath) {
  return createHash8("sha256").update(itemPath, "utf8").digest("hex");
}
var LegacyLayout;
var init_layout = __esm({
  "src/server/legacy/layout.ts"() {
    "use strict";
    LegacyLayout = class {
      root;
      constructor(dataDir) {
        this.root = join(dataDir, "legacy");
      }
      get counterFile() {
        return join(this.root, "next-container-id.json");
      }
      get containersDir() {
        return join(this.root, "containers");
      }
      containerDir(containerId) {
        return join(this.containersDir, String(containerId));
      }
      artifactFile(containerId) {
        return join(this.containerDir(containerId), "artifact.json");
      }
      itemsDir(containerId) {
        return join(this.containerDir(containerId), "items");
      }
      itemDataFile(containerId, itemPath) {
        return join(this.itemsDir(containerId), `${itemKey(itemPath)}.bin`);
      }
    };
  }
});

// src/server/rest/run-registry.ts
import { join as join2 } from "node:path";
function mergeRun(id, before, fields, now) {
  const time = now.toISOString();
  const path22 = fields.path ?? before?.path ?? "";
  return {
    id,
    path: path22,
    name: fields.name ?? before?.name ?? (path22.split("/").pop() || ""),
    headBranch: fields.headBranch ?? before?.headBranch ?? "",
    headSha: fields.headSha ?? before?.headSha ?? "",
    event: fields.event ?? before?.event ?? "",
    status: fields.status ?? before?.status ?? "in_progress",
    conclusion: fields.conclusion !== void 0 ? fields.conclusion : before?.conclusion ?? null,
    createdAt: before?.createdAt ?? time,
    updatedAt: time
  };
}
function filterRuns(runs, filter) {
  const workflow = filter.workflow;
  return [...runs].filter(
    (run) => workflow === void 0 || run.path === workflow || run.path.split("/").pop() === workflow
  ).filter((run) => filter.branch === void 0 || run.headBranch === filter.branch).filter((run) => filter.event === void 0 || run.event === filter.event).filter(
    (run) => filter.status === void 0 || run.status === filter.status || run.conclusion === filter.status
  ).sort(
    (a, b) => a.createdAt === b.createdAt ? compareIds(b.id, a.id) : b.createdAt < a.createdAt ? -1 : 1
  );
}
function compareIds(a, b) {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}
var MAX_RUNS, FILE, FileRunRegistry;
var init_run_registry = __esm({
  "src/server/rest/run-registry.ts"() {
    "use strict";
    init_atomic_file();
    init_keyed_mutex();
    MAX_RUNS = 1e5;
    FILE = "runs.json";
    FileRunRegistry = class _FileRunRegistry {
      #file;
      #runs;
      #mutex = new KeyedMutex();
      constructor(file, runs) {
        this.#file = file;
        this.#runs = runs;
      }
      static async open(dataDir) {
        const file = join2(dataDir, FILE);
        const stored = await readJsonFile(file);
        const runs = /* @__PURE__ */ new Map();
        if (Array.isArray(stored)) {
          for (const run of stored) runs.set(run.id, run);
        }
        return new _FileRunRegistry(file, runs);
      }
      get(id) {
        return this.#runs.get(id);
      }
      async record(id, fields, now) {
        return this.#mutex.run("runs", async () => {
          const run = mergeRun(id, this.#runs.get(id), fields, now);
          this.#runs.delete(id);
          this.#runs.set(id, run);
          while (this.#runs.size > MAX_RUNS) {
            const oldest = this.#runs.keys().next().value;
            this.#runs.delete(oldest);
          }
          await writeJsonAtomic(this.#file, [...this.#runs.values()]);
          return run;
        });
      }
      list(filter) {
        return filterRuns(this.#runs.values(), filter);
      }
    };
  }
});

// src/server/results/twirp-errors.ts
function codeFor2(status) {
  switch (status) {
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
    case 405:
      return "bad_route";
    case 409:
      return "already_exists";
    case 412:
      return "failed_precondition";
    case 429:
      return "resource_exhausted";
    case 501:
      return "unimplemented";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "invalid_argument";
  }
}
function renderTwirpError(res, error2) {
  const code = error2 instanceof TwirpError ? error2.code : codeFor2(error2.status);
  const status = error2.status === 507 && !(error2 instanceof TwirpError) ? 507 : STATUS[code];
  sendJson(res, status, { code, msg: error2.message }, error2.headers);
}
var STATUS, TwirpError;
var init_twirp_errors = __esm({
  "src/server/results/twirp-errors.ts"() {
    "use strict";
    init_error_response();
    init_respond();
    STATUS = {
      invalid_argument: 400,
      malformed: 400,
      unauthenticated: 401,
      permission_denied: 403,
      not_found: 404,
      bad_route: 404,
      already_exists: 409,
      failed_precondition: 412,
      resource_exhausted: 429,
      internal: 500,
      unimplemented: 501,
      unavailable: 503
    };
    TwirpError = class extends ErrorResponse {
      constructor(code, message) {
        super(STATUS[code], message);
        this.code = code;
      }
      code;
      name = "TwirpError";
    };
  }
});

// src/server/results/listing-source.ts
import { readdir as readdir5 } from "node:fs/promises";
function resultsListingSource(layout) {
  return {
    async loadAll() {
      const ids = (await readdir5(layout.artifactsDir)).map((entry) => /^(\d+)\.json$/.exec(entry)?.[1]).filter((id) => id !== void 0);
      return readAll(ids, async (id) => {
        const record = await readJsonFile(layout.artifactFile(Number(id))).catch(() => void 0);
        return isArtifact(record) && record.finalized !== null ? record : void 0;
      });
    }
  };
}
var init_listing_source2 = __esm({
  "src/server/results/listing-source.ts"() {
    "use strict";
    init_read_all();
    init_atomic_file();
    init_artifact_index();
  }
});

// src/server/results/artifact-index.ts
import { mkdir as mkdir11, readdir as readdir6, rm as rm9 } from "node:fs/promises";
import { join as join4 } from "node:path";
function checkContent(input, size, digest2) {
  if (input.size !== void 0 && input.size !== size) {
    throw new TwirpError(
      "invalid_argument",
      `size ${input.size} does not match the ${size} bytes committed for artifact ${JSON.stringify(input.name)}`
    );
  }
  if (input.hash !== void 0 && input.hash.toLowerCase() !== digest2) {
    throw new TwirpError(
      "invalid_argument",
      `hash ${input.hash} does not match the committed bytes of artifact ${JSON.stringify(input.name)}, which hash to ${digest2}`
    );
  }
}
function nameKey(runId, name) {
  return `name:${runId}\0${name}`;
}
function isArtifact(value) {
  if (typeof value !== "object" || value === null) return false;
  const r = value;
  return typeof r.id === "number" && typeof r.runId === "string" && typeof r.jobId === "string" && typeof r.name === "string" && typeof r.blobId === "string" && typeof r.mimeType === "string" && "finalized" in r;
}
var DIGEST2, DEFAULT_UPLOAD_LEASE_MS, ArtifactIndex;
var init_artifact_index = __esm({
  "src/server/results/artifact-index.ts"() {
    "use strict";
    init_limits();
    init_atomic_file();
    init_id_counter();
    init_keyed_mutex();
    init_listing_index();
    init_listing_source2();
    init_twirp_errors();
    DIGEST2 = /^sha256:[0-9a-f]{64}$/i;
    DEFAULT_UPLOAD_LEASE_MS = 15 * 60 * 1e3;
    ArtifactIndex = class _ArtifactIndex {
      #layout;
      #blobs;
      #byId = /* @__PURE__ */ new Map();
      #byBlob = /* @__PURE__ */ new Map();
      #locks = new KeyedMutex();
      /** Last activity (ms) of each unfinalized artifact, by blob id. In memory: a restart renews every lease. */
      #activity = /* @__PURE__ */ new Map();
      #leaseMs;
      #now;
      #ids;
      #limits;
      /** Finalized artifacts by run: what lists are answered from (set once open() has built it). */
      #listing;
      constructor(layout, blobs, options) {
        this.#layout = layout;
        this.#limits = options.limits ?? DEFAULT_LIMITS;
        this.#ids = new IdCounter(layout.counterFile);
        this.#blobs = blobs;
        this.#leaseMs = options.uploadLeaseMs ?? DEFAULT_UPLOAD_LEASE_MS;
        this.#now = options.now ?? Date.now;
        if (!Number.isFinite(this.#leaseMs) || this.#leaseMs < 0) {
          throw new RangeError(
            `uploadLeaseMs must be a non-negative number of milliseconds, got ${this.#leaseMs}`
          );
        }
      }
      static async open(layout, blobs, options = {}) {
        const index = new _ArtifactIndex(layout, blobs, options);
        await mkdir11(layout.artifactsDir, { recursive: true });
        await index.#load();
        index.#listing = await ListingIndex.open(resultsListingSource(layout), {
          ...options.listing,
          name: "results",
          keyOf: (r) => String(r.id),
          runOf: (r) => r.runId,
          compare: (a, b) => a.id - b.id
        });
        return index;
      }
      /** Stops the listing index's background re-validation. */
      close() {
        this.#listing?.close();
      }
      async #load() {
        let maxId = 0;
        for (const entry of await readdir6(this.#layout.artifactsDir)) {
          if (entry.endsWith(TEMP_SUFFIX)) {
            await rm9(join4(this.#layout.artifactsDir, entry), { force: true });
            continue;
          }
          const match = /^(\d+)\.json$/.exec(entry);
          if (!match) continue;
          const id = Number(match[1]);
          maxId = Math.max(maxId, id);
          const record = await readJsonFile(this.#layout.artifactFile(id)).catch(() => void 0);
          if (!isArtifact(record)) continue;
          if (!await this.#blobIsWhole(record)) {
            await rm9(this.#layout.artifactFile(id), { force: true });
            continue;
          }
          this.#remember(record);
        }
        for (const blobId of await this.#blobs.idsOnDisk()) {
          if (!this.#byBlob.has(blobId)) await this.#blobs.remove(blobId);
        }
        await this.#ids.resume(maxId);
      }
      async #blobIsWhole(record) {
        if (!this.#blobs.has(record.blobId)) return false;
        if (!record.finalized) return true;
        const committed = this.#blobs.committed(record.blobId);
        if (committed?.size !== record.finalized.size) return false;
        return await this.#blobs.storedSize(record.blobId) === record.finalized.size;
      }
      /** A finalized artifact by id. */
      get(id) {
        const record = this.#byId.get(id);
        return record?.finalized ? record : void 0;
      }
      /** The artifact (finalized or not) that owns a blob. */
      byBlob(blobId) {
        return this.#byBlob.get(blobId);
      }
      /**
       * Finalized artifacts matching the filter, oldest first. Answered from the listing index, in
       * memory: never a scan of storage.
       */
      list(filter) {
        const inRun = this.#listing?.list(filter.runId) ?? [];
        return inRun.filter(
          (r) => (filter.name === void 0 || r.name === filter.name) && (filter.id === void 0 || r.id === filter.id)
        );
      }
      /**
       * A new artifact with an empty blob. The name must be free in the run (GitHub's 409 otherwise):
       * a finalized artifact holds it until deleted, and so does an upload in progress, so two
       * concurrent uploads of one name never share or destroy each other's blob: the second is
       * refused before it sends a byte. Only an upload without activity for the lease time counts as
       * abandoned and is replaced (a crashed client must not block the name until someone deletes it).
       */
      async create(input) {
        return this.#locks.run(nameKey(input.runId, input.name), async () => {
          const existing = this.#find(input.runId, input.name);
          if (existing.some((r) => r.finalized)) {
            throw new TwirpError(
              "already_exists",
              "an artifact with this name already exists on the workflow run"
            );
          }
          const at = this.#now();
          const live = existing.find((r) => at - this.#lastActivity(r) < this.#leaseMs);
          if (live) throw this.#busy(live, at);
          this.#checkRunLimits(input.runId, at);
          for (const stale of existing) await this.#forget(stale);
          const blobId = await this.#blobs.create();
          const id = await this.#ids.allocate();
          const now = (/* @__PURE__ */ new Date()).toISOString();
          const record = {
            id,
            runId: input.runId,
            jobId: input.jobId,
            name: input.name,
            blobId,
            mimeType: input.mimeType,
            version: input.version,
            createdAt: now,
            updatedAt: now,
            expiresAt: input.expiresAt.toISOString(),
            finalized: null
          };
          await writeJsonAtomic(this.#layout.artifactFile(id), record);
          this.#remember(record);
          this.#activity.set(blobId, this.#now());
          return record;
        });
      }
      /**
       * Seals the artifact after checking the client's size and hash against the committed bytes.
       * Repeating it for an artifact that is already finalized with the same content returns the same
       * id, so a client that lost the answer can safely retry.
       */
      async finalize(input) {
        if (input.hash !== void 0 && !DIGEST2.test(input.hash)) {
          throw new TwirpError(
            "invalid_argument",
            `hash must be "sha256:" followed by 64 hex digits, got ${JSON.stringify(input.hash.slice(0, 100))}`
          );
        }
        return this.#locks.run(nameKey(input.runId, input.name), async () => {
          const records = this.#find(input.runId, input.name);
          const pending = records.filter((r) => !r.finalized).at(-1);
          if (!pending) {
            const done = records.find((r) => r.finalized);
            if (!done?.finalized) {
              throw new TwirpError(
                "not_found",
                `No artifact named ${JSON.stringify(input.name)} was created in workflow run ${JSON.stringify(input.runId)}`
              );
            }
            checkContent(input, done.finalized.size, done.finalized.digest);
            return done;
          }
          return this.#blobs.exclusive(pending.blobId, async () => {
            const committed = this.#blobs.committed(pending.blobId);
            if (!committed) {
              throw new TwirpError(
                "failed_precondition",
                `Artifact ${JSON.stringify(input.name)} has no committed blob yet: upload it (Put Block List or Put Blob) before FinalizeArtifact`
              );
            }
            const digest2 = `sha256:${committed.sha256}`;
            checkContent(input, committed.size, digest2);
            const now = (/* @__PURE__ */ new Date()).toISOString();
            const next = {
              ...pending,
              updatedAt: now,
              finalized: { size: committed.size, digest: digest2, at: now }
            };
            await writeJsonAtomic(this.#layout.artifactFile(next.id), next);
            this.#remember(next);
            this.#activity.delete(next.blobId);
            return next;
          });
        });
      }
      /**
       * Deletes the artifacts of that name in the run; returns the finalized one (or the newest).
       * With `requesterJobId` (DeleteArtifact), an upload still in progress from another job is
       * left alone: `overwrite` is delete-then-create, and a racing overwrite must not destroy the
       * other upload mid-way (its own create is then refused instead, P42). The requester's own
       * unfinalized upload (a create whose answer was lost) and abandoned ones are deleted.
       */
      async remove(runId, name, requesterJobId) {
        return this.#locks.run(nameKey(runId, name), async () => {
          const at = this.#now();
          const all = this.#find(runId, name);
          const records = all.filter(
            (r) => r.finalized !== null || requesterJobId === void 0 || r.jobId === requesterJobId || at - this.#lastActivity(r) >= this.#leaseMs
          );
          const spared = all.find((r) => !records.includes(r));
          if (records.length === 0 && spared) throw this.#busy(spared, at);
          for (const record of records) await this.#forget(record);
          return records.find((r) => r.finalized) ?? records.at(-1);
        });
      }
      /** Deletes a finalized artifact by id; `undefined` if there is none. */
      async removeById(id) {
        const record = this.get(id);
        if (!record) return void 0;
        return this.#locks.run(nameKey(record.runId, record.name), async () => {
          const current = this.get(id);
          if (current) await this.#forget(current);
          return current;
        });
      }
      /**
       * False once the artifact is finalized (or gone): its blob must not change any more. The blob
       * routes ask before every write, so a true answer also renews the upload's lease (see create).
       */
      isWritable(blobId) {
        const record = this.#byBlob.get(blobId);
        const writable = record !== void 0 && record.finalized === null;
        if (writable) this.#activity.set(blobId, this.#now());
        return writable;
      }
      /**
       * Per-run caps: artifacts (every record counts, finalized or not) and live uploads. 403 with
       * "limit" in the message: clients report a quota, and do not retry it.
       */
      #checkRunLimits(runId, at) {
        const inRun = [...this.#byId.values()].filter((r) => r.runId === runId);
        const { maxArtifactsPerRun, maxLiveUploadsPerRun } = this.#limits;
        if (inRun.filter((r) => r.finalized !== null).length >= maxArtifactsPerRun) {
          throw new TwirpError(
            "permission_denied",
            `workflow run already has ${maxArtifactsPerRun} artifacts, the limit of this server (maxArtifactsPerRun)`
          );
        }
        const live = inRun.filter((r) => r.finalized === null && at - this.#lastActivity(r) < this.#leaseMs);
        if (live.length >= maxLiveUploadsPerRun) {
          throw new TwirpError(
            "permission_denied",
            `workflow run already has ${maxLiveUploadsPerRun} uploads in progress, the limit of this server (maxLiveUploadsPerRun); finalize or abandon some first`
          );
        }
      }
      /** The 409 for a name held by an upload in progress: who holds it, and when it would lapse. */
      #busy(record, at) {
        const idle = Math.max(0, Math.round((at - this.#lastActivity(record)) / 1e3));
        return new TwirpError(
          "already_exists",
          `an artifact with this name is already being uploaded on the workflow run (by job ${JSON.stringify(record.jobId)}, last activity ${idle} s ago); it counts as abandoned once idle for ${Math.round(this.#leaseMs / 1e3)} s`
        );
      }
      /**
       * When an unfinalized artifact last saw activity in this process. One loaded from disk (left
       * by an earlier process that crashed or was restarted) has none: it is not live (see
       * DEFAULT_UPLOAD_LEASE_MS) until its uploader writes to it again.
       */
      #lastActivity(record) {
        return this.#activity.get(record.blobId) ?? Number.NEGATIVE_INFINITY;
      }
      /** Records of one (run, name), oldest first. */
      #find(runId, name) {
        return [...this.#byId.values()].filter((r) => r.runId === runId && r.name === name).sort((a, b) => a.id - b.id);
      }
      /** Called once the record is durable, before the request is answered. */
      #remember(record) {
        this.#byId.set(record.id, record);
        this.#byBlob.set(record.blobId, record);
        if (record.finalized) this.#listing?.apply({ put: record });
      }
      /** Metadata first, then bytes: a crash in between leaves an orphan blob, which startup removes. */
      async #forget(record) {
        await rm9(this.#layout.artifactFile(record.id), { force: true });
        this.#listing?.apply({ remove: String(record.id) });
        this.#byId.delete(record.id);
        this.#byBlob.delete(record.blobId);
        this.#activity.delete(record.blobId);
        await this.#blobs.remove(record.blobId);
      }
    };
  }
});

// src/server/results/azure/small-json.ts
async function readSmallJson(blob, time, maxBytes = MAX_STATE_BYTES) {
  try {
    return await time("read_record", async () => {
      const answer = await blob.download(0, maxBytes + 1);
      const chunks = [];
      let total = 0;
      for await (const chunk of answer.readableStreamBody ?? []) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        total += bytes.length;
        if (total > maxBytes) throw new Error(`state blob ${blob.name} is larger than ${maxBytes} bytes`);
        chunks.push(bytes);
      }
      return {
        value: JSON.parse(Buffer.concat(chunks).toString("utf8")),
        etag: answer.etag ?? ""
      };
    });
  } catch (error2) {
    if (isMissing(error2)) return void 0;
    throw error2;
  }
}
async function writeSmallJson(blob, time, operation, value, options = {}) {
  const body = JSON.stringify(value);
  await time(
    operation,
    () => blob.upload(body, Buffer.byteLength(body), {
      ...options.conditions ? { conditions: options.conditions } : {},
      blobHTTPHeaders: { blobContentType: "application/json" },
      ...options.metadataKey ? { metadata: { [options.metadataKey]: Buffer.from(body).toString("base64") } } : {}
    })
  );
}
function statusOf(error2) {
  const status = error2?.statusCode;
  return typeof status === "number" ? status : void 0;
}
function isMissing(error2) {
  return statusOf(error2) === 404;
}
function isConflict(error2) {
  const status = statusOf(error2);
  return status === 409 || status === 412;
}
function hex(text) {
  return Buffer.from(text, "utf8").toString("hex");
}
function decodeMetaRecord(value, maxLength, isValid) {
  if (value === void 0 || value.length > maxLength) return void 0;
  try {
    const parsed = JSON.parse(Buffer.from(value, "base64").toString("utf8"));
    return isValid(parsed) ? parsed : void 0;
  } catch {
    return void 0;
  }
}
var MAX_STATE_BYTES;
var init_small_json = __esm({
  "src/server/results/azure/small-json.ts"() {
    "use strict";
    MAX_STATE_BYTES = 64 * 1024;
  }
});

// src/server/results/azure/id-counter.ts
var MAX_ATTEMPTS, AzureIdCounter;
var init_id_counter2 = __esm({
  "src/server/results/azure/id-counter.ts"() {
    "use strict";
    init_small_json();
    MAX_ATTEMPTS = 50;
    AzureIdCounter = class {
      #blob;
      #time;
      constructor(blob, time) {
        this.#blob = blob;
        this.#time = time;
      }
      async allocate() {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const current = await readSmallJson(this.#blob, this.#time);
          const last = current?.value?.last;
          const next = (typeof last === "number" && Number.isSafeInteger(last) ? last : 0) + 1;
          const body = JSON.stringify({ last: next });
          try {
            await this.#time(
              "write_record",
              () => this.#blob.upload(body, Buffer.byteLength(body), {
                conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: "*" }
              })
            );
            return next;
          } catch (error2) {
            if (!isConflict(error2)) throw error2;
            await new Promise((resolve2) => setTimeout(resolve2, Math.random() * 20 * (attempt + 1)));
          }
        }
        throw new Error(`could not allocate an artifact id after ${MAX_ATTEMPTS} concurrent attempts`);
      }
    };
  }
});

// src/server/results/azure/run-blob-sweep.ts
function recount(counts, ids, now) {
  const live = { ...counts.live };
  for (const [blobId, entry] of Object.entries(live)) {
    if (ids.finalized.has(blobId) || entry.until <= now && !ids.all.has(blobId)) delete live[blobId];
  }
  const finalized = ids.finalized.size;
  if (finalized === counts.finalized && Object.keys(live).length === Object.keys(counts.live).length) {
    return void 0;
  }
  return { ...counts, finalized, live };
}
var RunBlobSweep;
var init_run_blob_sweep = __esm({
  "src/server/results/azure/run-blob-sweep.ts"() {
    "use strict";
    init_small_json();
    RunBlobSweep = class {
      #container;
      #prefix;
      #runs;
      #options;
      /** Disagreements seen by the last pass, by run: corrected when the next pass sees the same. */
      #seen = /* @__PURE__ */ new Map();
      constructor(container, prefix, runs, options) {
        this.#container = container;
        this.#prefix = prefix;
        this.#runs = runs;
        this.#options = options;
      }
      /** One pass; `listRecords` lists every run's records (after the states are listed, see above). */
      async sweep(listRecords) {
        const report = { corrections: 0, deleted: 0 };
        const stateRuns = await this.#runIds("run-state/");
        const snapshotRuns = await this.#runIds("run-listing/");
        const tagged = /* @__PURE__ */ new Map();
        for (const runId of stateRuns) {
          const found = await this.#runs.readTagged(runId).catch(() => void 0);
          if (found) tagged.set(runId, found);
        }
        const records = await listRecords();
        const seen = /* @__PURE__ */ new Map();
        for (const [runId, { counts, etag }] of tagged) {
          const ids = records.get(runId) ?? { all: /* @__PURE__ */ new Set(), finalized: /* @__PURE__ */ new Set() };
          const now = this.#options.now();
          if (ids.all.size === 0 && Object.values(counts.live).every((entry) => entry.until <= now)) {
            if (await this.#runs.deleteIf(runId, etag)) {
              report.deleted++;
              if (await this.#deleteSnapshot(runId)) report.deleted++;
            }
            continue;
          }
          const next = recount(counts, ids, now);
          if (!next) continue;
          const fingerprint = JSON.stringify([counts.epoch, counts.changes, counts.finalized, next]);
          if (this.#seen.get(runId) === fingerprint) {
            if (await this.#runs.replaceIf(runId, next, etag)) report.corrections++;
          } else {
            seen.set(runId, fingerprint);
          }
        }
        this.#seen = seen;
        for (const runId of snapshotRuns) {
          if (stateRuns.has(runId) || records.has(runId)) continue;
          if (await this.#deleteSnapshot(runId)) report.deleted++;
        }
        return report;
      }
      /** Run ids of the blobs under `folder` (hex names; any other name is not ours and is skipped). */
      async #runIds(folder) {
        const prefix = `${this.#prefix}${folder}`;
        const ids = /* @__PURE__ */ new Set();
        await this.#options.time("list_run_blobs", async () => {
          for await (const blob of this.#container.listBlobsFlat({ prefix })) {
            const name = blob.name.slice(prefix.length);
            if (!/^(?:[0-9a-f]{2})+$/.test(name)) continue;
            const runId = Buffer.from(name, "hex").toString("utf8");
            if (hex(runId) === name) ids.add(runId);
          }
        });
        return ids;
      }
      async #deleteSnapshot(runId) {
        const answer = await this.#options.time(
          "delete_blob",
          () => this.#container.getBlockBlobClient(`${this.#prefix}run-listing/${hex(runId)}`).deleteIfExists()
        );
        return answer.succeeded;
      }
    };
  }
});

// src/server/results/azure/run-list-cache.ts
var RUN_LIST_LIFETIME_MS, MAX_CACHED_RECORDS, RunListCache;
var init_run_list_cache = __esm({
  "src/server/results/azure/run-list-cache.ts"() {
    "use strict";
    RUN_LIST_LIFETIME_MS = 5 * 60 * 1e3;
    MAX_CACHED_RECORDS = 5e4;
    RunListCache = class {
      #entries = /* @__PURE__ */ new Map();
      #now;
      #records = 0;
      constructor(now) {
        this.#now = now;
      }
      /**
       * The run's finalized records at the state's change number, or undefined: read them whole.
       * `stale` says the listing is older than RUN_LIST_LIFETIME_MS: answer from it, and read the run
       * whole in the background.
       */
      get(runId, state) {
        const entry = this.#entries.get(runId);
        if (!entry) return void 0;
        const reaches = entry.changes === state.changes || state.log.some((c) => c.seq === entry.changes + 1);
        if (entry.epoch !== (state.epoch ?? "") || entry.changes > state.changes || !reaches) {
          this.#drop(runId, entry);
          return void 0;
        }
        const stale = this.#now() - entry.at >= RUN_LIST_LIFETIME_MS * 0.9;
        if (entry.changes === state.changes) return { records: entry.records, stale };
        const byId = new Map(entry.records.map((r) => [r.id, r]));
        for (const change of state.log) {
          if (change.seq <= entry.changes) continue;
          if ("record" in change) byId.set(change.record.id, change.record);
          else byId.delete(change.removedId);
        }
        const records = [...byId.values()].sort((a, b) => a.id - b.id);
        this.#records += records.length - entry.records.length;
        entry.records = records;
        entry.changes = state.changes;
        return { records, stale };
      }
      /**
       * Remembers a listing read whole after the run state was read at change number `changes` of
       * `epoch`; `at` is when that whole read happened (a snapshot's, when it comes from one).
       */
      set(runId, changes, records, at = this.#now(), epoch = "") {
        const previous = this.#entries.get(runId);
        if (previous) this.#drop(runId, previous);
        if (records.length > MAX_CACHED_RECORDS) return;
        this.#entries.set(runId, { epoch, changes, at, records });
        this.#records += records.length;
        for (const [oldRun, oldEntry] of this.#entries) {
          if (this.#records <= MAX_CACHED_RECORDS) break;
          this.#drop(oldRun, oldEntry);
        }
      }
      #drop(runId, entry) {
        this.#entries.delete(runId);
        this.#records -= entry.records.length;
      }
    };
  }
});

// src/server/results/azure/run-listing-snapshot.ts
var MAX_SNAPSHOT_BYTES, RunListingSnapshots;
var init_run_listing_snapshot = __esm({
  "src/server/results/azure/run-listing-snapshot.ts"() {
    "use strict";
    init_artifact_index();
    init_small_json();
    MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;
    RunListingSnapshots = class {
      #blob;
      #time;
      #now;
      constructor(blob, options) {
        this.#blob = blob;
        this.#time = options.time;
        this.#now = options.now;
      }
      /** The run's snapshot, or undefined when there is none or it is not well formed. */
      async read(runId) {
        const found = await readSmallJson(this.#blob(runId), this.#time, MAX_SNAPSHOT_BYTES).catch(
          () => void 0
        );
        const value = found?.value;
        if (!Number.isSafeInteger(value?.changes) || !Number.isFinite(value?.at) || !Array.isArray(value?.records) || !value.records.every((r) => isArtifact(r) && r.runId === runId && r.finalized !== null)) {
          return void 0;
        }
        const epoch = value.epoch;
        return { ...value, epoch: typeof epoch === "string" ? epoch : "" };
      }
      async write(runId, epoch, changes, records) {
        const body = Buffer.from(JSON.stringify({ epoch, changes, at: this.#now(), records }));
        if (body.length > MAX_SNAPSHOT_BYTES) return;
        await this.#time(
          "write_listing_snapshot",
          () => this.#blob(runId).upload(body, body.length, {
            blobHTTPHeaders: { blobContentType: "application/json" }
          })
        );
      }
    };
  }
});

// src/server/results/azure/run-state.ts
import { randomBytes as randomBytes11 } from "node:crypto";
function logChange(counts, change) {
  counts.changes++;
  counts.log.push(change(counts.changes));
  if (counts.log.length > LOG_LENGTH) counts.log.splice(0, counts.log.length - LOG_LENGTH);
}
function parseCounts(value) {
  const raw = value;
  const epoch = typeof raw?.epoch === "string" && /^[0-9a-f]{1,32}$/.test(raw.epoch) ? raw.epoch : "";
  const finalized = typeof raw?.finalized === "number" && Number.isSafeInteger(raw.finalized) && raw.finalized > 0 ? raw.finalized : 0;
  const live = {};
  if (typeof raw?.live === "object" && raw.live !== null) {
    for (const [blobId, entry] of Object.entries(raw.live)) {
      const { name, until } = entry ?? {};
      if (typeof name === "string" && typeof until === "number") live[blobId] = { name, until };
    }
  }
  const changes = typeof raw?.changes === "number" && Number.isSafeInteger(raw.changes) && raw.changes > 0 ? raw.changes : 0;
  const log = [];
  for (const entry of Array.isArray(raw?.log) ? raw.log : []) {
    const change = entry;
    if (typeof change?.seq !== "number") continue;
    if (isArtifact(change.record)) log.push({ seq: change.seq, record: change.record });
    else if (typeof change.removedId === "number") log.push({ seq: change.seq, removedId: change.removedId });
  }
  return { epoch, finalized, live, changes, log };
}
var LOG_LENGTH, MAX_ATTEMPTS2, MAX_RUN_STATE_BYTES, AzureRunState;
var init_run_state = __esm({
  "src/server/results/azure/run-state.ts"() {
    "use strict";
    init_artifact_index();
    init_twirp_errors();
    init_small_json();
    LOG_LENGTH = 32;
    MAX_ATTEMPTS2 = 50;
    MAX_RUN_STATE_BYTES = 4 * 1024 * 1024;
    AzureRunState = class {
      #blobOf;
      #time;
      #limits;
      #now;
      constructor(blobOf, options) {
        this.#blobOf = blobOf;
        this.#time = options.time;
        this.#limits = options.limits;
        this.#now = options.now;
      }
      /**
       * Takes a live-upload slot for a new upload after checking both per-run limits (403 with
       * "limit" in the message, as the filesystem store answers). `replaces` is the blob id of a
       * lapsed upload of the same name that the new one replaces: its slot is given back in the same
       * write. `settle` tells what a lapsed entry has become (see UploadFate).
       */
      async reserve(runId, upload, replaces, settle) {
        const fates = /* @__PURE__ */ new Map();
        await this.#update(runId, async (counts) => {
          const now = this.#now();
          for (const [blobId, entry] of Object.entries(counts.live)) {
            if (blobId === replaces) {
              delete counts.live[blobId];
              continue;
            }
            if (entry.until > now) continue;
            let fate = fates.get(blobId);
            if (!fate) {
              fate = await settle(blobId, entry);
              fates.set(blobId, fate);
            }
            if (fate.state === "live") {
              entry.until = fate.until;
            } else {
              delete counts.live[blobId];
              if (fate.state === "finalized") counts.finalized++;
            }
          }
          const { maxArtifactsPerRun, maxLiveUploadsPerRun } = this.#limits;
          if (counts.finalized >= maxArtifactsPerRun) {
            throw new TwirpError(
              "permission_denied",
              `workflow run already has ${maxArtifactsPerRun} artifacts, the limit of this server (maxArtifactsPerRun)`
            );
          }
          if (Object.keys(counts.live).length >= maxLiveUploadsPerRun) {
            throw new TwirpError(
              "permission_denied",
              `workflow run already has ${maxLiveUploadsPerRun} uploads in progress, the limit of this server (maxLiveUploadsPerRun); finalize or abandon some first`
            );
          }
          counts.live[upload.blobId] = { name: upload.name, until: upload.until };
          return true;
        });
      }
      /**
       * A finalized upload: its slot becomes one finalized artifact (once, however often repeated).
       * `fresh` is the finalize that sealed the record: it always marks the run changed, even when the
       * slot was already settled, so no instance keeps listing the run without it.
       */
      async finalized(runId, record, fresh) {
        await this.#update(runId, (counts) => {
          if (!counts.live[record.blobId] && !fresh) return false;
          if (counts.live[record.blobId]) {
            delete counts.live[record.blobId];
            counts.finalized++;
          }
          logChange(counts, (seq) => ({ seq, record }));
          return true;
        });
      }
      /** An upload that will not be finalized (its create failed, or it was deleted): frees its slot. */
      async released(runId, blobId) {
        await this.#update(runId, (counts) => {
          if (!counts.live[blobId]) return false;
          delete counts.live[blobId];
          return true;
        });
      }
      /** A finalized artifact deleted (DeleteArtifact, the retention sweep, eviction). */
      async removedFinalized(runId, id) {
        await this.#update(runId, (counts) => {
          counts.finalized = Math.max(0, counts.finalized - 1);
          logChange(counts, (seq) => ({ seq, removedId: id }));
          return true;
        });
      }
      /** The run's counts and change log as stored now (an empty state for a run that has none). */
      async read(runId) {
        const found = await readSmallJson(this.#blobOf(runId), this.#time, MAX_RUN_STATE_BYTES);
        return parseCounts(found?.value);
      }
      /** The run's state and its ETag, for a conditional replace or delete; undefined when there is none. */
      async readTagged(runId) {
        const found = await readSmallJson(this.#blobOf(runId), this.#time, MAX_RUN_STATE_BYTES);
        return found ? { counts: parseCounts(found.value), etag: found.etag } : void 0;
      }
      /** Writes `counts` if the state is still at `etag`; false when it changed meanwhile. */
      async replaceIf(runId, counts, etag) {
        try {
          await writeSmallJson(this.#blobOf(runId), this.#time, "write_run_state", counts, {
            conditions: { ifMatch: etag }
          });
          return true;
        } catch (error2) {
          if (isConflict(error2) || isMissing(error2)) return false;
          throw error2;
        }
      }
      /** Deletes the state if it is still at `etag` (no create reserved a slot since); false otherwise. */
      async deleteIf(runId, etag) {
        try {
          await this.#time(
            "delete_run_state",
            () => this.#blobOf(runId).delete({ conditions: { ifMatch: etag } })
          );
          return true;
        } catch (error2) {
          if (isConflict(error2) || isMissing(error2)) return false;
          throw error2;
        }
      }
      /**
       * Read, change, write back with the ETag read; a lost race re-reads and re-applies. `change`
       * returns false when there is nothing to write.
       */
      async #update(runId, change) {
        const blob = this.#blobOf(runId);
        for (let attempt = 0; attempt < MAX_ATTEMPTS2; attempt++) {
          const current = await readSmallJson(blob, this.#time, MAX_RUN_STATE_BYTES);
          const counts = parseCounts(current?.value);
          if (!current) counts.epoch = randomBytes11(8).toString("hex");
          if (!await change(counts)) return;
          try {
            await writeSmallJson(blob, this.#time, "write_run_state", counts, {
              conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: "*" }
            });
            return;
          } catch (error2) {
            if (!isConflict(error2)) throw error2;
            await new Promise((resolve2) => setTimeout(resolve2, Math.random() * 10 * (attempt + 1)));
          }
        }
        throw new Error(`could not update the state of workflow run after ${MAX_ATTEMPTS2} concurrent attempts`);
      }
    };
  }
});

// src/server/results/azure/azure-records.ts
import { randomBytes as randomBytes12 } from "node:crypto";
function decodeMeta(value) {
  return decodeMetaRecord(value, 16384, (parsed) => isArtifact(parsed));
}
function publicRecord(record) {
  const { leaseUntil: _lease, ...rest } = record;
  return rest;
}
function alreadyExists() {
  return new TwirpError("already_exists", "an artifact with this name already exists on the workflow run");
}
function checkContent2(input, size, digest2) {
  if (input.size !== void 0 && input.size !== size) {
    throw new TwirpError(
      "invalid_argument",
      `size ${input.size} does not match the ${size} bytes committed for artifact ${JSON.stringify(input.name)}`
    );
  }
  if (digest2 && input.hash !== void 0 && input.hash.toLowerCase() !== digest2) {
    throw new TwirpError(
      "invalid_argument",
      `hash ${input.hash} does not match the digest recorded for artifact ${JSON.stringify(input.name)}, ${digest2}`
    );
  }
}
var DIGEST3, RECORD_META, AzureRecords;
var init_azure_records = __esm({
  "src/server/results/azure/azure-records.ts"() {
    "use strict";
    init_artifact_index();
    init_twirp_errors();
    init_id_counter2();
    init_run_blob_sweep();
    init_run_list_cache();
    init_run_listing_snapshot();
    init_run_state();
    init_small_json();
    DIGEST3 = /^sha256:[0-9a-f]{64}$/i;
    RECORD_META = "ferryrecord";
    AzureRecords = class {
      #container;
      #prefix;
      #ids;
      #runs;
      #listings;
      #snapshots;
      #tidy;
      /** Runs whose listing is being re-read in the background. */
      #rewarming = /* @__PURE__ */ new Set();
      #options;
      #leaseMs;
      #now;
      constructor(container, prefix, options) {
        this.#container = container;
        this.#prefix = prefix;
        this.#options = options;
        this.#leaseMs = options.uploadLeaseMs ?? DEFAULT_UPLOAD_LEASE_MS;
        this.#now = options.now ?? Date.now;
        this.#ids = new AzureIdCounter(container.getBlockBlobClient(`${prefix}ids/counter`), options.time);
        this.#runs = new AzureRunState(
          (runId) => container.getBlockBlobClient(`${prefix}run-state/${hex(runId)}`),
          { time: options.time, limits: options.limits, now: this.#now }
        );
        this.#listings = new RunListCache(this.#now);
        this.#tidy = new RunBlobSweep(container, prefix, this.#runs, { time: options.time, now: this.#now });
        this.#snapshots = new RunListingSnapshots(
          (runId) => container.getBlockBlobClient(`${prefix}run-listing/${hex(runId)}`),
          { time: options.time, now: this.#now }
        );
      }
      /** The blob an artifact's bytes live in. */
      dataBlobName(blobId) {
        return `${this.#prefix}blobs/${blobId}`;
      }
      async create(input) {
        const key = this.#recordBlob(input.runId, input.name);
        const existing = await this.#read(input.runId, input.name);
        let replace;
        if (existing) {
          if (existing.record.finalized) throw alreadyExists();
          const lapsesAt = await this.#leaseEnd(existing.record);
          if (this.#now() < lapsesAt) throw this.#busy(existing.record);
          replace = existing.etag;
        }
        const blobId = randomBytes12(16).toString("hex");
        const leaseUntil = this.#now() + this.#leaseMs;
        await this.#runs.reserve(
          input.runId,
          { blobId, name: input.name, until: leaseUntil },
          existing?.record.blobId,
          (liveBlobId, entry) => this.#fate(input.runId, liveBlobId, entry)
        );
        try {
          return await this.#createReserved(input, key, blobId, leaseUntil, existing, replace);
        } catch (error2) {
          await this.#runs.released(input.runId, blobId).catch(() => {
          });
          throw error2;
        }
      }
      async #createReserved(input, key, blobId, leaseUntil, existing, replace) {
        const id = await this.#ids.allocate();
        const now = new Date(this.#now()).toISOString();
        const record = {
          id,
          runId: input.runId,
          jobId: input.jobId,
          name: input.name,
          blobId,
          mimeType: input.mimeType,
          version: input.version,
          createdAt: now,
          updatedAt: now,
          expiresAt: input.expiresAt.toISOString(),
          finalized: null,
          leaseUntil
        };
        await this.#write(
          `${this.#prefix}ids/${id}`,
          { runId: input.runId, name: input.name },
          { ifNoneMatch: "*" }
        );
        try {
          await this.#write(key, record, replace ? { ifMatch: replace } : { ifNoneMatch: "*" }, true);
        } catch (error2) {
          await this.#deleteQuietly(`${this.#prefix}ids/${id}`);
          if (isConflict(error2)) throw alreadyExists();
          throw error2;
        }
        if (existing) await this.#deleteArtifactFiles(existing.record);
        return publicRecord(record);
      }
      async finalize(input) {
        if (input.hash !== void 0 && !DIGEST3.test(input.hash)) {
          throw new TwirpError(
            "invalid_argument",
            `hash must be "sha256:" followed by 64 hex digits, got ${JSON.stringify(input.hash.slice(0, 100))}`
          );
        }
        const found = await this.#read(input.runId, input.name);
        if (!found) {
          throw new TwirpError(
            "not_found",
            `No artifact named ${JSON.stringify(input.name)} was created in workflow run ${JSON.stringify(input.runId)}`
          );
        }
        const { record, etag } = found;
        if (record.finalized) {
          checkContent2(input, record.finalized.size, record.finalized.digest);
          await this.#runs.finalized(record.runId, publicRecord(record), false);
          return publicRecord(record);
        }
        const size = await this.#committedSize(record.blobId);
        if (size === void 0) {
          throw new TwirpError(
            "failed_precondition",
            `Artifact ${JSON.stringify(input.name)} has no committed blob yet: upload it (Put Block List or Put Blob) before FinalizeArtifact`
          );
        }
        checkContent2(input, size, void 0);
        const now = new Date(this.#now()).toISOString();
        const next = {
          ...publicRecord(record),
          updatedAt: now,
          finalized: { size, digest: input.hash?.toLowerCase() ?? "", at: now }
        };
        try {
          await this.#write(this.#recordBlob(input.runId, input.name), next, { ifMatch: etag }, true);
        } catch (error2) {
          if (isConflict(error2)) return this.finalize(input);
          throw error2;
        }
        await this.#runs.finalized(next.runId, publicRecord(next), true);
        return publicRecord(next);
      }
      async list(filter) {
        const all = filter.runId === void 0 ? await this.#readFinalized(void 0) : await this.#listRun(filter.runId);
        return all.filter(
          (r) => (filter.name === void 0 || r.name === filter.name) && (filter.id === void 0 || r.id === filter.id)
        );
      }
      /**
       * A run's finalized records: from this instance's cache, brought up to date from the run
       * state's change log (one small GET), or read from the container when the log no longer
       * reaches back to the cache. The state is read before the records, so a change racing the read
       * is applied again from the log by the next list (idempotently: by id).
       */
      async #listRun(runId) {
        const state = await this.#runs.read(runId);
        const cached = this.#listings.get(runId, state);
        if (cached?.stale) this.#rewarm(runId);
        if (cached) return cached.records;
        const snapshot = await this.#snapshots.read(runId);
        if (snapshot) {
          this.#listings.set(runId, snapshot.changes, snapshot.records, snapshot.at, snapshot.epoch);
          const fromSnapshot = this.#listings.get(runId, state);
          if (fromSnapshot?.stale) this.#rewarm(runId);
          if (fromSnapshot) return fromSnapshot.records;
        }
        this.#options.log?.(
          "warn",
          `listing run ${runId}: no up-to-date listing snapshot in the container, reading the run's records whole (once; later lists use the snapshot and the change log)`
        );
        return this.#readWhole(runId, state);
      }
      /** Reads a run's records whole, caches them and writes the snapshot cold instances start from. */
      async #readWhole(runId, state) {
        const records = await this.#readFinalized(runId);
        this.#listings.set(runId, state.changes, records, void 0, state.epoch);
        await this.#snapshots.write(runId, state.epoch, state.changes, records).catch(() => void 0);
        return records;
      }
      /** Reads a run whole in the background (one at a time per run); a failure leaves the old listing. */
      #rewarm(runId) {
        if (this.#rewarming.has(runId)) return;
        this.#rewarming.add(runId);
        void (async () => {
          const state = await this.#runs.read(runId);
          await this.#readWhole(runId, state);
        })().catch(() => {
        }).finally(() => this.#rewarming.delete(runId));
      }
      /** Every finalized record of a run (or of the store), oldest first: one List Blobs call per 5,000. */
      async #readFinalized(runId) {
        const found = [];
        await this.#eachRecord(runId === void 0 ? "" : `${hex(runId)}/`, (_name, record) => {
          if (record?.finalized) found.push(publicRecord(record));
        });
        return found.sort((a, b) => a.id - b.id);
      }
      /** The retention sweep's care of the per-run blobs (see RunBlobSweep). */
      tidy() {
        return this.#tidy.sweep(() => this.#blobIdsByRun());
      }
      /** Every record's blob id by run, finalized or not: one List Blobs call per 5,000 records. */
      async #blobIdsByRun() {
        const runs = /* @__PURE__ */ new Map();
        await this.#eachRecord("", (name, record) => {
          const runHex = name.slice(`${this.#prefix}runs/`.length).split("/")[0] ?? "";
          const runId = record?.runId ?? Buffer.from(runHex, "hex").toString("utf8");
          let ids = runs.get(runId);
          if (!ids) runs.set(runId, ids = { all: /* @__PURE__ */ new Set(), finalized: /* @__PURE__ */ new Set() });
          ids.all.add(record?.blobId ?? name);
          if (record?.finalized) ids.finalized.add(record.blobId);
        });
        return runs;
      }
      /**
       * Every record blob under `runs/<under>` with the record its metadata carries (undefined when
       * it cannot be read): one List Blobs call per 5,000 records.
       */
      async #eachRecord(under, visit) {
        const prefix = `${this.#prefix}runs/${under}`;
        await this.#options.time("list_records", async () => {
          for await (const item of this.#container.listBlobsFlat({ prefix, includeMetadata: true })) {
            visit(item.name, decodeMeta(item.metadata?.[RECORD_META]));
          }
        });
      }
      async get(id) {
        if (!Number.isSafeInteger(id) || id < 1) return void 0;
        const pointer = await readSmallJson(
          this.#container.getBlockBlobClient(`${this.#prefix}ids/${id}`),
          this.#options.time
        );
        const target = pointer?.value;
        if (typeof target?.runId !== "string" || typeof target.name !== "string") return void 0;
        const found = await this.#read(target.runId, target.name);
        return found?.record.id === id && found.record.finalized ? publicRecord(found.record) : void 0;
      }
      async remove(runId, name, requesterJobId) {
        const found = await this.#read(runId, name);
        if (!found) return void 0;
        const { record } = found;
        if (!record.finalized && requesterJobId !== void 0 && record.jobId !== requesterJobId && this.#now() < await this.#leaseEnd(record)) {
          throw this.#busy(record);
        }
        return this.#removeFound(found);
      }
      async removeById(id) {
        const record = await this.get(id);
        if (!record) return void 0;
        const found = await this.#read(record.runId, record.name);
        return found?.record.id === id ? this.#removeFound(found) : void 0;
      }
      close() {
      }
      /** Record first (conditionally: whoever deletes it first owns the deletion), then the rest. */
      async #removeFound(found) {
        try {
          await this.#options.time(
            "delete_record",
            () => this.#container.getBlockBlobClient(this.#recordBlob(found.record.runId, found.record.name)).delete({ conditions: { ifMatch: found.etag } })
          );
        } catch (error2) {
          if (isConflict(error2) || isMissing(error2)) return void 0;
          throw error2;
        }
        if (found.record.finalized) await this.#runs.removedFinalized(found.record.runId, found.record.id);
        else await this.#runs.released(found.record.runId, found.record.blobId);
        await this.#deleteArtifactFiles(found.record);
        return publicRecord(found.record);
      }
      async #deleteArtifactFiles(record) {
        await this.#deleteQuietly(this.dataBlobName(record.blobId));
        await this.#deleteQuietly(`${this.#prefix}ids/${record.id}`);
      }
      async #deleteQuietly(name) {
        await this.#options.time("delete_blob", () => this.#container.getBlockBlobClient(name).deleteIfExists());
      }
      /**
       * When the upload's hold on the name lapses: its lease, renewed by any write the client made
       * to the blob (a block list commit moves the blob's Last-Modified; staged blocks alone do not).
       */
      async #leaseEnd(record) {
        const base = record.leaseUntil ?? Date.parse(record.updatedAt) + this.#leaseMs;
        try {
          const props = await this.#options.time(
            "blob_properties",
            () => this.#container.getBlockBlobClient(this.dataBlobName(record.blobId)).getProperties()
          );
          const modified = props.lastModified?.getTime() ?? 0;
          return Math.max(base, modified + this.#leaseMs);
        } catch (error2) {
          if (isMissing(error2)) return base;
          throw error2;
        }
      }
      async #committedSize(blobId) {
        try {
          const props = await this.#options.time(
            "blob_properties",
            () => this.#container.getBlockBlobClient(this.dataBlobName(blobId)).getProperties()
          );
          return props.contentLength ?? 0;
        } catch (error2) {
          if (isMissing(error2)) return void 0;
          throw error2;
        }
      }
      /** What a live upload whose lease lapsed in the run state has become (see UploadFate). */
      async #fate(runId, blobId, entry) {
        const found = await this.#read(runId, entry.name);
        if (found?.record.blobId !== blobId) return { state: "gone" };
        if (found.record.finalized) return { state: "finalized" };
        const until = await this.#leaseEnd(found.record);
        return until > this.#now() ? { state: "live", until } : { state: "gone" };
      }
      #busy(record) {
        return new TwirpError(
          "already_exists",
          `an artifact with this name is already being uploaded on the workflow run (by job ${JSON.stringify(record.jobId)}); it counts as abandoned once idle for ${Math.round(this.#leaseMs / 1e3)} s`
        );
      }
      #recordBlob(runId, name) {
        return `${this.#prefix}runs/${hex(runId)}/${hex(name)}`;
      }
      async #read(runId, name) {
        const found = await readSmallJson(
          this.#container.getBlockBlobClient(this.#recordBlob(runId, name)),
          this.#options.time
        );
        if (!found || !isArtifact(found.value)) return void 0;
        return { record: found.value, etag: found.etag };
      }
      async #write(name, value, conditions, withMeta = false) {
        await writeSmallJson(
          this.#container.getBlockBlobClient(name),
          this.#options.time,
          "write_record",
          value,
          {
            conditions,
            ...withMeta ? { metadataKey: RECORD_META } : {}
          }
        );
      }
    };
  }
});

// src/server/results/azure/azure-runs.ts
function decodeMeta2(value) {
  return decodeMetaRecord(value, MAX_RUN_META, isRun);
}
function isRun(value) {
  const run = value;
  return typeof run === "object" && run !== null && typeof run.id === "string" && typeof run.path === "string" && typeof run.headBranch === "string" && typeof run.createdAt === "string" && typeof run.status === "string";
}
var MAX_ATTEMPTS3, RUN_META, MAX_RUN_META, AzureRunRegistry;
var init_azure_runs = __esm({
  "src/server/results/azure/azure-runs.ts"() {
    "use strict";
    init_run_registry();
    init_small_json();
    MAX_ATTEMPTS3 = 50;
    RUN_META = "ferryrun";
    MAX_RUN_META = 16384;
    AzureRunRegistry = class {
      #container;
      #prefix;
      #time;
      constructor(container, prefix, time) {
        this.#container = container;
        this.#prefix = `${prefix}workflow-runs/`;
        this.#time = time;
      }
      async record(id, fields, now) {
        const blob = this.#container.getBlockBlobClient(`${this.#prefix}${hex(id)}`);
        for (let attempt = 0; attempt < MAX_ATTEMPTS3; attempt++) {
          const current = await readSmallJson(blob, this.#time);
          const run = mergeRun(id, isRun(current?.value) ? current.value : void 0, fields, now);
          try {
            await writeSmallJson(blob, this.#time, "write_record", run, {
              conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: "*" },
              metadataKey: RUN_META
            });
            return run;
          } catch (error2) {
            if (!isConflict(error2)) throw error2;
            await new Promise((resolve2) => setTimeout(resolve2, Math.random() * 10 * (attempt + 1)));
          }
        }
        throw new Error(`could not record workflow run after ${MAX_ATTEMPTS3} concurrent attempts`);
      }
      async list(filter) {
        const runs = [];
        await this.#time("list_runs", async () => {
          for await (const item of this.#container.listBlobsFlat({
            prefix: this.#prefix,
            includeMetadata: true
          })) {
            const run = decodeMeta2(item.metadata?.[RUN_META]);
            if (run) runs.push(run);
            if (runs.length >= MAX_RUNS) break;
          }
        });
        return filterRuns(runs, filter);
      }
    };
  }
});

// src/server/results/azure/sweep-lease.ts
import { randomBytes as randomBytes13 } from "node:crypto";
var SWEEP_LEASE_MS, AzureSweepLease;
var init_sweep_lease = __esm({
  "src/server/results/azure/sweep-lease.ts"() {
    "use strict";
    init_small_json();
    SWEEP_LEASE_MS = 10 * 60 * 1e3;
    AzureSweepLease = class {
      #blob;
      #time;
      #holder = randomBytes13(8).toString("hex");
      #now;
      #leaseMs;
      constructor(blob, time, options = {}) {
        this.#blob = blob;
        this.#time = time;
        this.#now = options.now ?? Date.now;
        this.#leaseMs = options.leaseMs ?? SWEEP_LEASE_MS;
      }
      async acquire() {
        const current = await readSmallJson(this.#blob, this.#time);
        const value = current?.value;
        if (current && typeof value?.until === "number" && value.until > this.#now() && value.holder !== this.#holder) {
          return false;
        }
        const body = JSON.stringify({ holder: this.#holder, until: this.#now() + this.#leaseMs });
        try {
          await this.#time(
            "write_record",
            () => this.#blob.upload(body, Buffer.byteLength(body), {
              conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: "*" }
            })
          );
          return true;
        } catch (error2) {
          if (isConflict(error2)) return false;
          throw error2;
        }
      }
      /** Gives the lease up at once (expiry 0), only if it is still ours. */
      async release() {
        const current = await readSmallJson(this.#blob, this.#time);
        if (current?.value?.holder !== this.#holder || !current) return;
        const body = JSON.stringify({ holder: this.#holder, until: 0 });
        try {
          await this.#time(
            "write_record",
            () => this.#blob.upload(body, Buffer.byteLength(body), { conditions: { ifMatch: current.etag } })
          );
        } catch (error2) {
          if (!isConflict(error2) && !isMissing(error2)) throw error2;
        }
      }
    };
  }
});

// src/server/results/azure/azure-store.ts
var azure_store_exports = {};
__export(azure_store_exports, {
  openAzureStore: () => openAzureStore
});
async function openAzureStore(spec, options) {
  const sdk = await import("@azure/storage-blob");
  const credential = new sdk.StorageSharedKeyCredential(spec.account.accountName, spec.account.accountKey);
  const service = new sdk.BlobServiceClient(spec.account.blobEndpoint, credential);
  const container = service.getContainerClient(spec.container);
  if (spec.createContainer) {
    await options.time("create_container", () => container.createIfNotExists());
  } else if (!await options.time("container_exists", () => container.exists())) {
    throw new Error(`the Azure container ${JSON.stringify(spec.container)} does not exist`);
  }
  const records = new AzureRecords(container, spec.prefix, {
    limits: options.limits,
    time: options.time,
    ...options.log ? { log: options.log } : {}
  });
  const sas = (blobId, permissions) => {
    const blobName = records.dataBlobName(blobId);
    const now = Date.now();
    const query = sdk.generateBlobSASQueryParameters(
      {
        containerName: spec.container,
        blobName,
        permissions: sdk.BlobSASPermissions.parse(permissions),
        startsOn: new Date(now - CLOCK_SKEW_MS),
        expiresOn: new Date(now + options.signedUrlTtlMs)
      },
      credential
    ).toString();
    return `${container.getBlockBlobClient(blobName).url}?${query}`;
  };
  return {
    kind: "azure_blob",
    records,
    blobs: {
      uploadUrl: (_baseUrl, record) => sas(record.blobId, "cw"),
      downloadUrl: (_baseUrl, record) => sas(record.blobId, "r"),
      routes: [],
      read: async (record, start, end) => {
        const blob = container.getBlockBlobClient(records.dataBlobName(record.blobId));
        try {
          const response = await options.time("download", () => blob.download(start, end - start + 1));
          return response.readableStreamBody;
        } catch (error2) {
          if (error2.statusCode === 404) return void 0;
          throw error2;
        }
      }
    },
    probe: async () => {
      await container.getProperties();
    },
    sweepLease: new AzureSweepLease(container.getBlockBlobClient(`${spec.prefix}sweep-lease`), options.time),
    runs: new AzureRunRegistry(container, spec.prefix, options.time)
  };
}
var CLOCK_SKEW_MS;
var init_azure_store = __esm({
  "src/server/results/azure/azure-store.ts"() {
    "use strict";
    init_azure_records();
    init_azure_runs();
    init_sweep_lease();
    CLOCK_SKEW_MS = 5 * 60 * 1e3;
  }
});

// src/server/legacy/azure/block-ids.ts
function isSessionId(text) {
  return text !== null && SESSION.test(text);
}
function blockIdOf(session, offset) {
  if (!SESSION.test(session)) throw new RangeError("a block id needs a session id of 24 hex digits");
  const id = Buffer.alloc(ID_BYTES);
  MARKER.copy(id, 0);
  Buffer.from(session, "hex").copy(id, MARKER.length);
  id.writeBigUInt64BE(BigInt(offset), MARKER.length + 12);
  return id.toString("base64");
}
function parseBlockId(blockId2) {
  const id = Buffer.from(blockId2, "base64");
  if (id.length !== ID_BYTES || !id.subarray(0, MARKER.length).equals(MARKER)) return void 0;
  const offset = Number(id.readBigUInt64BE(MARKER.length + 12));
  if (!Number.isSafeInteger(offset)) return void 0;
  return { session: id.subarray(MARKER.length, MARKER.length + 12).toString("hex"), offset };
}
function tileBlocks(committed, uncommitted, total, session) {
  const byOffset = /* @__PURE__ */ new Map();
  for (const block of [...committed, ...uncommitted]) {
    const parsed = parseBlockId(block.name);
    if (parsed?.session === session) byOffset.set(parsed.offset, block);
  }
  const ids = [];
  let position = 0;
  while (position < total) {
    const block = byOffset.get(position);
    if (!block || block.size <= 0) return void 0;
    ids.push(block.name);
    position += block.size;
  }
  return position === total ? ids : void 0;
}
var MARKER, ID_BYTES, SESSION, NO_SESSION;
var init_block_ids = __esm({
  "src/server/legacy/azure/block-ids.ts"() {
    "use strict";
    MARKER = Buffer.from("ferry-lg2", "latin1");
    ID_BYTES = MARKER.length + 12 + 8;
    SESSION = /^[0-9a-f]{24}$/;
    NO_SESSION = "0".repeat(24);
  }
});

// src/server/legacy/azure/delete-prefix.ts
async function deletePrefix(container, prefix, time) {
  const names = [];
  await time("list_items", async () => {
    for await (const blob of container.listBlobsFlat({
      prefix,
      includeUncommitedBlobs: true
    })) {
      names.push(blob.name);
    }
  });
  for (const name of names) {
    await time("delete_blob", () => container.getBlockBlobClient(name).deleteIfExists());
  }
}
var init_delete_prefix = __esm({
  "src/server/legacy/azure/delete-prefix.ts"() {
    "use strict";
  }
});

// src/server/legacy/azure/verified-body.ts
import { createHash as createHash16 } from "node:crypto";
import { Transform as Transform5 } from "node:stream";
var VerifiedBody;
var init_verified_body = __esm({
  "src/server/legacy/azure/verified-body.ts"() {
    "use strict";
    init_error_response();
    VerifiedBody = class _VerifiedBody extends Transform5 {
      failure;
      /** Aborts the storage call carrying this body when the body fails: the SDK does not notice a stream error. */
      abort = new AbortController();
      #length;
      #expectedMd5;
      #md5;
      #received = 0;
      #held;
      constructor(length, expectedMd5) {
        super();
        this.#length = length;
        this.#expectedMd5 = expectedMd5?.trim();
        this.#md5 = expectedMd5 === void 0 ? void 0 : createHash16("md5");
      }
      /** Pipes `req` through a new VerifiedBody without letting a failure destroy the request's socket. */
      static of(req, length, expectedMd5) {
        const body = new _VerifiedBody(length, expectedMd5);
        body.on("error", () => body.abort.abort());
        req.on("error", (error2) => body.destroy(error2));
        req.on("aborted", () => body.destroy(new Error("the client closed the connection during the body")));
        req.pipe(body);
        return body;
      }
      _transform(chunk, _encoding, done) {
        this.#received += chunk.length;
        if (this.#received > this.#length) {
          return done(
            this.#fail(
              new ErrorResponse(400, `Request body is longer than the Content-Range (${this.#length} bytes)`, {
                Connection: "close"
              })
            )
          );
        }
        this.#md5?.update(chunk);
        const previous = this.#held;
        this.#held = chunk;
        done(null, previous);
      }
      _flush(done) {
        if (this.#received !== this.#length) {
          return done(
            this.#fail(
              badRequest2(`Request body has ${this.#received} bytes but the Content-Range says ${this.#length}`)
            )
          );
        }
        if (this.#md5 && this.#expectedMd5 !== void 0) {
          const actual = this.#md5.digest("base64");
          if (actual !== this.#expectedMd5) {
            return done(
              this.#fail(
                badRequest2(
                  `MD5 mismatch for the chunk: x-actions-results-md5 is ${this.#expectedMd5}, received bytes hash to ${actual}`
                )
              )
            );
          }
        }
        done(null, this.#held);
      }
      #fail(error2) {
        this.failure = error2;
        return error2;
      }
    };
  }
});

// src/server/legacy/azure/azure-legacy-files.ts
function encodeItem(item) {
  return Buffer.from(JSON.stringify(item), "utf8").toString("base64");
}
function itemOf(meta, modified) {
  if (meta === void 0 || meta.length > MAX_META_CHARS) return void 0;
  let value;
  try {
    value = JSON.parse(Buffer.from(meta, "base64").toString("utf8"));
  } catch {
    return void 0;
  }
  const r = value;
  if (typeof r !== "object" || r === null || typeof r.path !== "string" || typeof r.total !== "number" || typeof r.gzip !== "boolean" || typeof r.createdAt !== "string") {
    return void 0;
  }
  return {
    path: r.path,
    total: r.total,
    gzip: r.gzip,
    fileLength: typeof r.fileLength === "number" ? r.fileLength : null,
    ranges: r.total === 0 ? [] : [[0, r.total - 1]],
    complete: true,
    createdAt: r.createdAt,
    updatedAt: (modified ?? new Date(r.createdAt)).toISOString()
  };
}
var ITEM_META, MAX_META_CHARS, MAX_BLOCK_BYTES2, WHOLE_PUT_LIMIT, AzureLegacyFiles;
var init_azure_legacy_files = __esm({
  "src/server/legacy/azure/azure-legacy-files.ts"() {
    "use strict";
    init_error_response();
    init_small_json();
    init_container_items();
    init_layout();
    init_block_ids();
    init_delete_prefix();
    init_verified_body();
    ITEM_META = "ferryitem";
    MAX_META_CHARS = 6 * 1024;
    MAX_BLOCK_BYTES2 = 4e3 * 1024 * 1024;
    WHOLE_PUT_LIMIT = 64 * 1024 * 1024;
    AzureLegacyFiles = class {
      #container;
      /** The same container without SDK retries: a request body can be sent to it only once. */
      #streaming;
      #prefix;
      #time;
      /** ETags of items handed out by get(), so open() reads exactly those bytes. */
      #etags = /* @__PURE__ */ new WeakMap();
      constructor(container, streaming, prefix, containerId, time) {
        this.#container = container;
        this.#streaming = streaming;
        this.#prefix = `${prefix}legacy/items/${containerId}/`;
        this.#time = time;
      }
      #blobName(path22) {
        return `${this.#prefix}${itemKey(path22)}`;
      }
      /**
       * Stages one chunk of upload `session` and, when it is the file's last, commits the file.
       * `checkSize` is asked before the commit with the file's previous committed size (0 when new):
       * it throws when the container would grow beyond its limit, and its undo is run when the
       * commit then fails.
       */
      async receive(path22, session, chunk, req, checkSize2) {
        const { range } = chunk;
        const length = range.end - range.start;
        if (length > MAX_BLOCK_BYTES2) {
          throw new ErrorResponse(
            413,
            `A chunk of ${length} bytes is larger than an Azure block (${MAX_BLOCK_BYTES2} bytes); send smaller chunks`
          );
        }
        const meta = encodeItem({
          path: path22,
          total: range.total,
          gzip: chunk.gzip,
          fileLength: chunk.fileLength ?? null,
          createdAt: (/* @__PURE__ */ new Date()).toISOString()
        });
        if (meta.length > MAX_META_CHARS) {
          throw new ErrorResponse(400, `itemPath ${JSON.stringify(path22.slice(0, 200))}... is too long to store`);
        }
        const staging = this.#streaming.getBlockBlobClient(this.#blobName(path22));
        const last = range.end === range.total;
        const whole = range.start === 0 && last && length <= WHOLE_PUT_LIMIT;
        const undo = whole ? await checkSize2(await this.#committedSize(path22), range.total) : void 0;
        const body = VerifiedBody.of(req, length, chunk.expectedMd5);
        try {
          if (undo) {
            await this.#time(
              "put_blob",
              () => staging.upload(() => body, length, {
                abortSignal: body.abort.signal,
                metadata: { [ITEM_META]: meta },
                blobHTTPHeaders: { blobContentType: "application/octet-stream" }
              })
            );
            return;
          }
          await this.#time(
            "stage_block",
            () => staging.stageBlock(blockIdOf(session, range.start), () => body, length, {
              abortSignal: body.abort.signal
            })
          );
        } catch (error2) {
          await undo?.().catch(() => void 0);
          throw body.failure ?? error2;
        }
        if (last) await this.#commit(path22, session, range.total, meta, checkSize2);
      }
      /** Commits the session's blocks that tile the file; a file with a chunk still missing stays unlisted. */
      async #commit(path22, session, total, meta, checkSize2) {
        const blob = this.#container.getBlockBlobClient(this.#blobName(path22));
        const list3 = await this.#time("get_block_list", () => blob.getBlockList("all"));
        const ids = tileBlocks(list3.committedBlocks ?? [], list3.uncommittedBlocks ?? [], total, session);
        if (!ids) return;
        const previous = list3.blobContentLength ?? (list3.committedBlocks ?? []).reduce((sum, b) => sum + b.size, 0);
        const undo = await checkSize2(previous, total);
        try {
          await this.#time(
            "commit_block_list",
            () => blob.commitBlockList(ids, {
              metadata: { [ITEM_META]: meta },
              blobHTTPHeaders: { blobContentType: "application/octet-stream" }
            })
          );
        } catch (error2) {
          await undo().catch(() => void 0);
          throw error2;
        }
      }
      async #committedSize(path22) {
        return (await this.get(path22))?.total ?? 0;
      }
      async get(path22) {
        try {
          const props = await this.#time(
            "blob_properties",
            () => this.#container.getBlockBlobClient(this.#blobName(path22)).getProperties()
          );
          const item = itemOf(props.metadata?.[ITEM_META], props.lastModified);
          if (!item || item.path !== path22) return void 0;
          if (props.etag) this.#etags.set(item, props.etag);
          return item;
        } catch (error2) {
          if (isMissing(error2)) return void 0;
          throw error2;
        }
      }
      async list(prefix) {
        return listComplete(await this.all(), prefix);
      }
      /** Every committed file of the container. */
      async all() {
        const items = [];
        await this.#time("list_items", async () => {
          for await (const blob of this.#container.listBlobsFlat({
            prefix: this.#prefix,
            includeMetadata: true
          })) {
            const item = itemOf(blob.metadata?.[ITEM_META], blob.properties.lastModified);
            if (item) items.push(item);
          }
        });
        return items;
      }
      async open(item) {
        const etag = this.#etags.get(item);
        const answer = await this.#time(
          "read_item",
          () => this.#container.getBlockBlobClient(this.#blobName(item.path)).download(0, item.total, etag ? { conditions: { ifMatch: etag } } : {})
        );
        const stream = answer.readableStreamBody;
        if (!stream) throw new Error(`the storage sent no body for ${JSON.stringify(item.path)}`);
        return stream;
      }
      /** Deletes every blob of the container, committed or only staged. */
      async removeAll() {
        await deletePrefix(this.#container, this.#prefix, this.#time);
      }
    };
  }
});

// src/server/legacy/azure/container-bytes.ts
var MAX_ATTEMPTS4, ContainerBytes;
var init_container_bytes = __esm({
  "src/server/legacy/azure/container-bytes.ts"() {
    "use strict";
    init_error_response();
    init_small_json();
    MAX_ATTEMPTS4 = 50;
    ContainerBytes = class {
      #blob;
      #time;
      /** The container's committed bytes as listed, for a container made before this blob existed. */
      #listed;
      constructor(blob, time, listed) {
        this.#blob = blob;
        this.#time = time;
        this.#listed = listed;
      }
      /** Written by the create of a new container, so its first file needs no listing to count from. */
      async start() {
        try {
          await this.#write(0, { ifNoneMatch: "*" });
        } catch (error2) {
          if (!isConflict(error2)) throw error2;
        }
      }
      /**
       * Counts a file of `total` bytes replacing one of `previous` bytes (0 for a new file), or
       * refuses it with 413 when the container would hold more than `max` bytes. Returns the undo
       * of this change, for a commit that then fails.
       */
      async add(path22, previous, total, max) {
        await this.#change(previous, total, (next) => {
          if (next > max) {
            throw new ErrorResponse(
              413,
              `Storing ${total} more bytes for ${JSON.stringify(path22)} would make the artifact larger than the server's limit of ${max} bytes (maxArtifactBytes)`
            );
          }
        });
        return () => this.#change(total, previous, () => {
        });
      }
      async #change(previous, total, check) {
        if (previous === total) return;
        for (let attempt = 0; attempt < MAX_ATTEMPTS4; attempt++) {
          const current = await readSmallJson(this.#blob, this.#time);
          const stored = current?.value?.bytes;
          const held = typeof stored === "number" && Number.isSafeInteger(stored) && stored >= 0 ? stored : await this.#listed();
          const next = Math.max(0, held - previous + total);
          check(next);
          try {
            await this.#write(next, current ? { ifMatch: current.etag } : { ifNoneMatch: "*" });
            return;
          } catch (error2) {
            if (!isConflict(error2)) throw error2;
            await new Promise((resolve2) => setTimeout(resolve2, Math.random() * 10 * (attempt + 1)));
          }
        }
        throw new Error(`could not count the artifact's bytes after ${MAX_ATTEMPTS4} concurrent attempts`);
      }
      async #write(bytes, conditions) {
        await writeSmallJson(this.#blob, this.#time, "write_container_bytes", { bytes }, { conditions });
      }
    };
  }
});

// src/server/legacy/azure/upload-sessions.ts
var MAX_ATTEMPTS5, AzureUploadSessions;
var init_upload_sessions = __esm({
  "src/server/legacy/azure/upload-sessions.ts"() {
    "use strict";
    init_small_json();
    init_artifact_store();
    init_layout();
    MAX_ATTEMPTS5 = 20;
    AzureUploadSessions = class {
      #container;
      #prefix;
      #time;
      #leaseMs;
      #now;
      constructor(container, prefix, options) {
        this.#container = container;
        this.#prefix = prefix;
        this.#time = options.time;
        this.#leaseMs = options.leaseMs ?? DEFAULT_SESSION_LEASE_MS;
        this.#now = options.now ?? Date.now;
      }
      /** Stores a new session, handed out by a create. */
      async open(containerId, session) {
        await this.#writeSession(
          containerId,
          session,
          { active: this.#now(), lost: false },
          { ifNoneMatch: "*" }
        );
      }
      /**
       * Records that `session` writes `path`, or refuses (409) when another session still live writes
       * it: that one came first and keeps the file; this one is marked lost and every later write of
       * it is refused too, so no artifact mixes the two uploads. `first` says the chunk starts the
       * file (its claim is most likely new: try to create it before reading it).
       *
       * The session blobs are where races are settled. This session is renewed (conditionally)
       * before it claims anything, and a claim whose session is no longer live is taken over only
       * after that session is marked lost with If-Match on the very state judged: of an upload
       * coming back to life and one taking its file over, exactly one conditional write lands, so
       * they never both write the file.
       */
      async claim(target, path22, session, first) {
        const mine = await this.#readSession(target.containerId, session);
        if (!mine) return;
        if (mine.state.lost) throw raceLost(target.name, path22, true);
        await this.#renew(target, path22, session, mine);
        const blob = this.#container.getBlockBlobClient(this.#claimBlob(target.containerId, path22));
        let owner = first ? void 0 : await this.#readClaim(target.containerId, path22);
        for (let attempt = 0; attempt < MAX_ATTEMPTS5; attempt++) {
          if (owner?.session === session) return;
          if (owner) {
            const other = await this.#readSession(target.containerId, owner.session);
            if (other && this.#isLive(other.state, target.closedAt)) {
              await this.#markLost(target.containerId, session);
              throw raceLost(target.name, path22, false);
            }
            if (other && !other.state.lost && !await this.#fence(target.containerId, owner.session, other)) {
              owner = await this.#readClaim(target.containerId, path22);
              continue;
            }
          }
          try {
            await writeSmallJson(
              blob,
              this.#time,
              "write_upload_claim",
              { session },
              {
                conditions: owner ? { ifMatch: owner.etag } : { ifNoneMatch: "*" }
              }
            );
            return;
          } catch (error2) {
            if (!isConflict(error2)) throw error2;
            owner = await this.#readClaim(target.containerId, path22);
          }
        }
        throw new Error(`could not claim ${JSON.stringify(path22)} after ${MAX_ATTEMPTS5} concurrent attempts`);
      }
      /**
       * Marks a session that is no longer live as lost before its file is taken over, if its state
       * is still the one judged (`judged.etag`): false when it wrote meanwhile. An upload whose file
       * was taken over may write nothing more, as one that lost a race.
       */
      async #fence(containerId, session, judged) {
        try {
          await this.#writeSession(
            containerId,
            session,
            { ...judged.state, lost: true },
            { ifMatch: judged.etag }
          );
          return true;
        } catch (error2) {
          if (isConflict(error2)) return false;
          throw error2;
        }
      }
      /**
       * Keeps the session live: written when a quarter of the lease has passed since its last write
       * (so it is live at least three quarters of the lease after its last chunk), or when a PATCH
       * closed it since (a session that writes after a PATCH is open again).
       */
      async #renew(target, path22, session, mine) {
        const now = this.#now();
        const closed = target.closedAt !== void 0 && mine.state.active <= target.closedAt;
        if (!closed && now - mine.state.active < this.#leaseMs / 4) return;
        try {
          await this.#writeSession(
            target.containerId,
            session,
            { active: now, lost: false },
            { ifMatch: mine.etag }
          );
        } catch (error2) {
          if (!isConflict(error2)) throw error2;
          const again = await this.#readSession(target.containerId, session);
          if (again?.state.lost) throw raceLost(target.name, path22, true);
        }
      }
      #isLive(state, closedAt) {
        return !state.lost && this.#now() - state.active < this.#leaseMs && (closedAt === void 0 || state.active > closedAt);
      }
      /** Marks this session lost (it came second for a file): retried over its own concurrent renewals. */
      async #markLost(containerId, session) {
        for (let attempt = 0; attempt < MAX_ATTEMPTS5; attempt++) {
          const current = await this.#readSession(containerId, session);
          if (!current || current.state.lost) return;
          try {
            await this.#writeSession(
              containerId,
              session,
              { ...current.state, lost: true },
              { ifMatch: current.etag }
            );
            return;
          } catch (error2) {
            if (!isConflict(error2)) throw error2;
          }
        }
      }
      async #readSession(containerId, session) {
        const found = await readSmallJson(
          this.#container.getBlockBlobClient(this.#sessionBlob(containerId, session)),
          this.#time
        );
        const value = found?.value;
        if (!found || typeof value?.active !== "number" || typeof value.lost !== "boolean") return void 0;
        return { state: { active: value.active, lost: value.lost }, etag: found.etag };
      }
      async #readClaim(containerId, path22) {
        const found = await readSmallJson(
          this.#container.getBlockBlobClient(this.#claimBlob(containerId, path22)),
          this.#time
        );
        const session = found?.value?.session;
        return found ? { session: typeof session === "string" ? session : "", etag: found.etag } : void 0;
      }
      async #writeSession(containerId, session, state, conditions) {
        await writeSmallJson(
          this.#container.getBlockBlobClient(this.#sessionBlob(containerId, session)),
          this.#time,
          "write_upload_session",
          state,
          { conditions }
        );
      }
      #sessionBlob(containerId, session) {
        return `${this.#prefix}legacy/uploads/${containerId}/sessions/${session}`;
      }
      #claimBlob(containerId, path22) {
        return `${this.#prefix}legacy/uploads/${containerId}/claims/${itemKey(path22)}`;
      }
    };
  }
});

// src/server/legacy/azure/azure-legacy-store.ts
import { randomBytes as randomBytes14 } from "node:crypto";
function decodeMeta3(value) {
  return decodeMetaRecord(value, 16384, isArtifactRecord);
}
var RECORD_META2, MAX_ATTEMPTS6, MAX_CACHED_POINTERS, AzureLegacyStore;
var init_azure_legacy_store = __esm({
  "src/server/legacy/azure/azure-legacy-store.ts"() {
    "use strict";
    init_error_response();
    init_id_counter2();
    init_small_json();
    init_artifact_store();
    init_azure_legacy_files();
    init_block_ids();
    init_container_bytes();
    init_delete_prefix();
    init_upload_sessions();
    RECORD_META2 = "ferrylegacy";
    MAX_ATTEMPTS6 = 20;
    MAX_CACHED_POINTERS = 1e4;
    AzureLegacyStore = class {
      kind = "azure_blob";
      limits;
      #container;
      #streaming;
      #prefix;
      #time;
      #ids;
      #sessions;
      #now;
      #pointers = /* @__PURE__ */ new Map();
      constructor(container, streaming, prefix, options) {
        this.#container = container;
        this.#streaming = streaming;
        this.#prefix = prefix;
        this.#time = options.time;
        this.limits = options.limits;
        this.#ids = new AzureIdCounter(container.getBlockBlobClient(`${prefix}legacy/counter`), options.time);
        this.#now = options.now ?? Date.now;
        this.#sessions = new AzureUploadSessions(container, prefix, {
          time: options.time,
          now: this.#now,
          ...options.sessionLeaseMs !== void 0 ? { leaseMs: options.sessionLeaseMs } : {}
        });
      }
      async get(containerId) {
        return (await this.#readById(containerId))?.record;
      }
      async list(runId) {
        return this.#listRecords(`${this.#prefix}legacy/runs/${hex(runId)}/`);
      }
      async create(runId, name, retentionDays2) {
        const session = randomBytes14(12).toString("hex");
        for (let attempt = 0; attempt < MAX_ATTEMPTS6; attempt++) {
          const found = await this.#read(runId, name);
          if (found) {
            const record2 = await this.#reopen(found);
            if (!record2) continue;
            await this.#sessions.open(record2.containerId, session);
            return { record: record2, created: false, session };
          }
          const max = this.limits.maxArtifactsPerRun;
          if ((await this.list(runId)).length >= max) {
            throw new ErrorResponse(
              403,
              `Workflow run ${JSON.stringify(runId)} already has ${max} artifacts, the limit of this server (maxArtifactsPerRun)`
            );
          }
          const containerId = await this.#ids.allocate();
          const now = (/* @__PURE__ */ new Date()).toISOString();
          const record = {
            containerId,
            runId,
            name,
            size: -1,
            retentionDays: retentionDays2,
            createdAt: now,
            updatedAt: now
          };
          await this.#write(this.#pointerBlob(containerId), { runId, name }, { ifNoneMatch: "*" });
          await this.#bytes(containerId).start();
          try {
            await this.#write(this.#recordBlob(runId, name), record, { ifNoneMatch: "*" }, true);
            await this.#sessions.open(containerId, session);
            return { record, created: true, session };
          } catch (error2) {
            await this.#deleteQuietly(this.#bytesBlob(containerId));
            await this.#deleteQuietly(this.#pointerBlob(containerId));
            if (!isConflict(error2)) throw error2;
          }
        }
        throw new Error(
          `could not create artifact ${JSON.stringify(name)} after ${MAX_ATTEMPTS6} concurrent attempts`
        );
      }
      /**
       * A new upload into a finalized artifact makes it unfinished again until that upload's PATCH
       * (see ArtifactStore.#reopen). Undefined when the record changed meanwhile: the caller re-reads.
       */
      async #reopen(found) {
        if (found.record.size === -1) return found.record;
        const next = { ...found.record, size: -1, updatedAt: (/* @__PURE__ */ new Date()).toISOString() };
        try {
          await this.#write(this.#recordBlob(next.runId, next.name), next, { ifMatch: found.etag }, true);
          return next;
        } catch (error2) {
          if (isConflict(error2) || isMissing(error2)) return void 0;
          throw error2;
        }
      }
      /**
       * Stores one chunk. First, before a byte is written, the upload's session claims the file
       * (AzureUploadSessions.claim): a concurrent upload of the same name writing it wins (409).
       * The chunk's block carries the session, so only this upload's blocks make the file.
       */
      async receive(artifact, path22, session, chunk, req) {
        const tracked = isSessionId(session) ? session : void 0;
        if (tracked) {
          const closedAt = artifact.closedAt;
          await this.#sessions.claim(
            {
              containerId: artifact.containerId,
              name: artifact.name,
              closedAt: typeof closedAt === "number" ? closedAt : void 0
            },
            path22,
            tracked,
            chunk.range.start === 0
          );
        }
        const files = this.#files(artifact.containerId);
        const bytes = this.#bytes(artifact.containerId);
        await files.receive(
          path22,
          tracked ?? NO_SESSION,
          chunk,
          req,
          (previous, total) => bytes.add(path22, previous, total, this.limits.maxArtifactBytes)
        );
      }
      /**
       * The container's committed bytes, bounded by maxArtifactBytes across instances. A container
       * created before that count existed is counted from its listing once, by whichever instance
       * commits into it first.
       */
      #bytes(containerId) {
        return new ContainerBytes(
          this.#container.getBlockBlobClient(this.#bytesBlob(containerId)),
          this.#time,
          () => this.#files(containerId).all().then((items) => items.reduce((sum, item) => sum + item.total, 0))
        );
      }
      files(artifact) {
        return Promise.resolve(this.#files(artifact.containerId));
      }
      #files(containerId) {
        return new AzureLegacyFiles(this.#container, this.#streaming, this.#prefix, containerId, this.#time);
      }
      /** As ArtifactStore.patchSize: the larger of the client's size and the files the container holds. */
      async patchSize(runId, name, size) {
        for (let attempt = 0; attempt < MAX_ATTEMPTS6; attempt++) {
          const found = await this.#read(runId, name);
          if (!found) return void 0;
          const held = (await this.#files(found.record.containerId).all()).reduce(
            (sum, item) => sum + (item.fileLength ?? item.total),
            0
          );
          const next = {
            ...found.record,
            size: Math.max(size, held),
            updatedAt: (/* @__PURE__ */ new Date()).toISOString(),
            closedAt: this.#now()
          };
          try {
            await this.#write(this.#recordBlob(runId, name), next, { ifMatch: found.etag }, true);
            return next;
          } catch (error2) {
            if (!isConflict(error2) && !isMissing(error2)) throw error2;
          }
        }
        throw new Error(
          `could not finalize artifact ${JSON.stringify(name)} after ${MAX_ATTEMPTS6} concurrent attempts`
        );
      }
      async expired(now) {
        const all = await this.#listRecords(`${this.#prefix}legacy/runs/`);
        return all.filter((r) => r.size !== -1 && expiresAt2(r) <= now);
      }
      /**
       * The record first, conditionally on the ETag it was checked under (an upload that reopened it
       * meanwhile keeps it; whichever instance deletes first owns the deletion), then the id pointer
       * and every file blob. Undefined when there was nothing to delete: repeating it is harmless.
       */
      async removeExpired(containerId, now) {
        const found = await this.#readById(containerId);
        if (!found || found.record.size === -1 || expiresAt2(found.record) > now) return void 0;
        try {
          await this.#time(
            "delete_record",
            () => this.#container.getBlockBlobClient(this.#recordBlob(found.record.runId, found.record.name)).delete({ conditions: { ifMatch: found.etag } })
          );
        } catch (error2) {
          if (isConflict(error2) || isMissing(error2)) return void 0;
          throw error2;
        }
        await this.#deleteQuietly(this.#pointerBlob(containerId));
        this.#pointers.delete(containerId);
        await this.#files(containerId).removeAll();
        await deletePrefix(this.#container, this.#uploadsPrefix(containerId), this.#time);
        return found.record;
      }
      async close() {
      }
      async #readById(containerId) {
        if (!Number.isSafeInteger(containerId) || containerId < 1) return void 0;
        let target = this.#pointers.get(containerId);
        if (!target) {
          const pointer = await readSmallJson(
            this.#container.getBlockBlobClient(this.#pointerBlob(containerId)),
            this.#time
          );
          const value = pointer?.value;
          if (typeof value?.runId !== "string" || typeof value.name !== "string") return void 0;
          target = { runId: value.runId, name: value.name };
          if (this.#pointers.size >= MAX_CACHED_POINTERS) this.#pointers.clear();
          this.#pointers.set(containerId, target);
        }
        const found = await this.#read(target.runId, target.name);
        return found?.record.containerId === containerId ? found : void 0;
      }
      async #read(runId, name) {
        const found = await readSmallJson(
          this.#container.getBlockBlobClient(this.#recordBlob(runId, name)),
          this.#time
        );
        if (!found || !isArtifactRecord(found.value)) return void 0;
        return { record: found.value, etag: found.etag };
      }
      async #listRecords(prefix) {
        const found = [];
        await this.#time("list_records", async () => {
          for await (const item of this.#container.listBlobsFlat({ prefix, includeMetadata: true })) {
            const record = decodeMeta3(item.metadata?.[RECORD_META2]);
            if (record) found.push(record);
          }
        });
        return found.sort((a, b) => a.containerId - b.containerId);
      }
      #recordBlob(runId, name) {
        return `${this.#prefix}legacy/runs/${hex(runId)}/${hex(name)}`;
      }
      /** Per-container upload state: the committed bytes, and the upload sessions and file claims. */
      #uploadsPrefix(containerId) {
        return `${this.#prefix}legacy/uploads/${containerId}/`;
      }
      #bytesBlob(containerId) {
        return `${this.#uploadsPrefix(containerId)}bytes`;
      }
      #pointerBlob(containerId) {
        return `${this.#prefix}legacy/containers/${containerId}`;
      }
      async #write(name, value, conditions, withMeta = false) {
        await writeSmallJson(this.#container.getBlockBlobClient(name), this.#time, "write_record", value, {
          conditions,
          ...withMeta ? { metadataKey: RECORD_META2 } : {}
        });
      }
      async #deleteQuietly(name) {
        await this.#time("delete_blob", () => this.#container.getBlockBlobClient(name).deleteIfExists());
      }
    };
  }
});

// src/server/legacy/azure/open-azure-legacy.ts
var open_azure_legacy_exports = {};
__export(open_azure_legacy_exports, {
  openAzureLegacyStore: () => openAzureLegacyStore
});
async function openAzureLegacyStore(spec, options) {
  const sdk = await import("@azure/storage-blob");
  const credential = new sdk.StorageSharedKeyCredential(spec.account.accountName, spec.account.accountKey);
  const container = new sdk.BlobServiceClient(spec.account.blobEndpoint, credential).getContainerClient(
    spec.container
  );
  const streaming = new sdk.BlobServiceClient(
    spec.account.blobEndpoint,
    sdk.newPipeline(credential, { retryOptions: { maxTries: 1 } })
  ).getContainerClient(spec.container);
  return new AzureLegacyStore(container, streaming, spec.prefix, options);
}
var init_open_azure_legacy = __esm({
  "src/server/legacy/azure/open-azure-legacy.ts"() {
    "use strict";
    init_azure_legacy_store();
  }
});

// node_modules/@actions/core/lib/command.js
import * as os from "os";

// node_modules/@actions/core/lib/utils.js
function toCommandValue(input) {
  if (input === null || input === void 0) {
    return "";
  } else if (typeof input === "string" || input instanceof String) {
    return input;
  }
  return JSON.stringify(input);
}
function toCommandProperties(annotationProperties) {
  if (!Object.keys(annotationProperties).length) {
    return {};
  }
  return {
    title: annotationProperties.title,
    file: annotationProperties.file,
    line: annotationProperties.startLine,
    endLine: annotationProperties.endLine,
    col: annotationProperties.startColumn,
    endColumn: annotationProperties.endColumn
  };
}

// node_modules/@actions/core/lib/command.js
function issueCommand(command, properties, message) {
  const cmd = new Command(command, properties, message);
  process.stdout.write(cmd.toString() + os.EOL);
}
var CMD_STRING = "::";
var Command = class {
  constructor(command, properties, message) {
    if (!command) {
      command = "missing.command";
    }
    this.command = command;
    this.properties = properties;
    this.message = message;
  }
  toString() {
    let cmdStr = CMD_STRING + this.command;
    if (this.properties && Object.keys(this.properties).length > 0) {
      cmdStr += " ";
      let first = true;
      for (const key in this.properties) {
        if (this.properties.hasOwnProperty(key)) {
          const val = this.properties[key];
          if (val) {
            if (first) {
              first = false;
            } else {
              cmdStr += ",";
            }
            cmdStr += `${key}=${escapeProperty(val)}`;
          }
        }
      }
    }
    cmdStr += `${CMD_STRING}${escapeData(this.message)}`;
    return cmdStr;
  }
};
function escapeData(s) {
  return toCommandValue(s).replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
function escapeProperty(s) {
  return toCommandValue(s).replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/:/g, "%3A").replace(/,/g, "%2C");
}

// node_modules/@actions/core/lib/file-command.js
import * as crypto from "crypto";
import * as fs from "fs";
import * as os2 from "os";
function issueFileCommand(command, message) {
  const filePath = process.env[`GITHUB_${command}`];
  if (!filePath) {
    throw new Error(`Unable to find environment variable for file command ${command}`);
  }
  if (!fs.existsSync(filePath)) {
    throw new Error(`Missing file at path: ${filePath}`);
  }
  fs.appendFileSync(filePath, `${toCommandValue(message)}${os2.EOL}`, {
    encoding: "utf8"
  });
}
function prepareKeyValueMessage(key, value) {
  const delimiter = `ghadelimiter_${crypto.randomUUID()}`;
  const convertedValue = toCommandValue(value);
  if (key.includes(delimiter)) {
    throw new Error(`Unexpected input: name should not contain the delimiter "${delimiter}"`);
  }
  if (convertedValue.includes(delimiter)) {
    throw new Error(`Unexpected input: value should not contain the delimiter "${delimiter}"`);
  }
  return `${key}<<${delimiter}${os2.EOL}${convertedValue}${os2.EOL}${delimiter}`;
}

// node_modules/@actions/core/lib/core.js
import * as os4 from "os";

// node_modules/@actions/core/lib/summary.js
import { EOL as EOL3 } from "os";
import { constants, promises } from "fs";
var __awaiter = function(thisArg, _arguments, P, generator) {
  function adopt(value) {
    return value instanceof P ? value : new P(function(resolve2) {
      resolve2(value);
    });
  }
  return new (P || (P = Promise))(function(resolve2, reject) {
    function fulfilled(value) {
      try {
        step(generator.next(value));
      } catch (e) {
        reject(e);
      }
    }
    function rejected(value) {
      try {
        step(generator["throw"](value));
      } catch (e) {
        reject(e);
      }
    }
    function step(result) {
      result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
    }
    step((generator = generator.apply(thisArg, _arguments || [])).next());
  });
};
var { access, appendFile, writeFile } = promises;
var SUMMARY_ENV_VAR = "GITHUB_STEP_SUMMARY";
var Summary = class {
  constructor() {
    this._buffer = "";
  }
  /**
   * Finds the summary file path from the environment, rejects if env var is not found or file does not exist
   * Also checks r/w permissions.
   *
   * @returns step summary file path
   */
  filePath() {
    return __awaiter(this, void 0, void 0, function* () {
      if (this._filePath) {
        return this._filePath;
      }
      const pathFromEnv = process.env[SUMMARY_ENV_VAR];
      if (!pathFromEnv) {
        throw new Error(`Unable to find environment variable for $${SUMMARY_ENV_VAR}. Check if your runtime environment supports job summaries.`);
      }
      try {
        yield access(pathFromEnv, constants.R_OK | constants.W_OK);
      } catch (_a) {
        throw new Error(`Unable to access summary file: '${pathFromEnv}'. Check if the file has correct read/write permissions.`);
      }
      this._filePath = pathFromEnv;
      return this._filePath;
    });
  }
  /**
   * Wraps content in an HTML tag, adding any HTML attributes
   *
   * @param {string} tag HTML tag to wrap
   * @param {string | null} content content within the tag
   * @param {[attribute: string]: string} attrs key-value list of HTML attributes to add
   *
   * @returns {string} content wrapped in HTML element
   */
  wrap(tag, content, attrs = {}) {
    const htmlAttrs = Object.entries(attrs).map(([key, value]) => ` ${key}="${value}"`).join("");
    if (!content) {
      return `<${tag}${htmlAttrs}>`;
    }
    return `<${tag}${htmlAttrs}>${content}</${tag}>`;
  }
  /**
   * Writes text in the buffer to the summary buffer file and empties buffer. Will append by default.
   *
   * @param {SummaryWriteOptions} [options] (optional) options for write operation
   *
   * @returns {Promise<Summary>} summary instance
   */
  write(options) {
    return __awaiter(this, void 0, void 0, function* () {
      const overwrite = !!(options === null || options === void 0 ? void 0 : options.overwrite);
      const filePath = yield this.filePath();
      const writeFunc = overwrite ? writeFile : appendFile;
      yield writeFunc(filePath, this._buffer, { encoding: "utf8" });
      return this.emptyBuffer();
    });
  }
  /**
   * Clears the summary buffer and wipes the summary file
   *
   * @returns {Summary} summary instance
   */
  clear() {
    return __awaiter(this, void 0, void 0, function* () {
      return this.emptyBuffer().write({ overwrite: true });
    });
  }
  /**
   * Returns the current summary buffer as a string
   *
   * @returns {string} string of summary buffer
   */
  stringify() {
    return this._buffer;
  }
  /**
   * If the summary buffer is empty
   *
   * @returns {boolen} true if the buffer is empty
   */
  isEmptyBuffer() {
    return this._buffer.length === 0;
  }
  /**
   * Resets the summary buffer without writing to summary file
   *
   * @returns {Summary} summary instance
   */
  emptyBuffer() {
    this._buffer = "";
    return this;
  }
  /**
   * Adds raw text to the summary buffer
   *
   * @param {string} text content to add
   * @param {boolean} [addEOL=false] (optional) append an EOL to the raw text (default: false)
   *
   * @returns {Summary} summary instance
   */
  addRaw(text, addEOL = false) {
    this._buffer += text;
    return addEOL ? this.addEOL() : this;
  }
  /**
   * Adds the operating system-specific end-of-line marker to the buffer
   *
   * @returns {Summary} summary instance
   */
  addEOL() {
    return this.addRaw(EOL3);
  }
  /**
   * Adds an HTML codeblock to the summary buffer
   *
   * @param {string} code content to render within fenced code block
   * @param {string} lang (optional) language to syntax highlight code
   *
   * @returns {Summary} summary instance
   */
  addCodeBlock(code, lang) {
    const attrs = Object.assign({}, lang && { lang });
    const element = this.wrap("pre", this.wrap("code", code), attrs);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML list to the summary buffer
   *
   * @param {string[]} items list of items to render
   * @param {boolean} [ordered=false] (optional) if the rendered list should be ordered or not (default: false)
   *
   * @returns {Summary} summary instance
   */
  addList(items, ordered = false) {
    const tag = ordered ? "ol" : "ul";
    const listItems = items.map((item) => this.wrap("li", item)).join("");
    const element = this.wrap(tag, listItems);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML table to the summary buffer
   *
   * @param {SummaryTableCell[]} rows table rows
   *
   * @returns {Summary} summary instance
   */
  addTable(rows) {
    const tableBody = rows.map((row) => {
      const cells = row.map((cell) => {
        if (typeof cell === "string") {
          return this.wrap("td", cell);
        }
        const { header: header4, data, colspan, rowspan } = cell;
        const tag = header4 ? "th" : "td";
        const attrs = Object.assign(Object.assign({}, colspan && { colspan }), rowspan && { rowspan });
        return this.wrap(tag, data, attrs);
      }).join("");
      return this.wrap("tr", cells);
    }).join("");
    const element = this.wrap("table", tableBody);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds a collapsable HTML details element to the summary buffer
   *
   * @param {string} label text for the closed state
   * @param {string} content collapsable content
   *
   * @returns {Summary} summary instance
   */
  addDetails(label2, content) {
    const element = this.wrap("details", this.wrap("summary", label2) + content);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML image tag to the summary buffer
   *
   * @param {string} src path to the image you to embed
   * @param {string} alt text description of the image
   * @param {SummaryImageOptions} options (optional) addition image attributes
   *
   * @returns {Summary} summary instance
   */
  addImage(src, alt, options) {
    const { width, height } = options || {};
    const attrs = Object.assign(Object.assign({}, width && { width }), height && { height });
    const element = this.wrap("img", null, Object.assign({ src, alt }, attrs));
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML section heading element
   *
   * @param {string} text heading text
   * @param {number | string} [level=1] (optional) the heading level, default: 1
   *
   * @returns {Summary} summary instance
   */
  addHeading(text, level) {
    const tag = `h${level}`;
    const allowedTag = ["h1", "h2", "h3", "h4", "h5", "h6"].includes(tag) ? tag : "h1";
    const element = this.wrap(allowedTag, text);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML thematic break (<hr>) to the summary buffer
   *
   * @returns {Summary} summary instance
   */
  addSeparator() {
    const element = this.wrap("hr", null);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML line break (<br>) to the summary buffer
   *
   * @returns {Summary} summary instance
   */
  addBreak() {
    const element = this.wrap("br", null);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML blockquote to the summary buffer
   *
   * @param {string} text quote text
   * @param {string} cite (optional) citation url
   *
   * @returns {Summary} summary instance
   */
  addQuote(text, cite) {
    const attrs = Object.assign({}, cite && { cite });
    const element = this.wrap("blockquote", text, attrs);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML anchor tag to the summary buffer
   *
   * @param {string} text link text/content
   * @param {string} href hyperlink
   *
   * @returns {Summary} summary instance
   */
  addLink(text, href) {
    const element = this.wrap("a", text, { href });
    return this.addRaw(element).addEOL();
  }
};
var _summary = new Summary();
var summary = _summary;

// node_modules/@actions/core/lib/platform.js
import os3 from "os";

// node_modules/@actions/io/lib/io-util.js
import * as fs2 from "fs";
var { chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, symlink, unlink } = fs2.promises;
var IS_WINDOWS = process.platform === "win32";
var READONLY = fs2.constants.O_RDONLY;

// node_modules/@actions/exec/lib/toolrunner.js
var IS_WINDOWS2 = process.platform === "win32";

// node_modules/@actions/core/lib/platform.js
var platform = os3.platform();
var arch = os3.arch();

// node_modules/@actions/core/lib/core.js
var ExitCode;
(function(ExitCode2) {
  ExitCode2[ExitCode2["Success"] = 0] = "Success";
  ExitCode2[ExitCode2["Failure"] = 1] = "Failure";
})(ExitCode || (ExitCode = {}));
function setSecret(secret) {
  issueCommand("add-mask", {}, secret);
}
function getInput(name, options) {
  const val = process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] || "";
  if (options && options.required && !val) {
    throw new Error(`Input required and not supplied: ${name}`);
  }
  if (options && options.trimWhitespace === false) {
    return val;
  }
  return val.trim();
}
function setOutput(name, value) {
  const filePath = process.env["GITHUB_OUTPUT"] || "";
  if (filePath) {
    return issueFileCommand("OUTPUT", prepareKeyValueMessage(name, value));
  }
  process.stdout.write(os4.EOL);
  issueCommand("set-output", { name }, toCommandValue(value));
}
function setFailed(message) {
  process.exitCode = ExitCode.Failure;
  error(message);
}
function debug(message) {
  issueCommand("debug", {}, message);
}
function error(message, properties = {}) {
  issueCommand("error", toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
function warning(message, properties = {}) {
  issueCommand("warning", toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
function info(message) {
  process.stdout.write(message + os4.EOL);
}

// src/merge/merge.ts
import { createHash as createHash19 } from "node:crypto";
import { createReadStream as createReadStream6 } from "node:fs";
import { buffer as readAll2 } from "node:stream/consumers";

// src/core/errors.ts
import { types } from "node:util";

// src/core/format.ts
function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
function isUnsafeForDisplay(code) {
  return code <= 31 || code >= 127 && code <= 159 || code >= 8234 && code <= 8238 || code >= 8294 && code <= 8297 || code >= 55296 && code <= 57343;
}
function escapeCodePoint(code) {
  return code <= 255 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}
function printableText(value) {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (isUnsafeForDisplay(code)) out += escapeCodePoint(code);
    else out += ch;
  }
  return out;
}
function printableLines(text) {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch !== "\n" && ch !== "	" && isUnsafeForDisplay(code)) out += escapeCodePoint(code);
    else out += ch;
  }
  return out;
}
var NAMED_ESCAPES = {
  "\0": "\\0",
  "\b": "\\b",
  "	": "\\t",
  "\n": "\\n",
  "\v": "\\v",
  "\f": "\\f",
  "\r": "\\r"
};
function isControlCharacter(code) {
  return code <= 31 || code >= 127 && code <= 159;
}
function hex4(code) {
  return code.toString(16).toUpperCase().padStart(4, "0");
}
function describeCharacter(ch) {
  const code = ch.codePointAt(0) ?? 0;
  const named = NAMED_ESCAPES[ch];
  if (named !== void 0) return `'${named}' (U+${hex4(code)})`;
  if (code >= 55296 && code <= 57343) return `U+${hex4(code)} (lone surrogate)`;
  if (isControlCharacter(code)) return `U+${hex4(code)}`;
  return `'${ch}'`;
}
function printable(value, max = 120) {
  let out = "";
  let count = 0;
  for (const ch of value) {
    if (count === max) {
      out += `\u2026(${Array.from(value).length} characters)`;
      break;
    }
    count++;
    const code = ch.codePointAt(0) ?? 0;
    const named = NAMED_ESCAPES[ch];
    if (named !== void 0) out += named;
    else if (isUnsafeForDisplay(code)) out += escapeCodePoint(code);
    else if (ch === "'" || ch === "\\") out += `\\${ch}`;
    else out += ch;
  }
  return `'${out}'`;
}

// src/core/secrets.ts
var literals = /* @__PURE__ */ new Set();
var originals = /* @__PURE__ */ new Map();
var listeners = /* @__PURE__ */ new Set();
var DEFAULT_SECRET_LABEL = "a token or password Ferry was given";
var MIN_SECRET_LENGTH = 6;
function registerSecret(value, label2) {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  const isNew = !originals.has(value);
  literals.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) literals.add(encoded);
  if (label2 !== void 0 || isNew) originals.set(value, label2 ?? DEFAULT_SECRET_LABEL);
  if (isNew) for (const listener of listeners) listener(value);
}
function onSecretRegistered(listener) {
  listeners.add(listener);
  for (const value of originals.keys()) listener(value);
  return () => listeners.delete(listener);
}
function registeredLiterals() {
  return literals;
}

// src/core/redact.ts
var SECRET_QUERY_KEYS = /* @__PURE__ */ new Set([
  "sig",
  "signature",
  "se",
  "st",
  "sp",
  "skoid",
  "sktid",
  "skt",
  "ske",
  "sks",
  "skv",
  "token",
  "access_token",
  "code",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token"
]);
var REDACTED = "***";
function redactUrl(input) {
  let url;
  try {
    url = new URL(String(input));
  } catch {
    return redactText(String(input));
  }
  if (url.username || url.password) {
    url.username = url.username ? REDACTED : "";
    url.password = url.password ? REDACTED : "";
  }
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_KEYS.has(key.toLowerCase())) url.searchParams.set(key, REDACTED);
  }
  return url.toString();
}
function urlWithoutQuery(input) {
  try {
    const url = new URL(String(input));
    url.search = "";
    url.hash = "";
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return redactText(String(input));
  }
}
var PATTERNS = [
  [/(authorization\s*[:=]\s*)(bearer|basic|token)\s+[^\s"',]+/gi, `$1$2 ${REDACTED}`],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/(\b(?:sig|signature|token|access_token|x-amz-signature|x-amz-credential)=)[^&\s"'#]+/gi, `$1${REDACTED}`],
  [/(\/\/[^/\s:@]*:)[^@/\s]+@/g, `$1${REDACTED}@`],
  // JWTs (runtime tokens) anywhere in free text.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED]
];
var REDACTING = /* @__PURE__ */ Symbol("ferry.redacting-logger");
function redactingLogger(logger) {
  if (logger[REDACTING]) return logger;
  const wrapped = {
    debug: (message) => logger.debug(redactText(message)),
    info: (message) => logger.info(redactText(message)),
    warn: (message) => logger.warn(redactText(message)),
    error: (message) => logger.error(redactText(message))
  };
  Object.defineProperty(wrapped, REDACTING, { value: true });
  return wrapped;
}
function redactText(text) {
  let out = text;
  for (const secret of registeredLiterals()) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

// src/core/errors.ts
var BRAND = /* @__PURE__ */ Symbol.for("ferry.error");
var FerryError = class _FerryError extends Error {
  name = "FerryError";
  code;
  context;
  /** True when repeating the same call may succeed (network faults, 5xx, 429). */
  retryable;
  constructor(code, message, options = {}) {
    const context = sanitizeContext(options.context ?? {});
    super(
      redactText(withContext(message, context)),
      options.cause === void 0 ? void 0 : { cause: scrubCause(options.cause) }
    );
    this.code = code;
    this.context = Object.freeze(context);
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, BRAND, { value: true });
  }
  /** Works across jest VM realms, where `instanceof` on a class from another realm fails. */
  static [Symbol.hasInstance](value) {
    if (this !== _FerryError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isFerryError(value);
  }
  toJSON() {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      context: this.context
    };
  }
};
function addErrorContext(error2, extra) {
  const own = error2.context;
  const suffix = redactText(withContext("", own));
  const base = suffix !== "" && error2.message.endsWith(suffix) ? error2.message.slice(0, -suffix.length) : error2.message;
  const merged = sanitizeContext({ ...own, ...extra });
  const message = redactText(withContext(base, merged));
  const oldHead = `${error2.name}: ${error2.message}`;
  Object.defineProperty(error2, "context", {
    value: Object.freeze(merged),
    enumerable: true,
    configurable: true,
    writable: false
  });
  error2.message = message;
  if (error2.stack?.startsWith(oldHead))
    error2.stack = `${error2.name}: ${message}${error2.stack.slice(oldHead.length)}`;
  return error2;
}
function isFerryError(value) {
  return typeof value === "object" && value !== null && value[BRAND] === true;
}
var HttpError = class extends FerryError {
  name = "HttpError";
  status;
  /** The first 200 characters of the response body, scrubbed. */
  bodySnippet;
  constructor(code, message, status, bodySnippet, options = {}) {
    super(code, message, { ...options, context: { ...options.context, status } });
    this.status = status;
    this.bodySnippet = redactText(bodySnippet.slice(0, 200));
  }
};
var NetworkError = class extends FerryError {
  name = "NetworkError";
  /** The system error code, e.g. `ECONNRESET`. */
  errno;
  constructor(message, errno2, options = {}) {
    super(errno2 === "ETIMEDOUT" ? "ERR_FERRY_TIMEOUT" : "ERR_FERRY_NETWORK", message, {
      ...options,
      retryable: true
    });
    this.errno = errno2;
  }
};
var ValidationError = class extends FerryError {
  name = "ValidationError";
  constructor(code, message, context = {}) {
    super(code, message, { context });
  }
};
var IntegrityError = class extends FerryError {
  name = "IntegrityError";
};
var RateLimitedError = class extends FerryError {
  name = "RateLimitedError";
  origin;
  resetAt;
  /** True when no request was sent: the answer was remembered. */
  remembered;
  constructor(origin, resetAt, remembered, options = {}) {
    super(
      "ERR_FERRY_RATE_LIMITED",
      `API rate limit of ${origin} is spent until ${resetAt.toISOString()}` + (remembered ? " (remembered from an earlier answer; no request sent)" : ""),
      options
    );
    this.origin = origin;
    this.resetAt = resetAt;
    this.remembered = remembered;
  }
};
var AbortError = class extends FerryError {
  name = "AbortError";
  constructor(reason, context = {}) {
    super("ERR_FERRY_ABORTED", "The operation was aborted", { cause: reason, context });
  }
};
function sanitizeContext(context) {
  const out = { ...context };
  if (out.url !== void 0) out.url = redactUrl(out.url);
  return out;
}
function withContext(message, context) {
  const parts = [];
  if (context.operation) parts.push(`operation ${context.operation}`);
  if (context.artifactName !== void 0) parts.push(`artifact '${printableText(context.artifactName)}'`);
  if (context.artifactId !== void 0) parts.push(`artifact id ${context.artifactId}`);
  if (context.digest !== void 0) parts.push(`digest ${context.digest}`);
  if (context.file !== void 0) parts.push(`file '${printableText(context.file)}'`);
  if (context.attempt !== void 0 && context.attempt > 1) parts.push(`attempt ${context.attempt}`);
  return parts.length ? `${message} (${parts.join(", ")})` : message;
}
function scrubCause(cause) {
  if (isFerryError(cause)) return cause;
  if (cause instanceof Error || types.isNativeError(cause)) {
    const copy = new Error(redactText(cause.message));
    copy.name = cause.name;
    const code = cause.code;
    if (code !== void 0) copy.code = code;
    if (cause.stack) copy.stack = redactText(cause.stack);
    return copy;
  }
  return typeof cause === "string" ? redactText(cause) : cause;
}

// src/backends/backend.ts
function wholeArtifacts(backend, refuse) {
  if (backend.downloadVerified === void 0 || backend.uploadStream === void 0) throw refuse();
  return backend;
}

// src/backends/results/content-disposition.ts
import path from "node:path";
function fileNameFromDisposition(header4, fallback) {
  const candidates = [];
  if (header4) {
    const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header4);
    if (extended?.[1]) candidates.push(safeDecode(extended[1].trim()));
    const plain = /filename\s*=\s*"((?:[^"\\]|\\.)*)"|filename\s*=\s*([^;]+)/.exec(header4);
    const value = plain?.[1] ?? plain?.[2];
    if (value) candidates.push(value.trim());
  }
  for (const candidate of candidates) {
    const safe = sanitizeBaseName(candidate);
    if (safe) return safe;
  }
  return sanitizeBaseName(fallback) ?? "artifact";
}
function safeDecode(value) {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
var WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;
function sanitizeBaseName(name) {
  const base = path.posix.basename(name.replace(/\\/g, "/"));
  const cleaned = base.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, "_").replace(/[. ]+$/, "");
  if (!cleaned || cleaned === "." || cleaned === ".." || WINDOWS_RESERVED.test(cleaned) || cleaned.length > 255)
    return void 0;
  return cleaned;
}

// src/backends/legacy/contracts.ts
var API_VERSION = "6.0-preview";
var UPLOAD_USER_AGENT = "@actions/artifact-upload";
var DOWNLOAD_USER_AGENT = "@actions/artifact-download";

// src/transport/stall-watchdog.ts
var DEFAULT_STALL_POLICY = Object.freeze({
  minBytesPerSecond: 1024,
  windowMs: 6e4
});
var StalledTransferError = class extends FerryError {
  name = "StalledTransferError";
  /** Bytes that arrived in the last window. */
  bytesInWindow;
  windowMs;
  minBytesPerSecond;
  constructor(what, bytesInWindow, policy, context) {
    super(
      "ERR_FERRY_TIMEOUT",
      `${what} stalled: ${bytesInWindow} bytes in the last ${formatSeconds(policy.windowMs)}, below the minimum of ${policy.minBytesPerSecond} bytes/s (options minBytesPerSecond / stallWindowMs); the connection was dropped`,
      { retryable: true, context }
    );
    this.bytesInWindow = bytesInWindow;
    this.windowMs = policy.windowMs;
    this.minBytesPerSecond = policy.minBytesPerSecond;
  }
};
var RateWindow = class {
  #policy;
  #samples;
  #total = 0;
  constructor(policy, startedAt) {
    this.#policy = policy;
    this.#samples = [{ at: startedAt, total: 0 }];
  }
  add(bytes) {
    this.#total += bytes;
  }
  /** Records a sample at `now` and returns the bytes of the last window if that is a stall. */
  check(now) {
    const { windowMs, minBytesPerSecond } = this.#policy;
    this.#samples.push({ at: now, total: this.#total });
    while (this.#samples.length > 1 && (this.#samples[1]?.at ?? now) <= now - windowMs) this.#samples.shift();
    const base = this.#samples[0];
    if (!base || now - base.at < windowMs) return void 0;
    const inWindow = this.#total - base.total;
    return inWindow < minBytesPerSecond * windowMs / 1e3 ? inWindow : void 0;
  }
};
function watchThroughput(policy, what, context, onStall) {
  if (!policy || policy.minBytesPerSecond <= 0 || policy.windowMs <= 0) {
    return { add: () => void 0, stop: () => void 0 };
  }
  const window = new RateWindow(policy, Date.now());
  const timer = setInterval(
    () => {
      const bytes = window.check(Date.now());
      if (bytes === void 0) return;
      clearInterval(timer);
      onStall(new StalledTransferError(what, bytes, policy, context));
    },
    Math.max(5, Math.floor(policy.windowMs / 4))
  );
  timer.unref();
  return { add: (bytes) => window.add(bytes), stop: () => clearInterval(timer) };
}
function formatSeconds(ms) {
  return ms >= 1e3 && ms % 1e3 === 0 ? `${ms / 1e3} s` : `${(ms / 1e3).toFixed(2)} s`;
}

// src/transport/body.ts
var DRAIN_LIMIT = 1024 * 1024;
function readBody(res, limit = Number.POSITIVE_INFINITY) {
  const drainLimit = Number.isFinite(limit) ? Math.max(limit, DRAIN_LIMIT) : limit;
  return new Promise((resolve2, reject) => {
    const chunks = [];
    let kept = 0;
    let seen = 0;
    const onData = (chunk) => {
      seen += chunk.length;
      if (kept < limit) {
        const take = chunk.subarray(0, Math.min(chunk.length, limit - kept));
        chunks.push(take);
        kept += take.length;
      }
      if (seen > drainLimit) {
        res.off("data", onData);
        resolve2(Buffer.concat(chunks, kept));
        res.destroy();
      }
    };
    res.on("data", onData);
    res.once("end", () => resolve2(Buffer.concat(chunks, kept)));
    res.once("error", reject);
    res.once("aborted", () => reject(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
  });
}
var DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
function responseTooLarge(what, limit, limitName, context) {
  return new FerryError(
    "ERR_FERRY_RESPONSE_TOO_LARGE",
    `${what} is larger than the limit of ${limit} bytes (${limitName}); refused without reading the rest`,
    { context, retryable: false }
  );
}
function readLimitedBody(res, limit) {
  const tooLarge = () => responseTooLarge(`The ${limit.call} answer`, limit.maxBytes, "maxResponseBytes", limit.context);
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit.maxBytes) {
    res.destroy();
    return Promise.reject(tooLarge());
  }
  let watchdogStop = () => void 0;
  return new Promise((resolve2, reject) => {
    const chunks = [];
    let kept = 0;
    const watchdog = watchThroughput(limit.stall, `The ${limit.call} answer`, limit.context, (error2) => {
      reject(error2);
      res.destroy();
    });
    watchdogStop = watchdog.stop;
    const onData = (chunk) => {
      kept += chunk.length;
      watchdog.add(chunk.length);
      if (kept > limit.maxBytes) {
        res.off("data", onData);
        reject(tooLarge());
        res.destroy();
        return;
      }
      chunks.push(chunk);
    };
    res.on("data", onData);
    res.once("end", () => resolve2(Buffer.concat(chunks, kept)));
    res.once("error", reject);
    res.once("aborted", () => reject(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
  }).finally(() => watchdogStop());
}
async function readText(res, limit = { maxBytes: DEFAULT_MAX_RESPONSE_BYTES, call: "text" }) {
  return (await readLimitedBody(res, limit)).toString("utf8");
}
async function readJson(res, limit = { maxBytes: DEFAULT_MAX_RESPONSE_BYTES, call: "JSON" }) {
  return parseJson(await readText(res, limit));
}
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (error2) {
    throw notJsonError(`expected a JSON response body, got: ${text.slice(0, 100)}`, error2);
  }
}
function notJsonError(message, cause) {
  const code = "ERR_FERRY_BAD_JSON";
  return Object.assign(new Error(message), cause === void 0 ? { code } : { code, cause });
}
async function discardBody(res) {
  await readBody(res, 0);
}

// src/backends/legacy/urls.ts
function artifactsUrl(runtimeUrl, runId, extra = {}) {
  const base = runtimeUrl.endsWith("/") ? runtimeUrl : `${runtimeUrl}/`;
  const url = new URL(`${base}_apis/pipelines/workflows/${encodeURIComponent(runId)}/artifacts`);
  url.searchParams.append("api-version", API_VERSION);
  for (const [key, value] of Object.entries(extra)) url.searchParams.append(key, value);
  return url.toString();
}
function itemUrl(containerUrl2, itemPath) {
  const url = new URL(containerUrl2);
  url.searchParams.append("itemPath", itemPath);
  return url.toString();
}
function itemUrlBuilder(containerUrl2) {
  const base = new URL(containerUrl2);
  if (base.search !== "" || base.hash !== "" || containerUrl2.includes("?") || containerUrl2.includes("#")) {
    return (itemPath) => itemUrl(containerUrl2, itemPath);
  }
  const prefix = `${base.toString()}?itemPath=`;
  return (itemPath) => {
    const encoded = formEncode(itemPath);
    return encoded === void 0 ? itemUrl(containerUrl2, itemPath) : prefix + encoded;
  };
}
function formEncode(value) {
  let encoded;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    return void 0;
  }
  return encoded.replace(
    /%20|[!'()~]/g,
    (c) => c === "%20" ? "+" : `%${c.charCodeAt(0).toString(16).toUpperCase()}`
  );
}
var jsonHeaders = {
  accept: `application/json;api-version=${API_VERSION}`,
  "content-type": "application/json"
};

// src/backends/legacy/artifact-service.ts
var ArtifactService = class {
  #config;
  #ctx;
  constructor(config, ctx) {
    this.#config = config;
    this.#ctx = ctx;
  }
  /** The token (when there is one) and the operation every call carries. */
  #common() {
    return {
      ...this.#config.token ? { bearer: this.#config.token } : {},
      operation: this.#ctx.operation
    };
  }
  /** Creates the file container for artifact `name`. */
  create(name, retentionDays2, context) {
    return this.#ctx.http.request(
      {
        ...this.#common(),
        slot: 0,
        method: "POST",
        url: artifactsUrl(this.#config.runtimeUrl, this.#config.runId),
        headers: jsonHeaders,
        body: JSON.stringify(
          {
            Type: "actions_storage",
            Name: name,
            ...retentionDays2 ? { RetentionDays: retentionDays2 } : {}
          },
          null,
          2
        ),
        context,
        call: "create artifact container",
        describeFailure: (status) => status === 403 ? {
          code: "ERR_FERRY_QUOTA",
          message: "Artifact storage quota has been hit, or storage is not enabled on this server"
        } : status === 400 ? {
          code: "ERR_FERRY_INVALID_NAME",
          message: `The server rejected the artifact name '${name}'`
        } : void 0
      },
      (res) => readJson(res, {
        maxBytes: this.#ctx.http.maxResponseBytes,
        call: "create artifact container",
        context,
        stall: this.#ctx.http.stallPolicy
      })
    );
  }
  /** PATCHes the total original size: the container is complete from here on. */
  async finalize(name, size, context) {
    await this.#ctx.http.request(
      {
        ...this.#common(),
        slot: 0,
        method: "PATCH",
        phase: "finalize",
        url: artifactsUrl(this.#config.runtimeUrl, this.#config.runId, { artifactName: name }),
        headers: jsonHeaders,
        body: JSON.stringify({ Size: size }, null, 2),
        context,
        call: "finalize artifact (PATCH size)",
        describeFailure: (status) => status === 404 ? { code: "ERR_FERRY_NOT_FOUND", message: `An artifact with the name ${name} was not found` } : void 0
      },
      discardBody
    );
  }
  /** The one artifact called `name` in the run. */
  async find(name, operation) {
    const matches = (await this.list(operation, name)).filter((a) => a.name === name);
    if (matches.length > 1) {
      throw new FerryError(
        "ERR_FERRY_PROTOCOL",
        `The service lists ${matches.length} artifacts named ${printable(name)} in run ${this.#config.runId}; a legacy artifact name is unique within a run, so none of them is used`,
        { context: { operation, artifactName: name } }
      );
    }
    const found = matches[0];
    if (!found) {
      throw new FerryError(
        "ERR_FERRY_NOT_FOUND",
        `No artifact named ${printable(name)} in run ${this.#config.runId}`,
        {
          context: { operation, artifactName: name }
        }
      );
    }
    return found;
  }
  /** `artifactName`: the artifact being looked for, so a failed listing names it. */
  async list(operation, artifactName) {
    const listed = await this.#ctx.http.request(
      {
        ...this.#common(),
        slot: 0,
        method: "GET",
        url: artifactsUrl(this.#config.runtimeUrl, this.#config.runId),
        headers: jsonHeaders,
        operation: this.#ctx.operation,
        context: { operation, ...artifactName !== void 0 ? { artifactName } : {} },
        call: "list artifacts",
        // Gitea answers 404 for a run without artifacts where GitHub answers count 0.
        okStatuses: [404]
      },
      async (res) => {
        if (res.statusCode === 404) {
          await discardBody(res);
          return { count: 0, value: [] };
        }
        return readJson(res, {
          maxBytes: this.#ctx.http.maxResponseBytes,
          call: "list artifacts",
          stall: this.#ctx.http.stallPolicy
        });
      }
    );
    return Array.isArray(listed.value) ? listed.value : [];
  }
};
function toInfo(a) {
  const id = Number(a.containerId);
  return {
    name: a.name,
    id: Number.isSafeInteger(id) ? id : void 0,
    // A fractional, negative or above-2^53 size from the service is no size at all.
    size: typeof a.size === "number" && Number.isSafeInteger(a.size) && a.size >= 0 ? a.size : 0,
    createdAt: void 0,
    digest: void 0
  };
}

// src/backends/legacy/download.ts
import { createWriteStream } from "node:fs";
import { mkdir as mkdir2, stat as stat3 } from "node:fs/promises";
import path7 from "node:path";
import { finished, pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";

// src/pack/conflict.ts
import { createHash } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { link, lstat as lstat2, open as open2, rename as rename2, rm as rm2 } from "node:fs/promises";
import { crc32 } from "node:zlib";
var CONFLICT_POLICIES = ["error", "overwrite", "skip"];
var OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);
var READ_SIZE = 1024 * 1024;
async function digestRegularFile(file) {
  let handle;
  try {
    handle = await open2(file, OPEN_FLAGS);
  } catch (error2) {
    const code = error2.code;
    if (code === "ELOOP" || code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return void 0;
    throw error2;
  }
  try {
    if (!(await handle.stat()).isFile()) return void 0;
    const hash = createHash("sha256");
    let crc = 0;
    let size = 0;
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    for (; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, READ_SIZE, size);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      crc = crc32(chunk, crc);
      size += bytesRead;
    }
    return { size, sha256: hash.digest("hex"), crc32: crc };
  } finally {
    await handle.close();
  }
}
async function compareExisting(dest, expected) {
  let stats;
  try {
    stats = await lstat2(dest);
  } catch (error2) {
    const code = error2.code;
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw error2;
  }
  if (stats.isDirectory()) return "directory";
  if (!stats.isFile() || stats.size !== expected.size) return "different";
  const actual = await digestRegularFile(dest);
  if (actual === void 0 || actual.size !== expected.size) return "different";
  if (expected.crc32 !== void 0 && actual.crc32 !== expected.crc32 >>> 0) return "different";
  return actual.sha256 === await expected.sha256() ? "identical" : "different";
}
function conflictError(file, where, context = {}) {
  return new FerryError(
    "ERR_FERRY_CONFLICT",
    `${printable(file)} already exists in ${where} with different content, and the conflict policy is 'error' (identical files are accepted). Use 'overwrite' to replace it or 'skip' to keep it (option 'conflict' of downloadArtifact, 'existing' of extractZip), or download into an empty directory`,
    { context }
  );
}
async function placeNoClobber(staged, dest) {
  try {
    await link(staged, dest);
  } catch (error2) {
    const code = error2.code;
    if (code === "EEXIST") return false;
    if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "EXDEV", "ENOSYS"].includes(code ?? "")) throw error2;
    try {
      await lstat2(dest);
      return false;
    } catch {
      await rename2(staged, dest);
      return true;
    }
  }
  await rm2(staged, { force: true });
  return true;
}
function checkConflictPolicy(value, option = "conflict") {
  if (value === void 0) return void 0;
  if (typeof value !== "string" || !CONFLICT_POLICIES.includes(value)) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `Option '${option}' must be one of ${CONFLICT_POLICIES.map((p) => `'${p}'`).join(", ")}; got ${typeof value === "string" ? printable(value) : String(value)}`,
      { option }
    );
  }
  return value;
}

// src/pack/fs-errors.ts
import { readdir as readdir2, readFile, stat as stat2, statfs } from "node:fs/promises";
import path2 from "node:path";
var NO_SPACE = /* @__PURE__ */ new Set(["ENOSPC", "EDQUOT"]);
var NO_DESCRIPTORS = /* @__PURE__ */ new Set(["EMFILE", "ENFILE"]);
var MAX_CAUSE_DEPTH = 8;
function findResourceFailure(error2) {
  let current = error2;
  for (let depth2 = 0; depth2 < MAX_CAUSE_DEPTH && typeof current === "object" && current !== null; depth2++) {
    const record = current;
    for (const candidate of [record.code, record.errno]) {
      if (typeof candidate === "string" && (NO_SPACE.has(candidate) || NO_DESCRIPTORS.has(candidate))) {
        return { code: candidate, path: typeof record.path === "string" ? record.path : void 0 };
      }
    }
    current = record.cause;
  }
  return void 0;
}
async function asResourceError(error2, info2 = {}) {
  if (isFerryError(error2) && error2.code === "ERR_FERRY_NO_SPACE") return error2;
  if (isFerryError(error2) && error2.code === "ERR_FERRY_TOO_MANY_OPEN_FILES") {
    if (info2.concurrency === void 0 || error2.cause === void 0) return error2;
    return asResourceError(error2.cause, { ...info2, context: { ...info2.context, ...error2.context } });
  }
  const failure = findResourceFailure(error2);
  if (failure === void 0) return error2;
  const own = isFerryError(error2) ? error2.context : {};
  const context = {};
  for (const source of [own, info2.context ?? {}]) {
    for (const key of ["operation", "artifactName", "file"]) {
      if (context[key] === void 0 && source[key] !== void 0) context[key] = source[key];
    }
  }
  if (NO_SPACE.has(failure.code)) {
    const written = info2.removedOnFailure ?? info2.writing ?? failure.path;
    const directory = info2.directory ?? (written === void 0 ? void 0 : path2.dirname(written));
    const free = directory === void 0 ? void 0 : await freeBytes(directory);
    const reclaimed = info2.removedOnFailure === void 0 ? 0 : await bytesUnder(info2.removedOnFailure);
    const needs = info2.neededBytes === void 0 ? "" : `; ${formatBytes2(info2.neededBytes)} to write`;
    const has = free === void 0 ? "" : `${needs ? "," : ";"} ${formatBytes2(free + reclaimed)} free there`;
    const where = directory === void 0 ? "" : ` in ${directory}`;
    const what = failure.code === "EDQUOT" ? "Disk quota exceeded" : "Not enough disk space";
    const move = context.operation === "upload" ? "'tempDir'" : "the download path or 'tempDir'";
    return new FerryError(
      "ERR_FERRY_NO_SPACE",
      `${what}${where} (${failure.code})${needs}${has}. Free some space, or point ${move} at a larger file system`,
      { cause: error2, context, retryable: false }
    );
  }
  const limit = await openFileLimit();
  const reason = failure.code === "ENFILE" ? "the system-wide table of open files is full (ENFILE)" : `the process reached its limit of ${limit === void 0 ? "open" : `${limit} open`} file descriptors (EMFILE, 'ulimit -n')`;
  const now = info2.concurrency === void 0 ? "" : `, now ${info2.concurrency}`;
  return new FerryError(
    "ERR_FERRY_TOO_MANY_OPEN_FILES",
    `Too many open files: ${reason}. Lower the concurrency (option 'concurrency' or --concurrency${now}) or raise the limit with 'ulimit -n'`,
    { cause: error2, context, retryable: false }
  );
}
async function freeBytes(directory) {
  let current = path2.resolve(directory);
  for (; ; ) {
    try {
      const stats = await statfs(current);
      return stats.bavail * stats.bsize;
    } catch {
      const parent = path2.dirname(current);
      if (parent === current) return void 0;
      current = parent;
    }
  }
}
async function bytesUnder(directory) {
  try {
    const entries = await readdir2(directory, { recursive: true });
    let total = 0;
    for (const entry of entries) {
      const info2 = await stat2(path2.join(directory, entry)).catch(() => void 0);
      if (info2?.isFile()) total += info2.size;
    }
    return total;
  } catch {
    return 0;
  }
}
async function openFileLimit() {
  try {
    const text = await readFile("/proc/self/limits", "utf8");
    const match = /^Max open files\s+(\d+)/m.exec(text);
    return match ? Number(match[1]) : void 0;
  } catch {
    return void 0;
  }
}
function formatBytes2(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${bytes} bytes (${value.toFixed(1)} ${units[unit]})`;
}

// src/pack/held-target.ts
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants as fsConstants2,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync
} from "node:fs";
import path3 from "node:path";
var DIRECTORY_FLAGS = fsConstants2.O_RDONLY | (fsConstants2.O_DIRECTORY ?? 0) | (fsConstants2.O_NOFOLLOW ?? 0);
var ROOT_FLAGS = fsConstants2.O_RDONLY | (fsConstants2.O_DIRECTORY ?? 0);
var DEFAULT_MAX_OPEN = 16;
var fdPath = (fd) => `/proc/self/fd/${fd}`;
function parentKey(key) {
  const slash = key.lastIndexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}
function baseName(key) {
  return key.slice(key.lastIndexOf("/") + 1);
}
function errno(error2) {
  return error2?.code;
}
function procFdWorks(fd) {
  if (process.platform !== "linux" && process.platform !== "android") return false;
  try {
    const viaProc = statSync(fdPath(fd));
    const held = fstatSync(fd);
    return viaProc.dev === held.dev && viaProc.ino === held.ino;
  } catch {
    return false;
  }
}
var HeldTarget = class _HeldTarget {
  /** The target as the caller named it (absolute), for messages. */
  root;
  mode;
  #context;
  #maxOpen;
  #rootFd;
  /** Real path of the root, for the checks mode. */
  #rootReal;
  /** Held directory descriptors by key, least recently used first. */
  #open = /* @__PURE__ */ new Map();
  /**
   * The key last in {@link #open}. Using it again changes no order, so the map is left alone: a
   * delete and a set for every file placed made V8 rebuild the map's table again and again, and
   * those tables outlived scavenges (~5 MiB of them in a 100,000-file extraction).
   */
  #newest;
  #stagings = /* @__PURE__ */ new Set();
  #closed = false;
  constructor(root, fd, options) {
    this.root = root;
    this.#rootFd = fd;
    this.#context = options.context;
    this.#maxOpen = Math.max(2, options.maxOpenDirectories ?? DEFAULT_MAX_OPEN);
    this.mode = fd === void 0 ? "checks" : "descriptors";
    this.#rootReal = realpathSync(root);
  }
  /**
   * Holds `root`, which must exist and be a directory. The root's own path is the caller's
   * choice and is followed as given (a link to a directory is fine); from here on it is held,
   * so renaming it or any of its ancestors, or swapping it for a link, no longer redirects
   * anything.
   */
  static open(root, options = {}) {
    const absolute = path3.resolve(root);
    const notADirectory = (cause) => new FerryError(
      "ERR_FERRY_CONFLICT",
      `The target directory ${printable(absolute)} exists and is not a directory`,
      { context: options.context, ...cause === void 0 ? {} : { cause } }
    );
    let fd;
    if (options.mode !== "checks" && (process.platform === "linux" || process.platform === "android")) {
      try {
        fd = openSync(absolute, ROOT_FLAGS);
      } catch (error2) {
        if (errno(error2) === "ENOTDIR") throw notADirectory(error2);
        throw error2;
      }
      if (!procFdWorks(fd)) {
        closeSync(fd);
        fd = void 0;
      }
    }
    if (fd === void 0 && !statSync(absolute).isDirectory()) throw notADirectory();
    try {
      return new _HeldTarget(absolute, fd, options);
    } catch (error2) {
      if (fd !== void 0) closeSync(fd);
      throw error2;
    }
  }
  /**
   * A path addressing directory `key` ('/'-separated, relative to the root; '' is the root), or
   * undefined when it does not exist. Each level is opened without following links: a link fails
   * with `ERR_FERRY_UNSAFE_PATH`, a file with `ERR_FERRY_CONFLICT`.
   */
  directory(key) {
    return this.#resolve(key, void 0);
  }
  /**
   * Creates the missing levels of directory `key` (each with `modeOf(levelKey)`, default 0o777,
   * under the umask as always) and returns the keys it created, parents first.
   */
  ensureDirectory(key, modeOf = () => void 0) {
    const created2 = [];
    this.#resolve(key, { modeOf, created: created2 });
    return created2;
  }
  /**
   * A path naming entry `key` inside its held parent directory, which must exist (an error
   * naming the entry otherwise). The entry itself is whatever is there: `rename` replaces it,
   * `link` and `open(O_EXCL)` refuse it, `open(O_NOFOLLOW)` does not follow it.
   */
  entry(key) {
    const parent = this.#resolve(parentKey(key), void 0);
    if (parent === void 0) {
      throw new FerryError(
        "ERR_FERRY_CONFLICT",
        `The directory of ${printable(key)} vanished from the target directory during the download`,
        { context: this.#context }
      );
    }
    return this.mode === "descriptors" ? `${parent}/${baseName(key)}` : path3.join(parent, baseName(key));
  }
  /** `lstat` of entry `key`, or undefined when it (or its directory) does not exist. */
  lstatEntry(key) {
    if (this.#resolve(parentKey(key), void 0) === void 0) return void 0;
    try {
      return lstatSync(this.entry(key));
    } catch (error2) {
      if (errno(error2) === "ENOENT" || errno(error2) === "ENOTDIR") return void 0;
      throw error2;
    }
  }
  /**
   * Renames `from` to entry `key`, replacing what is there as a directory entry (a file or a
   * link; a link is never followed), and confirms the placement (checks mode).
   */
  renameIn(from, key) {
    const before = this.mode === "checks" ? lstatSync(from) : void 0;
    try {
      renameSync(from, this.entry(key));
    } catch (error2) {
      throw this.#vanishedOr(error2, from, key);
    }
    if (before !== void 0) this.confirmPlaced(key, before);
  }
  /**
   * Moves `from` to entry `key` only if nothing is there (see `placeNoClobber`) and confirms the
   * placement (checks mode). False, with `from` left, when something is there.
   */
  async linkIn(from, key) {
    const before = this.mode === "checks" ? lstatSync(from) : void 0;
    let placed;
    try {
      placed = await placeNoClobber(from, this.entry(key));
    } catch (error2) {
      throw this.#vanishedOr(error2, from, key);
    }
    if (placed && before !== void 0) this.confirmPlaced(key, before);
    return placed;
  }
  /**
   * ENOENT while `from` is still there: the held directory of `key` was removed (or replaced by
   * a rename over it) during the download, so there is no longer a place for the file.
   */
  #vanishedOr(error2, from, key) {
    if (errno(error2) !== "ENOENT" || lstatOrUndefined(from) === void 0) return error2;
    return new FerryError(
      "ERR_FERRY_CONFLICT",
      `The directory of ${printable(key)} was removed or replaced in the target directory during the download`,
      { cause: error2, context: this.#context }
    );
  }
  /** Removes directory `key` if it is empty; false if it is not (or is not a directory). */
  removeEmptyDirectory(key) {
    try {
      rmdirSync(this.entry(key));
      return true;
    } catch {
      return false;
    }
  }
  /**
   * Checks mode: verifies that entry `key`, just placed, is the file `placed` (dev/ino) in the
   * expected real directory; anything that went elsewhere through a swapped link is removed again
   * and the placement fails with `ERR_FERRY_UNSAFE_PATH`. Descriptors mode: nothing to verify.
   */
  confirmPlaced(key, placed) {
    if (this.mode === "descriptors") return;
    const parent = parentKey(key);
    const expected = parent === "" ? this.#rootReal : path3.join(this.#rootReal, ...parent.split("/"));
    const named = path3.join(this.root, ...key.split("/"));
    let realParent;
    try {
      realParent = realpathSync(path3.dirname(named));
    } catch {
      realParent = void 0;
    }
    const here = lstatOrUndefined(named);
    if (realParent === expected && here !== void 0 && here.dev === placed.dev && here.ino === placed.ino) {
      return;
    }
    if (realParent !== void 0) {
      const misplaced = path3.join(realParent, path3.basename(named));
      const there = lstatOrUndefined(misplaced);
      if (there !== void 0 && there.dev === placed.dev && there.ino === placed.ino) {
        rmSync(misplaced, { force: true });
      }
    }
    throw this.#unsafe(key, `${printable(parent)} was swapped for a symbolic link while the file was placed`);
  }
  /**
   * Creates a fresh staging directory `<prefix><random>` in the root, held by its own
   * descriptor (not subject to the open-directory bound) until `remove()`.
   */
  createStaging(prefix) {
    const root = this.#rootPath();
    for (let attempt = 0; ; attempt++) {
      const name = `${prefix}${randomBytes(6).toString("hex")}`;
      const named = this.mode === "descriptors" ? `${root}/${name}` : path3.join(root, name);
      try {
        mkdirSync(named, 448);
      } catch (error2) {
        if (errno(error2) === "EEXIST" && attempt < 8) continue;
        throw error2;
      }
      let staging;
      try {
        staging = this.mode === "descriptors" ? this.#heldStaging(name, named) : checkedStaging(name, named);
      } catch (error2) {
        try {
          rmdirSync(named);
        } catch {
        }
        if (["ENOENT", "ENOTDIR", "ELOOP"].includes(errno(error2) ?? "")) {
          throw this.#unsafe(
            name,
            "the staging directory was removed or replaced before it could be opened",
            error2
          );
        }
        throw error2;
      }
      const remove = staging.remove;
      const tracked = {
        name,
        file: staging.file,
        remove: (staged) => {
          this.#stagings.delete(tracked);
          remove(staged);
        }
      };
      this.#stagings.add(tracked);
      return tracked;
    }
  }
  /** Closes every descriptor (staging directories still present are removed first). */
  close() {
    for (const staging of [...this.#stagings]) {
      try {
        staging.remove();
      } catch {
      }
    }
    for (const fd of this.#open.values()) closeSync(fd);
    this.#open.clear();
    this.#newest = void 0;
    if (this.#rootFd !== void 0) closeSync(this.#rootFd);
    this.#rootFd = void 0;
    this.#closed = true;
  }
  #heldStaging(name, named) {
    let fd = this.#openLevel(named, name);
    const held = fdPath(fd);
    const rootFd = this.#rootFd;
    return {
      name,
      // After remove() the number is free again: the next descriptor opened (another download's
      // directory, say) takes it, and the /proc path would lead into that directory.
      file: (file) => fd === void 0 ? stagingGone(name) : `${held}/${file}`,
      remove: (staged) => {
        if (fd === void 0) return;
        try {
          for (const entry of listOr(held, staged)) {
            try {
              unlinkSync(`${held}/${entry}`);
            } catch {
            }
          }
        } finally {
          closeSync(fd);
        }
        fd = void 0;
        try {
          if (rootFd !== void 0) rmdirSync(`${fdPath(rootFd)}/${name}`);
        } catch {
        }
      }
    };
  }
  #rootPath() {
    if (this.#closed) throw new Error("HeldTarget used after close()");
    return this.#rootFd !== void 0 ? fdPath(this.#rootFd) : this.#rootReal;
  }
  #resolve(key, create2) {
    if (key === "") return this.#rootPath();
    return this.mode === "descriptors" ? this.#resolveHeld(key, create2) : this.#resolveChecked(key, create2);
  }
  #resolveHeld(key, create2) {
    const cached = this.#open.get(key);
    if (cached !== void 0) {
      if (key !== this.#newest) {
        this.#open.delete(key);
        this.#open.set(key, cached);
        this.#newest = key;
      }
      return fdPath(cached);
    }
    const parent = this.#resolveParent(parentKey(key), create2);
    if (parent === void 0) return void 0;
    const named = `${parent}/${baseName(key)}`;
    let fd;
    try {
      fd = this.#openLevel(named, key);
    } catch (error2) {
      if (errno(error2) !== "ENOENT") throw error2;
      if (create2 === void 0) return void 0;
      try {
        mkdirSync(named, create2.modeOf(key) ?? 511);
        create2.created.push(key);
      } catch (mkdirError) {
        if (errno(mkdirError) !== "EEXIST") throw mkdirError;
      }
      fd = this.#openLevel(named, key);
    }
    this.#open.set(key, fd);
    this.#newest = key;
    while (this.#open.size > this.#maxOpen) {
      const [oldKey, oldFd] = this.#open.entries().next().value;
      this.#open.delete(oldKey);
      closeSync(oldFd);
    }
    return fdPath(fd);
  }
  /** The parent's held path: the root's, or another level's (recursively). */
  #resolveParent(key, create2) {
    return key === "" ? this.#rootPath() : this.#resolveHeld(key, create2);
  }
  /** Opens one level without following a link; a link or a file there is a typed error. */
  #openLevel(named, key) {
    try {
      return openSync(named, DIRECTORY_FLAGS);
    } catch (error2) {
      const code = errno(error2);
      if (code !== "ELOOP" && code !== "ENOTDIR") throw error2;
      const stats = lstatOrUndefined(named);
      if (stats === void 0) throw error2;
      throw this.#notADirectory(key, stats, error2);
    }
  }
  #resolveChecked(key, create2) {
    let current = this.#rootReal;
    let levelKey = "";
    for (const segment of key.split("/")) {
      levelKey = levelKey === "" ? segment : `${levelKey}/${segment}`;
      current = path3.join(current, segment);
      let stats = lstatOrUndefined(current);
      if (stats === void 0) {
        if (create2 === void 0) return void 0;
        try {
          mkdirSync(current, create2.modeOf(levelKey) ?? 511);
          create2.created.push(levelKey);
        } catch (error2) {
          if (errno(error2) !== "EEXIST") throw error2;
        }
        stats = lstatOrUndefined(current);
        if (stats === void 0) return void 0;
      }
      if (!stats.isDirectory()) throw this.#notADirectory(levelKey, stats);
    }
    return current;
  }
  #notADirectory(key, stats, cause) {
    if (stats.isSymbolicLink()) {
      return this.#unsafe(
        key,
        `${printable(key)} is a symbolic link in the target directory; refusing to follow it`,
        cause
      );
    }
    return new FerryError(
      "ERR_FERRY_CONFLICT",
      `${printable(key)} exists in the target directory and is not a directory`,
      { context: this.#context, ...cause === void 0 ? {} : { cause } }
    );
  }
  #unsafe(key, reason, cause) {
    return new IntegrityError("ERR_FERRY_UNSAFE_PATH", `Unsafe path ${printable(key)}: ${reason}`, {
      context: this.#context,
      ...cause === void 0 ? {} : { cause }
    });
  }
};
function checkedStaging(name, named) {
  let removed = false;
  return {
    name,
    file: (file) => removed ? stagingGone(name) : path3.join(named, file),
    remove: (staged) => {
      if (removed) return;
      removed = true;
      const stats = lstatOrUndefined(named);
      if (!stats?.isDirectory()) return;
      try {
        rmSync(named, { recursive: true, force: true });
      } catch (error2) {
        if (staged === void 0 || !outOfDescriptors(error2)) throw error2;
        for (const entry of staged()) rmSync(path3.join(named, entry), { force: true });
        rmdirSync(named);
      }
    }
  };
}
function stagingGone(name) {
  throw new FerryError(
    "ERR_FERRY_ABORTED",
    `The staging directory ${printable(name)} was removed: the download it belonged to has ended`
  );
}
function outOfDescriptors(error2) {
  return ["EMFILE", "ENFILE"].includes(errno(error2) ?? "");
}
function listOr(held, staged) {
  try {
    return readdirSync(held);
  } catch (error2) {
    if (staged === void 0 || !outOfDescriptors(error2)) throw error2;
    return staged();
  }
}
function lstatOrUndefined(p) {
  try {
    return lstatSync(p);
  } catch {
    return void 0;
  }
}

// src/pack/remove-created.ts
import { rmdir as rmdir2 } from "node:fs/promises";
import path4 from "node:path";
async function removeCreatedChain(target, firstCreated) {
  for (let current = target; ; current = path4.dirname(current)) {
    try {
      await rmdir2(current);
    } catch {
      return;
    }
    if (current === firstCreated || path4.dirname(current) === current) return;
  }
}

// src/pack/small-files.ts
import { writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
var SMALL_FILE_BYTES = 64 * 1024;
function isSmallFile(compressedSize, uncompressedSize) {
  return compressedSize !== void 0 && uncompressedSize !== void 0 && compressedSize <= SMALL_FILE_BYTES && uncompressedSize <= SMALL_FILE_BYTES;
}
function writeSmallFileSync(file, data, options = {}) {
  writeFileSync(file, data, { flag: options.replace === true ? "w" : "wx", mode: options.mode ?? 438 });
}
function gunzipSmallSync(body, maxBytes) {
  try {
    const data = gunzipSync(body, { maxOutputLength: maxBytes + 1 });
    return data.length > maxBytes ? void 0 : data;
  } catch (error2) {
    if (error2.code === "ERR_BUFFER_TOO_LARGE") return void 0;
    throw error2;
  }
}
var CooperativeYield = class {
  constructor(everyMs = 8) {
    this.everyMs = everyMs;
  }
  everyMs;
  #since = performance.now();
  /** Resolves at once when the slice is not used up, else after one turn of the event loop. */
  async maybeYield() {
    if (performance.now() - this.#since < this.everyMs) return;
    await new Promise((resolve2) => setImmediate(resolve2));
    this.#since = performance.now();
  }
};

// src/pack/zip/limits.ts
var DEFAULT_EXTRACT_LIMITS = Object.freeze({
  maxEntries: 1e5,
  maxTotalBytes: 64 * 1024 ** 3,
  maxRatio: 1e3
});
var RATIO_THRESHOLD_BYTES = 1024 * 1024;
var LIMIT_KEYS = ["maxEntries", "maxTotalBytes", "maxRatio"];
function normalizeLimits(limits) {
  const out = { ...DEFAULT_EXTRACT_LIMITS };
  if (limits === void 0) return out;
  if (typeof limits !== "object" || limits === null) {
    throw new ValidationError("ERR_FERRY_INVALID_OPTION", "Option 'limits': must be an object", {
      option: "limits"
    });
  }
  for (const key of Object.keys(limits)) {
    if (!LIMIT_KEYS.includes(key)) {
      throw new ValidationError(
        "ERR_FERRY_INVALID_OPTION",
        `Option 'limits.${key}': unknown option; expected one of ${LIMIT_KEYS.join(", ")}`,
        { option: `limits.${key}` }
      );
    }
  }
  for (const key of LIMIT_KEYS) {
    const value = limits[key];
    if (value === void 0) continue;
    const valid = typeof value === "number" && !Number.isNaN(value) && value > 0 && (key !== "maxEntries" || Number.isInteger(value) || value === Infinity);
    if (!valid) {
      throw new ValidationError(
        "ERR_FERRY_INVALID_OPTION",
        `Option 'limits.${key}': must be a positive ${key === "maxEntries" ? "integer" : "number"} (or Infinity), got ${String(value)}`,
        { option: `limits.${key}` }
      );
    }
    out[key] = value;
  }
  return out;
}
function limitError(what, option, limit, subject = "Zip archive") {
  return new IntegrityError(
    "ERR_FERRY_INTEGRITY",
    `${subject} rejected: ${what}, over the limit of ${limit}. If the ${subject === "Zip archive" ? "archive" : "artifact"} is trusted, raise the option 'limits.${option}'`
  );
}
function checkDeclaredLimits(entries, limits) {
  if (entries.length > limits.maxEntries) {
    throw limitError(`it has ${entries.length} entries`, "maxEntries", limits.maxEntries);
  }
  let total = 0;
  for (const entry of entries) {
    total += entry.uncompressedSize;
    if (total > limits.maxTotalBytes) {
      throw limitError(
        `its entries declare at least ${total} bytes uncompressed`,
        "maxTotalBytes",
        limits.maxTotalBytes
      );
    }
    if (entry.uncompressedSize > RATIO_THRESHOLD_BYTES) {
      const ratio = entry.compressedSize === 0 ? Infinity : entry.uncompressedSize / entry.compressedSize;
      if (ratio > limits.maxRatio) {
        throw limitError(
          `entry ${printable(entry.name)} has a compression ratio of ${ratio === Infinity ? "infinity" : Math.round(ratio)}:1 (${entry.uncompressedSize} bytes from ${entry.compressedSize})`,
          "maxRatio",
          limits.maxRatio
        );
      }
    }
  }
}

// src/transport/url-policy.ts
var SHOWN_URL_CHARS = 200;
function shown(url) {
  const text = urlWithoutQuery(url);
  return text.length > SHOWN_URL_CHARS ? `${text.slice(0, SHOWN_URL_CHARS)}\u2026` : text;
}
function unsafe(message, context) {
  return new FerryError("ERR_FERRY_UNSAFE_URL", message, { context, retryable: false });
}
function parseServerUrl(raw, what, context, base) {
  if (typeof raw !== "string") throw unsafe(`${what} is not a URL (got ${typeof raw})`, context);
  try {
    return base === void 0 ? new URL(raw) : new URL(raw, base);
  } catch {
    throw unsafe(`${what} is not a valid URL: ${JSON.stringify(raw.slice(0, SHOWN_URL_CHARS))}`, context);
  }
}
function assertFetchableUrl(url, what, context) {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw unsafe(
      `Refusing ${what}: ${url.protocol} URLs are not fetched, only http: and https: (${shown(url)})`,
      context
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw unsafe(`Refusing ${what}: the URL carries credentials (user:password@) (${shown(url)})`, context);
  }
}
function assertNoDowngrade(from, to, what, context) {
  if (from.protocol === "https:" && to.protocol !== "https:") {
    throw unsafe(
      `Refusing ${what}: ${shown(from)} is https but it points to ${to.protocol} (${shown(to)}); Ferry never downgrades https`,
      context
    );
  }
}
function assertRedirectAllowed(from, location, context) {
  const next = parseServerUrl(location, "a redirect Location", context, from);
  assertFetchableUrl(next, "redirect", context);
  assertNoDowngrade(from, next, "redirect", context);
  return next;
}
function checkSignedUrl(raw, service, what, context) {
  const url = parseServerUrl(raw, what, context);
  assertFetchableUrl(url, what, context);
  assertNoDowngrade(new URL(service), url, what, context);
  return raw;
}
function checkCredentialedUrl(raw, policy, what, context) {
  const url = parseServerUrl(raw, what, context);
  assertFetchableUrl(url, what, context);
  const runtime = new URL(policy.runtimeUrl);
  assertNoDowngrade(runtime, url, what, context);
  if (policy.token !== void 0 && url.origin !== runtime.origin && !(policy.trustedOrigins ?? []).includes(url.origin)) {
    throw unsafe(
      `Refusing ${what} on ${url.origin}: the runtime token is only sent to ${runtime.origin}; add the origin to trustedOrigins (FERRY_TRUSTED_ORIGINS) if this server is meant to use it (${shown(url)})`,
      context
    );
  }
  return raw;
}
function parseTrustedOrigins(values, fail) {
  return values.map((value) => {
    let url;
    try {
      url = typeof value === "string" ? new URL(value.trim()) : void 0;
    } catch {
      url = void 0;
    }
    const bare = url !== void 0 && (url.protocol === "http:" || url.protocol === "https:") && url.username === "" && url.password === "" && (url.pathname === "/" || url.pathname === "") && url.search === "" && url.hash === "";
    if (!bare) {
      throw fail(
        `must list origins like https://host[:port] (no path, query or credentials); got ${JSON.stringify(String(value).slice(0, 80))}`
      );
    }
    return url.origin;
  });
}

// src/backends/legacy/container-items.ts
var QUOTE = 34;
var BACKSLASH = 92;
var COLON = 58;
var COMMA = 44;
var OPEN_BRACE = 123;
var CLOSE_BRACE = 125;
var OPEN_BRACKET = 91;
var CLOSE_BRACKET = 93;
function isWhitespace(byte) {
  return byte === 32 || byte === 10 || byte === 13 || byte === 9;
}
function badJson(detail) {
  return notJsonError(`expected a JSON container listing, ${detail}`);
}
var ListingScanner = class {
  constructor(options) {
    this.options = options;
  }
  options;
  /** Nesting depth: 0 outside the root object, 1 inside it, 2 inside the `value` array. */
  #depth = 0;
  #inString = false;
  #escaped = false;
  #rootClosed = false;
  /** Inside the root object, the next string is a key (after `{` or `,`). */
  #expectKey = false;
  #readingKey = false;
  /** The key being read, as long as it could still be `value`. */
  #key = "";
  /** The last key read at depth 1, and whether its `:` has been seen. */
  #lastKey = "";
  #afterColon = false;
  #inValueArray = false;
  #sawValueArray = false;
  /** Pieces of the element being cut out, and their total length. */
  #pieces = [];
  #pieceBytes = 0;
  #capturing = false;
  #captureStart = 0;
  /** Bytes seen inside items (all of them, for counting) and outside items. */
  #itemBytes = 0;
  #otherBytes = 0;
  /** Scans one chunk and returns the items completed in it. */
  scan(chunk) {
    const items = [];
    const itemBytesBefore = this.#itemBytes;
    this.#captureStart = 0;
    let nextBackslash = -2;
    for (let i = 0; i < chunk.length; i++) {
      if (this.#inString && !this.#escaped && !this.#readingKey) {
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
        const quote = chunk.indexOf(QUOTE, i);
        const stop = nextBackslash === -1 ? quote : quote === -1 ? nextBackslash : Math.min(quote, nextBackslash);
        if (stop === -1) break;
        i = stop;
      }
      const byte = chunk[i];
      if (this.#inString) {
        this.#scanString(byte);
        continue;
      }
      if (isWhitespace(byte)) continue;
      if (this.#rootClosed) throw badJson("got data after the end of the document");
      if (this.#depth === 0) {
        if (byte !== OPEN_BRACE) throw badJson(`got '${String.fromCharCode(byte)}' where an object starts`);
        this.#depth = 1;
        this.#expectKey = true;
        continue;
      }
      const elementLevel = this.#inValueArray && this.#depth === 2;
      if (elementLevel && (byte === COMMA || byte === CLOSE_BRACKET)) {
        if (this.#capturing) items.push(this.#finishElement(chunk, i));
        else if (byte === COMMA) throw badJson("got an empty element in the 'value' array");
        if (byte === CLOSE_BRACKET) {
          this.#depth = 1;
          this.#inValueArray = false;
        }
        continue;
      }
      if (elementLevel && !this.#capturing) {
        this.#capturing = true;
        this.#captureStart = i;
      }
      this.#scanStructure(byte);
    }
    if (this.#capturing) this.#keepPiece(chunk.subarray(this.#captureStart));
    this.#countOther(chunk.length - (this.#itemBytes - itemBytesBefore));
    return items;
  }
  /** The whole body arrived: it must have been one complete object. */
  end() {
    if (!this.#rootClosed) throw badJson("the body ended before the listing did");
  }
  #scanString(byte) {
    if (this.#escaped) {
      this.#escaped = false;
    } else if (byte === BACKSLASH) {
      this.#escaped = true;
    } else if (byte === QUOTE) {
      this.#inString = false;
      if (this.#readingKey) {
        this.#readingKey = false;
        this.#lastKey = this.#key;
        this.#afterColon = false;
      }
      return;
    }
    if (this.#readingKey && this.#key.length <= 5) this.#key += String.fromCharCode(byte);
  }
  #scanStructure(byte) {
    switch (byte) {
      case QUOTE:
        this.#inString = true;
        if (this.#depth === 1 && this.#expectKey) {
          this.#readingKey = true;
          this.#expectKey = false;
          this.#key = "";
        }
        return;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        if (this.#depth === 1 && byte === OPEN_BRACKET && this.#afterColon && this.#lastKey === "value") {
          if (this.#sawValueArray) throw badJson("got two 'value' arrays");
          this.#inValueArray = true;
          this.#sawValueArray = true;
        }
        this.#depth++;
        return;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        this.#depth--;
        if (this.#depth === 0) this.#rootClosed = true;
        if (this.#depth < 0) throw badJson("got unbalanced brackets");
        return;
      case COMMA:
        if (this.#depth === 1) {
          this.#expectKey = true;
          this.#afterColon = false;
        }
        return;
      case COLON:
        if (this.#depth === 1) this.#afterColon = true;
        return;
      default:
        return;
    }
  }
  /** Ends the element at `end` (exclusive) in `chunk` and parses it. */
  #finishElement(chunk, end) {
    this.#keepPiece(chunk.subarray(this.#captureStart, end));
    const text = Buffer.concat(this.#pieces, this.#pieceBytes).toString("utf8");
    this.#pieces = [];
    this.#pieceBytes = 0;
    this.#capturing = false;
    this.#captureStart = end + 1;
    try {
      return JSON.parse(text);
    } catch (error2) {
      throw Object.assign(badJson(`got an item that is not JSON: ${text.slice(0, 100)}`), { cause: error2 });
    }
  }
  #keepPiece(piece) {
    this.#itemBytes += piece.length;
    this.#pieceBytes += piece.length;
    if (this.#pieceBytes > this.options.maxItemBytes) {
      throw responseTooLarge(
        "An item of the container listing",
        this.options.maxItemBytes,
        "maxResponseBytes",
        this.options.context
      );
    }
    this.#pieces.push(piece);
  }
  /** Counts bytes outside items: separators, other keys, whitespace. */
  #countOther(bytes) {
    this.#otherBytes += bytes;
    if (this.#otherBytes > this.options.maxItemBytes) {
      throw responseTooLarge(
        "The container listing outside its items",
        this.options.maxItemBytes,
        "maxResponseBytes",
        this.options.context
      );
    }
  }
};
async function* streamContainerItems(body, options) {
  const scanner = new ListingScanner(options);
  for await (const chunk of body) {
    options.onBytes?.(chunk.length);
    const items = scanner.scan(chunk);
    for (const item of items) yield item;
  }
  scanner.end();
}

// src/pack/safe-path.ts
import { lstat as lstat3 } from "node:fs/promises";
import path5 from "node:path";
var WINDOWS_RESERVED2 = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;
function unsafe2(entry, reason) {
  return new IntegrityError("ERR_FERRY_UNSAFE_PATH", `Unsafe path ${printable(entry)}: ${reason}`);
}
function resolveInside(root, relative, platform2 = process.platform, context) {
  try {
    return resolveLexically(root, relative, platform2);
  } catch (error2) {
    if (context === void 0 || !(error2 instanceof IntegrityError)) throw error2;
    throw new IntegrityError(error2.code, error2.message, { context });
  }
}
function resolveLexically(root, relative, platform2) {
  if (typeof relative !== "string" || relative.length === 0)
    throw unsafe2(String(relative), "the name is empty");
  for (const ch of relative) {
    const code = ch.codePointAt(0) ?? 0;
    if (isControlCharacter(code)) {
      throw unsafe2(relative, `it contains the control character ${describeCharacter(ch)}`);
    }
  }
  const normalized = relative.replace(/\\/g, "/");
  if (normalized.startsWith("//")) throw unsafe2(relative, "it is a UNC path");
  if (normalized.startsWith("/")) throw unsafe2(relative, "it is an absolute path");
  if (/^[A-Za-z]:/.test(normalized)) throw unsafe2(relative, "it starts with a drive letter");
  const segments = normalized.split("/").filter((s) => s !== "" && s !== ".");
  for (const segment of segments) {
    if (segment === "..") throw unsafe2(relative, "it contains a '..' segment");
    if (platform2 === "win32") {
      if (segment.includes(":")) throw unsafe2(relative, `segment ${printable(segment)} contains ':'`);
      if (/[. ]$/.test(segment))
        throw unsafe2(relative, `segment ${printable(segment)} ends in a dot or a space`);
      const stem = (segment.split(".")[0] ?? "").trimEnd();
      if (WINDOWS_RESERVED2.test(stem))
        throw unsafe2(relative, `segment ${printable(segment)} is a reserved device name`);
    }
  }
  if (segments.length === 0) throw unsafe2(relative, "it names the target directory itself");
  const base = resolvedRoot(root);
  if (path5.sep === "/") {
    return base === "/" ? `/${segments.join("/")}` : `${base}/${segments.join("/")}`;
  }
  const resolved = path5.resolve(base, ...segments);
  const rel = path5.relative(base, resolved);
  if (rel === "" || rel === ".." || rel.startsWith(`..${path5.sep}`) || path5.isAbsolute(rel)) {
    throw unsafe2(relative, "it resolves outside the target directory");
  }
  return resolved;
}
var lastRoot;
function resolvedRoot(root) {
  if (!path5.isAbsolute(root)) return path5.resolve(root);
  if (lastRoot?.root !== root) lastRoot = { root, resolved: path5.resolve(root) };
  return lastRoot.resolved;
}
async function assertNoSymlinkInPath(root, absPath, context) {
  try {
    await checkNoSymlink(root, absPath);
  } catch (error2) {
    if (context === void 0 || !(error2 instanceof IntegrityError)) throw error2;
    throw new IntegrityError(error2.code, error2.message, { context });
  }
}
async function checkNoSymlink(root, absPath) {
  const base = path5.resolve(root);
  const target = path5.resolve(absPath);
  const rel = path5.relative(base, target);
  if (rel === "") return;
  if (rel === ".." || rel.startsWith(`..${path5.sep}`) || path5.isAbsolute(rel)) {
    throw unsafe2(absPath, `it is not inside the target directory ${printable(base)}`);
  }
  let current = base;
  const parts = rel.split(path5.sep);
  for (let i = 0; i < parts.length; i++) {
    current = path5.join(current, parts[i]);
    let stats;
    try {
      stats = await lstat3(current);
    } catch (error2) {
      const code = error2.code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw error2;
    }
    if (stats.isSymbolicLink()) {
      const component = parts.slice(0, i + 1).join("/");
      throw unsafe2(
        rel.split(path5.sep).join("/"),
        `${printable(component)} already exists in the target directory as a symbolic link; refusing to follow it`
      );
    }
    if (!stats.isDirectory()) return;
  }
}

// src/core/pool.ts
async function runPool(items, concurrency, work, options = {}) {
  let next = 0;
  let failure;
  const fail = (error2) => {
    if (failure !== void 0) return;
    failure = { error: error2 };
    options.onFailure?.(error2);
  };
  const worker = async (slot) => {
    while (failure === void 0 && next < items.length) {
      try {
        options.beforeEach?.();
        const item = items[next++];
        await work(item, slot);
      } catch (error2) {
        fail(error2);
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, (_, slot) => worker(slot)));
  if (failure !== void 0) throw failure.error;
}

// src/backends/workers.ts
async function runWorkers(items, slots, ctx, work) {
  ctx.operation.throwIfStopped();
  await runPool(items, slots, work, {
    beforeEach: () => ctx.operation.throwIfStopped(),
    onFailure: (error2) => {
      if (isFerryError(error2)) ctx.operation.fail(error2);
      else ctx.operation.fail(new FerryError("ERR_FERRY_PROTOCOL", String(error2), { cause: error2 }));
    }
  });
}

// src/backends/legacy/download-plan.ts
import path6 from "node:path";
var LegacyDownloadPlan = class {
  /**
   * `itemPrefix`: `${artifact name}/`; `itemUrl`: the content URL the container's URL scheme
   * gives an item path (urls.ts itemUrlBuilder); `target`: the absolute target directory.
   */
  constructor(itemPrefix, itemUrl3, target) {
    this.itemPrefix = itemPrefix;
    this.itemUrl = itemUrl3;
    this.target = target;
    this.#prefixLength = itemPrefix.length;
  }
  itemPrefix;
  itemUrl;
  target;
  /** `${artifact name}/${artifact path}`, '/'-separated: the listing's own string. */
  #itemPaths = [];
  /** The listed length, NaN when the listing gave none (a double array: no boxed number per file). */
  #lengths = [];
  /** Bytes written to staging, by index, once the file arrived. */
  #written;
  /** The listing's contentLocation, only where it is not `itemUrl` of the item path. */
  #urls = /* @__PURE__ */ new Map();
  /** The placement key, only where it is not the artifact path (e.g. a `.` segment in the listed path). */
  #keys = /* @__PURE__ */ new Map();
  /** Files whose body failed to gunzip once: a second corrupt body is final. */
  #corrupt = /* @__PURE__ */ new Set();
  #prefixLength;
  #staging;
  /** Adds a checked file of the listing; only what cannot be derived from its item path is kept. */
  add(file) {
    if (this.#written !== void 0) throw new Error("LegacyDownloadPlan: add() after start()");
    const index = this.#itemPaths.length;
    this.#itemPaths.push(file.itemPath);
    this.#lengths.push(file.length ?? Number.NaN);
    if (file.url !== this.itemUrl(file.itemPath)) this.#urls.set(index, file.url);
    const key = placementKey(this.target, file.destination);
    if (key !== file.artifactPath) this.#keys.set(index, key);
  }
  get count() {
    return this.#itemPaths.length;
  }
  /** Ends the listing: the files get their staging directory and a column for the bytes written. */
  start(staging) {
    this.#staging = staging;
    this.#written = new Float64Array(this.#itemPaths.length);
  }
  /** A view of file `index` for the code that fetches and places it (made per use, dies young). */
  file(index) {
    return new PlannedFile(this, index);
  }
  itemPath(index) {
    return this.#itemPaths[index];
  }
  artifactPath(index) {
    return this.itemPath(index).slice(this.#prefixLength);
  }
  length(index) {
    const length = this.#lengths[index];
    return Number.isNaN(length) ? void 0 : length;
  }
  url(index) {
    return this.#urls.get(index) ?? this.itemUrl(this.itemPath(index));
  }
  key(index) {
    return this.#keys.get(index) ?? this.artifactPath(index);
  }
  staging(index) {
    if (this.#staging === void 0) throw new Error("LegacyDownloadPlan: staging before start()");
    return this.#staging.file(String(index));
  }
  written(index) {
    return this.#written?.[index] ?? 0;
  }
  setWritten(index, bytes) {
    if (this.#written === void 0) throw new Error("LegacyDownloadPlan: setWritten() before start()");
    this.#written[index] = bytes;
  }
  /** Sum of the listed lengths (unknown ones count 0). */
  listedBytes() {
    let sum = 0;
    for (const length of this.#lengths) if (!Number.isNaN(length)) sum += length;
    return sum;
  }
  /** Sum of the bytes written. */
  writtenBytes() {
    let sum = 0;
    for (const bytes of this.#written ?? []) sum += bytes;
    return sum;
  }
  isCorruptOnce(index) {
    return this.#corrupt.has(index);
  }
  markCorrupt(index) {
    this.#corrupt.add(index);
  }
};
function placementKey(target, destination) {
  const inside = destination.startsWith(target) && destination[target.length] === path6.sep;
  const relative = inside ? destination.slice(target.length + 1) : path6.relative(target, destination);
  return path6.sep === "/" ? relative : relative.split(path6.sep).join("/");
}
var PlannedFile = class {
  constructor(plan, index) {
    this.plan = plan;
    this.index = index;
  }
  plan;
  index;
  get artifactPath() {
    return this.plan.artifactPath(this.index);
  }
  /** The listed length (the uncompressed size), when the listing gave one. */
  get length() {
    return this.plan.length(this.index);
  }
  /** Where the bytes are. */
  get url() {
    return this.plan.url(this.index);
  }
  /** The target directory (for messages: the staging path names a held descriptor). */
  get target() {
    return this.plan.target;
  }
  get staging() {
    return this.plan.staging(this.index);
  }
  /** The destination relative to the target, normalised, '/'-separated. */
  get key() {
    return this.plan.key(this.index);
  }
  /** Absolute path inside the target. */
  get destination() {
    return path6.join(this.plan.target, ...this.key.split("/"));
  }
  /** Bytes written to staging, once the file arrived. */
  get written() {
    return this.plan.written(this.index);
  }
  set written(bytes) {
    this.plan.setWritten(this.index, bytes);
  }
  /** Set once a response for this file failed to gunzip: a second corrupt body is final. */
  get corruptOnce() {
    return this.plan.isCorruptOnce(this.index);
  }
  set corruptOnce(value) {
    if (value) this.plan.markCorrupt(this.index);
  }
};

// src/pack/name-limits.ts
var MAX_NAME_BYTES = 4096;
var MAX_SEGMENT_BYTES = 255;
var MAX_DESTINATION_BYTES = 4095;
function checkNameLengths(name, relative, destination) {
  checkNameBytes(name);
  checkPathLengths(name, relative, destination);
}
function checkNameBytes(name) {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_NAME_BYTES) {
    throw unsafe3(
      `Unsafe path ${printable(name)}: the name is ${bytes} bytes long, the limit is ${MAX_NAME_BYTES}`
    );
  }
}
function checkPathLengths(name, relative, destination) {
  for (const segment of relative.split("/")) {
    if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) {
      throw unsafe3(
        `Unsafe path ${printable(name)}: segment ${printable(segment, 40)} is longer than ${MAX_SEGMENT_BYTES} bytes`
      );
    }
  }
  if (Buffer.byteLength(destination, "utf8") > MAX_DESTINATION_BYTES) {
    throw unsafe3(
      `Unsafe path ${printable(name)}: the destination path would be longer than ${MAX_DESTINATION_BYTES} bytes`
    );
  }
}
function unsafe3(message) {
  return new IntegrityError("ERR_FERRY_UNSAFE_PATH", message);
}

// src/core/fold-path.ts
function foldPath(path22) {
  return NEEDS_FOLDING.test(path22) ? path22.normalize("NFC").toLowerCase() : path22;
}
var NEEDS_FOLDING = /[A-Z\u0080-\uffff]/;

// src/backends/legacy/listing-check.ts
function checkFinalized(artifact, context) {
  const size = artifact.size;
  if (typeof size === "number" && size < 0) {
    throw incomplete(
      `Artifact ${printable(artifact.name)} was never finalized (the service lists its size as ${size}): its upload did not finish, so its files may be missing or partial; nothing was downloaded`,
      context
    );
  }
}
var LegacyListingCheck = class {
  #name;
  #target;
  #limits;
  #context;
  #prefix;
  /** Folded path → the listed path, for files. */
  #files = /* @__PURE__ */ new Map();
  /** Folded paths that must be directories (a listed folder, or a parent of a listed file). */
  #directories = /* @__PURE__ */ new Map();
  /** The id in this artifact's `…/_apis/resources/Containers/<id>` URL, when it has that shape. */
  #containerId;
  #declaredBytes = 0;
  #unknownLengths = 0;
  /** `containerUrl`: the artifact's fileContainerResourceUrl, to check where items point. */
  constructor(name, target, limits, context, containerUrl2) {
    this.#name = name;
    this.#target = target;
    this.#limits = limits;
    this.#context = context;
    this.#prefix = `${name}/`;
    this.#containerId = containerUrl2 === void 0 ? void 0 : containerOf(containerUrl2);
  }
  /** Sum of the listed `fileLength`s so far. */
  get declaredBytes() {
    return this.#declaredBytes;
  }
  /** How many listed files came without a `fileLength`. */
  get unknownLengths() {
    return this.#unknownLengths;
  }
  /**
   * Checks one container item. Returns the file to download, or `undefined` for an item that
   * is not a file of this artifact (a folder, or another artifact's item in a shared container).
   */
  add(item) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw this.#protocol(`A container item is not an object (got ${printable(JSON.stringify(item))})`);
    }
    const entry = item;
    const raw = entry.path;
    if (typeof raw !== "string") {
      throw this.#protocol(`A container item has no path (got ${JSON.stringify(raw) ?? "nothing"})`);
    }
    const normalized = raw.replace(/\\/g, "/");
    if (!normalized.startsWith(this.#prefix)) return void 0;
    const artifactPath = normalized.slice(this.#prefix.length);
    const itemType = entry.itemType;
    if (itemType === "folder") {
      const key2 = artifactPath.split("/").filter((segment) => segment !== "" && segment !== ".").join("/");
      if (key2 !== "") this.#addDirectory(key2, artifactPath);
      return void 0;
    }
    if (itemType !== "file") {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has the unknown itemType ${printable(String(itemType))}; expected 'file' or 'folder'`
      );
    }
    const status = entry.status;
    if (typeof status === "string" && status.toLowerCase() !== "created") {
      throw incomplete(
        `Artifact ${printable(this.#name)} is not complete: its file ${printable(artifactPath)} has the status ${printable(status)} (not uploaded yet); nothing was downloaded`,
        { ...this.#context, file: artifactPath }
      );
    }
    const length = this.#length(entry, artifactPath);
    const url = entry.contentLocation;
    if (length !== 0 && (typeof url !== "string" || url === "")) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has no contentLocation to download it from`
      );
    }
    if (typeof url === "string" && url !== "") this.#checkLocation(url, normalized, artifactPath);
    const destination = resolveInside(this.#target, artifactPath, process.platform, this.#context);
    const key = destination.slice(this.#target.length + 1).split(/[\\/]/).join("/");
    try {
      checkNameLengths(artifactPath, key, destination);
    } catch (error2) {
      throw new IntegrityError("ERR_FERRY_UNSAFE_PATH", error2.message, { context: this.#context });
    }
    if (this.#files.size + 1 > this.#limits.maxEntries) {
      throw this.#limit(`it lists more than ${this.#limits.maxEntries} files`, "maxEntries");
    }
    this.#addFile(key, artifactPath);
    if (length === void 0) this.#unknownLengths++;
    else {
      this.#declaredBytes += length;
      if (this.#declaredBytes > this.#limits.maxTotalBytes) {
        throw this.#limit(
          `its files declare at least ${this.#declaredBytes} bytes uncompressed`,
          "maxTotalBytes"
        );
      }
    }
    return {
      itemPath: normalized,
      artifactPath,
      destination,
      length,
      url: typeof url === "string" ? url : ""
    };
  }
  /**
   * After the whole listing: when every file has a length, their sum must reach the size the
   * uploader finalized (the sum of the original sizes of every file it sent, protocol.md A2.3).
   * Less means files are missing. More is fine: v1 merges several uploads into one artifact and
   * the last finalize records only its own total.
   */
  finish(artifactSize) {
    if (this.#unknownLengths > 0) return;
    checkReceived(this.#name, artifactSize, this.#declaredBytes, this.#files.size, "lists", this.#context);
  }
  /**
   * Where the service uses the file-container URL shape (GitHub, GHES, ferry serve:
   * `…/_apis/resources/Containers/<id>?itemPath=<path>`), an item's contentLocation must be this
   * artifact's container and this item's path: otherwise the listing hands over another
   * artifact's (or another item's) bytes under this name. Other shapes (act, Gitea) say nothing
   * checkable and are left alone.
   */
  #checkLocation(url, itemPath, artifactPath) {
    if (this.#containerId === void 0) return;
    let location;
    try {
      location = new URL(url);
    } catch {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has a contentLocation that is not a URL`
      );
    }
    const container = containerOf(url);
    if (container === void 0) return;
    if (container !== this.#containerId) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} points at container ${printable(container)}, not this artifact's container ${printable(this.#containerId)}`
      );
    }
    const pointed = location.searchParams.get("itemPath");
    if (pointed !== null && pointed.replace(/\\/g, "/") !== itemPath) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} points at the item ${printable(pointed)} instead of itself`
      );
    }
  }
  #length(entry, artifactPath) {
    const value = entry.fileLength;
    if (value === void 0 || value === null) return void 0;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw this.#protocol(
        `Container item ${printable(artifactPath)} has the invalid fileLength ${printable(JSON.stringify(value))}`
      );
    }
    return value;
  }
  #addFile(key, artifactPath) {
    const folded = foldPath(key);
    const prior = this.#files.get(folded);
    if (prior !== void 0) {
      throw this.#unsafe(
        prior === artifactPath ? `The listing names the file ${printable(artifactPath)} more than once` : `Files ${printable(prior)} and ${printable(artifactPath)} differ only in letter case, separators or Unicode normalisation; they would overwrite each other, so the artifact is rejected`
      );
    }
    const directory = this.#directories.get(folded);
    if (directory !== void 0) {
      throw this.#unsafe(
        `${printable(artifactPath)} is listed as a file, but the listing also needs ${printable(directory)} to be a folder`
      );
    }
    this.#files.set(folded, artifactPath);
    const parts = key.split("/");
    for (let i = 1; i < parts.length; i++) this.#addDirectory(parts.slice(0, i).join("/"), artifactPath);
  }
  /** `path` must be a directory because of `because` (itself a folder item, or a file below it). */
  #addDirectory(path22, because) {
    const folded = foldPath(path22);
    if (this.#directories.has(folded)) return;
    const file = this.#files.get(folded);
    if (file !== void 0) {
      throw this.#unsafe(
        `${printable(file)} is listed as a file, but ${printable(because)} needs it to be a folder`
      );
    }
    this.#directories.set(folded, path22);
  }
  #limit(what, option) {
    const error2 = limitError(what, option, this.#limits[option], `Legacy artifact ${printable(this.#name)}`);
    return new IntegrityError(error2.code, error2.message, { context: this.#context });
  }
  #unsafe(message) {
    return new IntegrityError("ERR_FERRY_UNSAFE_PATH", `${message}; nothing was downloaded`, {
      context: this.#context
    });
  }
  #protocol(message) {
    return new FerryError("ERR_FERRY_PROTOCOL", `${message}; nothing was downloaded`, {
      context: this.#context
    });
  }
};
function checkReceived(name, artifactSize, bytes, files, verb, context) {
  if (typeof artifactSize !== "number" || !Number.isSafeInteger(artifactSize) || bytes >= artifactSize)
    return;
  throw incomplete(
    `Artifact ${printable(name)} is not complete: the service ${verb} ${files} file${files === 1 ? "" : "s"} with ${bytes} bytes, but its upload was finalized with ${artifactSize} bytes (${artifactSize - bytes} missing); nothing was written to the target`,
    context
  );
}
function incomplete(message, context) {
  return new FerryError("ERR_FERRY_ARTIFACT_INCOMPLETE", message, { context });
}
function containerOf(url) {
  try {
    return /\/_apis\/resources\/Containers\/([^/]+)\/?$/i.exec(new URL(url).pathname)?.[1];
  } catch {
    return void 0;
  }
}

// src/backends/legacy/write-limits.ts
var LegacyWriteLimits = class {
  #name;
  #limits;
  #context;
  #total = 0;
  constructor(name, limits, context) {
    this.#name = name;
    this.#limits = limits;
    this.#context = context;
  }
  /** Bytes written so far across the artifact (bodies discarded for a retry not included). */
  get total() {
    return this.#total;
  }
  meter(file, gzip2) {
    let mine = 0;
    const context = { ...this.#context, file: file.artifactPath };
    return {
      written: (bytes, compressed) => {
        mine += bytes;
        this.#total += bytes;
        if (file.length !== void 0 && mine > file.length) {
          return responseTooLarge(
            `The download of ${printable(file.artifactPath)}`,
            file.length,
            "the listed fileLength",
            context
          );
        }
        if (this.#total > this.#limits.maxTotalBytes) {
          return this.#limit(`its files are at least ${this.#total} bytes`, "maxTotalBytes", context);
        }
        if (gzip2 && mine > RATIO_THRESHOLD_BYTES) {
          const ratio = compressed === 0 ? Infinity : mine / compressed;
          if (ratio > this.#limits.maxRatio) {
            return this.#limit(
              `file ${printable(file.artifactPath)} inflates at a ratio of ${ratio === Infinity ? "infinity" : Math.round(ratio)}:1 (${mine} bytes from ${compressed})`,
              "maxRatio",
              context
            );
          }
        }
        return void 0;
      },
      discard: () => {
        this.#total -= mine;
        mine = 0;
      }
    };
  }
  #limit(what, option, context) {
    const error2 = limitError(what, option, this.#limits[option], `Legacy artifact ${printable(this.#name)}`);
    return new IntegrityError(error2.code, error2.message, { context });
  }
};

// src/backends/legacy/download.ts
async function downloadLegacy(config, artifact, spec, ctx) {
  const { http: http5, operation } = ctx;
  const context = { operation: "download", artifactName: spec.name };
  const bearer = config.token ? { bearer: config.token } : {};
  const limits = normalizeLimits(spec.limits);
  checkFinalized(artifact, context);
  const containerUrl2 = checkCredentialedUrl(
    artifact.fileContainerResourceUrl,
    config,
    "the fileContainerResourceUrl",
    context
  );
  const target = path7.resolve(spec.targetDirectory);
  const plan = await http5.request(
    {
      ...bearer,
      slot: 0,
      method: "GET",
      url: itemUrl(containerUrl2, spec.name),
      headers: jsonHeaders,
      operation,
      context,
      call: "list container items"
    },
    // A fresh check and plan for every attempt: a retried listing starts from nothing.
    (res) => readListing(
      res,
      http5,
      context,
      new LegacyListingCheck(spec.name, target, limits, context, artifact.fileContainerResourceUrl),
      new LegacyDownloadPlan(`${spec.name}/`, itemUrlBuilder(containerUrl2), target),
      (file) => checkCredentialedUrl(
        file.url,
        config,
        `the contentLocation of ${printable(file.artifactPath)}`,
        context
      ),
      artifact.size
    )
  );
  const createdTarget = await mkdir2(target, { recursive: true });
  let held;
  let staging;
  try {
    held = HeldTarget.open(target, { context });
    staging = held.createStaging(".ferry-staging-");
    plan.start(staging);
    const indexes = new Uint32Array(plan.count).map((_, index) => index);
    const writeLimits = new LegacyWriteLimits(spec.name, limits, context);
    let bytesDone = 0;
    let filesDone = 0;
    const bytesTotal = plan.listedBytes();
    await runWorkers(indexes, http5.slots, ctx, async (index, slot) => {
      const file = plan.file(index);
      if (file.length === 0) {
        writeSmallFileSync(file.staging, new Uint8Array(0), { replace: true });
      } else {
        const bytes = await http5.request(
          {
            ...bearer,
            slot,
            phase: "transfer",
            method: "GET",
            url: file.url,
            headers: {
              "content-type": "application/json",
              connection: "Keep-Alive",
              "keep-alive": "10",
              "accept-encoding": "gzip",
              accept: `application/octet-stream;api-version=${API_VERSION}`
            },
            operation,
            context: { ...context, file: file.artifactPath }
          },
          (res) => saveResponse(res, file, spec.name, http5.stallPolicy, (gzip2) => writeLimits.meter(file, gzip2))
        );
        bytesDone += bytes;
        file.written = bytes;
      }
      filesDone++;
      ctx.onProgress?.({
        operation: "download",
        artifactName: spec.name,
        phase: "transfer",
        bytesDone,
        bytesTotal,
        filesDone,
        filesTotal: plan.count
      });
    });
    checkReceived(spec.name, artifact.size, plan.writtenBytes(), plan.count, "sent", context);
    await spec.beforeWrite?.();
    const placed = await placeFiles(plan, held, spec.conflict ?? "overwrite", context);
    return { downloadPath: target, fileCount: placed.files, size: placed.bytes };
  } catch (error2) {
    staging?.remove();
    staging = void 0;
    held?.close();
    held = void 0;
    if (createdTarget !== void 0) await removeCreatedChain(target, path7.resolve(createdTarget));
    throw error2;
  } finally {
    staging?.remove();
    held?.close();
  }
}
async function placeFiles(plan, held, policy, context) {
  const target = held.root;
  const keep = /* @__PURE__ */ new Set();
  const checked = /* @__PURE__ */ new Set();
  for (let index = 0; index < plan.count; index++) {
    const file = plan.file(index);
    const dir = path7.dirname(file.destination);
    if (!checked.has(dir)) {
      await assertNoSymlinkInPath(target, dir, context);
      checked.add(dir);
    }
    if (policy === "overwrite") continue;
    const state = held.directory(parentKey2(file.key)) === void 0 ? "missing" : await compareExisting(held.entry(file.key), await stagedContent(file));
    if (state === "missing") continue;
    if (state === "different" && policy === "error") {
      throw conflictError(file.artifactPath, printable(target), { ...context, file: file.artifactPath });
    }
    if (state !== "directory") keep.add(index);
  }
  const placed = { files: 0, bytes: 0 };
  for (let index = 0; index < plan.count; index++) {
    if (keep.has(index)) continue;
    const file = plan.file(index);
    held.ensureDirectory(parentKey2(file.key));
    let moved = true;
    try {
      if (policy === "overwrite") held.renameIn(file.staging, file.key);
      else moved = await held.linkIn(file.staging, file.key);
    } catch (error2) {
      if (isFerryError(error2)) throw error2;
      throw new FerryError(
        "ERR_FERRY_INVALID_PATH",
        `Cannot place '${file.artifactPath}' at ${file.destination}`,
        {
          cause: error2,
          context: { ...context, file: file.artifactPath }
        }
      );
    }
    if (moved) {
      placed.files++;
      placed.bytes += file.written;
    } else if (policy === "error") {
      const content = await stagedContent(file);
      const state = await compareExisting(held.entry(file.key), content);
      if (state !== "identical") {
        throw conflictError(file.artifactPath, printable(target), { ...context, file: file.artifactPath });
      }
    }
  }
  return placed;
}
function parentKey2(key) {
  const slash = key.lastIndexOf("/");
  return slash < 0 ? "" : key.slice(0, slash);
}
async function stagedContent(file) {
  return {
    size: (await stat3(file.staging)).size,
    sha256: async () => (await digestRegularFile(file.staging))?.sha256 ?? ""
  };
}
async function readListing(res, http5, context, check, plan, checkUrl, artifactSize) {
  const watchdog = watchThroughput(
    http5.stallPolicy,
    "The container listing",
    context,
    (error2) => res.destroy(error2)
  );
  const items = streamContainerItems(res, {
    maxItemBytes: http5.maxResponseBytes,
    context,
    onBytes: (bytes) => watchdog.add(bytes)
  });
  try {
    for await (const item of items) {
      const file = check.add(item);
      if (file !== void 0) plan.add(file.url === "" ? file : { ...file, url: checkUrl(file) });
    }
  } finally {
    watchdog.stop();
  }
  check.finish(artifactSize);
  return plan;
}
async function saveResponse(res, file, artifactName, stall, meterFor) {
  const context = { operation: "download", artifactName, file: file.artifactPath };
  const shown2 = printable(file.artifactPath);
  const gzip2 = res.headers["content-encoding"] === "gzip";
  const declared = res.headers["content-length"] === void 0 ? void 0 : Number(res.headers["content-length"]);
  let received = 0;
  const meter = meterFor(gzip2);
  let stopped;
  const watchdog = watchThroughput(stall, `Download of ${shown2}`, context, (error2) => res.destroy(error2));
  const count = (bytes) => {
    const error2 = meter.written(bytes, received);
    if (error2 !== void 0 && stopped === void 0) {
      stopped = error2;
      res.destroy(error2);
    }
  };
  const small = isSmallFile(declared, file.length);
  const chunks = [];
  res.on("data", (chunk) => {
    received += chunk.length;
    watchdog.add(chunk.length);
    if (!gzip2) count(chunk.length);
    if (small) chunks.push(chunk);
  });
  let bytesWritten = 0;
  let out;
  try {
    if (small) {
      await finished(res);
      if (stopped !== void 0) throw stopped;
      const body = Buffer.concat(chunks, received);
      const listed = file.length ?? 0;
      const data = gzip2 ? gunzipSmallSync(body, listed) : body;
      if (gzip2) count(data?.length ?? listed + 1);
      if (stopped !== void 0 || data === void 0) throw stopped;
      writeSmallFileSync(file.staging, data, { replace: true });
      bytesWritten = data.length;
    } else if (gzip2) {
      const gunzip = createGunzip({ chunkSize: 256 * 1024 });
      gunzip.on("data", (chunk) => {
        count(chunk.length);
        if (stopped !== void 0) gunzip.destroy(stopped);
      });
      out = createWriteStream(file.staging, { highWaterMark: 1024 * 1024 });
      await pipeline(res, gunzip, out);
      bytesWritten = out.bytesWritten;
    } else {
      out = createWriteStream(file.staging, { highWaterMark: RAW_WRITE_BUFFER_BYTES });
      await pipeline(res, out);
      bytesWritten = out.bytesWritten;
    }
  } catch (error2) {
    meter.discard();
    if (out !== void 0) await closedStream(out);
    if (stopped !== void 0) throw stopped;
    if (error2 instanceof StalledTransferError) throw error2;
    if (findResourceFailure(error2)) {
      throw await asResourceError(error2, {
        context,
        // The staging directory is removed; its parent is the target.
        removedOnFailure: path7.dirname(file.staging),
        directory: file.target,
        neededBytes: file.length
      });
    }
    const complete = declared === void 0 || !Number.isFinite(declared) || received >= declared;
    if (isZlibError(error2) && complete) {
      const retryable = !file.corruptOnce;
      file.corruptOnce = true;
      throw new IntegrityError(
        "ERR_FERRY_INTEGRITY",
        `The gzip body of ${shown2} is corrupt (${error2.message})${retryable ? "" : " on the second download too"}; nothing was written to the target`,
        { cause: error2, retryable, context }
      );
    }
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `Download of ${shown2} broke off after ${received} bytes`,
      {
        cause: error2,
        retryable: true,
        context
      }
    );
  } finally {
    watchdog.stop();
  }
  if (declared !== void 0 && Number.isFinite(declared) && received !== declared) {
    meter.discard();
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `Download of ${shown2} is truncated: received ${received} of ${declared} bytes`,
      { retryable: true, context }
    );
  }
  if (file.length !== void 0 && bytesWritten !== file.length) {
    meter.discard();
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `Download of ${shown2} ended after ${bytesWritten} bytes${gzip2 ? " (after gunzip)" : ""}, but the listing gives its length as ${file.length}`,
      { retryable: true, context }
    );
  }
  return bytesWritten;
}
async function closedStream(out) {
  if (out.closed) return;
  out.destroy();
  await new Promise((resolve2) => out.once("close", () => resolve2()));
}
var RAW_WRITE_BUFFER_BYTES = 256 * 1024;
function isZlibError(error2) {
  const code = error2?.code;
  return typeof code === "string" && code.startsWith("Z_");
}

// src/backends/legacy/upload.ts
import { stat as stat5 } from "node:fs/promises";

// src/pack/crc64.ts
var POLY_LO = 2890647989;
var POLY_HI = 2590806825;
var { TLO, THI } = buildTables();
function buildTables() {
  const lo = new Uint32Array(8 * 256);
  const hi = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let l = i;
    let h = 0;
    for (let bit = 0; bit < 8; bit++) {
      const lsb = l & 1;
      l = (l >>> 1 | h << 31) >>> 0;
      h = h >>> 1;
      if (lsb) {
        l = (l ^ POLY_LO) >>> 0;
        h = (h ^ POLY_HI) >>> 0;
      }
    }
    lo[i] = l;
    hi[i] = h;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const pl = lo[(k - 1) * 256 + i];
      const ph = hi[(k - 1) * 256 + i];
      const idx = pl & 255;
      lo[k * 256 + i] = ((pl >>> 8 | ph << 24) ^ lo[idx]) >>> 0;
      hi[k * 256 + i] = (ph >>> 8 ^ hi[idx]) >>> 0;
    }
  }
  return { TLO: lo, THI: hi };
}
var Crc64 = class {
  /** The running register, i.e. the CRC before the final xor, as two unsigned 32-bit halves. */
  #lo = 4294967295;
  #hi = 4294967295;
  /** Feeds more bytes; may be called any number of times, with any split. */
  update(buf) {
    const tlo = TLO;
    const thi = THI;
    let lo = this.#lo;
    let hi = this.#hi;
    const n = buf.length;
    let i = 0;
    const end8 = n - (n & 7);
    for (; i < end8; i += 8) {
      const a = lo ^ (buf[i] | buf[i + 1] << 8 | buf[i + 2] << 16 | buf[i + 3] << 24);
      const b = hi ^ (buf[i + 4] | buf[i + 5] << 8 | buf[i + 6] << 16 | buf[i + 7] << 24);
      const i7 = 7 * 256 + (a & 255);
      const i6 = 6 * 256 + (a >>> 8 & 255);
      const i5 = 5 * 256 + (a >>> 16 & 255);
      const i4 = 4 * 256 + (a >>> 24);
      const i3 = 3 * 256 + (b & 255);
      const i2 = 2 * 256 + (b >>> 8 & 255);
      const i1 = 256 + (b >>> 16 & 255);
      const i0 = b >>> 24;
      lo = tlo[i7] ^ tlo[i6] ^ tlo[i5] ^ tlo[i4] ^ tlo[i3] ^ tlo[i2] ^ tlo[i1] ^ tlo[i0];
      hi = thi[i7] ^ thi[i6] ^ thi[i5] ^ thi[i4] ^ thi[i3] ^ thi[i2] ^ thi[i1] ^ thi[i0];
    }
    for (; i < n; i++) {
      const idx = (lo ^ buf[i]) & 255;
      lo = (lo >>> 8 | hi << 24) ^ tlo[idx];
      hi = hi >>> 8 ^ thi[idx];
    }
    this.#lo = lo >>> 0;
    this.#hi = hi >>> 0;
    return this;
  }
  /** The CRC so far as 8 bytes, least significant byte first (the wire format). Does not reset. */
  digest() {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32LE(~this.#lo >>> 0, 0);
    out.writeUInt32LE(~this.#hi >>> 0, 4);
    return out;
  }
};
function crc64Base64(buf) {
  return new Crc64().update(buf).digest().toString("base64");
}

// src/pack/digest.ts
import { createHash as createHash2 } from "node:crypto";
function md5Base64(buf) {
  return createHash2("md5").update(buf).digest("base64");
}

// src/pack/chunk-reader.ts
import { open as open3 } from "node:fs/promises";
var ChunkReader = class {
  constructor(path22, context = {}, onRead) {
    this.path = path22;
    this.context = context;
    this.onRead = onRead;
  }
  path;
  context;
  onRead;
  #handle;
  async read(start, length) {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new ValidationError(
        "ERR_FERRY_INVALID_OPTION",
        `A chunk needs non-negative integer offsets, got start=${String(start)} length=${String(length)}`
      );
    }
    if (length === 0) return Buffer.alloc(0);
    this.#handle ??= open3(this.path, "r");
    let handle;
    try {
      handle = await this.#handle;
    } catch (error2) {
      throw new FerryError("ERR_FERRY_SOURCE_UNREADABLE", `Cannot read '${this.path}'`, {
        cause: error2,
        context: this.context
      });
    }
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, start + done);
      if (bytesRead === 0) {
        throw new FerryError(
          "ERR_FERRY_SOURCE_CHANGED",
          `'${this.path}' ended after ${start + done} bytes while it was being uploaded`,
          { context: this.context }
        );
      }
      done += bytesRead;
    }
    this.onRead?.(start, buffer);
    return buffer;
  }
  async close() {
    const handle = this.#handle;
    this.#handle = void 0;
    if (handle) await (await handle.catch(() => void 0))?.close();
  }
};

// src/pack/gzip-payload.ts
import { randomUUID as randomUUID2 } from "node:crypto";
import { closeSync as closeSync2, constants as fsConstants3, fstatSync as fstatSync2, openSync as openSync2, statSync as statSync2 } from "node:fs";
import { open as open5, rm as rm3, stat as stat4 } from "node:fs/promises";
import path8 from "node:path";
import { gzip, gzipSync } from "node:zlib";

// src/pack/compressed-extensions.ts
var OFFICIAL_GZIP_EXEMPT_EXTENSIONS = [
  ".gz",
  ".gzip",
  ".tgz",
  ".taz",
  ".Z",
  ".taZ",
  ".bz2",
  ".tbz",
  ".tbz2",
  ".tz2",
  ".lz",
  ".lzma",
  ".tlz",
  ".lzo",
  ".xz",
  ".txz",
  ".zst",
  ".zstd",
  ".tzst",
  ".zip",
  ".7z"
];
var EXTRA_COMPRESSED_EXTENSIONS = [
  // archives and packages (zip- or otherwise compressed containers)
  ".br",
  ".rar",
  ".cab",
  ".lz4",
  ".sz",
  ".jar",
  ".war",
  ".ear",
  ".aar",
  ".apk",
  ".aab",
  ".ipa",
  ".xpi",
  ".crx",
  ".vsix",
  ".nupkg",
  ".snupkg",
  ".whl",
  ".egg",
  ".gem",
  ".deb",
  ".rpm",
  ".snap",
  ".appimage",
  ".dmg",
  ".msi",
  ".squashfs",
  // office / document formats that are zip containers
  ".docx",
  ".xlsx",
  ".pptx",
  ".odt",
  ".ods",
  ".odp",
  ".epub",
  // images
  ".png",
  ".jpg",
  ".jpeg",
  ".gif",
  ".webp",
  ".avif",
  ".heic",
  ".heif",
  ".jxl",
  // audio / video
  ".mp3",
  ".aac",
  ".m4a",
  ".ogg",
  ".oga",
  ".opus",
  ".flac",
  ".mp4",
  ".m4v",
  ".mkv",
  ".webm",
  ".mov",
  ".avi",
  ".wmv",
  // fonts
  ".woff",
  ".woff2"
];
var ALL = new Set(
  [...OFFICIAL_GZIP_EXEMPT_EXTENSIONS, ...EXTRA_COMPRESSED_EXTENSIONS].map((e) => e.toLowerCase())
);
function isAlreadyCompressed(fileName) {
  const base = fileName.slice(Math.max(fileName.lastIndexOf("/"), fileName.lastIndexOf("\\")) + 1);
  const dot = base.lastIndexOf(".");
  return dot >= 0 && ALL.has(base.slice(dot).toLowerCase());
}

// src/pack/parallel-gzip.ts
init_write_fully();
import { availableParallelism } from "node:os";
import { open as open4 } from "node:fs/promises";
import { crc32 as crc322 } from "node:zlib";

// src/pack/zip-writer/parallel-deflate.ts
import { promisify } from "node:util";
import { constants as constants3, deflateRaw } from "node:zlib";
var deflateRawAsync = promisify(deflateRaw);
var SMALL_PIECE_HEADROOM = 64;
var LARGE_PIECE_OUTPUT = 256 * 1024;
var DICTIONARY_SIZE = 32 * 1024;
function deflatePiece(piece, level, dictionary, final) {
  const options = {
    level,
    finishFlush: final ? constants3.Z_FINISH : constants3.Z_SYNC_FLUSH
  };
  if (dictionary !== void 0 && dictionary.length > 0) options.dictionary = dictionary;
  if (piece.length < constants3.Z_DEFAULT_CHUNK) {
    options.chunkSize = Math.max(constants3.Z_MIN_CHUNK, piece.length + SMALL_PIECE_HEADROOM);
  } else {
    options.chunkSize = LARGE_PIECE_OUTPUT;
  }
  return deflateRawAsync(piece, options);
}
var DictionaryWindow = class {
  #window;
  /** The dictionary for the next piece, or undefined before the first piece. */
  get current() {
    return this.#window;
  }
  push(piece) {
    if (piece.length >= DICTIONARY_SIZE) {
      this.#window = Buffer.from(piece.subarray(piece.length - DICTIONARY_SIZE));
      return;
    }
    const joined = this.#window === void 0 ? piece : Buffer.concat([this.#window, piece]);
    this.#window = Buffer.from(joined.subarray(Math.max(0, joined.length - DICTIONARY_SIZE)));
  }
};
function noop() {
}
function raceAbort(promise, signal) {
  if (signal.aborted) return Promise.reject(new AbortError(signal.reason));
  return new Promise((resolve2, reject) => {
    const onAbort = () => reject(new AbortError(signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve2(value);
      },
      (error2) => {
        signal.removeEventListener("abort", onAbort);
        reject(error2 instanceof Error ? error2 : new Error(String(error2)));
      }
    );
  });
}
async function* emitInOrder(tasks, options) {
  const { limit, maxQueued, signal, counters } = options;
  const queue = [];
  let weight = 0;
  let producerDone = false;
  try {
    for (; ; ) {
      while (!producerDone && weight < limit && queue.length < maxQueued) {
        if (signal.aborted) throw new AbortError(signal.reason);
        const next = await tasks.next();
        if (next.done === true) {
          producerDone = true;
          break;
        }
        const task = next.value;
        if (typeof task.value !== "function") task.value.catch(noop);
        queue.push(task);
        weight += task.weight;
        counters.piecesInFlight = weight;
        if (weight > counters.maxPiecesInFlight) counters.maxPiecesInFlight = weight;
      }
      const head = queue[0];
      if (head === void 0) return;
      const buffers = typeof head.value === "function" ? head.value() : await raceAbort(head.value, signal);
      queue.shift();
      head.onEmit?.(counters.bytesEmitted);
      for (const buffer of buffers) {
        if (buffer.length === 0) continue;
        counters.bytesEmitted += buffer.length;
        yield buffer;
      }
      weight -= head.weight;
      counters.piecesInFlight = weight;
    }
  } finally {
    const running = queue.flatMap((task) => typeof task.value === "function" ? [] : [task.value]);
    await Promise.allSettled(running);
    counters.piecesInFlight = 0;
    await tasks.return(void 0);
  }
}

// src/pack/parallel-gzip.ts
var GZIP_PIECE_SIZE = 1024 * 1024;
var GZIP_HEADER = Buffer.from([31, 139, 8, 0, 0, 0, 0, 0, 0, 255]);
async function gzipFileParallel(source, size, destination, level, options = {}) {
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  const out = await open4(destination, "wx", 384);
  let bytesRead = 0;
  let bytesWritten = 0;
  let crc = 0;
  const window = new DictionaryWindow();
  const pending = [];
  const write = async (buffer) => {
    await writeFully(out, [buffer]);
    bytesWritten += buffer.length;
  };
  try {
    await write(GZIP_HEADER);
    let offset = 0;
    let finalQueued = false;
    while (!finalQueued || pending.length > 0) {
      while (!finalQueued && pending.length < concurrency) {
        if (options.signal?.aborted) throw options.signal.reason;
        const length = Math.min(GZIP_PIECE_SIZE, size - offset);
        const piece = Buffer.allocUnsafe(length);
        const { bytesRead: got } = length > 0 ? await source.read(piece, 0, length, offset) : { bytesRead: 0 };
        const data = got === length ? piece : piece.subarray(0, got);
        options.onRead?.(offset, data);
        bytesRead += got;
        crc = crc322(data, crc);
        offset += got;
        finalQueued = got < GZIP_PIECE_SIZE || offset >= size;
        pending.push(deflatePiece(data, level, window.current, finalQueued));
        window.push(data);
      }
      await write(await pending.shift());
    }
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(bytesRead % 2 ** 32, 4);
    await write(trailer);
  } finally {
    await Promise.allSettled(pending);
    await out.close();
  }
  return { bytesRead, bytesWritten };
}

// src/pack/read-small-sync.ts
import { readSync } from "node:fs";
function readWholeSync(fd, size) {
  const buffer = Buffer.allocUnsafe(size + 1);
  let found = 0;
  while (found < buffer.length) {
    const bytesRead = readSync(fd, buffer, found, buffer.length - found, found);
    if (bytesRead === 0) break;
    found += bytesRead;
  }
  return { data: buffer.subarray(0, Math.min(found, size)), found };
}

// src/pack/gzip-payload.ts
var SMALL_FILE_LIMIT = 65536;
var SAMPLE_SIZE = 256 * 1024;
var MIN_SAMPLE_SAVING = 0.05;
var DEFAULT_LEVEL = 6;
var OPEN_FLAGS2 = fsConstants3.O_RDONLY | (fsConstants3.O_NONBLOCK ?? 0);
async function preparePayload(absPath, opts) {
  const level = opts.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `Option 'level' must be an integer from 0 to 9, got ${String(level)}`,
      { option: "level" }
    );
  }
  const src = new SourceFile(absPath, opts.file, opts.signal);
  src.throwIfAborted();
  const small = src.readIfSmallSync(SMALL_FILE_LIMIT);
  if (small !== void 0) {
    opts.scan?.feed(0, small);
    if (level === 0) return { kind: "memory", data: small, gzip: false, originalSize: small.length };
    const gz = gzipSync(small, { level });
    src.throwIfAborted();
    return gz.length > small.length ? { kind: "memory", data: small, gzip: false, originalSize: small.length } : { kind: "memory", data: gz, gzip: true, originalSize: small.length };
  }
  const handle = await src.openAndCheck();
  try {
    const st = await src.statHandle(handle);
    const size = st.size;
    const rawFile = () => ({
      kind: "file",
      path: absPath,
      size,
      gzip: false,
      originalSize: size,
      cleanup: async () => {
      }
    });
    if (size >= SMALL_FILE_LIMIT && (level === 0 || isAlreadyCompressed(absPath))) return rawFile();
    if (size < SMALL_FILE_LIMIT) {
      throw src.changed(`it had ${size} bytes on a second look, below the small-file limit it was over`);
    }
    const sample2 = await src.readAt(handle, 0, Math.min(SAMPLE_SIZE, size), false);
    opts.scan?.feed(0, sample2);
    const gzSample = await gzipBuffer(sample2, 1);
    src.throwIfAborted();
    if (sample2.length - gzSample.length < sample2.length * MIN_SAMPLE_SAVING) return rawFile();
    const tmp = path8.join(opts.tempDir, `ferry-gzip-${randomUUID2()}.gz`);
    const gzSize = await src.gzipToFile(handle, size, tmp, level, opts.scan);
    try {
      await src.assertUnchanged(handle, st);
    } catch (error2) {
      await rm3(tmp, { force: true });
      throw error2;
    }
    if (gzSize > size) {
      await rm3(tmp, { force: true });
      return rawFile();
    }
    return {
      kind: "file",
      path: tmp,
      size: gzSize,
      gzip: true,
      originalSize: size,
      cleanup: () => rm3(tmp, { force: true })
    };
  } finally {
    await handle.close().catch(() => void 0);
  }
}
var SourceFile = class {
  #absPath;
  #context;
  #label;
  #signal;
  constructor(absPath, file, signal) {
    this.#absPath = absPath;
    this.#signal = signal;
    this.#context = file === void 0 ? {} : { file };
    this.#label = file === void 0 ? ` ${printable(absPath)}` : "";
  }
  throwIfAborted() {
    if (this.#signal?.aborted) throw new AbortError(this.#signal.reason, this.#context);
  }
  error(code, message, cause) {
    return new FerryError(
      code,
      message,
      cause === void 0 ? { context: this.#context } : { cause, context: this.#context }
    );
  }
  unreadable(cause) {
    if (isFerryError(cause)) return cause;
    const errno2 = cause?.code;
    return this.error(
      "ERR_FERRY_SOURCE_UNREADABLE",
      `Cannot read file${this.#label}${errno2 ? ` (${errno2})` : ""}: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause
    );
  }
  changed(detail) {
    return this.error(
      "ERR_FERRY_SOURCE_CHANGED",
      `File${this.#label} changed while it was being read: ${detail}`
    );
  }
  assertRegular(st) {
    if (st.isFile()) return;
    const kind = st.isDirectory() ? "a directory" : st.isFIFO() ? "a named pipe (FIFO)" : st.isSocket() ? "a socket" : st.isCharacterDevice() || st.isBlockDevice() ? "a device" : "not a regular file";
    const what = this.#label === "" ? "The path" : `${printable(this.#absPath)}`;
    throw new ValidationError(
      "ERR_FERRY_INVALID_PATH",
      `${what} is ${kind}; only regular files can be uploaded`,
      this.#context
    );
  }
  /**
   * Opens, checks and reads the file synchronously if it is smaller than `limit`; returns
   * undefined (having read nothing) for a larger one. One byte of headroom shows growth.
   */
  readIfSmallSync(limit) {
    this.throwIfAborted();
    let fd;
    try {
      fd = openSync2(this.#absPath, OPEN_FLAGS2);
    } catch (error2) {
      const st = statSync2(this.#absPath, { throwIfNoEntry: false });
      if (st) this.assertRegular(st);
      throw this.unreadable(error2);
    }
    try {
      const st = fstatSync2(fd);
      this.assertRegular(st);
      if (st.size >= limit) return void 0;
      const { data, found } = readWholeSync(fd, st.size);
      if (found > st.size) throw this.changed(`it grew beyond the ${st.size} bytes it had when opened`);
      if (found < st.size) throw this.changed(`expected ${st.size} bytes, it ended after ${found}`);
      return data;
    } catch (error2) {
      throw isFerryError(error2) ? error2 : this.unreadable(error2);
    } finally {
      closeSync2(fd);
    }
  }
  async openAndCheck() {
    try {
      return await open5(this.#absPath, OPEN_FLAGS2);
    } catch (error2) {
      const st = await stat4(this.#absPath).catch(() => void 0);
      if (st) this.assertRegular(st);
      throw this.unreadable(error2);
    }
  }
  /** fstat of the open descriptor, refusing anything but a regular file (the handle is closed then). */
  async statHandle(handle) {
    try {
      const st = await handle.stat();
      this.assertRegular(st);
      return st;
    } catch (error2) {
      throw isFerryError(error2) ? error2 : this.unreadable(error2);
    }
  }
  /** Reads exactly `length` bytes at `position`; with `atEnd`, also checks nothing follows them. */
  async readAt(handle, position, length, atEnd) {
    const buf = Buffer.alloc(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < length) throw this.changed(`expected ${length} bytes, it ended after ${position + done}`);
      if (atEnd) {
        const probe = Buffer.alloc(1);
        const { bytesRead } = await handle.read(probe, 0, 1, position + length);
        if (bytesRead !== 0)
          throw this.changed(`it grew beyond the ${position + length} bytes it had when listed`);
      }
    } catch (error2) {
      throw this.unreadable(error2);
    }
    this.throwIfAborted();
    return buf;
  }
  /** The size and mtime must still be what the listing stat saw. */
  async assertUnchanged(handle, before) {
    let after;
    try {
      after = await handle.stat();
    } catch (error2) {
      throw this.unreadable(error2);
    }
    if (after.size !== before.size) throw this.changed(`size ${before.size} -> ${after.size} bytes`);
    if (after.mtimeMs !== before.mtimeMs) throw this.changed("its modification time changed");
  }
  /** Stream-gzips the first `size` bytes to `tmp`, returning the gzip size; removes `tmp` on failure. */
  async gzipToFile(handle, size, tmp, level, scan) {
    let result;
    try {
      result = await gzipFileParallel(handle, size, tmp, level, {
        ...this.#signal ? { signal: this.#signal } : {},
        ...scan ? { onRead: (offset, data) => scan.feed(offset, data) } : {}
      });
    } catch (error2) {
      await rm3(tmp, { force: true });
      this.throwIfAborted();
      if (isFerryError(error2)) throw error2;
      const code = error2.code;
      if (code === "ENOSPC" || code === "EACCES" || code === "EROFS" || code === "ENOENT") throw error2;
      throw this.unreadable(error2);
    }
    if (result.bytesRead !== size) {
      await rm3(tmp, { force: true });
      throw this.changed(`expected ${size} bytes, read ${result.bytesRead}`);
    }
    return result.bytesWritten;
  }
};
function gzipBuffer(data, level) {
  return new Promise((resolve2, reject) => {
    gzip(data, { level }, (error2, out) => error2 ? reject(error2) : resolve2(out));
  });
}
function chunkRanges(total, chunkSize) {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `Option 'chunkSize' must be a positive integer, got ${String(chunkSize)}`,
      { option: "chunkSize" }
    );
  }
  if (!Number.isSafeInteger(total) || total < 0) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `The total size must be a non-negative integer, got ${String(total)}`
    );
  }
  if (total === 0) return [{ start: 0, end: -1 }];
  const ranges = [];
  for (let start = 0; start < total; start += chunkSize) {
    ranges.push({ start, end: Math.min(start + chunkSize, total) - 1 });
  }
  return ranges;
}
function contentRange(start, end, total) {
  return `bytes ${start}-${end}/${total}`;
}

// src/backends/source-changed.ts
function sourceChanged(file, now, context) {
  return new FerryError(
    "ERR_FERRY_SOURCE_CHANGED",
    `File '${file.absolutePath}' changed while it was being uploaded: ${file.size} bytes when listed, ${now}`,
    { context }
  );
}

// src/backends/legacy/upload.ts
async function uploadLegacy(config, spec, ctx) {
  const { http: http5, operation, logger } = ctx;
  const context = { operation: "upload", artifactName: spec.name };
  const bearer = config.token ? config.token : void 0;
  const service = new ArtifactService(config, ctx);
  const created2 = await service.create(spec.name, spec.retentionDays, context);
  const containerUrl2 = created2.fileContainerResourceUrl;
  if (!containerUrl2) {
    throw new FerryError(
      "ERR_FERRY_PROTOCOL",
      "The artifact service returned no fileContainerResourceUrl to upload to",
      {
        context
      }
    );
  }
  checkCredentialedUrl(containerUrl2, config, "the fileContainerResourceUrl", context);
  if (spec.files.some((f) => f.symlinkTarget !== void 0)) {
    logger.warn("The legacy artifact protocol cannot store symlinks; uploading the files they point to");
  }
  const totalOriginal = spec.files.reduce((sum, f) => sum + f.size, 0);
  let uploadedBytes = 0;
  let originalDone = 0;
  let filesDone = 0;
  const progress = () => ctx.onProgress?.({
    operation: "upload",
    artifactName: spec.name,
    phase: "transfer",
    bytesDone: originalDone,
    bytesTotal: totalOriginal,
    filesDone,
    filesTotal: spec.files.length
  });
  const itemUrl3 = itemUrlBuilder(containerUrl2);
  const uploadFile = async (file, slot) => {
    const fileContext = { ...context, file: file.artifactPath };
    const scan = spec.secretScan?.file(file.artifactPath);
    const payload = await preparePayload(file.absolutePath, {
      tempDir: spec.tempDir,
      level: spec.compressionLevel,
      signal: operation.signal,
      file: file.artifactPath,
      scan
    }).catch((error2) => {
      throw isFerryError(error2) ? error2 : new FerryError("ERR_FERRY_SOURCE_UNREADABLE", `Cannot read '${file.absolutePath}'`, {
        cause: error2,
        context: fileContext
      });
    });
    const onRead = scan && !payload.gzip ? (start, chunk) => scan.feed(start, chunk) : void 0;
    const reader = payload.kind === "file" ? new ChunkReader(payload.path, fileContext, onRead) : void 0;
    try {
      if (payload.originalSize !== file.size) {
        throw sourceChanged(file, `${payload.originalSize} when read`, fileContext);
      }
      const total = payloadLength(payload);
      const url = itemUrl3(`${spec.name}/${file.artifactPath}`);
      const ranges = chunkRanges(total, spec.chunkSize);
      const load = (index) => {
        const range = ranges[index];
        const bytes = payload.kind === "memory" ? Promise.resolve(payload.data.subarray(range.start, range.end + 1)) : reader.read(range.start, range.end - range.start + 1);
        return bytes.then((chunk) => ({
          chunk,
          headers: chunkHeaders(payload, range.start, range.end, total, chunk)
        }));
      };
      let next = load(0);
      for (let index = 0; index < ranges.length; index++) {
        const { chunk, headers } = await next;
        const sent = http5.request(
          chunkRequest(operation, bearer, slot, url, headers, chunk, fileContext),
          discardBody
        );
        if (index + 1 < ranges.length) {
          next = load(index + 1);
          next.catch(() => void 0);
        }
        await sent;
        uploadedBytes += chunk.length;
      }
      if (payload.kind === "file" && !payload.gzip) {
        const after = await stat5(file.absolutePath).catch(() => void 0);
        if (after?.size !== file.size) {
          const now = after === void 0 ? "gone" : String(after.size);
          throw sourceChanged(file, `${now} after it was sent`, fileContext);
        }
      }
      originalDone += payload.originalSize;
      filesDone++;
      progress();
      logger.debug(
        `uploaded ${file.artifactPath} (${payload.originalSize} bytes${payload.gzip ? `, gzip ${total}` : ""})`
      );
    } finally {
      await reader?.close();
      if (payload.kind === "file") await payload.cleanup();
    }
  };
  await runWorkers(spec.files, http5.slots, ctx, uploadFile);
  ctx.onProgress?.({
    operation: "upload",
    artifactName: spec.name,
    phase: "finalize",
    bytesDone: originalDone,
    bytesTotal: totalOriginal,
    filesDone,
    filesTotal: spec.files.length
  });
  await service.finalize(spec.name, totalOriginal, context);
  return {
    id: typeof created2.containerId === "number" ? created2.containerId : Number(created2.containerId) || void 0,
    uploadedBytes,
    size: totalOriginal,
    fileCount: spec.files.length,
    digest: void 0
  };
}
function chunkHeaders(payload, start, end, total, chunk) {
  const headers = {
    accept: `application/json;api-version=${API_VERSION}`,
    "content-type": "application/octet-stream",
    connection: "Keep-Alive",
    "keep-alive": "10",
    "content-range": contentRange(start, end, total),
    "x-actions-results-crc64": crc64Base64(chunk),
    "x-actions-results-md5": md5Base64(chunk)
  };
  if (payload.gzip) {
    headers["content-encoding"] = "gzip";
    headers["x-tfs-filelength"] = String(payload.originalSize);
  }
  return headers;
}
function payloadLength(payload) {
  return payload.kind === "memory" ? payload.data.length : payload.size;
}
function chunkRequest(operation, bearer, slot, url, headers, body, context) {
  const spec = {
    operation,
    slot,
    phase: "transfer",
    method: "PUT",
    url,
    headers,
    body,
    context
  };
  if (bearer !== void 0) spec.bearer = bearer;
  return spec;
}

// src/backends/legacy/legacy-backend.ts
var LegacyBackend = class {
  constructor(config) {
    this.config = config;
  }
  config;
  kind = "legacy";
  upload(spec, ctx) {
    return uploadLegacy(this.config, spec, ctx);
  }
  async download(spec, ctx) {
    const artifact = await new ArtifactService(this.config, ctx).find(spec.name, "download");
    if (ctx.cache) {
      ctx.logger.debug(
        `Artifact '${spec.name}': the download cache is not used on the legacy protocol (it lists no digest)`
      );
    }
    return downloadLegacy(this.config, artifact, spec, ctx);
  }
  async list(ctx) {
    return (await new ArtifactService(this.config, ctx).list("list")).map(toInfo);
  }
  delete(name) {
    return Promise.reject(
      new FerryError(
        "ERR_FERRY_CONFIG",
        `Cannot delete '${name}': the legacy artifact protocol has no delete operation`,
        {
          context: { operation: "delete", artifactName: name }
        }
      )
    );
  }
  async get(name, ctx) {
    return toInfo(await new ArtifactService(this.config, ctx).find(name, "get"));
  }
};

// src/backends/local/local-store.ts
import { randomBytes as randomBytes2 } from "node:crypto";
import { mkdir as mkdir3 } from "node:fs/promises";
var LOCAL_RUN_ID = "local";
async function openLocalStore(startServer2, dataDir, runId = LOCAL_RUN_ID) {
  await mkdir3(dataDir, { recursive: true });
  const token = mintRuntimeToken(runId);
  registerSecret(token);
  const server = await startServer2({ dataDir, host: "127.0.0.1", port: 0, token });
  return {
    config: {
      resultsUrl: server.url,
      token,
      ids: { workflowRunBackendId: runId, workflowJobRunBackendId: runId }
    },
    origin: new URL(server.url).origin,
    label: `the embedded store in ${dataDir}`,
    close: () => server.close()
  };
}
function mintRuntimeToken(runId) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header4 = encode({ alg: "HS256", typ: "JWT" });
  const payload = encode({
    scp: `Actions.Results:${runId}:${runId}`,
    nonce: randomBytes2(16).toString("hex")
  });
  return `${header4}.${payload}.${randomBytes2(32).toString("base64url")}`;
}

// src/backends/local/store-url.ts
function hideStoreUrl(text, origin, label2) {
  if (!text.includes(origin)) return text;
  const escaped = origin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return text.replace(new RegExp(`${escaped}[^\\s'"),]*`, "g"), label2);
}
function loggerHidingStoreUrl(logger, origin, label2) {
  const hide = (message) => hideStoreUrl(message, origin, label2);
  return {
    debug: (m) => logger.debug(hide(m)),
    info: (m) => logger.info(hide(m)),
    warn: (m) => logger.warn(hide(m)),
    error: (m) => logger.error(hide(m))
  };
}
function hideStoreUrlInError(error2, origin, label2) {
  if (!(error2 instanceof Error) && !isFerryError(error2)) return error2;
  const target = error2;
  const message = hideStoreUrl(target.message, origin, label2);
  if (message !== target.message) {
    if (target.stack?.startsWith(`${target.name}: ${target.message}`)) {
      target.stack = `${target.name}: ${message}${target.stack.slice(target.name.length + 2 + target.message.length)}`;
    }
    target.message = message;
  }
  if (isFerryError(error2) && error2.context.url?.includes(origin)) {
    const { url: _hidden, ...rest } = error2.context;
    Object.defineProperty(error2, "context", {
      value: Object.freeze(rest),
      enumerable: true,
      configurable: true,
      writable: false
    });
  }
  return error2;
}

// src/backends/results/contracts.ts
var TWIRP_SERVICE = "github.actions.results.api.v1.ArtifactService";
var ARTIFACT_VERSION = 7;
var RESULTS_USER_AGENT = "@actions/artifact-6.2.1";

// src/backends/results/blob-download.ts
import { createHash as createHash3 } from "node:crypto";
import { open as open6 } from "node:fs/promises";
import { dirname } from "node:path";
import { Writable } from "node:stream";
import { finished as finished2 } from "node:stream/promises";
init_write_fully();

// src/transport/error-body.ts
function extractErrorMessage(body) {
  const text = body.trim();
  if (text === "") return void 0;
  if (text.startsWith("{") || text.startsWith("[")) {
    try {
      const found = messageFrom(JSON.parse(text), 0);
      if (found) return found;
    } catch {
    }
  }
  const xml = /<Message>([\s\S]*?)<\/Message>/i.exec(text);
  if (xml?.[1]) return xml[1].trim().split("\n")[0];
  if (/^<!doctype html|^<html/i.test(text)) {
    const title = /<title>([\s\S]*?)<\/title>/i.exec(text);
    return title?.[1]?.trim() || void 0;
  }
  return text.split("\n")[0]?.slice(0, 200);
}
function messageFrom(value, depth2) {
  if (depth2 > 4 || value === null || value === void 0) return void 0;
  if (typeof value === "string") return value.trim() || void 0;
  if (Array.isArray(value)) {
    const parts = value.map((v) => messageFrom(v, depth2 + 1)).filter((v) => Boolean(v));
    return parts.length ? parts.join("; ") : void 0;
  }
  if (typeof value === "object") {
    const record = value;
    for (const key of ["message", "msg", "Message", "error_description", "errors", "error", "value"]) {
      const found = messageFrom(record[key], depth2 + 1);
      if (found) return found;
    }
  }
  return void 0;
}
function mentionsRateLimit(message) {
  return message !== void 0 && /rate limit/i.test(message);
}

// src/core/byte-budget.ts
var ByteBudget = class {
  constructor(limit) {
    this.limit = limit;
  }
  limit;
  held = 0;
  #waiting = [];
  add(bytes) {
    this.held += bytes;
  }
  release(bytes) {
    this.held -= bytes;
    if (this.held <= this.limit) this.wakeAll();
  }
  /** Resolves once the held bytes are back within the limit (or `wakeAll` is called). */
  room() {
    if (this.held <= this.limit) return Promise.resolve();
    return new Promise((resolve2) => this.#waiting.push(resolve2));
  }
  /** Wakes every waiter to check again (the consumer moved on, or the read failed). */
  wakeAll() {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  }
};

// src/backends/results/ranged-blob-reader.ts
var DELIVER_BYTES = 1024 * 1024;
var RangeBuffer = class {
  constructor(start, end, budget) {
    this.start = start;
    this.end = end;
    this.budget = budget;
  }
  start;
  end;
  budget;
  /** Bytes received so far; a resume asks for the rest after them. */
  received = 0;
  done = false;
  #chunks = [];
  #wake;
  /** Set once the writer reached this range: it never waits for room, or nothing would drain. */
  writing = false;
  get length() {
    return this.end - this.start;
  }
  push(chunk) {
    this.received += chunk.length;
    this.budget.add(chunk.length);
    this.pendingBytes += chunk.length;
    this.#chunks.push(chunk);
    this.wake();
  }
  finish() {
    this.done = true;
    this.wake();
  }
  take() {
    const chunks = this.#chunks;
    this.#chunks = [];
    this.pendingBytes = 0;
    return chunks;
  }
  /** Bytes received and not yet taken. */
  pendingBytes = 0;
  /** Whether reading should pause: ahead of the writer while too much is held. */
  get mustWait() {
    return !this.writing && this.budget.held > this.budget.limit;
  }
  get pending() {
    return this.#chunks.length > 0;
  }
  /** Resolves on the next push, finish or failure. */
  next() {
    return new Promise((resolve2) => this.#wake = resolve2);
  }
  wake() {
    const wake = this.#wake;
    this.#wake = void 0;
    wake?.();
  }
};
async function readRanges(options) {
  const { total, rangeBytes } = options;
  const count = Math.ceil(total / rangeBytes);
  const connections = Math.max(1, Math.min(options.connections, options.http.slots, count));
  const window = connections;
  const ranges = /* @__PURE__ */ new Map();
  const budget = new ByteBudget(options.bufferBytes);
  const internal = new AbortController();
  const signal = AbortSignal.any([options.operation.signal, internal.signal]);
  let failure;
  let head = 0;
  let next = 0;
  let headMoved = [];
  let rangeCreated;
  const fail = (error2) => {
    if (failure !== void 0) return;
    failure = error2;
    internal.abort(error2);
    if (!options.first.destroyed) options.first.destroy();
    for (const range of ranges.values()) range.wake();
    decide2(true);
    budget.wakeAll();
    wakeWorkers();
    rangeCreated?.();
  };
  const wakeWorkers = () => {
    const waiting = headMoved;
    headMoved = [];
    for (const wake of waiting) wake();
  };
  const open26 = (index) => {
    const start = index * rangeBytes;
    const range = new RangeBuffer(start, Math.min(total, start + rangeBytes), budget);
    ranges.set(index, range);
    const created2 = rangeCreated;
    rangeCreated = void 0;
    created2?.();
    return range;
  };
  let decide2 = () => void 0;
  const decided = new Promise((resolve2) => decide2 = resolve2);
  const waitForWindow = async () => {
    while (failure === void 0 && next >= head + window)
      await new Promise((resolve2) => headMoved.push(resolve2));
  };
  const firstWorker = async () => {
    next = 1;
    const body = new FirstBody(options);
    let range = open26(0);
    const startedAt = performance.now();
    await body.fill(range);
    const seconds2 = (performance.now() - startedAt) / 1e3;
    const oneStream = range.received === range.length && range.length >= options.fastBytesPerSecond * seconds2;
    decide2(oneStream);
    if (!oneStream) {
      body.destroy();
      options.http.disposeAndReplace(0);
    }
    for (; ; ) {
      if (failure !== void 0) return;
      if (range.received < range.length) await fetchRange(options, range, 0, signal);
      range.finish();
      if (!oneStream || next >= count) break;
      await waitForWindow();
      if (failure !== void 0) return;
      range = open26(next++);
      if (body.readable) await body.fill(range);
    }
    body.destroy();
    if (oneStream) return;
    await otherRanges(0);
  };
  const otherRanges = async (slot) => {
    while (failure === void 0 && next < count) {
      if (next >= head + window) {
        await waitForWindow();
        continue;
      }
      const range = open26(next++);
      await fetchRange(options, range, slot, signal);
      range.finish();
    }
  };
  const worker = async (slot) => {
    if (slot === 0) return firstWorker();
    if (await decided) return;
    await otherRanges(slot);
  };
  const writer = async () => {
    for (; head < count; ) {
      let range = ranges.get(head);
      while (range === void 0) {
        await new Promise((resolve2) => rangeCreated = resolve2);
        if (failure !== void 0) return;
        range = ranges.get(head);
      }
      range.writing = true;
      budget.wakeAll();
      for (; ; ) {
        if (failure !== void 0) return;
        if (range.pendingBytes >= DELIVER_BYTES || range.done && range.pending) {
          const chunks = range.take();
          await options.deliver(chunks);
          let bytes = 0;
          for (const chunk of chunks) bytes += chunk.length;
          budget.release(bytes);
        } else if (range.done) break;
        else await range.next();
      }
      ranges.delete(head++);
      wakeWorkers();
    }
  };
  const onAbort = () => fail(new AbortError(options.operation.signal.reason, options.context));
  options.operation.signal.addEventListener("abort", onAbort, { once: true });
  const tasks = [writer(), ...Array.from({ length: connections }, (_, slot) => worker(slot))].map(
    (task) => task.catch(fail)
  );
  try {
    await Promise.all(tasks);
  } finally {
    options.operation.signal.removeEventListener("abort", onAbort);
  }
  if (failure !== void 0) {
    options.operation.throwIfStopped();
    throw failure;
  }
}
var FirstBody = class {
  #res;
  #chunks;
  #watchdog;
  #leftover;
  #ended = false;
  constructor(options) {
    const res = options.first;
    this.#res = res;
    this.#chunks = res[Symbol.asyncIterator]();
    this.#watchdog = new PausableWatchdog(
      () => watchThroughput(options.stall, "Download", options.context, (error2) => res.destroy(error2))
    );
  }
  get readable() {
    return !this.#ended;
  }
  async fill(range) {
    while (!this.#ended && range.received < range.length) {
      let chunk = this.#leftover;
      this.#leftover = void 0;
      if (chunk === void 0) {
        try {
          const next = await this.#chunks.next();
          if (next.done) {
            this.destroy();
            return;
          }
          chunk = next.value;
          this.#watchdog.add(chunk.length);
        } catch {
          this.destroy();
          return;
        }
      }
      const room = range.length - range.received;
      if (chunk.length > room) this.#leftover = chunk.subarray(room);
      range.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      if (range.received < range.length) await waitForRoom(range, this.#watchdog);
    }
  }
  destroy() {
    this.#ended = true;
    this.#leftover = void 0;
    this.#watchdog.stop();
    if (!this.#res.destroyed) this.#res.destroy();
  }
};
async function fetchRange(options, range, slot, signal) {
  while (range.received < range.length) {
    const url = options.url();
    const refusal = await options.http.request(
      {
        slot,
        method: "GET",
        url,
        headers: () => ({
          range: `bytes=${range.start + range.received}-${range.end - 1}`,
          "if-match": options.etag
        }),
        okStatuses: [403, 412, 416],
        signal,
        context: options.context
      },
      (res) => readRange(options, range, res)
    );
    if (refusal !== void 0) await options.refused(url, refusal);
  }
}
async function readRange(options, range, res) {
  const status = res.statusCode ?? 0;
  const asked = `bytes=${range.start + range.received}-${range.end - 1}`;
  if (status === 403) {
    const body = (await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString("utf8");
    const code = res.headers["x-ms-error-code"];
    return { code: typeof code === "string" ? code : void 0, message: extractErrorMessage(body), body };
  }
  if (status === 412 || status === 416) {
    res.resume();
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      status === 412 ? `The blob changed during the download: the range ${asked} was refused for If-Match ${options.etag} (HTTP 412)` : `The blob is shorter than the ${options.total} bytes it declared: the range ${asked} was refused as out of range (HTTP 416)`,
      { context: options.context }
    );
  }
  if (status !== 206) {
    res.resume();
    throw new FerryError(
      "ERR_FERRY_PROTOCOL",
      `The blob store answered the ranged GET ${asked} with HTTP ${status}, expected 206 (it answered the first range with 206)`,
      { context: options.context }
    );
  }
  const from = range.start + range.received;
  const length = range.end - from;
  const contentRange2 = String(res.headers["content-range"] ?? "");
  const declared = res.headers["content-length"];
  const etag = res.headers["etag"];
  if (contentRange2 !== `bytes ${from}-${range.end - 1}/${options.total}` || declared !== void 0 && Number(declared) !== length || etag !== void 0 && etag !== options.etag) {
    res.resume();
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `The blob store answered ${asked} with Content-Range '${contentRange2.slice(0, 100)}'${declared === void 0 ? "" : `, Content-Length ${String(declared).slice(0, 20)}`}${etag === void 0 || etag === options.etag ? "" : ` and another ETag`}, not the ${length} bytes asked for of the ${options.total}-byte blob`,
      { context: options.context }
    );
  }
  const watchdog = new PausableWatchdog(
    () => watchThroughput(options.stall, "Download", options.context, (error2) => res.destroy(error2))
  );
  let got = 0;
  try {
    for await (const chunk of res) {
      watchdog.add(chunk.length);
      got += chunk.length;
      if (got > length) {
        throw new IntegrityError(
          "ERR_FERRY_INTEGRITY",
          `The blob store sent more than the ${length} bytes of the range ${asked}`,
          { context: options.context }
        );
      }
      range.push(chunk);
      if (got < length) await waitForRoom(range, watchdog);
    }
  } catch (error2) {
    if (error2 instanceof FerryError) throw error2;
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `Download truncated: the range ${asked} broke off after ${got} of ${length} bytes`,
      { cause: error2, retryable: true, context: options.context }
    );
  } finally {
    watchdog.stop();
    if (!res.destroyed && !res.complete) res.destroy();
  }
  if (got !== length) {
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `Download truncated: the range ${asked} ended after ${got} of ${length} bytes`,
      { retryable: true, context: options.context }
    );
  }
  return void 0;
}
async function waitForRoom(range, watchdog) {
  if (!range.mustWait) return;
  watchdog.pause();
  while (range.mustWait) await range.budget.room();
  watchdog.resume();
}
var PausableWatchdog = class {
  constructor(begin) {
    this.begin = begin;
    this.#current = begin();
  }
  begin;
  #current;
  add(bytes) {
    this.#current.add(bytes);
  }
  pause() {
    this.#current.stop();
  }
  resume() {
    this.#current = this.begin();
  }
  stop() {
    this.#current.stop();
  }
};

// src/backends/results/blob-download.ts
var DEFAULT_RANGE_POLICY = Object.freeze({
  thresholdBytes: 64 * 1024 * 1024,
  rangeBytes: 8 * 1024 * 1024,
  maxConnections: 8,
  bufferBytes: 32 * 1024 * 1024,
  // Measured on the 2-core bench machine (busy): one capped stream through the bench's 40 MB/s
  // proxy gives 28-38 MB/s, loopback 50-330 MB/s, and ranges on loopback took 2-3x as long as
  // one stream (through the one-pass sink too); at 100 MB/s the first 8 MiB of a busy loopback
  // still looked capped, so only a stream clearly below 50 MB/s is split.
  fastBytesPerSecond: 5e7
});
var DigestMismatchError = class extends IntegrityError {
  name = "DigestMismatchError";
  /** `sha256:<hex>` the service listed. */
  expectedDigest;
  /** `sha256:<hex>` of the bytes received (on the last download). */
  actualDigest;
  constructor(expectedHex, actualHex, downloads, context) {
    super(
      "ERR_FERRY_INTEGRITY",
      `Digest mismatch: the service listed sha256:${expectedHex} but the bytes received hash to sha256:${actualHex} (downloaded ${downloads === 1 ? "once" : `${downloads} times`}); nothing was extracted`,
      { context }
    );
    this.expectedDigest = `sha256:${expectedHex}`;
    this.actualDigest = `sha256:${actualHex}`;
  }
};
var Progress = class {
  received = 0;
  hash = createHash3("sha256");
  etag;
  contentType;
  contentDisposition;
  expectedTotal;
  /** Forget everything: the next request is a fresh GET without Range. */
  restart() {
    this.received = 0;
    this.hash = createHash3("sha256");
    this.etag = void 0;
    this.expectedTotal = void 0;
  }
};
async function downloadBlob(url, file, options) {
  const started = Date.now();
  const state = new Progress();
  let current = url;
  let replaced;
  let refreshing;
  const refused = async (usedUrl, refusal) => {
    if (refreshing !== void 0 && usedUrl === replaced) return refreshing;
    if (refreshing !== void 0 || !options.refreshUrl)
      throw refusedError(refusal, refreshing !== void 0, started, options.context);
    replaced = usedUrl;
    const refreshUrl = options.refreshUrl;
    refreshing = (async () => {
      current = await refreshUrl();
    })();
    return refreshing;
  };
  for (let downloads = 1; ; ) {
    const used = current;
    const outcome = await fetchOnce(used, file, state, options, () => current, refused);
    if (outcome.kind === "refused") {
      await refused(used, outcome);
      continue;
    }
    if (state.expectedTotal !== void 0 && state.received !== state.expectedTotal) {
      throw new IntegrityError(
        "ERR_FERRY_INTEGRITY",
        `Download has ${state.received} bytes, the server declared ${state.expectedTotal}`,
        { context: options.context }
      );
    }
    const sha256 = state.hash.digest("hex");
    const expected = options.expectedSha256;
    if (expected !== void 0 && sha256 !== expected) {
      if (downloads >= 2) throw new DigestMismatchError(expected, sha256, downloads, options.context);
      downloads++;
      state.restart();
      continue;
    }
    return {
      size: state.received,
      sha256,
      contentType: state.contentType,
      contentDisposition: state.contentDisposition
    };
  }
}
async function fetchOnce(url, file, state, options, currentUrl, refused) {
  const policy = options.ranges ?? DEFAULT_RANGE_POLICY;
  const connections = Math.min(policy.maxConnections, options.http.slots);
  const rangeable = connections > 1 && options.listedSize !== void 0 && options.listedSize > policy.thresholdBytes;
  const read = async (res) => {
    const status = res.statusCode ?? 0;
    if (status === 403) {
      const body = (await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString("utf8");
      const code = res.headers["x-ms-error-code"];
      return {
        kind: "refused",
        code: typeof code === "string" ? code : void 0,
        message: extractErrorMessage(body),
        body
      };
    }
    if (status === 416 && state.received > 0) {
      res.resume();
      const total = /^bytes \*\/(\d+)$/.exec(String(res.headers["content-range"] ?? ""));
      if (total && Number(total[1]) === state.received) {
        state.expectedTotal = state.received;
        return { kind: "complete" };
      }
      state.restart();
      throw new IntegrityError(
        "ERR_FERRY_INTEGRITY",
        "The resumed download was refused as out of range (HTTP 416); starting over",
        { retryable: true, context: options.context }
      );
    }
    let append = false;
    const resuming = state.received > 0 && state.etag !== void 0;
    if (status === 206 && resuming) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers["content-range"] ?? ""));
      if (!range || Number(range[1]) !== state.received || !rangeAgrees(range, res, state.expectedTotal)) {
        res.resume();
        throw new IntegrityError(
          "ERR_FERRY_INTEGRITY",
          `Resumed download returned an unexpected Content-Range '${res.headers["content-range"]}'`,
          { context: options.context }
        );
      }
      append = true;
    } else if (status === 206 && rangeable) {
      wholeRange(res, state, options);
      await options.tee?.start();
      if (state.etag !== void 0 && state.expectedTotal !== void 0) {
        if (options.listedSize !== void 0 && state.expectedTotal > options.listedSize) {
          res.resume();
          throw responseTooLarge(
            `The blob download (${state.expectedTotal} bytes declared)`,
            options.listedSize,
            "the artifact's listed size",
            options.context
          );
        }
        if (rangeable && state.expectedTotal > policy.thresholdBytes)
          return { kind: "ranged", res, total: state.expectedTotal, etag: state.etag };
      }
    } else if (status !== 200) {
      res.resume();
      throw new IntegrityError("ERR_FERRY_PROTOCOL", `Blob download answered HTTP ${status}, expected 200`, {
        context: options.context
      });
    } else {
      state.restart();
      await options.tee?.start();
      const tag = res.headers["etag"];
      state.etag = typeof tag === "string" && !tag.startsWith("W/") ? tag : void 0;
      state.contentType = res.headers["content-type"];
      const disposition = res.headers["content-disposition"];
      state.contentDisposition = typeof disposition === "string" ? disposition : void 0;
      const length = res.headers["content-length"];
      state.expectedTotal = length === void 0 ? void 0 : Number(length);
    }
    const declared = res.headers["content-length"] === void 0 ? void 0 : Number(res.headers["content-length"]);
    const cap = options.listedSize;
    const tooLarge = () => responseTooLarge(
      `The blob download (${state.received} bytes already received)`,
      cap ?? 0,
      "the artifact's listed size",
      options.context
    );
    let overrun;
    let got = 0;
    let sinkFailure;
    if (typeof file !== "string" && !append) await file.start(state.contentType, state.expectedTotal);
    const handle = typeof file === "string" ? await open6(file, append ? "a" : "w") : void 0;
    if (append) await handle?.truncate(state.received);
    const put2 = (chunks) => (handle !== void 0 ? writeFully(handle, chunks) : file.write(chunks)).catch(
      (error2) => {
        sinkFailure ??= error2;
        throw error2;
      }
    );
    const watchdog = watchThroughput(
      options.stall ?? options.http.stallPolicy,
      "Download",
      options.context,
      (error2) => res.destroy(error2)
    );
    const persisted = (chunks) => {
      for (const chunk of chunks) {
        got += chunk.length;
        state.received += chunk.length;
        state.hash.update(chunk);
      }
      options.onBytes?.(state.received, state.expectedTotal);
    };
    const sink = new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write(chunk, _encoding, done) {
        watchdog.add(chunk.length);
        put2([chunk]).then(() => options.tee?.write([chunk])).then(() => {
          persisted([chunk]);
          done();
        }, done);
      },
      writev(entries, done) {
        const chunks = entries.map((e) => e.chunk);
        for (const chunk of chunks) watchdog.add(chunk.length);
        put2(chunks).then(() => options.tee?.write(chunks)).then(() => {
          persisted(chunks);
          done();
        }, done);
      }
    });
    if (cap !== void 0) {
      let seen = state.received;
      res.on("data", (chunk) => {
        seen += chunk.length;
        if (seen > cap && overrun === void 0) {
          overrun = tooLarge();
          res.destroy(overrun);
        }
      });
    }
    try {
      await drain(res, sink);
    } catch (error2) {
      if (error2 instanceof StalledTransferError) throw error2;
      if (overrun !== void 0) throw overrun;
      if (sinkFailure !== void 0 && !findResourceFailure(sinkFailure)) throw sinkFailure;
      if (findResourceFailure(error2)) {
        throw await asResourceError(error2, {
          context: options.context,
          // The temporary directory holding `file` is removed; its parent is tempDir.
          ...typeof file === "string" ? { removedOnFailure: dirname(file) } : {},
          neededBytes: state.expectedTotal ?? declared
        });
      }
      throw new IntegrityError(
        "ERR_FERRY_INTEGRITY",
        declared === void 0 ? `Download broke off after ${state.received} bytes` : `Download truncated: the connection closed after ${got} of ${declared} bytes (${state.received} in total)`,
        { cause: error2, retryable: true, context: options.context }
      );
    } finally {
      watchdog.stop();
      await handle?.close();
    }
    if (declared !== void 0 && got !== declared) {
      throw new IntegrityError("ERR_FERRY_INTEGRITY", `Download truncated: ${got} of ${declared} bytes`, {
        retryable: true,
        context: options.context
      });
    }
    return { kind: "complete" };
  };
  const outcome = await options.http.request(
    {
      slot: 0,
      phase: "transfer",
      method: "GET",
      url,
      headers: () => state.received > 0 && state.etag ? { range: `bytes=${state.received}-`, "if-match": state.etag } : rangeable ? { range: "bytes=0-" } : {},
      okStatuses: [403, 416],
      operation: options.operation,
      context: options.context
    },
    read
  );
  if (outcome.kind !== "ranged") return outcome;
  await readRangedBody(outcome, file, state, options, {
    connections,
    rangeBytes: policy.rangeBytes,
    bufferBytes: policy.bufferBytes,
    fastBytesPerSecond: policy.fastBytesPerSecond,
    currentUrl,
    refused
  });
  return { kind: "complete" };
}
function wholeRange(res, state, options) {
  const contentRange2 = String(res.headers["content-range"] ?? "");
  const whole = /^bytes 0-(\d+)\/(\d+)$/.exec(contentRange2);
  const length = res.headers["content-length"];
  const total = whole ? Number(whole[2]) : NaN;
  if (!whole || Number(whole[1]) + 1 !== total || !Number.isSafeInteger(total) || length !== void 0 && Number(length) !== total) {
    res.resume();
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `The blob store answered 'Range: bytes=0-' with Content-Range '${contentRange2.slice(0, 100)}', not the whole blob`,
      { context: options.context }
    );
  }
  state.restart();
  const tag = res.headers["etag"];
  state.etag = typeof tag === "string" && !tag.startsWith("W/") ? tag : void 0;
  state.contentType = res.headers["content-type"];
  const disposition = res.headers["content-disposition"];
  state.contentDisposition = typeof disposition === "string" ? disposition : void 0;
  state.expectedTotal = total;
}
async function readRangedBody(outcome, file, state, options, plan) {
  let sinkFailure;
  let handle;
  let written = [];
  const count = async () => {
    const chunks = written;
    written = [];
    if (chunks.length === 0) return;
    for (const chunk of chunks) {
      state.received += chunk.length;
      state.hash.update(chunk);
    }
    await options.tee?.write(chunks);
    options.onBytes?.(state.received, state.expectedTotal);
  };
  try {
    if (typeof file === "string") handle = await open6(file, "w");
    else await file.start(state.contentType, outcome.total);
    await readRanges({
      http: options.http,
      operation: options.operation,
      context: options.context,
      url: plan.currentUrl,
      refused: plan.refused,
      total: outcome.total,
      etag: outcome.etag,
      rangeBytes: plan.rangeBytes,
      bufferBytes: plan.bufferBytes,
      fastBytesPerSecond: plan.fastBytesPerSecond,
      connections: plan.connections,
      first: outcome.res,
      stall: options.stall ?? options.http.stallPolicy,
      deliver: async (chunks) => {
        const [write, counted] = await Promise.allSettled([
          handle !== void 0 ? writeFully(handle, chunks) : file.write(chunks),
          count()
        ]);
        if (write.status === "rejected") {
          sinkFailure = write.reason;
          throw write.reason;
        }
        if (counted.status === "rejected") throw counted.reason;
        written = chunks;
      }
    });
    await count();
  } catch (error2) {
    await count().catch(() => void 0);
    if (sinkFailure !== void 0 && !findResourceFailure(sinkFailure)) throw sinkFailure;
    if (findResourceFailure(error2)) {
      throw await asResourceError(error2, {
        context: options.context,
        ...typeof file === "string" ? { removedOnFailure: dirname(file) } : {},
        neededBytes: outcome.total
      });
    }
    throw error2;
  } finally {
    if (!outcome.res.destroyed) outcome.res.destroy();
    await handle?.close();
  }
}
function rangeAgrees(range, res, expectedTotal) {
  const start = Number(range[1]);
  const end = Number(range[2]);
  const total = range[3] === "*" ? void 0 : Number(range[3]);
  const length = res.headers["content-length"];
  if (end < start) return false;
  if (length !== void 0 && Number(length) !== end - start + 1) return false;
  if (total !== void 0 && end >= total) return false;
  return total === void 0 || expectedTotal === void 0 || total === expectedTotal;
}
async function drain(res, sink) {
  sink.once("error", (error2) => res.destroy(error2));
  res.pipe(sink, { end: false });
  let broken;
  try {
    await finished2(res);
  } catch (error2) {
    broken = error2;
    res.unpipe(sink);
  }
  sink.end();
  await finished2(sink);
  if (broken !== void 0) throw broken;
}
function refusedError(outcome, refreshed, started, context) {
  const why = [outcome.code, outcome.message?.slice(0, 200)].filter(Boolean).join(": ");
  const elapsed = ((Date.now() - started) / 1e3).toFixed(1);
  return new HttpError(
    "ERR_FERRY_UNAUTHORIZED",
    refreshed ? `The blob store refused the signed download URL ${elapsed} s into the download (HTTP 403${why ? ` ${why}` : ""}), and refused the fresh URL from GetSignedArtifactURL too; not retrying` : `The blob store refused the signed download URL ${elapsed} s into the download (HTTP 403${why ? ` ${why}` : ""}); it may have expired`,
    403,
    outcome.body,
    { context: { ...context, status: 403 } }
  );
}
function normalizeDigest(digest2) {
  if (!digest2) return void 0;
  const hex2 = digest2.trim().toLowerCase().replace(/^sha256:/, "");
  return /^[0-9a-f]{64}$/.test(hex2) ? hex2 : void 0;
}

// src/backends/latest-per-name.ts
function latestPerName(artifacts) {
  const byName = /* @__PURE__ */ new Map();
  for (const a of artifacts) {
    const current = byName.get(a.name);
    if (!current || (a.id ?? 0) > (current.id ?? 0)) byName.set(a.name, a);
  }
  return [...byName.values()];
}

// src/transport/operation.ts
var Operation = class {
  constructor(name, parent) {
    this.name = name;
    this.signal = parent ? AbortSignal.any([parent, this.#controller.signal]) : this.#controller.signal;
  }
  name;
  signal;
  #controller = new AbortController();
  #failure;
  /** Records the first fatal error and stops every other worker. */
  fail(error2) {
    if (this.#failure) return;
    this.#failure = error2;
    this.#controller.abort(error2);
  }
  get failure() {
    return this.#failure;
  }
  /** Throws the recorded failure, or AbortError when the caller cancelled. Call before each request. */
  throwIfStopped() {
    if (this.#failure) throw this.#failure;
    if (this.signal.aborted) throw new AbortError(this.signal.reason, { operation: this.name });
  }
};

// src/transport/reconciled-step.ts
async function reconciledStep(retrier, step) {
  const budget = retrier.budget();
  for (; ; ) {
    try {
      return await step.attempt(budget);
    } catch (error2) {
      if (!isFerryError(error2) || !error2.retryable) throw error2;
      budget.attempt = Math.max(budget.attempt, error2.context.attempt ?? budget.attempt);
      const decision = retrier.decide(budget, { kind: "error", error: error2 });
      if (!decision.retry) throw error2;
      retrier.logger.debug(
        `${step.call} failed (${decision.reason}), retry ${budget.attempt} in ${decision.delayMs} ms (${decision.basis})`
      );
      await retrier.sleep(decision.delayMs, step.signal);
      budget.attempt++;
      const settled = await step.reconcile(error2);
      if (settled) return settled.done;
    }
  }
}

// src/backends/results/twirp.ts
var TwirpClient = class {
  constructor(http5, config) {
    this.http = http5;
    this.config = config;
    this.#origin = new URL(config.resultsUrl).origin;
  }
  http;
  config;
  #origin;
  call(method, body, options) {
    return this.http.request(
      this.#spec(method, body, options, []),
      (res) => readJson(res, this.#limit(method, options))
    );
  }
  /**
   * Like {@link call}, but the HTTP statuses in `refused` come back as an outcome instead of a
   * thrown (and operation-stopping) error, for a caller that must look around before failing
   * (a FinalizeArtifact refused after the blob was committed).
   */
  callAllowing(method, body, options, refused) {
    return this.http.request(this.#spec(method, body, options, refused), async (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300)
        return { status: "ok", value: await readJson(res, this.#limit(method, options)) };
      const text = (await readBody(res, 64 * 1024)).toString("utf8");
      return { status: "refused", httpStatus: status, message: extractErrorMessage(text)?.slice(0, 200) };
    });
  }
  /** Every answer is bounded by the option maxResponseBytes (ERR_FERRY_RESPONSE_TOO_LARGE past it). */
  #limit(method, options) {
    return {
      maxBytes: this.http.maxResponseBytes,
      call: method,
      context: options.context,
      stall: this.http.stallPolicy
    };
  }
  #spec(method, body, options, okStatuses) {
    return {
      slot: options.slot ?? 0,
      method: "POST",
      url: `${this.#origin}/twirp/${TWIRP_SERVICE}/${method}`,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(withoutDefaults(body)),
      bearer: this.config.token,
      operation: options.operation,
      context: options.context,
      call: method,
      ...method === "FinalizeArtifact" ? { phase: "finalize" } : {},
      ...okStatuses.length ? { okStatuses } : {},
      ...options.reconcile ? { networkErrors: "throw" } : {},
      ...options.budget !== void 0 ? { budget: options.budget } : {},
      describeFailure: (status, message) => describeTwirpFailure(method, status, message)
    };
  }
};
function describeTwirpFailure(method, status, message) {
  const text = `${method} failed: ${message ?? `HTTP ${status}`}`;
  if (status === 403 && message && /insufficient usage|quota/i.test(message))
    return { code: "ERR_FERRY_QUOTA", message: text };
  return { message: text };
}
function withoutDefaults(body) {
  const out = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === void 0 || value === null || value === "" || value === 0 || value === "0" || value === false)
      continue;
    out[key] = value;
  }
  return out;
}
function requireOk(method, response, context) {
  if (response.ok !== true) {
    throw new FerryError("ERR_FERRY_PROTOCOL", `${method}: the results service answered without ok: true`, {
      context
    });
  }
}
function toSafeId(value) {
  if (value === void 0) return void 0;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : void 0;
}
function listedSize(value) {
  if (value === void 0 || value === "") return void 0;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : void 0;
}

// src/backends/results/artifact-service.ts
var ABANDON_TIMEOUT_MS = 1e4;
var ArtifactService2 = class {
  #config;
  #ctx;
  #twirp;
  constructor(config, ctx) {
    this.#config = config;
    this.#ctx = ctx;
    this.#twirp = new TwirpClient(ctx.http, config);
  }
  /**
   * A created artifact that was not finalized is deleted (invariant I3), so the failure leaves
   * nothing behind and a re-run can use the name at once instead of meeting a conflict with its
   * own half upload. A finalized one is left alone: a refused or unheard finalize may still have
   * committed it, and the error already names it. One attempt per call, ten seconds in all,
   * whatever stopped the upload; when it fails, a warning names the artifact as created and not
   * finalized.
   */
  async abandon(name, context) {
    const cleanup = new Operation("upload", AbortSignal.timeout(ABANDON_TIMEOUT_MS));
    const once2 = () => ({
      operation: cleanup,
      context,
      budget: this.#ctx.http.retrier.singleAttempt()
    });
    try {
      const listed = await this.list({ name_filter: name }, context, once2());
      if (listed.some((a) => a.name === name)) return;
      const outcome = await this.#twirp.callAllowing(
        "DeleteArtifact",
        { ...this.#ids(), name },
        once2(),
        [404, 409]
      );
      this.#ctx.logger.debug(
        outcome.status === "ok" ? `Deleted the unfinalized artifact '${name}' after the failed upload` : `The failed upload of '${name}' left nothing this job may delete (${outcome.httpStatus})`
      );
    } catch (error2) {
      this.#ctx.logger.warn(
        `Artifact '${name}' was created but not finalized, and could not be deleted (${error2 instanceof Error ? error2.message : String(error2)}); the service may hold the name until it expires the upload`
      );
    }
  }
  /** Resolves the artifact and signs a download URL for it (and again through `refresh`). */
  async signedDownload(spec, context) {
    const artifact = await this.resolve(spec, context);
    const sign = () => this.#sign(artifact, context);
    return {
      url: await sign(),
      name: artifact.name,
      expectedHex: normalizeDigest(artifact.digest),
      refresh: sign,
      listedSize: listedSize(artifact.size)
    };
  }
  /**
   * DeleteArtifact, reconciled: a network error after the request left may mean the artifact
   * is already gone, so a repeat's "not found" is the success that was not heard, not an error
   * (and not a reason to stop the operation). Attempts and time are counted by the retry policy
   * across the repeats. `missingOk`: "not found" on the first attempt is fine too (overwrite: a
   * concurrent overwrite may have deleted it first; the name is free either way).
   */
  async delete(name, context, missingOk = false) {
    let lostResponse = false;
    return reconciledStep(this.#ctx.http.retrier, {
      call: "DeleteArtifact",
      signal: this.#ctx.operation.signal,
      attempt: async (budget) => {
        const outcome = await this.#twirp.callAllowing(
          "DeleteArtifact",
          { ...this.#ids(), name },
          { operation: this.#ctx.operation, context, reconcile: true, budget },
          lostResponse || missingOk ? [404] : []
        );
        if (outcome.status === "refused") {
          this.#ctx.logger.debug(`DeleteArtifact for '${name}': the earlier, unanswered attempt deleted it`);
          return void 0;
        }
        requireOk("DeleteArtifact", outcome.value, context);
        return toSafeId(outcome.value.artifact_id ?? outcome.value.artifactId);
      },
      // Nothing to ask: after a lost answer, the repeat's "not found" is the success.
      reconcile: (error2) => {
        lostResponse = lostResponse || error2.code === "ERR_FERRY_NETWORK" || error2.code === "ERR_FERRY_TIMEOUT";
        return Promise.resolve(void 0);
      }
    });
  }
  #ids() {
    return {
      workflow_run_backend_id: this.#config.ids.workflowRunBackendId,
      workflow_job_run_backend_id: this.#config.ids.workflowJobRunBackendId
    };
  }
  /** Overwrite: deletes the artifact of this name when there is one. */
  async deleteIfPresent(name) {
    const existing = await this.list(
      { name_filter: name },
      {
        operation: "upload",
        artifactName: name
      }
    );
    if (!existing.some((a) => a.name === name)) return;
    await this.delete(name, { operation: "upload", artifactName: name }, true);
    this.#ctx.logger.info(`Deleted the existing artifact '${name}' (overwrite)`);
  }
  /**
   * CreateArtifact, reconciled: a network error after the request left may mean the artifact
   * was created. A finalized artifact of the same name is a real conflict; a 409 that only our
   * own lost create caused is cleared by deleting that unfinalized artifact and creating again.
   * Attempts and time are counted by the retry policy across the repeats.
   */
  async create(name, mimeType, retentionDays2, context) {
    const body = {
      ...this.#ids(),
      name,
      version: ARTIFACT_VERSION,
      mime_type: mimeType,
      ...retentionDays2 ? { expires_at: expiresAt(retentionDays2) } : {}
    };
    let lostResponse = false;
    return reconciledStep(this.#ctx.http.retrier, {
      call: "CreateArtifact",
      signal: this.#ctx.operation.signal,
      attempt: async (budget) => {
        for (; ; ) {
          const outcome = await this.#twirp.callAllowing(
            "CreateArtifact",
            body,
            { operation: this.#ctx.operation, context, reconcile: true, budget },
            [409]
          );
          if (outcome.status === "refused") {
            if (!lostResponse) {
              throw new FerryError(
                "ERR_FERRY_CONFLICT",
                `An artifact named '${name}' already exists in this workflow run; use overwrite to replace it` + (outcome.message ? ` (CreateArtifact: ${outcome.message})` : ""),
                { context }
              );
            }
            await this.delete(name, context);
            lostResponse = false;
            budget.attempt++;
            continue;
          }
          const response = outcome.value;
          requireOk("CreateArtifact", response, context);
          const url = response.signed_upload_url ?? response.signedUploadUrl;
          if (!url)
            throw new FerryError("ERR_FERRY_PROTOCOL", "CreateArtifact returned no signed_upload_url", {
              context
            });
          return checkSignedUrl(url, this.#config.resultsUrl, "the signed upload URL", context);
        }
      },
      reconcile: async (error2) => {
        this.#ctx.logger.debug(
          `CreateArtifact for '${name}' lost its response (${error2.message}); reconciling`
        );
        const finalized = await this.list({ name_filter: name }, context);
        if (finalized.some((a) => a.name === name)) {
          throw new FerryError(
            "ERR_FERRY_CONFLICT",
            `An artifact named '${name}' already exists in this workflow run`,
            { cause: error2, context }
          );
        }
        lostResponse = true;
        return void 0;
      }
    });
  }
  /**
   * FinalizeArtifact, reconciled: when the response is lost, the listing says whether the
   * server committed it (same name and digest), so a retry never finalizes twice or fails a
   * finalize that succeeded. A finalize the service refuses (`ok: false`, 409) after the blob was
   * committed is never taken for success: the error carries the digest, and the id when the
   * service lists the artifact, so the caller can reconcile.
   */
  async finalize(name, size, digest2, context) {
    const body = { ...this.#ids(), name, size: String(size), hash: digest2 };
    const finalizeContext = { ...context, digest: digest2 };
    return reconciledStep(this.#ctx.http.retrier, {
      call: "FinalizeArtifact",
      signal: this.#ctx.operation.signal,
      attempt: async (budget) => {
        const outcome = await this.#twirp.callAllowing(
          "FinalizeArtifact",
          body,
          { operation: this.#ctx.operation, context: finalizeContext, reconcile: true, budget },
          [409]
        );
        if (outcome.status === "refused" || outcome.value.ok !== true) {
          throw await this.#finalizeRefused(
            name,
            size,
            digest2,
            outcome.status === "refused" ? `HTTP ${outcome.httpStatus}${outcome.message ? `: ${outcome.message}` : ""}` : "ok: false",
            outcome.status === "refused" ? "ERR_FERRY_CONFLICT" : "ERR_FERRY_PROTOCOL",
            finalizeContext
          );
        }
        return toSafeId(outcome.value.artifact_id ?? outcome.value.artifactId);
      },
      reconcile: async (error2) => {
        this.#ctx.logger.debug(
          `FinalizeArtifact for '${name}' lost its response (${error2.message}); reconciling`
        );
        const listed = await this.list({ name_filter: name }, finalizeContext);
        const committed = listed.find(
          (a) => a.name === name && normalizeDigest(a.digest) === normalizeDigest(digest2)
        );
        return committed ? { done: toSafeId(committed.database_id ?? committed.databaseId) } : void 0;
      }
    });
  }
  /** The error for a refused finalize, with what the service lists under the name (P33). */
  async #finalizeRefused(name, size, digest2, answer, code, context) {
    let listed;
    let lookup = "";
    try {
      const artifacts = await this.list({ name_filter: name }, context);
      listed = artifacts.filter((a) => a.name === name).sort(
        (a, b) => (toSafeId(b.database_id ?? b.databaseId) ?? 0) - (toSafeId(a.database_id ?? a.databaseId) ?? 0)
      )[0];
    } catch (error2) {
      lookup = `; listing it to check failed too (${error2 instanceof Error ? error2.message : String(error2)})`;
    }
    const id = listed ? toSafeId(listed.database_id ?? listed.databaseId) : void 0;
    const state = listed ? normalizeDigest(listed.digest) === normalizeDigest(digest2) ? `the service lists it as artifact ${id ?? "?"} with this digest, so it may be complete` : `the service lists an artifact ${id ?? "?"} of that name with ${listed.digest ? `digest ${listed.digest}` : "no digest"}` : `the service lists no finalized artifact of that name${lookup}`;
    return new FerryError(
      code,
      `FinalizeArtifact refused artifact '${name}' after its ${size} bytes were uploaded (${answer}); ${state}. Check the artifact before uploading it again`,
      { context: { ...context, ...id !== void 0 ? { artifactId: id } : {} } }
    );
  }
  /** The artifact `spec` names: by id, or the newest of the name. */
  async resolve(spec, context) {
    const filter = spec.id !== void 0 ? { id_filter: String(spec.id) } : { name_filter: spec.name };
    const listed = await this.list(filter, context);
    const matching = spec.id !== void 0 ? listed.filter((a) => toSafeId(a.database_id ?? a.databaseId) === spec.id) : listed.filter((a) => a.name === spec.name);
    const newest = matching.sort(
      (a, b) => (toSafeId(b.database_id ?? b.databaseId) ?? 0) - (toSafeId(a.database_id ?? a.databaseId) ?? 0)
    )[0];
    if (!newest) throw notFound(spec.id !== void 0 ? `#${spec.id}` : spec.name, "download");
    return newest;
  }
  /** GetSignedArtifactURL for a listed artifact, the URL checked against the service's origin. */
  async #sign(artifact, context) {
    const signed = await this.#twirp.call(
      "GetSignedArtifactURL",
      {
        workflow_run_backend_id: artifact.workflow_run_backend_id ?? artifact.workflowRunBackendId ?? this.#config.ids.workflowRunBackendId,
        workflow_job_run_backend_id: artifact.workflow_job_run_backend_id ?? artifact.workflowJobRunBackendId ?? this.#config.ids.workflowJobRunBackendId,
        name: artifact.name
      },
      { operation: this.#ctx.operation, context }
    );
    const url = signed.signed_url ?? signed.signedUrl;
    if (!url)
      throw new FerryError("ERR_FERRY_PROTOCOL", "GetSignedArtifactURL returned no signed_url", {
        context
      });
    return checkSignedUrl(url, this.#config.resultsUrl, "the signed download URL", context);
  }
  /**
   * The origin of the storage host, which only a signed URL names: the signed URL of the run's
   * first artifact, or undefined when the run has none yet (doctor probes it; never guessed).
   */
  async storageOrigin(context) {
    const first = (await this.list({}, context))[0];
    return first ? new URL(await this.#sign(first, context)).origin : void 0;
  }
  /** ListArtifacts in this run's backend ids, narrowed by `filter` (name_filter, id_filter). */
  async list(filter, context, call = {}) {
    const response = await this.#twirp.call(
      "ListArtifacts",
      { ...this.#ids(), ...filter },
      { operation: this.#ctx.operation, context, ...call }
    );
    return Array.isArray(response.artifacts) ? response.artifacts : [];
  }
};
function notFound(what, operation) {
  return new FerryError(
    "ERR_FERRY_NOT_FOUND",
    `No artifact ${what.startsWith("#") ? what : `named '${what}'`} in this workflow run`,
    {
      context: { operation, artifactName: what }
    }
  );
}
function toInfo2(a) {
  return {
    name: a.name,
    id: toSafeId(a.database_id ?? a.databaseId),
    // A negative, fractional, NaN or 2^60 size from the service is no size at all.
    size: listedSize(a.size) ?? 0,
    createdAt: a.created_at ?? a.createdAt,
    digest: a.digest
  };
}
function expiresAt(days) {
  return new Date(Date.now() + days * 24 * 3600 * 1e3).toISOString();
}

// src/backends/results/download.ts
import { mkdir as mkdir8, mkdtemp as mkdtemp2, rm as rm5 } from "node:fs/promises";
import path15 from "node:path";

// src/pack/zip/central-directory.ts
import { open as open7 } from "node:fs/promises";
import { crc32 as crc323 } from "node:zlib";
var SIG_LOCAL = 67324752;
var SIG_CENTRAL = 33639248;
var SIG_EOCD = 101010256;
var SIG_EOCD64 = 101075792;
var SIG_LOCATOR = 117853008;
var LOCAL_HEADER_SIZE = 30;
var CENTRAL_HEADER_SIZE = 46;
var EOCD_SIZE = 22;
var LOCATOR_SIZE = 20;
var EOCD64_SIZE = 56;
var MAX_COMMENT = 65535;
var WINDOW = 1024 * 1024;
var U16 = 65535;
var U32 = 4294967295;
var FLAG_ENCRYPTED = 1;
var FLAG_DATA_DESCRIPTOR = 8;
var FLAG_PATCHED = 32;
var FLAG_STRONG_ENCRYPTION = 64;
var FLAG_UTF8 = 2048;
var FLAG_MASKED_HEADERS = 8192;
var METHOD_NAMES = {
  1: "shrink",
  6: "implode",
  9: "deflate64",
  12: "bzip2",
  14: "lzma",
  93: "zstd",
  95: "xz",
  98: "ppmd",
  99: "AES encryption"
};
var CP437_HIGH = "\xC7\xFC\xE9\xE2\xE4\xE0\xE5\xE7\xEA\xEB\xE8\xEF\xEE\xEC\xC4\xC5\xC9\xE6\xC6\xF4\xF6\xF2\xFB\xF9\xFF\xD6\xDC\xA2\xA3\xA5\u20A7\u0192\xE1\xED\xF3\xFA\xF1\xD1\xAA\xBA\xBF\u2310\xAC\xBD\xBC\xA1\xAB\xBB\u2591\u2592\u2593\u2502\u2524\u2561\u2562\u2556\u2555\u2563\u2551\u2557\u255D\u255C\u255B\u2510\u2514\u2534\u252C\u251C\u2500\u253C\u255E\u255F\u255A\u2554\u2569\u2566\u2560\u2550\u256C\u2567\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256B\u256A\u2518\u250C\u2588\u2584\u258C\u2590\u2580\u03B1\xDF\u0393\u03C0\u03A3\u03C3\xB5\u03C4\u03A6\u0398\u03A9\u03B4\u221E\u03C6\u03B5\u2229\u2261\xB1\u2265\u2264\u2320\u2321\xF7\u2248\xB0\u2219\xB7\u221A\u207F\xB2\u25A0\xA0";
function decodeCp437(bytes) {
  if (bytes.every((byte) => byte < 128)) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  }
  const chars = new Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    chars[i] = byte < 128 ? String.fromCharCode(byte) : CP437_HIGH.charAt(byte - 128);
  }
  return chars.join("");
}
var UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function corrupt(message) {
  return new IntegrityError("ERR_FERRY_INTEGRITY", `Invalid zip archive: ${message}`);
}
function unsupported(message) {
  return new IntegrityError("ERR_FERRY_INTEGRITY", `Unsupported zip archive: ${message}`);
}
async function readExactly(handle, position, length) {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw corrupt(`unexpected end of file at offset ${position + done} (the file is truncated)`);
    }
    done += bytesRead;
  }
  return buffer;
}
function u64(buffer, offset, what) {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) unsupportedValue(what, value);
  return Number(value);
}
function unsupportedValue(what, value) {
  throw unsupported(`${what} is ${value}, larger than 2^53`);
}
var WindowReader = class {
  constructor(handle, end) {
    this.handle = handle;
    this.end = end;
  }
  handle;
  end;
  buffer = Buffer.alloc(0);
  start = 0;
  async get(position, length) {
    if (position < this.start || position + length > this.start + this.buffer.length) {
      const size = Math.min(Math.max(length, WINDOW), this.end - position);
      if (size < length) throw corrupt(`central directory record at offset ${position} is truncated`);
      this.buffer = await readExactly(this.handle, position, size);
      this.start = position;
    }
    return this.buffer.subarray(position - this.start, position - this.start + length);
  }
};
async function readEndRecord(handle, fileSize, label2) {
  if (fileSize < EOCD_SIZE) {
    throw corrupt(`${label2} is ${fileSize} bytes long, too short to be a zip archive`);
  }
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tailStart = fileSize - tailLength;
  const tail = await readExactly(handle, tailStart, tailLength);
  let at = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tail[i] !== 80 || tail.readUInt32LE(i) !== SIG_EOCD) continue;
    if (i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    throw corrupt(
      `no end of central directory record found in ${label2} (the file is truncated or is not a zip archive)`
    );
  }
  const eocdPosition = tailStart + at;
  const disk = tail.readUInt16LE(at + 4);
  const cdDisk = tail.readUInt16LE(at + 6);
  const entriesOnDisk = tail.readUInt16LE(at + 8);
  const entries = tail.readUInt16LE(at + 10);
  const cdSize = tail.readUInt32LE(at + 12);
  const cdOffset = tail.readUInt32LE(at + 16);
  const needsZip64 = disk === U16 || cdDisk === U16 || entriesOnDisk === U16 || entries === U16 || cdSize === U32 || cdOffset === U32;
  const locatorPosition = eocdPosition - LOCATOR_SIZE;
  const locator = locatorPosition >= 0 ? await readExactly(handle, locatorPosition, LOCATOR_SIZE) : void 0;
  if (locator === void 0 || locator.readUInt32LE(0) !== SIG_LOCATOR) {
    if (needsZip64) {
      throw corrupt(
        "the end of central directory record has ZIP64 markers (0xFFFF/0xFFFFFFFF) but there is no ZIP64 end of central directory locator"
      );
    }
    if (disk !== 0 || cdDisk !== 0 || entriesOnDisk !== entries) {
      throw unsupported("multi-disk (split or spanned) archives are not supported");
    }
    return { entries, cdSize, cdOffset, cdEnd: eocdPosition, zip64Shift: void 0 };
  }
  const locatorDisk = locator.readUInt32LE(4);
  const recordOffset = u64(locator, 8, "the ZIP64 end record offset");
  const totalDisks = locator.readUInt32LE(16);
  if (locatorDisk !== 0 || totalDisks > 1) {
    throw unsupported("multi-disk (split or spanned) archives are not supported");
  }
  let record;
  let recordPosition = -1;
  for (const candidate of [recordOffset, locatorPosition - EOCD64_SIZE]) {
    if (candidate < 0 || candidate + EOCD64_SIZE > locatorPosition) continue;
    const buffer = await readExactly(handle, candidate, EOCD64_SIZE);
    if (buffer.readUInt32LE(0) !== SIG_EOCD64) continue;
    const size = buffer.readBigUInt64LE(4);
    if (BigInt(candidate) + 12n + size !== BigInt(locatorPosition)) continue;
    record = buffer;
    recordPosition = candidate;
    break;
  }
  if (record === void 0) {
    throw corrupt(
      `the ZIP64 end of central directory record was not found (locator points to ${recordOffset})`
    );
  }
  const disk64 = record.readUInt32LE(16);
  const cdDisk64 = record.readUInt32LE(20);
  const entriesOnDisk64 = u64(record, 24, "the entry count");
  const entries64 = u64(record, 32, "the entry count");
  const cdSize64 = u64(record, 40, "the central directory size");
  const cdOffset64 = u64(record, 48, "the central directory offset");
  if (disk64 !== 0 || cdDisk64 !== 0 || entriesOnDisk64 !== entries64) {
    throw unsupported("multi-disk (split or spanned) archives are not supported");
  }
  const agree = (disk === U16 || disk === disk64) && (cdDisk === U16 || cdDisk === cdDisk64) && (entries === U16 || entries === entries64) && (entriesOnDisk === U16 || entriesOnDisk === entriesOnDisk64) && (cdSize === U32 || cdSize === cdSize64) && (cdOffset === U32 || cdOffset === cdOffset64);
  if (!agree) {
    throw corrupt("the end of central directory record and the ZIP64 end record disagree");
  }
  return {
    entries: entries64,
    cdSize: cdSize64,
    cdOffset: cdOffset64,
    cdEnd: recordPosition,
    zip64Shift: recordPosition - recordOffset
  };
}
function dosTimeMs(date, time) {
  const year = (date >> 9 & 127) + 1980;
  const month = Math.max(1, date >> 5 & 15) - 1;
  const day = Math.max(1, date & 31);
  return new Date(year, month, day, time >> 11, time >> 5 & 63, (time & 31) * 2).getTime();
}
async function readZipDirectory(handle, options = {}) {
  const label2 = options.label ?? "the file";
  const fileSize = (await handle.stat()).size;
  const end = await readEndRecord(handle, fileSize, label2);
  const shift = end.cdEnd - (end.cdOffset + end.cdSize);
  if (shift < 0) {
    throw corrupt(
      `the central directory (offset ${end.cdOffset}, ${end.cdSize} bytes) lies outside the file or overlaps its end record`
    );
  }
  if (end.zip64Shift !== void 0 && end.zip64Shift !== shift) {
    throw corrupt("the ZIP64 end record and the central directory offsets are inconsistent");
  }
  const cdStart = end.cdOffset + shift;
  if (options.maxEntries !== void 0 && end.entries > options.maxEntries) {
    throw limitError(`it has ${end.entries} entries`, "maxEntries", options.maxEntries);
  }
  if (end.entries * CENTRAL_HEADER_SIZE > end.cdSize) {
    throw corrupt(
      `the central directory (${end.cdSize} bytes) is too small for ${end.entries} ${end.entries === 1 ? "entry" : "entries"}`
    );
  }
  const reader = new WindowReader(handle, cdStart + end.cdSize);
  const entries = [];
  const cdEnd = cdStart + end.cdSize;
  let position = cdStart;
  for (let index = 0; index < end.entries; index++) {
    if (position + CENTRAL_HEADER_SIZE > cdEnd) {
      throw corrupt(
        `the central directory ends after ${index} of its ${end.entries} ${end.entries === 1 ? "entry" : "entries"}`
      );
    }
    const fixed = await reader.get(position, CENTRAL_HEADER_SIZE);
    if (fixed.readUInt32LE(0) !== SIG_CENTRAL) {
      throw corrupt(
        index === 0 && shift > 0 ? `no central directory at offset ${cdStart}: the archive has ${shift} unexplained bytes before its end records (inconsistent offsets)` : `central directory entry ${index} at offset ${position} has a bad signature`
      );
    }
    const versionMadeBy = fixed.readUInt16LE(4);
    const versionNeeded = fixed.readUInt16LE(6);
    const flags = fixed.readUInt16LE(8);
    const method = fixed.readUInt16LE(10);
    const time = fixed.readUInt16LE(12);
    const date = fixed.readUInt16LE(14);
    const crc = fixed.readUInt32LE(16);
    let compressedSize = fixed.readUInt32LE(20);
    let uncompressedSize = fixed.readUInt32LE(24);
    const nameLength = fixed.readUInt16LE(28);
    const extraLength = fixed.readUInt16LE(30);
    const commentLength = fixed.readUInt16LE(32);
    let diskStart = fixed.readUInt16LE(34);
    const externalAttributes2 = fixed.readUInt32LE(38);
    let localHeaderOffset = fixed.readUInt32LE(42);
    const variableLength = nameLength + extraLength + commentLength;
    if (position + CENTRAL_HEADER_SIZE + variableLength > cdEnd) {
      throw corrupt(`central directory entry ${index} runs past the end of the central directory`);
    }
    const variable = await reader.get(position + CENTRAL_HEADER_SIZE, variableLength);
    const nameBytes = variable.subarray(0, nameLength);
    const extra = variable.subarray(nameLength, nameLength + extraLength);
    position += CENTRAL_HEADER_SIZE + variableLength;
    const utf8 = (flags & FLAG_UTF8) !== 0;
    let name;
    try {
      name = utf8 ? UTF8.decode(nameBytes) : decodeCp437(nameBytes);
    } catch {
      throw corrupt(`the name of entry ${index} is flagged UTF-8 but is not valid UTF-8`);
    }
    const described = () => `entry ${printable(name)}`;
    let mtimeMs = dosTimeMs(date, time);
    let sawZip64 = false;
    for (let at = 0; at + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(at);
      const size = extra.readUInt16LE(at + 2);
      const body = extra.subarray(at + 4, at + 4 + size);
      if (body.length !== size) throw corrupt(`the extra field of ${described()} is truncated`);
      at += 4 + size;
      if (id === 1) {
        sawZip64 = true;
        let p = 0;
        const next = (bytes, what) => {
          if (p + bytes > body.length) throw corrupt(`the ZIP64 extra field of ${described()} lacks ${what}`);
          const value = bytes === 8 ? u64(body, p, `${what} of ${described()}`) : body.readUInt32LE(p);
          p += bytes;
          return value;
        };
        if (uncompressedSize === U32) uncompressedSize = next(8, "the uncompressed size");
        if (compressedSize === U32) compressedSize = next(8, "the compressed size");
        if (localHeaderOffset === U32) localHeaderOffset = next(8, "the local header offset");
        if (diskStart === U16) diskStart = next(4, "the disk number");
      } else if (id === 28789 && !utf8 && size >= 5 && body[0] === 1) {
        if (body.readUInt32LE(1) === crc323(nameBytes)) {
          try {
            name = UTF8.decode(body.subarray(5));
          } catch {
            throw corrupt(`the Unicode path extra field of ${described()} is not valid UTF-8`);
          }
        }
      } else if (id === 21589 && size >= 5 && (body[0] ?? 0) & 1) {
        mtimeMs = body.readUInt32LE(1) * 1e3;
      }
    }
    if (!sawZip64 && (uncompressedSize === U32 || compressedSize === U32 || localHeaderOffset === U32)) {
      throw corrupt(`${described()} has ZIP64 markers but no ZIP64 extra field`);
    }
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS) || method === 99) {
      throw unsupported(`${described()} is encrypted; Ferry does not extract encrypted archives`);
    }
    if (flags & FLAG_PATCHED) {
      throw unsupported(`${described()} holds patched data (flag bit 5), which needs a base file`);
    }
    if (method !== 0 && method !== 8) {
      const known = METHOD_NAMES[method];
      throw unsupported(
        `${described()} uses compression method ${method}${known ? ` (${known})` : ""}; only stored (0) and deflate (8) are supported`
      );
    }
    if ((versionNeeded & 255) > 45) {
      const v = versionNeeded & 255;
      throw unsupported(
        `${described()} needs zip version ${Math.floor(v / 10)}.${v % 10} to extract; up to 4.5 is supported`
      );
    }
    if (diskStart !== 0) throw unsupported("multi-disk (split or spanned) archives are not supported");
    const host = versionMadeBy >> 8;
    const unixMode = host === 3 || host === 19 ? externalAttributes2 >>> 16 : 0;
    const mode = unixMode === 0 ? void 0 : unixMode;
    const isSymlink = mode !== void 0 && (mode & 61440) === 40960;
    const isDirectory2 = name.endsWith("/") || name.endsWith("\\") || mode !== void 0 && (mode & 61440) === 16384 || (host === 0 || host === 10 || host === 14) && (externalAttributes2 & 16) !== 0;
    if (isDirectory2 && isSymlink) throw corrupt(`${described()} is marked both directory and symbolic link`);
    if (isDirectory2 && uncompressedSize !== 0) {
      throw corrupt(`${described()} is a directory but has ${uncompressedSize} bytes of data`);
    }
    entries.push({
      name,
      isDirectory: isDirectory2,
      isSymlink,
      mode,
      method,
      compressedSize,
      uncompressedSize,
      crc32: crc,
      localHeaderOffset: localHeaderOffset + shift,
      flags,
      utf8,
      mtimeMs
    });
  }
  if (position !== cdEnd) {
    throw corrupt(
      `the central directory has ${cdEnd - position} bytes after its ${end.entries} ${end.entries === 1 ? "entry" : "entries"}`
    );
  }
  checkOverlaps(entries, cdStart);
  await checkFirstLocalHeader(handle, entries, shift);
  return { entries, centralDirectoryOffset: cdStart, prefixBytes: shift, fileSize };
}
function checkOverlaps(entries, cdStart) {
  const order = entries.map((_, i) => i).sort((a, b) => entries[a].localHeaderOffset - entries[b].localHeaderOffset);
  for (let k = 0; k < order.length; k++) {
    const entry = entries[order[k]];
    const nextIndex = order[k + 1];
    const next = nextIndex === void 0 ? void 0 : entries[nextIndex];
    const minimumEnd = entry.localHeaderOffset + LOCAL_HEADER_SIZE + entry.compressedSize;
    if (next !== void 0 && minimumEnd > next.localHeaderOffset) {
      throw corrupt(
        `entries ${printable(entry.name)} and ${printable(next.name)} overlap (a zip bomb technique)`
      );
    }
    if (minimumEnd > cdStart) {
      throw corrupt(`the data of entry ${printable(entry.name)} runs into the central directory`);
    }
  }
}
async function checkFirstLocalHeader(handle, entries, shift) {
  let first;
  for (const entry of entries) {
    if (first === void 0 || entry.localHeaderOffset < first.localHeaderOffset) first = entry;
  }
  if (first === void 0) return;
  const signature = (await readExactly(handle, first.localHeaderOffset, 4)).readUInt32LE(0);
  if (signature === SIG_LOCAL) return;
  throw corrupt(
    shift > 0 ? `no local header where entry ${printable(first.name)} should start (offset ${first.localHeaderOffset}): the archive has ${shift} bytes before its central directory that its offsets do not account for (inconsistent offsets)` : `no local header where entry ${printable(first.name)} should start (offset ${first.localHeaderOffset})`
  );
}
async function readCentralDirectory(zipPath, options = {}) {
  const handle = await open7(zipPath, "r");
  try {
    return (await readZipDirectory(handle, { ...options, label: printable(zipPath) })).entries;
  } finally {
    await handle.close();
  }
}

// src/pack/zip/entry-reader.ts
import { open as open8 } from "node:fs/promises";
import { pipeline as pipeline2, Readable, Transform } from "node:stream";
import { readSync as readSync2 } from "node:fs";
import { crc32 as crc324, createInflateRaw, inflateRaw, inflateRawSync } from "node:zlib";
import { promisify as promisify2 } from "node:util";
var inflateRawAsync = promisify2(inflateRaw);
var CHUNK = 1024 * 1024;
var HEADER_SLACK = 512;
function label(entry) {
  return `entry ${printable(entry.name)}`;
}
function beyondDeclared(entry) {
  return corrupt(`${label(entry)} inflates beyond its declared size of ${entry.uncompressedSize} bytes`);
}
function sizeMismatch(entry, actual) {
  return corrupt(
    `${label(entry)} has ${actual} bytes of data but the central directory declares ${entry.uncompressedSize}`
  );
}
function crcMismatch(entry, actual) {
  const hex2 = (n) => `0x${n.toString(16).padStart(8, "0")}`;
  return corrupt(
    `CRC-32 mismatch in ${label(entry)}: the central directory says ${hex2(entry.crc32)}, the data gives ${hex2(actual)}`
  );
}
function mapError(entry, error2) {
  if (isFerryError(error2)) return error2;
  const code = error2.code;
  if (typeof code === "string" && code.startsWith("Z_")) {
    return corrupt(`${label(entry)} has corrupt compressed data (${error2.message})`);
  }
  if (code === "ERR_BUFFER_TOO_LARGE") return beyondDeclared(entry);
  return error2;
}
async function readLocalHeader(handle, entry, dataLimit, prefetch) {
  const want = localHeaderRead(entry, dataLimit, prefetch);
  return parseLocalHeader(entry, dataLimit, await readExactly(handle, entry.localHeaderOffset, want));
}
function localHeaderRead(entry, dataLimit, prefetch) {
  const offset = entry.localHeaderOffset;
  if (offset + LOCAL_HEADER_SIZE > dataLimit) {
    throw corrupt(`the local header of ${label(entry)} at offset ${offset} lies outside the archive data`);
  }
  return Math.min(LOCAL_HEADER_SIZE + prefetch, dataLimit - offset);
}
function parseLocalHeader(entry, dataLimit, head) {
  const offset = entry.localHeaderOffset;
  if (head.readUInt32LE(0) !== SIG_LOCAL) {
    throw corrupt(`${label(entry)} has no local header at offset ${offset} (bad signature)`);
  }
  const flags = head.readUInt16LE(6);
  const method = head.readUInt16LE(8);
  if (flags & FLAG_ENCRYPTED) throw unsupported(`${label(entry)} is encrypted (local header)`);
  if (method !== entry.method) {
    throw corrupt(
      `the local header of ${label(entry)} says method ${method}, the central directory says ${entry.method}`
    );
  }
  const dataStart = offset + LOCAL_HEADER_SIZE + head.readUInt16LE(26) + head.readUInt16LE(28);
  if (dataStart + entry.compressedSize > dataLimit) {
    throw corrupt(`the data of ${label(entry)} runs past the end of the archive data`);
  }
  const available = offset + head.length - dataStart;
  const prefetched = available >= entry.compressedSize ? head.subarray(dataStart - offset, dataStart - offset + entry.compressedSize) : void 0;
  return { dataStart, prefetched };
}
function readExactlySync(fd, position, length) {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const bytesRead = readSync2(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw corrupt(`unexpected end of file at offset ${position + done} (the file is truncated)`);
    }
    done += bytesRead;
  }
  return buffer;
}
function verifyBuffer(entry, data) {
  if (data.length > entry.uncompressedSize) throw beyondDeclared(entry);
  if (data.length !== entry.uncompressedSize) throw sizeMismatch(entry, data.length);
  const actual = crc324(data);
  if (actual !== entry.crc32) throw crcMismatch(entry, actual);
}
async function readEntryBuffer(handle, entry, dataLimit) {
  const local = await readLocalHeader(handle, entry, dataLimit, HEADER_SLACK + entry.compressedSize);
  const raw = local.prefetched ?? await readExactly(handle, local.dataStart, entry.compressedSize);
  let data;
  if (entry.method === 0) data = raw;
  else {
    try {
      data = await inflateRawAsync(raw, { maxOutputLength: entry.uncompressedSize + 1 });
    } catch (error2) {
      throw mapError(entry, error2);
    }
  }
  verifyBuffer(entry, data);
  return data;
}
function readEntryBufferSync(fd, entry, dataLimit) {
  const want = localHeaderRead(entry, dataLimit, HEADER_SLACK + entry.compressedSize);
  const local = parseLocalHeader(entry, dataLimit, readExactlySync(fd, entry.localHeaderOffset, want));
  const raw = local.prefetched ?? readExactlySync(fd, local.dataStart, entry.compressedSize);
  let data;
  if (entry.method === 0) data = raw;
  else {
    try {
      data = inflateRawSync(raw, { maxOutputLength: entry.uncompressedSize + 1 });
    } catch (error2) {
      throw mapError(entry, error2);
    }
  }
  verifyBuffer(entry, data);
  return data;
}
var RangeReadable = class extends Readable {
  constructor(handle, start, length, ownsHandle) {
    super({ highWaterMark: CHUNK });
    this.handle = handle;
    this.ownsHandle = ownsHandle;
    this.position = start;
    this.remaining = length;
  }
  handle;
  ownsHandle;
  position;
  remaining;
  _read() {
    if (this.remaining === 0) {
      this.push(null);
      return;
    }
    const size = Math.min(CHUNK, this.remaining);
    const buffer = Buffer.allocUnsafe(size);
    this.handle.read(buffer, 0, size, this.position).then(
      ({ bytesRead }) => {
        if (this.destroyed) return;
        if (bytesRead === 0) {
          this.destroy(corrupt(`unexpected end of file at offset ${this.position} (the file is truncated)`));
          return;
        }
        this.position += bytesRead;
        this.remaining -= bytesRead;
        this.push(bytesRead === size ? buffer : buffer.subarray(0, bytesRead));
      },
      (error2) => this.destroy(error2)
    );
  }
  _destroy(error2, callback) {
    if (!this.ownsHandle) {
      callback(error2);
      return;
    }
    this.handle.close().then(
      () => callback(error2),
      (closeError) => callback(error2 ?? closeError)
    );
  }
};
var EntryVerifier = class extends Transform {
  constructor(entry) {
    super({ highWaterMark: CHUNK });
    this.entry = entry;
  }
  entry;
  crc = 0;
  size = 0;
  _transform(chunk, _encoding, callback) {
    this.size += chunk.length;
    if (this.size > this.entry.uncompressedSize) {
      callback(beyondDeclared(this.entry));
      return;
    }
    this.crc = crc324(chunk, this.crc);
    callback(null, chunk);
  }
  _flush(callback) {
    if (this.size !== this.entry.uncompressedSize) callback(sizeMismatch(this.entry, this.size));
    else if (this.crc !== this.entry.crc32) callback(crcMismatch(this.entry, this.crc));
    else callback();
  }
  _destroy(error2, callback) {
    callback(error2 === null ? null : mapError(this.entry, error2));
  }
};
async function openEntryStreamOnHandle(handle, entry, options) {
  const { dataStart } = await readLocalHeader(handle, entry, options.dataLimit, 0);
  const source = new RangeReadable(handle, dataStart, entry.compressedSize, options.ownsHandle);
  const verifier = new EntryVerifier(entry);
  const done = () => {
  };
  if (entry.method === 8) pipeline2(source, createInflateRaw({ chunkSize: 256 * 1024 }), verifier, done);
  else pipeline2(source, verifier, done);
  return verifier;
}
async function openEntryStream(zipPath, entry) {
  const handle = await open8(zipPath, "r");
  try {
    const { size } = await handle.stat();
    return await openEntryStreamOnHandle(handle, entry, { dataLimit: size, ownsHandle: true });
  } catch (error2) {
    await handle.close();
    throw error2;
  }
}

// src/pack/zip/extract.ts
import { mkdir as mkdir4, open as open10 } from "node:fs/promises";

// src/pack/zip/extract-options.ts
import path9 from "node:path";

// src/core/option-checks.ts
function shownValue(value) {
  if (typeof value === "string") return `${JSON.stringify(value.slice(0, 80))} (a string)`;
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return typeof value;
}
function isIntegerInRange(value, min, max) {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}
function isNumberInRange(value, min, max) {
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max;
}
function parseWholeNumber(text) {
  const trimmed = text.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) return void 0;
  const number = Number(trimmed);
  return Number.isSafeInteger(number) ? number : void 0;
}
function parseBoolean(text) {
  if (text === "true" || text === "True" || text === "TRUE") return true;
  if (text === "false" || text === "False" || text === "FALSE") return false;
  return void 0;
}
function parseChoice(text, choices) {
  const lower = text.toLowerCase();
  return choices.find((choice) => choice === lower);
}
function isHttpUrl(text) {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

// src/pack/zip/extract-options.ts
var OPTION_KEYS = [
  "targetDirectory",
  "limits",
  "restoreModes",
  "symlinks",
  "existing",
  "signal",
  "onEntry",
  "concurrency",
  "context"
];
var MAX_CONCURRENCY = 256;
function invalid(option, message) {
  return new ValidationError("ERR_FERRY_INVALID_OPTION", `Option '${option}': ${message}`, { option });
}
function oneOf(option, value, allowed, fallback) {
  if (value === void 0) return fallback;
  const choice = typeof value === "string" ? allowed.find((a) => a === value) : void 0;
  if (choice === void 0) {
    throw invalid(
      option,
      `expected one of ${allowed.map((a) => `'${a}'`).join(", ")}, got ${shownValue(value)}`
    );
  }
  return choice;
}
function normalizeExtractOptions(options) {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("ERR_FERRY_INVALID_OPTION", "extractZip: options must be an object");
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw invalid(key, `unknown option; expected one of ${OPTION_KEYS.join(", ")}`);
    }
  }
  if (typeof options.targetDirectory !== "string" || options.targetDirectory.length === 0) {
    throw invalid(
      "targetDirectory",
      `must be a non-empty string, got ${shownValue(options.targetDirectory)}`
    );
  }
  if (options.restoreModes !== void 0 && typeof options.restoreModes !== "boolean") {
    throw invalid("restoreModes", `must be a boolean, got ${shownValue(options.restoreModes)}`);
  }
  const concurrency = options.concurrency ?? 8;
  if (!isIntegerInRange(concurrency, 1, MAX_CONCURRENCY)) {
    throw invalid(
      "concurrency",
      `must be an integer from 1 to ${MAX_CONCURRENCY}; got ${shownValue(concurrency)}`
    );
  }
  if (options.onEntry !== void 0 && typeof options.onEntry !== "function") {
    throw invalid("onEntry", "must be a function");
  }
  if (options.context !== void 0 && (typeof options.context !== "object" || options.context === null)) {
    throw invalid("context", "must be an object");
  }
  return {
    target: path9.resolve(options.targetDirectory),
    limits: normalizeLimits(options.limits),
    restoreModes: options.restoreModes ?? true,
    symlinks: oneOf("symlinks", options.symlinks, ["refuse", "file", "preserve"], "refuse"),
    existing: oneOf("existing", options.existing, ["overwrite", "error", "skip"], "overwrite"),
    signal: options.signal,
    onEntry: options.onEntry,
    concurrency,
    context: options.context
  };
}
function throwIfAborted(signal) {
  if (signal?.aborted) throw new AbortError(signal.reason);
}

// src/pack/zip/extract-plan.ts
import path10 from "node:path";
var MAX_LINK_BYTES = 4096;
var LINK_TEXT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function unsafe4(message) {
  return new IntegrityError("ERR_FERRY_UNSAFE_PATH", message);
}
function conflict(message) {
  return new FerryError("ERR_FERRY_CONFLICT", message);
}
function namesRoot(name) {
  const normalized = name.replace(/\\/g, "/");
  return normalized !== "" && !normalized.startsWith("/") && normalized.split("/").every((s) => s === "" || s === ".");
}
function ancestors(key) {
  const parts = key.split("/");
  const out = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}
function depth(key) {
  let n = 0;
  for (const ch of key) if (ch === "/") n++;
  return n;
}
function toAbsolute(target, key) {
  return path10.join(target, ...key.split("/"));
}
function keyOf(target, targetPrefix, dest) {
  const relative = dest.startsWith(targetPrefix) ? dest.slice(targetPrefix.length) : path10.relative(target, dest);
  return path10.sep === "/" ? relative : relative.split(path10.sep).join("/");
}
function planEntries(entries, options) {
  const { target } = options;
  const items = [];
  const byFolded = /* @__PURE__ */ new Map();
  const targetPrefix = target.endsWith(path10.sep) ? target : `${target}${path10.sep}`;
  for (const [index, entry] of entries.entries()) {
    checkNameBytes(entry.name);
    if (entry.isDirectory && namesRoot(entry.name)) continue;
    const dest = resolveInside(target, entry.name);
    const sliced = keyOf(target, targetPrefix, dest);
    checkPathLengths(entry.name, sliced, dest);
    const key = sliced === entry.name ? entry.name : sliced;
    let kind = entry.isDirectory ? "directory" : "file";
    if (entry.isSymlink) {
      if (options.symlinks === "refuse") {
        throw unsafe4(
          `Entry ${printable(entry.name)} is a symbolic link; links are refused by default. Set option 'symlinks' to 'file' (write the link text as a file) or 'preserve' (create links that stay inside the target)`
        );
      }
      if (options.symlinks === "preserve") kind = "link";
    }
    const item = { entry, index, key, kind };
    const folded = foldPath(key);
    const prior = byFolded.get(folded);
    if (prior !== void 0) {
      if (prior.key !== key) {
        throw unsafe4(
          `Entries ${printable(prior.entry.name)} and ${printable(entry.name)} differ only in letter case or Unicode normalisation; they would overwrite each other on a case-insensitive file system (macOS, Windows), so the archive is rejected`
        );
      }
      if (prior.kind === "directory" !== (kind === "directory")) {
        throw unsafe4(`Entry ${printable(key)} appears both as a file and as a directory in the archive`);
      }
      throw unsafe4(`Duplicate entry ${printable(key)}: the archive contains it more than once`);
    }
    byFolded.set(folded, item);
    items.push(item);
  }
  const directories = /* @__PURE__ */ new Map();
  const directoryEntries = /* @__PURE__ */ new Map();
  let checkedParent;
  for (const item of items) {
    if (item.kind === "directory") {
      directoryEntries.set(item.key, item);
      directories.set(item.key, item.key);
    }
    const slash = item.key.lastIndexOf("/");
    if (slash < 0) continue;
    if (checkedParent !== void 0 && slash === checkedParent.length && item.key.startsWith(checkedParent)) {
      continue;
    }
    checkedParent = item.key.slice(0, slash);
    for (const ancestor of ancestors(item.key)) {
      const holder = byFolded.get(foldPath(ancestor));
      if (holder !== void 0 && holder.kind !== "directory") {
        throw unsafe4(
          `Entry ${printable(holder.entry.name)} is a ${holder.kind === "link" ? "symbolic link" : "file"}, but entry ${printable(item.entry.name)} needs it to be a directory`
        );
      }
      if (!directories.has(ancestor)) directories.set(ancestor, ancestor);
    }
  }
  const sortedDirectories = [...directories.keys()].sort((a, b) => depth(a) - depth(b));
  return { items, directories: sortedDirectories, directoryEntries };
}
function checkLinkTarget(item, text, linkKeys) {
  const bad = (reason) => unsafe4(`Symbolic link entry ${printable(item.entry.name)} -> ${printable(text)} is refused: ${reason}`);
  if (text.length === 0) throw bad("the link text is empty");
  for (const ch of text) {
    if (isControlCharacter(ch.codePointAt(0) ?? 0)) {
      throw bad(`the link text contains the control character ${describeCharacter(ch)}`);
    }
  }
  const normalized = text.replace(/\\/g, "/");
  if (normalized.startsWith("/") || /^[A-Za-z]:/.test(normalized)) {
    throw bad("absolute link targets are not allowed");
  }
  const segments = item.key.split("/").slice(0, -1);
  const visited = [];
  const parts = normalized.split("/");
  for (const [i, part] of parts.entries()) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (segments.length === 0) throw bad("it resolves outside the target directory");
      segments.pop();
      continue;
    }
    segments.push(part);
    const key = segments.join("/");
    visited.push(key);
    const last = parts.slice(i + 1).every((p) => p === "" || p === ".");
    if (!last && linkKeys.has(foldPath(key))) {
      throw bad(`it passes through the symbolic link entry ${printable(key)}`);
    }
  }
  return visited;
}
async function readLinkTargets(plan, readEntry, signal) {
  const linkKeys = new Set(plan.items.filter((i) => i.kind === "link").map((i) => foldPath(i.key)));
  const linkWalks = [];
  for (const item of plan.items) {
    if (item.kind !== "link") continue;
    throwIfAborted(signal);
    if (item.entry.uncompressedSize > MAX_LINK_BYTES) {
      throw unsafe4(
        `Symbolic link entry ${printable(item.entry.name)} is refused: its link text is ${item.entry.uncompressedSize} bytes long`
      );
    }
    const raw = await readEntry(item.entry);
    let text;
    try {
      text = LINK_TEXT.decode(raw);
    } catch {
      throw unsafe4(
        `Symbolic link entry ${printable(item.entry.name)} is refused: its link text is not valid UTF-8`
      );
    }
    linkWalks.push(...checkLinkTarget(item, text, linkKeys));
    item.linkText = text;
  }
  return linkWalks;
}

// src/pack/zip/extract-preflight.ts
import { lstat as lstat4, stat as stat6 } from "node:fs/promises";
import { createHash as createHash4 } from "node:crypto";
async function lstatOrUndefined2(p) {
  try {
    return await lstat4(p);
  } catch (error2) {
    const code = error2.code;
    if (code === "ENOENT" || code === "ENOTDIR") return void 0;
    throw error2;
  }
}
async function entrySha256(handle, entry, dataLimit) {
  const hash = createHash4("sha256");
  const input = await openEntryStreamOnHandle(handle, entry, { dataLimit, ownsHandle: false });
  for await (const chunk of input) hash.update(chunk);
  return hash.digest("hex");
}
async function preflight(plan, options, linkWalks, sha256Of) {
  const { target } = options;
  let targetStats;
  try {
    targetStats = await stat6(target);
  } catch (error2) {
    if (error2.code === "ENOENT") return;
    throw error2;
  }
  if (!targetStats.isDirectory()) {
    throw conflict(`The target directory ${printable(target)} exists and is not a directory`);
  }
  const missing = /* @__PURE__ */ new Set();
  for (const key of plan.directories) {
    const parent = parentKey(key);
    if (parent !== "" && missing.has(parent)) {
      missing.add(key);
      continue;
    }
    const abs = toAbsolute(target, key);
    const stats = await lstatOrUndefined2(abs);
    if (stats === void 0) missing.add(key);
    else if (stats.isSymbolicLink()) await assertNoSymlinkInPath(target, abs);
    else if (!stats.isDirectory()) {
      throw conflict(
        `${printable(key)} already exists in the target directory as a file, but the archive needs a directory there`
      );
    }
  }
  for (const item of plan.items) {
    if (item.kind === "directory") continue;
    const parent = parentKey(item.key);
    if (parent !== "" && missing.has(parent)) continue;
    const dest = toAbsolute(target, item.key);
    const stats = await lstatOrUndefined2(dest);
    if (stats === void 0) continue;
    if (stats.isDirectory()) {
      throw conflict(
        `${printable(item.key)} already exists in the target directory as a directory, but the archive has a file there`
      );
    }
    if (options.existing === "error") {
      throwIfAborted(options.signal);
      const state = item.kind === "link" ? "different" : await compareExisting(dest, {
        size: item.entry.uncompressedSize,
        crc32: item.entry.crc32,
        sha256: () => sha256Of(item.entry)
      });
      if (state === "directory") {
        throw conflict(
          `${printable(item.key)} already exists in the target directory as a directory, but the archive has a file there`
        );
      }
      if (state === "different") throw conflictError(item.key, "the target directory");
      if (state === "identical") item.skip = true;
    }
    if (options.existing === "skip") item.skip = true;
  }
  for (const key of linkWalks) await assertNoSymlinkInPath(target, toAbsolute(target, key));
}

// src/pack/zip/place-entries.ts
var PartialExtractionError = class extends FerryError {
  constructor(code, message, moved, createdDirectories, cause, context) {
    super(code, message, { cause, context });
    this.moved = moved;
    this.createdDirectories = createdDirectories;
  }
  moved;
  createdDirectories;
  name = "PartialExtractionError";
};
async function moveIntoPlace(plan, options, held, stagedPath) {
  const { target } = options;
  const moved = [];
  const createdDirectories = [];
  let bytes = 0;
  const modeOf = (key) => {
    const mode = plan.directoryEntries.get(key)?.entry.mode;
    return options.restoreModes && mode !== void 0 ? mode & 511 | 448 : void 0;
  };
  try {
    for (const key of plan.directories) createdDirectories.push(...held.ensureDirectory(key, modeOf));
    const fresh = new Set(createdDirectories);
    for (const [parent, group] of byParent(plan.items))
      for (const item of group) {
        throwIfAborted(options.signal);
        const staged = stagedPath(item);
        const stats = fresh.has(parent) ? void 0 : held.lstatEntry(item.key);
        if (stats?.isDirectory()) {
          throw conflict(`${printable(item.key)} exists in the target directory as a directory`);
        }
        let placed = false;
        if (options.existing === "overwrite" || item.kind === "link" && stats === void 0) {
          held.renameIn(staged, item.key);
          placed = true;
        } else if (stats === void 0 && item.kind !== "link") {
          placed = await held.linkIn(staged, item.key);
        }
        if (placed) {
          moved.push(item.key);
          bytes += item.entry.uncompressedSize;
          continue;
        }
        if (options.existing === "skip") continue;
        const state = item.kind === "link" ? "different" : await compareExisting(held.entry(item.key), {
          size: item.entry.uncompressedSize,
          crc32: item.entry.crc32,
          sha256: async () => (await digestRegularFile(staged))?.sha256 ?? ""
        });
        if (state !== "identical") throw conflictError(item.key, "the target directory");
      }
  } catch (error2) {
    const remaining = [];
    for (const key of [...createdDirectories].reverse()) {
      if (!held.removeEmptyDirectory(key)) remaining.unshift(key);
    }
    if (moved.length === 0 && remaining.length === 0) throw error2;
    const shown2 = moved.slice(0, 10).map((k) => printable(k));
    const more = moved.length > 10 ? ` and ${moved.length - 10} more` : "";
    throw new PartialExtractionError(
      isFerryError(error2) ? error2.code : "ERR_FERRY_CONFLICT",
      `Extraction into ${printable(target)} failed while moving entries into place: ${error2.message}. Already moved: ${moved.length} file(s)${shown2.length ? ` (${shown2.join(", ")}${more})` : ""}, ${remaining.length} new director${remaining.length === 1 ? "y" : "ies"}; the target is partially updated`,
      moved,
      remaining,
      error2
    );
  }
  return { files: moved.length, directories: plan.directories.length, bytes };
}
function byParent(items) {
  const groups = /* @__PURE__ */ new Map();
  for (const item of items) {
    if (item.kind === "directory" || item.skip === true) continue;
    const parent = parentKey(item.key);
    const group = groups.get(parent);
    if (group === void 0) groups.set(parent, [item]);
    else group.push(item);
  }
  return groups;
}

// src/pack/zip/stage-entry.ts
import { open as open9, symlink as symlink2 } from "node:fs/promises";
import { pipeline as pipeline3 } from "node:stream/promises";
var IN_MEMORY_BYTES = 1024 * 1024;
function fileMode(item, options) {
  if (!options.restoreModes || item.entry.isSymlink || item.entry.mode === void 0) return void 0;
  return item.entry.mode & 511;
}
function isSmallEntry(item) {
  return item.kind === "file" && isSmallFile(item.entry.compressedSize, item.entry.uncompressedSize);
}
function stageSmallSync(fd, item, staged, dataLimit, options) {
  const data = readEntryBufferSync(fd, item.entry, dataLimit);
  writeSmallFileSync(staged, data, { mode: fileMode(item, options) ?? 438 });
}
async function stage(handle, item, staged, dataLimit, options) {
  if (item.kind === "link") {
    await symlink2(item.linkText, staged);
    return;
  }
  const { entry } = item;
  const createMode = fileMode(item, options) ?? 438;
  if (entry.uncompressedSize <= IN_MEMORY_BYTES && entry.compressedSize <= IN_MEMORY_BYTES) {
    const data = await readEntryBuffer(handle, entry, dataLimit);
    const out2 = await open9(staged, "wx", createMode);
    try {
      await out2.writeFile(data);
    } finally {
      await out2.close();
    }
    return;
  }
  const out = await open9(staged, "wx", createMode);
  let input;
  try {
    input = await openEntryStreamOnHandle(handle, entry, { dataLimit, ownsHandle: false });
  } catch (error2) {
    await out.close();
    throw error2;
  }
  await pipeline3(
    input,
    out.createWriteStream({ highWaterMark: 1024 * 1024 }),
    options.signal ? { signal: options.signal } : {}
  );
}

// src/pack/zip/extract.ts
var STAGING_PREFIX = ".ferry-extract-";
async function extractZip(zipPath, options) {
  const opts = normalizeExtractOptions(options);
  try {
    return await extractNormalized(zipPath, opts);
  } catch (error2) {
    throw withErrorContext(error2, opts.context);
  }
}
function withErrorContext(error2, context) {
  if (context === void 0 || !isFerryError(error2)) return error2;
  const own = error2.context;
  if (own.operation !== void 0 || own.artifactName !== void 0 || own.file !== void 0) return error2;
  return addErrorContext(error2, context);
}
async function extractNormalized(zipPath, opts) {
  const { target, signal } = opts;
  throwIfAborted(signal);
  const handle = await open10(zipPath, "r");
  try {
    const directory = await readZipDirectory(handle, {
      maxEntries: opts.limits.maxEntries,
      label: printable(zipPath)
    });
    checkDeclaredLimits(directory.entries, opts.limits);
    const plan = planEntries(directory.entries, opts);
    const dataLimit = directory.centralDirectoryOffset;
    const linkWalks = await readLinkTargets(
      plan,
      (entry) => readEntryBuffer(handle, entry, dataLimit),
      signal
    );
    throwIfAborted(signal);
    await preflight(plan, opts, linkWalks, (entry) => entrySha256(handle, entry, dataLimit));
    const createdTarget = await mkdir4(target, { recursive: true });
    let held;
    let staging;
    try {
      held = HeldTarget.open(target);
      staging = held.createStaging(STAGING_PREFIX);
      const stagingName = foldPath(staging.name);
      if (plan.items.some((i) => foldPath(i.key.split("/")[0] ?? "") === stagingName)) {
        throw unsafe4(`The archive contains an entry under ${printable(staging.name)}, the staging directory`);
      }
      const stagingDir = staging;
      const stagedPath = (item) => stagingDir.file(String(item.index));
      const turns = new CooperativeYield();
      const rest = [];
      for (const item of plan.items) {
        if (!isSmallEntry(item)) {
          rest.push(item);
          continue;
        }
        throwIfAborted(signal);
        stageSmallSync(handle.fd, item, stagedPath(item), dataLimit, opts);
        opts.onEntry?.({ name: item.entry.name, size: item.entry.uncompressedSize });
        await turns.maybeYield();
      }
      await runPool(rest, opts.concurrency, async (item) => {
        throwIfAborted(signal);
        if (item.kind !== "directory") await stage(handle, item, stagedPath(item), dataLimit, opts);
        opts.onEntry?.({ name: item.entry.name, size: item.entry.uncompressedSize });
      });
      throwIfAborted(signal);
      return await moveIntoPlace(plan, opts, held, stagedPath);
    } catch (error2) {
      staging?.remove();
      staging = void 0;
      held?.close();
      held = void 0;
      if (createdTarget !== void 0) await removeCreatedChain(target, createdTarget);
      if (signal?.aborted && !isFerryError(error2)) throw new AbortError(signal.reason);
      throw await asResourceError(error2, {
        context: opts.context,
        directory: target,
        neededBytes: plan.items.reduce(
          (sum, i) => sum + (i.kind === "file" ? i.entry.uncompressedSize : 0),
          0
        ),
        concurrency: opts.concurrency
      });
    } finally {
      staging?.remove();
      held?.close();
    }
  } finally {
    await handle.close();
  }
}

// src/backends/results/cached-download.ts
import { link as link2, mkdir as mkdir5, mkdtemp, rm as rm4, stat as stat7 } from "node:fs/promises";
import path12 from "node:path";
import { pipeline as pipeline4 } from "node:stream/promises";
import { createWriteStream as createWriteStream2 } from "node:fs";

// src/cache/layout.ts
import { randomBytes as randomBytes3 } from "node:crypto";
import path11 from "node:path";
var ENTRIES_DIR = "entries";
var TMP_DIR = "tmp";
var DIGEST = /^sha256:([0-9a-f]{64})$/;
var ENTRY_NAME = /^[0-9a-f]{64}$/;
function digestHex(digest2) {
  const match = DIGEST.exec(digest2);
  if (!match?.[1]) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `A cache key must be a digest 'sha256:<64 lowercase hex>', got '${digest2.slice(0, 80)}'`,
      { option: "digest" }
    );
  }
  return match[1];
}
function isEntryName(name) {
  return ENTRY_NAME.test(name);
}
function entryPath(root, hex2) {
  return path11.join(root, ENTRIES_DIR, hex2);
}
function tempPath(root, hex2) {
  return path11.join(root, TMP_DIR, `${hex2}.${process.pid}.${randomBytes3(6).toString("hex")}`);
}

// src/backends/results/cache-tee.ts
import { once } from "node:events";
import { PassThrough } from "node:stream";
var CacheTee = class {
  constructor(cache, digest2, size, logger) {
    this.cache = cache;
    this.digest = digest2;
    this.size = size;
    this.logger = logger;
  }
  cache;
  digest;
  size;
  logger;
  #stream;
  #inserting;
  #failed = false;
  /** The current insert returned (an entry already there returns before reading anything). */
  #settled = false;
  async start() {
    await this.#abandon();
    if (this.#failed) return;
    const stream = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
    this.#stream = stream;
    this.#settled = false;
    this.#inserting = this.cache.insert(this.digest, this.size, stream).catch((error2) => {
      if (stream.destroyed && this.#stream !== stream) return void 0;
      this.#fail(error2);
      return void 0;
    }).finally(() => {
      if (this.#stream === stream) this.#settled = true;
    });
  }
  async write(chunks) {
    const stream = this.#stream;
    if (stream === void 0 || this.#failed || this.#settled) return;
    for (const chunk of chunks) {
      if (stream.write(chunk)) continue;
      await Promise.race([once(stream, "drain").catch(() => void 0), this.#inserting]);
      if (this.#failed || this.#settled || stream.destroyed) return;
    }
  }
  /**
   * After the download: `matched` ends the stream and waits for the insert (which checks the
   * digest itself); otherwise the partial entry is dropped. Never throws.
   */
  async finish(matched) {
    const stream = this.#stream;
    if (stream === void 0 || this.#failed || !matched) {
      await this.#abandon();
      return void 0;
    }
    if (!this.#settled) stream.end();
    const result = await this.#inserting;
    this.#stream = void 0;
    return result;
  }
  async #abandon() {
    const stream = this.#stream;
    const inserting = this.#inserting;
    this.#stream = void 0;
    this.#inserting = void 0;
    if (stream === void 0) return;
    stream.on("error", () => void 0);
    stream.destroy(new Error("download restarted"));
    await inserting;
  }
  #fail(error2) {
    this.#failed = true;
    this.logger.warn(
      `Could not add ${this.digest} to the download cache at ${this.cache.path} (${error2 instanceof Error ? error2.message : String(error2)}); the download itself is fine`
    );
  }
};

// src/backends/results/cached-download.ts
function cacheKeyOf(ctx, expectedHex, listedSize2, skipDecompress) {
  if (!ctx.cache || expectedHex === void 0 || listedSize2 === void 0 || skipDecompress) return void 0;
  return { digest: `sha256:${expectedHex}`, size: listedSize2 };
}
async function lookupCached(ctx, key) {
  const cache = ctx.cache;
  if (!cache) return void 0;
  const hit = await cache.lookup(key.digest, key.size).catch((error2) => {
    ctx.logger.warn(
      `The download cache at ${cache.path} failed on lookup (${error2 instanceof Error ? error2.message : String(error2)}); downloading`
    );
    return void 0;
  });
  if (hit) ctx.stats?.cacheHit(key.size);
  else ctx.stats?.cacheMiss();
  return hit;
}
function cacheTeeFor(ctx, key) {
  return ctx.cache ? new CacheTee(ctx.cache, key.digest, key.size, ctx.logger) : void 0;
}
async function cachedBlob(hit, cacheRoot, tempDir) {
  const entryFile = entryPath(cacheRoot, hit.digest.replace(/^sha256:/, ""));
  await mkdir5(tempDir, { recursive: true });
  const work = await mkdtemp(path12.join(tempDir, "ferry-cached-"));
  let disposed;
  const dispose = () => disposed ??= rm4(work, { recursive: true, force: true });
  const file = path12.join(work, "blob");
  try {
    const held = await hit.handle.stat();
    const linked = await link2(entryFile, file).then(
      () => true,
      () => false
    );
    const same = linked && await stat7(file).then((s) => s.ino === held.ino && s.dev === held.dev);
    if (!same) {
      await rm4(file, { force: true });
      await pipeline4(hit.stream(), createWriteStream2(file, { flags: "wx" }));
    }
    const hex2 = hit.digest.replace(/^sha256:/, "");
    return {
      file,
      size: hit.size,
      sha256: hex2,
      // Only archives are inserted (see downloadSignedArtifact).
      contentType: "application/zip",
      contentDisposition: void 0,
      digestMismatch: false,
      expectedHex: hex2,
      dispose
    };
  } catch (error2) {
    await dispose();
    throw error2;
  } finally {
    await hit.close();
  }
}

// src/backends/results/place-file.ts
async function placeRawFile(blob, fileName, target, conflict2, context) {
  const held = HeldTarget.open(target, { context });
  try {
    const existing = held.lstatEntry(fileName);
    if (existing?.isDirectory()) {
      throw new FerryError(
        "ERR_FERRY_INVALID_PATH",
        `Cannot save '${fileName}': a directory of that name exists in ${target}`,
        { context }
      );
    }
    let placed = false;
    if (conflict2 === "overwrite") {
      held.renameIn(blob.file, fileName);
      placed = true;
    } else if (existing === void 0) {
      placed = await held.linkIn(blob.file, fileName);
    }
    if (!placed && conflict2 === "error") {
      const state = await compareExisting(held.entry(fileName), {
        size: blob.size,
        sha256: () => blob.sha256
      });
      if (state !== "identical") throw conflictError(fileName, printable(target), context);
    }
    return placed;
  } finally {
    held.close();
  }
}

// src/backends/results/one-pass-sink.ts
init_write_fully();
import { mkdir as mkdir7, open as open13 } from "node:fs/promises";
import path14 from "node:path";

// src/pack/zip/stream-extract.ts
import { chmodSync, closeSync as closeSync3, fstatSync as fstatSync3, openSync as openSync3, statSync as statSync3, unlinkSync as unlinkSync2 } from "node:fs";
import { mkdir as mkdir6, open as open12, readFile as readFile2, symlink as symlink3, unlink as unlink2 } from "node:fs/promises";
import path13 from "node:path";

// src/pack/zip/stream-stager.ts
import { open as open11 } from "node:fs/promises";
import { crc32 as crc325, createInflateRaw as createInflateRaw2, inflateRawSync as inflateRawSync2 } from "node:zlib";
import { pipeline as pipeline5 } from "node:stream/promises";
init_write_fully();

// src/pack/zip/small-entry-batches.ts
import { Worker } from "node:worker_threads";
var INLINE_ENTRIES = 256;
var BATCH_ENTRIES = 128;
var BATCH_BYTES = 1024 * 1024;
var MAX_IN_FLIGHT = 4;
var EntryDataError = class extends Error {
  name = "EntryDataError";
};
var WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { writeFileSync } = require('node:fs');
const { crc32, inflateRawSync } = require('node:zlib');
parentPort.on('message', (batch) => {
  const { id, names, methods, sizes, ends, mode } = batch;
  const input = Buffer.from(batch.bytes);
  const crcs = new Uint32Array(names.length);
  let start = 0;
  for (let i = 0; i < names.length; i++) {
    const compressed = input.subarray(start, ends[i]);
    start = ends[i];
    let data = compressed;
    if (methods[i] === 8) {
      try {
        const { buffer, engine } = inflateRawSync(compressed, { maxOutputLength: Math.max(sizes[i], 1), info: true });
        if (engine.bytesWritten !== compressed.length) {
          parentPort.postMessage({ id, failure: { kind: 'data', index: i, message: 'an entry ends before or after the size its local header declares' } });
          return;
        }
        data = buffer;
      } catch (error) {
        parentPort.postMessage({ id, failure: { kind: 'data', index: i, message: 'an entry does not inflate (' + error.message + ')' } });
        return;
      }
    }
    if (data.length !== sizes[i]) {
      parentPort.postMessage({ id, failure: { kind: 'data', index: i, message: 'an entry has a different size than its local header declares' } });
      return;
    }
    crcs[i] = crc32(data);
    try {
      writeFileSync(names[i], data, { flag: 'wx', mode });
    } catch (error) {
      const { code, errno, syscall, path, message } = error;
      parentPort.postMessage({ id, failure: { kind: 'fs', index: i, message, code, errno, syscall, path } });
      return;
    }
  }
  parentPort.postMessage({ id, crcs }, [crcs.buffer]);
});
`;
var emptyPending = () => ({ entries: [], names: [], methods: [], sizes: [], parts: [], bytes: 0 });
var SmallEntryBatches = class _SmallEntryBatches {
  #worker;
  #mode;
  /** Receives the CRC-32 of entry `index` once the worker has written it. */
  #onWritten;
  #pending = emptyPending();
  /** Entry indexes of each batch handed over, by batch id. */
  #inFlight = /* @__PURE__ */ new Map();
  #nextId = 0;
  #failure;
  #waiters = [];
  #stopped = false;
  constructor(worker, mode, onWritten) {
    this.#worker = worker;
    this.#mode = mode;
    this.#onWritten = onWritten;
    worker.unref();
    worker.on("message", (answer) => this.#answer(answer));
    worker.on("error", (error2) => this.#lost(`failed (${error2.message})`));
    worker.on("exit", (code) => this.#lost(`exited with code ${code}`));
  }
  /** A worker for one staging, or undefined when no worker can be started (the caller stays inline). */
  static start(mode, onWritten) {
    let worker;
    try {
      worker = new Worker(WORKER_SOURCE, {
        eval: true,
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 }
      });
    } catch {
      return void 0;
    }
    return new _SmallEntryBatches(worker, mode, onWritten);
  }
  /** Queues entry `index`, to be written to `file`; resolves once there is room for more. */
  async add(index, file, method, size, compressed) {
    this.#throwIfFailed();
    const pending = this.#pending;
    pending.entries.push(index);
    pending.names.push(file);
    pending.methods.push(method);
    pending.sizes.push(size);
    pending.parts.push(compressed);
    for (const part of compressed) pending.bytes += part.length;
    if (pending.entries.length >= BATCH_ENTRIES || pending.bytes >= BATCH_BYTES) this.#send();
    while (this.#inFlight.size > MAX_IN_FLIGHT && this.#failure === void 0) await this.#answered();
    this.#throwIfFailed();
  }
  /** Sends what is queued and waits until every batch is written; throws the first failure. */
  async flush() {
    this.#throwIfFailed();
    this.#send();
    while (this.#inFlight.size > 0) await this.#answered();
    this.#throwIfFailed();
  }
  /** Waits for the batches handed over (their outcome no longer matters), then stops the worker. */
  async close() {
    this.#pending = emptyPending();
    while (this.#inFlight.size > 0) await this.#answered();
    this.#stopped = true;
    await this.#worker.terminate();
  }
  #send() {
    const pending = this.#pending;
    if (pending.entries.length === 0) return;
    this.#pending = emptyPending();
    const bytes = new ArrayBuffer(pending.bytes);
    const view = new Uint8Array(bytes);
    const ends = new Uint32Array(pending.entries.length);
    let at = 0;
    pending.parts.forEach((parts, i) => {
      for (const part of parts) {
        view.set(part, at);
        at += part.length;
      }
      ends[i] = at;
    });
    const id = this.#nextId++;
    if (this.#inFlight.size === 0) this.#worker.ref();
    this.#inFlight.set(id, pending.entries);
    this.#worker.postMessage(
      {
        id,
        names: pending.names,
        methods: Uint8Array.from(pending.methods),
        sizes: Uint32Array.from(pending.sizes),
        ends,
        bytes,
        mode: this.#mode
      },
      [bytes]
    );
  }
  #answer(answer) {
    const entries = this.#inFlight.get(answer.id);
    if (entries === void 0) return;
    this.#inFlight.delete(answer.id);
    if (answer.crcs !== void 0) {
      entries.forEach((index, i) => this.#onWritten(index, answer.crcs[i]));
    } else if (answer.failure !== void 0) {
      this.#failure ??= toError(answer.failure);
    }
    this.#settled();
  }
  /** The worker is gone: nothing more will be answered. */
  #lost(how) {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#inFlight.size > 0 || this.#pending.entries.length > 0) {
      this.#failure ??= new EntryDataError(`the worker writing small entries ${how}`);
    }
    this.#inFlight.clear();
    this.#settled();
  }
  #settled() {
    if (this.#inFlight.size === 0) this.#worker.unref();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
  #answered() {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve2) => this.#waiters.push(resolve2));
  }
  #throwIfFailed() {
    if (this.#failure !== void 0) throw this.#failure;
    if (this.#stopped) throw new EntryDataError("the worker writing small entries has stopped");
  }
};
function toError(failure) {
  if (failure.kind === "data") return new EntryDataError(failure.message);
  return Object.assign(new Error(failure.message), {
    code: failure.code,
    errno: failure.errno,
    syscall: failure.syscall,
    path: failure.path
  });
}

// src/pack/zip/stream-stager.ts
var NotStreamableError = class extends IntegrityError {
  name = "NotStreamableError";
  constructor(message) {
    super("ERR_FERRY_INTEGRITY", `The archive cannot be extracted while it streams: ${message}`);
  }
};
var SIG_CENTRAL2 = 33639248;
var SIG_EOCD2 = 101010256;
var SIG_EOCD642 = 101075792;
var SIG_DESCRIPTOR = 134695760;
var U322 = 4294967295;
var UTF82 = new TextDecoder("utf-8");
var STAGED_MODE = 438;
var StreamStager = class {
  constructor(file, limits) {
    this.file = file;
    this.limits = limits;
  }
  file;
  limits;
  /** The entries streamed so far, until {@link takeEntries} hands them over. */
  #entries = [];
  /** Entries streamed and their uncompressed bytes, kept when the list is handed over. */
  #streamedCount = 0;
  #streamedBytes = 0;
  /** Absolute offset where the first byte after the last entry arrived (the central directory). */
  tailStart;
  #phase = "header";
  #offset = 0;
  #pending = Buffer.alloc(0);
  #current;
  #tail;
  #total = 0;
  #firstHeader;
  /** Small entries seen so far; past INLINE_ENTRIES they go to {@link #batches}. */
  #smallEntries = 0;
  /** The worker writing small entries, once there have been many (undefined: inline). */
  #batches;
  /** Every small entry stays inline: no worker could be started, or the stager was closed. */
  #inlineOnly = false;
  /** Bytes consumed so far (a resumed download continues here). */
  get offset() {
    return this.#offset;
  }
  /**
   * Bytes the staging has had to hold so far: the entries staged, and the one being received at
   * its declared size (what it has grown to, without a declaration). The figure a full disk's
   * error quotes: the central directory, which holds the whole artifact's size, comes last.
   */
  get bytesToStage() {
    const current = this.#current;
    const receiving = current === void 0 ? 0 : Math.max(current.declaredUncompressed ?? 0, current.uncompressedSize);
    return this.#streamedBytes + receiving;
  }
  /**
   * Hands the streamed entries over, in stream order (`entries[i].index === i`), and stops keeping
   * them (after {@link finish}): once matched
   * with the central directory only their offsets are needed, and 100,000 of them were ~9 MiB
   * live while the files were placed (issue 12 item 5).
   */
  takeEntries() {
    const entries = this.#entries;
    this.#entries = [];
    return entries;
  }
  /**
   * Every name this stager may have created in the staging (the entries so far, the one being
   * received, the end file): what to unlink when the directory cannot be listed.
   */
  *stagedNames() {
    const count = this.#streamedCount + (this.#current !== void 0 ? 1 : 0);
    for (let index = 0; index < count; index++) yield String(index);
    yield "directory";
  }
  /**
   * Consumes the next bytes of the archive, in order, as the socket reads delivered them. A
   * stored entry's bytes go to its file as they are, in one writev per call: gathering them into
   * one buffer first cost a copy of every byte (a 512 MiB download spent 0.7 s in Buffer.concat
   * and its garbage). Deflated bytes are joined for the inflater, one thread-pool job instead of
   * one per socket read; they are the compressed, smaller side.
   */
  async write(chunks) {
    let next = 0;
    let rest;
    for (; ; ) {
      if (rest === void 0 || rest.length === 0) {
        if (next >= chunks.length) return;
        rest = chunks[next++];
        continue;
      }
      const current = this.#current;
      if (this.#phase === "data" && current !== void 0 && current.small === void 0) {
        if (current.inflate === void 0) {
          const parts = [rest];
          let room = current.declaredCompressed - current.compressedSize - rest.length;
          while (room > 0 && next < chunks.length) {
            const chunk = chunks[next++];
            parts.push(chunk);
            room -= chunk.length;
          }
          rest = await this.#stored(current, parts);
          continue;
        }
        if (next < chunks.length) {
          rest = Buffer.concat([rest, ...chunks.slice(next)]);
          next = chunks.length;
        }
      }
      rest = await this.#step(rest);
    }
  }
  /**
   * The stream is complete: the end records must have arrived. Returns the sparse file holding
   * the first local header's signature, the central directory and the end records at their offsets.
   */
  async finish() {
    await this.#settleBatches((batches) => batches.flush());
    await this.#stopBatches();
    if (this.#phase !== "tail" || this.#tail === void 0 || this.tailStart === void 0) {
      throw new NotStreamableError(
        `the archive ended at offset ${this.#offset} before its central directory`
      );
    }
    const first = this.#entries[0];
    if (first !== void 0 && this.#firstHeader !== void 0) {
      await this.#tail.write(this.#firstHeader, 0, this.#firstHeader.length, first.offset);
    }
    await this.#tail.close();
    this.#tail = void 0;
    return this.file("directory");
  }
  /** Closes what is open; the caller removes the staging directory. */
  async close() {
    this.#inlineOnly = true;
    const current = this.#current;
    this.#current = void 0;
    if (current !== void 0) {
      current.inflate?.destroy();
      await current.written?.catch(() => void 0);
      if (current.inflate === void 0) await current.out?.close().catch(() => void 0);
    }
    await this.#tail?.close().catch(() => void 0);
    this.#tail = void 0;
    await this.#stopBatches();
  }
  /** Stops the worker, if there is one, once the batches handed to it are answered; none starts again. */
  async #stopBatches() {
    this.#inlineOnly = true;
    const batches = this.#batches;
    this.#batches = void 0;
    await batches?.close();
  }
  /** Runs `step` on the worker, if there is one, with its data failures as NotStreamableError. */
  async #settleBatches(step) {
    if (this.#batches === void 0) return;
    try {
      await step(this.#batches);
    } catch (error2) {
      if (error2 instanceof EntryDataError) throw new NotStreamableError(error2.message);
      throw error2;
    }
  }
  async #step(chunk) {
    switch (this.#phase) {
      case "header":
        return this.#header(chunk);
      case "data":
        return this.#data(chunk);
      case "descriptor":
        return this.#descriptor(chunk);
      case "tail":
        await this.#writeTail(chunk);
        return void 0;
    }
  }
  /** Gathers `need` bytes in #pending; returns what is left of `chunk`, or undefined if more are needed. */
  #gather(chunk, need) {
    const take = Math.max(0, Math.min(need - this.#pending.length, chunk.length));
    if (take > 0) this.#pending = Buffer.concat([this.#pending, chunk.subarray(0, take)]);
    this.#offset += take;
    return this.#pending.length >= need ? chunk.subarray(take) : void 0;
  }
  async #header(chunk) {
    const start = this.#offset - this.#pending.length;
    let rest = this.#gather(chunk, 4);
    if (rest === void 0) return void 0;
    const signature = this.#pending.readUInt32LE(0);
    if (signature === SIG_CENTRAL2 || signature === SIG_EOCD2 || signature === SIG_EOCD642) {
      this.tailStart = start;
      this.#phase = "tail";
      this.#tail = await open11(this.file("directory"), "wx", 384);
      const head = this.#pending;
      this.#pending = Buffer.alloc(0);
      this.#offset -= head.length;
      await this.#writeTail(head);
      return rest;
    }
    if (signature !== SIG_LOCAL) {
      throw new NotStreamableError(
        `no local header at offset ${start} (signature 0x${signature.toString(16)})`
      );
    }
    rest = this.#gather(rest, LOCAL_HEADER_SIZE);
    if (rest === void 0) return void 0;
    const fixed = this.#pending;
    const need = LOCAL_HEADER_SIZE + fixed.readUInt16LE(26) + fixed.readUInt16LE(28);
    rest = this.#gather(rest, need);
    if (rest === void 0) return void 0;
    const header4 = this.#pending;
    this.#pending = Buffer.alloc(0);
    await this.#begin(header4, start);
    return rest;
  }
  async #begin(header4, start) {
    const flags = header4.readUInt16LE(6);
    const method = header4.readUInt16LE(8);
    if (flags & FLAG_ENCRYPTED) throw new NotStreamableError("an entry is encrypted");
    if (method !== 0 && method !== 8) throw new NotStreamableError(`an entry uses method ${method}`);
    const descriptor = (flags & FLAG_DATA_DESCRIPTOR) !== 0;
    if (descriptor && method === 0) {
      throw new NotStreamableError(
        "a stored entry has a data descriptor: its end is only in the central directory"
      );
    }
    if (this.#streamedCount >= this.limits.maxEntries) {
      throw new NotStreamableError("the archive has more entries than limits.maxEntries");
    }
    const nameLength = header4.readUInt16LE(26);
    const nameBytes = header4.subarray(LOCAL_HEADER_SIZE, LOCAL_HEADER_SIZE + nameLength);
    const name = flags & FLAG_UTF8 ? UTF82.decode(nameBytes) : decodeCp437(nameBytes);
    let compressed = header4.readUInt32LE(18);
    let uncompressed = header4.readUInt32LE(22);
    const zip64 = findZip64(header4.subarray(LOCAL_HEADER_SIZE + nameLength));
    if (zip64 !== void 0 && (compressed === U322 || uncompressed === U322)) {
      if (zip64.length < 16) throw new NotStreamableError("a zip64 extra field is too short");
      uncompressed = Number(zip64.readBigUInt64LE(0));
      compressed = Number(zip64.readBigUInt64LE(8));
    }
    if (this.#streamedCount === 0) this.#firstHeader = header4.subarray(0, 4);
    const index = this.#streamedCount;
    const small = !descriptor && isSmallFile(compressed, uncompressed);
    const out = small ? void 0 : await open11(this.file(String(index)), "wx", STAGED_MODE);
    const current = {
      index,
      offset: start,
      name,
      flags,
      method,
      crc32: 0,
      compressedSize: 0,
      uncompressedSize: 0,
      out,
      small: small ? [] : void 0,
      declaredCompressed: descriptor ? void 0 : compressed,
      declaredUncompressed: descriptor ? void 0 : uncompressed,
      zip64: zip64 !== void 0,
      fed: 0
    };
    this.#current = current;
    this.#phase = "data";
    if (small) {
      if (compressed === 0) await this.#writeSmall(current);
    } else if (method === 8) {
      const inflate = createInflateRaw2({ chunkSize: 256 * 1024 });
      inflate.on("data", (data) => this.#inflated(current, data));
      current.inflate = inflate;
      current.failed = new Promise((_, reject) => inflate.once("error", reject));
      current.failed.catch(() => void 0);
      current.written = pipeline5(
        inflate,
        out.createWriteStream({ highWaterMark: 1024 * 1024 })
      );
      current.written.catch(() => void 0);
    } else if (current.declaredCompressed === 0) {
      await this.#end(current);
    }
  }
  /** Counts inflated bytes against the limits as they come out. */
  #inflated(current, data) {
    current.crc32 = crc325(data, current.crc32);
    current.uncompressedSize += data.length;
    this.#total += data.length;
    const consumed = Math.max(current.inflate?.bytesWritten ?? 0, 1);
    const over = this.#total > this.limits.maxTotalBytes || current.declaredUncompressed !== void 0 && current.uncompressedSize > current.declaredUncompressed || current.uncompressedSize > RATIO_THRESHOLD_BYTES && current.uncompressedSize / consumed > this.limits.maxRatio * 4;
    if (over)
      current.inflate?.destroy(new NotStreamableError("an entry inflates past a limit or its declared size"));
  }
  async #data(chunk) {
    const current = this.#current;
    if (current.small !== void 0) {
      const remaining = current.declaredCompressed - current.compressedSize;
      const part = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
      current.small.push(part);
      current.compressedSize += part.length;
      this.#offset += part.length;
      if (current.compressedSize === current.declaredCompressed) await this.#writeSmall(current);
      return chunk.subarray(part.length);
    }
    if (current.inflate === void 0) return this.#stored(current, [chunk]);
    const inflate = current.inflate;
    current.fed += chunk.length;
    try {
      await Promise.race([
        new Promise(
          (resolve2, reject) => inflate.write(chunk, (error2) => error2 ? reject(error2) : resolve2())
        ),
        current.failed
      ]);
    } catch (error2) {
      if (error2 instanceof NotStreamableError) throw error2;
      throw new NotStreamableError(`an entry does not inflate (${error2.message})`);
    }
    const unconsumed = current.fed - inflate.bytesWritten;
    const used = chunk.length - unconsumed;
    this.#offset += used;
    if (unconsumed === 0 && !inflate.readableEnded) return void 0;
    current.compressedSize = inflate.bytesWritten;
    inflate.end();
    try {
      await Promise.race([current.written, current.failed]);
    } catch (error2) {
      if (error2 instanceof NotStreamableError) throw error2;
      throw new NotStreamableError(`an entry does not inflate (${error2.message})`);
    }
    if (current.declaredCompressed !== void 0 && current.declaredCompressed !== current.compressedSize) {
      throw new NotStreamableError("an entry ends before or after the size its local header declares");
    }
    await this.#end(current);
    return chunk.subarray(used);
  }
  /**
   * The next bytes of a stored entry, in order: written in one call up to the entry's declared
   * end (its CRC-32 computed while the write is on the thread pool); returns what follows the end.
   */
  async #stored(current, parts) {
    let room = current.declaredCompressed - current.compressedSize;
    let rest;
    const taken = [];
    for (const part of parts) {
      if (part.length > room) {
        if (room > 0) taken.push(part.subarray(0, room));
        rest = part.subarray(room);
        room = 0;
        break;
      }
      taken.push(part);
      room -= part.length;
    }
    const length = current.declaredCompressed - current.compressedSize - room;
    this.#count(length);
    const written = writeFully(current.out, taken);
    for (const part of taken) current.crc32 = crc325(part, current.crc32);
    await written;
    current.compressedSize += length;
    current.uncompressedSize += length;
    this.#offset += length;
    if (current.compressedSize === current.declaredCompressed) await this.#end(current);
    return rest;
  }
  /**
   * A small entry's bytes are all in: inflated in one call (bounded by its declared size),
   * checked against the declared size, counted against the limits, and written synchronously.
   * The CRC-32 is computed here and compared with the central directory's at the end, as for
   * streamed entries. Past the first INLINE_ENTRIES, the worker does all of that instead
   * ({@link SmallEntryBatches}): the entry is counted at its declared size, which the worker
   * checks, and its CRC-32 arrives with the batch's answer, before {@link finish} returns.
   */
  async #writeSmall(current) {
    if (this.#useBatches()) {
      const declared2 = current.declaredUncompressed;
      const parts = current.small ?? [];
      current.small = void 0;
      this.#count(declared2);
      current.uncompressedSize = declared2;
      this.#phase = "header";
      this.#push(current);
      const file = this.file(String(current.index));
      await this.#settleBatches(
        (batches) => batches.add(current.index, file, current.method, declared2, parts)
      );
      return;
    }
    const compressed = Buffer.concat(current.small ?? []);
    current.small = void 0;
    const declared = current.declaredUncompressed;
    let data = compressed;
    if (current.method === 8) {
      try {
        const { buffer, engine } = inflateRawSync2(compressed, {
          maxOutputLength: Math.max(declared, 1),
          info: true
        });
        if (engine.bytesWritten !== compressed.length) {
          throw new NotStreamableError("an entry ends before or after the size its local header declares");
        }
        data = buffer;
      } catch (error2) {
        if (error2 instanceof NotStreamableError) throw error2;
        throw new NotStreamableError(`an entry does not inflate (${error2.message})`);
      }
    }
    if (data.length !== declared) {
      throw new NotStreamableError("an entry has a different size than its local header declares");
    }
    this.#count(data.length);
    current.crc32 = crc325(data);
    current.uncompressedSize = data.length;
    writeSmallFileSync(this.file(String(current.index)), data, { mode: STAGED_MODE });
    this.#phase = "header";
    this.#push(current);
  }
  /** Counts `bytes` more of uncompressed entry data against limits.maxTotalBytes. */
  #count(bytes) {
    this.#total += bytes;
    if (this.#total > this.limits.maxTotalBytes) {
      throw new NotStreamableError("the entries pass limits.maxTotalBytes");
    }
  }
  /** True when this small entry goes to the worker (started at the first one past INLINE_ENTRIES). */
  #useBatches() {
    this.#smallEntries++;
    if (this.#batches !== void 0) return true;
    if (this.#inlineOnly || this.#smallEntries <= INLINE_ENTRIES) return false;
    this.#batches = SmallEntryBatches.start(STAGED_MODE, (index, crc) => {
      this.#entries[index].crc32 = crc;
    });
    this.#inlineOnly = this.#batches === void 0;
    return !this.#inlineOnly;
  }
  async #end(current) {
    if (current.inflate === void 0) await current.out?.close();
    if (current.declaredUncompressed !== void 0 && current.declaredUncompressed !== current.uncompressedSize) {
      throw new NotStreamableError("an entry has a different size than its local header declares");
    }
    this.#phase = current.declaredCompressed === void 0 ? "descriptor" : "header";
    if (this.#phase === "header") this.#push(current);
  }
  #push(current) {
    this.#current = void 0;
    const { index, offset, name, flags, method, crc32: crc328, compressedSize, uncompressedSize } = current;
    this.#entries.push({ index, offset, name, flags, method, crc32: crc328, compressedSize, uncompressedSize });
    this.#streamedCount++;
    this.#streamedBytes += uncompressedSize;
  }
  /** The data descriptor: optional signature, CRC-32, then 4- or 8-byte sizes (zip64). */
  #descriptor(chunk) {
    const current = this.#current;
    let rest = this.#gather(chunk, 4);
    if (rest === void 0) return void 0;
    const signed = this.#pending.readUInt32LE(0) === SIG_DESCRIPTOR;
    const need = (signed ? 8 : 4) + (current.zip64 ? 16 : 8);
    rest = this.#gather(rest, need);
    if (rest === void 0) return void 0;
    const body = this.#pending.subarray(signed ? 4 : 0);
    this.#pending = Buffer.alloc(0);
    const crc = body.readUInt32LE(0);
    const compressed = current.zip64 ? Number(body.readBigUInt64LE(4)) : body.readUInt32LE(4);
    const uncompressed = current.zip64 ? Number(body.readBigUInt64LE(12)) : body.readUInt32LE(8);
    if (crc !== current.crc32 || compressed !== current.compressedSize || uncompressed !== current.uncompressedSize) {
      throw new NotStreamableError("a data descriptor does not match the data before it");
    }
    this.#phase = "header";
    this.#push(current);
    return rest;
  }
  async #writeTail(chunk) {
    const tail = this.#tail;
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await tail.write(chunk, done, chunk.length - done, this.#offset + done);
      done += bytesWritten;
    }
    this.#offset += chunk.length;
  }
};
function findZip64(extra) {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (id === 1) return extra.subarray(at + 4, Math.min(at + 4 + size, extra.length));
    at += 4 + size;
  }
  return void 0;
}

// src/pack/zip/stream-extract.ts
var STAGING_PREFIX2 = ".ferry-staging-";
async function openStreamExtraction(options) {
  const opts = normalizeExtractOptions(options);
  throwIfAborted(opts.signal);
  const createdTarget = await mkdir6(opts.target, { recursive: true });
  let held;
  try {
    held = HeldTarget.open(opts.target, opts.context !== void 0 ? { context: opts.context } : {});
    return new Extraction(opts, held, createdTarget);
  } catch (error2) {
    held?.close();
    if (createdTarget !== void 0) await removeCreatedChain(opts.target, createdTarget);
    throw withErrorContext(error2, opts.context);
  }
}
var Extraction = class {
  constructor(opts, held, createdTarget) {
    this.opts = opts;
    this.held = held;
    this.createdTarget = createdTarget;
    this.#staging = held.createStaging(STAGING_PREFIX2);
    this.#stager = this.#newStager();
  }
  opts;
  held;
  createdTarget;
  #staging;
  #stager;
  #done = false;
  get offset() {
    return this.#stager.offset;
  }
  #newStager() {
    const staging = this.#staging;
    return new StreamStager((name) => staging.file(name), this.opts.limits);
  }
  async write(chunks) {
    throwIfAborted(this.opts.signal);
    try {
      await this.#stager.write(chunks);
    } catch (error2) {
      throw await this.#resourceError(error2);
    }
  }
  async reset() {
    await this.#stager.close();
    this.#staging.remove(() => this.#stager.stagedNames());
    this.#staging = this.held.createStaging(STAGING_PREFIX2);
    this.#stager = this.#newStager();
  }
  async materialize() {
    try {
      return await this.#materialize();
    } catch (error2) {
      await this.dispose();
      if (this.opts.signal?.aborted && !isFerryError(error2)) throw new AbortError(this.opts.signal.reason);
      throw withErrorContext(await this.#resourceError(error2), this.opts.context);
    }
  }
  async #materialize() {
    const { opts } = this;
    const stager = this.#stager;
    const directoryFile = await stager.finish();
    const directory = await readDirectory(directoryFile, opts);
    if (directory.centralDirectoryOffset !== stager.tailStart) {
      throw new NotStreamableError("the central directory does not start where the entries end");
    }
    const { entries } = directory;
    const stagedIndex = matchStreamed(entries, stager.takeEntries());
    checkDeclaredLimits(entries, opts.limits);
    const plan = planEntries(entries, opts);
    const staging = this.#staging;
    const stagingName = foldPath(staging.name);
    if (plan.items.some((i) => foldPath(i.key.split("/")[0] ?? "") === stagingName)) {
      throw unsafe4(`The archive contains an entry under ${printable(staging.name)}, the staging directory`);
    }
    const stagedFile = (entry) => staging.file(String(stagedIndex(entry.localHeaderOffset)));
    const stagedPath = (item) => stagedFile(item.entry);
    const linkWalks = await readLinkTargets(plan, (entry) => readFile2(stagedFile(entry)), opts.signal);
    throwIfAborted(opts.signal);
    await preflight(
      plan,
      opts,
      linkWalks,
      async (entry) => (await digestRegularFile(stagedFile(entry)))?.sha256 ?? ""
    );
    await this.#applyKinds(plan.items, stagedPath);
    throwIfAborted(opts.signal);
    const result = await moveIntoPlace(plan, opts, this.held, stagedPath);
    this.#done = true;
    await this.dispose();
    return result;
  }
  /**
   * Staged files were created {@link STAGED_MODE} (0666) under the umask. Each gets the mode the
   * file extractor would have created it with: the archive's permission bits under the umask
   * (0666 when modes are not restored). Only files whose mode differs are changed, synchronously:
   * an archive of ordinary 0644 files costs no call at all, where one asynchronous chmod per file
   * was a thread-pool round trip each (10,000 of them for 10,000 small files). Link entries kept
   * as links (symlinks: 'preserve') become links.
   */
  async #applyKinds(items, stagedPath) {
    let staged;
    let allowed;
    for (const item of items) {
      if (item.kind === "directory") continue;
      const file = stagedPath(item);
      if (item.kind === "link") {
        await unlink2(file);
        await symlink3(item.linkText, file);
        continue;
      }
      staged ??= statSync3(file).mode & 511;
      const wanted = fileMode(item, this.opts) ?? 438;
      if ((wanted & ~STAGED_MODE) !== 0) allowed ??= this.#umaskAllows();
      const mode = wanted & staged | wanted & ~STAGED_MODE & (allowed ?? 0);
      if (mode !== staged) chmodSync(file, mode);
    }
  }
  /** The permission bits the umask lets a new file have: a probe created 0777 in the staging. */
  #umaskAllows() {
    const probe = this.#staging.file("umask-probe");
    const fd = openSync3(probe, "wx", 511);
    try {
      return fstatSync3(fd).mode & 511;
    } finally {
      closeSync3(fd);
      unlinkSync2(probe);
    }
  }
  async #resourceError(error2) {
    if (error2 instanceof NotStreamableError) return error2;
    return asResourceError(error2, {
      context: this.opts.context,
      // The staging is removed because of the failure: what it holds counts as free in the target.
      removedOnFailure: path13.join(this.opts.target, this.#staging.name),
      neededBytes: this.#stager.bytesToStage
    });
  }
  async dispose() {
    await this.#stager.close();
    this.#staging.remove(() => this.#stager.stagedNames());
    this.held.close();
    if (!this.#done && this.createdTarget !== void 0) {
      await removeCreatedChain(this.opts.target, this.createdTarget);
    }
  }
};
async function readDirectory(file, opts) {
  const handle = await open12(file, "r");
  try {
    const directory = await readZipDirectory(handle, { maxEntries: opts.limits.maxEntries });
    if (directory.prefixBytes !== 0)
      throw new NotStreamableError("the archive has bytes before its first entry");
    return directory;
  } catch (error2) {
    if (error2 instanceof NotStreamableError) throw error2;
    throw new NotStreamableError(`its central directory does not parse (${error2.message})`);
  } finally {
    await handle.close();
  }
}
function matchStreamed(entries, streamed) {
  const offsets = new Float64Array(streamed.length);
  for (const [index, entry] of streamed.entries()) offsets[index] = entry.offset;
  const indexOf = (offset) => {
    let low = 0;
    let high = offsets.length - 1;
    while (low <= high) {
      const middle = low + high >>> 1;
      const candidate = offsets[middle];
      if (candidate === offset) return middle;
      if (candidate < offset) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  };
  const differs = (why) => new NotStreamableError(`the central directory does not match the local headers (${why})`);
  if (entries.length !== streamed.length) {
    throw differs(`${entries.length} entries listed, ${streamed.length} streamed`);
  }
  const seen = new Uint8Array(streamed.length);
  for (const entry of entries) {
    const index = indexOf(entry.localHeaderOffset);
    if (index < 0 || seen[index] === 1) throw differs(`no entry at offset ${entry.localHeaderOffset}`);
    seen[index] = 1;
    const local = streamed[index];
    const same = local.name === entry.name && local.method === entry.method && (local.flags & FLAG_UTF8) === (entry.flags & FLAG_UTF8) && local.crc32 === entry.crc32 && local.compressedSize === entry.compressedSize && local.uncompressedSize === entry.uncompressedSize;
    if (!same) throw differs(`entry ${printable(entry.name)}`);
    entry.name = local.name;
  }
  return (offset) => {
    const index = indexOf(offset);
    if (index < 0) throw differs(`no entry at offset ${offset}`);
    return index;
  };
}

// src/backends/results/one-pass-sink.ts
var OnePassSink = class {
  constructor(isZip, extractOptions, context) {
    this.isZip = isZip;
    this.extractOptions = extractOptions;
    this.context = context;
  }
  isZip;
  extractOptions;
  context;
  extraction;
  raw;
  /**
   * Set when the zip cannot be read front to back: the rest of the body is only hashed. Not
   * thrown, since a failed request would fail the whole operation (HttpManager stops every
   * worker on a permanent error), and a digest mismatch must still be told apart.
   */
  notStreamable;
  async start(contentType, declaredLength) {
    await this.dispose();
    this.notStreamable = void 0;
    if (this.isZip(contentType)) this.extraction = await openStreamExtraction(this.extractOptions);
    else
      this.raw = await StagedRawFile.open(this.extractOptions.targetDirectory, this.context, declaredLength);
  }
  async write(chunks) {
    if (this.notStreamable !== void 0) return;
    if (this.extraction !== void 0) {
      try {
        await this.extraction.write(chunks);
      } catch (error2) {
        if (!(error2 instanceof NotStreamableError)) throw error2;
        this.notStreamable = error2;
        const extraction = this.extraction;
        this.extraction = void 0;
        await extraction.dispose();
      }
    } else await this.raw?.write(chunks);
  }
  async dispose() {
    const { extraction, raw } = this;
    this.extraction = void 0;
    this.raw = void 0;
    await extraction?.dispose();
    await raw?.dispose();
  }
};
var StagedRawFile = class _StagedRawFile {
  constructor(target, held, staging, createdTarget, handle, context, declaredLength) {
    this.target = target;
    this.held = held;
    this.staging = staging;
    this.createdTarget = createdTarget;
    this.context = context;
    this.declaredLength = declaredLength;
    this.file = staging.file("blob");
    this.#handle = handle;
  }
  target;
  held;
  staging;
  createdTarget;
  context;
  declaredLength;
  file;
  #handle;
  static async open(targetDirectory, context, declaredLength) {
    const target = path14.resolve(targetDirectory);
    await ensureRoom(target, declaredLength, { context, directory: target });
    const createdTarget = await mkdir7(target, { recursive: true });
    const held = HeldTarget.open(target, { context });
    try {
      const staging = held.createStaging(".ferry-staging-");
      const handle = await open13(staging.file("blob"), "wx", 438);
      return new _StagedRawFile(target, held, staging, createdTarget, handle, context, declaredLength);
    } catch (error2) {
      held.close();
      throw error2;
    }
  }
  async write(chunks) {
    try {
      await writeFully(this.#handle, chunks);
    } catch (error2) {
      throw await asResourceError(error2, {
        context: this.context,
        // The staging is removed because of the failure: what it holds counts as free in the target.
        removedOnFailure: path14.join(this.target, this.staging.name),
        neededBytes: this.declaredLength
      });
    }
  }
  /** All bytes are in: the file can be placed (while this object is not yet disposed). */
  async close() {
    const handle = this.#handle;
    this.#handle = void 0;
    await handle?.close();
  }
  async dispose() {
    await this.close().catch(() => void 0);
    this.staging.remove(() => ["blob"]);
    this.held.close();
    if (this.createdTarget !== void 0) await removeCreatedChain(this.target, this.createdTarget);
  }
};
async function ensureRoom(directory, declaredLength, info2) {
  if (declaredLength === void 0) return;
  const free = await freeBytes(directory);
  if (free === void 0 || free >= declaredLength) return;
  const full = Object.assign(
    new Error(`ENOSPC: ${declaredLength} bytes to write, ${free} free (checked before writing)`),
    { code: "ENOSPC" }
  );
  throw await asResourceError(full, { ...info2, neededBytes: declaredLength });
}

// src/backends/results/download.ts
async function fetchVerifiedBlob(url, name, expectedHex, tempDir, ctx, context, verify, refreshUrl, listedSize2) {
  await mkdir8(tempDir, { recursive: true });
  const work = await mkdtemp2(path15.join(tempDir, "ferry-download-"));
  let disposed;
  const dispose = () => disposed ??= rm5(work, { recursive: true, force: true });
  try {
    const file = path15.join(work, "blob");
    const blob = await downloadBlob(
      url,
      file,
      blobOptions(name, ctx, context, verify ? expectedHex : void 0, refreshUrl, listedSize2)
    );
    const digestMismatch = !verify && expectedHex !== void 0 && blob.sha256 !== expectedHex;
    if (digestMismatch) {
      ctx.logger.debug(
        `Digest mismatch for artifact '${name}' (listed sha256:${expectedHex}, downloaded sha256:${blob.sha256}); verification is off`
      );
    }
    return { ...blob, file, digestMismatch, expectedHex, dispose };
  } catch (error2) {
    await dispose();
    throw error2;
  }
}
function blobOptions(name, ctx, context, expectedSha256, refreshUrl, listedSize2) {
  return {
    http: ctx.http,
    operation: ctx.operation,
    context,
    expectedSha256,
    refreshUrl,
    listedSize: listedSize2,
    onBytes: (received, total) => ctx.onProgress?.({
      operation: "download",
      artifactName: name,
      phase: "transfer",
      bytesDone: received,
      bytesTotal: total,
      filesDone: 0,
      filesTotal: void 0
    })
  };
}
async function cachedCopy(name, key, tempDir, ctx) {
  const hit = key && ctx.cache ? await lookupCached(ctx, key) : void 0;
  if (!hit || !ctx.cache) return void 0;
  ctx.logger.debug(`Artifact '${name}' (${hit.digest}) comes from the download cache: no blob request`);
  return cachedBlob(hit, ctx.cache.path, tempDir);
}
async function downloadSignedArtifact(url, name, expectedHex, spec, tempDir, ctx, context, refreshUrl, listedSize2) {
  const key = cacheKeyOf(ctx, expectedHex, listedSize2, spec.skipDecompress ?? false);
  const cached = await cachedCopy(name, key, tempDir, ctx);
  if (cached !== void 0) return placeCachedCopy(cached, spec, ctx, context);
  const verify = spec.verifyDigest ?? true;
  const conflict2 = spec.conflict ?? "overwrite";
  const target = path15.resolve(spec.targetDirectory);
  let contentType;
  const sink = new OnePassSink(
    (type) => {
      contentType = type;
      return !spec.skipDecompress && isZipResponse(url, mimeOf(type));
    },
    extractOptionsFor(spec, target, ctx, context),
    context
  );
  const tee = key ? cacheTeeFor(ctx, key) : void 0;
  try {
    let blob;
    let digestMismatch = false;
    try {
      blob = await downloadBlob(url, sink, {
        ...blobOptions(name, ctx, context, verify ? expectedHex : void 0, refreshUrl, listedSize2),
        tee
      });
      digestMismatch = !verify && expectedHex !== void 0 && blob.sha256 !== expectedHex;
    } finally {
      await tee?.finish(blob !== void 0 && !digestMismatch && isZipResponse(url, mimeOf(contentType)));
    }
    if (digestMismatch) {
      ctx.logger.debug(
        `Digest mismatch for artifact '${name}' (listed sha256:${expectedHex}, downloaded sha256:${blob.sha256}); verification is off`
      );
    }
    await spec.beforeWrite?.();
    const digest2 = `sha256:${blob.sha256}`;
    const mismatch = digestMismatch ? { digestMismatch: true, expectedDigest: `sha256:${expectedHex}` } : {};
    if (sink.extraction !== void 0) {
      const endExtract = ctx.stats?.startPhase("extract");
      try {
        const result = await sink.extraction.materialize();
        return { downloadPath: target, fileCount: result.files, size: result.bytes, digest: digest2, ...mismatch };
      } catch (error2) {
        if (!(error2 instanceof NotStreamableError)) throw error2;
        sink.notStreamable = error2;
      } finally {
        endExtract?.();
      }
    }
    if (sink.notStreamable !== void 0) {
      await sink.dispose();
      const fallback = await fetchForFileExtraction(url, name, expectedHex, key, tempDir, ctx, context, {
        why: sink.notStreamable.message,
        verify,
        refreshUrl,
        listedSize: listedSize2
      });
      return await extractFileBlob(
        fallback,
        spec,
        ctx,
        context,
        fallback.digestMismatch ? { digestMismatch: true, expectedDigest: `sha256:${expectedHex}` } : {}
      );
    }
    const raw = sink.raw;
    if (raw === void 0)
      throw new IntegrityError("ERR_FERRY_PROTOCOL", "The download ended without a response body", {
        context
      });
    await raw.close();
    const isZip = isZipResponse(url, mimeOf(contentType));
    const fileName = fileNameFromDisposition(blob.contentDisposition, isZip ? `${name}.zip` : name);
    const placed = await placeRawFile({ file: raw.file, ...blob }, fileName, target, conflict2, context);
    return {
      downloadPath: target,
      fileCount: placed ? 1 : 0,
      size: placed ? blob.size : 0,
      digest: digest2,
      ...mismatch
    };
  } finally {
    await sink.dispose();
  }
}
async function fetchForFileExtraction(url, name, expectedHex, key, tempDir, ctx, context, how) {
  const cached = await cachedCopy(name, key, tempDir, ctx);
  ctx.logger.debug(
    `Artifact '${name}' could not be extracted while it downloaded (${how.why}); ${cached !== void 0 ? "extracting the cached copy" : "downloading it again to a temporary file to extract it"}`
  );
  if (cached !== void 0) return cached;
  return fetchVerifiedBlob(
    url,
    name,
    expectedHex,
    tempDir,
    ctx,
    context,
    how.verify,
    how.refreshUrl,
    how.listedSize
  );
}
async function placeCachedCopy(blob, spec, ctx, context) {
  try {
    await spec.beforeWrite?.();
  } catch (error2) {
    await blob.dispose();
    throw error2;
  }
  return extractFileBlob(blob, spec, ctx, context, {});
}
async function extractFileBlob(blob, spec, ctx, context, mismatch) {
  try {
    const target = path15.resolve(spec.targetDirectory);
    const endExtract = ctx.stats?.startPhase("extract");
    const result = await extractZip(blob.file, extractOptionsFor(spec, target, ctx, context)).finally(
      endExtract
    );
    return {
      downloadPath: target,
      fileCount: result.files,
      size: result.bytes,
      digest: `sha256:${blob.sha256}`,
      ...mismatch
    };
  } finally {
    await blob.dispose();
  }
}
function extractOptionsFor(spec, target, ctx, context) {
  return {
    targetDirectory: target,
    existing: spec.conflict ?? "overwrite",
    symlinks: spec.symlinks ?? "refuse",
    restoreModes: spec.restoreModes ?? true,
    ...ctx.operation.signal !== void 0 ? { signal: ctx.operation.signal } : {},
    // Files written at once follow the caller's concurrency, so lowering it bounds descriptors.
    concurrency: ctx.http.slots,
    // Errors name the download and the artifact, not only the entry.
    context,
    ...spec.limits !== void 0 ? { limits: spec.limits } : {}
  };
}
function mimeOf(contentType) {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}
function isZipResponse(url, mime) {
  return ["application/zip", "application/x-zip-compressed", "application/zip-compressed"].includes(mime) || new URL(url).pathname.toLowerCase().endsWith(".zip");
}

// src/backends/results/upload.ts
import { createReadStream } from "node:fs";
import { stat as stat8 } from "node:fs/promises";
import path17 from "node:path";
import { Transform as Transform3 } from "node:stream";

// src/pack/zip-writer/zip-stream.ts
import { Readable as Readable2 } from "node:stream";
import { types as types3 } from "node:util";

// src/pack/zip-writer/compressibility.ts
import { promisify as promisify3 } from "node:util";
import { deflateRaw as deflateRaw2 } from "node:zlib";
var deflateRawAsync2 = promisify3(deflateRaw2);
var SAMPLE_SIZE2 = 256 * 1024;
var MIN_SAVING = 0.05;
var SAMPLE_LEVEL = 1;
function isWorthDeflating(originalSize, compressedSize) {
  return originalSize > 0 && compressedSize <= originalSize * (1 - MIN_SAVING);
}
async function sampleIsCompressible(sample2) {
  if (sample2.length === 0) return false;
  const compressed = await deflateRawAsync2(sample2, { level: SAMPLE_LEVEL });
  return isWorthDeflating(sample2.length, compressed.length);
}

// src/pack/zip-writer/entry-source.ts
import { closeSync as closeSync4, constants as fsConstants4, fstatSync as fstatSync4, openSync as openSync4 } from "node:fs";
import { open as open14 } from "node:fs/promises";
import { types as types2 } from "node:util";
import { crc32 as crc326 } from "node:zlib";
var OPEN_FLAGS3 = fsConstants4.O_RDONLY | (fsConstants4.O_NONBLOCK ?? 0);
function describeKind(st) {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a regular file";
}
var EntrySource = class _EntrySource {
  sourcePath;
  name;
  /** The size from `fstat` right after opening: the entry is exactly this long, or it changed. */
  size;
  mtime;
  #handle;
  #signal;
  #counters;
  /** Sees every byte read (the secret scan), before it can be zipped. */
  #scan;
  #closed;
  constructor(sourcePath, name, handle, st, signal, counters, scan) {
    this.sourcePath = sourcePath;
    this.name = name;
    this.#handle = handle;
    this.size = st.size;
    this.mtime = st.mtime;
    this.#signal = signal;
    this.#counters = counters;
    this.#scan = scan;
  }
  static async open(sourcePath, name, signal, counters, scan) {
    if (signal.aborted) throw new AbortError(signal.reason, { file: name });
    let handle;
    try {
      handle = await open14(sourcePath, OPEN_FLAGS3);
    } catch (error2) {
      throw unreadable(sourcePath, name, error2);
    }
    counters.openFiles++;
    if (counters.openFiles > counters.maxOpenFiles) counters.maxOpenFiles = counters.openFiles;
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        throw new ValidationError(
          "ERR_FERRY_INVALID_PATH",
          `${printable(sourcePath)} is ${describeKind(st)}; only regular files can be zipped as files`,
          { file: name }
        );
      }
      return new _EntrySource(sourcePath, name, handle, st, signal, counters, scan);
    } catch (error2) {
      counters.openFiles--;
      await handle.close().catch(() => void 0);
      throw isFerryError(error2) ? error2 : unreadable(sourcePath, name, error2);
    }
  }
  throwIfAborted() {
    if (this.#signal.aborted) throw new AbortError(this.#signal.reason, { file: this.name });
  }
  changed(detail) {
    return new FerryError(
      "ERR_FERRY_SOURCE_CHANGED",
      `File ${printable(this.sourcePath)} changed while it was being zipped: ${detail}`,
      { context: { file: this.name } }
    );
  }
  /**
   * Reads exactly `length` bytes at `position` into `into` (or a new buffer). A file that ends
   * early has shrunk since it was opened.
   */
  async read(position, length, into) {
    this.throwIfAborted();
    const buf = into === void 0 ? Buffer.allocUnsafe(length) : into.subarray(0, length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.#handle.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (error2) {
      throw unreadable(this.sourcePath, this.name, error2);
    }
    if (done < length) {
      throw this.changed(`it was ${this.size} bytes when opened and now ends after ${position + done}`);
    }
    this.#scan?.feed(position, buf);
    return buf;
  }
  /**
   * Reads a small file whole with one byte of headroom: one read shows both a short file and
   * one that grew since it was opened, instead of a read plus an end probe.
   */
  async readWhole() {
    this.throwIfAborted();
    const buf = Buffer.allocUnsafe(this.size + 1);
    let done = 0;
    try {
      while (done < buf.length) {
        const { bytesRead } = await this.#handle.read(buf, done, buf.length - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (error2) {
      throw unreadable(this.sourcePath, this.name, error2);
    }
    if (done > this.size) throw this.changed(`it was ${this.size} bytes when opened and has grown since`);
    if (done < this.size) {
      throw this.changed(`it was ${this.size} bytes when opened and now ends after ${done}`);
    }
    this.#scan?.feed(0, buf.subarray(0, this.size));
    return buf.subarray(0, this.size);
  }
  /** Throws `ERR_FERRY_SOURCE_CHANGED` if the file has grown beyond its size at open. */
  async assertEnd() {
    this.throwIfAborted();
    const probe = Buffer.allocUnsafe(1);
    let bytesRead;
    try {
      ({ bytesRead } = await this.#handle.read(probe, 0, 1, this.size));
    } catch (error2) {
      throw unreadable(this.sourcePath, this.name, error2);
    }
    if (bytesRead > 0) throw this.changed(`it was ${this.size} bytes when opened and has grown since`);
  }
  /** Closes the handle; safe to call more than once. Close errors are ignored (nothing was written). */
  close() {
    this.#closed ??= this.#handle.close().then(
      () => {
        this.#counters.openFiles--;
      },
      () => {
        this.#counters.openFiles--;
      }
    );
    return this.#closed;
  }
};
function readSmallFileSync(sourcePath, name, limit, counters, scan) {
  let fd;
  try {
    fd = openSync4(sourcePath, OPEN_FLAGS3);
  } catch (error2) {
    throw unreadable(sourcePath, name, error2);
  }
  counters.openFiles++;
  if (counters.openFiles > counters.maxOpenFiles) counters.maxOpenFiles = counters.openFiles;
  try {
    const st = fstatSync4(fd);
    if (!st.isFile()) {
      throw new ValidationError(
        "ERR_FERRY_INVALID_PATH",
        `${printable(sourcePath)} is ${describeKind(st)}; only regular files can be zipped as files`,
        { file: name }
      );
    }
    if (st.size > limit) return void 0;
    const { data, found } = readWholeSync(fd, st.size);
    if (found !== st.size) {
      throw new FerryError(
        "ERR_FERRY_SOURCE_CHANGED",
        `File ${printable(sourcePath)} changed while it was being zipped: it was ${st.size} bytes when opened and ${found > st.size ? "has grown since" : `now ends after ${found}`}`,
        { context: { file: name } }
      );
    }
    scan?.feed(0, data);
    return { data, mtime: st.mtime };
  } catch (error2) {
    throw isFerryError(error2) ? error2 : unreadable(sourcePath, name, error2);
  } finally {
    closeSync4(fd);
    counters.openFiles--;
  }
}
function unreadable(sourcePath, name, cause) {
  if (isFerryError(cause)) return cause;
  const errno2 = cause?.code;
  const detail = cause instanceof Error || types2.isNativeError(cause) ? cause.message : String(cause);
  return new FerryError(
    "ERR_FERRY_SOURCE_UNREADABLE",
    `Cannot read ${printable(sourcePath)}${errno2 ? ` (${errno2})` : ""}: ${detail}`,
    { cause, context: { file: name } }
  );
}
var hex32 = (n) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
var StreamSource = class _StreamSource {
  name;
  size;
  crc32;
  #stream;
  #iterator;
  #signal;
  #counters;
  #onAbort;
  /** Bytes received from the stream and not yet consumed; they start at offset `#consumed`. */
  #pending = [];
  #pendingBytes = 0;
  #consumed = 0;
  #received = 0;
  #crc = 0;
  #ended = false;
  #closed;
  constructor(spec, stream, signal, counters) {
    this.name = spec.name;
    this.size = spec.size;
    this.crc32 = spec.crc32 >>> 0;
    this.#stream = stream;
    this.#iterator = stream[Symbol.asyncIterator]();
    this.#signal = signal;
    this.#counters = counters;
    this.#onAbort = () => stream.destroy(new AbortError(signal.reason, { file: spec.name }));
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }
  static async open(spec, signal, counters) {
    if (signal.aborted) throw new AbortError(signal.reason, { file: spec.name });
    let stream;
    try {
      stream = await spec.open();
    } catch (error2) {
      throw streamUnreadable(spec.name, error2);
    }
    if (typeof stream?.[Symbol.asyncIterator] !== "function") {
      throw new ValidationError(
        "ERR_FERRY_INVALID_OPTION",
        `open() of stream entry ${printable(spec.name)} did not return a Readable`,
        { file: spec.name }
      );
    }
    counters.openFiles++;
    if (counters.openFiles > counters.maxOpenFiles) counters.maxOpenFiles = counters.openFiles;
    return new _StreamSource(spec, stream, signal, counters);
  }
  throwIfAborted() {
    if (this.#signal.aborted) throw new AbortError(this.#signal.reason, { file: this.name });
  }
  changed(detail) {
    return new FerryError(
      "ERR_FERRY_SOURCE_CHANGED",
      `The data of stream entry ${printable(this.name)} does not match what was declared: ${detail}`,
      { context: { file: this.name } }
    );
  }
  /** Pulls from the stream until `want` bytes are pending or it ends. */
  async #fill(want) {
    while (this.#pendingBytes < want && !this.#ended) {
      this.throwIfAborted();
      let next;
      try {
        next = await this.#iterator.next();
      } catch (error2) {
        this.throwIfAborted();
        throw streamUnreadable(this.name, error2);
      }
      if (next.done === true) {
        this.#ended = true;
        break;
      }
      const value = next.value;
      const chunk = Buffer.isBuffer(value) ? value : value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(String(value));
      if (chunk.length === 0) continue;
      this.#received += chunk.length;
      if (this.#received > this.size) {
        throw this.changed(`it has more than the declared ${this.size} bytes`);
      }
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
    }
  }
  /** The next `length` bytes without consuming them (for the compressibility sample). */
  async peek(length) {
    await this.#fill(length);
    const joined = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = joined.length > 0 ? [joined] : [];
    return joined.subarray(0, Math.min(length, joined.length));
  }
  /** Reads exactly `length` bytes at `position`, which must be where the previous read ended. */
  async read(position, length, into) {
    if (position !== this.#consumed) {
      throw new FerryError(
        "ERR_FERRY_INTEGRITY",
        `Stream entry ${printable(this.name)} was read out of order (at ${position}, expected ${this.#consumed})`,
        { context: { file: this.name } }
      );
    }
    await this.#fill(length);
    if (this.#pendingBytes < length) {
      throw this.changed(
        `it ended after ${this.#consumed + this.#pendingBytes} bytes, ${this.size} were declared`
      );
    }
    const out = into === void 0 ? Buffer.allocUnsafe(length) : into.subarray(0, length);
    let done = 0;
    while (done < length) {
      const head = this.#pending[0];
      const take = Math.min(head.length, length - done);
      head.copy(out, done, 0, take);
      done += take;
      if (take === head.length) this.#pending.shift();
      else this.#pending[0] = head.subarray(take);
    }
    this.#pendingBytes -= length;
    this.#consumed += length;
    this.#crc = crc326(out, this.#crc);
    return out;
  }
  /** Checks that the stream ends at the declared size and that the bytes had the declared CRC-32. */
  async assertEnd() {
    await this.#fill(1);
    if (this.#pendingBytes > 0 || this.#consumed !== this.size) {
      throw this.changed(`it has more than the declared ${this.size} bytes`);
    }
    if (this.#crc !== this.crc32) {
      throw this.changed(`its CRC-32 is ${hex32(this.#crc)}, ${hex32(this.crc32)} was declared`);
    }
  }
  /** Destroys the stream; safe to call more than once. */
  close() {
    this.#closed ??= (async () => {
      this.#signal.removeEventListener("abort", this.#onAbort);
      this.#counters.openFiles--;
      this.#pending = [];
      if (!this.#stream.destroyed) this.#stream.destroy();
      await this.#iterator.return?.().catch(() => void 0);
    })();
    return this.#closed;
  }
};
function streamUnreadable(name, cause) {
  if (isFerryError(cause)) return cause;
  const detail = cause instanceof Error || types2.isNativeError(cause) ? cause.message : String(cause);
  return new FerryError(
    "ERR_FERRY_SOURCE_UNREADABLE",
    `Cannot read stream entry ${printable(name)}: ${detail}`,
    {
      cause,
      context: { file: name }
    }
  );
}

// src/pack/zip-writer/headers.ts
var SIG_LOCAL_FILE_HEADER = 67324752;
var SIG_DATA_DESCRIPTOR = 134695760;
var SIG_CENTRAL_DIRECTORY_HEADER = 33639248;
var SIG_ZIP64_END_OF_CENTRAL_DIRECTORY = 101075792;
var SIG_ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR = 117853008;
var SIG_END_OF_CENTRAL_DIRECTORY = 101010256;
var FLAG_DATA_DESCRIPTOR2 = 1 << 3;
var FLAG_UTF82 = 1 << 11;
var METHOD_STORED = 0;
var METHOD_DEFLATED = 8;
var MAX_UINT32 = 4294967295;
var MAX_UINT16 = 65535;
var ZIP64_EXTRA_ID = 1;
var VERSION_DEFAULT = 20;
var VERSION_ZIP64 = 45;
var HOST_UNIX = 3;
var S_IFREG = 32768;
var S_IFDIR = 16384;
var S_IFLNK = 40960;
var DOS_DIRECTORY = 16;
var LOCAL_FILE_HEADER_SIZE = 30;
var CENTRAL_DIRECTORY_HEADER_SIZE = 46;
var ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE = 56;
var ZIP64_LOCATOR_SIZE = 20;
var END_OF_CENTRAL_DIRECTORY_SIZE = 22;
function isAscii(value) {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 127) return false;
  return true;
}
function generalPurposeFlags(record) {
  return (record.dataDescriptor ? FLAG_DATA_DESCRIPTOR2 : 0) | (isAscii(record.name) ? 0 : FLAG_UTF82);
}
function dosDateTime(date) {
  const year = date.getFullYear();
  if (Number.isNaN(year) || year < 1980) return { time: 0, date: 1 << 5 | 1 };
  if (year > 2107) return { time: 23 << 11 | 59 << 5 | 29, date: 127 << 9 | 12 << 5 | 31 };
  return {
    time: date.getHours() << 11 | date.getMinutes() << 5 | date.getSeconds() >> 1,
    date: year - 1980 << 9 | date.getMonth() + 1 << 5 | date.getDate()
  };
}
function externalAttributes(kind, mode) {
  const type = kind === "directory" ? S_IFDIR : kind === "symlink" ? S_IFLNK : S_IFREG;
  return ((type | mode & 4095) << 16 | (kind === "directory" ? DOS_DIRECTORY : 0)) >>> 0;
}
function centralZip64Fields(record, force) {
  return {
    uncompressed: force || record.uncompressedSize >= MAX_UINT32,
    compressed: force || record.compressedSize >= MAX_UINT32,
    offset: force || record.localHeaderOffset >= MAX_UINT32
  };
}
function writeUInt64(buf, value, offset) {
  buf.writeBigUInt64LE(BigInt(value), offset);
}
function localFileHeader(record) {
  const zip64 = record.zip64Local;
  const extraLength = zip64 ? 4 + 16 : 0;
  const buf = Buffer.alloc(LOCAL_FILE_HEADER_SIZE + record.nameBytes.length + extraLength);
  const known = !record.dataDescriptor;
  buf.writeUInt32LE(SIG_LOCAL_FILE_HEADER, 0);
  buf.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  buf.writeUInt16LE(generalPurposeFlags(record), 6);
  buf.writeUInt16LE(record.method, 8);
  buf.writeUInt16LE(record.dosTime, 10);
  buf.writeUInt16LE(record.dosDate, 12);
  buf.writeUInt32LE(known ? record.crc32 : 0, 14);
  buf.writeUInt32LE(zip64 ? MAX_UINT32 : known ? record.compressedSize : 0, 18);
  buf.writeUInt32LE(zip64 ? MAX_UINT32 : known ? record.uncompressedSize : 0, 22);
  buf.writeUInt16LE(record.nameBytes.length, 26);
  buf.writeUInt16LE(extraLength, 28);
  record.nameBytes.copy(buf, LOCAL_FILE_HEADER_SIZE);
  if (zip64) {
    const at = LOCAL_FILE_HEADER_SIZE + record.nameBytes.length;
    buf.writeUInt16LE(ZIP64_EXTRA_ID, at);
    buf.writeUInt16LE(16, at + 2);
    writeUInt64(buf, known ? record.uncompressedSize : 0, at + 4);
    writeUInt64(buf, known ? record.compressedSize : 0, at + 12);
  }
  return buf;
}
function dataDescriptor(record) {
  if (record.zip64Local) {
    const buf2 = Buffer.alloc(24);
    buf2.writeUInt32LE(SIG_DATA_DESCRIPTOR, 0);
    buf2.writeUInt32LE(record.crc32, 4);
    writeUInt64(buf2, record.compressedSize, 8);
    writeUInt64(buf2, record.uncompressedSize, 16);
    return buf2;
  }
  const buf = Buffer.alloc(16);
  buf.writeUInt32LE(SIG_DATA_DESCRIPTOR, 0);
  buf.writeUInt32LE(record.crc32, 4);
  buf.writeUInt32LE(record.compressedSize, 8);
  buf.writeUInt32LE(record.uncompressedSize, 12);
  return buf;
}
function centralDirectoryHeader(record, forceZip64 = false) {
  const z = centralZip64Fields(record, forceZip64);
  const zip64Fields = (z.uncompressed ? 1 : 0) + (z.compressed ? 1 : 0) + (z.offset ? 1 : 0);
  const extraLength = zip64Fields > 0 ? 4 + 8 * zip64Fields : 0;
  const versionNeeded = zip64Fields > 0 || record.zip64Local ? VERSION_ZIP64 : VERSION_DEFAULT;
  const buf = Buffer.alloc(CENTRAL_DIRECTORY_HEADER_SIZE + record.nameBytes.length + extraLength);
  buf.writeUInt32LE(SIG_CENTRAL_DIRECTORY_HEADER, 0);
  buf.writeUInt16LE(HOST_UNIX << 8 | versionNeeded, 4);
  buf.writeUInt16LE(versionNeeded, 6);
  buf.writeUInt16LE(generalPurposeFlags(record), 8);
  buf.writeUInt16LE(record.method, 10);
  buf.writeUInt16LE(record.dosTime, 12);
  buf.writeUInt16LE(record.dosDate, 14);
  buf.writeUInt32LE(record.crc32, 16);
  buf.writeUInt32LE(z.compressed ? MAX_UINT32 : record.compressedSize, 20);
  buf.writeUInt32LE(z.uncompressed ? MAX_UINT32 : record.uncompressedSize, 24);
  buf.writeUInt16LE(record.nameBytes.length, 28);
  buf.writeUInt16LE(extraLength, 30);
  buf.writeUInt16LE(0, 32);
  buf.writeUInt16LE(0, 34);
  buf.writeUInt16LE(0, 36);
  buf.writeUInt32LE(externalAttributes(record.kind, record.mode), 38);
  buf.writeUInt32LE(z.offset ? MAX_UINT32 : record.localHeaderOffset, 42);
  record.nameBytes.copy(buf, CENTRAL_DIRECTORY_HEADER_SIZE);
  if (zip64Fields > 0) {
    let at = CENTRAL_DIRECTORY_HEADER_SIZE + record.nameBytes.length;
    buf.writeUInt16LE(ZIP64_EXTRA_ID, at);
    buf.writeUInt16LE(8 * zip64Fields, at + 2);
    at += 4;
    if (z.uncompressed) {
      writeUInt64(buf, record.uncompressedSize, at);
      at += 8;
    }
    if (z.compressed) {
      writeUInt64(buf, record.compressedSize, at);
      at += 8;
    }
    if (z.offset) writeUInt64(buf, record.localHeaderOffset, at);
  }
  return buf;
}
function needsZip64End(end) {
  return end.forceZip64 === true || end.entries >= MAX_UINT16 || end.centralDirectoryOffset >= MAX_UINT32 || end.centralDirectorySize >= MAX_UINT32;
}
function endOfCentralDirectory(end) {
  const zip64 = needsZip64End(end);
  const force = end.forceZip64 === true;
  const eocd = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_SIZE);
  const entries = force || end.entries >= MAX_UINT16 ? MAX_UINT16 : end.entries;
  eocd.writeUInt32LE(SIG_END_OF_CENTRAL_DIRECTORY, 0);
  eocd.writeUInt16LE(0, 4);
  eocd.writeUInt16LE(0, 6);
  eocd.writeUInt16LE(entries, 8);
  eocd.writeUInt16LE(entries, 10);
  eocd.writeUInt32LE(
    force || end.centralDirectorySize >= MAX_UINT32 ? MAX_UINT32 : end.centralDirectorySize,
    12
  );
  eocd.writeUInt32LE(
    force || end.centralDirectoryOffset >= MAX_UINT32 ? MAX_UINT32 : end.centralDirectoryOffset,
    16
  );
  eocd.writeUInt16LE(0, 20);
  if (!zip64) return eocd;
  const record = Buffer.alloc(ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE);
  record.writeUInt32LE(SIG_ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
  writeUInt64(record, ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE - 12, 4);
  record.writeUInt16LE(HOST_UNIX << 8 | VERSION_ZIP64, 12);
  record.writeUInt16LE(VERSION_ZIP64, 14);
  record.writeUInt32LE(0, 16);
  record.writeUInt32LE(0, 20);
  writeUInt64(record, end.entries, 24);
  writeUInt64(record, end.entries, 32);
  writeUInt64(record, end.centralDirectorySize, 40);
  writeUInt64(record, end.centralDirectoryOffset, 48);
  const locator = Buffer.alloc(ZIP64_LOCATOR_SIZE);
  locator.writeUInt32LE(SIG_ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR, 0);
  locator.writeUInt32LE(0, 4);
  writeUInt64(locator, end.centralDirectoryOffset + end.centralDirectorySize, 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([record, locator, eocd]);
}
function deflateBound(size, pieces) {
  return size + Math.ceil(size / 8) + Math.ceil(size / 64) + 5 + pieces * 10 + 64;
}

// src/pack/zip-writer/central-directory.ts
var CentralDirectory = class {
  #blockBytes;
  #forceZip64;
  /** Full blocks, each the headers of consecutive entries. */
  #blocks = [];
  /** Headers of the block being filled. */
  #pending = [];
  #pendingBytes = 0;
  #entries = 0;
  #size = 0;
  constructor(blockBytes, forceZip64) {
    this.#blockBytes = blockBytes;
    this.#forceZip64 = forceZip64;
  }
  /** Number of entries added. */
  get entries() {
    return this.#entries;
  }
  /** Bytes of all headers added. */
  get size() {
    return this.#size;
  }
  /** Adds the header of a finished entry; entries are listed in the order they are added. */
  add(record) {
    const header4 = centralDirectoryHeader(record, this.#forceZip64);
    this.#pending.push(header4);
    this.#pendingBytes += header4.length;
    this.#entries++;
    this.#size += header4.length;
    if (this.#pendingBytes >= this.#blockBytes) this.#seal();
  }
  /** Hands out the blocks in order, each released as it is taken. */
  *drain() {
    this.#seal();
    while (this.#blocks.length > 0) yield this.#blocks.shift();
  }
  #seal() {
    if (this.#pendingBytes === 0) return;
    this.#blocks.push(Buffer.concat(this.#pending, this.#pendingBytes));
    this.#pending = [];
    this.#pendingBytes = 0;
  }
};

// src/pack/zip-writer/zip-options.ts
import { availableParallelism as availableParallelism2 } from "node:os";

// src/pack/secret-scan.ts
import { Transform as Transform2, pipeline as pipeline6 } from "node:stream";
var MIN_SCANNED_SECRET_LENGTH = 16;
var EMPTY = Buffer.alloc(0);
var SecretScanner = class _SecretScanner {
  artifactName;
  #needles;
  /** Bytes kept from the end of one read: a match across the boundary starts within them. */
  #carry;
  constructor(artifactName, needles) {
    this.artifactName = artifactName;
    this.#needles = needles;
    this.#carry = Math.max(...needles.map((n) => n.bytes.length)) - 1;
  }
  /**
   * A scanner for `secrets` (duplicates and values shorter than
   * {@link MIN_SCANNED_SECRET_LENGTH} dropped; the first label of a value wins), or undefined when
   * none is left to look for.
   */
  static create(artifactName, secrets) {
    const byValue = /* @__PURE__ */ new Map();
    for (const secret of secrets) {
      if (!secret || typeof secret.value !== "string") continue;
      if (secret.value.length < MIN_SCANNED_SECRET_LENGTH || byValue.has(secret.value)) continue;
      byValue.set(secret.value, secret.label);
    }
    if (byValue.size === 0) return void 0;
    const needles = [...byValue].map(([value, label2]) => ({ bytes: Buffer.from(value, "utf8"), label: label2 }));
    return new _SecretScanner(artifactName, needles);
  }
  /** How many distinct secrets are searched for (never the values themselves). */
  get size() {
    return this.#needles.length;
  }
  /** A scan of one file; `file` is its path inside the artifact (named in the error). */
  file(file) {
    return new FileSecretScan(this, file);
  }
  /** The first secret found in `bytes`, or undefined. */
  find(bytes) {
    for (const needle of this.#needles) if (bytes.indexOf(needle.bytes) !== -1) return needle.label;
    return void 0;
  }
  get carryLength() {
    return this.#carry;
  }
};
var FileSecretScan = class {
  file;
  #scanner;
  /** Offset up to which the file has been searched. */
  #scanned = 0;
  /** A copy of the last `carryLength` searched bytes (fewer at the start of the file). */
  #tail = EMPTY;
  constructor(scanner, file) {
    this.#scanner = scanner;
    this.file = file;
  }
  /** Bytes of the file searched so far (from offset 0). */
  get scanned() {
    return this.#scanned;
  }
  /**
   * Searches `bytes`, read at `position`. Throws `ERR_FERRY_SECRET_IN_ARTIFACT` on a match.
   * `bytes` may be a reused buffer: nothing is kept but a copy of its last few bytes.
   */
  feed(position, bytes) {
    const end = position + bytes.length;
    if (end <= this.#scanned) return;
    let fresh = bytes;
    if (position < this.#scanned) fresh = bytes.subarray(this.#scanned - position);
    else if (position > this.#scanned) this.#tail = EMPTY;
    const scanner = this.#scanner;
    const carry = scanner.carryLength;
    let found = scanner.find(fresh);
    if (found === void 0 && this.#tail.length > 0) {
      found = scanner.find(Buffer.concat([this.#tail, fresh.subarray(0, carry)]));
    }
    if (found !== void 0) throw secretInArtifact(scanner.artifactName, this.file, found);
    if (fresh.length >= carry) {
      this.#tail = Buffer.from(fresh.subarray(fresh.length - carry));
    } else {
      const joined = Buffer.concat([this.#tail, fresh]);
      this.#tail = Buffer.from(joined.subarray(Math.max(0, joined.length - carry)));
    }
    this.#scanned = end;
  }
  /** `source` passed through unchanged, searched on the way; a match destroys the result with the error. */
  stream(source) {
    let position = 0;
    const scan = new Transform2({
      transform: (chunk, _encoding, callback) => {
        try {
          this.feed(position, chunk);
          position += chunk.length;
          callback(null, chunk);
        } catch (error2) {
          callback(error2);
        }
      }
    });
    return pipeline6(source, scan, () => void 0);
  }
};
function secretInArtifact(artifactName, file, label2) {
  return new FerryError(
    "ERR_FERRY_SECRET_IN_ARTIFACT",
    `File '${file}' contains ${label2}, byte for byte, so it was not uploaded and the artifact was not finalized. Remove the value from the file or leave the file out of the upload; if the file must be uploaded as it is, set allowSecretsInFiles (CLI --allow-secrets, Action input allow-secrets: true)`,
    { context: { operation: "upload", artifactName, file } }
  );
}

// src/pack/zip-writer/zip-options.ts
var DEFAULT_CHUNK_SIZE = 1024 * 1024;
var MIN_CHUNK_SIZE = 1024;
var MAX_CHUNK_SIZE = 64 * 1024 * 1024;
var MAX_CONCURRENCY2 = 64;
var DEFAULT_FILE_MODE = 420;
var DEFAULT_DIRECTORY_MODE = 493;
var DEFAULT_SYMLINK_MODE = 511;
var CENTRAL_DIRECTORY_BATCH = 64 * 1024;
var MAX_QUEUED_TASKS = 256;
var EMPTY2 = Buffer.alloc(0);
var OPTION_KEYS2 = [
  "level",
  "concurrency",
  "chunkSize",
  "signal",
  "onEntry",
  "forceZip64",
  "secretScan"
];
function invalidOption(option, message) {
  return new ValidationError("ERR_FERRY_INVALID_OPTION", `Option '${option}' ${message}`, { option });
}
function integerIn(option, value, min, max) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(option, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
function normalizeZipWriterOptions(options) {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("ERR_FERRY_INVALID_OPTION", "The zip writer options must be an object");
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS2.includes(key)) {
      throw invalidOption(key, `is unknown; expected one of ${OPTION_KEYS2.join(", ")}`);
    }
  }
  const level = integerIn("level", options.level, 0, 9);
  const concurrency = options.concurrency === void 0 ? Math.min(Math.max(availableParallelism2(), 1) + 1, MAX_CONCURRENCY2) : integerIn("concurrency", options.concurrency, 1, MAX_CONCURRENCY2);
  const chunkSize = options.chunkSize === void 0 ? DEFAULT_CHUNK_SIZE : integerIn("chunkSize", options.chunkSize, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  const signal = options.signal;
  if (signal !== void 0 && !(signal instanceof AbortSignal)) {
    throw invalidOption("signal", "must be an AbortSignal");
  }
  const onEntry = options.onEntry;
  if (onEntry !== void 0 && typeof onEntry !== "function") {
    throw invalidOption("onEntry", "must be a function");
  }
  const forceZip64 = options.forceZip64 ?? false;
  if (typeof forceZip64 !== "boolean") throw invalidOption("forceZip64", "must be a boolean");
  const secretScan = options.secretScan;
  if (secretScan !== void 0 && !(secretScan instanceof SecretScanner)) {
    throw invalidOption("secretScan", "must be a SecretScanner");
  }
  return { level, concurrency, chunkSize, signal, onEntry, forceZip64, secretScan };
}

// src/pack/zip-writer/zip-inputs.ts
function invalidName(name, reason) {
  return new ValidationError(
    "ERR_FERRY_INVALID_PATH",
    `Invalid zip entry name ${printable(name)}: ${reason}`
  );
}
function validateEntryName(name, kind) {
  if (typeof name !== "string" || name.length === 0) throw invalidName(String(name), "it is empty");
  const bare = kind === "directory" && name.endsWith("/") ? name.slice(0, -1) : name;
  if (bare.length === 0) throw invalidName(name, "it names the root");
  if (bare.startsWith("/")) throw invalidName(name, "it starts with '/' (names are relative)");
  if (/^[A-Za-z]:/.test(bare)) throw invalidName(name, "it starts with a drive letter");
  if (bare.includes("\\")) throw invalidName(name, "it contains '\\' (names are '/'-separated)");
  for (let i = 0; i < bare.length; i++) {
    const code = bare.charCodeAt(i);
    if (code >= 55296 && code <= 56319) {
      const next = bare.charCodeAt(i + 1);
      if (next >= 56320 && next <= 57343) {
        i++;
        continue;
      }
    }
    if (code >= 55296 && code <= 57343) throw invalidName(name, "it contains a lone surrogate");
    if (isControlCharacter(code)) {
      throw invalidName(name, `it contains the control character ${describeCharacter(bare[i] ?? "")}`);
    }
  }
  for (const segment of bare.split("/")) {
    if (segment === "") throw invalidName(name, "it has an empty segment");
    if (segment === "." || segment === "..") throw invalidName(name, `it has a '${segment}' segment`);
  }
  const full = kind === "directory" ? `${bare}/` : bare;
  if (Buffer.byteLength(full, "utf8") > MAX_UINT16) throw invalidName(name, "it is longer than 65535 bytes");
  return full;
}
function prepareInputs(inputs) {
  if (!Array.isArray(inputs)) {
    throw new ValidationError("ERR_FERRY_INVALID_OPTION", "The zip inputs must be an array", {
      option: "inputs"
    });
  }
  return inputs.map((input, index) => {
    const where = `inputs[${index}]`;
    if (typeof input !== "object" || input === null) throw invalidOption(where, "must be an object");
    const modeOf = (fallback) => {
      const mode = "mode" in input ? input.mode : void 0;
      if (mode === void 0) return fallback;
      if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 65535) {
        throw invalidOption(`${where}.mode`, `must be a file mode, got ${String(mode)}`);
      }
      return mode & 4095;
    };
    switch (input.kind) {
      case "file": {
        if (typeof input.sourcePath !== "string" || input.sourcePath.length === 0) {
          throw invalidOption(`${where}.sourcePath`, "must be a non-empty string");
        }
        const name = validateEntryName(input.name, "file");
        const mode = modeOf(DEFAULT_FILE_MODE);
        if (name === input.name && mode === input.mode) return input;
        return { kind: "file", name, mode, sourcePath: input.sourcePath };
      }
      case "directory":
        return {
          kind: "directory",
          name: validateEntryName(input.name, "directory"),
          mode: modeOf(DEFAULT_DIRECTORY_MODE)
        };
      case "symlink":
        if (typeof input.target !== "string" || input.target.length === 0 || input.target.includes("\0")) {
          throw invalidOption(`${where}.target`, "must be a non-empty string without NUL");
        }
        return {
          kind: "symlink",
          name: validateEntryName(input.name, "symlink"),
          mode: DEFAULT_SYMLINK_MODE,
          target: Buffer.from(input.target, "utf8")
        };
      case "stream": {
        if (typeof input.size !== "number" || !Number.isSafeInteger(input.size) || input.size < 0) {
          throw invalidOption(`${where}.size`, `must be a non-negative integer, got ${String(input.size)}`);
        }
        if (typeof input.crc32 !== "number" || !Number.isInteger(input.crc32) || input.crc32 < 0 || input.crc32 > MAX_UINT32) {
          throw invalidOption(
            `${where}.crc32`,
            `must be an unsigned 32-bit integer, got ${String(input.crc32)}`
          );
        }
        if (typeof input.open !== "function") throw invalidOption(`${where}.open`, "must be a function");
        if (input.mtime !== void 0 && !(input.mtime instanceof Date && Number.isFinite(input.mtime.getTime()))) {
          throw invalidOption(`${where}.mtime`, "must be a valid Date");
        }
        return {
          kind: "stream",
          name: validateEntryName(input.name, "file"),
          mode: modeOf(DEFAULT_FILE_MODE),
          size: input.size,
          crc32: input.crc32,
          mtime: input.mtime,
          open: input.open
        };
      }
      default:
        throw invalidOption(
          `${where}.kind`,
          `must be 'file', 'directory', 'symlink' or 'stream', got ${String(input.kind)}`
        );
    }
  });
}

// src/pack/zip-writer/entry-tasks.ts
import { crc32 as crc327 } from "node:zlib";
function newRecord(ctx, input, mtime) {
  const { time, date } = dosDateTime(mtime);
  const record = {
    name: input.name,
    nameBytes: Buffer.from(input.name, "utf8"),
    kind: input.kind === "stream" ? "file" : input.kind,
    mode: input.mode,
    dosTime: time,
    dosDate: date,
    method: METHOD_STORED,
    dataDescriptor: false,
    zip64Local: ctx.options.forceZip64,
    crc32: 0,
    compressedSize: 0,
    uncompressedSize: 0,
    localHeaderOffset: 0
  };
  return record;
}
function entryDone(ctx, record) {
  ctx.centralDirectory.add(record);
  ctx.stats.entriesWritten++;
  ctx.options.onEntry?.({
    name: record.name,
    method: record.method,
    uncompressedSize: record.uncompressedSize,
    compressedSize: record.compressedSize
  });
}
function knownEntryBytes(ctx, record, method, crc, uncompressedSize, data) {
  record.method = method;
  record.crc32 = crc;
  record.uncompressedSize = uncompressedSize;
  record.compressedSize = data.length;
  record.zip64Local = ctx.options.forceZip64 || uncompressedSize >= MAX_UINT32 || data.length >= MAX_UINT32;
  return [localFileHeader(record), data];
}
function storedBufferTask(ctx, record, data) {
  const bytes = knownEntryBytes(ctx, record, METHOD_STORED, crc327(data), data.length, data);
  return {
    weight: data.length > 0 ? 1 : 0,
    value: () => bytes,
    onEmit: (offset) => {
      record.localHeaderOffset = offset;
      entryDone(ctx, record);
    }
  };
}
function smallFileTask(ctx, record, data) {
  const crc = crc327(data);
  const value = deflatePiece(data, ctx.options.level, void 0, true).then(
    (compressed) => isWorthDeflating(data.length, compressed.length) ? knownEntryBytes(ctx, record, METHOD_DEFLATED, crc, data.length, compressed) : knownEntryBytes(ctx, record, METHOD_STORED, crc, data.length, data)
  );
  return {
    weight: 1,
    value,
    onEmit: (offset) => {
      record.localHeaderOffset = offset;
      entryDone(ctx, record);
    }
  };
}
function localHeaderTask(record) {
  return {
    weight: 0,
    value: () => [localFileHeader(record)],
    onEmit: (offset) => {
      record.localHeaderOffset = offset;
    }
  };
}
async function* storedFileTasks(ctx, record, source) {
  const { chunkSize } = ctx.options;
  const size = source.size;
  const scratch = Buffer.allocUnsafe(Math.min(chunkSize, size));
  let crc = 0;
  for (let position = 0; position < size; position += chunkSize) {
    crc = crc327(await source.read(position, Math.min(chunkSize, size - position), scratch), crc);
  }
  await source.assertEnd();
  record.method = METHOD_STORED;
  record.crc32 = crc;
  record.uncompressedSize = size;
  record.compressedSize = size;
  record.zip64Local = ctx.options.forceZip64 || size >= MAX_UINT32;
  yield localHeaderTask(record);
  let check = 0;
  for (let position = 0; position < size; position += chunkSize) {
    const length = Math.min(chunkSize, size - position);
    const piece = await source.read(position, length);
    check = crc327(piece, check);
    const last = position + length >= size;
    if (!last) {
      yield { weight: 1, value: () => [piece] };
      continue;
    }
    await source.assertEnd();
    if (check !== crc) {
      throw source.changed("its content differs from the first pass that computed its CRC-32");
    }
    yield { weight: 1, value: () => [piece], onEmit: () => entryDone(ctx, record) };
  }
}
async function* deflatedFileTasks(ctx, record, source) {
  const { chunkSize, level } = ctx.options;
  const size = source.size;
  const pieces = Math.ceil(size / chunkSize);
  record.method = METHOD_DEFLATED;
  record.dataDescriptor = true;
  record.uncompressedSize = size;
  record.compressedSize = 0;
  record.zip64Local = ctx.options.forceZip64 || deflateBound(size, pieces) >= MAX_UINT32;
  yield localHeaderTask(record);
  const window = new DictionaryWindow();
  let crc = 0;
  for (let position = 0; position < size; position += chunkSize) {
    const length = Math.min(chunkSize, size - position);
    const piece = await source.read(position, length);
    const final = position + length >= size;
    if (final) await source.assertEnd();
    crc = crc327(piece, crc);
    const job = deflatePiece(piece, level, window.current, final).then((compressed) => {
      record.compressedSize += compressed.length;
      return [compressed];
    });
    window.push(piece);
    yield { weight: 1, value: job };
  }
  record.crc32 = crc;
  yield {
    weight: 0,
    value: () => {
      if (!record.zip64Local && record.compressedSize >= MAX_UINT32) {
        throw new FerryError(
          "ERR_FERRY_INTEGRITY",
          `Deflated data of ${printable(record.name)} reached 4 GiB without a zip64 header`
        );
      }
      return [dataDescriptor(record)];
    },
    onEmit: () => entryDone(ctx, record)
  };
}
async function* fileTasks(ctx, input) {
  const source = await EntrySource.open(
    input.sourcePath,
    input.name,
    ctx.signal,
    ctx.files,
    ctx.options.secretScan?.file(input.name)
  );
  try {
    const record = newRecord(ctx, input, source.mtime);
    yield* sourceTasks(ctx, record, source, (length) => source.read(0, length), storedFileTasks);
  } finally {
    await source.close();
  }
}
async function* sourceTasks(ctx, record, source, sample2, stored) {
  const size = source.size;
  const storeOnly = ctx.options.level === 0 || isAlreadyCompressed(source.name);
  if (size <= ctx.wholeFileLimit) {
    const data = size === 0 ? EMPTY2 : await source.read(0, size);
    await source.assertEnd();
    await source.close();
    yield storeOnly || size === 0 ? storedBufferTask(ctx, record, data) : smallFileTask(ctx, record, data);
    return;
  }
  const deflate = !storeOnly && await sampleIsCompressible(await sample2(Math.min(SAMPLE_SIZE2, size)));
  if (deflate) yield* deflatedFileTasks(ctx, record, source);
  else yield* stored(ctx, record, source);
}
async function* storedStreamTasks(ctx, record, source) {
  const { chunkSize } = ctx.options;
  const size = source.size;
  record.method = METHOD_STORED;
  record.crc32 = source.crc32;
  record.uncompressedSize = size;
  record.compressedSize = size;
  record.zip64Local = ctx.options.forceZip64 || size >= MAX_UINT32;
  yield localHeaderTask(record);
  for (let position = 0; position < size; position += chunkSize) {
    const length = Math.min(chunkSize, size - position);
    const piece = await source.read(position, length);
    if (position + length < size) {
      yield { weight: 1, value: () => [piece] };
      continue;
    }
    await source.assertEnd();
    yield { weight: 1, value: () => [piece], onEmit: () => entryDone(ctx, record) };
  }
}
async function* streamTasks(ctx, input) {
  const source = await StreamSource.open(input, ctx.signal, ctx.files);
  try {
    const record = newRecord(ctx, input, input.mtime ?? ctx.now);
    yield* sourceTasks(ctx, record, source, (length) => source.peek(length), storedStreamTasks);
  } finally {
    await source.close();
  }
}

// src/pack/zip-writer/zip-stream.ts
var READ_AHEAD = 8;
async function prefetchSmallFile(ctx, input) {
  if (ctx.signal.aborted) throw new AbortError(ctx.signal.reason, { file: input.name });
  const small = readSmallFileSync(
    input.sourcePath,
    input.name,
    ctx.wholeFileLimit,
    ctx.files,
    ctx.options.secretScan?.file(input.name)
  );
  return small === void 0 ? { kind: "large" } : { kind: "small", data: small.data, mtime: small.mtime };
}
async function* produceTasks(ctx, inputs) {
  const prefetched = /* @__PURE__ */ new Map();
  const startPrefetch = (from) => {
    for (let i = from; i < Math.min(inputs.length, from + READ_AHEAD); i++) {
      const input = inputs[i];
      if (input.kind !== "file" || prefetched.has(i)) continue;
      const pending = prefetchSmallFile(ctx, input);
      pending.catch(() => void 0);
      prefetched.set(i, pending);
    }
  };
  for (const [index, input] of inputs.entries()) {
    if (ctx.signal.aborted) throw new AbortError(ctx.signal.reason);
    switch (input.kind) {
      case "file": {
        startPrefetch(index);
        const ahead = await prefetched.get(index);
        prefetched.delete(index);
        if (ahead.kind === "large") {
          yield* fileTasks(ctx, input);
          break;
        }
        const record = newRecord(ctx, input, ahead.mtime);
        const storeOnly = ctx.options.level === 0 || isAlreadyCompressed(input.name);
        yield storeOnly || ahead.data.length === 0 ? storedBufferTask(ctx, record, ahead.data) : smallFileTask(ctx, record, ahead.data);
        break;
      }
      case "stream":
        yield* streamTasks(ctx, input);
        break;
      case "directory":
        yield storedBufferTask(ctx, newRecord(ctx, input, ctx.now), EMPTY2);
        break;
      case "symlink":
        yield storedBufferTask(ctx, newRecord(ctx, input, ctx.now), input.target);
        break;
    }
  }
}
async function* zipBytes(ctx, inputs) {
  yield* emitInOrder(produceTasks(ctx, inputs), {
    limit: ctx.options.concurrency,
    maxQueued: MAX_QUEUED_TASKS,
    signal: ctx.signal,
    counters: ctx.counters
  });
  const centralDirectoryOffset = ctx.counters.bytesEmitted;
  const { centralDirectory } = ctx;
  for (const block of centralDirectory.drain()) {
    ctx.counters.bytesEmitted += block.length;
    yield block;
  }
  const end = endOfCentralDirectory({
    entries: centralDirectory.entries,
    centralDirectoryOffset,
    centralDirectorySize: centralDirectory.size,
    forceZip64: ctx.options.forceZip64
  });
  ctx.counters.bytesEmitted += end.length;
  yield end;
}
function toError2(error2) {
  return error2 instanceof Error || types3.isNativeError(error2) ? error2 : new Error(String(error2));
}
var ZipReadable = class extends Readable2 {
  #source;
  #controller;
  #pumping = false;
  #wanted = false;
  constructor(source, controller, highWaterMark) {
    super({ highWaterMark });
    this.#source = source;
    this.#controller = controller;
  }
  _read() {
    this.#wanted = true;
    if (!this.#pumping) void this.#pump();
  }
  async #pump() {
    this.#pumping = true;
    try {
      while (this.#wanted && !this.destroyed) {
        const next = await this.#source.next();
        if (this.destroyed) return;
        if (next.done === true) {
          this.push(null);
          return;
        }
        this.#wanted = false;
        if (this.push(next.value)) this.#wanted = true;
      }
    } catch (error2) {
      this.destroy(toError2(error2));
    } finally {
      this.#pumping = false;
    }
  }
  _destroy(error2, callback) {
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(error2 ?? new AbortError("The zip stream was destroyed"));
    }
    this.#source.return(void 0).then(
      () => callback(error2),
      (closeError) => callback(error2 ?? toError2(closeError))
    );
  }
};
var STATS = /* @__PURE__ */ new WeakMap();
function createZipStream(inputs, options) {
  const normalized = normalizeZipWriterOptions(options);
  const prepared2 = prepareInputs(inputs);
  const controller = new AbortController();
  const stats = {
    piecesInFlight: 0,
    maxPiecesInFlight: 0,
    openFiles: 0,
    maxOpenFiles: 0,
    bytesEmitted: 0,
    entriesWritten: 0
  };
  const ctx = {
    options: normalized,
    signal: controller.signal,
    now: /* @__PURE__ */ new Date(),
    wholeFileLimit: Math.min(SAMPLE_SIZE2, normalized.chunkSize),
    centralDirectory: new CentralDirectory(CENTRAL_DIRECTORY_BATCH, normalized.forceZip64),
    files: stats,
    counters: stats,
    stats
  };
  const stream = new ZipReadable(zipBytes(ctx, prepared2), controller, normalized.chunkSize);
  STATS.set(stream, stats);
  const signal = normalized.signal;
  if (signal !== void 0) {
    const onAbort = () => {
      stream.destroy(new AbortError(signal.reason));
    };
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener("abort", onAbort, { once: true });
      stream.once("close", () => signal.removeEventListener("abort", onAbort));
    }
  }
  return stream;
}

// src/backends/results/blob-upload.ts
import { createHash as createHash5 } from "node:crypto";

// src/backends/results/blob-urls.ts
function withQuery(signedUrl, params) {
  const extra = Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  const hashAt = signedUrl.indexOf("#");
  const base = hashAt === -1 ? signedUrl : signedUrl.slice(0, hashAt);
  return `${base}${base.includes("?") ? "&" : "?"}${extra}`;
}
function blockId(index) {
  return Buffer.from(`ferry-block-${String(index).padStart(10, "0")}`).toString("base64");
}
function blockListXml(ids) {
  return `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join("")}</BlockList>`;
}
var AZURE_VERSION = "2024-11-04";

// src/backends/results/blob-upload.ts
var DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;
var CHECKSUM_MISMATCH = /* @__PURE__ */ new Set(["Md5Mismatch", "Crc64Mismatch"]);
async function uploadBlob(signedUrl, source, options) {
  const started = Date.now();
  const first = await stageAll(signedUrl, source, options, started);
  if (await commit(signedUrl, first.ids, options, started) === "committed") {
    return { size: first.size, sha256: first.sha256, blocks: first.ids.length };
  }
  if (!options.reopen) throw invalidBlockList(options.context, false);
  const again = await stageAll(signedUrl, await options.reopen(), options, started);
  if (again.size !== first.size || again.sha256 !== first.sha256) {
    throw new FerryError(
      "ERR_FERRY_SOURCE_CHANGED",
      `The store lost a staged block (InvalidBlockList) and the files changed before they could be staged again (${first.size} bytes sha256:${first.sha256} before, ${again.size} bytes sha256:${again.sha256} now); nothing was committed`,
      { context: options.context }
    );
  }
  if (await commit(signedUrl, again.ids, options, started) === "committed") {
    return { size: again.size, sha256: again.sha256, blocks: again.ids.length };
  }
  throw invalidBlockList(options.context, true);
}
async function stageAll(signedUrl, source, options, started) {
  const { http: http5, operation } = options;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const hash = createHash5("sha256");
  const ids = [];
  const freeSlots = Array.from({ length: http5.slots }, (_, i) => i);
  const inFlight = /* @__PURE__ */ new Set();
  const spare = [];
  let firstError;
  let staged = 0;
  let size = 0;
  const stage2 = (block, index2) => {
    const slot = freeSlots.pop();
    const id = blockId(index2);
    ids.push(id);
    const url = withQuery(signedUrl, { comp: "block", blockid: id });
    const task = http5.request(
      {
        slot,
        phase: "transfer",
        method: "PUT",
        url,
        headers: {
          "content-type": "application/octet-stream",
          "content-md5": md5Base64(block),
          "x-ms-version": AZURE_VERSION
        },
        body: block,
        // 400 is read here: Md5Mismatch means the bytes were damaged on the way and is retried.
        okStatuses: [400],
        describeFailure: (status, message) => refusedUrl(status, message, started),
        operation,
        context: options.context
      },
      (res) => acceptBlock(res, index2, url, options.context)
    ).then(() => {
      staged += block.length;
      options.onBytes?.(staged);
      if (block.length === blockSize) spare.push(block);
    }).catch((error2) => {
      firstError ??= error2;
    }).finally(() => {
      freeSlots.push(slot);
      inFlight.delete(task);
    });
    inFlight.add(task);
  };
  const waitForSlot = async () => {
    while (freeSlots.length === 0) await Promise.race(inFlight);
    if (firstError !== void 0) throw firstError;
    operation.throwIfStopped();
  };
  let buffer = Buffer.allocUnsafe(blockSize);
  let filled = 0;
  let index = 0;
  try {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(blockSize - filled, chunk.length - offset);
        chunk.copy(buffer, filled, offset, offset + take);
        filled += take;
        offset += take;
        if (filled === blockSize) {
          await waitForSlot();
          stage2(buffer, index++);
          buffer = spare.pop() ?? Buffer.allocUnsafe(blockSize);
          filled = 0;
        }
      }
    }
    if (filled > 0) {
      await waitForSlot();
      stage2(buffer.subarray(0, filled), index++);
    }
    await Promise.all(inFlight);
  } catch (error2) {
    source.destroy();
    await Promise.allSettled(inFlight);
    throw firstError ?? error2;
  }
  if (firstError !== void 0) throw firstError;
  if (staged !== size) {
    throw new FerryError("ERR_FERRY_PROTOCOL", `Staged ${staged} bytes but read ${size}`, {
      context: options.context
    });
  }
  return { ids, size, sha256: hash.digest("hex") };
}
async function commit(signedUrl, ids, options, started) {
  const url = withQuery(signedUrl, { comp: "blocklist" });
  return options.http.request(
    {
      slot: 0,
      phase: "transfer",
      method: "PUT",
      url,
      headers: {
        "content-type": "application/xml; charset=utf-8",
        "x-ms-blob-content-type": options.contentType,
        "x-ms-version": AZURE_VERSION
      },
      body: blockListXml(ids),
      okStatuses: [400],
      describeFailure: (status, message) => refusedUrl(status, message, started),
      operation: options.operation,
      context: options.context
    },
    async (res) => {
      if (res.statusCode !== 400) {
        await discardBody(res);
        return "committed";
      }
      const error2 = await blobError(res);
      if (error2.code === "InvalidBlockList") return "invalid-block-list";
      throw badRequest(url, error2, options.context);
    }
  );
}
async function acceptBlock(res, index, url, context) {
  if (res.statusCode !== 400) {
    await discardBody(res);
    return;
  }
  const error2 = await blobError(res);
  if (isChecksumMismatch(error2)) {
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `Block ${index} arrived corrupted: the blob store computed a different checksum (${[error2.code, error2.message].filter(Boolean).join(": ")}); sending it again`,
      { retryable: true, context: { ...context, status: 400 } }
    );
  }
  throw badRequest(url, error2, context);
}
function isChecksumMismatch(error2) {
  if (error2.code !== void 0 && CHECKSUM_MISMATCH.has(error2.code)) return true;
  return /\b(content-?md5|md5|crc64)\b.*\b(doesn'?t|does not|did not) match/i.test(error2.message ?? "");
}
async function blobError(res) {
  const body = (await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString("utf8");
  const header4 = res.headers["x-ms-error-code"];
  const code = typeof header4 === "string" ? header4 : /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1] ?? void 0;
  return { code, message: extractErrorMessage(body), body };
}
function badRequest(url, error2, context) {
  const detail = [error2.code, error2.message?.slice(0, 200)].filter(Boolean).join(": ");
  return new HttpError(
    "ERR_FERRY_HTTP",
    `Request failed with status code 400: PUT ${urlWithoutQuery(url)}${detail ? `: ${detail}` : ""}`,
    400,
    error2.body,
    { context: { ...context, method: "PUT", status: 400 } }
  );
}
function refusedUrl(status, message, started) {
  if (status !== 403) return void 0;
  const elapsed = ((Date.now() - started) / 1e3).toFixed(1);
  return {
    code: "ERR_FERRY_UNAUTHORIZED",
    message: `The blob store refused the signed upload URL ${elapsed} s after it was issued${message ? ` (${message})` : ""}; it has most likely expired. An upload URL cannot be renewed: nothing was finalized, start the upload again`
  };
}
function invalidBlockList(context, restaged) {
  return new FerryError(
    "ERR_FERRY_PROTOCOL",
    restaged ? "The blob store rejected the block list (InvalidBlockList) again after every block was staged a second time; nothing was finalized" : "The blob store rejected the block list (InvalidBlockList: a staged block is missing) and the source cannot be read again; nothing was finalized",
    { context }
  );
}

// src/backends/results/mime.ts
import path16 from "node:path";
var TYPES = {
  ".txt": "text/plain",
  ".log": "text/plain",
  ".md": "text/markdown",
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".csv": "text/csv",
  ".xml": "application/xml",
  ".js": "application/javascript",
  ".mjs": "application/javascript",
  ".json": "application/json",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tgz": "application/gzip",
  ".tar": "application/x-tar",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".webp": "image/webp",
  ".wasm": "application/wasm"
};
function mimeTypeFor(fileName) {
  return TYPES[path16.extname(fileName).toLowerCase()] ?? "application/octet-stream";
}

// src/backends/results/upload.ts
async function uploadResults(config, spec, ctx) {
  const archive = spec.archive ?? true;
  if (!archive && spec.files.length !== 1) {
    throw new FerryError(
      "ERR_FERRY_INVALID_PATH",
      `Uploading without an archive takes exactly one file; got ${spec.files.length}`,
      {
        context: { operation: "upload", artifactName: spec.name }
      }
    );
  }
  const single = spec.files[0];
  const name = archive || !single ? spec.name : path17.posix.basename(single.artifactPath);
  return send(
    config,
    {
      name,
      contentType: archive || !single ? "application/zip" : mimeTypeFor(single.artifactPath),
      retentionDays: spec.retentionDays,
      overwrite: spec.overwrite ?? false,
      totalOriginal: sumSizes(spec),
      fileCount: spec.files.length,
      replayable: true,
      open: async (onEntry) => archive ? createZipStream(zipInputs(spec), {
        level: spec.compressionLevel,
        signal: ctx.operation.signal,
        onEntry: checkListedSizes(spec, onEntry),
        ...spec.secretScan ? { secretScan: spec.secretScan } : {}
      }) : scanned(
        spec,
        exactlyListedSize(
          single,
          // One byte past the listed size is enough to see that the file grew.
          createReadStream(single.absolutePath, {
            highWaterMark: 1024 * 1024,
            end: single.size
          })
        )
      )
    },
    ctx
  );
}
async function uploadResultsStream(config, name, inputs, options, ctx) {
  let totalOriginal = 0;
  let fileCount = 0;
  for (const input of inputs) {
    if (input.kind === "directory") continue;
    fileCount++;
    if (input.kind === "stream") totalOriginal += input.size;
    else if (input.kind === "file") totalOriginal += (await stat8(input.sourcePath)).size;
  }
  let onEntryHook;
  const zip = createZipStream(inputs, {
    level: options.compressionLevel,
    signal: ctx.operation.signal,
    onEntry: () => onEntryHook?.()
  });
  try {
    return await send(
      config,
      {
        name,
        contentType: "application/zip",
        retentionDays: options.retentionDays,
        overwrite: options.overwrite ?? false,
        totalOriginal,
        fileCount,
        open: (onEntry) => {
          onEntryHook = onEntry;
          return Promise.resolve(zip);
        }
      },
      ctx
    );
  } finally {
    if (!zip.destroyed) zip.destroy();
  }
}
async function send(config, upload, ctx) {
  const { name, contentType } = upload;
  const context = { operation: "upload", artifactName: name };
  const service = new ArtifactService2(config, ctx);
  if (upload.overwrite) await service.deleteIfPresent(name);
  const signedUrl = await service.create(name, contentType, upload.retentionDays, context);
  try {
    return await transferAndFinalize(upload, signedUrl, service, ctx, context);
  } catch (error2) {
    await service.abandon(name, context);
    throw error2;
  }
}
async function transferAndFinalize(upload, signedUrl, service, ctx, context) {
  const { name, contentType, totalOriginal, fileCount } = upload;
  let filesDone = 0;
  const source = await upload.open(() => {
    filesDone++;
  });
  const blob = await uploadBlob(signedUrl, source, {
    http: ctx.http,
    operation: ctx.operation,
    context,
    contentType,
    reopen: upload.replayable ? () => upload.open(() => void 0) : void 0,
    onBytes: (staged) => ctx.onProgress?.({
      operation: "upload",
      artifactName: name,
      phase: "transfer",
      bytesDone: Math.min(staged, totalOriginal),
      bytesTotal: totalOriginal,
      filesDone,
      filesTotal: fileCount
    })
  });
  ctx.onProgress?.({
    operation: "upload",
    artifactName: name,
    phase: "finalize",
    bytesDone: totalOriginal,
    bytesTotal: totalOriginal,
    filesDone: fileCount,
    filesTotal: fileCount
  });
  const digest2 = `sha256:${blob.sha256}`;
  if (blob.size === 0) ctx.logger.warn(`Artifact '${name}' is empty: no data was uploaded`);
  const id = await service.finalize(name, blob.size, digest2, context);
  return { id, uploadedBytes: blob.size, size: totalOriginal, fileCount, digest: digest2 };
}
function exactlyListedSize(file, source) {
  let seen = 0;
  const changed = () => sourceChanged(file, `${seen > file.size ? "more" : seen} when read`, { file: file.artifactPath });
  const check = new Transform3({
    transform(chunk, _encoding, done) {
      seen += chunk.length;
      done(seen > file.size ? changed() : null, chunk);
    },
    flush(done) {
      done(seen === file.size ? null : changed());
    }
  });
  source.once("error", (error2) => check.destroy(error2));
  return source.pipe(check);
}
function scanned(spec, source) {
  const file = spec.files[0];
  return spec.secretScan && file ? spec.secretScan.file(file.artifactPath).stream(source) : source;
}
function checkListedSizes(spec, next) {
  const files = spec.files;
  let cursor = 0;
  return (info2) => {
    const file = files[cursor];
    if (file !== void 0 && file.artifactPath === info2.name) {
      cursor++;
      if (file.symlinkTarget === void 0 && file.size !== info2.uncompressedSize) {
        throw sourceChanged(file, `${info2.uncompressedSize} when read`, { file: file.artifactPath });
      }
    }
    next();
  };
}
function sumSizes(spec) {
  return spec.files.reduce((total, f) => total + f.size, 0);
}
function storedMode(mode, spec) {
  if (spec.preservePermissions ?? true) return mode & 511;
  return mode & 73 ? 493 : 420;
}
function zipInputs(spec) {
  const inputs = spec.files.map(
    (file) => file.symlinkTarget !== void 0 ? { kind: "symlink", name: file.artifactPath, target: file.symlinkTarget } : {
      kind: "file",
      sourcePath: file.absolutePath,
      name: file.artifactPath,
      mode: storedMode(file.mode, spec)
    }
  );
  for (const dir of spec.emptyDirectories ?? []) inputs.push({ kind: "directory", name: dir });
  return inputs;
}

// src/backends/results/results-backend.ts
var ResultsBackend = class {
  constructor(config, tempDir) {
    this.config = config;
    this.tempDir = tempDir;
  }
  config;
  tempDir;
  kind = "results";
  upload(spec, ctx) {
    return uploadResults(this.config, spec, ctx);
  }
  /** Uploads a zip of `inputs` with the same create → blob upload → finalize as {@link upload}. */
  uploadStream(name, inputs, options, ctx) {
    return uploadResultsStream(this.config, name, inputs, options, ctx);
  }
  async download(spec, ctx) {
    const context = { operation: "download", artifactName: spec.name };
    const signed = await new ArtifactService2(this.config, ctx).signedDownload(spec, context);
    return downloadSignedArtifact(
      signed.url,
      signed.name,
      signed.expectedHex,
      spec,
      this.tempDir,
      ctx,
      context,
      signed.refresh,
      signed.listedSize
    );
  }
  /**
   * Downloads artifact `name` (or id `id`, the newest of the name otherwise) to a temporary file
   * and verifies its digest, without extracting it. The caller disposes of the file.
   */
  async downloadVerified(spec, ctx) {
    const context = { operation: "download", artifactName: spec.name };
    const signed = await new ArtifactService2(this.config, ctx).signedDownload(spec, context);
    return fetchVerifiedBlob(
      signed.url,
      signed.name,
      signed.expectedHex,
      this.tempDir,
      ctx,
      context,
      true,
      signed.refresh,
      signed.listedSize
    );
  }
  async list(ctx, options = {}) {
    const artifacts = (await new ArtifactService2(this.config, ctx).list({}, { operation: "list" })).map(
      toInfo2
    );
    return options.latest ? latestPerName(artifacts) : artifacts;
  }
  async get(name, ctx) {
    const listed = await new ArtifactService2(this.config, ctx).list(
      { name_filter: name },
      { operation: "get", artifactName: name }
    );
    const artifact = latestPerName(listed.map(toInfo2)).find((a) => a.name === name);
    if (!artifact) throw notFound(name, "get");
    return artifact;
  }
  storageOrigin(ctx) {
    return new ArtifactService2(this.config, ctx).storageOrigin({ operation: "doctor" });
  }
  delete(name, ctx) {
    return new ArtifactService2(this.config, ctx).delete(name, { operation: "delete", artifactName: name });
  }
};

// src/backends/rest/artifact-service.ts
var MAX_ARTIFACTS = 1e3;
var PER_PAGE = 100;
function restActionsBase(findBy) {
  const api = (findBy.apiUrl ?? "https://api.github.com").replace(/\/+$/, "");
  const [owner, repo] = findBy.repository.split("/");
  return `${api}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions`;
}
var REST_HEADERS = { accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" };
async function listRunArtifacts(findBy, ctx, name) {
  const out = [];
  for (let page = 1; out.length < MAX_ARTIFACTS; page++) {
    const query = new URLSearchParams({
      per_page: String(PER_PAGE),
      page: String(page),
      ...name ? { name } : {}
    });
    const body = await ctx.http.request(
      {
        slot: 0,
        method: "GET",
        url: `${restActionsBase(findBy)}/runs/${findBy.runId}/artifacts?${query}`,
        headers: REST_HEADERS,
        bearer: findBy.token,
        rememberAnswers: true,
        operation: ctx.operation,
        context: { operation: "list", ...name ? { artifactName: name } : {} }
      },
      (res) => readJson(res, {
        maxBytes: ctx.http.maxResponseBytes,
        call: "list run artifacts",
        stall: ctx.http.stallPolicy
      })
    );
    const artifacts = Array.isArray(body.artifacts) ? body.artifacts : [];
    for (const a of artifacts) {
      out.push({
        name: a.name,
        id: toSafeId(a.id),
        size: listedSize(a.size_in_bytes) ?? 0,
        createdAt: a.created_at,
        digest: a.digest ?? void 0
      });
    }
    if (artifacts.length < PER_PAGE || out.length >= Math.min(body.total_count ?? 0, MAX_ARTIFACTS)) break;
  }
  return out.slice(0, MAX_ARTIFACTS);
}
async function signedRunArtifact(findBy, spec, ctx, context) {
  const candidates = await listRunArtifacts(findBy, ctx, spec.id === void 0 ? spec.name : void 0);
  const artifact = spec.id !== void 0 ? candidates.find((a) => a.id === spec.id) : latestPerName(candidates.filter((a) => a.name === spec.name))[0];
  if (!artifact?.id) {
    throw new FerryError(
      "ERR_FERRY_NOT_FOUND",
      `No artifact ${spec.id !== void 0 ? `#${spec.id}` : `named '${spec.name}'`} in run ${findBy.runId} of ${findBy.repository}`,
      { context }
    );
  }
  const url = await ctx.http.request(
    {
      slot: 0,
      method: "GET",
      url: `${restActionsBase(findBy)}/artifacts/${artifact.id}/zip`,
      headers: REST_HEADERS,
      bearer: findBy.token,
      rememberAnswers: true,
      redirect: "manual",
      okStatuses: [301, 302, 303, 307, 308],
      operation: ctx.operation,
      context
    },
    async (res) => {
      await discardBody(res);
      const value = res.headers["location"];
      if (!value || (res.statusCode ?? 0) < 300) {
        throw new FerryError(
          "ERR_FERRY_PROTOCOL",
          `Expected a redirect to the artifact's signed URL, got HTTP ${res.statusCode}`,
          { context }
        );
      }
      const signed = parseServerUrl(
        value,
        "the artifact's signed URL",
        context,
        new URL(`${restActionsBase(findBy)}/`)
      );
      return checkSignedUrl(signed.toString(), restActionsBase(findBy), "the artifact's signed URL", context);
    }
  );
  return { artifact, url };
}
async function findRunArtifact(findBy, name, ctx, operation) {
  const artifact = latestPerName(
    (await listRunArtifacts(findBy, ctx, name)).filter((a) => a.name === name)
  )[0];
  if (!artifact) throw runArtifactNotFound(findBy, name, operation);
  return artifact;
}
function runArtifactNotFound(findBy, name, operation) {
  return new FerryError(
    "ERR_FERRY_NOT_FOUND",
    `No artifact named '${name}' in run ${findBy.runId} of ${findBy.repository}`,
    { context: { operation, artifactName: name } }
  );
}
async function deleteRunArtifact(findBy, name, ctx) {
  const artifact = await findRunArtifact(findBy, name, ctx, "delete");
  if (!artifact.id) throw runArtifactNotFound(findBy, name, "delete");
  await ctx.http.request(
    {
      slot: 0,
      method: "DELETE",
      url: `${restActionsBase(findBy)}/artifacts/${artifact.id}`,
      headers: REST_HEADERS,
      bearer: findBy.token,
      rememberAnswers: true,
      operation: ctx.operation,
      context: { operation: "delete", artifactName: name }
    },
    discardBody
  );
  return artifact.id;
}

// src/backends/rest/latest-run.ts
var MAX_RUNS_SEARCHED = 30;
async function resolveFindByRun(findBy, name, ctx) {
  if (findBy.runId !== void 0) return findBy;
  const conclusion = findBy.conclusion ?? "success";
  const query = new URLSearchParams({
    per_page: String(MAX_RUNS_SEARCHED),
    ...findBy.branch ? { branch: findBy.branch } : {},
    ...findBy.event ? { event: findBy.event } : {},
    // GitHub's `status` filter takes a conclusion too; `any` asks for every completed run.
    ...conclusion === "any" ? { status: "completed" } : { status: conclusion }
  });
  const scope = findBy.workflow ? `/workflows/${encodeURIComponent(findBy.workflow)}` : "";
  const body = await ctx.http.request(
    {
      slot: 0,
      method: "GET",
      url: `${restActionsBase(findBy)}${scope}/runs?${query}`,
      headers: REST_HEADERS,
      bearer: findBy.token,
      rememberAnswers: true,
      operation: ctx.operation,
      context: { operation: "find run", ...name ? { artifactName: name } : {} }
    },
    (res) => readJson(res, {
      maxBytes: ctx.http.maxResponseBytes,
      call: "list workflow runs",
      stall: ctx.http.stallPolicy
    })
  );
  const runs = (Array.isArray(body.workflow_runs) ? body.workflow_runs : []).filter((run) => typeof run.id === "number" || typeof run.id === "string" && run.id !== "").filter((run) => conclusion === "any" || run.conclusion === conclusion).filter((run) => !findBy.branch || run.head_branch === findBy.branch).slice(0, MAX_RUNS_SEARCHED);
  for (const run of runs) {
    const candidate = { ...findBy, runId: run.id };
    if (name === void 0) return candidate;
    const artifacts = await listRunArtifacts(candidate, ctx, name);
    if (artifacts.some((a) => a.name === name)) return candidate;
  }
  throw new FerryError("ERR_FERRY_NOT_FOUND", noRunMessage(findBy, conclusion, name, runs.length), {
    context: { operation: "find run", ...name ? { artifactName: name } : {} }
  });
}
function noRunMessage(findBy, conclusion, name, searched) {
  const what = [
    findBy.workflow ? `workflow ${findBy.workflow}` : "any workflow",
    findBy.branch ? `on branch ${findBy.branch}` : void 0,
    findBy.event ? `triggered by ${findBy.event}` : void 0,
    conclusion === "any" ? "completed" : `with conclusion ${conclusion}`
  ].filter(Boolean).join(" ");
  if (searched === 0) return `No run of ${what} in ${findBy.repository}`;
  return `None of the ${searched} newest runs of ${what} in ${findBy.repository} has an artifact named '${name ?? ""}'`;
}

// src/backends/rest/rest-backend.ts
var RestBackend = class {
  constructor(findBy, tempDir) {
    this.findBy = findBy;
    this.tempDir = tempDir;
    if (findBy.runId !== void 0) this.#run = findBy;
  }
  findBy;
  tempDir;
  kind = "rest";
  /** The run once known: given as runId, or found by the selectors at the first call. */
  #run;
  /**
   * The run every call of this operation uses: with selectors (workflow, branch, ...), the newest
   * matching run that has `name` (any matching run when no name is known yet), found once, so a
   * batch reads all its artifacts from one run.
   */
  async #resolve(name, ctx) {
    this.#run ??= await resolveFindByRun(this.findBy, name, ctx);
    return this.#run;
  }
  upload(spec) {
    return Promise.reject(
      new FerryError(
        "ERR_FERRY_CONFIG",
        `Cannot upload '${spec.name}' with findBy: the REST API reads and deletes another run's artifacts; uploads go to the current run`,
        { context: { operation: "upload", artifactName: spec.name } }
      )
    );
  }
  /** id or newest of `name` → 302 to a signed URL → verify → extract. */
  async download(spec, ctx) {
    const context = { operation: "download", artifactName: spec.name };
    const { artifact, url } = await signedRunArtifact(
      await this.#resolve(spec.id === void 0 ? spec.name : void 0, ctx),
      spec,
      ctx,
      context
    );
    return downloadSignedArtifact(
      url,
      artifact.name,
      normalizeDigest(artifact.digest),
      spec,
      this.tempDir,
      ctx,
      context,
      void 0,
      // size_in_bytes is the zip's size; 0 may mean "not known", so it bounds nothing.
      artifact.size > 0 ? artifact.size : void 0
    );
  }
  async list(ctx, options = {}) {
    const all = await listRunArtifacts(await this.#resolve(void 0, ctx), ctx);
    return options.latest ? latestPerName(all) : all;
  }
  async get(name, ctx) {
    return findRunArtifact(await this.#resolve(name, ctx), name, ctx, "get");
  }
  async delete(name, ctx) {
    return deleteRunArtifact(await this.#resolve(name, ctx), name, ctx);
  }
};

// src/backends/results/token.ts
function backendIdsFromToken(token) {
  if (!token) return void 0;
  const payload = token.split(".")[1];
  if (!payload) return void 0;
  let claims;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return void 0;
  }
  const scp = claims?.scp;
  if (typeof scp !== "string") return void 0;
  for (const scope of scp.split(" ")) {
    const parts = scope.split(":");
    if (parts[0] !== "Actions.Results") continue;
    if (parts.length !== 3 || !parts[1] || !parts[2]) return void 0;
    return { workflowRunBackendId: parts[1], workflowJobRunBackendId: parts[2] };
  }
  return void 0;
}
function requireBackendIds(token) {
  const ids = backendIdsFromToken(token);
  if (!ids) {
    throw new FerryError(
      "ERR_FERRY_CONFIG",
      "The runtime token (ACTIONS_RUNTIME_TOKEN) has no Actions.Results:<run>:<job> scope, so the results protocol cannot be used"
    );
  }
  return ids;
}

// src/options.ts
import os5 from "node:os";
import path18 from "node:path";

// src/core/types.ts
var silentLogger = {
  debug() {
  },
  info() {
  },
  warn() {
  },
  error() {
  }
};

// src/cache/options.ts
var DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600;
var DEFAULT_MAX_ENTRIES = 1e4;
var LOW_WATER_RATIO = 0.8;
function positiveInteger(name, value) {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `Option 'cache.${name}' must be a positive integer, got ${String(value)}`,
      { option: `cache.${name}` }
    );
  }
  return value;
}
function normalizeCacheOptions(options) {
  if (typeof options.path !== "string" || options.path === "") {
    throw new ValidationError("ERR_FERRY_INVALID_OPTION", "Option 'cache.path' must be a non-empty path", {
      option: "cache.path"
    });
  }
  const maxBytes = positiveInteger("maxBytes", options.maxBytes);
  const lowWaterBytes = options.lowWaterBytes === void 0 ? Math.floor(maxBytes * LOW_WATER_RATIO) : positiveInteger("lowWaterBytes", options.lowWaterBytes);
  if (lowWaterBytes > maxBytes) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `Option 'cache.lowWaterBytes' (${lowWaterBytes}) must not exceed cache.maxBytes (${maxBytes})`,
      { option: "cache.lowWaterBytes" }
    );
  }
  const maxAgeSeconds = positiveInteger("maxAgeSeconds", options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS);
  const maxEntries = positiveInteger("maxEntries", options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  return {
    path: options.path,
    maxBytes,
    lowWaterBytes,
    maxAgeMs: maxAgeSeconds * 1e3,
    maxEntries,
    lowWaterEntries: Math.max(1, Math.floor(maxEntries * LOW_WATER_RATIO))
  };
}

// src/options.ts
var DEFAULT_CONCURRENCY = 8;
var DEFAULT_LEGACY_CHUNK_SIZE = 4 * 1024 * 1024;
var MAX_CHUNK_SIZE2 = 256 * 1024 * 1024;
var MAX_RETENTION_DAYS = 400;
var MAX_RESPONSE_BYTES_LIMIT = 1024 * 1024 * 1024;
var KNOWN_KEYS = /* @__PURE__ */ new Set([
  "backend",
  "runtimeUrl",
  "resultsUrl",
  "runtimeToken",
  "runId",
  "localStore",
  "concurrency",
  "chunkSize",
  "compressionLevel",
  "retentionDays",
  "proxy",
  "timeoutMs",
  "minBytesPerSecond",
  "stallWindowMs",
  "retry",
  "tempDir",
  "maxResponseBytes",
  "trustedOrigins",
  "logger",
  "onProgress",
  "signal",
  "cache",
  "onStats",
  "rateLimitWaitSeconds"
]);
function normalizeOptions(options = {}, extraKeys = []) {
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key) && !extraKeys.includes(key)) {
      throw invalid2(key, `is not a known option`);
    }
  }
  const backend = options.backend ?? "auto";
  if (!["auto", "legacy", "results", "local"].includes(backend)) {
    throw invalid2("backend", `must be one of auto, legacy, results, local; got ${JSON.stringify(backend)}`);
  }
  return {
    backend,
    runtimeUrl: optionalUrl("runtimeUrl", options.runtimeUrl),
    resultsUrl: optionalUrl("resultsUrl", options.resultsUrl),
    runtimeToken: optionalString("runtimeToken", options.runtimeToken, false),
    runId: optionalString("runId", options.runId),
    localStore: path18.resolve(
      optionalString("localStore", options.localStore) ?? path18.join(os5.homedir(), ".ferry", "store")
    ),
    concurrency: integer("concurrency", options.concurrency, DEFAULT_CONCURRENCY, 1, 256),
    chunkSize: integer("chunkSize", options.chunkSize, DEFAULT_LEGACY_CHUNK_SIZE, 1, MAX_CHUNK_SIZE2),
    compressionLevel: integer("compressionLevel", options.compressionLevel, 6, 0, 9),
    retentionDays: options.retentionDays === void 0 || options.retentionDays === 0 ? void 0 : integer("retentionDays", options.retentionDays, 0, 1, MAX_RETENTION_DAYS),
    proxy: objectOption("proxy", options.proxy) ?? {},
    timeoutMs: integer("timeoutMs", options.timeoutMs, 12e4, 1, 24 * 36e5),
    minBytesPerSecond: integer("minBytesPerSecond", options.minBytesPerSecond, 1024, 0, 1024 ** 3),
    stallWindowMs: integer("stallWindowMs", options.stallWindowMs, 6e4, 1, 24 * 36e5),
    retry: retryOption(options.retry),
    tempDir: path18.resolve(optionalString("tempDir", options.tempDir) ?? os5.tmpdir()),
    maxResponseBytes: integer(
      "maxResponseBytes",
      options.maxResponseBytes,
      DEFAULT_MAX_RESPONSE_BYTES,
      1024,
      MAX_RESPONSE_BYTES_LIMIT
    ),
    trustedOrigins: trustedOriginsOption(options.trustedOrigins),
    // Every line any part of Ferry logs is scrubbed, whatever logger the caller passed.
    logger: options.logger ? redactingLogger(loggerOption(options.logger)) : silentLogger,
    onProgress: functionOption("onProgress", options.onProgress),
    signal: signalOption(options.signal),
    cache: cacheOption(options.cache),
    onStats: functionOption("onStats", options.onStats),
    rateLimitWaitSeconds: integer("rateLimitWaitSeconds", options.rateLimitWaitSeconds, 0, 0, 3600)
  };
}
function cacheOption(value) {
  if (value === void 0) return void 0;
  if (typeof value !== "object" || value === null) throw invalid2("cache", "must be an object");
  const { path: dir, maxBytes, maxAgeSeconds, maxEntries } = value;
  const checked = {
    path: dir,
    maxBytes,
    ...maxAgeSeconds !== void 0 ? { maxAgeSeconds } : {},
    ...maxEntries !== void 0 ? { maxEntries } : {}
  };
  normalizeCacheOptions(checked);
  return { ...checked, path: path18.resolve(dir) };
}
function invalid2(option, message) {
  return new ValidationError("ERR_FERRY_INVALID_OPTION", `Option '${option}' ${message}`, { option });
}
function integer(option, value, fallback, min, max) {
  if (value === void 0) return fallback;
  if (!isIntegerInRange(value, min, max)) {
    throw invalid2(option, `must be an integer from ${min} to ${max}; got ${shownValue(value)}`);
  }
  return value;
}
function optionalString(option, value, echo = true) {
  if (value === void 0 || value === "") return void 0;
  if (typeof value !== "string")
    throw invalid2(option, `must be a string; got ${echo ? shownValue(value) : typeof value}`);
  return value;
}
function objectOption(option, value) {
  if (value === void 0) return void 0;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid2(option, `must be an object; got ${shownValue(value)}`);
  }
  return value;
}
function functionOption(option, value) {
  if (value !== void 0 && typeof value !== "function") {
    throw invalid2(option, `must be a function; got ${shownValue(value)}`);
  }
  return value;
}
function loggerOption(logger) {
  objectOption("logger", logger);
  for (const level of ["debug", "info", "warn", "error"]) {
    if (typeof logger[level] !== "function") {
      throw invalid2(
        "logger",
        `must have debug, info, warn and error functions; '${level}' is ${shownValue(logger[level])}`
      );
    }
  }
  return logger;
}
function signalOption(signal) {
  if (signal === void 0) return void 0;
  const s = signal;
  if (typeof s !== "object" || s === null || typeof s.aborted !== "boolean" || typeof s.addEventListener !== "function") {
    throw invalid2("signal", `must be an AbortSignal; got ${shownValue(signal)}`);
  }
  return signal;
}
var RETRY_NUMBERS = {
  maxAttempts: { min: 1, max: 100, integer: true },
  baseDelayMs: { min: 0, max: 36e5, integer: false },
  multiplier: { min: 1, max: 100, integer: false },
  maxDelayMs: { min: 0, max: 36e5, integer: false },
  jitter: { min: 0, max: 1, integer: false },
  maxRetryAfterMs: { min: 0, max: 24 * 36e5, integer: false },
  totalTimeMs: { min: 1, max: 7 * 24 * 36e5, integer: false }
};
function retryOption(retry) {
  if (objectOption("retry", retry) === void 0) return {};
  const policy = retry;
  for (const [key, value] of Object.entries(policy)) {
    if (value === void 0) continue;
    const option = `retry.${key}`;
    const bounds = RETRY_NUMBERS[key];
    if (bounds !== void 0) {
      const ok = bounds.integer ? isIntegerInRange(value, bounds.min, bounds.max) : isNumberInRange(value, bounds.min, bounds.max);
      if (!ok) {
        const kind = bounds.integer ? "an integer" : "a number";
        throw invalid2(option, `must be ${kind} from ${bounds.min} to ${bounds.max}; got ${shownValue(value)}`);
      }
    } else if (key === "retryableStatuses") {
      if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && v >= 100 && v <= 599)) {
        throw invalid2(option, `must be an array of HTTP status codes; got ${shownValue(value)}`);
      }
    } else if (key === "retryableErrorCodes") {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        throw invalid2(option, `must be an array of error code strings; got ${shownValue(value)}`);
      }
    } else {
      throw invalid2(option, "is not a known retry policy field");
    }
  }
  return retry;
}
function trustedOriginsOption(value) {
  if (value === void 0) return [];
  if (!Array.isArray(value))
    throw invalid2("trustedOrigins", `must be an array of origins; got ${shownValue(value)}`);
  return parseTrustedOrigins(value, (message) => invalid2("trustedOrigins", message));
}
function optionalUrl(option, value) {
  const text = optionalString(option, value);
  if (text === void 0) return void 0;
  if (!isHttpUrl(text)) throw invalid2(option, `must be an http(s) URL; got ${JSON.stringify(text)}`);
  return text;
}

// src/server/index.ts
init_limits();
import { mkdir as mkdir15 } from "node:fs/promises";
import { hostname as hostname2 } from "node:os";
import { resolve } from "node:path";

// src/server/http/auth.ts
import { createHash as createHash6, timingSafeEqual as timingSafeEqual2 } from "node:crypto";

// src/server/http/access.ts
init_error_response();
var FULL_ACCESS = Object.freeze({ kind: "all" });
var NO_ACCESS = Object.freeze({ kind: "runs", grants: Object.freeze([]) });
function grantsOf(scp) {
  const grants = [];
  for (const scope of scp.split(" ")) {
    const parts = scope.split(":");
    if (parts[0] !== "Actions.Results" || parts.length !== 3) continue;
    const [, run, job] = parts;
    if (run !== "" && job !== "") grants.push({ run, job });
  }
  return grants;
}
function mayUseRun(access3, runId) {
  return access3.kind === "all" || access3.grants.some((g) => g.run === runId);
}
function mayWriteAsJob(access3, runId, jobId) {
  return access3.kind === "all" || access3.grants.some((g) => g.run === runId && g.job === jobId);
}
function grantedRuns(access3) {
  return access3.kind === "all" ? void 0 : new Set(access3.grants.map((g) => g.run));
}
function runForbidden(runId, action) {
  return new ErrorResponse(
    403,
    `The runtime token does not grant ${action} in workflow run ${JSON.stringify(runId)} (its scp names other runs or jobs)`
  );
}

// src/server/http/auth.ts
init_error_response();

// src/server/http/jwt.ts
import { createHmac, timingSafeEqual, verify as verifySignature } from "node:crypto";
var JwtRejected = class extends Error {
  name = "JwtRejected";
};
var CLOCK_SKEW_SECONDS = 60;
var MAX_TOKEN_LENGTH = 8 * 1024;
var BASE64URL = /^[A-Za-z0-9_-]*$/;
function verifyJwt(token, keys, nowMs) {
  if (token.length > MAX_TOKEN_LENGTH) throw new JwtRejected("the token is too long to be a runtime JWT");
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) {
    throw new JwtRejected("the token is not a JWT (three base64url parts)");
  }
  const [headerPart, payloadPart, signaturePart] = parts;
  const header4 = decodeJson(headerPart, "header");
  const alg = header4["alg"];
  const signed = Buffer.from(`${headerPart}.${payloadPart}`, "ascii");
  const signature = Buffer.from(signaturePart, "base64url");
  if (!signatureMatches(alg, signed, signature, keys)) {
    throw new JwtRejected(
      typeof alg === "string" && SUPPORTED_ALGORITHMS.includes(alg) ? `the ${alg} signature does not match any configured key` : `the JWT algorithm ${JSON.stringify(alg)} is not accepted (HS256, RS256 or ES256 with a configured key)`
    );
  }
  const payload = decodeJson(payloadPart, "payload");
  const exp = payload["exp"];
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    throw new JwtRejected("the token has no expiry (exp claim)");
  }
  const nbf = payload["nbf"];
  if (nbf !== void 0 && (typeof nbf !== "number" || !Number.isFinite(nbf))) {
    throw new JwtRejected("the nbf claim is not a number");
  }
  const scp = payload["scp"];
  if (typeof scp !== "string") throw new JwtRejected("the token has no scp claim");
  const claims = { scp, exp, ...typeof nbf === "number" ? { nbf } : {} };
  checkTimeWindow(claims, nowMs);
  return claims;
}
function checkTimeWindow(claims, nowMs) {
  const now = nowMs / 1e3;
  if (now >= claims.exp + CLOCK_SKEW_SECONDS) {
    throw new JwtRejected(`the token expired at ${isoSeconds(claims.exp)}`);
  }
  if (claims.nbf !== void 0 && now < claims.nbf - CLOCK_SKEW_SECONDS) {
    throw new JwtRejected(`the token is not valid before ${isoSeconds(claims.nbf)}`);
  }
}
var SUPPORTED_ALGORITHMS = ["HS256", "RS256", "ES256"];
function signatureMatches(alg, signed, signature, keys) {
  switch (alg) {
    case "HS256":
      return keys.hmacSecrets.some((secret) => {
        const expected = createHmac("sha256", secret).update(signed).digest();
        return expected.length === signature.length && timingSafeEqual(expected, signature);
      });
    case "RS256":
      return keys.publicKeys.some(
        (key) => key.asymmetricKeyType === "rsa" && safeVerify(() => verifySignature("sha256", signed, key, signature))
      );
    case "ES256":
      return keys.publicKeys.some(
        (key) => key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1" && // JWS carries ES256 signatures as r||s (64 bytes), not DER.
        safeVerify(() => verifySignature("sha256", signed, { key, dsaEncoding: "ieee-p1363" }, signature))
      );
    default:
      return false;
  }
}
function safeVerify(check) {
  try {
    return check();
  } catch {
    return false;
  }
}
function decodeJson(part, what) {
  let value;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw new JwtRejected(`the JWT ${what} is not base64url JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtRejected(`the JWT ${what} is not a JSON object`);
  }
  return value;
}
function isoSeconds(seconds2) {
  const date = new Date(seconds2 * 1e3);
  return Number.isFinite(date.getTime()) ? date.toISOString() : String(seconds2);
}

// src/server/http/auth.ts
function createAuthenticator(options) {
  const token = options.token === "" ? void 0 : options.token;
  const keys = options.jwtKeys;
  const hasKeys = keys !== void 0 && keys.hmacSecrets.length + keys.publicKeys.length > 0;
  if (token === void 0 && !hasKeys) return () => FULL_ACCESS;
  const expected = token === void 0 ? void 0 : digest(token);
  const now = options.now ?? Date.now;
  const verified2 = new VerifiedTokens();
  return (req, schemes) => {
    const credential = credentialOf(req, schemes);
    if (expected !== void 0 && timingSafeEqual2(digest(credential), expected)) return FULL_ACCESS;
    if (!hasKeys)
      throw unauthorized("Missing or invalid bearer token (Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>)");
    try {
      const at = now();
      const cached = verified2.get(credential);
      if (cached) {
        checkTimeWindow(cached.claims, at);
        return cached.access;
      }
      const claims = verifyJwt(credential, keys, at);
      const access3 = { kind: "runs", grants: grantsOf(claims.scp) };
      verified2.set(credential, { claims, access: access3 });
      return access3;
    } catch (error2) {
      if (error2 instanceof JwtRejected) throw unauthorized(`Runtime token refused: ${error2.message}`);
      throw error2;
    }
  };
}
var MAX_CACHED_TOKENS = 1024;
var VerifiedTokens = class {
  #entries = /* @__PURE__ */ new Map();
  get(token) {
    return this.#entries.get(token);
  }
  set(token, entry) {
    if (this.#entries.size >= MAX_CACHED_TOKENS) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== void 0) this.#entries.delete(oldest);
    }
    this.#entries.set(token, entry);
  }
};
function credentialOf(req, schemes) {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === "authorization") count++;
  }
  if (count > 1) throw new ErrorResponse(400, "More than one Authorization header");
  const header4 = req.headers.authorization;
  const pattern = schemes === "bearer" ? /^Bearer[ \t]+(.+)$/i : /^(?:Bearer|token)[ \t]+(.+)$/i;
  const match = typeof header4 === "string" ? pattern.exec(header4.trim()) : null;
  if (!match?.[1]) {
    throw unauthorized(
      schemes === "bearer" ? "Missing or invalid bearer token (Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>)" : "Bad credentials"
    );
  }
  return match[1];
}
function unauthorized(message) {
  return new ErrorResponse(401, message, { "WWW-Authenticate": "Bearer" });
}
function digest(value) {
  return createHash6("sha256").update(value, "utf8").digest();
}

// src/server/http/host-policy.ts
import { hostname, networkInterfaces } from "node:os";

// src/server/http/base-url.ts
var HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
function requestBaseUrl(req, fallback) {
  const host = req.headers.host;
  if (typeof host !== "string" || !HOST_HEADER.test(host)) return fallback;
  const forwarded = req.headers["x-forwarded-proto"];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim().toLowerCase();
  return `${first === "https" ? "https" : "http"}://${host}/`;
}

// src/server/http/host-policy.ts
init_error_response();
var LOOPBACK_NAMES = /* @__PURE__ */ new Set(["localhost", "127.0.0.1", "[::1]"]);
var WILDCARD_HOSTS = /* @__PURE__ */ new Set(["", "0.0.0.0", "::", "[::]"]);
var AUTHORITY = /^(?<host>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(?<port>\d{1,5}))?$/;
function createHostPolicy(options) {
  const publicUrl = options.publicUrl;
  const publicAuthority = publicUrl === void 0 ? void 0 : `${publicUrl.hostname}:${portOf(publicUrl)}`.toLowerCase();
  const boundNames = namesOf(options.boundHost);
  const allowed = (authority) => {
    const match = AUTHORITY.exec(authority.toLowerCase());
    const host = match?.groups?.["host"];
    if (host === void 0) return false;
    const port = Number(match?.groups?.["port"] ?? "80");
    if (LOOPBACK_NAMES.has(host)) return true;
    if (publicAuthority !== void 0 && `${host}:${port}` === publicAuthority) return true;
    return port === options.port() && boundNames.has(host);
  };
  const allowedOrigin = (origin) => {
    try {
      const url = new URL(origin);
      return (url.protocol === "http:" || url.protocol === "https:") && allowed(`${url.hostname}:${portOf(url)}`);
    } catch {
      return false;
    }
  };
  const refuse = (authority) => new ErrorResponse(
    421,
    `Misdirected request: ${JSON.stringify(authority.slice(0, 200))} is not an address of this ferry serve. It answers only to its bound address (port ${options.port()}), localhost, 127.0.0.1, [::1]` + (publicUrl ? ` and its public URL ${publicUrl.origin}` : "") + ". If clients reach it under another name, start it with --public-url <that URL>."
  );
  return {
    check(req) {
      let hosts = 0;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i]?.toLowerCase() === "host") hosts++;
      }
      if (hosts > 1) throw new ErrorResponse(400, "More than one Host header");
      const host = req.headers.host;
      if (typeof host !== "string" || host === "") {
        throw new ErrorResponse(400, "A Host header is required (HTTP/1.1)");
      }
      if (!allowed(host)) throw refuse(host);
      const origin = req.headers.origin;
      if (origin !== void 0 && !allowedOrigin(origin)) {
        throw new ErrorResponse(
          403,
          `Cross-origin request from ${JSON.stringify(origin.slice(0, 200))} refused: ferry serve is not a browser API`
        );
      }
      const target = req.url ?? "/";
      if (!target.startsWith("/")) {
        let authority;
        try {
          authority = new URL(target).host;
        } catch {
          throw new ErrorResponse(400, "Malformed request target");
        }
        if (!allowed(authority)) throw refuse(authority);
      }
    },
    baseUrl(req, fallback) {
      return publicUrl ? publicUrl.href : requestBaseUrl(req, fallback);
    }
  };
}
function parsePublicUrl(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(`publicUrl ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`publicUrl must be http:// or https://, got ${JSON.stringify(url.protocol)}`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "" || url.pathname !== "/") {
    throw new RangeError(
      `publicUrl must be an origin such as https://artifacts.example:8443/, got ${url.origin}${url.pathname}`
    );
  }
  return url;
}
function portOf(url) {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}
function namesOf(boundHost) {
  const names = /* @__PURE__ */ new Set();
  const add = (address) => {
    names.add((address.includes(":") ? `[${address.replace(/^\[|\]$/g, "")}]` : address).toLowerCase());
  };
  if (!WILDCARD_HOSTS.has(boundHost)) {
    add(boundHost);
    return names;
  }
  for (const list3 of Object.values(networkInterfaces())) {
    for (const info2 of list3 ?? []) if (!info2.address.includes("%")) add(info2.address);
  }
  add(hostname());
  return names;
}

// src/server/http/jwt-keys.ts
import { createPublicKey } from "node:crypto";
var MIN_SECRET_BYTES = 32;
function jwtKeysOf(options) {
  const hmacSecrets = (options.secrets ?? []).map((secret, i) => {
    const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new RangeError(
        `JWT secret #${i + 1} has ${bytes.length} bytes; HS256 needs at least ${MIN_SECRET_BYTES} (e.g. openssl rand -hex 32)`
      );
    }
    return bytes;
  });
  const publicKeys = (options.publicKeys ?? []).map((key, i) => {
    let object;
    try {
      object = typeof key === "string" || Buffer.isBuffer(key) ? createPublicKey(key) : key;
    } catch {
      throw new RangeError(`JWT public key #${i + 1} is not a PEM public key (or certificate)`);
    }
    const type = object.asymmetricKeyType;
    const curve = object.asymmetricKeyDetails?.namedCurve;
    if (object.type !== "public" || !(type === "rsa" || type === "ec" && curve === "prime256v1")) {
      throw new RangeError(
        `JWT public key #${i + 1} is ${type ?? object.type}${curve ? ` (${curve})` : ""}; RS256 needs an RSA key, ES256 an EC P-256 key`
      );
    }
    return object;
  });
  return { hmacSecrets, publicKeys };
}

// src/server/legacy/protocol.ts
init_artifact_store();

// src/server/http/body.ts
init_error_response();
var DEFAULT_JSON_LIMIT = 1024 * 1024;
async function readJsonBody(req, limit = DEFAULT_JSON_LIMIT) {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    throw new ErrorResponse(
      413,
      `Request body of ${declared} bytes exceeds the ${limit}-byte limit for JSON requests`,
      {
        Connection: "close"
      }
    );
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) {
      throw new ErrorResponse(413, `Request body exceeds the ${limit}-byte limit for JSON requests`, {
        Connection: "close"
      });
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks, size).toString("utf8");
  if (text.trim() === "") throw badRequest2("Request body must be a JSON object, got an empty body");
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest2("Request body is not valid JSON");
  }
}
function expectObject(value, what) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badRequest2(`${what} must be a JSON object`);
  }
  return value;
}

// src/server/legacy/artifact-routes.ts
init_error_response();
init_respond();
init_artifact_store();

// src/server/legacy/contracts.ts
var NIL_GUID = "00000000-0000-0000-0000-000000000000";
function containerUrl(baseUrl, containerId) {
  return `${baseUrl}_apis/resources/Containers/${containerId}`;
}
function itemUrl2(baseUrl, containerId, itemPath) {
  return `${containerUrl(baseUrl, containerId)}?${new URLSearchParams({ itemPath }).toString()}`;
}
function artifactResponse(baseUrl, record) {
  const query = new URLSearchParams({ artifactName: record.name }).toString();
  return {
    containerId: record.containerId,
    size: record.size,
    signedContent: null,
    fileContainerResourceUrl: containerUrl(baseUrl, record.containerId),
    type: "actions_storage",
    name: record.name,
    url: `${baseUrl}_apis/pipelines/workflows/${encodeURIComponent(record.runId)}/artifacts?${query}`
  };
}
function fileEntry(baseUrl, containerId, item) {
  const location = itemUrl2(baseUrl, containerId, item.path);
  const entry = {
    containerId,
    scopeIdentifier: NIL_GUID,
    path: item.path,
    itemType: "file",
    status: "created",
    dateCreated: item.createdAt,
    dateLastModified: item.updatedAt,
    createdBy: NIL_GUID,
    lastModifiedBy: NIL_GUID,
    itemLocation: location,
    contentLocation: location,
    contentId: ""
  };
  const length = originalLength(item);
  if (length !== void 0) entry.fileLength = length;
  return entry;
}
function folderEntry(baseUrl, containerId, path22, dates) {
  return {
    containerId,
    scopeIdentifier: NIL_GUID,
    path: path22,
    itemType: "folder",
    status: "created",
    dateCreated: dates.createdAt,
    dateLastModified: dates.createdAt,
    createdBy: NIL_GUID,
    lastModifiedBy: NIL_GUID,
    itemLocation: itemUrl2(baseUrl, containerId, path22),
    contentId: ""
  };
}
function originalLength(item) {
  if (!item.gzip) return item.total;
  if (item.fileLength === null) return void 0;
  if (item.fileLength === 0 && item.total > 0) return void 0;
  return item.fileLength;
}

// src/core/name-characters.ts
function findBadCharacter(value, forbidden) {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 55296 && code <= 56319) {
      const next = value.charCodeAt(i + 1);
      if (next >= 56320 && next <= 57343) {
        i++;
        continue;
      }
      return { ch: value[i], index: i, reason: "a lone surrogate (not valid UTF-8)" };
    }
    if (code >= 56320 && code <= 57343) {
      return { ch: value[i], index: i, reason: "a lone surrogate (not valid UTF-8)" };
    }
    const ch = value[i];
    if (forbidden.includes(ch)) return { ch, index: i, reason: "not allowed" };
    if (isControlCharacter(code)) return { ch, index: i, reason: "a control character" };
  }
  return void 0;
}

// src/core/artifact-name.ts
var FORBIDDEN_NAME_CHARACTERS = [
  '"',
  ":",
  "<",
  ">",
  "|",
  "*",
  "?",
  "\r",
  "\n",
  "\\",
  "/"
];
var MAX_ARTIFACT_NAME_LENGTH = 256;
function artifactNameProblem(name) {
  if (typeof name !== "string" || name.length === 0) return { kind: "empty" };
  const bad = findBadCharacter(name, FORBIDDEN_NAME_CHARACTERS);
  if (bad) return { kind: "character", forbidden: FORBIDDEN_NAME_CHARACTERS.includes(bad.ch), ...bad };
  if (name === "." || name === "..") return { kind: "dot" };
  const length = [...name].length;
  if (length > MAX_ARTIFACT_NAME_LENGTH) return { kind: "length", length };
  return void 0;
}
function describeArtifactNameProblem(problem) {
  switch (problem.kind) {
    case "empty":
      return "must be a non-empty string";
    case "character":
      return `character ${describeCharacter(problem.ch)} at index ${problem.index} is ${problem.reason}. Artifact names must not contain " : < > | * ? \\r \\n \\ / or control characters`;
    case "dot":
      return "'.' and '..' are not allowed";
    case "length":
      return `${problem.length} characters long, the limit is ${MAX_ARTIFACT_NAME_LENGTH} characters`;
  }
}
function serviceNameMessage(name, problem) {
  const quoted = JSON.stringify(name);
  switch (problem.kind) {
    case "empty":
    case "length":
      return `name invalid length for artifact name: must be between 1 and ${MAX_ARTIFACT_NAME_LENGTH} characters, got ${problem.kind === "empty" ? 0 : problem.length}`;
    case "character":
      return problem.forbidden ? `The artifact name ${quoted} is not valid: it contains the forbidden character ${JSON.stringify(problem.ch)}` : `The artifact name ${quoted} is not valid: character ${describeCharacter(problem.ch)} at index ${problem.index} is ${problem.reason}`;
    case "dot":
      return `The artifact name ${quoted} is not valid`;
  }
}
function validateArtifactName(name) {
  const problem = artifactNameProblem(name);
  if (problem === void 0) return;
  const message = problem.kind === "empty" ? "Artifact name must be a non-empty string" : `Invalid artifact name ${printable(name)}: ${describeArtifactNameProblem(problem)}`;
  throw new ValidationError("ERR_FERRY_INVALID_NAME", message);
}

// src/server/legacy/validate.ts
init_error_response();
function validateArtifactName2(name) {
  const problem = artifactNameProblem(name);
  if (problem !== void 0) throw badRequest2(serviceNameMessage(name, problem));
  return name;
}
function validateRunId(runId) {
  if (runId.length === 0 || runId.length > 256 || [...runId].some((ch) => ch.charCodeAt(0) < 32)) {
    throw badRequest2(`Invalid workflow run id ${JSON.stringify(runId)}`);
  }
  return runId;
}
function normalizeItemPath(raw, artifactName) {
  if (raw.includes("\0")) throw badRequest2("itemPath must not contain NUL");
  const slashed = raw.replace(/\\/g, "/");
  if (slashed.startsWith("/") || /^[A-Za-z]:/.test(slashed)) {
    throw badRequest2(`itemPath ${JSON.stringify(raw)} must be relative (name/path), not absolute`);
  }
  const segments = slashed.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes(".."))
    throw badRequest2(`itemPath ${JSON.stringify(raw)} must not contain '..' segments`);
  if (segments[0] !== artifactName) {
    throw badRequest2(
      `itemPath ${JSON.stringify(raw)} must start with the artifact name ${JSON.stringify(`${artifactName}/`)}`
    );
  }
  return segments.join("/");
}
function parseContentRange(header4) {
  if (header4 === void 0) throw badRequest2("Content-Range header is required (bytes start-end/total)");
  const match = /^bytes (\d+)-(-1|\d+)\/(\d+)$/.exec(header4.trim());
  if (!match)
    throw badRequest2(`Malformed Content-Range ${JSON.stringify(header4)}; expected "bytes start-end/total"`);
  const [start, lastInclusive, total] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (![start, lastInclusive, total].every(Number.isSafeInteger))
    throw badRequest2(`Content-Range ${header4} is out of range`);
  if (total === 0) {
    if (start === 0 && lastInclusive === -1) return { start: 0, end: 0, total: 0 };
    throw badRequest2(`Content-Range ${header4} is invalid: an empty item must be sent as "bytes 0--1/0"`);
  }
  if (lastInclusive < start || lastInclusive >= total)
    throw badRequest2(`Content-Range ${header4} is invalid for a ${total}-byte item`);
  return { start, end: lastInclusive + 1, total };
}
function parseOptionalLength(value, header4) {
  if (value === void 0) return void 0;
  const text = Array.isArray(value) ? value[0] : value;
  if (text === void 0 || !/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw badRequest2(`${header4} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Number(text);
}

// src/server/legacy/artifact-routes.ts
var ARTIFACTS = /^\/_apis\/pipelines\/workflows\/(?<runId>[^/]+)\/artifacts\/?$/i;
function artifactRoutes(store) {
  return [
    { method: "POST", pattern: ARTIFACTS, handler: (ctx) => create(store, ctx) },
    { method: "GET", pattern: ARTIFACTS, handler: (ctx) => list(store, ctx) },
    { method: "PATCH", pattern: ARTIFACTS, handler: (ctx) => patch(store, ctx) }
  ];
}
async function create(store, ctx) {
  const runId = grantedRunId(ctx, "creating artifacts");
  const body = expectObject(
    await readJsonBody(ctx.req, store.limits.maxJsonBodyBytes),
    "Create artifact body"
  );
  if (body.Type !== void 0 && body.Type !== "actions_storage") {
    throw badRequest2(
      `Unsupported artifact Type ${JSON.stringify(body.Type)}; only "actions_storage" is supported`
    );
  }
  const name = validateArtifactName2(body.Name);
  const retentionDays2 = parseRetention(body.RetentionDays);
  const { record, session } = await store.create(runId, name, retentionDays2);
  const response = artifactResponse(ctx.baseUrl, record);
  sendJson(ctx.res, 201, {
    ...response,
    fileContainerResourceUrl: withUploadSession(response.fileContainerResourceUrl, session)
  });
}
async function list(store, ctx) {
  const runId = grantedRunId(ctx, "listing artifacts");
  const filter = ctx.url.searchParams.get("artifactName");
  const records = (await store.list(runId)).filter((r) => filter === null || r.name === filter);
  const body = {
    count: records.length,
    value: records.map((r) => artifactResponse(ctx.baseUrl, r))
  };
  sendJson(ctx.res, 200, body);
}
async function patch(store, ctx) {
  const runId = grantedRunId(ctx, "finalizing artifacts");
  const rawName = ctx.url.searchParams.get("artifactName");
  if (rawName === null)
    throw badRequest2("The artifactName query parameter is required to finalize an artifact");
  const name = validateArtifactName2(rawName);
  const body = expectObject(
    await readJsonBody(ctx.req, store.limits.maxJsonBodyBytes),
    "Patch artifact body"
  );
  const size = body.Size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw badRequest2(`Size must be a non-negative integer, got ${JSON.stringify(size)}`);
  }
  const record = await store.patchSize(runId, name, size);
  if (!record) throw notFound2(`An Artifact with the name ${name} was not found in run ${runId}`);
  const response = artifactResponse(ctx.baseUrl, record);
  sendJson(ctx.res, 200, { ...response, uploadUrl: response.fileContainerResourceUrl });
}
function grantedRunId(ctx, action) {
  const runId = validateRunId(ctx.params.runId ?? "");
  if (!mayUseRun(ctx.access, runId)) throw runForbidden(runId, action);
  return runId;
}
function parseRetention(value) {
  if (value === void 0 || value === null || value === 0) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw badRequest2(`RetentionDays must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

// src/server/legacy/container-routes.ts
import { pipeline as pipeline7 } from "node:stream/promises";
init_error_response();
init_respond();
init_artifact_store();

// src/server/legacy/listing-response.ts
var LISTING_BATCH_BYTES = 256 * 1024;
async function sendListing(res, count, entries, batchBytes = LISTING_BATCH_BYTES) {
  const iterator = entries[Symbol.iterator]();
  let batch = `{"count":${count},"value":[`;
  let first = true;
  let done = false;
  const fill = () => {
    while (batch.length < batchBytes) {
      const next = iterator.next();
      if (next.done === true) {
        batch += "]}";
        done = true;
        return;
      }
      batch += `${first ? "" : ","}${JSON.stringify(next.value)}`;
      first = false;
    }
  };
  fill();
  const headers = { "Content-Type": "application/json; charset=utf-8" };
  if (done) {
    const payload = Buffer.from(batch);
    res.writeHead(200, { ...headers, "Content-Length": String(payload.length) });
    res.end(payload);
    return;
  }
  res.writeHead(200, headers);
  for (; ; ) {
    const flowing = res.write(batch);
    batch = "";
    if (done) break;
    if (!flowing && !await drained(res)) return;
    if (res.destroyed) return;
    fill();
  }
  res.end();
}
function drained(res) {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve2) => {
    const onDrain = () => {
      res.off("close", onClose);
      resolve2(true);
    };
    const onClose = () => {
      res.off("drain", onDrain);
      resolve2(false);
    };
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

// src/server/legacy/container-routes.ts
var CONTAINER = /^\/_apis\/resources\/Containers\/(?<containerId>[1-9]\d{0,14})\/?$/i;
function containerRoutes(store, fastRead) {
  return [
    { method: "PUT", pattern: CONTAINER, handler: (ctx) => putChunk(store, ctx) },
    { method: "GET", pattern: CONTAINER, handler: (ctx) => getItems(store, ctx, fastRead) }
  ];
}
async function containerOf2(store, ctx) {
  const id = Number(ctx.params.containerId);
  const record = await store.get(id);
  if (!record || !mayUseRun(ctx.access, record.runId)) {
    throw notFound2(`Container ${ctx.params.containerId} does not exist`);
  }
  return record;
}
async function putChunk(store, ctx) {
  const { req } = ctx;
  const artifact = await containerOf2(store, ctx);
  const rawPath = ctx.url.searchParams.get("itemPath");
  if (rawPath === null) throw badRequest2("The itemPath query parameter is required");
  const path22 = normalizeItemPath(rawPath, artifact.name);
  if (path22 === artifact.name)
    throw badRequest2(`itemPath ${JSON.stringify(rawPath)} names the artifact, not a file in it`);
  const range = parseContentRange(req.headers["content-range"]);
  if (range.total > store.limits.maxArtifactBytes) {
    throw new ErrorResponse(
      413,
      `Content-Range total ${range.total} exceeds the server's limit of ${store.limits.maxArtifactBytes} bytes per artifact (maxArtifactBytes)`
    );
  }
  const length = range.end - range.start;
  const declared = parseOptionalLength(req.headers["content-length"], "Content-Length");
  if (declared !== void 0 && declared !== length) {
    throw badRequest2(
      `Content-Length ${declared} does not match Content-Range ${req.headers["content-range"]} (${length} bytes)`
    );
  }
  const gzip2 = parseEncoding(req.headers["content-encoding"]);
  const fileLength = parseOptionalLength(req.headers["x-tfs-filelength"], "x-tfs-filelength");
  const md5Header = req.headers["x-actions-results-md5"];
  const expectedMd5 = typeof md5Header === "string" && md5Header !== "" ? md5Header : void 0;
  const session = ctx.url.searchParams.get(UPLOAD_SESSION_PARAM);
  await store.receive(artifact, path22, session, { range, gzip: gzip2, fileLength, expectedMd5 }, req);
  sendJson(ctx.res, 200, { message: "success" });
}
async function getItems(store, ctx, fastRead) {
  const artifact = await containerOf2(store, ctx);
  const items = await store.files(artifact);
  const rawPath = ctx.url.searchParams.get("itemPath");
  const prefix = rawPath === null || rawPath === "" ? void 0 : normalizeItemPath(rawPath, artifact.name);
  const item = prefix === void 0 ? void 0 : await items.get(prefix);
  if (item) {
    if (!item.complete) throw notFound2(`Item ${JSON.stringify(item.path)} has not been fully uploaded`);
    return sendFile(
      ctx,
      items,
      item,
      fastRead && ((open26) => fastRead(fileIdentity(artifact, item), item.total, open26))
    );
  }
  const { files, folders } = await items.list(prefix);
  if (prefix !== void 0 && prefix !== artifact.name && files.length === 0) {
    throw notFound2(`No item ${JSON.stringify(prefix)} in artifact ${JSON.stringify(artifact.name)}`);
  }
  await sendListing(
    ctx.res,
    folders.length + files.length,
    listingEntries(ctx.baseUrl, artifact, folders, files)
  );
}
function* listingEntries(baseUrl, artifact, folders, files) {
  for (const folder of folders) yield folderEntry(baseUrl, artifact.containerId, folder, artifact);
  for (const file of files) yield fileEntry(baseUrl, artifact.containerId, file);
}
async function sendFile(ctx, items, item, readThrough) {
  const headers = {
    "Content-Type": "application/octet-stream",
    "Content-Length": String(item.total)
  };
  if (item.gzip) headers["Content-Encoding"] = "gzip";
  if (item.total === 0 || ctx.req.method === "HEAD") {
    ctx.res.writeHead(200, headers);
    ctx.res.end();
    return;
  }
  const small = readThrough ? void 0 : items.readSmall?.(item);
  if (small !== void 0) {
    ctx.res.writeHead(200, headers);
    ctx.res.end(small);
    return;
  }
  const openStored = () => items.open(item);
  const source = readThrough ? await readThrough(openStored) : await openStored();
  ctx.res.writeHead(200, headers);
  await pipeline7(source, ctx.res);
}
function fileIdentity(artifact, item) {
  return `legacy
${artifact.containerId}
${item.path}
${item.updatedAt}
${item.total}
${String(item.gzip)}`;
}
function parseEncoding(value) {
  if (value === void 0 || value === "" || value.toLowerCase() === "identity") return false;
  if (value.toLowerCase() === "gzip") return true;
  throw new ErrorResponse(
    415,
    `Unsupported Content-Encoding ${JSON.stringify(value)}; only gzip is supported`
  );
}

// src/server/legacy/protocol.ts
init_layout();
async function openLegacyStore(dataDir, limits, listing) {
  return ArtifactStore.open(new LegacyLayout(dataDir), { limits, ...listing ? { listing } : {} });
}
function createLegacyProtocol(store, fastRead) {
  return {
    name: "legacy",
    routes: [...artifactRoutes(store), ...containerRoutes(store, fastRead)],
    close: () => store.close()
  };
}

// src/server/rest/routes.ts
init_error_response();
init_respond();

// src/server/server.ts
import { randomBytes as randomBytes6 } from "node:crypto";
import { createServer } from "node:http";

// src/server/http/connection-guard.ts
var LINGER_MS = 2e3;
var LINGER_BYTES = 256 * 1024;
var DRAIN_DECLARED_BYTES = 16 * 1024 * 1024;
var ConnectionGuard = class {
  #options;
  /** Insertion order is connection order, so the first idle untrusted entry is the oldest. */
  #tracked = /* @__PURE__ */ new Map();
  shed = 0;
  constructor(options) {
    this.#options = options;
  }
  /** Call on the server's 'connection' event. */
  admit(socket) {
    const entry = { socket, trusted: false, inFlight: 0, firstRequest: void 0 };
    entry.firstRequest = setTimeout(() => {
      if (entry.inFlight === 0 && !entry.trusted && socket.bytesRead === 0) {
        this.#drop(entry, "sent no request in time");
      }
    }, this.#options.firstRequestTimeoutMs);
    entry.firstRequest.unref();
    this.#tracked.set(socket, entry);
    socket.once("close", () => {
      clearTimeout(entry.firstRequest);
      this.#tracked.delete(socket);
    });
    if (this.#tracked.size > this.#options.maxConnections && !this.#shedOne()) {
      this.#drop(entry, `over the limit of ${this.#options.maxConnections} connections`);
      return;
    }
    if (this.#untrusted() > this.#options.maxUntrustedConnections) this.#shedOne();
  }
  /** Call when a request head arrived; returns a function to call once it is trusted. */
  requestStarted(req, res) {
    const entry = this.#tracked.get(req.socket);
    if (!entry) return { trust: () => void 0 };
    clearTimeout(entry.firstRequest);
    entry.inFlight++;
    res.once("close", () => {
      entry.inFlight--;
      if (res.statusCode < 400) entry.trusted = true;
    });
    const socket = req.socket;
    const drainable = drainsRefusedBody(req);
    res.once("finish", () => {
      if (!req.complete && !drainable) lingerAndClose(req, socket);
    });
    return {
      trust: () => {
        entry.trusted = true;
      }
    };
  }
  #untrusted() {
    let count = 0;
    for (const entry of this.#tracked.values()) if (!entry.trusted) count++;
    return count;
  }
  /** Closes the oldest untrusted connection with no request in flight; false if there is none. */
  #shedOne() {
    for (const entry of this.#tracked.values()) {
      if (!entry.trusted && entry.inFlight === 0 && !entry.socket.destroyed) {
        this.#drop(entry, "shed to make room for other clients");
        return true;
      }
    }
    return false;
  }
  #drop(entry, why) {
    this.shed++;
    this.#tracked.delete(entry.socket);
    const peer = `${entry.socket.remoteAddress ?? "?"}:${entry.socket.remotePort ?? "?"}`;
    this.#options.log?.(`connection from ${peer} closed: ${why}`);
    entry.socket.destroy();
  }
};
function drainsRefusedBody(req) {
  const declared = Number(req.headers["content-length"]);
  return Number.isSafeInteger(declared) && declared <= DRAIN_DECLARED_BYTES;
}
function lingerAndClose(req, socket) {
  if (socket.destroyed) return;
  let drained3 = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
  req.on("data", (chunk) => {
    drained3 += chunk.length;
    if (drained3 > LINGER_BYTES) socket.destroy();
  });
  req.resume();
  socket.end();
}

// src/server/http/storage-failure.ts
init_error_response();
var NO_SPACE2 = /* @__PURE__ */ new Set(["ENOSPC", "EDQUOT"]);
var STORAGE = /* @__PURE__ */ new Set([
  ...NO_SPACE2,
  "EIO",
  "EROFS",
  "EACCES",
  "EPERM",
  "EFBIG",
  "EMFILE",
  "ENFILE",
  "ENOMEM",
  "EMLINK"
]);
function storageFailure(error2) {
  const code = errnoOf(error2);
  if (code === void 0 || !STORAGE.has(code)) return void 0;
  if (NO_SPACE2.has(code)) {
    return new ErrorResponse(
      507,
      `Insufficient storage: the server ran out of disk space (${code}) while storing the upload`
    );
  }
  return new ErrorResponse(500, `Internal server error: the server's storage failed (${code})`);
}
function errnoOf(error2) {
  for (let current = error2, depth2 = 0; current && depth2 < 5; depth2++) {
    const code = current.code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    current = current.cause;
  }
  return void 0;
}

// src/server/server.ts
init_error_response();
init_respond();

// src/server/observe/route-name.ts
var TWIRP = /^\/twirp\/github\.actions\.results\.api\.v1\.ArtifactService\/(?<method>[^/]+)$/;
var TWIRP_METHODS = /* @__PURE__ */ new Set([
  "CreateArtifact",
  "FinalizeArtifact",
  "ListArtifacts",
  "GetSignedArtifactURL",
  "DeleteArtifact"
]);
var NAMED = [
  [/^\/_apis\/pipelines\/workflows\/[^/]+\/artifacts\/?$/i, "legacy_artifacts"],
  [/^\/_apis\/resources\/Containers\/[^/]+\/?$/i, "legacy_container"],
  [/^\/devstoreaccount1\/[^/]+\/[0-9a-f]{32}$/, "blob"],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/runs\/[^/]+\/artifacts\/?$/, "rest_run_artifacts"],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/artifacts\/?$/, "rest_artifacts"],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/artifacts\/[^/]+\/?$/, "rest_artifact"],
  [/^\/repos\/[^/]+\/[^/]+\/actions\/artifacts\/[^/]+\/[^/]+\/?$/, "rest_archive"],
  [/^\/metrics$/, "metrics"],
  [/^\/status$/, "status"]
];
function routeName(pathname) {
  const twirp = TWIRP.exec(pathname);
  if (twirp) {
    const method = twirp.groups?.method ?? "";
    return TWIRP_METHODS.has(method) ? `twirp_${method}` : "twirp_other";
  }
  for (const [pattern, name] of NAMED) if (pattern.test(pathname)) return name;
  return "other";
}
function pathOnly(target) {
  const raw = target ?? "/";
  const q = raw.indexOf("?");
  return q === -1 ? raw : raw.slice(0, q);
}
var METHODS = /* @__PURE__ */ new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
function methodName(method) {
  return method !== void 0 && METHODS.has(method) ? method : "OTHER";
}

// src/server/server.ts
var ANY_METHOD = "*";
var MAX_TIMEOUT_CHECK_INTERVAL_MS = 1e3;
function createHttpServer(options) {
  const routes = options.protocols.flatMap((p) => p.routes);
  const { limits } = options;
  const guard = new ConnectionGuard({
    maxConnections: limits.maxConnections,
    maxUntrustedConnections: limits.maxUntrustedConnections,
    // Node times out partly sent heads (408) but never a socket that sends nothing: the guard does.
    firstRequestTimeoutMs: limits.headersTimeoutMs,
    log: options.log
  });
  const stats = { connectionsOpened: 0, openConnections: 0, requests: 0 };
  let inFlight = 0;
  let draining = false;
  let afterDrainStep = () => void 0;
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(MAX_TIMEOUT_CHECK_INTERVAL_MS, limits.headersTimeoutMs)
    },
    (req, res) => {
      stats.requests++;
      const started = process.hrtime.bigint();
      const connection = guard.requestStarted(req, res);
      const requestId = randomBytes6(8).toString("hex");
      res.setHeader("X-Request-Id", requestId);
      if (draining) res.setHeader("Connection", "close");
      inFlight++;
      const time = (/* @__PURE__ */ new Date()).toISOString();
      const socket = req.socket;
      const remote = socket.remoteAddress ?? "";
      const body = countBodyBytes(res);
      res.once("close", () => {
        inFlight--;
        const path22 = pathOnly(req.url);
        const record = {
          time,
          method: methodName(req.method),
          route: routeName(path22),
          // The status actually sent: a connection cut before any answer is no status, never 200.
          status: res.headersSent ? res.statusCode : void 0,
          // A client that closes as soon as it has the declared length can beat the server's own
          // end(): all the bytes went out, so the answer was not cut.
          cut: !res.writableFinished && !body.complete(),
          json: /json/i.test(String(res.getHeader("Content-Type") ?? "")),
          durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6 * 10) / 10,
          ...wireBytes(socket),
          remote,
          requestId
        };
        options.onRequestEnd?.(record, path22);
        if (draining) afterDrainStep();
      });
      void dispatch(req, res, connection);
    }
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.timeout = limits.idleTimeoutMs;
  const sockets = /* @__PURE__ */ new Set();
  server.on("connection", (socket) => {
    guard.admit(socket);
    stats.connectionsOpened++;
    stats.openConnections++;
    sockets.add(socket);
    socket.once("close", () => {
      stats.openConnections--;
      sockets.delete(socket);
    });
  });
  async function dispatch(req, res, connection) {
    let route;
    try {
      const url = parseRequestUrl(req.url);
      const method = req.method === "HEAD" ? "GET" : req.method ?? "GET";
      const onPath = routes.map((candidate) => ({ route: candidate, match: candidate.pattern.exec(url.pathname) })).filter((r) => r.match);
      const hit = onPath.find((r) => r.route.method === method || r.route.method === ANY_METHOD);
      options.hosts.check(req);
      route = hit?.route;
      const bearer = (route?.auth ?? "bearer") === "bearer";
      const access3 = bearer ? options.authenticate(req, "bearer") : NO_ACCESS;
      if (bearer && options.credentialRequired) connection.trust();
      if (!hit?.match) {
        if (onPath.length > 0) {
          const allow = [...new Set(onPath.map((r) => r.route.method))].join(", ");
          throw new ErrorResponse(
            405,
            `Method ${req.method ?? ""} is not allowed on ${url.pathname}; use ${allow}`,
            { Allow: allow }
          );
        }
        throw new ErrorResponse(404, `No route for ${req.method ?? ""} ${url.pathname}`);
      }
      await hit.route.handler({
        req,
        res,
        url,
        params: decodeParams(hit.match.groups),
        baseUrl: options.hosts.baseUrl(req, options.fallbackBaseUrl()),
        access: access3
      });
    } catch (error2) {
      answerError(req, res, error2, options.log, route?.renderError);
    }
  }
  let closing;
  let endDrain = () => void 0;
  function close(drainMs = 0) {
    if (drainMs === 0) endDrain();
    return closing ??= closeOnce(drainMs);
  }
  async function closeOnce(drainMs) {
    draining = true;
    const closed = new Promise(
      (resolve2, reject) => server.close((error2) => error2 ? reject(error2) : resolve2())
    );
    server.closeIdleConnections();
    if (drainMs > 0 && inFlight > 0) {
      await new Promise((resolve2) => {
        const timer = setTimeout(resolve2, drainMs);
        endDrain = () => {
          clearTimeout(timer);
          resolve2();
        };
        afterDrainStep = () => {
          setImmediate(() => server.closeIdleConnections());
          if (inFlight === 0) {
            clearTimeout(timer);
            resolve2();
          }
        };
      });
    }
    afterDrainStep = () => void 0;
    endDrain = () => void 0;
    server.closeAllConnections();
    const socketsClosed = [...sockets].map(
      (socket) => new Promise((resolve2) => socket.once("close", () => resolve2()))
    );
    for (const socket of sockets) socket.destroy();
    await Promise.all([closed, ...socketsClosed]);
  }
  return { server, stats, close };
}
function parseRequestUrl(target) {
  const raw = target ?? "/";
  try {
    return raw.startsWith("/") ? new URL(`http://localhost${raw}`) : new URL(raw);
  } catch {
    throw new ErrorResponse(400, `Malformed request target ${JSON.stringify(raw.slice(0, 200))}`);
  }
}
function decodeParams(groups) {
  const params = {};
  for (const [key, value] of Object.entries(groups ?? {})) {
    try {
      params[key] = decodeURIComponent(value);
    } catch {
      throw new ErrorResponse(
        400,
        `Malformed percent-encoding in the URL path segment ${JSON.stringify(value)}`
      );
    }
  }
  return params;
}
function answerError(req, res, error2, log, render) {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (!req.complete && !drainsRefusedBody(req)) {
    res.setHeader("Connection", "close");
  }
  const send2 = (errorResponse) => render ? render(res, errorResponse) : sendErrorJson(res, errorResponse.status, errorResponse.message, errorResponse.headers);
  if (error2 instanceof ErrorResponse) {
    send2(error2);
    return;
  }
  const storage = storageFailure(error2);
  if (storage) {
    log?.(`storage error on ${req.method ?? "?"} ${pathOf(req)}: ${storage.message}`);
    send2(storage);
    return;
  }
  if (req.destroyed || isClientAbort(error2)) {
    res.destroy();
    return;
  }
  log?.(
    // The path and the message may carry bytes a client chose: escaped, so a log line cannot drive a terminal.
    `internal error on ${req.method ?? "?"} ${printableText(pathOf(req))}: ${printableText(error2 instanceof Error ? error2.message : String(error2))}`
  );
  send2(
    new ErrorResponse(
      500,
      `Internal server error: ${error2 instanceof Error ? error2.message : "unknown failure"}`
    )
  );
}
function isClientAbort(error2) {
  const code = error2?.code;
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ABORT_ERR";
}
function pathOf(req) {
  return pathOnly(req.url);
}
var wireMarks = /* @__PURE__ */ new WeakMap();
function wireBytes(socket) {
  const mark = wireMarks.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  wireMarks.set(socket, now);
  return { bytesIn: Math.max(0, now.read - mark.read), bytesOut: Math.max(0, now.written - mark.written) };
}
function countBodyBytes(res) {
  let written = 0;
  const count = (chunk) => {
    if (typeof chunk === "string") written += Buffer.byteLength(chunk);
    else if (chunk instanceof Uint8Array) written += chunk.byteLength;
  };
  const write = res.write;
  const end = res.end;
  res.write = function(chunk, ...rest) {
    count(chunk);
    return write.call(this, chunk, ...rest);
  };
  res.end = function(chunk, ...rest) {
    if (typeof chunk !== "function") count(chunk);
    return end.call(this, chunk, ...rest);
  };
  return {
    complete: () => {
      const declared = Number(res.getHeader("Content-Length"));
      return res.headersSent && Number.isSafeInteger(declared) && declared >= 0 && written >= declared;
    }
  };
}

// src/server/rest/contracts.ts
function restArtifact(baseUrl, owner, repo, record) {
  const url = `${baseUrl}repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions/artifacts/${record.id}`;
  return {
    id: record.id,
    // GitHub's legacy global id format: base64 of "<type len>:<Type><id>".
    node_id: Buffer.from(`08:Artifact${record.id}`).toString("base64"),
    name: record.name,
    size_in_bytes: record.finalized?.size ?? 0,
    url,
    archive_download_url: `${url}/zip`,
    // Expired artifacts are deleted by the retention sweep; until it runs they are still whole.
    expired: false,
    created_at: githubTime(record.createdAt),
    updated_at: githubTime(record.updatedAt),
    expires_at: githubTime(record.expiresAt),
    digest: record.finalized?.digest ?? "",
    // GitHub run ids are numbers; backend ids that are not (UUIDs) stay strings.
    workflow_run: { id: /^\d{1,15}$/.test(record.runId) ? Number(record.runId) : record.runId }
  };
}
function githubTime(iso) {
  return iso.replace(/\.\d+Z$/, "Z");
}

// src/core/defined.ts
function defined(key, value) {
  return value === void 0 ? {} : { [key]: value };
}

// src/server/rest/runs-routes.ts
import { createHash as createHash9 } from "node:crypto";
init_error_response();
init_respond();

// src/core/run-states.ts
var RUN_STATUSES = ["queued", "in_progress", "completed"];
var RUN_CONCLUSIONS = [
  "success",
  "failure",
  "cancelled",
  "skipped",
  "neutral",
  "timed_out",
  "action_required",
  "stale"
];

// src/server/rest/runs-routes.ts
var REPO = "^/repos/(?<owner>[^/]+)/(?<repo>[^/]+)/actions";
var REPO_RUNS = new RegExp(`${REPO}/runs/?$`);
var WORKFLOW_RUNS = new RegExp(`${REPO}/workflows/(?<workflow>[^/]+)/runs/?$`);
var RECORD_RUN = /^\/_apis\/ferry\/runs\/(?<runId>[A-Za-z0-9._-]{1,64})\/?$/;
var DEFAULT_PER_PAGE = 30;
var MAX_PER_PAGE = 100;
var MAX_RECORD_BODY = 16 * 1024;
var MAX_FIELD = 512;
async function listRuns(runs, ctx, byWorkflow) {
  const query = ctx.url.searchParams;
  const workflow = byWorkflow ? ctx.params.workflow : void 0;
  const granted = grantedRuns(ctx.access);
  const all = (await runs.list({
    workflow: workflow === void 0 || /^\d+$/.test(workflow) ? void 0 : workflow,
    branch: query.get("branch") ?? void 0,
    event: query.get("event") ?? void 0,
    status: query.get("status") ?? void 0
  })).filter(
    (run) => workflow === void 0 || !/^\d+$/.test(workflow) || workflowId(run.path) === Number(workflow)
  ).filter((run) => granted === void 0 || granted.has(run.id));
  const perPage = Math.min(positiveInt(query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE);
  const page = positiveInt(query.get("page"), 1);
  const { owner, repo } = { owner: ctx.params.owner ?? "", repo: ctx.params.repo ?? "" };
  sendJson(ctx.res, 200, {
    total_count: all.length,
    workflow_runs: all.slice((page - 1) * perPage, page * perPage).map((run) => restRun(ctx.baseUrl, owner, repo, run))
  });
}
async function recordRun(runs, ctx) {
  const runId = ctx.params.runId ?? "";
  if (!mayUseRun(ctx.access, runId)) throw runForbidden(runId, "recording the run");
  const body = expectObject(await readJsonBody(ctx.req, MAX_RECORD_BODY), "A run record");
  const status = optionalEnum(body, "status", RUN_STATUSES);
  const conclusion = body["conclusion"] === null ? null : optionalEnum(body, "conclusion", RUN_CONCLUSIONS);
  if (conclusion && status !== void 0 && status !== "completed") {
    throw badRequest2(`A run with a conclusion is completed; got status ${JSON.stringify(status)}`);
  }
  const run = await runs.record(
    runId,
    {
      ...defined("path", optionalText(body, "path")),
      ...defined("name", optionalText(body, "name")),
      ...defined("headBranch", optionalText(body, "head_branch")),
      ...defined("headSha", optionalText(body, "head_sha")),
      ...defined("event", optionalText(body, "event")),
      ...defined("status", conclusion ? "completed" : status),
      ...conclusion === void 0 ? {} : { conclusion }
    },
    /* @__PURE__ */ new Date()
  );
  sendJson(ctx.res, 200, restRun(ctx.baseUrl, ctx.params.owner ?? "", ctx.params.repo ?? "", run));
}
function restRun(baseUrl, owner, repo, run) {
  const repoUrl = `${baseUrl}repos/${encodeURIComponent(owner || "local")}/${encodeURIComponent(repo || "local")}`;
  const id = /^\d{1,15}$/.test(run.id) ? Number(run.id) : run.id;
  return {
    id,
    name: run.name,
    path: run.path,
    workflow_id: workflowId(run.path),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    created_at: run.createdAt.replace(/\.\d+Z$/, "Z"),
    updated_at: run.updatedAt.replace(/\.\d+Z$/, "Z"),
    url: `${repoUrl}/actions/runs/${encodeURIComponent(run.id)}`,
    artifacts_url: `${repoUrl}/actions/runs/${encodeURIComponent(run.id)}/artifacts`
  };
}
function workflowId(path22) {
  return createHash9("sha256").update(path22).digest().readUIntBE(0, 6);
}
function optionalText(body, key) {
  const value = body[key];
  if (value === void 0) return void 0;
  if (typeof value !== "string") throw badRequest2(`Field '${key}' must be a string`);
  if (value.length > MAX_FIELD || /[\u0000-\u001f\u007f]/.test(value)) {
    throw badRequest2(`Field '${key}' must be at most ${MAX_FIELD} printable characters`);
  }
  return value;
}
function optionalEnum(body, key, allowed) {
  const value = body[key];
  if (value === void 0) return void 0;
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw badRequest2(`Field '${key}' must be one of ${allowed.join(", ")}`);
  }
  return value;
}
function positiveInt(raw, fallback) {
  const value = raw === null ? NaN : Number(raw);
  return Number.isSafeInteger(value) && value >= 1 ? value : fallback;
}

// src/server/rest/errors.ts
init_respond();
var DOCS = "https://docs.github.com/rest/actions/artifacts";
function renderRestError(res, error2) {
  sendJson(res, error2.status, { message: error2.message, documentation_url: DOCS }, error2.headers);
}

// src/server/rest/routes.ts
var REPO2 = "^/repos/(?<owner>[^/]+)/(?<repo>[^/]+)/actions";
var RUN_ARTIFACTS = new RegExp(`${REPO2}/runs/(?<runId>[^/]+)/artifacts/?$`);
var REPO_ARTIFACTS = new RegExp(`${REPO2}/artifacts/?$`);
var ARTIFACT = new RegExp(`${REPO2}/artifacts/(?<id>[1-9]\\d{0,14})/?$`);
var ARCHIVE = new RegExp(`${REPO2}/artifacts/(?<id>[1-9]\\d{0,14})/(?<format>[^/]+)/?$`);
var ANY_REPOS = /^\/repos(?:\/.*)?$/;
var DEFAULT_PER_PAGE2 = 30;
var MAX_PER_PAGE2 = 100;
function restRoutes(service, runs, authenticate) {
  const route = (method, pattern, handler) => ({
    method,
    pattern,
    auth: "self",
    renderError: renderRestError,
    handler: async (ctx) => {
      await handler({ ...ctx, access: authenticate(ctx.req, "bearer-or-token") });
    }
  });
  return [
    route("GET", RUN_ARTIFACTS, (ctx) => list2(service, ctx, ctx.params.runId)),
    route("GET", REPO_ARTIFACTS, (ctx) => list2(service, ctx, void 0)),
    route("GET", ARTIFACT, (ctx) => getOne(service, ctx)),
    route("DELETE", ARTIFACT, (ctx) => deleteOne(service, ctx)),
    route("GET", ARCHIVE, (ctx) => download(service, ctx)),
    route("GET", REPO_RUNS, (ctx) => listRuns(runs, ctx, false)),
    route("GET", WORKFLOW_RUNS, (ctx) => listRuns(runs, ctx, true)),
    route("PUT", RECORD_RUN, (ctx) => recordRun(runs, ctx)),
    route(ANY_METHOD, ANY_REPOS, async () => {
      throw notFound3();
    })
  ];
}
async function list2(service, ctx, runId) {
  const query = ctx.url.searchParams;
  const name = query.get("name") ?? void 0;
  if (runId !== void 0 && !mayUseRun(ctx.access, runId)) throw notFound3();
  const runs = grantedRuns(ctx.access);
  const perPage = Math.min(positiveInt2(query.get("per_page"), DEFAULT_PER_PAGE2), MAX_PER_PAGE2);
  const page = positiveInt2(query.get("page"), 1);
  const all = (await service.store.records.list({
    ...runId === void 0 ? {} : { runId },
    ...name === void 0 ? {} : { name }
  })).filter((r) => runs === void 0 || runs.has(r.runId)).reverse();
  const slice2 = all.slice((page - 1) * perPage, page * perPage);
  const { owner, repo } = repoOf(ctx);
  sendJson(ctx.res, 200, {
    total_count: all.length,
    artifacts: slice2.map((r) => restArtifact(ctx.baseUrl, owner, repo, r))
  });
}
async function getOne(service, ctx) {
  const record = await visible(service, ctx.access, ctx.params.id);
  const { owner, repo } = repoOf(ctx);
  sendJson(ctx.res, 200, restArtifact(ctx.baseUrl, owner, repo, record));
}
async function deleteOne(service, ctx) {
  await visible(service, ctx.access, ctx.params.id);
  const record = await service.store.records.removeById(Number(ctx.params.id));
  if (!record) throw notFound3();
  ctx.res.writeHead(204);
  ctx.res.end();
}
async function download(service, ctx) {
  if (ctx.params.format !== "zip") throw notFound3();
  const record = await visible(service, ctx.access, ctx.params.id);
  const location = service.store.blobs.downloadUrl(ctx.baseUrl, record);
  ctx.res.writeHead(302, { Location: location, "Content-Length": "0" });
  ctx.res.end();
}
async function visible(service, access3, id) {
  const record = await service.store.records.get(Number(id));
  if (!record || !mayUseRun(access3, record.runId)) throw notFound3();
  return record;
}
function repoOf(ctx) {
  return { owner: ctx.params.owner ?? "", repo: ctx.params.repo ?? "" };
}
function positiveInt2(raw, fallback) {
  const value = raw === null ? NaN : Number(raw);
  return Number.isSafeInteger(value) && value >= 1 ? value : fallback;
}
function notFound3() {
  return new ErrorResponse(404, "Not Found");
}

// src/server/rest/protocol.ts
function createRestProtocol(service, runs, authenticate) {
  return { name: "rest", routes: restRoutes(service, runs, authenticate) };
}

// src/server/index.ts
init_run_registry();

// src/server/results/twirp-routes.ts
init_respond();

// src/server/results/blob-errors.ts
init_error_response();
import { randomUUID as randomUUID3 } from "node:crypto";
var DEFAULT_VERSION = "2025-01-05";
var BlobError = class extends ErrorResponse {
  constructor(status, code, message, headers = {}) {
    super(status, message, headers);
    this.code = code;
  }
  code;
  name = "BlobError";
};
function azureHeaders(req) {
  const headers = {
    "x-ms-request-id": randomUUID3(),
    "x-ms-version": versionOf(req)
  };
  const clientId = req.headers["x-ms-client-request-id"];
  if (typeof clientId === "string" && /^[\x21-\x7e]{1,1024}$/.test(clientId)) {
    headers["x-ms-client-request-id"] = clientId;
  }
  return headers;
}
function versionOf(req) {
  const version = req.headers["x-ms-version"];
  return typeof version === "string" && /^\d{4}-\d{2}-\d{2}$/.test(version) ? version : DEFAULT_VERSION;
}
function codeFor(status) {
  switch (status) {
    case 403:
      return "AuthenticationFailed";
    case 404:
      return "ResourceNotFound";
    case 405:
      return "UnsupportedHttpVerb";
    case 411:
      return "MissingContentLengthHeader";
    case 413:
      return "RequestBodyTooLarge";
    default:
      return status >= 500 ? "InternalError" : "InvalidInput";
  }
}
function renderBlobError(res, error2) {
  const code = error2 instanceof BlobError ? error2.code : codeFor(error2.status);
  const headers = azureHeaders(res.req);
  const message = `${error2.message}
RequestId:${headers["x-ms-request-id"] ?? ""}
Time:${(/* @__PURE__ */ new Date()).toISOString()}`;
  const body = Buffer.from(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`
  );
  res.writeHead(error2.status, {
    ...error2.headers,
    ...headers,
    "x-ms-error-code": code,
    "Content-Type": "application/xml",
    "Content-Length": String(body.length)
  });
  res.end(body);
}
function escapeXml(text) {
  return text.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

// src/server/results/blob-params.ts
var MAX_BLOCK_ID_BYTES = 64;
var BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
function decodeBlockId(raw, where) {
  if (raw === null || raw === "") {
    throw new BlobError(400, "InvalidQueryParameterValue", `${where}: the block id is missing or empty.`);
  }
  const text = raw.replace(/ /g, "+");
  if (!BASE64.test(text)) {
    throw new BlobError(
      400,
      "InvalidQueryParameterValue",
      `${where}: the block id ${JSON.stringify(raw.slice(0, 100))} is not valid base64.`
    );
  }
  const id = Buffer.from(text, "base64");
  if (id.length === 0 || id.length > MAX_BLOCK_ID_BYTES) {
    throw new BlobError(
      400,
      "InvalidBlobOrBlock",
      `${where}: a block id must be 1 to ${MAX_BLOCK_ID_BYTES} bytes before encoding, got ${id.length}.`
    );
  }
  return id;
}
function requireContentLength(req, max) {
  const raw = req.headers["content-length"];
  if (raw === void 0) {
    throw new BlobError(411, "MissingContentLengthHeader", "Content-Length is required for uploads.");
  }
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new BlobError(400, "InvalidHeaderValue", `Content-Length ${JSON.stringify(raw)} is not valid.`);
  }
  const length = Number(raw);
  if (length > max) {
    throw new BlobError(
      413,
      "RequestBodyTooLarge",
      `The request body of ${length} bytes is larger than the ${max}-byte limit.`,
      // The body is not worth reading; closing frees the socket at once.
      { Connection: "close" }
    );
  }
  return length;
}
function contentMd5(req) {
  const raw = req.headers["content-md5"];
  if (raw === void 0 || raw === "") return void 0;
  if (typeof raw !== "string" || !BASE64.test(raw) || Buffer.from(raw, "base64").length !== 16) {
    throw new BlobError(400, "InvalidMd5", `Content-MD5 ${JSON.stringify(raw)} is not a base64 MD5.`);
  }
  return raw;
}
var MIME = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;\s*[\x20-\x7e]*)?$/;
function isMimeType(value) {
  return value.length <= 255 && MIME.test(value);
}
function blobContentType(req) {
  const raw = req.headers["x-ms-blob-content-type"];
  return typeof raw === "string" && isMimeType(raw.trim()) ? raw.trim() : void 0;
}

// src/server/results/twirp-routes.ts
init_twirp_errors();

// src/server/results/twirp-fields.ts
init_twirp_errors();
var RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;
var TwirpFields = class {
  #body;
  constructor(body) {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new TwirpError("malformed", "The request body must be a JSON object");
    }
    this.#body = body;
  }
  #get(name) {
    const value = this.#body[name] ?? this.#body[lowerCamel(name)];
    return value === null ? void 0 : value;
  }
  /** A string field; protobuf omits empty strings, so absent reads as `''`. */
  string(name) {
    const value = this.#get(name);
    if (value === void 0) return "";
    if (typeof value !== "string") throw invalid3(name, "a string", value);
    return value;
  }
  /** A google.protobuf.StringValue: a bare string, or absent. */
  optionalString(name) {
    const value = this.#get(name);
    if (value === void 0) return void 0;
    if (typeof value !== "string") throw invalid3(name, "a string", value);
    return value;
  }
  /**
   * A non-negative int64 (or Int64Value), or absent. Values are kept below 2^53 so they survive
   * the client's `Number(BigInt(x))`.
   */
  optionalCount(name) {
    const value = this.#get(name);
    if (value === void 0) return void 0;
    const number = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(number) || number < 0) {
      throw invalid3(name, "a non-negative integer (int64 as a string or number)", value);
    }
    return number;
  }
  /** An int32, or 0 when absent (protobuf default). */
  int32(name) {
    const value = this.#get(name);
    if (value === void 0) return 0;
    const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== "number" || !Number.isInteger(number) || Math.abs(number) > 2 ** 31) {
      throw invalid3(name, "an int32", value);
    }
    return number;
  }
  /** A google.protobuf.Timestamp (RFC 3339 string), or absent. */
  optionalTimestamp(name) {
    const value = this.#get(name);
    if (value === void 0) return void 0;
    const time = typeof value === "string" && RFC3339.test(value) ? Date.parse(value) : NaN;
    if (!Number.isFinite(time)) throw invalid3(name, "an RFC 3339 timestamp", value);
    return new Date(time);
  }
};
function lowerCamel(name) {
  return name.replace(/_([a-z0-9])/g, (_all, ch) => ch.toUpperCase());
}
function invalid3(name, expected, value) {
  return new TwirpError(
    "invalid_argument",
    `${name} must be ${expected}, got ${JSON.stringify(value)?.slice(0, 200) ?? String(value)}`
  );
}

// src/server/results/validate.ts
init_twirp_errors();
var MAX_ID_LENGTH = 256;
function validateArtifactName3(name) {
  const problem = artifactNameProblem(name);
  if (problem !== void 0) throw new TwirpError("invalid_argument", serviceNameMessage(name, problem));
  return name;
}
function validateBackendId(value, field) {
  const control = [...value].some((ch) => ch.charCodeAt(0) < 32 || ch === "\x7F");
  if (value.length === 0 || value.length > MAX_ID_LENGTH || control) {
    throw new TwirpError(
      "invalid_argument",
      `${field} must be 1\u2013${MAX_ID_LENGTH} printable characters, got ${JSON.stringify(value.slice(0, 300))}`
    );
  }
  return value;
}

// src/server/results/twirp-routes.ts
var SERVICE = "github.actions.results.api.v1.ArtifactService";
var RPC = /^\/twirp\/github\.actions\.results\.api\.v1\.ArtifactService\/(?<method>[^/]+)$/;
var ANY_TWIRP = /^\/twirp(?:\/.*)?$/;
var DEFAULT_RETENTION_MS = 90 * 24 * 60 * 60 * 1e3;
var RPCS = {
  CreateArtifact: createArtifact,
  FinalizeArtifact: finalizeArtifact,
  ListArtifacts: listArtifacts,
  GetSignedArtifactURL: getSignedArtifactUrl,
  DeleteArtifact: deleteArtifact
};
function twirpRoutes(service) {
  return [
    {
      method: "POST",
      pattern: RPC,
      handler: (ctx) => callRpc(service, ctx),
      renderError: renderTwirpError
    },
    {
      method: ANY_METHOD,
      pattern: ANY_TWIRP,
      handler: (ctx) => {
        throw new TwirpError(
          "bad_route",
          `no handler for ${ctx.req.method ?? ""} ${ctx.url.pathname}; the ${SERVICE} methods are POST ${Object.keys(RPCS).join(", ")}`
        );
      },
      renderError: renderTwirpError
    }
  ];
}
async function callRpc(service, ctx) {
  const name = ctx.params.method ?? "";
  const rpc = Object.hasOwn(RPCS, name) ? RPCS[name] : void 0;
  if (!rpc) {
    throw new TwirpError("bad_route", `no handler for path ${ctx.url.pathname}: unknown method ${name}`);
  }
  checkContentType(ctx.req);
  const fields = new TwirpFields(await readJsonBody(ctx.req, service.limits.maxJsonBodyBytes));
  sendJson(ctx.res, 200, await rpc(service, fields, ctx));
}
function checkContentType(req) {
  const type = req.headers["content-type"]?.split(";", 1)[0]?.trim().toLowerCase();
  if (type !== void 0 && type !== "" && type !== "application/json") {
    throw new TwirpError(
      "bad_route",
      `unexpected Content-Type ${JSON.stringify(type)}: only application/json is supported`
    );
  }
}
function runAndJob(fields) {
  return {
    runId: validateBackendId(fields.string("workflow_run_backend_id"), "workflow_run_backend_id"),
    jobId: validateBackendId(fields.string("workflow_job_run_backend_id"), "workflow_job_run_backend_id")
  };
}
function writerRunAndJob(fields, access3, rpc) {
  const ids = runAndJob(fields);
  if (!mayWriteAsJob(access3, ids.runId, ids.jobId)) {
    throw new TwirpError(
      "permission_denied",
      `${rpc}: the runtime token does not grant job ${JSON.stringify(ids.jobId)} of workflow run ${JSON.stringify(ids.runId)}`
    );
  }
  return ids;
}
function readerRunAndJob(fields, access3, rpc) {
  const ids = runAndJob(fields);
  if (!mayUseRun(access3, ids.runId)) {
    throw new TwirpError(
      "permission_denied",
      `${rpc}: the runtime token does not grant workflow run ${JSON.stringify(ids.runId)}`
    );
  }
  return ids;
}
async function createArtifact(service, fields, ctx) {
  const { runId, jobId } = writerRunAndJob(fields, ctx.access, "CreateArtifact");
  const name = validateArtifactName3(fields.string("name"));
  const mimeType = fields.optionalString("mime_type") ?? "application/zip";
  if (!isMimeType(mimeType)) {
    throw new TwirpError(
      "invalid_argument",
      `mime_type ${JSON.stringify(mimeType)} is not a valid MIME type`
    );
  }
  const now = Date.now();
  const expiresAt3 = fields.optionalTimestamp("expires_at") ?? new Date(now + DEFAULT_RETENTION_MS);
  if (expiresAt3.getTime() <= now) {
    throw new TwirpError("invalid_argument", `expires_at ${expiresAt3.toISOString()} is not in the future`);
  }
  const record = await service.store.records.create({
    runId,
    jobId,
    name,
    mimeType,
    version: fields.int32("version"),
    expiresAt: expiresAt3
  });
  return { ok: true, signed_upload_url: service.store.blobs.uploadUrl(ctx.baseUrl, record) };
}
async function finalizeArtifact(service, fields, ctx) {
  const { runId } = writerRunAndJob(fields, ctx.access, "FinalizeArtifact");
  const name = validateArtifactName3(fields.string("name"));
  const record = await service.store.records.finalize({
    runId,
    name,
    size: fields.optionalCount("size"),
    hash: fields.optionalString("hash")
  });
  return { ok: true, artifact_id: String(record.id) };
}
async function listArtifacts(service, fields, ctx) {
  const { runId } = readerRunAndJob(fields, ctx.access, "ListArtifacts");
  const name = fields.optionalString("name_filter");
  const id = fields.optionalCount("id_filter");
  const artifacts = await service.store.records.list({
    runId,
    ...name === void 0 ? {} : { name },
    ...id === void 0 ? {} : { id }
  });
  return { artifacts: artifacts.map(monolithArtifact) };
}
async function getSignedArtifactUrl(service, fields, ctx) {
  const { runId, jobId } = readerRunAndJob(fields, ctx.access, "GetSignedArtifactURL");
  const name = validateArtifactName3(fields.string("name"));
  const candidates = await service.store.records.list({ runId, name });
  const record = candidates.filter((r) => r.jobId === jobId).at(-1) ?? candidates.at(-1);
  if (!record) throw notFound4(runId, name);
  return { signed_url: service.store.blobs.downloadUrl(ctx.baseUrl, record) };
}
async function deleteArtifact(service, fields, ctx) {
  const { runId, jobId } = readerRunAndJob(fields, ctx.access, "DeleteArtifact");
  const name = validateArtifactName3(fields.string("name"));
  const record = await service.store.records.remove(runId, name, jobId);
  if (!record) {
    throw new TwirpError(
      "not_found",
      `No artifact named ${JSON.stringify(name)} in workflow run ${JSON.stringify(runId)}`
    );
  }
  return { ok: true, artifact_id: String(record.id) };
}
function monolithArtifact(record) {
  return {
    workflow_run_backend_id: record.runId,
    workflow_job_run_backend_id: record.jobId,
    database_id: String(record.id),
    name: record.name,
    size: String(record.finalized?.size ?? 0),
    created_at: record.createdAt,
    ...record.finalized?.digest ? { digest: record.finalized.digest } : {}
  };
}
function notFound4(runId, name) {
  return new TwirpError(
    "not_found",
    `No finalized artifact named ${JSON.stringify(name)} in workflow run ${JSON.stringify(runId)}`
  );
}

// src/server/results/protocol.ts
function createResultsProtocol(service) {
  return {
    name: "results",
    routes: [...twirpRoutes(service), ...service.store.blobs.routes],
    close: async () => service.store.records.close()
  };
}

// src/server/retention/eviction-policy.ts
function selectEvictions(candidates, policy, now) {
  const oldestFirst = [...candidates].sort((a, b) => a.finalizedAt - b.finalizedAt || a.id - b.id);
  let total = oldestFirst.reduce((sum, c) => sum + c.size, 0);
  let remaining = oldestFirst.length;
  const overBytes = policy.maxBytes !== void 0 && total > policy.maxBytes;
  const byteTarget = policy.lowWaterBytes ?? policy.maxBytes ?? Number.POSITIVE_INFINITY;
  const evicted = [];
  for (const candidate of oldestFirst) {
    const tooOld = policy.maxAgeSeconds !== void 0 && now - candidate.finalizedAt > policy.maxAgeSeconds * 1e3;
    const tooMany = policy.maxEntries !== void 0 && remaining > policy.maxEntries;
    const tooBig = overBytes && total > byteTarget;
    if (!tooOld && !tooMany && !tooBig) break;
    evicted.push(candidate);
    total -= candidate.size;
    remaining--;
  }
  return evicted;
}

// src/server/retention/sweeper.ts
var DEFAULT_SWEEP_INTERVAL_MS = 10 * 60 * 1e3;
var RetentionSweeper = class {
  #index;
  #legacy;
  #intervalMs;
  #eviction;
  #now;
  #onError;
  #lease;
  #stats = {
    runs: 0,
    deletedArtifacts: 0,
    deletedBytes: 0,
    evictedArtifacts: 0,
    evictedBytes: 0,
    runStateCorrections: 0,
    runBlobsDeleted: 0,
    failures: 0,
    lastRunAt: null,
    lastDurationMs: null
  };
  #timer;
  #running;
  constructor(index, options = {}) {
    this.#index = index;
    this.#legacy = options.legacy;
    this.#intervalMs = options.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (!Number.isFinite(this.#intervalMs) || this.#intervalMs <= 0) {
      throw new RangeError(
        `sweep interval must be a positive number of milliseconds, got ${this.#intervalMs}`
      );
    }
    this.#eviction = options.eviction;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {
    });
    this.#lease = options.lease;
  }
  /** Sweeps now and then every interval until stop(). The timer never keeps the process alive. */
  start() {
    if (this.#timer) return;
    const tick = () => {
      void this.sweep().catch(() => {
      });
    };
    tick();
    this.#timer = setInterval(tick, this.#intervalMs);
    this.#timer.unref();
  }
  /** Stops the timer and waits for a sweep in progress. */
  async stop() {
    clearInterval(this.#timer);
    this.#timer = void 0;
    await this.#running;
  }
  stats() {
    return { ...this.#stats };
  }
  /** One sweep; a call while one runs joins it instead of starting a second. */
  sweep() {
    this.#running ??= this.#sweepLeased().finally(() => {
      this.#running = void 0;
    });
    return this.#running;
  }
  async #sweepLeased() {
    if (!this.#lease) return this.#sweepOnce();
    let held;
    try {
      held = await this.#lease.acquire();
    } catch (error2) {
      this.#stats.failures++;
      this.#onError(error2);
      throw error2;
    }
    if (!held) return;
    try {
      await this.#sweepOnce();
    } finally {
      await this.#lease.release().catch((error2) => this.#onError(error2));
    }
  }
  async #sweepOnce() {
    const started = this.#now();
    const t0 = performance.now();
    try {
      const finalized = await this.#index.list({});
      const expired = finalized.filter((r) => Date.parse(r.expiresAt) <= started);
      for (const record of expired) {
        const removed = await this.#index.removeById(record.id);
        if (removed) {
          this.#stats.deletedArtifacts++;
          this.#stats.deletedBytes += sizeOf(removed);
        }
      }
      for (const { containerId } of await this.#legacy?.expired(started) ?? []) {
        const removed = await this.#legacy?.removeExpired(containerId, started);
        if (removed) {
          this.#stats.deletedArtifacts++;
          this.#stats.deletedBytes += Math.max(0, removed.size);
        }
      }
      if (this.#eviction) {
        const gone = new Set(expired.map((r) => r.id));
        const remaining = finalized.filter((r) => !gone.has(r.id));
        const byId = new Map(remaining.map((r) => [r.id, r]));
        const candidates = remaining.map((r) => ({
          id: r.id,
          size: sizeOf(r),
          finalizedAt: Date.parse(r.finalized?.at ?? r.updatedAt)
        }));
        for (const victim of selectEvictions(candidates, this.#eviction, started)) {
          if (!byId.has(victim.id)) continue;
          const removed = await this.#index.removeById(victim.id);
          if (removed) {
            this.#stats.evictedArtifacts++;
            this.#stats.evictedBytes += sizeOf(removed);
          }
        }
      }
      const tidied = await this.#index.tidy?.();
      if (tidied) {
        this.#stats.runStateCorrections += tidied.corrections;
        this.#stats.runBlobsDeleted += tidied.deleted;
      }
    } catch (error2) {
      this.#stats.failures++;
      this.#onError(error2);
      throw error2;
    } finally {
      this.#stats.runs++;
      this.#stats.lastRunAt = new Date(this.#now()).toISOString();
      this.#stats.lastDurationMs = Math.round(performance.now() - t0);
    }
  }
};
function sizeOf(record) {
  return record.finalized?.size ?? 0;
}

// src/server/results/service.ts
init_limits();

// src/server/observe/fs-probe.ts
import { randomBytes as randomBytes7 } from "node:crypto";
import { readFile as readFile4, rm as rm8, writeFile as writeFile2 } from "node:fs/promises";
import { join as join3 } from "node:path";
function filesystemProbe(dataDir) {
  return async () => {
    const file = join3(dataDir, `.status-probe-${process.pid}`);
    const token = randomBytes7(8).toString("hex");
    try {
      await writeFile2(file, token);
      if (await readFile4(file, "utf8") !== token)
        throw new Error("the probe file read back different bytes");
    } finally {
      await rm8(file, { force: true }).catch(() => void 0);
    }
  };
}

// src/server/results/service.ts
init_artifact_index();

// src/server/results/blob-store.ts
init_limits();
init_atomic_file();
init_durable();
init_keyed_mutex();
import { createHash as createHash13, randomBytes as randomBytes8 } from "node:crypto";
import { access as access2, link as link3, mkdir as mkdir12, readdir as readdir7, rename as rename4, rm as rm10, stat as stat10 } from "node:fs/promises";
import { join as join6 } from "node:path";

// src/server/results/hash-files.ts
import { createHash as createHash10 } from "node:crypto";
import { open as open20 } from "node:fs/promises";
var READ_BUFFER = 1024 * 1024;
async function hashFiles(files) {
  const buffer = Buffer.allocUnsafe(READ_BUFFER);
  const hash = createHash10("sha256");
  let size = 0;
  for (const file of files) {
    const input = await open20(file, "r");
    try {
      for (; ; ) {
        const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        size += bytesRead;
      }
    } finally {
      await input.close();
    }
  }
  return { size, sha256: hash.digest("hex") };
}

// src/server/results/layout.ts
import { createHash as createHash11 } from "node:crypto";
import { join as join5 } from "node:path";
var ResultsLayout = class {
  root;
  constructor(dataDir) {
    this.root = join5(dataDir, "results");
  }
  get keyFile() {
    return join5(this.root, "signing-key");
  }
  get counterFile() {
    return join5(this.root, "next-artifact-id.json");
  }
  get artifactsDir() {
    return join5(this.root, "artifacts");
  }
  artifactFile(id) {
    return join5(this.artifactsDir, `${id}.json`);
  }
  get blobsDir() {
    return join5(this.root, "blobs");
  }
  blobDir(blobId) {
    return join5(this.blobsDir, blobId);
  }
  blobStateFile(blobId) {
    return join5(this.blobDir(blobId), "state.json");
  }
  blobDataFile(blobId) {
    return join5(this.blobDir(blobId), "data");
  }
  blocksDir(blobId) {
    return join5(this.blobDir(blobId), "blocks");
  }
  blockFile(blobId, blockId2) {
    return this.blockFileByKey(blobId, blockKey(blockId2));
  }
  blockFileByKey(blobId, key) {
    return join5(this.blocksDir(blobId), key);
  }
  partsDir(blobId, dir) {
    return join5(this.blobDir(blobId), dir);
  }
  partFile(blobId, dir, key) {
    return join5(this.blobDir(blobId), dir, key);
  }
  /** A unique temp file inside the blob's directory (same file system, so rename is atomic). */
  tempFile(blobId, purpose, unique) {
    return join5(this.blobDir(blobId), `${purpose}-${unique}.tmp`);
  }
};
function blockKey(blockId2) {
  return createHash11("sha256").update(blockId2).digest("hex");
}
var PARTS_DIR = /^parts-[0-9a-f]{16}$/;
var BLOB_ID = /^[0-9a-f]{32}$/;

// src/server/results/receive-body.ts
import { createHash as createHash12 } from "node:crypto";
import { createWriteStream as createWriteStream3 } from "node:fs";
import { Readable as Readable3, Transform as Transform4 } from "node:stream";
import { pipeline as pipeline8 } from "node:stream/promises";
var WRITE_HIGH_WATER_MARK = 1024 * 1024;
async function receiveBody(req, file, expect) {
  const md5 = expect.md5 === void 0 ? void 0 : createHash12("md5");
  const sha256 = expect.sha256 ? createHash12("sha256") : void 0;
  const hashes = [md5, sha256].filter((h) => h !== void 0);
  let size = 0;
  const tap = new Transform4({
    transform(chunk, _encoding, callback) {
      size += chunk.length;
      for (const hash of hashes) hash.update(chunk);
      callback(null, chunk);
    }
  });
  await pipeline8(
    Readable3.from(req.iterator({ destroyOnReturn: false })),
    tap,
    createWriteStream3(file, { flags: "wx", highWaterMark: WRITE_HIGH_WATER_MARK, flush: expect.durable })
  );
  if (size !== expect.length) {
    throw new BlobError(
      400,
      "InvalidInput",
      `The body has ${size} bytes but Content-Length is ${expect.length}.`
    );
  }
  if (md5 && expect.md5 !== void 0) {
    const actual = md5.digest("base64");
    if (actual !== expect.md5) {
      throw new BlobError(
        400,
        "Md5Mismatch",
        `The MD5 value specified in the request did not match with the MD5 value calculated by the server. Content-MD5: ${expect.md5}, received bytes: ${actual}.`
      );
    }
  }
  return { size, sha256: sha256?.digest("hex") };
}

// src/server/results/blob-store.ts
var BlobStore = class _BlobStore {
  #layout;
  #states = /* @__PURE__ */ new Map();
  #locks = new KeyedMutex();
  #staged = /* @__PURE__ */ new Map();
  #limits;
  /** Downloads in progress, by blob id (see openRead). */
  #readers = /* @__PURE__ */ new Map();
  /** Blobs deleted while being read: their files go with the last reader. */
  #removeWhenRead = /* @__PURE__ */ new Set();
  constructor(layout, limits) {
    this.#layout = layout;
    this.#limits = limits;
  }
  static async open(layout, limits = DEFAULT_LIMITS) {
    const store = new _BlobStore(layout, limits);
    await mkdir12(layout.blobsDir, { recursive: true });
    await store.#load();
    return store;
  }
  async #load() {
    const entries = (await readdir7(this.#layout.blobsDir)).filter((e) => BLOB_ID.test(e));
    await Promise.all(
      entries.map(async (blobId) => {
        const state = await readJsonFile(this.#layout.blobStateFile(blobId));
        if (!isBlobState(state)) return;
        this.#states.set(blobId, state);
        const dir = this.#layout.blobDir(blobId);
        const live = state.manifest?.dir;
        const files = await readdir7(dir);
        await Promise.all(
          files.filter(
            (f) => f.endsWith(".tmp") || PARTS_DIR.test(f) && f !== live || f === "data" && live !== void 0
          ).map((f) => rm10(join6(dir, f), { recursive: true, force: true }))
        );
        this.#staged.set(blobId, await this.#countStaged(blobId));
      })
    );
  }
  async #countStaged(blobId) {
    const dir = this.#layout.blocksDir(blobId);
    const names = await readdir7(dir).catch((error2) => {
      if (isNotFound(error2)) return [];
      throw error2;
    });
    const sizes = await Promise.all(names.map(async (name) => (await stat10(join6(dir, name))).size));
    return { count: names.length, bytes: sizes.reduce((a, b) => a + b, 0) };
  }
  /** Every blob directory on disk, including half-created ones (for orphan cleanup). */
  async idsOnDisk() {
    return (await readdir7(this.#layout.blobsDir)).filter((e) => BLOB_ID.test(e));
  }
  has(blobId) {
    return this.#states.has(blobId);
  }
  committed(blobId) {
    return this.#states.get(blobId)?.committed ?? void 0;
  }
  /** The committed bytes as files to read in order (one file for Put Blob, the blocks for a list). */
  segments(blobId) {
    const state = this.#states.get(blobId);
    if (!state?.committed) return [];
    const manifest = state.manifest;
    if (!manifest) return [{ file: this.#layout.blobDataFile(blobId), size: state.committed.size }];
    return manifest.parts.map((key, i) => ({
      file: this.#layout.partFile(blobId, manifest.dir, key),
      size: manifest.sizes[i] ?? 0
    }));
  }
  /** Bytes of the committed blob actually on disk (undefined when a piece is missing). */
  async storedSize(blobId) {
    if (!this.#states.get(blobId)?.committed) return void 0;
    const segments = this.segments(blobId);
    const sizes = /* @__PURE__ */ new Map();
    await Promise.all(
      [...new Set(segments.map((s) => s.file))].map(
        async (file) => sizes.set(file, await sizeIfExists(file))
      )
    );
    let total = 0;
    for (const { file, size } of segments) {
      const onDisk = sizes.get(file);
      if (onDisk !== size) return void 0;
      total += onDisk;
    }
    return total;
  }
  /** A new, empty blob under a fresh random id. */
  async create() {
    const blobId = randomBytes8(16).toString("hex");
    await mkdir12(this.#layout.blocksDir(blobId), { recursive: true });
    const state = { blockIdBytes: null, committed: null };
    await writeJsonAtomic(this.#layout.blobStateFile(blobId), state);
    this.#states.set(blobId, state);
    this.#staged.set(blobId, { count: 0, bytes: 0 });
    return blobId;
  }
  /** Deletes the blob and everything staged for it. Downloads already streaming keep their open file. */
  async remove(blobId) {
    await this.#locks.run(blobId, async () => {
      this.#states.delete(blobId);
      this.#staged.delete(blobId);
      if (this.#readers.has(blobId)) {
        this.#removeWhenRead.add(blobId);
        return;
      }
      await this.#removeFiles(blobId);
    });
  }
  async #removeFiles(blobId) {
    await rm10(this.#layout.blobDir(blobId), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }
  /**
   * The committed blob's segments for a download, kept on disk until `release()` even if the
   * blob is deleted meanwhile (retention sweep, eviction, DeleteArtifact): a download that began
   * finishes whole. Undefined when nothing is committed.
   */
  openRead(blobId) {
    if (!this.#states.get(blobId)?.committed) return void 0;
    const segments = this.segments(blobId);
    this.#readers.set(blobId, (this.#readers.get(blobId) ?? 0) + 1);
    let released = false;
    return {
      segments,
      release: async () => {
        if (released) return;
        released = true;
        const left = (this.#readers.get(blobId) ?? 1) - 1;
        if (left > 0) {
          this.#readers.set(blobId, left);
          return;
        }
        this.#readers.delete(blobId);
        if (this.#removeWhenRead.delete(blobId)) await this.#removeFiles(blobId);
      }
    };
  }
  /** Runs `work` while no commit of this blob can start or finish. */
  exclusive(blobId, work) {
    return this.#locks.run(blobId, work);
  }
  /** Put Block: stores the body under its block id, replacing an earlier block with that id. */
  async stageBlock(blobId, blockId2, req, body) {
    const state = this.#require(blobId);
    if (state.blockIdBytes === null) {
      state.blockIdBytes = blockId2.length;
      await this.#locks.run(blobId, () => this.#persist(blobId));
    } else if (state.blockIdBytes !== blockId2.length) {
      throw new BlobError(
        400,
        "InvalidBlobOrBlock",
        `The specified blob or block content is invalid: all block ids of a blob must have the same length; this blob uses ${state.blockIdBytes}-byte ids, this one has ${blockId2.length} bytes.`
      );
    }
    const target = this.#layout.blockFile(blobId, blockId2);
    const current = this.#staged.get(blobId);
    if (current && current.count >= this.#limits.maxStagedBlocks && await sizeIfExists(target) === void 0) {
      throw new BlobError(
        409,
        "BlockCountExceedsLimit",
        `The uncommitted block count cannot exceed the maximum limit of ${this.#limits.maxStagedBlocks} blocks (maxStagedBlocks).`
      );
    }
    const staged = this.#reserveStaged(blobId, body.length);
    const temp = this.#layout.tempFile(blobId, "block", randomBytes8(8).toString("hex"));
    let replaced;
    try {
      await receiveBody(req, temp, { ...body, sha256: false, durable: false });
      replaced = await sizeIfExists(target);
      await rename4(temp, target);
    } catch (error2) {
      staged.bytes -= body.length;
      await rm10(temp, { force: true });
      throw this.#goneIfMissing(blobId, error2);
    }
    if (replaced === void 0) staged.count++;
    else staged.bytes -= replaced;
  }
  /**
   * Counts a block's bytes against the blob's staged total before a byte is read, so concurrent
   * blocks cannot together overshoot it: without this, a client could stage blocks without end
   * and never commit them (each block alone being within the limit).
   */
  #reserveStaged(blobId, length) {
    const staged = this.#staged.get(blobId) ?? { count: 0, bytes: 0 };
    this.#staged.set(blobId, staged);
    if (staged.bytes + length > this.#limits.maxArtifactBytes) {
      throw new BlobError(
        413,
        "RequestBodyTooLarge",
        `Staging ${length} more bytes would take this blob's uncommitted blocks past the server's limit of ${this.#limits.maxArtifactBytes} bytes (maxArtifactBytes).`,
        { Connection: "close" }
      );
    }
    staged.bytes += length;
    return staged;
  }
  /**
   * Put Block List: the blob becomes the listed blocks in list order. Every id must have been
   * staged; then all staged blocks are deleted (Azure deletes unlisted ones; listed ones now live
   * in the blob). A repeat of the last list after that (a lost 201, retried by the SDK) is answered
   * from the recorded commit instead of failing on the deleted blocks.
   */
  async commitBlockList(blobId, ids, contentType, guard) {
    return this.#locks.run(blobId, async () => {
      guard();
      const state = this.#require(blobId);
      if (ids.length > this.#limits.maxBlocksPerList) {
        throw new BlobError(
          400,
          "BlockListTooLong",
          `The block list may not contain more than ${this.#limits.maxBlocksPerList} blocks (maxBlocksPerList); it has ${ids.length}.`
        );
      }
      const listDigest = digestOfList(ids);
      const files = ids.map((id) => this.#layout.blockFile(blobId, id));
      const missing = await firstMissing(files);
      if (missing !== void 0) {
        if (state.committed?.blockList === listDigest) return state.committed;
        throw new BlobError(
          400,
          "InvalidBlockList",
          `The specified block list is invalid: block #${missing} (${ids[missing]?.toString("base64") ?? ""}) was never staged.`
        );
      }
      await this.#checkCommitSize(files);
      const keys = ids.map(blockKey);
      const dir = `parts-${randomBytes8(8).toString("hex")}`;
      const partsDir = this.#layout.partsDir(blobId, dir);
      try {
        await mkdir12(partsDir);
        const unique = [...new Set(keys)];
        await Promise.all(
          unique.map((key) => link3(this.#layout.blockFileByKey(blobId, key), join6(partsDir, key)))
        );
        const parts = keys.map((key) => join6(partsDir, key));
        const linked = /* @__PURE__ */ new Map();
        await Promise.all(unique.map(async (key) => linked.set(key, (await stat10(join6(partsDir, key))).size)));
        await Promise.all(unique.map((key) => fsyncFile(join6(partsDir, key))));
        await fsyncDir(partsDir);
        const { size, sha256 } = await hashFiles(parts);
        const previous = state.manifest?.dir;
        const hadData = state.committed !== null && !state.manifest;
        state.committed = committedBlob(size, sha256, contentType, listDigest);
        state.manifest = { dir, parts: keys, sizes: keys.map((key) => linked.get(key) ?? 0) };
        await this.#persist(blobId);
        if (previous !== void 0)
          await rm10(this.#layout.partsDir(blobId, previous), { recursive: true, force: true });
        if (hadData) await rm10(this.#layout.blobDataFile(blobId), { force: true });
      } catch (error2) {
        if (state.manifest?.dir !== dir) await rm10(partsDir, { recursive: true, force: true });
        throw this.#goneIfMissing(blobId, error2);
      }
      await this.#dropStagedBlocks(blobId);
      return state.committed;
    });
  }
  /** Put Blob: the body is the whole blob; staged blocks are discarded. */
  async putBlob(blobId, req, body, contentType, guard) {
    this.#require(blobId);
    const temp = this.#layout.tempFile(blobId, "blob", randomBytes8(8).toString("hex"));
    try {
      const received = await receiveBody(req, temp, { ...body, sha256: true, durable: true });
      return await this.#locks.run(blobId, async () => {
        guard();
        const state = this.#require(blobId);
        await rename4(temp, this.#layout.blobDataFile(blobId));
        await fsyncDir(this.#layout.blobDir(blobId));
        const previous = state.manifest?.dir;
        state.committed = committedBlob(received.size, received.sha256 ?? "", contentType, null);
        state.blockIdBytes = null;
        state.manifest = null;
        await this.#persist(blobId);
        if (previous !== void 0)
          await rm10(this.#layout.partsDir(blobId, previous), { recursive: true, force: true });
        await this.#dropStagedBlocks(blobId);
        return state.committed;
      });
    } catch (error2) {
      await rm10(temp, { force: true });
      throw this.#goneIfMissing(blobId, error2);
    }
  }
  #require(blobId) {
    const state = this.#states.get(blobId);
    if (!state) throw blobNotFound();
    return state;
  }
  /** A file error on a blob deleted meanwhile is the client's 404, not our 500. */
  #goneIfMissing(blobId, error2) {
    return isNotFound(error2) && !this.#states.has(blobId) ? blobNotFound() : error2;
  }
  /** Writes the in-memory state; callers hold the blob's lock, so the newest state always lands last. */
  async #persist(blobId) {
    const state = this.#states.get(blobId);
    if (state) await writeJsonAtomic(this.#layout.blobStateFile(blobId), state);
  }
  /** Refuses a commit whose blob would exceed maxArtifactBytes; sizes are summed per list entry. */
  async #checkCommitSize(files) {
    const sizes = /* @__PURE__ */ new Map();
    await Promise.all([...new Set(files)].map(async (file) => sizes.set(file, (await stat10(file)).size)));
    let total = 0;
    for (const file of files) total += sizes.get(file) ?? 0;
    if (total > this.#limits.maxArtifactBytes) {
      throw new BlobError(
        413,
        "BlobTooLarge",
        `The committed blob would be ${total} bytes, more than the server's limit of ${this.#limits.maxArtifactBytes} bytes (maxArtifactBytes).`
      );
    }
  }
  async #dropStagedBlocks(blobId) {
    this.#staged.set(blobId, { count: 0, bytes: 0 });
    const dir = this.#layout.blocksDir(blobId);
    const names = await readdir7(dir).catch((error2) => {
      if (isNotFound(error2)) return [];
      throw error2;
    });
    await Promise.all(names.map((name) => rm10(join6(dir, name), { force: true })));
  }
};
function blobNotFound() {
  return new BlobError(404, "BlobNotFound", "The specified blob does not exist.");
}
function committedBlob(size, sha256, contentType, blockList) {
  return {
    size,
    sha256,
    contentType: contentType ?? null,
    etag: `"0x${sha256.slice(0, 24).toUpperCase()}"`,
    lastModified: (/* @__PURE__ */ new Date()).toISOString(),
    blockList
  };
}
function digestOfList(ids) {
  const hash = createHash13("sha256");
  for (const id of ids) hash.update(Buffer.from([id.length])).update(id);
  return hash.digest("hex");
}
async function sizeIfExists(file) {
  try {
    return (await stat10(file)).size;
  } catch (error2) {
    if (isNotFound(error2)) return void 0;
    throw error2;
  }
}
async function firstMissing(files) {
  const checks = await Promise.all(
    [...new Set(files)].map(async (file) => {
      try {
        await access2(file);
        return void 0;
      } catch (error2) {
        if (isNotFound(error2)) return file;
        throw error2;
      }
    })
  );
  const missing = new Set(checks.filter((f) => f !== void 0));
  const index = files.findIndex((f) => missing.has(f));
  return index === -1 ? void 0 : index;
}
function isBlobState(value) {
  if (typeof value !== "object" || value === null) return false;
  const s = value;
  return (s.blockIdBytes === null || typeof s.blockIdBytes === "number") && "committed" in s && (s.manifest === void 0 || s.manifest === null || isManifest(s.manifest));
}
function isManifest(value) {
  if (typeof value !== "object" || value === null) return false;
  const m = value;
  return typeof m.dir === "string" && PARTS_DIR.test(m.dir) && Array.isArray(m.parts) && Array.isArray(m.sizes) && m.parts.length === m.sizes.length && m.parts.every((p) => typeof p === "string" && /^[0-9a-f]{64}$/.test(p)) && m.sizes.every((n) => Number.isSafeInteger(n) && n >= 0);
}

// src/server/results/blob-download.ts
import { createReadStream as createReadStream3 } from "node:fs";
import { open as open21 } from "node:fs/promises";
import { Readable as Readable4 } from "node:stream";
import { pipeline as pipeline9 } from "node:stream/promises";

// src/server/results/content-disposition.ts
function contentDisposition(fileName) {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/gu, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc8187(fileName)}`;
}
function encodeRfc8187(value) {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`
  );
}
function downloadName(name, contentType) {
  const isZip = contentType.split(";", 1)[0]?.trim().toLowerCase() === "application/zip";
  return isZip && !name.toLowerCase().endsWith(".zip") ? `${name}.zip` : name;
}

// src/server/results/send-body.ts
import { finished as finished3 } from "node:stream/promises";
async function sendBody(res, body) {
  let gone = false;
  const onClose = () => {
    gone = true;
  };
  res.once("close", onClose);
  try {
    for await (const piece of body) {
      if (gone || res.destroyed) throw premature();
      let room;
      if (Buffer.isBuffer(piece)) {
        room = res.write(piece);
      } else {
        res.cork();
        room = true;
        for (const chunk of piece) room = res.write(chunk);
        res.uncork();
      }
      if (!room) await drained2(res);
    }
    if (gone || res.destroyed) throw premature();
    res.end();
    await finished3(res);
  } catch (error2) {
    res.destroy();
    throw error2;
  } finally {
    res.off("close", onClose);
  }
}
function drained2(res) {
  return new Promise((resolve2) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve2();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
function premature() {
  return Object.assign(new Error("the client closed the connection before the answer was complete"), {
    code: "ERR_STREAM_PREMATURE_CLOSE"
  });
}

// src/server/results/blob-download.ts
var READ_HIGH_WATER_MARK2 = 1024 * 1024;
async function sendBlob(req, res, blob, baseHeaders) {
  const validators2 = {
    ETag: blob.etag,
    "Last-Modified": new Date(blob.lastModified).toUTCString()
  };
  const ifMatch = req.headers["if-match"];
  if (ifMatch !== void 0 && !etagListMatches(ifMatch, blob.etag, "strong")) {
    throw new BlobError(
      412,
      "ConditionNotMet",
      "The condition specified using HTTP conditional header(s) is not met."
    );
  }
  const ifNoneMatch = req.headers["if-none-match"];
  if (ifNoneMatch !== void 0 && etagListMatches(ifNoneMatch, blob.etag, "weak")) {
    res.writeHead(304, { ...baseHeaders, ...validators2 });
    res.end();
    return;
  }
  const ifRange = req.headers["if-range"];
  const rangeHeader = req.headers["x-ms-range"] ?? req.headers.range;
  let wanted = typeof rangeHeader === "string" && (ifRange === void 0 || ifRange === blob.etag) ? parseRange(rangeHeader, blob.size) : void 0;
  const headers = {
    ...baseHeaders,
    ...validators2,
    "Content-Type": blob.contentType,
    "Accept-Ranges": "bytes",
    "Content-Disposition": contentDisposition(blob.fileName),
    "x-ms-blob-type": "BlockBlob"
  };
  const whole = wanted !== void 0 && wanted[0] === 0 && wanted[1] === blob.size - 1;
  if (whole && blob.wholeRangeAsFull) wanted = void 0;
  const [start, end] = wanted ?? [0, blob.size - 1];
  const length = end - start + 1;
  headers["Content-Length"] = String(length);
  if (wanted) headers["Content-Range"] = `bytes ${start}-${end}/${blob.size}`;
  if (length === 0 || req.method === "HEAD") {
    res.writeHead(wanted ? 206 : 200, headers);
    res.end();
    return;
  }
  if (blob.body) {
    const body = await blob.body(start, end);
    res.writeHead(wanted ? 206 : 200, headers);
    await sendBody(res, body);
    return;
  }
  const pieces = slice(blob.segments, start, end);
  const first = pieces[0];
  const handle = first ? await open21(first.file, "r") : void 0;
  res.writeHead(wanted ? 206 : 200, headers);
  await pipeline9(Readable4.from(readPieces(pieces, handle)), res);
}
function slice(segments, start, end) {
  const pieces = [];
  let offset = 0;
  for (const segment of segments) {
    const segEnd = offset + segment.size - 1;
    if (segment.size > 0 && segEnd >= start && offset <= end) {
      pieces.push({
        file: segment.file,
        start: Math.max(start, offset) - offset,
        end: Math.min(end, segEnd) - offset
      });
    }
    offset += segment.size;
    if (offset > end) break;
  }
  return pieces;
}
async function* readPieces(pieces, firstHandle) {
  let handle = firstHandle;
  try {
    for (const piece of pieces) {
      handle ??= await open21(piece.file, "r");
      const source = createReadStream3("", {
        fd: handle,
        start: piece.start,
        end: piece.end,
        highWaterMark: READ_HIGH_WATER_MARK2
      });
      handle = void 0;
      for await (const chunk of source) yield chunk;
    }
  } finally {
    await handle?.close();
  }
}
function parseRange(header4, size) {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header4.trim());
  if (!match || match[1] === "" && match[2] === "") return void 0;
  const first = match[1] === "" ? void 0 : Number(match[1]);
  const last = match[2] === "" ? void 0 : Number(match[2]);
  if (first !== void 0 && last !== void 0 && last < first) return void 0;
  let range;
  if (first === void 0) {
    if (last === void 0 || last === 0 || size === 0) throw unsatisfiable(size);
    range = [Math.max(0, size - last), size - 1];
  } else {
    if (first >= size) throw unsatisfiable(size);
    range = [first, Math.min(last ?? size - 1, size - 1)];
  }
  return range;
}
function unsatisfiable(size) {
  return new BlobError(
    416,
    "InvalidRange",
    "The range specified is invalid for the current size of the resource.",
    {
      "Content-Range": `bytes */${size}`
    }
  );
}
function etagListMatches(header4, etag, comparison) {
  if (header4.trim() === "*") return true;
  return header4.split(",").some((raw) => {
    const tag = raw.trim();
    if (tag.startsWith("W/")) return comparison === "weak" && tag.slice(2) === etag;
    return tag === etag;
  });
}

// src/server/results/blob-routes.ts
init_atomic_file();

// src/server/results/block-list.ts
var MAX_BLOCK_LIST_BYTES = 8 * 1024 * 1024;
var ENTRY = /<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g;
async function readBlockList(req) {
  const xml = await readText2(req);
  const open26 = xml.indexOf("<BlockList>");
  const close = xml.lastIndexOf("</BlockList>");
  const selfClosed = /<BlockList\s*\/>/.test(xml);
  if (selfClosed) return [];
  if (open26 === -1 || close < open26) {
    throw invalidXml("the body has no <BlockList> element.");
  }
  const inner = xml.slice(open26 + "<BlockList>".length, close);
  const ids = [];
  const leftover = inner.replace(ENTRY, (_all, _kind, text) => {
    ids.push(decodeBlockId(unescapeXml(text.trim()), "Put Block List"));
    return "";
  });
  if (leftover.trim() !== "") {
    throw invalidXml(`unexpected content in <BlockList>: ${JSON.stringify(leftover.trim().slice(0, 100))}.`);
  }
  return ids;
}
async function readText2(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BLOCK_LIST_BYTES) {
      throw new BlobError(413, "RequestBodyTooLarge", "The block list is too large.", {
        Connection: "close"
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}
function unescapeXml(text) {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_all, entity) => {
    if (entity.startsWith("#")) {
      const code = entity.startsWith("#x") ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return code <= 1114111 ? String.fromCodePoint(code) : "\0";
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[entity] ?? "";
  });
}
function invalidXml(detail) {
  return new BlobError(400, "InvalidXmlDocument", `XML specified is not syntactically valid: ${detail}`);
}

// src/server/results/signer.ts
import { createHmac as createHmac2, randomBytes as randomBytes9, timingSafeEqual as timingSafeEqual3 } from "node:crypto";
import { link as link4, mkdir as mkdir13, readFile as readFile5, rm as rm11, writeFile as writeFile3 } from "node:fs/promises";
import { dirname as dirname3 } from "node:path";
var BLOB_PATH_PREFIX = "/devstoreaccount1/artifacts/";
var KEY_BYTES = 32;
var UrlSigner = class _UrlSigner {
  #key;
  #ttlMs;
  constructor(key, ttlMs) {
    this.#key = key;
    this.#ttlMs = ttlMs;
  }
  static async open(keyFile, ttlMs) {
    return new _UrlSigner(await loadOrCreateKey(keyFile), ttlMs);
  }
  /** A signer over a key the caller derived (shared by every instance that derives the same). */
  static fromKey(key, ttlMs) {
    return new _UrlSigner(Buffer.from(key), ttlMs);
  }
  /** An absolute signed URL for `blobId`, valid for the configured lifetime. */
  sign(baseUrl, blobId, permission, now = Date.now()) {
    return this.signPath(baseUrl, `${BLOB_PATH_PREFIX}${blobId}`, permission, now);
  }
  /** A signed URL for any path this server serves (the fast_slow store's downloads). */
  signPath(baseUrl, path22, permission, now = Date.now()) {
    const se = new Date(now + this.#ttlMs).toISOString();
    const query = new URLSearchParams({ sig: this.#mac(path22, se, permission), se, sp: permission });
    return `${baseUrl.replace(/\/$/, "")}${path22}?${query.toString()}`;
  }
  /**
   * Throws a 403 Azure error unless `query` carries a valid, unexpired signature for `blobId`
   * that grants `needed`. Values are compared decoded: the Azure SDK appends its own parameters
   * and may re-encode ours.
   */
  verify(blobId, query, needed, now = Date.now()) {
    this.verifyPath(`${BLOB_PATH_PREFIX}${blobId}`, query, needed, now);
  }
  /** As verify, for a URL made by signPath. */
  verifyPath(path22, query, needed, now = Date.now()) {
    const sig = query.get("sig");
    const se = query.get("se");
    const sp = query.get("sp");
    if (sig === null || se === null || sp === null) {
      throw authFailed("The URL is not signed: sig, se and sp are required.");
    }
    const expected = Buffer.from(this.#mac(path22, se, sp));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual3(given, expected)) {
      throw authFailed("Signature did not match: the URL was altered or signed by another server.");
    }
    const expiry = Date.parse(se);
    if (!Number.isFinite(expiry) || now >= expiry) {
      throw authFailed(
        `Signature not valid in the specified time frame: Expiry [${se}] - Current [${new Date(now).toISOString()}]`
      );
    }
    if (!sp.includes(needed)) {
      throw new BlobError(
        403,
        "AuthorizationPermissionMismatch",
        "This request is not authorized to perform this operation using this permission."
      );
    }
  }
  #mac(path22, se, sp) {
    return createHmac2("sha256", this.#key).update(`${path22}
${se}
${sp}`).digest("base64url");
  }
};
function authFailed(detail) {
  return new BlobError(
    403,
    "AuthenticationFailed",
    `Server failed to authenticate the request. Make sure the value of the signed URL is formed correctly. ${detail}`
  );
}
async function loadOrCreateKey(keyFile) {
  const existing = await readKey(keyFile);
  if (existing) return existing;
  await mkdir13(dirname3(keyFile), { recursive: true });
  const temp = `${keyFile}.${process.pid}.${randomBytes9(6).toString("hex")}.tmp`;
  await writeFile3(temp, randomBytes9(KEY_BYTES).toString("hex"), { mode: 384 });
  try {
    await link4(temp, keyFile);
  } catch (error2) {
    if (error2.code !== "EEXIST") throw error2;
  } finally {
    await rm11(temp, { force: true });
  }
  const key = await readKey(keyFile);
  if (!key) {
    throw new FerryError(
      "ERR_FERRY_CONFIG",
      `The signing key ${keyFile} is unreadable; delete it to make a new one`
    );
  }
  return key;
}
async function readKey(keyFile) {
  let text;
  try {
    text = await readFile5(keyFile, "utf8");
  } catch (error2) {
    if (error2.code === "ENOENT") return void 0;
    throw error2;
  }
  const trimmed = text.trim();
  return /^[0-9a-f]{64}$/.test(trimmed) ? Buffer.from(trimmed, "hex") : void 0;
}

// src/server/results/blob-routes.ts
var MAX_BLOCK_BYTES = 4e3 * 1024 * 1024;
var MAX_PUT_BLOB_BYTES = 5e3 * 1024 * 1024;
var BLOB = new RegExp(`^${BLOB_PATH_PREFIX}(?<blobId>[0-9a-f]{32})$`);
var ANY_BLOB = /^\/devstoreaccount1(?:\/.*)?$/;
function blobRoutes(service) {
  const common = { auth: "self", renderError: renderBlobError };
  return [
    { ...common, method: "PUT", pattern: BLOB, handler: (ctx) => put(service, ctx) },
    { ...common, method: "GET", pattern: BLOB, handler: (ctx) => get(service, ctx) },
    {
      ...common,
      method: ANY_METHOD,
      pattern: ANY_BLOB,
      handler: (ctx) => {
        if (BLOB.test(ctx.url.pathname)) {
          throw new BlobError(
            405,
            "UnsupportedHttpVerb",
            `The resource doesn't support ${ctx.req.method ?? ""}.`
          );
        }
        throw new BlobError(404, "ResourceNotFound", "The specified resource does not exist.");
      }
    }
  ];
}
async function put(service, ctx) {
  const { req, res, url } = ctx;
  const blobId = ctx.params.blobId ?? "";
  service.signer.verify(blobId, url.searchParams, "w");
  const { index, blobs } = service;
  if (!index.byBlob(blobId) || !blobs.has(blobId)) throw blobNotFound();
  const guard = () => {
    if (!index.isWritable(blobId)) {
      throw new BlobError(
        409,
        "BlobImmutableDueToPolicy",
        "This operation is not permitted: the artifact is finalized and its blob is immutable."
      );
    }
  };
  guard();
  const headers = azureHeaders(req);
  const comp = url.searchParams.get("comp");
  if (comp === "block") {
    const blockId2 = decodeBlockId(url.searchParams.get("blockid"), "Put Block");
    const length2 = requireContentLength(req, Math.min(MAX_BLOCK_BYTES, service.limits.maxArtifactBytes));
    const md52 = contentMd5(req);
    await blobs.stageBlock(blobId, blockId2, req, { length: length2, md5: md52 });
    created(res, { ...headers, ...md52 === void 0 ? {} : { "Content-MD5": md52 } });
    return;
  }
  if (comp === "blocklist") {
    const ids = await readBlockList(req);
    const committed2 = await blobs.commitBlockList(blobId, ids, blobContentType(req), guard);
    created(res, { ...headers, ...validators(committed2) });
    return;
  }
  if (comp !== null) {
    throw new BlobError(400, "InvalidQueryParameterValue", `comp=${comp} is not supported on PUT.`);
  }
  const type = req.headers["x-ms-blob-type"];
  if (type !== "BlockBlob") {
    throw new BlobError(
      400,
      type === void 0 ? "MissingRequiredHeader" : "InvalidHeaderValue",
      "Put Blob needs x-ms-blob-type: BlockBlob (the only blob type this server stores)."
    );
  }
  const length = requireContentLength(req, Math.min(MAX_PUT_BLOB_BYTES, service.limits.maxArtifactBytes));
  const md5 = contentMd5(req);
  const committed = await blobs.putBlob(blobId, req, { length, md5 }, blobContentType(req), guard);
  created(res, {
    ...headers,
    ...validators(committed),
    ...md5 === void 0 ? {} : { "Content-MD5": md5 }
  });
}
async function get(service, ctx) {
  const { req, res, url } = ctx;
  const blobId = ctx.params.blobId ?? "";
  service.signer.verify(blobId, url.searchParams, "r");
  const comp = url.searchParams.get("comp");
  if (comp !== null) {
    throw new BlobError(400, "InvalidQueryParameterValue", `comp=${comp} is not supported on GET.`);
  }
  const record = service.index.byBlob(blobId);
  const committed = service.blobs.committed(blobId);
  const read = record && committed ? service.blobs.openRead(blobId) : void 0;
  if (!record || !committed || !read) throw blobNotFound();
  const contentType = committed.contentType ?? record.mimeType;
  try {
    await sendBlob(
      req,
      res,
      {
        segments: read.segments,
        size: committed.size,
        etag: committed.etag,
        lastModified: committed.lastModified,
        contentType,
        fileName: downloadName(record.name, contentType)
      },
      azureHeaders(req)
    );
  } catch (error2) {
    if (isNotFound(error2) && !res.headersSent) throw blobNotFound();
    throw error2;
  } finally {
    await read.release();
  }
}
function validators(committed) {
  return { ETag: committed.etag, "Last-Modified": new Date(committed.lastModified).toUTCString() };
}
function created(res, headers) {
  res.writeHead(201, { ...headers, "x-ms-request-server-encrypted": "false", "Content-Length": "0" });
  res.end();
}

// src/server/results/service.ts
var DEFAULT_SIGNED_URL_TTL_MS = 6 * 60 * 60 * 1e3;
function signedUrlTtl(options) {
  const ttl = options.signedUrlTtlMs ?? DEFAULT_SIGNED_URL_TTL_MS;
  if (!Number.isFinite(ttl) || ttl <= 0) {
    throw new RangeError(`signedUrlTtlMs must be a positive number of milliseconds, got ${ttl}`);
  }
  return ttl;
}
async function openResultsService(dataDir, options = {}) {
  const ttl = signedUrlTtl(options);
  const limits = options.limits ?? DEFAULT_LIMITS;
  const layout = new ResultsLayout(dataDir);
  const blobs = await BlobStore.open(layout, limits);
  const index = await ArtifactIndex.open(layout, blobs, {
    limits,
    ...options.listing ? { listing: options.listing } : {}
  });
  const signer = await UrlSigner.open(layout.keyFile, ttl);
  const parts = { index, blobs, signer, limits };
  const store = {
    kind: "filesystem",
    records: index,
    blobs: {
      uploadUrl: (baseUrl, record) => signer.sign(baseUrl, record.blobId, "cw"),
      downloadUrl: (baseUrl, record) => signer.sign(baseUrl, record.blobId, "r"),
      routes: blobRoutes(parts),
      read: (record, start, end) => Promise.resolve(readCommitted(blobs, record.blobId, start, end))
    },
    probe: filesystemProbe(dataDir)
  };
  return { store, limits };
}
function readCommitted(blobs, blobId, start, end) {
  const opened = blobs.openRead(blobId);
  if (!opened) return void 0;
  return (async function* () {
    try {
      yield* readPieces(slice(opened.segments, start, end), void 0);
    } finally {
      await opened.release();
    }
  })();
}

// src/server/results/fast-slow/fast-cache.ts
init_write_fully();
import { createHash as createHash14, randomBytes as randomBytes10 } from "node:crypto";
import { mkdir as mkdir14, open as open22, readdir as readdir8, readFile as readFile6, rename as rename5, rm as rm12, stat as stat11 } from "node:fs/promises";
import { join as join7 } from "node:path";
var KEY = /^[a-z0-9][a-z0-9-]{0,99}$/;
var FastCache = class _FastCache {
  #dir;
  #tmp;
  #policy;
  #events;
  #now;
  #entries = /* @__PURE__ */ new Map();
  #seq = 0;
  #evicting = Promise.resolve();
  constructor(path22, policy, events, now) {
    this.#dir = join7(path22, "fast-cache");
    this.#tmp = join7(this.#dir, "tmp");
    this.#policy = policy;
    this.#events = events;
    this.#now = now;
  }
  static async open(path22, policy = {}, options = {}) {
    const cache = new _FastCache(path22, policy, options.events, options.now ?? Date.now);
    await cache.#load();
    return cache;
  }
  /** Bytes and entries held now. */
  stats() {
    let bytes = 0;
    for (const entry of this.#entries.values()) bytes += entry.size;
    return { entries: this.#entries.size, bytes };
  }
  /**
   * The entry's file when it holds what is expected; undefined (a miss) otherwise. An entry whose
   * recorded or on-disk size, or recorded digest, differs from the expectation is removed.
   */
  async lookup(key, expected) {
    checkKey(key);
    const entry = this.#entries.get(key);
    if (!entry) {
      this.#events?.miss();
      return void 0;
    }
    const file = this.#blobFile(key);
    let onDisk;
    try {
      onDisk = (await stat11(file)).size;
    } catch {
      onDisk = void 0;
    }
    const digestDiffers = expected.sha256 !== void 0 && entry.sha256 !== void 0 && entry.sha256 !== expected.sha256;
    if (onDisk !== expected.size || entry.size !== expected.size || digestDiffers) {
      await this.drop(key);
      this.#events?.drop();
      this.#events?.miss();
      return void 0;
    }
    entry.usedAt = this.#now();
    this.#events?.hit();
    return file;
  }
  /** Removes an entry (a failed verification, or its blob is gone from the slow store). */
  async drop(key) {
    checkKey(key);
    this.#entries.delete(key);
    await rm12(this.#metaFile(key), { force: true });
    await rm12(this.#blobFile(key), { force: true });
  }
  /**
   * Starts an entry; undefined when it could never be kept (larger than max_bytes, or the disk
   * refused the file): the read is then served from the slow store alone.
   */
  async beginFill(key, expected) {
    checkKey(key);
    if (this.#policy.maxBytes !== void 0 && expected.size > this.#policy.maxBytes) return void 0;
    const temp = join7(this.#tmp, `${key}.${randomBytes10(6).toString("hex")}`);
    let handle;
    try {
      handle = await open22(temp, "wx");
    } catch {
      return void 0;
    }
    const hash = createHash14("sha256");
    let written = 0;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    return {
      write: async (chunks) => {
        for (const chunk of chunks) {
          written += chunk.length;
          if (written > expected.size) return;
          hash.update(chunk);
        }
        await writeFully(handle, chunks);
      },
      commit: async () => {
        await close();
        const digest2 = hash.digest("hex");
        const whole = written === expected.size && (expected.sha256 === void 0 || expected.sha256 === digest2);
        if (!whole) {
          await rm12(temp, { force: true });
          return false;
        }
        await rename5(temp, this.#blobFile(key));
        const meta = `${temp}.json`;
        const handleMeta = await open22(meta, "wx");
        try {
          await handleMeta.writeFile(JSON.stringify({ size: written, sha256: digest2 }));
        } finally {
          await handleMeta.close();
        }
        await rename5(meta, this.#metaFile(key));
        this.#entries.set(key, { size: written, sha256: digest2, usedAt: this.#now(), seq: ++this.#seq });
        this.#events?.fill(written);
        await this.#evict();
        return true;
      },
      abort: async () => {
        await close();
        await rm12(temp, { force: true });
      }
    };
  }
  /** Applies the eviction policy, one pass at a time. */
  #evict() {
    this.#evicting = this.#evicting.catch(() => void 0).then(async () => {
      const keys = /* @__PURE__ */ new Map();
      const candidates = [...this.#entries].map(([key, entry]) => {
        keys.set(entry.seq, key);
        return { id: entry.seq, size: entry.size, finalizedAt: entry.usedAt };
      });
      const chosen = selectEvictions(candidates, this.#policy, this.#now());
      let bytes = 0;
      for (const victim of chosen) {
        const key = keys.get(victim.id);
        if (key === void 0) continue;
        await this.drop(key);
        bytes += victim.size;
      }
      if (chosen.length > 0) this.#events?.evict(chosen.length, bytes);
    });
    return this.#evicting;
  }
  /** Reads the entries left by an earlier run; half-written fills are removed. */
  async #load() {
    await rm12(this.#tmp, { recursive: true, force: true });
    await mkdir14(this.#tmp, { recursive: true });
    const names = await readdir8(this.#dir);
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const key = name.slice(0, -".json".length);
      if (!KEY.test(key)) continue;
      try {
        const meta = JSON.parse(await readFile6(this.#metaFile(key), "utf8"));
        const info2 = await stat11(this.#blobFile(key));
        if (!isMeta(meta) || info2.size !== meta.size) throw new Error("stale");
        this.#entries.set(key, {
          size: meta.size,
          sha256: meta.sha256,
          usedAt: info2.mtimeMs,
          seq: ++this.#seq
        });
      } catch {
        await this.drop(key);
      }
    }
    for (const name of names) {
      const key = name.endsWith(".blob") ? name.slice(0, -".blob".length) : void 0;
      if (key !== void 0 && KEY.test(key) && !this.#entries.has(key))
        await rm12(join7(this.#dir, name), { force: true });
    }
    await this.#evict();
  }
  #blobFile(key) {
    return join7(this.#dir, `${key}.blob`);
  }
  #metaFile(key) {
    return join7(this.#dir, `${key}.json`);
  }
};
function isMeta(value) {
  if (typeof value !== "object" || value === null) return false;
  const meta = value;
  return typeof meta.size === "number" && Number.isSafeInteger(meta.size) && meta.size >= 0 && typeof meta.sha256 === "string" && /^[0-9a-f]{64}$/.test(meta.sha256);
}
function checkKey(key) {
  if (!KEY.test(key)) {
    throw new RangeError(`not a fast cache key: ${JSON.stringify(key.slice(0, 100))}`);
  }
}

// src/server/results/fast-slow/fast-slow-store.ts
import { createHash as createHash15, createHmac as createHmac3 } from "node:crypto";
import { createReadStream as createReadStream4 } from "node:fs";
import { open as open23 } from "node:fs/promises";

// src/server/results/fast-slow/fill-tee.ts
var BATCH_BYTES2 = 1024 * 1024;
async function* fillTee(source, fill, batchBytes = BATCH_BYTES2) {
  let filling = fill;
  let held;
  let complete = false;
  async function* flush(batch) {
    const writing = filling?.write(batch).then(
      () => true,
      () => false
    );
    if (held) yield held;
    held = batch;
    if (writing && !await writing) {
      await filling?.abort().catch(() => void 0);
      filling = void 0;
    }
  }
  try {
    let batch = [];
    let bytes = 0;
    for await (const piece of source) {
      for (const chunk of Buffer.isBuffer(piece) ? [piece] : piece) {
        batch.push(chunk);
        bytes += chunk.length;
      }
      if (bytes < batchBytes) continue;
      yield* flush(batch);
      batch = [];
      bytes = 0;
    }
    if (batch.length > 0) yield* flush(batch);
    complete = true;
    if (filling) {
      const committing = filling;
      filling = void 0;
      await committing.commit().catch(() => false);
    }
    if (held) yield held;
  } finally {
    if (filling && !complete) await filling.abort().catch(() => void 0);
  }
}
async function* unbatched(batches) {
  for await (const batch of batches) yield* batch;
}

// src/server/results/fast-slow/slow-ranges.ts
import { performance as performance2 } from "node:perf_hooks";

// src/server/results/fast-slow/range-fetch.ts
var RangeFetch = class {
  #chunks = [];
  #done = false;
  #error;
  #cancelled = false;
  /** Being handed on: it never waits for the budget (the bytes it reads leave at once). */
  #head = false;
  #source;
  #wake;
  #budget;
  constructor(read, start, end, budget) {
    this.#budget = budget;
    void this.#run(read, start, end);
  }
  async #run(read, start, end) {
    const expected = end - start + 1;
    let received = 0;
    try {
      this.#source = await read(start, end);
      if (!this.#source) throw new Error("the blob is gone from the slow store");
      if (this.#cancelled) destroy(this.#source);
      for await (const chunk of this.#source) {
        if (this.#cancelled) break;
        received += chunk.length;
        if (received > expected) throw shortRead(received, expected);
        this.#chunks.push(chunk);
        this.#budget.add(chunk.length);
        this.#signal();
        while (!this.#head && !this.#cancelled && this.#budget.held > this.#budget.limit) {
          await this.#budget.room();
        }
      }
      if (!this.#cancelled && received !== expected) throw shortRead(received, expected);
    } catch (error2) {
      this.#error = error2;
    } finally {
      this.#done = true;
      this.#signal();
    }
  }
  /**
   * The range's bytes as they arrive, each time all that arrived since the last (one step per
   * batch through the generators above, not one per 16-64 KiB socket read); throws what reading
   * it threw.
   */
  async *drain() {
    this.#head = true;
    this.#budget.wakeAll();
    for (; ; ) {
      if (this.#chunks.length > 0) {
        const batch = this.#chunks.splice(0);
        this.#budget.release(batch.reduce((sum, chunk) => sum + chunk.length, 0));
        yield batch;
        continue;
      }
      if (this.#error !== void 0) throw this.#error;
      if (this.#done) return;
      await new Promise((resolve2) => this.#wake = resolve2);
    }
  }
  cancel() {
    if (this.#done) return;
    this.#cancelled = true;
    for (const chunk of this.#chunks.splice(0)) this.#budget.release(chunk.length);
    if (this.#source) destroy(this.#source);
  }
  #signal() {
    const wake = this.#wake;
    this.#wake = void 0;
    wake?.();
  }
};
function destroy(source) {
  const destroyable = source;
  if (typeof destroyable.destroy === "function") destroyable.destroy.call(source);
}
function shortRead(received, expected) {
  return new Error(`the slow store sent ${received} bytes where ${expected} were expected`);
}

// src/server/results/fast-slow/slow-ranges.ts
var DEFAULT_SLOW_RANGES = Object.freeze({
  rangeBytes: 8 * 1024 * 1024,
  // Four at once: about 4x one capped stream, with at most 32 MiB held, well inside the
  // server's memory budget; more gains little once the client or the fast disk is the limit.
  connections: 4,
  // As the SDK's own ranged download decides (DEFAULT_RANGE_POLICY.fastBytesPerSecond).
  slowBytesPerSecond: 5e7,
  // None: a range ahead reads one chunk and waits, and what arrives meanwhile waits in its
  // socket's receive buffer (the kernel's, up to tcp_rmem's few MiB), read in full 64 KiB gulps
  // once the range is sent. Behind a 40 MB/s cap a 512 MiB miss took the same time as with 8 or
  // 2 MiB held here, at 1.2 s of server CPU instead of 1.8 and 140 MiB peak RSS instead of
  // 156-184 (docs/benchmarks.md, "fast_slow: the miss path").
  bufferBytes: 0
});
async function readWhole(read, size, policy = DEFAULT_SLOW_RANGES, now = () => performance2.now()) {
  const first = await read(0, size - 1);
  if (!first) return void 0;
  if (policy.connections < 2 || size < 3 * policy.rangeBytes) return first;
  return firstThenRanges(first, read, size, policy, now);
}
async function* firstThenRanges(first, read, size, policy, now) {
  const iterator = first[Symbol.asyncIterator]();
  let started;
  let received = 0;
  let split = false;
  try {
    for (; ; ) {
      const next = await iterator.next();
      if (next.done) break;
      const chunk = next.value;
      started ??= now();
      if (received + chunk.length < policy.rangeBytes || received >= policy.rangeBytes) {
        received += chunk.length;
        yield chunk;
        continue;
      }
      const seconds2 = Math.max(now() - (started ?? 0), 1) / 1e3;
      const rate = (received + chunk.length) / seconds2;
      if (rate >= policy.slowBytesPerSecond) {
        received += chunk.length;
        yield chunk;
        continue;
      }
      const keep = policy.rangeBytes - received;
      split = true;
      if (keep > 0) yield chunk.subarray(0, keep);
      received = policy.rangeBytes;
      break;
    }
  } finally {
    await iterator.return?.();
  }
  if (split) yield* inRanges(read, received, size, policy);
  else if (received !== size) throw shortRead(received, size);
}
async function* inRanges(read, from, size, policy) {
  const starts = [];
  for (let start = from; start < size; start += policy.rangeBytes) starts.push(start);
  const fetches = [];
  const budget = new ByteBudget(policy.bufferBytes);
  try {
    for (let index = 0; index < starts.length; index++) {
      while (fetches.length < Math.min(starts.length, index + policy.connections)) {
        const start = starts[fetches.length];
        fetches.push(new RangeFetch(read, start, Math.min(start + policy.rangeBytes, size) - 1, budget));
      }
      yield* fetches[index].drain();
    }
  } finally {
    for (const fetch of fetches) fetch.cancel();
    budget.wakeAll();
  }
}

// src/server/results/fast-slow/fast-slow-store.ts
var FAST_BLOB = /^\/devstoreaccount1\/artifact-(?<id>[1-9][0-9]{0,15})\/(?<blobId>[0-9a-f]{32})$/;
var READ_HIGH_WATER_MARK3 = 1024 * 1024;
function fastBlobPath(record) {
  return `/devstoreaccount1/artifact-${record.id}/${record.blobId}`;
}
function fastSlowStore(slow, cache, signer) {
  const route = {
    method: "GET",
    pattern: FAST_BLOB,
    auth: "self",
    renderError: renderBlobError,
    handler: (ctx) => download2(ctx, slow, cache, signer)
  };
  return {
    kind: `fast_slow over ${slow.kind}`,
    records: slow.records,
    blobs: {
      uploadUrl: (baseUrl, record) => slow.blobs.uploadUrl(baseUrl, record),
      downloadUrl: (baseUrl, record) => signer.signPath(baseUrl.replace(/\/$/, ""), fastBlobPath(record), "r"),
      // First: the filesystem store's catch-all for /devstoreaccount1/... would answer 404.
      routes: [route, ...slow.blobs.routes],
      read: (record, start, end) => slow.blobs.read(record, start, end)
    },
    probe: () => slow.probe(),
    ...slow.sweepLease ? { sweepLease: slow.sweepLease } : {}
  };
}
async function download2(ctx, slow, cache, signer) {
  const { req, res, url } = ctx;
  signer.verifyPath(url.pathname, url.searchParams, "r");
  const comp = url.searchParams.get("comp");
  if (comp !== null) {
    throw new BlobError(400, "InvalidQueryParameterValue", `comp=${comp} is not supported on GET.`);
  }
  const record = await slow.records.get(Number(ctx.params.id));
  if (!record?.finalized || record.blobId !== ctx.params.blobId) throw blobNotFound();
  const { size, digest: digest2, at } = record.finalized;
  const expected = { size, sha256: digestHex2(digest2) };
  const representation = {
    segments: [],
    size,
    // Strong and stable on every instance: the recorded digest, or the blob id when none was.
    etag: `"${expected.sha256 ?? record.blobId}"`,
    lastModified: at,
    contentType: record.mimeType,
    fileName: downloadName(record.name, record.mimeType)
  };
  const key = record.blobId;
  const entry = await openEntry(await cache.lookup(key, expected));
  if (entry !== void 0) {
    let handed = false;
    try {
      await sendBlob(
        req,
        res,
        {
          ...representation,
          // A whole read is checked against the digest as it goes; a mismatch drops the entry.
          body: (start, end) => {
            handed = true;
            const bytes = fromHandle(entry, start, end);
            const whole = start === 0 && end === size - 1;
            return Promise.resolve(
              whole && expected.sha256 !== void 0 ? verified(bytes, expected.sha256, () => cache.drop(key)) : bytes
            );
          }
        },
        azureHeaders(req)
      );
    } finally {
      if (!handed) await entry.close();
    }
    return;
  }
  const readSlow = (start, end) => slow.blobs.read(record, start, end);
  await sendBlob(
    req,
    res,
    {
      ...representation,
      // Ferry's SDK asks a large blob as `Range: bytes=0-`: a 206 would let it split the
      // download into ranges of its own, each a range miss here, and nothing would be cached.
      // Answered 200 (as RFC 9110 allows), it is one whole read that fills the cache, itself
      // read from the slow store in parallel ranges when that is slow.
      wholeRangeAsFull: true,
      body: async (start, end) => {
        if (start !== 0 || end !== size - 1) {
          const source2 = await readSlow(start, end);
          if (!source2) throw blobNotFound();
          return source2;
        }
        const source = await readWhole(readSlow, size);
        if (!source) throw blobNotFound();
        return fillTee(source, await cache.beginFill(key, expected));
      }
    },
    azureHeaders(req)
  );
}
function cachedRead(cache) {
  return async (identity, size, openSlow) => {
    const key = `l-${createHash15("sha256").update(identity).digest("hex").slice(0, 40)}`;
    const expected = { size, sha256: void 0 };
    const entry = await openEntry(await cache.lookup(key, expected));
    if (entry !== void 0) return fromHandle(entry, 0, size - 1);
    return unbatched(fillTee(await openSlow(), await cache.beginFill(key, expected)));
  };
}
async function openEntry(file) {
  if (file === void 0) return void 0;
  try {
    return await open23(file, "r");
  } catch {
    return void 0;
  }
}
function fromHandle(handle, start, end) {
  return createReadStream4("", { fd: handle, start, end, highWaterMark: READ_HIGH_WATER_MARK3 });
}
async function* verified(bytes, sha256, drop) {
  const hash = createHash15("sha256");
  let held;
  for await (const chunk of bytes) {
    hash.update(chunk);
    if (held) yield held;
    held = chunk;
  }
  if (hash.digest("hex") !== sha256) {
    await drop();
    throw new Error("the fast store entry does not match its recorded SHA-256; dropped");
  }
  if (held) yield held;
}
function digestHex2(digest2) {
  const match = /^sha256:([0-9a-f]{64})$/i.exec(digest2);
  return match?.[1]?.toLowerCase();
}
function derivedSigningKey(accountKey, container, prefix) {
  return createHmac3("sha256", Buffer.from(accountKey, "base64")).update(`ferry fast_slow download URLs
${container}
${prefix}`).digest();
}

// src/server/results/fast-slow/open-fast-slow.ts
async function openFastSlow(slow, spec, source, metrics) {
  const { azure } = source;
  const signer = azure ? UrlSigner.fromKey(
    derivedSigningKey(azure.account.accountKey, azure.container, azure.prefix),
    source.signedUrlTtlMs
  ) : await UrlSigner.open(new ResultsLayout(source.dataDir).keyFile, source.signedUrlTtlMs);
  const ref = {};
  const held = () => metrics.fastStoreHeld(ref.cache?.stats().bytes ?? 0);
  const cache = await FastCache.open(spec.path, spec.eviction ?? {}, {
    events: {
      hit: () => metrics.fastStore("hit"),
      miss: () => metrics.fastStore("miss"),
      fill: (bytes) => {
        metrics.fastStore("fill", 1, bytes);
        held();
      },
      evict: (entries, bytes) => {
        metrics.fastStore("evict", entries, bytes);
        held();
      },
      drop: () => {
        metrics.fastStore("drop");
        held();
      }
    }
  });
  ref.cache = cache;
  held();
  return {
    results: { store: fastSlowStore(slow.store, cache, signer), limits: slow.limits },
    legacyRead: cachedRead(cache)
  };
}

// src/server/observe/observe-routes.ts
init_error_response();
init_respond();

// src/server/observe/prometheus.ts
var Counter = class {
  constructor(name, help) {
    this.name = name;
    this.help = help;
  }
  name;
  help;
  #values = /* @__PURE__ */ new Map();
  inc(labels = {}, by = 1) {
    const key = labelKey(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }
  get(labels = {}) {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }
  render() {
    return header(this.name, this.help, "counter").concat(
      [...this.#values.values()].map((e) => sample(this.name, e.labels, e.value))
    );
  }
};
var Gauge = class {
  constructor(name, help) {
    this.name = name;
    this.help = help;
  }
  name;
  help;
  #values = /* @__PURE__ */ new Map();
  set(labels, value) {
    this.#values.set(labelKey(labels), { labels, value });
  }
  render() {
    return header(this.name, this.help, "gauge").concat(
      [...this.#values.values()].map((e) => sample(this.name, e.labels, e.value))
    );
  }
};
var DEFAULT_BUCKETS = [
  1e-3,
  5e-3,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60
];
var Histogram = class {
  constructor(name, help, buckets = DEFAULT_BUCKETS) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
  }
  name;
  help;
  buckets;
  #series = /* @__PURE__ */ new Map();
  observe(labels, value) {
    const key = labelKey(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    this.buckets.forEach((bound, i) => {
      if (value <= bound) series.counts[i] += 1;
    });
    series.sum += value;
    series.count += 1;
  }
  count(labels) {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }
  render() {
    const lines = header(this.name, this.help, "histogram");
    for (const s of this.#series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(sample(`${this.name}_bucket`, { ...s.labels, le: String(bound) }, s.counts[i]));
      });
      lines.push(sample(`${this.name}_bucket`, { ...s.labels, le: "+Inf" }, s.count));
      lines.push(sample(`${this.name}_sum`, s.labels, s.sum));
      lines.push(sample(`${this.name}_count`, s.labels, s.count));
    }
    return lines;
  }
};
var Registry = class {
  #families = [];
  add(family) {
    this.#families.push(family);
    return family;
  }
  /** The exposition, ending with a newline as the format requires. */
  render() {
    return `${this.#families.flatMap((f) => f.render()).join("\n")}
`;
  }
};
var PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
function header(name, help, type) {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}
function sample(name, labels, value) {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`;
}
function formatValue(value) {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
function escapeLabel(value) {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
function labelKey(labels) {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

// src/server/observe/observe-routes.ts
var STATUS_PROBE_TIMEOUT_MS = 5e3;
function createObserveProtocol(options) {
  const route = (pattern, handler) => ({
    method: "GET",
    pattern,
    ...options.public ? { auth: "self" } : {},
    handler: async (ctx) => {
      if (!options.public && ctx.access !== FULL_ACCESS) {
        throw new ErrorResponse(403, `${ctx.url.pathname} needs the operator token (or metricsPublic)`);
      }
      await handler(ctx);
    }
  });
  return {
    name: "observe",
    routes: [
      route(/^\/metrics$/, async (ctx) => {
        const body = Buffer.from(
          options.metrics.render({
            openConnections: options.openConnections(),
            sweep: options.sweepStats()
          })
        );
        ctx.res.writeHead(200, {
          "Content-Type": PROMETHEUS_CONTENT_TYPE,
          "Content-Length": String(body.length)
        });
        ctx.res.end(body);
      }),
      route(/^\/status$/, async (ctx) => {
        const reachable = await withTimeout(
          options.metrics.time("probe", options.probeStore),
          STATUS_PROBE_TIMEOUT_MS
        ).then(
          () => true,
          () => false
        );
        sendJson(ctx.res, reachable ? 200 : 503, {
          status: reachable ? "ok" : "unavailable",
          store: reachable ? "reachable" : "unreachable",
          version: options.version,
          uptimeSeconds: options.metrics.uptimeSeconds(),
          instance: options.metrics.instance
        });
      })
    ]
  };
}
function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// src/server/observe/server-metrics.ts
var NO_SWEEPS = Object.freeze({
  runs: 0,
  deletedArtifacts: 0,
  deletedBytes: 0,
  lastRunSeconds: 0,
  runStateCorrections: 0,
  runBlobsDeleted: 0
});
var ServerMetrics = class {
  instance;
  #registry = new Registry();
  #requests = this.#registry.add(
    new Counter("ferry_http_requests_total", "HTTP requests answered, by route name, method and status.")
  );
  #duration = this.#registry.add(
    new Histogram(
      "ferry_http_request_duration_seconds",
      "Time from request head to the end of the answer, by route name."
    )
  );
  #bytesIn = this.#registry.add(
    new Counter(
      "ferry_http_received_bytes_total",
      "Bytes received on the wire (heads and bodies), by route name."
    )
  );
  #bytesOut = this.#registry.add(
    new Counter("ferry_http_sent_bytes_total", "Bytes sent on the wire (heads and bodies), by route name.")
  );
  #uploads = this.#registry.add(
    new Counter("ferry_uploads_finalized_total", "Artifacts whose upload was finalized, by protocol.")
  );
  #downloads = this.#registry.add(
    new Counter(
      "ferry_downloads_finalized_total",
      "Downloads served to their last byte, by protocol (results: blobs; legacy: files of a container)."
    )
  );
  #errors = this.#registry.add(
    new Counter(
      "ferry_errors_total",
      "Requests that failed on the server side, by kind (server: 5xx answered; cut: no answer or an answer cut short)."
    )
  );
  #storeCalls = this.#registry.add(
    new Histogram(
      "ferry_store_call_duration_seconds",
      "Duration of storage calls, by operation and outcome."
    )
  );
  #connections = this.#registry.add(
    new Gauge("ferry_open_connections", "TCP connections open now.")
  );
  #sweepRuns = this.#registry.add(
    new Counter("ferry_sweep_runs_total", "Retention sweeps run to the end.")
  );
  #sweepDeleted = this.#registry.add(
    new Counter("ferry_sweep_deleted_artifacts_total", "Artifacts deleted by retention sweeps.")
  );
  #sweepBytes = this.#registry.add(
    new Counter("ferry_sweep_deleted_bytes_total", "Bytes of the artifacts deleted by retention sweeps.")
  );
  #sweepCorrections = this.#registry.add(
    new Counter(
      "ferry_sweep_run_state_corrections_total",
      "Per-run state blobs whose drifted counts retention sweeps corrected."
    )
  );
  #sweepRunBlobs = this.#registry.add(
    new Counter(
      "ferry_sweep_run_blobs_deleted_total",
      "Per-run state and listing blobs retention sweeps deleted with runs whose artifacts are all gone."
    )
  );
  #sweepLast = this.#registry.add(
    new Gauge(
      "ferry_sweep_last_run_timestamp_seconds",
      "When the last retention sweep finished (0: none yet)."
    )
  );
  #refreshAt = this.#registry.add(
    new Gauge(
      "ferry_index_refresh_timestamp_seconds",
      "When each listing index was last rebuilt from storage, by instance."
    )
  );
  #refreshDuration = this.#registry.add(
    new Gauge(
      "ferry_index_refresh_duration_seconds",
      "How long the last rebuild of each listing index took, by instance."
    )
  );
  #indexSize = this.#registry.add(
    new Gauge(
      "ferry_index_artifacts",
      "Artifacts each listing index held after its last rebuild from storage, by instance."
    )
  );
  #fastReads = this.#registry.add(
    new Counter(
      "ferry_fast_store_reads_total",
      "Downloads looked up in the fast store of a fast_slow store, by result (hit, miss)."
    )
  );
  #fastFills = this.#registry.add(
    new Counter("ferry_fast_store_fills_total", "Entries filled into the fast store from the slow store.")
  );
  #fastFilledBytes = this.#registry.add(
    new Counter(
      "ferry_fast_store_filled_bytes_total",
      "Bytes filled into the fast store from the slow store."
    )
  );
  #fastEvictions = this.#registry.add(
    new Counter(
      "ferry_fast_store_evictions_total",
      "Entries removed from the fast store by its eviction policy (the slow store keeps them)."
    )
  );
  #fastDrops = this.#registry.add(
    new Counter(
      "ferry_fast_store_dropped_total",
      "Fast store entries removed because they failed verification (size or SHA-256)."
    )
  );
  #fastBytes = this.#registry.add(
    new Gauge("ferry_fast_store_bytes", "Bytes held in the fast store now.")
  );
  #uptime = this.#registry.add(
    new Gauge("ferry_uptime_seconds", "Seconds since this instance started.")
  );
  #info = this.#registry.add(
    new Gauge("ferry_build_info", "Always 1; the labels say which version runs.")
  );
  #startedMs;
  #now;
  constructor(options) {
    this.instance = options.instance;
    this.#now = options.now ?? Date.now;
    this.#startedMs = this.#now();
    this.#info.set({ version: options.version, instance: options.instance }, 1);
  }
  /** Counts one finished request, and the upload or download it completed, if any. */
  request(record) {
    const { route, method } = record;
    const status = record.status === void 0 ? "none" : String(record.status);
    this.#requests.inc({ route, method, status });
    this.#duration.observe({ route }, record.durationMs / 1e3);
    this.#bytesIn.inc({ route }, record.bytesIn);
    this.#bytesOut.inc({ route }, record.bytesOut);
    if (record.status === void 0 || record.cut) this.#errors.inc({ kind: "cut" });
    else if (record.status >= 500) this.#errors.inc({ kind: "server" });
    const protocol = finalizedUpload(record);
    if (protocol) this.#uploads.inc({ protocol });
    const download3 = finishedDownload(record);
    if (download3) this.#downloads.inc({ protocol: download3 });
  }
  async time(operation, call) {
    const started = process.hrtime.bigint();
    let outcome = "error";
    try {
      const result = await call();
      outcome = "ok";
      return result;
    } finally {
      const seconds2 = Number(process.hrtime.bigint() - started) / 1e9;
      this.#storeCalls.observe({ operation, outcome }, seconds2);
    }
  }
  /** The fast store's events (see FastCache); its size is read at scrape time. */
  fastStore(event, entries = 1, bytes = 0) {
    const labels = { instance: this.instance };
    if (event === "hit" || event === "miss") this.#fastReads.inc({ ...labels, result: event });
    else if (event === "fill") {
      this.#fastFills.inc(labels, entries);
      this.#fastFilledBytes.inc(labels, bytes);
    } else if (event === "evict") this.#fastEvictions.inc(labels, entries);
    else this.#fastDrops.inc(labels, entries);
  }
  /** What the fast store holds after a fill, eviction or drop. */
  fastStoreHeld(bytes) {
    this.#fastBytes.set({ instance: this.instance }, bytes);
  }
  indexRefreshed(refresh) {
    const labels = { instance: this.instance, index: refresh.index };
    this.#refreshAt.set(labels, refresh.atMs / 1e3);
    this.#refreshDuration.set(labels, refresh.durationMs / 1e3);
    this.#indexSize.set(labels, refresh.artifacts);
  }
  /** The exposition, with the values read at scrape time filled in. */
  render(live) {
    this.#connections.set({ instance: this.instance }, live.openConnections);
    this.#uptime.set({ instance: this.instance }, Math.round((this.#now() - this.#startedMs) / 1e3));
    const sweep = { instance: this.instance };
    this.#sweepRuns.inc(sweep, live.sweep.runs - this.#sweepRuns.get(sweep));
    this.#sweepDeleted.inc(sweep, live.sweep.deletedArtifacts - this.#sweepDeleted.get(sweep));
    this.#sweepBytes.inc(sweep, live.sweep.deletedBytes - this.#sweepBytes.get(sweep));
    const corrections = live.sweep.runStateCorrections ?? 0;
    this.#sweepCorrections.inc(sweep, corrections - this.#sweepCorrections.get(sweep));
    this.#sweepRunBlobs.inc(sweep, (live.sweep.runBlobsDeleted ?? 0) - this.#sweepRunBlobs.get(sweep));
    this.#sweepLast.set(sweep, live.sweep.lastRunSeconds);
    return this.#registry.render();
  }
  uptimeSeconds() {
    return Math.floor((this.#now() - this.#startedMs) / 1e3);
  }
};
function finalizedUpload(record) {
  if (record.status !== 200 || record.cut) return void 0;
  if (record.route === "twirp_FinalizeArtifact") return "results";
  if (record.route === "legacy_artifacts" && record.method === "PATCH") return "legacy";
  return void 0;
}
function finishedDownload(record) {
  if (record.method !== "GET" || record.cut) return void 0;
  if (record.status !== 200 && record.status !== 206) return void 0;
  if (record.route === "blob") return "results";
  if (record.route === "legacy_container" && !record.json) return "legacy";
  return void 0;
}

// src/server/observe/server-log.ts
var ACCESS_LOG_FORMATS = ["json", "text", "off"];
var ServerLog = class {
  #sink;
  format;
  constructor(sink, format) {
    this.#sink = sink;
    this.format = format;
  }
  /** Whether diagnostics go anywhere (a sink is set). */
  get enabled() {
    return this.#sink !== void 0;
  }
  access(record, path22) {
    if (!this.#sink || this.format === "off") return;
    if (this.format === "json") {
      this.#sink(JSON.stringify({ type: "access", ...record, status: record.status ?? null }));
      return;
    }
    const status = record.status === void 0 ? "no-answer" : String(record.status);
    const cut = record.status !== void 0 && record.cut ? " (answer cut)" : "";
    this.#sink(`${record.method} ${printableText(path22)} ${status}${cut} ${record.durationMs.toFixed(1)}ms`);
  }
  /** A diagnostic line; `message` must already be free of secrets. */
  diag(level, message) {
    if (!this.#sink) return;
    if (this.format === "json") {
      this.#sink(JSON.stringify({ type: "log", time: (/* @__PURE__ */ new Date()).toISOString(), level, message }));
      return;
    }
    this.#sink(message);
  }
};

// src/server/index.ts
var DEFAULT_DRAIN_TIMEOUT_MS = 3e4;
async function startServer(options) {
  const dataDir = resolve(options.dataDir);
  await mkdir15(dataDir, { recursive: true });
  const host = options.host ?? "127.0.0.1";
  const limits = resolveLimits(options.limits);
  const jwtKeys = jwtKeysOf(options.jwt ?? {});
  const authenticated = Boolean(options.token) || jwtKeys.hmacSecrets.length + jwtKeys.publicKeys.length > 0;
  if (!authenticated && !isLoopback(host)) {
    throw new RangeError(
      `Refusing to serve ${host} without authentication: set a token or JWT keys (--token, --jwt-secret-file, --jwt-public-key), or bind to 127.0.0.1`
    );
  }
  const accessLog = options.accessLog ?? "text";
  if (!ACCESS_LOG_FORMATS.includes(accessLog)) {
    throw new RangeError(
      `accessLog must be one of ${ACCESS_LOG_FORMATS.join(", ")}, got ${String(accessLog)}`
    );
  }
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) {
    throw new RangeError(
      `drainTimeoutMs must be a non-negative number of milliseconds, got ${drainTimeoutMs}`
    );
  }
  const serverLog = new ServerLog(options.log, accessLog);
  const metrics = new ServerMetrics({
    instance: options.instanceId ?? `${hostname2()}:${process.pid}`,
    version: options.version ?? "unknown"
  });
  const publicUrl = options.publicUrl === void 0 ? void 0 : parsePublicUrl(options.publicUrl);
  const authenticate = createAuthenticator({ token: options.token, jwtKeys });
  const listing = {
    ...options.indexLifetimeMs !== void 0 ? { lifetimeMs: options.indexLifetimeMs } : {},
    onRefresh: (refresh) => metrics.indexRefreshed(refresh),
    log: (level, message) => serverLog.diag(level, message),
    storeCalls: metrics
  };
  const slowResults = options.azure ? await openAzure(
    options.azure,
    options,
    limits,
    metrics,
    (level, message) => serverLog.diag(level, message)
  ) : await openResultsService(dataDir, { signedUrlTtlMs: options.signedUrlTtlMs, limits, listing });
  const fastSlow = options.fastStore ? await openFastSlow(
    slowResults,
    options.fastStore,
    {
      dataDir,
      azure: options.azure,
      signedUrlTtlMs: signedUrlTtl({ signedUrlTtlMs: options.signedUrlTtlMs })
    },
    metrics
  ) : void 0;
  const results = fastSlow?.results ?? slowResults;
  const legacy = options.azure ? await openAzureLegacy(options.azure, limits, metrics) : await openLegacyStore(dataDir, limits, listing);
  const sweeper = new RetentionSweeper(results.store.records, {
    legacy,
    lease: results.store.sweepLease,
    intervalMs: options.retention?.sweepIntervalMs,
    eviction: options.retention?.eviction,
    onError: (error2) => serverLog.diag("warn", `retention sweep failed: ${String(error2)}`)
  });
  const protocols = [
    createLegacyProtocol(legacy, fastSlow?.legacyRead),
    createResultsProtocol(results),
    createRestProtocol(results, results.store.runs ?? await FileRunRegistry.open(dataDir), authenticate),
    createObserveProtocol({
      metrics,
      version: options.version ?? "unknown",
      probeStore: options.storeProbe ?? results.store.probe,
      openConnections: () => stats.openConnections,
      sweepStats: options.sweepStats ?? (() => sweepMetrics(sweeper.stats())),
      public: options.metricsPublic === true
    })
  ];
  let url = "";
  let port = 0;
  const { server, stats, close } = createHttpServer({
    protocols,
    authenticate,
    credentialRequired: authenticated,
    hosts: createHostPolicy({ boundHost: host, port: () => port, publicUrl }),
    log: serverLog.enabled ? (line) => serverLog.diag("warn", line) : void 0,
    onRequestEnd: (record, path22) => {
      metrics.request(record);
      serverLog.access(record, path22);
    },
    fallbackBaseUrl: () => url,
    limits
  });
  await new Promise((resolveListen, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", rejectListen);
      resolveListen();
    });
  });
  port = server.address().port;
  url = publicUrl?.href ?? `http://${clientHost(host)}:${port}/`;
  sweeper.start();
  let closing;
  return {
    url,
    port,
    stats: () => ({ ...stats }),
    sweepStats: () => sweeper.stats(),
    sweep: () => sweeper.sweep(),
    close: (drainMs = drainTimeoutMs) => {
      const sockets = close(drainMs);
      return closing ??= sockets.then(async () => {
        await sweeper.stop();
        await Promise.all(protocols.map((p) => p.close?.()));
      });
    }
  };
}
async function openAzure(spec, options, limits, metrics, log) {
  const { openAzureStore: openAzureStore2 } = await Promise.resolve().then(() => (init_azure_store(), azure_store_exports));
  const store = await openAzureStore2(spec, {
    limits,
    signedUrlTtlMs: signedUrlTtl({ signedUrlTtlMs: options.signedUrlTtlMs }),
    time: (operation, call) => metrics.time(operation, call),
    log
  });
  return { store, limits };
}
async function openAzureLegacy(spec, limits, metrics) {
  const { openAzureLegacyStore: openAzureLegacyStore2 } = await Promise.resolve().then(() => (init_open_azure_legacy(), open_azure_legacy_exports));
  return openAzureLegacyStore2(spec, { limits, time: (operation, call) => metrics.time(operation, call) });
}
function isLoopback(host) {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
function clientHost(host) {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
function sweepMetrics(stats) {
  return {
    runs: stats.runs,
    deletedArtifacts: stats.deletedArtifacts + stats.evictedArtifacts,
    deletedBytes: stats.deletedBytes + stats.evictedBytes,
    lastRunSeconds: stats.lastRunAt === null ? 0 : Math.floor(Date.parse(stats.lastRunAt) / 1e3),
    runStateCorrections: stats.runStateCorrections,
    runBlobsDeleted: stats.runBlobsDeleted
  };
}

// src/embedded-store.ts
var startEmbeddedStore = (options) => startServer(options);

// src/transport/http-manager.ts
import http4 from "node:http";
import https3 from "node:https";

// src/core/stats.ts
function emptyStats() {
  return {
    requests: 0,
    retries: { status: 0, network: 0, rateLimit: 0 },
    connectionsOpened: 0,
    bytesSent: 0,
    bytesReceived: 0,
    cache: { hits: 0, misses: 0, bytesServed: 0 },
    requestsSpared: 0,
    phases: { metadataMs: 0, transferMs: 0, finalizeMs: 0, extractMs: 0 }
  };
}
function retryKindOf(status, rateLimited = false) {
  if (status === void 0) return "network";
  return rateLimited || status === 429 ? "rateLimit" : "status";
}
var PHASE_KEY = {
  metadata: "metadataMs",
  transfer: "transferMs",
  finalize: "finalizeMs",
  extract: "extractMs"
};
var StatsCollector = class {
  #stats = emptyStats();
  #phases = /* @__PURE__ */ new Map();
  #now;
  /** `now` in milliseconds, monotonic; injectable for tests. */
  constructor(now = () => performance.now()) {
    this.#now = now;
  }
  request() {
    this.#stats.requests++;
  }
  retry(kind) {
    this.#stats.retries[kind]++;
  }
  connectionOpened() {
    this.#stats.connectionsOpened++;
  }
  sent(bytes) {
    this.#stats.bytesSent += bytes;
  }
  received(bytes) {
    this.#stats.bytesReceived += bytes;
  }
  cacheHit(bytesServed) {
    this.#stats.cache.hits++;
    this.#stats.cache.bytesServed += bytesServed;
  }
  cacheMiss() {
    this.#stats.cache.misses++;
  }
  spared(requests = 1) {
    this.#stats.requestsSpared += requests;
  }
  /**
   * Starts timing `phase`; the returned function ends it (calling it again does nothing).
   * Overlapping starts of one phase (parallel workers) are timed as their union.
   */
  startPhase(phase) {
    let clock = this.#phases.get(phase);
    if (!clock) {
      clock = { active: 0, since: 0, totalMs: 0 };
      this.#phases.set(phase, clock);
    }
    if (clock.active++ === 0) clock.since = this.#now();
    let ended = false;
    const running = clock;
    return () => {
      if (ended) return;
      ended = true;
      if (--running.active === 0) running.totalMs += this.#now() - running.since;
    };
  }
  /** A copy of the counters now; phases still running count up to this moment. Whole ms. */
  snapshot() {
    const out = copyStats(this.#stats);
    const now = this.#now();
    for (const [phase, clock] of this.#phases) {
      const ms = clock.totalMs + (clock.active > 0 ? now - clock.since : 0);
      out.phases[PHASE_KEY[phase]] = Math.round(ms);
    }
    return out;
  }
};
function copyStats(stats) {
  return {
    ...stats,
    retries: { ...stats.retries },
    cache: { ...stats.cache },
    phases: { ...stats.phases }
  };
}
function mergeStats(list3) {
  const out = emptyStats();
  for (const s of list3) {
    out.requests += s.requests;
    out.retries.status += s.retries.status;
    out.retries.network += s.retries.network;
    out.retries.rateLimit += s.retries.rateLimit;
    out.connectionsOpened += s.connectionsOpened;
    out.bytesSent += s.bytesSent;
    out.bytesReceived += s.bytesReceived;
    out.cache.hits += s.cache.hits;
    out.cache.misses += s.cache.misses;
    out.cache.bytesServed += s.cache.bytesServed;
    out.requestsSpared += s.requestsSpared;
    out.phases.metadataMs += s.phases.metadataMs;
    out.phases.transferMs += s.phases.transferMs;
    out.phases.finalizeMs += s.phases.finalizeMs;
    out.phases.extractMs += s.phases.extractMs;
  }
  return out;
}
function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
function formatStatsLine(stats) {
  const r = stats.retries;
  const retries = r.status + r.network + r.rateLimit;
  const p = stats.phases;
  return `Stats: ${plural(stats.requests, "request")} (${plural(retries, "retry", "retries")}: ${r.status} status, ${r.network} network, ${r.rateLimit} rate limit), ${plural(stats.connectionsOpened, "connection")} opened, sent ${formatBytes(stats.bytesSent)}, received ${formatBytes(stats.bytesReceived)}, cache ${plural(stats.cache.hits, "hit")} / ${plural(stats.cache.misses, "miss", "misses")} (${formatBytes(stats.cache.bytesServed)} served), ${plural(stats.requestsSpared, "request")} spared; metadata ${p.metadataMs} ms, transfer ${p.transferMs} ms, finalize ${p.finalizeMs} ms, extract ${p.extractMs} ms`;
}
function formatStatsMarkdown(stats, title = "Ferry transfer stats") {
  const r = stats.retries;
  const p = stats.phases;
  const rows = [
    ["Requests", String(stats.requests)],
    ["Retries (status / network / rate limit)", `${r.status} / ${r.network} / ${r.rateLimit}`],
    ["Connections opened", String(stats.connectionsOpened)],
    ["Bytes sent / received", `${formatBytes(stats.bytesSent)} / ${formatBytes(stats.bytesReceived)}`],
    [
      "Cache hits / misses (served)",
      `${stats.cache.hits} / ${stats.cache.misses} (${formatBytes(stats.cache.bytesServed)})`
    ],
    ["Requests spared", String(stats.requestsSpared)],
    [
      "Time: metadata / transfer / finalize / extract",
      `${p.metadataMs} / ${p.transferMs} / ${p.finalizeMs} / ${p.extractMs} ms`
    ]
  ];
  return [
    `### ${title}`,
    "",
    "| Counter | Value |",
    "| --- | --- |",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    ""
  ].join("\n");
}

// src/transport/clock.ts
var systemClock = {
  now: () => Date.now(),
  sleep: abortableSleep
};
function abortableSleep(ms, signal) {
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve2, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve2();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// src/transport/no-proxy.ts
import { isIP, isIPv4, isIPv6 } from "node:net";
function parseNoProxy(list3) {
  const rules = [];
  const ignored = [];
  for (const raw of (list3 ?? "").split(/[\s,]+/)) {
    if (raw === "") continue;
    const rule = parseEntry(raw);
    if (rule) rules.push(rule);
    else ignored.push(raw);
  }
  return { rules, ignored };
}
function matchNoProxy(target, parsed) {
  if (parsed.rules.length === 0) return void 0;
  const host = normalizeHost(target.hostname);
  const port = targetPort(target);
  const ip = parseIp(host);
  for (const rule of parsed.rules) {
    if (ruleMatches(rule, host, port, ip)) return rule;
  }
  return void 0;
}
function targetPort(target) {
  if (target.port !== "") return Number(target.port);
  if (target.protocol === "https:") return 443;
  if (target.protocol === "http:") return 80;
  return 0;
}
function ruleMatches(rule, host, port, ip) {
  switch (rule.kind) {
    case "all":
      return true;
    case "name":
      if (ip !== void 0 || rule.port !== void 0 && rule.port !== port) return false;
      return host === rule.name || host.endsWith(`.${rule.name}`);
    case "ip":
      if (rule.port !== void 0 && rule.port !== port) return false;
      return ip !== void 0 && sameIp(ip, rule.bytes);
    case "cidr":
      return ip !== void 0 && inCidr(ip, rule.bytes, rule.prefix);
  }
}
function parseEntry(raw) {
  const entry = raw.toLowerCase();
  if (entry === "*") return { kind: "all", raw };
  const slash = entry.indexOf("/");
  if (slash !== -1) {
    const addr = stripBrackets(entry.slice(0, slash));
    const prefixText = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return void 0;
    const bytes = parseIp(addr);
    const prefix = Number(prefixText);
    if (!bytes || prefix > bytes.length * 8) return void 0;
    return { kind: "cidr", raw, bytes, prefix };
  }
  if (entry.startsWith("[")) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (!m || !isIPv6(m[1] ?? "")) return void 0;
    const port2 = m[2] === void 0 ? void 0 : parsePort(m[2]);
    if (port2 === null) return void 0;
    return withPort({ kind: "ip", raw, bytes: parseIp(m[1] ?? "") }, port2);
  }
  if (isIPv6(entry)) return { kind: "ip", raw, bytes: parseIp(entry) };
  let host = entry;
  let port;
  const colon = entry.lastIndexOf(":");
  if (colon !== -1) {
    const p = parsePort(entry.slice(colon + 1));
    if (p === null) return void 0;
    port = p;
    host = entry.slice(0, colon);
  }
  if (isIPv4(host)) return withPort({ kind: "ip", raw, bytes: parseIp(host) }, port);
  if (host.startsWith("*.")) host = host.slice(2);
  else if (host.startsWith(".")) host = host.slice(1);
  host = host.replace(/\.$/, "");
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(host)) return void 0;
  return withPort({ kind: "name", raw, name: host }, port);
}
function withPort(rule, port) {
  return port === void 0 ? rule : { ...rule, port };
}
function parsePort(text) {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}
function normalizeHost(hostname3) {
  return stripBrackets(hostname3.toLowerCase()).replace(/\.$/, "");
}
function stripBrackets(host) {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
function parseIp(text) {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split(".").map(Number));
  if (family !== 6) return void 0;
  let addr = text.replace(/%.*$/, "");
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    addr = `${addr.slice(0, v4.index)}${(a << 8 | b).toString(16)}:${(c << 8 | d).toString(16)}`;
  }
  const [headText = "", tailText] = addr.split("::");
  const parseGroups = (s) => s === "" ? [] : s.split(":").map((g) => parseInt(g, 16));
  const head = parseGroups(headText);
  const rest = tailText === void 0 ? [] : parseGroups(tailText);
  const groups = tailText === void 0 ? head : [...head, ...new Array(8 - head.length - rest.length).fill(0), ...rest];
  const out = new Uint8Array(16);
  if (groups.length !== 8) return void 0;
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 255;
  });
  return out;
}
var V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255];
function unmapV4(bytes) {
  if (bytes.length === 16 && V4_MAPPED_PREFIX.every((b, i) => bytes[i] === b)) return bytes.slice(12);
  return bytes;
}
function sameIp(a, b) {
  const x = unmapV4(a);
  const y = unmapV4(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
function inCidr(ip, network, prefix) {
  const addr = network.length === 4 ? unmapV4(ip) : ip;
  if (addr.length !== network.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const bits = Math.min(8, prefix - bit);
    const mask2 = 255 << 8 - bits & 255;
    const i = bit / 8;
    if (((addr[i] ?? 0) & mask2) !== ((network[i] ?? 0) & mask2)) return false;
  }
  return true;
}

// src/transport/proxy/settings.ts
var sources = /* @__PURE__ */ new WeakMap();
var ENV_NAMES = {
  httpProxy: "http_proxy",
  httpsProxy: "https_proxy",
  noProxy: "no_proxy"
};
function proxySettingsFromEnv(env) {
  const out = {};
  const from = {};
  for (const key of Object.keys(ENV_NAMES)) {
    const lower = ENV_NAMES[key];
    const upper = lower.toUpperCase();
    const name = env[lower] !== void 0 ? lower : env[upper] !== void 0 ? upper : void 0;
    if (name === void 0) continue;
    out[key] = (env[name] ?? "").trim();
    from[key] = name;
  }
  sources.set(out, from);
  return out;
}
function sourceLabel(settings, key) {
  return sources.get(settings)?.[key] ?? ENV_NAMES[key].toUpperCase();
}

// src/transport/proxy/proxy-url.ts
function parseProxyUrl(value, label2) {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new FerryError("ERR_FERRY_CONFIG", `Invalid proxy URL in ${label2}: ${maskUserinfo(value)}`, {
      context: { option: label2 }
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FerryError(
      "ERR_FERRY_CONFIG",
      `Unsupported proxy scheme '${url.protocol}' in ${label2} (only http:// and https:// proxies are supported)`,
      { context: { option: label2 } }
    );
  }
  if (url.hostname === "") {
    throw new FerryError("ERR_FERRY_CONFIG", `Invalid proxy URL in ${label2}: no host`, {
      context: { option: label2 }
    });
  }
  return url;
}
function maskUserinfo(value) {
  return value.replace(/^([^/]*\/\/)?[^/]*@/, (_m, scheme) => `${scheme ?? ""}***@`);
}

// src/transport/proxy/routing.ts
function fieldFor(target) {
  if (target.protocol === "https:") return "httpsProxy";
  if (target.protocol === "http:") return "httpProxy";
  return void 0;
}
function decide(target, settings, noProxy) {
  const field = fieldFor(target);
  if (field === void 0) return {};
  const value = settings[field];
  if (!value) return {};
  const rule = matchNoProxy(target, noProxy);
  if (rule) return { matched: rule.raw };
  return { proxy: parseProxyUrl(value, sourceLabel(settings, field)) };
}
var noProxyParsed = /* @__PURE__ */ new Map();
function noProxyCache(list3) {
  const key = list3 ?? "";
  let parsed = noProxyParsed.get(key);
  if (!parsed) {
    if (noProxyParsed.size >= 32) noProxyParsed.clear();
    parsed = parseNoProxy(key);
    noProxyParsed.set(key, parsed);
  }
  return parsed;
}
function proxyFor(target, settings) {
  return decide(target, settings, noProxyCache(settings.noProxy)).proxy;
}

// src/transport/proxy/endpoint.ts
import * as net from "node:net";

// src/transport/proxy/credentials.ts
function credentialsOf(proxy) {
  if (!proxy.username && !proxy.password) return void 0;
  return { username: safeDecode2(proxy.username), password: safeDecode2(proxy.password) };
}
function safeDecode2(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
function basicAuthorization(proxy) {
  const credentials = credentialsOf(proxy);
  return credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64")}` : void 0;
}

// src/transport/proxy/endpoint.ts
function toEndpoint(proxy) {
  const secure = proxy.protocol === "https:";
  const host = stripBrackets2(proxy.hostname);
  const port = proxy.port ? Number(proxy.port) : secure ? 443 : 80;
  const authorization = basicAuthorization(proxy);
  const display = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  return {
    key: `${proxy.protocol}//${display}#${authorization ?? ""}`,
    secure,
    host,
    port,
    display,
    authorization
  };
}
function stripBrackets2(host) {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

// src/transport/proxy/errors.ts
var ProxyError = class extends FerryError {
  name = "ProxyError";
  /** The proxy as `host:port`. */
  proxy;
  /** The status the proxy answered CONNECT with, when it answered. */
  status;
  /** The system error code of the cause (`ECONNREFUSED`, `ECONNRESET`, ...), when there is one. */
  errno;
  constructor(message, details) {
    const errno2 = errnoOf2(details.cause);
    super("ERR_FERRY_PROXY", message, {
      retryable: details.retryable ?? false,
      ...details.cause === void 0 ? {} : { cause: details.cause },
      ...details.context === void 0 ? {} : { context: details.context }
    });
    this.proxy = details.proxy;
    this.status = details.status;
    this.errno = errno2;
  }
  /**
   * This failure with the request's context (operation, artifact, method, URL, attempt), added
   * in place.
   * The agent that raises a ProxyError does not know which operation its socket is for; the
   * HttpManager does, and calls this so the message names the operation and the artifact like
   * every other transport error. Context already set is kept where `context` has no value.
   */
  inContext(context) {
    return addErrorContext(this, definedOnly(context));
  }
};
function definedOnly(context) {
  return Object.fromEntries(Object.entries(context).filter(([, v]) => v !== void 0));
}
function proxyAuthRequiredError(target, settings) {
  const proxy = proxyFor(target, settings);
  if (!proxy) return void 0;
  const endpoint = toEndpoint(proxy);
  return proxyStatusError(endpoint, `${target.origin}`, 407, "Proxy Authentication Required");
}
var TRANSIENT = /* @__PURE__ */ new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN"
]);
var UNREACHABLE = /* @__PURE__ */ new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN"
]);
function errnoOf2(error2) {
  const code = error2?.code;
  return typeof code === "string" ? code : void 0;
}
function proxySocketError(endpoint, error2, connected, what) {
  const errno2 = errnoOf2(error2);
  const detail = errno2 ?? (error2 instanceof Error ? error2.message : String(error2));
  const message = !connected || errno2 !== void 0 && UNREACHABLE.has(errno2) ? `proxy ${endpoint.display} unreachable (${detail})` : `proxy ${endpoint.display} failed during ${what} (${detail})`;
  return new ProxyError(message, {
    proxy: endpoint.display,
    cause: error2,
    retryable: errno2 === void 0 ? /socket hang up/i.test(String(error2)) : TRANSIENT.has(errno2)
  });
}
function proxyStatusError(endpoint, what, status, statusText) {
  const reason = statusText ? ` ${statusText}` : "";
  if (status === 407) {
    const hint = endpoint.authorization ? "the credentials in the proxy URL were rejected" : "no credentials were configured: put user:password (percent-encoded) in the proxy URL";
    return new ProxyError(
      `proxy authentication required: proxy ${endpoint.display} answered 407${reason} to ${what}; ${hint}`,
      { proxy: endpoint.display, status, retryable: false }
    );
  }
  return new ProxyError(`proxy ${endpoint.display} refused ${what} with ${status}${reason}`, {
    proxy: endpoint.display,
    status,
    // 5xx: the proxy could not reach the target (or is overloaded); 408/429: try again later.
    retryable: status >= 500 || status === 408 || status === 429
  });
}
function timeoutError(endpoint, what, ms) {
  const cause = Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: "ETIMEDOUT" });
  return new ProxyError(`proxy ${endpoint.display} did not complete ${what} within ${ms} ms`, {
    proxy: endpoint.display,
    cause,
    retryable: true
  });
}

// src/transport/proxy/slot-agents.ts
import * as http3 from "node:http";
import * as https2 from "node:https";
import * as net4 from "node:net";

// src/transport/proxy/forward-agent.ts
import * as http from "node:http";

// src/transport/proxy/connect.ts
import * as net2 from "node:net";
import * as tls from "node:tls";
function connectToProxy(endpoint, tlsOptions, timeoutMs, track, done) {
  const socket = endpoint.secure ? tls.connect({ ...tlsOptions, host: endpoint.host, port: endpoint.port, ...sni(endpoint.host) }) : net2.connect({ host: endpoint.host, port: endpoint.port });
  track.add(socket);
  socket.once("close", () => track.delete(socket));
  const ready = endpoint.secure ? "secureConnect" : "connect";
  let finished4 = false;
  const finish = (err) => {
    if (finished4) return;
    finished4 = true;
    clearTimeout(timer);
    socket.removeListener("error", onError);
    socket.removeListener(ready, onReady);
    if (err) {
      socket.destroy();
      done(err);
    } else done(null, socket);
  };
  const onError = (error2) => finish(proxySocketError(endpoint, error2, false, "connect"));
  const onReady = () => finish(null);
  const timer = setTimeout(() => finish(timeoutError(endpoint, "the connection", timeoutMs)), timeoutMs);
  timer.unref();
  socket.once("error", onError);
  socket.once(ready, onReady);
}
function sni(host) {
  return net2.isIP(host) ? {} : { servername: host };
}

// src/transport/proxy/forward-agent.ts
var ForwardProxyAgent = class extends http.Agent {
  #endpoint;
  #tls;
  #timeoutMs;
  #raw = /* @__PURE__ */ new Set();
  constructor(endpoint, options, tlsOptions, timeoutMs) {
    super(options);
    this.#endpoint = endpoint;
    this.#tls = tlsOptions;
    this.#timeoutMs = timeoutMs;
  }
  createConnection(_options, callback) {
    connectToProxy(this.#endpoint, this.#tls, this.#timeoutMs, this.#raw, (err, socket) => {
      if (err) callback?.(err, void 0);
      else callback?.(null, socket);
    });
    return void 0;
  }
  destroy() {
    super.destroy();
    for (const socket of this.#raw) socket.destroy();
    this.#raw.clear();
  }
};

// src/transport/proxy/tunnel-agent.ts
import * as http2 from "node:http";
import * as https from "node:https";
import * as net3 from "node:net";
import * as tls2 from "node:tls";
var TunnelAgent = class extends https.Agent {
  #endpoint;
  #tls;
  #timeoutMs;
  /** Proxy sockets and tunnel TLS sockets this agent created, destroyed by destroy(). */
  #raw = /* @__PURE__ */ new Set();
  constructor(endpoint, options, tlsOptions, timeoutMs) {
    super({ ...tlsOptions, ...options });
    this.#endpoint = endpoint;
    this.#tls = tlsOptions;
    this.#timeoutMs = timeoutMs;
  }
  createConnection(options, callback) {
    const endpoint = this.#endpoint;
    const host = stripBrackets2(String(options.host ?? "localhost"));
    const port = Number(options.port ?? 443);
    const authority = `${net3.isIPv6(host) ? `[${host}]` : host}:${port}`;
    let finished4 = false;
    const fail = (err) => {
      if (finished4) return;
      finished4 = true;
      callback?.(err, void 0);
    };
    connectToProxy(endpoint, this.#tls, this.#timeoutMs, this.#raw, (err, proxySocket) => {
      if (err || !proxySocket) {
        fail(err ?? proxySocketError(endpoint, new Error("no socket"), false, "connect"));
        return;
      }
      const headers = { host: authority };
      if (endpoint.authorization) headers["proxy-authorization"] = endpoint.authorization;
      const req = http2.request({
        method: "CONNECT",
        path: authority,
        headers,
        setHost: false,
        // No agent: the request runs on the socket we already connected (and track).
        createConnection: () => proxySocket
      });
      const timer = setTimeout(() => {
        fail(timeoutError(endpoint, `CONNECT ${authority}`, this.#timeoutMs));
        req.destroy();
        proxySocket.destroy();
      }, this.#timeoutMs);
      timer.unref();
      req.once("error", (error2) => {
        clearTimeout(timer);
        proxySocket.destroy();
        fail(proxySocketError(endpoint, error2, true, `CONNECT ${authority}`));
      });
      req.once("connect", (res, socket, head) => {
        clearTimeout(timer);
        if (finished4) {
          socket.destroy();
          return;
        }
        if (res.statusCode !== 200) {
          socket.destroy();
          fail(proxyStatusError(endpoint, `CONNECT ${authority}`, res.statusCode ?? 0, res.statusMessage));
          return;
        }
        if (head.length > 0) {
          socket.destroy();
          fail(
            new ProxyError(`proxy ${endpoint.display} sent data before the TLS handshake of ${authority}`, {
              proxy: endpoint.display
            })
          );
          return;
        }
        this.#startTls(socket, options, host, authority, callback, fail, () => {
          finished4 = true;
        });
      });
      req.end();
    });
    return void 0;
  }
  #startTls(socket, options, host, authority, callback, fail, markDone) {
    const endpoint = this.#endpoint;
    const servername = options.servername || (net3.isIP(host) ? void 0 : host);
    const secure = tls2.connect({
      ...this.#tls,
      socket,
      host,
      ...servername ? { servername } : {}
    });
    this.#raw.add(secure);
    socket.on("error", () => void 0);
    secure.once("close", () => {
      this.#raw.delete(secure);
      socket.destroy();
    });
    const timer = setTimeout(() => {
      secure.destroy();
      fail(timeoutError(endpoint, `the TLS handshake with ${authority} through the tunnel`, this.#timeoutMs));
    }, this.#timeoutMs);
    timer.unref();
    const onError = (error2) => {
      clearTimeout(timer);
      secure.destroy();
      const errno2 = errnoOf2(error2);
      fail(
        new ProxyError(
          `TLS handshake with ${authority} through proxy ${endpoint.display} failed: ${error2.message}`,
          { proxy: endpoint.display, cause: error2, retryable: errno2 !== void 0 && TRANSIENT.has(errno2) }
        )
      );
    };
    secure.once("error", onError);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      secure.removeListener("error", onError);
      markDone();
      callback?.(null, secure);
    });
  }
  destroy() {
    super.destroy();
    for (const socket of this.#raw) socket.destroy();
    this.#raw.clear();
  }
};

// src/transport/proxy/slot-agents.ts
var SlotAgents = class {
  #settings;
  #noProxy;
  #keepAlive;
  #maxSockets;
  #tls;
  #connectTimeoutMs;
  #directHttp;
  #directHttps;
  #forward = /* @__PURE__ */ new Map();
  #tunnels = /* @__PURE__ */ new Map();
  #destroyed = false;
  constructor(settings, options = {}) {
    this.#settings = settings;
    this.#noProxy = parseNoProxy(settings.noProxy);
    this.#keepAlive = options.keepAlive ?? true;
    this.#maxSockets = options.maxSockets ?? 1;
    if (!Number.isInteger(this.#maxSockets) || this.#maxSockets < 1) {
      throw new FerryError(
        "ERR_FERRY_INVALID_OPTION",
        `maxSockets must be a positive integer, got ${this.#maxSockets}`,
        {
          context: { option: "maxSockets" }
        }
      );
    }
    this.#tls = tlsOnly(options.tls ?? {});
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 3e4;
    for (const key of ["httpProxy", "httpsProxy"]) {
      const value = settings[key];
      if (value) {
        const proxy = parseProxyUrl(value, sourceLabel(settings, key));
        const credentials = credentialsOf(proxy);
        registerSecret(credentials?.password);
        registerSecret(proxy.password);
      }
    }
  }
  prepare(options, target) {
    if (this.#destroyed) {
      throw new FerryError(
        "ERR_FERRY_CLIENT_CLOSED",
        "The connection slot was destroyed; no more requests can be sent"
      );
    }
    if (prepared.has(options)) return;
    prepared.add(options);
    const effective = effectiveTarget(options, target);
    const { proxy } = decide(effective, this.#settings, this.#noProxy);
    const hostname3 = stripBrackets2(effective.hostname);
    const secure = effective.protocol === "https:";
    if (!proxy) {
      options.host = hostname3;
      if (options.hostname !== void 0) options.hostname = hostname3;
      options.agent = secure ? this.#httpsAgent() : this.#httpAgent();
      return;
    }
    const endpoint = toEndpoint(proxy);
    if (secure) {
      options.host = hostname3;
      if (options.hostname !== void 0) options.hostname = hostname3;
      options.agent = this.#tunnelAgent(endpoint);
      return;
    }
    const path22 = options.path ?? "/";
    options.agent = this.#forwardAgent(endpoint);
    setHeader(options, "host", effective.host);
    if (endpoint.authorization) setHeader(options, "proxy-authorization", endpoint.authorization);
    options.path = `http://${effective.host}${path22.startsWith("/") ? path22 : `/${path22}`}`;
    options.host = endpoint.host;
    if (options.hostname !== void 0) options.hostname = endpoint.host;
    options.port = endpoint.port;
  }
  destroy() {
    this.#destroyed = true;
    this.#directHttp?.destroy();
    this.#directHttps?.destroy();
    for (const agent of this.#forward.values()) agent.destroy();
    for (const agent of this.#tunnels.values()) agent.destroy();
    this.#forward.clear();
    this.#tunnels.clear();
  }
  #agentOptions() {
    return { keepAlive: this.#keepAlive, maxSockets: this.#maxSockets };
  }
  #httpAgent() {
    this.#directHttp ??= new http3.Agent(this.#agentOptions());
    return this.#directHttp;
  }
  #httpsAgent() {
    this.#directHttps ??= new https2.Agent({ ...this.#tls, ...this.#agentOptions() });
    return this.#directHttps;
  }
  #forwardAgent(endpoint) {
    let agent = this.#forward.get(endpoint.key);
    if (!agent) {
      agent = new ForwardProxyAgent(endpoint, this.#agentOptions(), this.#tls, this.#connectTimeoutMs);
      this.#forward.set(endpoint.key, agent);
    }
    return agent;
  }
  #tunnelAgent(endpoint) {
    let agent = this.#tunnels.get(endpoint.key);
    if (!agent) {
      agent = new TunnelAgent(endpoint, this.#agentOptions(), this.#tls, this.#connectTimeoutMs);
      this.#tunnels.set(endpoint.key, agent);
    }
    return agent;
  }
};
var prepared = /* @__PURE__ */ new WeakSet();
function effectiveTarget(options, target) {
  const rawHost = options.hostname ?? options.host;
  if (rawHost === void 0 || rawHost === null) return target;
  const host = stripBrackets2(String(rawHost)).toLowerCase();
  const port = options.port === void 0 || options.port === null ? targetPort(target) : Number(options.port);
  if (host === stripBrackets2(target.hostname) && port === targetPort(target)) return target;
  const protocol = port === 443 ? "https:" : port === 80 ? "http:" : target.protocol;
  const bracketed = net4.isIPv6(host) ? `[${host}]` : host;
  return new URL(`${protocol}//${bracketed}:${port}${options.path ?? "/"}`);
}
function setHeader(options, name, value) {
  const headers = options.headers;
  if (Array.isArray(headers)) {
    const flat = [...headers];
    for (let i = flat.length - 2; i >= 0; i -= 2) {
      if (String(flat[i]).toLowerCase() === name) flat.splice(i, 2);
    }
    options.headers = [...flat, name, value];
    return;
  }
  const record = { ...headers };
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() === name) delete record[key];
  }
  record[name] = value;
  options.headers = record;
}
var CONNECTION_FIELDS = /* @__PURE__ */ new Set(["host", "port", "socket", "path", "servername", "timeout"]);
function tlsOnly(options) {
  return Object.fromEntries(Object.entries(options).filter(([key]) => !CONNECTION_FIELDS.has(key)));
}

// src/transport/retry.ts
var defaultRetryPolicy = Object.freeze({
  maxAttempts: 6,
  baseDelayMs: 1e3,
  multiplier: 2,
  maxDelayMs: 3e4,
  jitter: 0.5,
  maxRetryAfterMs: 6e4,
  totalTimeMs: 6e5,
  retryableStatuses: Object.freeze([408, 429, 500, 502, 503, 504]),
  retryableErrorCodes: Object.freeze([
    "ECONNRESET",
    "ETIMEDOUT",
    "EPIPE",
    "ECONNREFUSED",
    "ECONNABORTED",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "EAI_AGAIN",
    "ESOCKETTIMEDOUT",
    "UND_ERR_SOCKET",
    "UND_ERR_CLOSED",
    "ERR_STREAM_PREMATURE_CLOSE",
    // A 2xx whose body is not JSON: usually an intermediary's error page; worth another try.
    "ERR_FERRY_BAD_JSON"
  ])
});
function decideRetry(policy, input, random = Math.random) {
  const { outcome } = input;
  let reason;
  let retryAfterMs;
  if (outcome.kind === "status") {
    reason = `HTTP ${outcome.status}`;
    if (!policy.retryableStatuses.includes(outcome.status)) {
      return { retry: false, reason, permanent: outcome.status >= 400 && outcome.status < 500 };
    }
    retryAfterMs = parseRetryAfter(outcome.retryAfter, input.nowMs) ?? parseRateLimitReset(outcome.rateLimitReset, input.nowMs);
  } else {
    const code = errorCode(outcome.error);
    reason = code ?? describe(outcome.error);
    if (!isRetryableError(policy, outcome.error)) return { retry: false, reason, permanent: true };
  }
  if (input.attempt >= policy.maxAttempts) {
    return {
      retry: false,
      reason: `${reason}; gave up after ${input.attempt} attempt${input.attempt === 1 ? "" : "s"}`,
      permanent: false
    };
  }
  const delayMs = retryAfterMs !== void 0 ? Math.min(retryAfterMs, policy.maxRetryAfterMs) : backoffDelay(policy, input.attempt, random);
  if (input.elapsedMs + delayMs > policy.totalTimeMs) {
    return {
      retry: false,
      reason: `${reason}; retry budget of ${Math.round(policy.totalTimeMs / 1e3)} s exhausted`,
      permanent: false
    };
  }
  return { retry: true, delayMs, reason, basis: retryAfterMs !== void 0 ? "server" : "backoff" };
}
function backoffDelay(policy, attempt, random = Math.random) {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.multiplier ** Math.max(0, attempt - 1));
  const jitter = Math.max(0, Math.min(1, policy.jitter));
  return Math.round(exp * (1 - jitter) + exp * jitter * random());
}
function parseRetryAfter(value, nowMs) {
  if (value === void 0) return void 0;
  const trimmed = value.trim();
  if (trimmed === "") return void 0;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1e3);
  if (!HTTP_DATE.test(trimmed)) return void 0;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return void 0;
  return Math.max(0, date - nowMs);
}
var HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? .*\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b.*\b\d{2}:\d{2}:\d{2}\b/;
function parseRateLimitReset(value, nowMs) {
  const trimmed = value?.trim();
  if (!trimmed || !/^\d{1,12}$/.test(trimmed)) return void 0;
  return Math.max(0, Number(trimmed) * 1e3 - nowMs);
}
function errorCode(error2) {
  if (typeof error2 !== "object" || error2 === null) return void 0;
  const own = error2.code;
  const errno2 = error2.errno;
  if (typeof errno2 === "string") return errno2;
  if (typeof own === "string" && !own.startsWith("ERR_FERRY_")) return own;
  const cause = error2.cause;
  if (cause !== void 0 && cause !== error2) {
    const inner = errorCode(cause);
    if (inner !== void 0) return inner;
  }
  return typeof own === "string" ? own : void 0;
}
function isRetryableError(policy, error2) {
  if (typeof error2 === "object" && error2 !== null && error2.retryable === true)
    return true;
  const code = errorCode(error2);
  if (code !== void 0 && policy.retryableErrorCodes.includes(code)) return true;
  const message = describe(error2);
  return /socket hang up|Request timeout|premature close|aborted/i.test(message) && !isAbort(error2);
}
function isAbort(error2) {
  return typeof error2 === "object" && error2 !== null && error2.code === "ERR_FERRY_ABORTED";
}
function describe(error2) {
  return error2 instanceof Error ? error2.message : String(error2);
}

// src/transport/http-failure.ts
function networkFailure(spec, url, error2, attempt, socketTimeoutMs) {
  if (error2 instanceof ProxyError)
    return error2.inContext({ ...spec.context, method: spec.method, url: redactUrl(url), attempt });
  if (error2 instanceof FerryError && error2.code === "ERR_FERRY_PROXY") return error2;
  const errno2 = errorCode(error2);
  const detail = error2 instanceof Error ? error2.message : String(error2);
  const timeout = /Request timeout/i.test(detail);
  const call = spec.call ? `${spec.call}: ` : "";
  const message = timeout ? `${call}No data from ${url.host} within ${seconds(socketTimeoutMs)} s (timeoutMs) on ${spec.method} ${urlWithoutQuery(url)}` : `${call}Network error on ${spec.method} ${urlWithoutQuery(url)}: ${detail}`;
  return new NetworkError(message, timeout ? "ETIMEDOUT" : errno2, {
    cause: error2,
    context: { ...spec.context, method: spec.method, url: redactUrl(url), attempt }
  });
}
function statusFailure(spec, url, status, statusText, serverMessage, body, attempt, rateLimited, proxy, retryableStatuses) {
  const shortMessage = serverMessage?.slice(0, 200);
  const viaProxy = status === 407 ? proxyAuthRequiredError(url, proxy) : void 0;
  const custom = (viaProxy ? { message: viaProxy.message } : void 0) ?? spec.describeFailure?.(status, shortMessage) ?? (status === 407 ? {
    message: "Proxy authentication required: a proxy Ferry was not told about answered 407 (a transparent proxy on the way?); configure it with credentials in HTTPS_PROXY/HTTP_PROXY"
  } : void 0);
  const code = custom?.code ?? codeForStatus(status, rateLimited ? "rate limit" : serverMessage);
  const base = `Request failed with status code ${status}${statusText ? ` ${statusText}` : ""}: ${spec.method} ${urlWithoutQuery(url)}`;
  const message = custom?.message ? `${custom.message.slice(0, 400)} (${base})` : `${spec.call ? `${spec.call} failed: ` : ""}${base}${shortMessage ? `: ${shortMessage}` : ""}`;
  return new HttpError(code, message, status, body, {
    context: { ...spec.context, method: spec.method, url: redactUrl(url), attempt },
    retryable: rateLimited || retryableStatuses.includes(status)
  });
}
function codeForStatus(status, serverMessage) {
  if (status === 401) return "ERR_FERRY_UNAUTHORIZED";
  if (status === 403 && mentionsRateLimit(serverMessage)) return "ERR_FERRY_HTTP";
  if (status === 403)
    return serverMessage && /quota|storage|limit/i.test(serverMessage) ? "ERR_FERRY_QUOTA" : "ERR_FERRY_UNAUTHORIZED";
  if (status === 404 || status === 410) return "ERR_FERRY_NOT_FOUND";
  if (status === 407) return "ERR_FERRY_PROXY";
  if (status === 409) return "ERR_FERRY_CONFLICT";
  if (status === 507) return "ERR_FERRY_NO_SPACE";
  return "ERR_FERRY_HTTP";
}
function isRateLimited(status, res, serverMessage) {
  if (status === 429) return true;
  if (status !== 403) return false;
  return mentionsRateLimit(serverMessage) || header2(res, "x-ratelimit-remaining")?.trim() === "0";
}
function seconds(ms) {
  return String(Number((ms / 1e3).toFixed(ms < 1e4 ? 3 : 0)));
}
function header2(res, name) {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

// src/transport/retrier.ts
var RetryBudget = class {
  /** 1-based number of the attempt being made (or that just failed). */
  attempt;
  startedAt;
  constructor(attempt, startedAt) {
    this.attempt = attempt;
    this.startedAt = startedAt;
  }
};
var Retrier = class {
  policy;
  logger;
  #clock;
  #random;
  #retries = 0;
  constructor(policy, clock, logger = silentLogger, random) {
    this.policy = policy;
    this.#clock = clock;
    this.logger = logger;
    this.#random = random;
  }
  /** Retries decided so far (for HttpManager's stats). */
  get retries() {
    return this.#retries;
  }
  /** A budget starting now at attempt 1. */
  budget() {
    return new RetryBudget(1, this.#clock.now());
  }
  /** A budget already at its last attempt: one try, never retried (a clean-up outside the operation). */
  singleAttempt() {
    return new RetryBudget(this.policy.maxAttempts, this.#clock.now());
  }
  /** The policy's decision on `outcome`, the failure of the budget's current attempt. */
  decide(budget, outcome) {
    const now = this.#clock.now();
    const decision = decideRetry(
      this.policy,
      { attempt: budget.attempt, elapsedMs: now - budget.startedAt, nowMs: now, outcome },
      this.#random
    );
    if (decision.retry) this.#retries++;
    return decision;
  }
  /** Waits out a retry delay; rejects with AbortError as soon as `signal` aborts. */
  sleep(ms, signal) {
    return this.#clock.sleep(ms, signal);
  }
};

// src/transport/raw-request.ts
function sendRaw(module, options, body, socketTimeoutMs, onResult) {
  let called = false;
  const result = (error2, response) => {
    if (called) return;
    called = true;
    onResult(error2, response);
  };
  const req = module.request(options, (res) => result(void 0, res));
  req.setTimeout(socketTimeoutMs, () => {
    req.socket?.end();
    result(new Error(`Request timeout: ${options.path ?? ""}`));
  });
  req.on("error", (error2) => result(error2));
  if (typeof body === "string") {
    req.end(body, "utf8");
  } else if (body) {
    body.on("close", () => req.end());
    body.pipe(req);
  } else {
    req.end();
  }
  return req;
}

// src/transport/counted-response.ts
import { IncomingMessage } from "node:http";
var kSink = /* @__PURE__ */ Symbol("ferry.statsSink");
function countingPush(chunk, encoding) {
  if (chunk !== null && chunk !== void 0) this[kSink]?.received(chunk.length);
  return IncomingMessage.prototype.push.call(this, chunk, encoding);
}
function countedResponse(res, stats) {
  if (!res.req?.reusedSocket) stats.connectionOpened();
  const counted = res;
  counted[kSink] = stats;
  counted.push = countingPush;
  return res;
}

// src/transport/http-manager.ts
var REDIRECTS = /* @__PURE__ */ new Set([301, 302, 303, 307, 308]);
var MAX_REDIRECTS = 10;
var ERROR_BODY_LIMIT = 64 * 1024;
var HttpManager = class {
  slots;
  /** The retry policy over time, shared with the reconciled steps that repeat calls themselves. */
  retrier;
  #options;
  #logger;
  #slots;
  #stats = { requests: 0, clientsCreated: 0, clientsDisposed: 0 };
  /** The signal of the request each slot is sending, so an abort can cut exactly those sockets. */
  #slotSignals = [];
  /** One 'abort' listener per signal for the manager's life, removed by dispose(). */
  #abortListeners = /* @__PURE__ */ new Map();
  #disposed = false;
  constructor(options) {
    if (!Number.isInteger(options.slots) || options.slots < 1) {
      throw new FerryError(
        "ERR_FERRY_INVALID_OPTION",
        `HttpManager slots must be a positive integer, got ${options.slots}`
      );
    }
    this.slots = options.slots;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.retrier = new Retrier(
      { ...defaultRetryPolicy, ...options.retry },
      options.clock ?? systemClock,
      this.#logger,
      options.random
    );
    this.#slots = Array.from({ length: options.slots }, () => this.#createSlot());
  }
  get #socketTimeoutMs() {
    return this.#options.socketTimeoutMs ?? 12e4;
  }
  get stats() {
    return { ...this.#stats, retries: this.retrier.retries };
  }
  /** The download watchdog's policy for this operation. */
  get stallPolicy() {
    return this.#options.stall ?? DEFAULT_STALL_POLICY;
  }
  /** The largest JSON answer this operation accepts (option maxResponseBytes). */
  get maxResponseBytes() {
    return this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }
  /** Destroys the slot's client and sockets and gives the slot a fresh client. */
  disposeAndReplace(slot) {
    const current = this.#slot(slot);
    this.#destroySlot(current);
    if (!this.#disposed) this.#slots[slot] = this.#createSlot();
  }
  /** Destroys every client and socket. Later requests fail with ERR_FERRY_CLIENT_CLOSED. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const slot of this.#slots) this.#destroySlot(slot);
    for (const [signal, listener] of this.#abortListeners) signal.removeEventListener("abort", listener);
    this.#abortListeners.clear();
  }
  /**
   * Marks `slot` as sending under `signal`; an abort destroys the sockets of every slot still
   * sending under it, which fails their requests at once. One listener per signal rather than an
   * add/remove pair per request: on 10,000 small files the pairs cost ~0.1 s of CPU.
   */
  #watchAbort(slot, signal) {
    this.#slotSignals[slot] = signal;
    if (!signal || this.#abortListeners.has(signal)) return;
    const listener = () => {
      for (let i = 0; i < this.slots; i++) if (this.#slotSignals[i] === signal) this.disposeAndReplace(i);
    };
    this.#abortListeners.set(signal, listener);
    signal.addEventListener("abort", listener, { once: true });
  }
  /**
   * Sends a request with retries. On 2xx, `read` consumes the body and its result is returned.
   * Every other response body is read (bounded) or destroyed, on every path.
   */
  async request(spec, read) {
    const endPhase = this.#options.stats?.startPhase(spec.phase ?? "metadata");
    try {
      return await this.#request(spec, read);
    } finally {
      endPhase?.();
    }
  }
  async #request(spec, read) {
    const budget = spec.budget ?? this.retrier.budget();
    const signal = spec.operation?.signal ?? spec.signal;
    const remembered = spec.rememberAnswers ? this.#options.remembered : void 0;
    if (remembered) {
      try {
        await remembered.answers.check(new URL(spec.url).origin, spec.bearer, {
          ...remembered.waitUpToSeconds !== void 0 ? { waitUpToSeconds: remembered.waitUpToSeconds } : {},
          ...signal ? { signal } : {}
        });
      } catch (error2) {
        if (isFerryError(error2) && error2.code === "ERR_FERRY_RATE_LIMITED") this.#options.stats?.spared(1);
        throw error2;
      }
    }
    let rateLimitError;
    for (; ; budget.attempt++) {
      const attempt = budget.attempt;
      spec.operation?.throwIfStopped();
      if (signal?.aborted) throw new AbortError(signal.reason, spec.context);
      if (this.#disposed)
        throw new FerryError("ERR_FERRY_CLIENT_CLOSED", "The HTTP manager was disposed", {
          context: spec.context
        });
      let outcome;
      let failure;
      let handBack = false;
      let rateLimited = false;
      this.#watchAbort(spec.slot, signal);
      try {
        const { res, url } = await this.#sendFollowingRedirects(spec, attempt);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300 || spec.okStatuses?.includes(status)) {
          try {
            return await read(res);
          } catch (error2) {
            res.destroy();
            if (signal?.aborted) throw new AbortError(signal.reason, spec.context);
            outcome = { kind: "error", error: error2 };
            failure = error2 instanceof FerryError ? error2 : networkFailure(spec, url, error2, attempt, this.#socketTimeoutMs);
            handBack = spec.networkErrors === "throw" && failure.retryable && !(error2 instanceof FerryError);
          }
        } else {
          const body = await readBody(res, ERROR_BODY_LIMIT).catch(() => Buffer.alloc(0));
          const text = body.toString("utf8");
          const serverMessage = extractErrorMessage(text);
          rateLimited = isRateLimited(status, res, serverMessage);
          if (remembered) {
            const seen = await remembered.answers.observe(url.origin, spec.bearer, {
              status,
              headers: res.headers,
              body: text
            });
            rateLimitError = seen.error;
          }
          outcome = {
            kind: "status",
            // A GitHub rate limit arrives as 403; it clears by itself, so it is retried like 429.
            status: rateLimited ? 429 : status,
            retryAfter: header2(res, "retry-after"),
            rateLimitReset: header2(res, "x-ratelimit-reset")
          };
          failure = statusFailure(
            spec,
            url,
            status,
            res.statusMessage,
            serverMessage,
            text,
            attempt,
            rateLimited,
            this.#options.proxy ?? {},
            this.retrier.policy.retryableStatuses
          );
        }
      } catch (error2) {
        if (signal?.aborted) throw spec.operation?.failure ?? new AbortError(signal.reason, spec.context);
        if (error2 instanceof FerryError && !error2.retryable && error2.code !== "ERR_FERRY_PROXY") throw error2;
        outcome = { kind: "error", error: error2 };
        failure = networkFailure(spec, new URL(spec.url), error2, attempt, this.#socketTimeoutMs);
        handBack = spec.networkErrors === "throw" && failure.retryable;
      } finally {
        this.#slotSignals[spec.slot] = void 0;
      }
      if (handBack) {
        this.disposeAndReplace(spec.slot);
        throw failure;
      }
      const decision = this.retrier.decide(budget, outcome);
      if (!decision.retry) {
        if (decision.permanent) spec.operation?.fail(failure);
        throw rateLimitError ?? failure;
      }
      if (rateLimitError instanceof RateLimitedError && !this.#waitsFor(rateLimitError, remembered?.waitUpToSeconds)) {
        throw rateLimitError;
      }
      rateLimitError = void 0;
      this.#logger.debug(
        `${spec.call ? `${spec.call}: ` : ""}${spec.method} ${urlWithoutQuery(spec.url)} failed (${decision.reason}), retry ${attempt} in ${decision.delayMs} ms (${decision.basis})`
      );
      spec.onRetry?.({ attempt, delayMs: decision.delayMs, reason: decision.reason });
      this.#options.stats?.retry(
        retryKindOf(outcome.kind === "status" ? outcome.status : void 0, rateLimited)
      );
      this.disposeAndReplace(spec.slot);
      try {
        await this.retrier.sleep(decision.delayMs, signal);
      } catch (error2) {
        throw spec.operation?.failure ?? error2;
      }
    }
  }
  /** Whether a spent limit resets soon enough to wait for: within the retry policy, or the caller's allowance. */
  #waitsFor(error2, waitUpToSeconds) {
    const waitMs = error2.resetAt.getTime() - Date.now();
    return waitMs <= Math.max(this.retrier.policy.maxRetryAfterMs, (waitUpToSeconds ?? 0) * 1e3);
  }
  async #sendFollowingRedirects(spec, attempt) {
    const headers = typeof spec.headers === "function" ? spec.headers(attempt) : spec.headers;
    let url = new URL(spec.url);
    let method = spec.method;
    let body = spec.body;
    let bearer = spec.bearer;
    assertFetchableUrl(url, spec.call ?? `${spec.method} request`, spec.context);
    for (let hop = 0; ; hop++) {
      const res = await this.#send(spec.slot, method, url, headers, body, bearer);
      const status = res.statusCode ?? 0;
      const location = header2(res, "location");
      if (!REDIRECTS.has(status) || location === void 0 || spec.redirect === "manual") return { res, url };
      await readBody(res, 0).catch(() => void 0);
      if (hop >= MAX_REDIRECTS) {
        throw new FerryError(
          "ERR_FERRY_PROTOCOL",
          `Too many redirects (${MAX_REDIRECTS}) from ${urlWithoutQuery(spec.url)}`,
          {
            context: spec.context
          }
        );
      }
      const next = assertRedirectAllowed(url, location, spec.context);
      if (next.origin !== url.origin) bearer = void 0;
      if (status === 303 || (status === 301 || status === 302) && method === "POST") {
        method = "GET";
        body = void 0;
      }
      url = next;
    }
  }
  #send(slotIndex, method, url, headers, body, bearer) {
    const slot = this.#slot(slotIndex);
    const all = {};
    for (const [key, value] of Object.entries(headers ?? {}))
      if (value !== void 0) all[key.toLowerCase()] = value;
    if (bearer) all["authorization"] = `Bearer ${bearer}`;
    let data = null;
    const stats = this.#options.stats;
    if (typeof body === "string") {
      data = body;
      const length = Buffer.byteLength(body);
      all["content-length"] = length;
      stats?.sent(length);
    } else if (Buffer.isBuffer(body)) {
      all["content-length"] = body.length;
      data = body.length ? oneShotBody(body) : "";
      stats?.sent(body.length);
    } else if (body !== void 0) {
      all["content-length"] = body.length;
      data = body.length ? body.open() : "";
      stats?.sent(body.length);
    }
    this.#stats.requests++;
    stats?.request();
    all["user-agent"] = this.#options.userAgent;
    const secure = url.protocol === "https:";
    const options = {
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: url.pathname + url.search,
      method,
      headers: all
    };
    slot.agents.prepare(options, url);
    return new Promise((resolve2, reject) => {
      sendRaw(secure ? https3 : http4, options, data, this.#socketTimeoutMs, (error2, response) => {
        if (response) resolve2(stats ? countedResponse(response, stats) : response);
        else reject(error2 ?? new Error(`No response to ${method} ${urlWithoutQuery(url)}`));
      });
    });
  }
  #createSlot() {
    const agents = new SlotAgents(this.#options.proxy ?? {}, {
      keepAlive: true,
      maxSockets: 1,
      ...this.#options.tls ? { tls: this.#options.tls } : {}
    });
    this.#stats.clientsCreated++;
    return { agents };
  }
  #destroySlot(slot) {
    slot.agents.destroy();
    this.#stats.clientsDisposed++;
  }
  #slot(index) {
    const slot = this.#slots[index];
    if (!slot) throw new FerryError("ERR_FERRY_INVALID_OPTION", `No HTTP slot ${index} (have ${this.slots})`);
    return slot;
  }
};
function oneShotBody(body) {
  const onClose = [];
  const shot = {
    on(event, listener) {
      if (event === "close") onClose.push(listener);
      return shot;
    },
    pipe(destination) {
      destination.write(body);
      for (const listener of onClose) listener();
      return destination;
    }
  };
  return shot;
}

// src/transport/remembered-answers.ts
import { createHash as createHash17, randomBytes as randomBytes15 } from "node:crypto";
import { open as open24, rename as rename6, rm as rm13 } from "node:fs/promises";
import path20 from "node:path";

// src/transport/answer-recognizer.ts
var BODY_LIMIT = 64 * 1024;
var DEFAULT_RATE_LIMIT_WAIT_MS = 6e4;
var MAX_REMEMBERED_MS = 60 * 60 * 1e3;
var RATE_LIMIT_WORDING = /\brate[ -]limit|abuse detection/i;
function header3(headers, name) {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
function describeShape(body) {
  const text = body.slice(0, BODY_LIMIT).trim();
  if (text === "") return "empty";
  if (text.startsWith("{") || text.startsWith("[")) {
    try {
      const value = JSON.parse(text);
      if (Array.isArray(value)) return "JSON array";
      if (value !== null && typeof value === "object") {
        const keys = Object.keys(value).slice(0, 12).sort();
        return `JSON keys [${keys.map((k) => k.replace(/[^\w.-]/g, "?").slice(0, 40)).join(", ")}]`;
      }
    } catch {
      return "text";
    }
  }
  if (/^(<!doctype html|<html)/i.test(text)) return "HTML";
  if (text.startsWith("<")) return "XML";
  return "text";
}
function wordsOf(body) {
  const text = body.slice(0, BODY_LIMIT);
  const message = extractErrorMessage(text) ?? "";
  return `${message}
${text.replace(/<[^>]*>/g, " ")}`;
}
function recognizeAnswer(answer, nowMs) {
  const { status } = answer;
  const shape = describeShape(answer.body);
  if (status !== 401 && status !== 403 && status !== 429) {
    return {
      verdict: { kind: "other" },
      shape,
      knownShape: status < 400 || status >= 500 || isKnownShape(shape)
    };
  }
  const remaining = header3(answer.headers, "x-ratelimit-remaining")?.trim();
  const retryAfterMs = parseRetryAfter(header3(answer.headers, "retry-after"), nowMs);
  const resetMs = parseRateLimitReset(header3(answer.headers, "x-ratelimit-reset"), nowMs);
  const worded = RATE_LIMIT_WORDING.test(wordsOf(answer.body));
  const evidence = status === 429 ? "429" : remaining === "0" ? "x-ratelimit-remaining: 0" : retryAfterMs !== void 0 ? "retry-after" : worded ? "rate-limit message" : void 0;
  if (status !== 401 && evidence !== void 0) {
    const waitMs = retryAfterMs ?? (remaining === "0" && resetMs !== void 0 ? resetMs : void 0) ?? DEFAULT_RATE_LIMIT_WAIT_MS;
    return {
      verdict: { kind: "rate-limit", resetAtMs: nowMs + Math.min(waitMs, MAX_REMEMBERED_MS), evidence },
      shape,
      knownShape: true
    };
  }
  return { verdict: { kind: "permanent", status }, shape, knownShape: isKnownShape(shape) };
}
function isKnownShape(shape) {
  if (shape === "empty") return true;
  const keys = /^JSON keys \[(.*)\]$/.exec(shape)?.[1]?.split(", ");
  return keys?.includes("message") ?? false;
}

// src/transport/state-dir.ts
import { lstat as lstat5, mkdir as mkdir16 } from "node:fs/promises";
import os6 from "node:os";
import path19 from "node:path";
function resolveStateDir(input) {
  const explicit = input.env["FERRY_STATE_DIR"]?.trim();
  if (explicit) return path19.resolve(explicit);
  if (input.cachePath) return path19.join(path19.resolve(input.cachePath), "state");
  const user = typeof process.getuid === "function" ? String(process.getuid()) : os6.userInfo().username;
  return path19.join(os6.tmpdir(), `ferry-state-${user}`);
}
async function prepareStateDir(dir) {
  await mkdir16(dir, { recursive: true, mode: 448 });
  const info2 = await lstat5(dir);
  if (!info2.isDirectory()) return "not a directory";
  if (typeof process.getuid === "function" && info2.uid !== process.getuid()) return "owned by another user";
  if (process.platform !== "win32" && (info2.mode & 18) !== 0) return "writable by other users";
  return void 0;
}

// src/transport/remembered-answers.ts
var STATE_FILE = "remembered-answers.json";
var MAX_STATE_BYTES2 = 256 * 1024;
var MAX_ENTRIES = 500;
function keyOf2(origin, token) {
  const hash = createHash17("sha256").update(token ?? "").digest("hex");
  return `${origin} ${token ? hash : "anonymous"}`;
}
function originOf(origin) {
  try {
    return new URL(origin).origin;
  } catch {
    throw new ValidationError("ERR_FERRY_INVALID_OPTION", `Not an API origin: '${origin.slice(0, 100)}'`, {
      option: "origin"
    });
  }
}
var RememberedAnswers = class _RememberedAnswers {
  #file;
  #clock;
  #logger;
  #memory = /* @__PURE__ */ new Map();
  #warnedShapes = /* @__PURE__ */ new Set();
  #spared = 0;
  constructor(file, clock, logger) {
    this.#file = file;
    this.#clock = clock;
    this.#logger = logger;
  }
  /** Opens the store; a state directory that is not safely ours is refused with a warning (memory only). */
  static async open(options = {}) {
    const logger = options.logger ?? silentLogger;
    let file;
    if (options.stateDir !== void 0) {
      const dir = path20.resolve(options.stateDir);
      const refused = await prepareStateDir(dir);
      if (refused)
        logger.warn(
          `Not using the state directory ${dir} (${refused}); rate limits are remembered in this process only`
        );
      else file = path20.join(dir, STATE_FILE);
    }
    return new _RememberedAnswers(file, options.clock ?? systemClock, logger);
  }
  /** Requests not sent because a remembered answer said they would fail. */
  get spared() {
    return this.#spared;
  }
  /**
   * Before a request: throws RateLimitedError (remembered: true) at once when the token's limit
   * at `origin` is known to be spent, or waits for the reset when it is at most
   * `waitUpToSeconds` away. Costs no request either way.
   */
  async check(origin, token, options = {}) {
    const apiOrigin = originOf(origin);
    const key = keyOf2(apiOrigin, token);
    const now = this.#clock.now();
    let limit = this.#memory.get(key);
    if (!limit || Date.parse(limit.resetAt) <= now) {
      limit = (await this.#read()).limits[key];
      if (limit) this.#memory.set(key, limit);
    }
    if (!limit) return;
    const resetAtMs = Date.parse(limit.resetAt);
    if (!(resetAtMs > now)) {
      this.#memory.delete(key);
      return;
    }
    const waitMs = resetAtMs - now;
    if (options.waitUpToSeconds !== void 0 && waitMs <= options.waitUpToSeconds * 1e3) {
      this.#logger.info(
        `The API rate limit of ${apiOrigin} resets at ${limit.resetAt}; waiting ${Math.ceil(waitMs / 1e3)} s`
      );
      await this.#clock.sleep(waitMs, options.signal);
      return;
    }
    this.#spared++;
    throw new RateLimitedError(apiOrigin, new Date(resetAtMs), true);
  }
  /**
   * After an answer: recognises it; a spent rate limit is remembered (here and in the state
   * file) and returned as the error to throw; an unknown 4xx shape is warned about once.
   */
  async observe(origin, token, answer) {
    const apiOrigin = originOf(origin);
    const recognition = recognizeAnswer(answer, this.#clock.now());
    if (!recognition.knownShape) {
      const id = `${answer.status} ${recognition.shape}`;
      if (!this.#warnedShapes.has(id)) {
        this.#warnedShapes.add(id);
        this.#logger.warn(
          `${answer.status} with ${recognition.shape} from ${apiOrigin}: an answer shape Ferry does not recognise; treated as ${recognition.verdict.kind === "permanent" ? "a permanent refusal, not a rate limit" : "an ordinary error"}`
        );
      }
    }
    const { verdict } = recognition;
    if (verdict.kind !== "rate-limit") return { recognition };
    const limit = {
      resetAt: new Date(verdict.resetAtMs).toISOString(),
      status: answer.status,
      evidence: verdict.evidence
    };
    const key = keyOf2(apiOrigin, token);
    this.#memory.set(key, limit);
    await this.#write(key, limit);
    return { recognition, error: new RateLimitedError(apiOrigin, new Date(verdict.resetAtMs), false) };
  }
  async #read() {
    const empty = { version: 1, limits: {} };
    if (!this.#file) return empty;
    let text;
    try {
      const handle = await open24(this.#file, "r");
      try {
        if ((await handle.stat()).size > MAX_STATE_BYTES2) return empty;
        text = await handle.readFile("utf8");
      } finally {
        await handle.close();
      }
    } catch {
      return empty;
    }
    try {
      const parsed = JSON.parse(text);
      if (parsed.version !== 1 || typeof parsed.limits !== "object" || parsed.limits === null) return empty;
      const limits = {};
      for (const [key, value] of Object.entries(parsed.limits)) {
        if (typeof value?.resetAt === "string" && !Number.isNaN(Date.parse(value.resetAt)))
          limits[key] = value;
      }
      return { version: 1, limits };
    } catch {
      return empty;
    }
  }
  /** Read, merge, drop expired, write to a temp file and rename: readers see old or new, never half. */
  async #write(key, limit) {
    if (!this.#file) return;
    const state = await this.#read();
    const now = this.#clock.now();
    state.limits[key] = limit;
    const live = Object.entries(state.limits).filter(([, value]) => Date.parse(value.resetAt) > now).sort(([, a], [, b]) => Date.parse(b.resetAt) - Date.parse(a.resetAt)).slice(0, MAX_ENTRIES);
    const text = `${JSON.stringify({ version: 1, limits: Object.fromEntries(live) }, null, 1)}
`;
    const temp = `${this.#file}.${process.pid}.${randomBytes15(4).toString("hex")}`;
    try {
      const handle = await open24(temp, "wx", 384);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename6(temp, this.#file);
    } catch (error2) {
      await rm13(temp, { force: true });
      this.#logger.warn(`Could not write ${this.#file}: ${error2.message}`);
    }
  }
};

// src/remembered-answers-store.ts
var stores = /* @__PURE__ */ new Map();
function rememberedAnswersFor(cachePath, logger) {
  const stateDir = resolveStateDir({ env: process.env, cachePath });
  let store = stores.get(stateDir);
  if (!store) {
    store = RememberedAnswers.open({ stateDir, logger }).catch((error2) => {
      logger.warn(
        `The state directory ${stateDir} cannot be used (${error2 instanceof Error ? error2.message : String(error2)}); rate limits are remembered in this process only`
      );
      return RememberedAnswers.open({ logger });
    });
    stores.set(stateDir, store);
  }
  return store;
}

// src/cache/verified-cache.ts
import { createHash as createHash18 } from "node:crypto";
import { createReadStream as createReadStream5 } from "node:fs";
import { mkdir as mkdir17, open as open25, readdir as readdir9, rename as rename7, rm as rm14, stat as stat12, unlink as unlink3, utimes } from "node:fs/promises";
import path21 from "node:path";
init_write_fully();

// src/cache/eviction.ts
function chooseVictims(entries, limits, nowMs, keep) {
  const victims = [];
  const live = [];
  for (const entry of entries) {
    if (nowMs - entry.usedAtMs > limits.maxAgeMs) victims.push(entry);
    else live.push(entry);
  }
  let bytes = live.reduce((sum, entry) => sum + entry.size, 0);
  let count = live.length;
  if (bytes <= limits.maxBytes && count <= limits.maxEntries) return victims;
  live.sort((a, b) => a.usedAtMs - b.usedAtMs || (a.name < b.name ? -1 : 1));
  for (const entry of live) {
    if (entry.name === keep) continue;
    if (bytes <= limits.lowWaterBytes && count <= limits.lowWaterEntries) break;
    victims.push(entry);
    bytes -= entry.size;
    count--;
  }
  return victims;
}

// src/cache/verified-cache.ts
var STALE_TEMP_MS = 60 * 60 * 1e3;
var READ_CHUNK = 1024 * 1024;
async function openCache(options) {
  const normalized = normalizeCacheOptions(options);
  const root = path21.resolve(normalized.path);
  await mkdir17(path21.join(root, ENTRIES_DIR), { recursive: true });
  await mkdir17(path21.join(root, TMP_DIR), { recursive: true });
  return new FileCache(root, normalized, options.logger ?? silentLogger);
}
function isMissing2(error2) {
  return error2?.code === "ENOENT";
}
function checkSize(size) {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ValidationError(
      "ERR_FERRY_INVALID_OPTION",
      `A cache entry size must be a byte count, got ${size}`,
      {
        option: "size"
      }
    );
  }
}
async function hashHandle(handle, size) {
  const hash = createHash18("sha256");
  const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
  let position = 0;
  while (position < size) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return position === size ? hash.digest("hex") : "";
}
var FileCache = class {
  path;
  #limits;
  #logger;
  #stats = {
    hits: 0,
    misses: 0,
    bytesServed: 0,
    inserts: 0,
    evictions: 0,
    corruptDropped: 0
  };
  constructor(root, limits, logger) {
    this.path = root;
    this.#limits = limits;
    this.#logger = logger;
  }
  stats() {
    return { ...this.#stats };
  }
  async lookup(digest2, size) {
    const hex2 = digestHex(digest2);
    checkSize(size);
    const file = entryPath(this.path, hex2);
    let handle;
    try {
      handle = await open25(file, "r");
    } catch (error2) {
      if (!isMissing2(error2)) throw error2;
      this.#stats.misses++;
      return void 0;
    }
    try {
      const info2 = await handle.stat();
      if (Date.now() - info2.mtimeMs > this.#limits.maxAgeMs) {
        if (await this.#unlinkIfSame(file, info2.ino, info2.dev)) this.#stats.evictions++;
        return this.#miss(handle);
      }
      const actual = info2.size === size ? await hashHandle(handle, size) : "";
      if (actual !== hex2) {
        if (await this.#unlinkIfSame(file, info2.ino, info2.dev)) this.#stats.corruptDropped++;
        this.#logger.warn(
          `Cache entry ${digest2} was corrupt (${info2.size === size ? "sha256 differs" : `${info2.size} bytes, expected ${size}`}); dropped, the artifact is fetched again`
        );
        return this.#miss(handle);
      }
      const now = /* @__PURE__ */ new Date();
      await handle.utimes(now, now).catch(() => void 0);
      this.#stats.hits++;
      this.#stats.bytesServed += size;
      return hitOf(digest2, size, handle);
    } catch (error2) {
      await handle.close();
      throw error2;
    }
  }
  async insert(digest2, size, source) {
    const hex2 = digestHex(digest2);
    checkSize(size);
    if (size > this.#limits.maxBytes) return "too-large";
    const file = entryPath(this.path, hex2);
    const existing = await stat12(file).catch((error2) => {
      if (isMissing2(error2)) return void 0;
      throw error2;
    });
    if (existing?.size === size) {
      const now = /* @__PURE__ */ new Date();
      await utimes(file, now, now).catch(() => void 0);
      return "present";
    }
    await mkdir17(path21.join(this.path, TMP_DIR), { recursive: true });
    await mkdir17(path21.join(this.path, ENTRIES_DIR), { recursive: true });
    const temp = tempPath(this.path, hex2);
    const out = await open25(temp, "wx", 420);
    let closed = false;
    try {
      const hash = createHash18("sha256");
      let written = 0;
      const input = typeof source === "string" ? createReadStream5(source) : source;
      for await (const chunk of input) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        written += bytes.length;
        if (written > size) throw this.#mismatch(digest2, `more than the declared ${size} bytes`);
        hash.update(bytes);
        await writeFully(out, [bytes]);
      }
      if (written !== size) throw this.#mismatch(digest2, `${written} bytes, declared ${size}`);
      if (hash.digest("hex") !== hex2) throw this.#mismatch(digest2, "sha256 differs from the digest");
      await out.sync();
      closed = true;
      await out.close();
      await rename7(temp, file);
    } catch (error2) {
      if (!closed) await out.close().catch(() => void 0);
      await rm14(temp, { force: true });
      throw error2;
    }
    this.#stats.inserts++;
    await this.#evict(hex2);
    return "inserted";
  }
  async sweep() {
    await this.#evict(void 0);
  }
  #mismatch(digest2, what) {
    return new IntegrityError("ERR_FERRY_INTEGRITY", `Cache insert refused: the source has ${what}`, {
      context: { digest: digest2 }
    });
  }
  async #miss(handle) {
    await handle.close();
    this.#stats.misses++;
    return void 0;
  }
  async #unlinkIfSame(file, ino, dev) {
    const now = await stat12(file).catch(() => void 0);
    if (!now || now.ino !== ino || now.dev !== dev) return false;
    return this.#unlink(file);
  }
  async #unlink(file) {
    try {
      await unlink3(file);
      return true;
    } catch (error2) {
      if (isMissing2(error2)) return false;
      throw error2;
    }
  }
  /**
   * One eviction at a time in this process: two inserts finishing together each scanned the
   * other's entry, kept their own and removed the other's, which could empty the cache (a burst
   * of downloads into one cache directory). Each scan now sees what the one before removed.
   */
  #evicting = Promise.resolve();
  #evict(keep) {
    const next = this.#evicting.then(() => this.#evictNow(keep));
    this.#evicting = next.catch(() => void 0);
    return next;
  }
  /** Scans entries (metadata only) and removes what the limits say; `keep` is the entry just inserted. */
  async #evictNow(keep) {
    const dir = path21.join(this.path, ENTRIES_DIR);
    const entries = [];
    for (const name of await readdir9(dir)) {
      if (!isEntryName(name)) continue;
      const info2 = await stat12(path21.join(dir, name)).catch(() => void 0);
      if (info2?.isFile()) entries.push({ name, size: info2.size, usedAtMs: info2.mtimeMs });
    }
    const victims = chooseVictims(entries, this.#limits, Date.now(), keep);
    for (const victim of victims) {
      if (await this.#unlink(path21.join(dir, victim.name))) this.#stats.evictions++;
    }
    await this.#removeStaleTemps();
  }
  async #removeStaleTemps() {
    const dir = path21.join(this.path, TMP_DIR);
    for (const name of await readdir9(dir)) {
      const file = path21.join(dir, name);
      const info2 = await stat12(file).catch(() => void 0);
      if (info2 && Date.now() - info2.mtimeMs > STALE_TEMP_MS && await this.#unlink(file)) {
        this.#logger.debug(`Removed a cache temp file left by an insert that did not finish: ${name}`);
      }
    }
  }
};
function hitOf(digest2, size, handle) {
  let closing;
  return {
    digest: digest2,
    size,
    handle,
    stream: () => handle.createReadStream({ start: 0, autoClose: false }),
    close: () => closing ??= handle.close()
  };
}

// src/client.ts
async function withBackend(operationName, opts, work, findBy) {
  registerSecret(opts.runtimeToken);
  const kind = findBy ? "rest" : chooseBackend(opts);
  const local = kind === "local" ? await openLocalStore(startEmbeddedStore, opts.localStore, opts.runId ?? LOCAL_RUN_ID) : void 0;
  if (local) opts = { ...opts, logger: loggerHidingStoreUrl(opts.logger, local.origin, local.label) };
  const stats = new StatsCollector();
  const remembered = kind === "rest" ? {
    answers: await rememberedAnswersFor(opts.cache?.path, opts.logger),
    waitUpToSeconds: opts.rateLimitWaitSeconds
  } : void 0;
  const http5 = createHttpManager(opts, kind, operationName, stats, remembered);
  const spares = [];
  const spareHttp = () => {
    const spare = createHttpManager(opts, kind, operationName, stats, remembered);
    spares.push(spare);
    return spare;
  };
  const operation = new Operation(operationName, opts.signal);
  let failure;
  try {
    const backend = findBy ? new RestBackend(findBy, opts.tempDir) : createBackend(kind, opts, local?.config);
    const cache = operationName === "download" ? await openConfiguredCache(opts) : void 0;
    const ctx = { http: http5, operation, logger: opts.logger, onProgress: opts.onProgress, stats, cache };
    return await work(backend, ctx, kind, spareHttp);
  } catch (error2) {
    failure = error2;
  } finally {
    http5.dispose();
    for (const spare of spares) spare.dispose();
    await local?.close();
    reportStats(opts.onStats, stats, opts.logger);
  }
  if (local) failure = hideStoreUrlInError(failure, local.origin, local.label);
  throw await asResourceError(failure, {
    context: { operation: operationName },
    concurrency: opts.concurrency
  });
}
function createHttpManager(opts, kind, operationName, stats, remembered) {
  const userAgent = kind === "legacy" ? operationName === "upload" ? UPLOAD_USER_AGENT : DOWNLOAD_USER_AGENT : RESULTS_USER_AGENT;
  return new HttpManager({
    slots: opts.concurrency,
    userAgent,
    proxy: opts.proxy,
    socketTimeoutMs: opts.timeoutMs,
    stall: { minBytesPerSecond: opts.minBytesPerSecond, windowMs: opts.stallWindowMs },
    retry: opts.retry,
    logger: opts.logger,
    maxResponseBytes: opts.maxResponseBytes,
    stats,
    remembered
  });
}
function statsOf(ctx) {
  return (ctx.stats ?? new StatsCollector()).snapshot();
}
function reportStats(onStats, stats, logger) {
  if (!onStats) return;
  try {
    onStats(stats.snapshot());
  } catch (error2) {
    logger.warn(`onStats threw: ${error2 instanceof Error ? error2.message : String(error2)}`);
  }
}
async function openConfiguredCache(opts) {
  if (!opts.cache) return void 0;
  try {
    return await openCache({ ...opts.cache, logger: opts.logger });
  } catch (error2) {
    opts.logger.warn(
      `The download cache at ${opts.cache.path} cannot be used (${error2 instanceof Error ? error2.message : String(error2)}); downloading without it`
    );
    return void 0;
  }
}
function createBackend(kind, opts, local) {
  if (local) return new ResultsBackend(local, opts.tempDir);
  if (kind === "results") {
    const token = opts.runtimeToken;
    return new ResultsBackend(
      { resultsUrl: opts.resultsUrl, token, ids: requireBackendIds(token) },
      opts.tempDir
    );
  }
  return new LegacyBackend({
    runtimeUrl: opts.runtimeUrl,
    token: opts.runtimeToken,
    runId: opts.runId ?? LOCAL_RUN_ID,
    trustedOrigins: opts.trustedOrigins
  });
}
function chooseBackend(opts) {
  switch (opts.backend) {
    case "local":
      return "local";
    case "results":
      if (!opts.resultsUrl)
        throw new FerryError("ERR_FERRY_CONFIG", "backend 'results' needs resultsUrl (ACTIONS_RESULTS_URL)");
      requireBackendIds(opts.runtimeToken);
      return "results";
    case "legacy":
      if (!opts.runtimeUrl)
        throw new FerryError("ERR_FERRY_CONFIG", "backend 'legacy' needs runtimeUrl (ACTIONS_RUNTIME_URL)");
      return "legacy";
    default:
      if (opts.resultsUrl && backendIdsFromToken(opts.runtimeToken)) return "results";
      if (opts.runtimeUrl) return "legacy";
      return "local";
  }
}

// src/pack/glob-compiler.ts
function compileGlob(text, syntax) {
  const chars = syntax.codePoints ? Array.from(text) : text.split("");
  const { source, literal } = translate(chars, syntax);
  const flags = `${syntax.codePoints ? "u" : ""}${syntax.caseInsensitive ? "i" : ""}`;
  return { regex: new RegExp(`^${source}$`, flags), literal };
}
var POSIX_CLASSES = {
  alnum: "A-Za-z0-9",
  alpha: "A-Za-z",
  blank: " \\t",
  digit: "0-9",
  lower: "a-z",
  punct: "!-\\/:-@\\[-`{-~",
  space: " \\t\\r\\n\\v\\f",
  upper: "A-Z",
  word: "A-Za-z0-9_",
  xdigit: "0-9A-Fa-f"
};
function translate(chars, syntax) {
  let source = "";
  let literal = "";
  const any = syntax.segmented ? "[^/]" : ".";
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === "\\" && syntax.escapes && i + 1 < chars.length) {
      const next = chars[++i];
      source += escapeRegex(next);
      if (literal !== void 0) literal += next;
    } else if (c === "*") {
      while (chars[i + 1] === "*") i++;
      source += `${any}*`;
      literal = void 0;
    } else if (c === "?") {
      source += any;
      literal = void 0;
    } else if (c === "[") {
      const parsed = parseClass(chars, i, syntax);
      if (parsed === void 0) {
        source += "\\[";
        if (literal !== void 0) literal += "[";
        continue;
      }
      i = parsed.end;
      source += parsed.source;
      literal = parsed.single !== void 0 && literal !== void 0 ? literal + parsed.single : void 0;
    } else if (c === "{" && syntax.braces && braces(chars, i) !== void 0) {
      const { alternatives, end } = braces(chars, i);
      source += `(?:${alternatives.map((alternative) => translate(alternative, syntax).source).join("|")})`;
      literal = void 0;
      i = end;
    } else {
      source += escapeRegex(c);
      if (literal !== void 0) literal += c;
    }
  }
  return { source, literal };
}
function braces(chars, start) {
  let depth2 = 0;
  for (let i = start; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === "\\") i++;
    else if (ch === "{") depth2++;
    else if (ch === "}" && --depth2 === 0) {
      const alternatives = splitAlternatives(chars.slice(start + 1, i));
      return alternatives.length < 2 ? void 0 : { alternatives, end: i };
    }
  }
  return void 0;
}
function splitAlternatives(chars) {
  const parts = [[]];
  let depth2 = 0;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    const current = parts[parts.length - 1];
    if (ch === "\\" && i + 1 < chars.length) {
      current.push(ch, chars[++i]);
      continue;
    }
    if (ch === "{") depth2++;
    else if (ch === "}") depth2--;
    if (ch === "," && depth2 === 0) parts.push([]);
    else current.push(ch);
  }
  return parts;
}
function parseClass(chars, start, syntax) {
  let i = start + 1;
  let negate = false;
  if (chars[i] === "!" || chars[i] === "^") {
    negate = true;
    i++;
  }
  let body = "";
  const members = [];
  let first = true;
  for (; i < chars.length; i++) {
    const c = chars[i];
    if (c === "]" && !first) {
      if (body === "") return void 0;
      const single = !negate && members.length === 1 && body === escapeClassChar(members[0]) ? members[0] : void 0;
      const excluded = syntax.segmented ? "/" : "";
      return { source: negate ? `[^${excluded}${body}]` : `[${body}]`, end: i, single };
    }
    first = false;
    if (syntax.posixClasses && c === "[" && chars[i + 1] === ":") {
      const close = chars.join("").indexOf(":]", i + 2);
      const cls = close === -1 ? void 0 : POSIX_CLASSES[chars.slice(i + 2, close).join("")];
      if (cls !== void 0) {
        body += cls;
        members.push("", "");
        i = close + 1;
        continue;
      }
    }
    let ch = c;
    if (c === "\\" && syntax.escapes && i + 1 < chars.length) ch = chars[++i];
    if (chars[i + 1] === "-" && i + 2 < chars.length && chars[i + 2] !== "]") {
      let to = chars[i + 2];
      let skip = 2;
      if (to === "\\" && syntax.escapes && i + 3 < chars.length) {
        to = chars[i + 3];
        skip = 3;
      }
      if ((to.codePointAt(0) ?? 0) < (ch.codePointAt(0) ?? 0)) {
        if (syntax.badRange === "literal") return void 0;
        const option = syntax.option ?? "pattern";
        throw new ValidationError(
          "ERR_FERRY_INVALID_OPTION",
          `Pattern ${printable(chars.join(""))} has the invalid range ${printable(`${ch}-${to}`)}`,
          { option }
        );
      }
      body += `${escapeClassChar(ch)}-${escapeClassChar(to)}`;
      members.push(ch, to);
      i += skip;
      continue;
    }
    body += escapeClassChar(ch);
    members.push(ch);
  }
  return void 0;
}
function escapeClassChar(c) {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}
function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

// src/merge/name-pattern.ts
var NAME_SYNTAX = {
  segmented: false,
  braces: true,
  posixClasses: false,
  escapes: true,
  caseInsensitive: false,
  codePoints: true,
  badRange: "throw"
};
function compileNamePattern(pattern, option = "pattern") {
  if (typeof pattern !== "string" || pattern.length === 0) {
    throw new ValidationError("ERR_FERRY_INVALID_OPTION", `Option '${option}' must be a non-empty glob`, {
      option
    });
  }
  let negate = false;
  let body = pattern;
  while (body.startsWith("!")) {
    negate = !negate;
    body = body.slice(1);
  }
  const { regex } = compileGlob(body, NAME_SYNTAX);
  const dotAllowed = body.startsWith(".") || body.startsWith("\\.");
  return (name) => {
    const matched = (dotAllowed || !name.startsWith(".")) && regex.test(name);
    return negate ? !matched : matched;
  };
}

// src/download-many.ts
function sortArtifacts(artifacts) {
  return [...artifacts].sort(
    (a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : (a.id ?? 0) - (b.id ?? 0)
  );
}

// src/merge/merge.ts
var MAX_LINK_BYTES2 = 4096;
async function mergeArtifacts(name, options = {}) {
  const { pattern, separateDirectories, deleteMerged, conflict: conflict2, includeHiddenFiles, ...rest } = options;
  const opts = normalizeOptions(rest);
  validateArtifactName(name);
  const policy = checkConflictPolicy(conflict2) ?? "overwrite";
  for (const [option, value] of Object.entries({ separateDirectories, deleteMerged, includeHiddenFiles })) {
    if (value !== void 0 && typeof value !== "boolean") {
      throw new ValidationError("ERR_FERRY_INVALID_OPTION", `Option '${option}' must be a boolean`, {
        option
      });
    }
  }
  const matches = compileNamePattern(pattern ?? "*");
  const context = { operation: "merge", artifactName: name };
  return withBackend("merge", opts, async (backend, ctx) => {
    const results = wholeArtifacts(
      backend,
      () => new FerryError(
        "ERR_FERRY_CONFIG",
        `Cannot merge into '${name}': merging needs the results protocol (github.com) or the local store; the legacy artifact protocol has no whole-artifact zip download and no delete. Download the artifacts with downloadArtifacts({ mergeMultiple: true }) and upload the directory instead`,
        { context }
      )
    );
    const listed = await results.list(ctx, { latest: true });
    if (listed.some((a) => a.name === name)) {
      throw new FerryError(
        "ERR_FERRY_CONFLICT",
        `An artifact named '${name}' already exists in this workflow run; choose another name for the merged artifact or delete it first`,
        { context }
      );
    }
    const selected = sortArtifacts(listed.filter((a) => a.name !== name && matches(a.name)));
    if (selected.length === 0) {
      throw new FerryError(
        "ERR_FERRY_NOT_FOUND",
        `No artifacts to merge: none in this workflow run matches the pattern '${pattern ?? "*"}'`,
        { context }
      );
    }
    const sources2 = [];
    try {
      const byPath = /* @__PURE__ */ new Map();
      const byFolded = /* @__PURE__ */ new Map();
      for (const info2 of selected) {
        const blob = await results.downloadVerified({ name: info2.name, id: info2.id }, ctx);
        const source = { info: info2, blob };
        sources2.push(source);
        for (const item of await planSource(source, { separateDirectories: separateDirectories ?? false })) {
          if (!(includeHiddenFiles ?? false) && item.path.split("/").some((s) => s.startsWith("."))) continue;
          const prior = byPath.get(item.path);
          if (prior === void 0) {
            const folded = byFolded.get(foldPath(item.path));
            if (folded !== void 0) throw caseCollision(folded, item, context);
            byPath.set(item.path, item);
            byFolded.set(foldPath(item.path), item);
            continue;
          }
          if (prior.source === source) {
            throw new IntegrityError(
              "ERR_FERRY_INTEGRITY",
              `Artifact '${info2.name}' contains ${printable(item.path)} more than once`,
              { context }
            );
          }
          if (prior.kind === "directory" && item.kind === "directory") continue;
          if (prior.kind === "directory" !== (item.kind === "directory")) {
            throw kindConflict(prior, item, context);
          }
          if (policy === "error") {
            if (await identical(prior, item)) continue;
            throw new FerryError(
              "ERR_FERRY_CONFLICT",
              `${printable(item.path)} differs between artifacts '${prior.source.info.name}' and '${info2.name}', and the conflict policy is 'error'. Use conflict 'overwrite' (the later artifact wins), 'skip' (the earlier one wins) or separateDirectories`,
              { context }
            );
          }
          if (policy === "overwrite") byPath.set(item.path, item);
        }
      }
      const planned = [...byPath.values()];
      checkAncestors(byPath, context);
      const fileCount = planned.filter((p) => p.kind !== "directory").length;
      if (fileCount === 0) {
        throw new FerryError(
          "ERR_FERRY_NO_FILES",
          `Nothing to merge into '${name}': the matching artifacts (${selected.map((a) => `'${a.name}'`).join(", ")}) hold no files` + (includeHiddenFiles ? "" : " other than hidden ones (set includeHiddenFiles to keep them)"),
          { context }
        );
      }
      const uploaded = await results.uploadStream(
        name,
        planned.map(toZipInput),
        { retentionDays: opts.retentionDays, compressionLevel: opts.compressionLevel },
        ctx
      );
      const merged = selected.map((a) => a.name);
      if (deleteMerged) await deleteSources(results, name, uploaded.id, merged, ctx);
      return {
        ...uploaded.id !== void 0 ? { id: uploaded.id } : {},
        ...uploaded.digest !== void 0 ? { digest: uploaded.digest } : {},
        size: uploaded.uploadedBytes,
        fileCount: uploaded.fileCount,
        merged,
        stats: statsOf(ctx)
      };
    } finally {
      await Promise.all(sources2.map((s) => s.blob.dispose()));
    }
  });
}
async function planSource(source, options) {
  const { info: info2, blob } = source;
  const prefix = options.separateDirectories ? `${info2.name}/` : "";
  const mime = (blob.contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (!["application/zip", "application/x-zip-compressed", "application/zip-compressed"].includes(mime)) {
    const digest2 = await digestRegularFile(blob.file);
    const fileName = fileNameFromDisposition(blob.contentDisposition, info2.name);
    return [
      {
        path: checkedPath(info2.name, `${prefix}${fileName}`, "file"),
        kind: "file",
        source,
        entry: void 0,
        size: digest2?.size ?? blob.size,
        crc32: digest2?.crc32 ?? 0,
        mode: void 0,
        mtime: void 0
      }
    ];
  }
  const entries = await readCentralDirectory(blob.file, { maxEntries: DEFAULT_EXTRACT_LIMITS.maxEntries });
  const out = [];
  for (const entry of entries) {
    const bare = entry.isDirectory ? entry.name.replace(/[/\\]+$/, "") : entry.name;
    if (entry.isDirectory && (bare === "" || bare === ".")) continue;
    const kind = entry.isDirectory ? "directory" : entry.isSymlink ? "symlink" : "file";
    const planned = {
      path: checkedPath(info2.name, `${prefix}${bare}`, kind),
      kind,
      source,
      entry,
      size: entry.uncompressedSize,
      crc32: entry.crc32,
      mode: entry.mode === void 0 ? void 0 : entry.mode & 4095,
      mtime: new Date(entry.mtimeMs)
    };
    if (kind === "symlink") planned.linkTarget = await readLinkText(blob.file, entry, info2.name);
    out.push(planned);
  }
  return out;
}
function checkedPath(artifact, candidate, kind) {
  try {
    const checked = validateEntryName(candidate, kind === "directory" ? "directory" : "file");
    return kind === "directory" ? checked.slice(0, -1) : checked;
  } catch (error2) {
    throw new IntegrityError(
      "ERR_FERRY_UNSAFE_PATH",
      `Artifact '${artifact}' has an entry that cannot be merged: ${error2.message}`,
      { cause: error2, context: { operation: "merge", artifactName: artifact } }
    );
  }
}
async function readLinkText(file, entry, artifact) {
  if (entry.uncompressedSize === 0 || entry.uncompressedSize > MAX_LINK_BYTES2) {
    throw new IntegrityError(
      "ERR_FERRY_INTEGRITY",
      `Symbolic link entry ${printable(entry.name)} of artifact '${artifact}' has a link text of ${entry.uncompressedSize} bytes`,
      { context: { operation: "merge", artifactName: artifact } }
    );
  }
  return (await readAll2(await openEntryStream(file, entry))).toString("utf8");
}
async function contentSha256(item) {
  if (item.entry === void 0) return item.source.blob.sha256;
  const hash = createHash19("sha256");
  for await (const chunk of await openEntryStream(item.source.blob.file, item.entry))
    hash.update(chunk);
  return hash.digest("hex");
}
async function identical(a, b) {
  if (a.kind !== b.kind) return false;
  if (a.kind === "symlink") return a.linkTarget === b.linkTarget;
  if (a.size !== b.size || a.crc32 >>> 0 !== b.crc32 >>> 0) return false;
  return await contentSha256(a) === await contentSha256(b);
}
function toZipInput(item) {
  const mode = item.mode === void 0 ? {} : { mode: item.mode };
  if (item.kind === "directory") return { kind: "directory", name: item.path, ...mode };
  if (item.kind === "symlink") return { kind: "symlink", name: item.path, target: item.linkTarget };
  const { entry, source } = item;
  return {
    kind: "stream",
    name: item.path,
    size: item.size,
    crc32: item.crc32,
    ...mode,
    ...item.mtime !== void 0 ? { mtime: item.mtime } : {},
    open: () => entry === void 0 ? Promise.resolve(createReadStream6(source.blob.file, { highWaterMark: 1024 * 1024 })) : openEntryStream(source.blob.file, entry)
  };
}
function caseCollision(a, b, context) {
  return new FerryError(
    "ERR_FERRY_CONFLICT",
    `${printable(a.path)} (artifact '${a.source.info.name}') and ${printable(b.path)} (artifact '${b.source.info.name}') differ only in letter case or Unicode normalisation; the merged artifact could not be extracted on macOS or Windows. Use separateDirectories or rename one of them`,
    { context }
  );
}
function kindConflict(a, b, context) {
  const what = (p) => p.kind === "directory" ? "a directory" : "a file";
  return new FerryError(
    "ERR_FERRY_CONFLICT",
    `${printable(b.path)} is ${what(a)} in artifact '${a.source.info.name}' but ${what(b)} in artifact '${b.source.info.name}'; use separateDirectories to merge them`,
    { context }
  );
}
function checkAncestors(byPath, context) {
  for (const item of byPath.values()) {
    const parts = item.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const holder = byPath.get(parts.slice(0, i).join("/"));
      if (holder !== void 0 && holder.kind !== "directory") throw kindConflict(holder, item, context);
    }
  }
}
async function deleteSources(backend, name, id, merged, ctx) {
  const deleted = [];
  for (const source of merged) {
    try {
      await backend.delete(source, ctx);
      deleted.push(source);
    } catch (error2) {
      throw new FerryError(
        isFerryError(error2) ? error2.code : "ERR_FERRY_PROTOCOL",
        `Merged artifact '${name}'${id !== void 0 ? ` (id ${id})` : ""} was created, but deleting the source '${source}' failed (${deleted.length} of ${merged.length} deleted${deleted.length ? `: ${deleted.map((d) => `'${d}'`).join(", ")}` : ""}): ${error2.message}`,
        { cause: error2, context: { operation: "merge", artifactName: source } }
      );
    }
  }
}

// src/action/inputs.ts
var InputError = class extends ValidationError {
  constructor(input, message) {
    super("ERR_FERRY_INVALID_OPTION", message, { option: input });
    this.input = input;
  }
  input;
  name = "InputError";
};
var CONFLICT = ["error", "overwrite", "skip"];
function rawInput(name) {
  return getInput(name);
}
function stringInput(name, fallback) {
  return rawInput(name) || fallback;
}
function booleanInput(name, fallback) {
  const value = rawInput(name);
  if (value === "") return fallback;
  const parsed = parseBoolean(value);
  if (parsed !== void 0) return parsed;
  throw new InputError(name, `Input '${name}' must be true or false; got '${value}'`);
}
function integerInput(name, fallback, min, max, what = `from ${min} to ${max}`) {
  const value = rawInput(name);
  if (value === "") return fallback;
  const number = parseWholeNumber(value);
  if (!isIntegerInRange(number, min, max)) {
    throw new InputError(name, `Input '${name}' must be a whole number ${what}; got '${value}'`);
  }
  return number;
}
function choiceInput(name, choices, fallback) {
  const value = rawInput(name);
  if (value === "") return fallback;
  const found = parseChoice(value, choices);
  if (!found) {
    throw new InputError(name, `Input '${name}' must be one of ${choices.join(", ")}; got '${value}'`);
  }
  return found;
}
function compressionLevelInput(name = "compression-level") {
  return integerInput(name, 6, 0, 9, "from 0 (no compression) to 9 (best compression)");
}

// src/action/outputs.ts
function artifactUrl(env, id) {
  const server = env["GITHUB_SERVER_URL"];
  const repository = env["GITHUB_REPOSITORY"];
  const runId = env["GITHUB_RUN_ID"];
  if (id === void 0 || !server || !repository || !runId) return void 0;
  return `${server.replace(/\/+$/, "")}/${repository}/actions/runs/${runId}/artifacts/${id}`;
}
function bareDigest(digest2) {
  if (!digest2) return void 0;
  return digest2.replace(/^sha256:/i, "").toLowerCase();
}
function setArtifactOutputs(env, result) {
  if (result.id !== void 0) setOutput("artifact-id", String(result.id));
  const url = artifactUrl(env, result.id);
  if (url) setOutput("artifact-url", url);
  const digest2 = bareDigest(result.digest);
  if (digest2) setOutput("artifact-digest", digest2);
}

// src/environment.ts
function fromEnvironment(env = process.env) {
  registerSecret(env["ACTIONS_RUNTIME_TOKEN"], "the runtime token (ACTIONS_RUNTIME_TOKEN)");
  registerSecret(env["GITHUB_TOKEN"], "the value of GITHUB_TOKEN");
  const options = {};
  const set = (key, value) => {
    if (value !== void 0 && value !== "") options[key] = value;
  };
  set("runtimeUrl", urlVariable(env, "ACTIONS_RUNTIME_URL"));
  set("resultsUrl", urlVariable(env, "ACTIONS_RESULTS_URL"));
  set("runtimeToken", tokenVariable(env, "ACTIONS_RUNTIME_TOKEN"));
  set("runId", runIdVariable(env, "GITHUB_RUN_ID"));
  set("localStore", pathVariable(env, "FERRY_STORE"));
  set("maxResponseBytes", byteCountVariable(env, "FERRY_MAX_RESPONSE_BYTES"));
  set("trustedOrigins", originsVariable(env, "FERRY_TRUSTED_ORIGINS"));
  const proxy = proxySettingsFromEnv(env);
  if (proxy.httpProxy || proxy.httpsProxy || proxy.noProxy) options.proxy = proxy;
  return options;
}
function retentionLimitFromEnvironment(env = process.env) {
  const raw = env["GITHUB_RETENTION_DAYS"]?.trim();
  if (raw === void 0 || raw === "") return void 0;
  if (!/^\d{1,6}$/.test(raw)) throw badVariable("GITHUB_RETENTION_DAYS", "a whole number of days", raw);
  return Number(raw);
}
function badVariable(name, expected, value) {
  const shown2 = value === void 0 ? "" : `; got ${printable(value, 80)}`;
  return new ValidationError(
    "ERR_FERRY_INVALID_OPTION",
    `Environment variable ${name} must be ${expected}${shown2}`,
    {
      option: name
    }
  );
}
function urlVariable(env, name) {
  const value = env[name]?.trim();
  if (!value) return void 0;
  if (!isHttpUrl(value)) throw badVariable(name, "an http(s) URL", value);
  return value;
}
function tokenVariable(env, name) {
  const value = env[name];
  if (!value) return void 0;
  if (/[\s\x00-\x1f\x7f]/.test(value)) {
    throw badVariable(
      name,
      "a token without spaces, line breaks or control characters (value not shown)",
      void 0
    );
  }
  return value;
}
function runIdVariable(env, name) {
  const value = env[name]?.trim();
  if (!value) return void 0;
  if (!/^\d{1,20}$/.test(value)) throw badVariable(name, "a numeric workflow run id", value);
  return value;
}
function pathVariable(env, name) {
  const value = env[name];
  if (!value) return void 0;
  if (value.includes("\0") || value.trim() === "") throw badVariable(name, "a directory path", value);
  return value;
}
function byteCountVariable(env, name) {
  const value = env[name]?.trim();
  if (!value) return void 0;
  if (!/^\d{1,13}$/.test(value)) throw badVariable(name, "a whole number of bytes", value);
  return Number(value);
}
function originsVariable(env, name) {
  const value = env[name]?.trim();
  if (!value) return void 0;
  const list3 = value.split(",").map((item) => item.trim()).filter((item) => item !== "");
  return parseTrustedOrigins(list3, (message) => badVariable(name, message.replace(/^must /, ""), void 0));
}

// src/action/retention.ts
function retentionDays(env, input = "retention-days") {
  const days = integerInput(
    input,
    0,
    0,
    Number.MAX_SAFE_INTEGER,
    "of days, 0 (the repository default) or more"
  );
  if (days === 0) return void 0;
  let capped = days;
  const limit = retentionLimitFromEnvironment(env);
  if (limit !== void 0 && limit > 0 && capped > limit) {
    warning(
      `Input '${input}' (${days}) exceeds the repository's limit of ${limit} days (GITHUB_RETENTION_DAYS); using ${limit}`
    );
    capped = limit;
  }
  if (capped > MAX_RETENTION_DAYS) {
    warning(
      `Input '${input}' (${capped}) is more than the ${MAX_RETENTION_DAYS} days GitHub allows; using ${MAX_RETENTION_DAYS}`
    );
    capped = MAX_RETENTION_DAYS;
  }
  return capped;
}

// src/action/hints.ts
var REWRITES = [
  [
    "select other artifacts (pattern, artifactIds) or use 'mergeMultiple'",
    "select other artifacts (input 'pattern' or 'artifact-ids') or set 'merge-multiple: true'"
  ],
  [
    "Use conflict 'overwrite' (the later artifact wins), 'skip' (the earlier one wins) or separateDirectories",
    "Set input 'conflict' to 'overwrite' (the later artifact wins) or 'skip' (the earlier one wins), or set 'separate-directories: true'"
  ],
  ["(set includeHiddenFiles to keep them)", "(set 'include-hidden-files: true' to keep them)"],
  ["Use separateDirectories or rename one of them", "Set 'separate-directories: true' or rename one of them"],
  ["use separateDirectories to merge them", "set 'separate-directories: true' to merge them"],
  [
    "Download the artifacts with downloadArtifacts({ mergeMultiple: true }) and upload the directory instead",
    "Download the artifacts with the download action ('merge-multiple: true') and upload the directory with the upload action instead"
  ],
  [
    "Use 'overwrite' to replace it or 'skip' to keep it (option 'conflict' of downloadArtifact, 'existing' of extractZip), or download into an empty directory",
    "Set input 'conflict' to 'overwrite' to replace it or 'skip' to keep it, or download into an empty 'path'"
  ],
  ["Set option 'symlinks' to", "Set input 'symlinks' to"],
  [
    "set allowSecretsInFiles (CLI --allow-secrets, Action input allow-secrets: true)",
    "set 'allow-secrets: true'"
  ],
  ["use overwrite to replace it", "set 'overwrite: true' to replace it"]
];
var INPUT_OF = {
  artifactIds: "artifact-ids",
  mergeMultiple: "merge-multiple",
  skipDecompress: "skip-decompress",
  separateDirectories: "separate-directories",
  includeHiddenFiles: "include-hidden-files",
  deleteMerged: "delete-merged",
  retentionDays: "retention-days",
  compressionLevel: "compression-level",
  allowSecretsInFiles: "allow-secrets",
  preservePermissions: "preserve-permissions",
  "limits.maxEntries": "max-entries",
  "limits.maxTotalBytes": "max-total-bytes",
  "limits.maxRatio": "max-ratio",
  pattern: "pattern",
  conflict: "conflict",
  symlinks: "symlinks",
  overwrite: "overwrite"
};
var OPTION_REFERENCE = /\b[Oo]ption '([A-Za-z.]+)'/g;
function forAction(message) {
  let out = message;
  for (const [sdk, action] of REWRITES) out = out.split(sdk).join(action);
  return out.replace(OPTION_REFERENCE, (whole, option) => {
    const input = INPUT_OF[option];
    return input === void 0 ? whole : `${whole.startsWith("O") ? "Input" : "input"} '${input}'`;
  });
}

// src/action/runtime.ts
var PROGRESS_INTERVAL_MS = 1e4;
function actionOptions(env, progressIntervalMs = PROGRESS_INTERVAL_MS) {
  onSecretRegistered(mask);
  return {
    ...fromEnvironment(env),
    logger: actionLogger(),
    onProgress: progressReporter(progressIntervalMs)
  };
}
function mask(secret) {
  if (secret && secret.length >= 6) setSecret(secret);
}
var SIGNATURE = /[?&](?:sig|signature|x-amz-signature)=([^&\s"'#]+)/gi;
function forStepLog(message) {
  for (const match of message.matchAll(SIGNATURE)) {
    const value = decodeSafely(match[1]);
    if (value !== "***" && value !== "%2A%2A%2A") {
      mask(match[1]);
      mask(value);
    }
  }
  return printableLines(redactText(forAction(message)));
}
function decodeSafely(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
function actionLogger() {
  return {
    debug: (m) => debug(forStepLog(m)),
    info: (m) => info(forStepLog(m)),
    warn: (m) => warning(forStepLog(m)),
    error: (m) => error(forStepLog(m))
  };
}
function progressReporter(intervalMs, now = Date.now) {
  const last = /* @__PURE__ */ new Map();
  return (event) => {
    const key = `${event.operation}\0${event.artifactName}`;
    if (event.phase === "prepare" || !last.has(key)) {
      last.set(key, now());
      return;
    }
    if (event.phase === "done") {
      last.delete(key);
      return;
    }
    if (event.phase !== "transfer") return;
    const t = now();
    if (t - last.get(key) < intervalMs) return;
    last.set(key, t);
    info(progressLine(event));
  };
}
function progressLine(event) {
  const verb = event.operation === "upload" ? "Uploading" : "Downloading";
  let line = `${verb} '${printableText(event.artifactName)}': ${formatBytes(event.bytesDone)}`;
  if (event.bytesTotal !== void 0 && event.bytesTotal > 0) {
    const percent = Math.min(100, Math.floor(event.bytesDone / event.bytesTotal * 100));
    line += ` of ${formatBytes(event.bytesTotal)} (${percent}%)`;
  }
  if (event.filesTotal !== void 0 && event.filesTotal > 0) {
    line += `, ${event.filesDone}/${event.filesTotal} ${event.filesTotal === 1 ? "file" : "files"}`;
  }
  return line;
}
async function runAction(body) {
  try {
    await body();
  } catch (error2) {
    const message = error2 instanceof Error ? error2.message : String(error2);
    if (isFerryError(error2)) debug(`Error code ${error2.code}`);
    setFailed(forStepLog(message));
  }
}

// src/action/stats-summary.ts
var StepStats = class {
  #all = [];
  /** The SDK's `onStats` option. */
  onStats = (stats) => {
    this.#all.push(stats);
  };
  /**
   * Logs the line and appends the table to GITHUB_STEP_SUMMARY when the runner gave one. The
   * summary is a report: failing to write it is a warning, never a failed step.
   */
  async report(env, title) {
    if (this.#all.length === 0) return;
    const total = mergeStats(this.#all);
    info(formatStatsLine(total));
    if (!env["GITHUB_STEP_SUMMARY"]) return;
    try {
      await summary.addRaw(formatStatsMarkdown(total, title)).write();
    } catch (error2) {
      warning(
        `Could not write the step summary: ${error2 instanceof Error ? error2.message : String(error2)}`
      );
    }
  }
};

// src/action/run-merge.ts
function readMergeInputs(env = process.env) {
  return {
    name: stringInput("name", "merged-artifacts"),
    pattern: stringInput("pattern", "*"),
    separateDirectories: booleanInput("separate-directories", false),
    retentionDays: retentionDays(env),
    compressionLevel: compressionLevelInput(),
    deleteMerged: booleanInput("delete-merged", false),
    includeHiddenFiles: booleanInput("include-hidden-files", false),
    conflict: choiceInput("conflict", CONFLICT, "overwrite")
  };
}
async function runMerge(env = process.env) {
  const inputs = readMergeInputs(env);
  info(`Merging artifacts matching '${inputs.pattern}' into '${inputs.name}'`);
  const stats = new StepStats();
  const result = await mergeArtifacts(inputs.name, {
    ...actionOptions(env),
    onStats: stats.onStats,
    pattern: inputs.pattern,
    separateDirectories: inputs.separateDirectories,
    deleteMerged: inputs.deleteMerged,
    conflict: inputs.conflict,
    includeHiddenFiles: inputs.includeHiddenFiles,
    compressionLevel: inputs.compressionLevel,
    ...inputs.retentionDays !== void 0 ? { retentionDays: inputs.retentionDays } : {}
  });
  info(
    `Merged ${result.merged.length} artifact${result.merged.length === 1 ? "" : "s"} (${result.merged.map(printableText).join(", ")}) into '${inputs.name}': ${result.fileCount} file${result.fileCount === 1 ? "" : "s"}, ${formatBytes(result.size)}` + (result.id !== void 0 ? `, artifact ID ${result.id}` : "")
  );
  if (inputs.deleteMerged)
    info(`Deleted the merged artifacts: ${result.merged.map(printableText).join(", ")}`);
  setArtifactOutputs(env, result);
  await stats.report(env, "Ferry merge stats");
}

// src/action/merge.ts
await runAction(() => runMerge(process.env));
