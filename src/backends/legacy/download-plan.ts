import path from 'node:path';
import type { HeldStaging } from '../../pack/held-target.js';
import type { ListedFile } from './listing-check.js';

/**
 * The files of a legacy download, kept as columns rather than one object per file: the item
 * path the listing gave (one string, the artifact path is sliced from it when needed), the
 * listed length and the bytes written, plus the rare exceptions (a content URL that is not the
 * container's own, a placement key that is not the artifact path, a body that failed to gunzip
 * once) in maps by index.
 *
 * Why: the plan lives for the whole download, in the process of the caller. One `PlannedFile`
 * object per file (~96 B) with its sliced artifact path (~32 B) and an array slot cost ~190 B a
 * file, and V8 lets the old generation grow to several times what is live before a full
 * collection, so at 100,000 files each live byte per file cost three to four bytes of peak RSS
 * (docs/benchmarks.md, issue 12 item 5). Here a file costs its item path string and three
 * 8-byte slots.
 */
export class LegacyDownloadPlan {
  /** `${artifact name}/${artifact path}`, '/'-separated: the listing's own string. */
  readonly #itemPaths: string[] = [];
  /** The listed length, NaN when the listing gave none (a double array: no boxed number per file). */
  readonly #lengths: number[] = [];
  /** Bytes written to staging, by index, once the file arrived. */
  #written: Float64Array | undefined;
  /** The listing's contentLocation, only where it is not `itemUrl` of the item path. */
  readonly #urls = new Map<number, string>();
  /** The placement key, only where it is not the artifact path (e.g. a `.` segment in the listed path). */
  readonly #keys = new Map<number, string>();
  /** Files whose body failed to gunzip once: a second corrupt body is final. */
  readonly #corrupt = new Set<number>();
  readonly #prefixLength: number;
  #staging: HeldStaging | undefined;

  /**
   * `itemPrefix`: `${artifact name}/`; `itemUrl`: the content URL the container's URL scheme
   * gives an item path (urls.ts itemUrlBuilder); `target`: the absolute target directory.
   */
  constructor(
    readonly itemPrefix: string,
    readonly itemUrl: (itemPath: string) => string,
    readonly target: string,
  ) {
    this.#prefixLength = itemPrefix.length;
  }

  /** Adds a checked file of the listing; only what cannot be derived from its item path is kept. */
  add(file: ListedFile): void {
    if (this.#written !== undefined) throw new Error('LegacyDownloadPlan: add() after start()');
    const index = this.#itemPaths.length;
    this.#itemPaths.push(file.itemPath);
    this.#lengths.push(file.length ?? Number.NaN);
    if (file.url !== this.itemUrl(file.itemPath)) this.#urls.set(index, file.url);
    const key = placementKey(this.target, file.destination);
    if (key !== file.artifactPath) this.#keys.set(index, key);
  }

  get count(): number {
    return this.#itemPaths.length;
  }

  /** Ends the listing: the files get their staging directory and a column for the bytes written. */
  start(staging: HeldStaging): void {
    this.#staging = staging;
    this.#written = new Float64Array(this.#itemPaths.length);
  }

  /** A view of file `index` for the code that fetches and places it (made per use, dies young). */
  file(index: number): PlannedFile {
    return new PlannedFile(this, index);
  }

  itemPath(index: number): string {
    return this.#itemPaths[index] as string;
  }

  artifactPath(index: number): string {
    return this.itemPath(index).slice(this.#prefixLength);
  }

  length(index: number): number | undefined {
    const length = this.#lengths[index] as number;
    return Number.isNaN(length) ? undefined : length;
  }

  url(index: number): string {
    return this.#urls.get(index) ?? this.itemUrl(this.itemPath(index));
  }

  key(index: number): string {
    return this.#keys.get(index) ?? this.artifactPath(index);
  }

  staging(index: number): string {
    if (this.#staging === undefined) throw new Error('LegacyDownloadPlan: staging before start()');
    // Staging names are positional, so no server path reaches the disk before placement.
    return this.#staging.file(String(index));
  }

  written(index: number): number {
    return this.#written?.[index] ?? 0;
  }

  setWritten(index: number, bytes: number): void {
    if (this.#written === undefined) throw new Error('LegacyDownloadPlan: setWritten() before start()');
    this.#written[index] = bytes;
  }

  /** Sum of the listed lengths (unknown ones count 0). */
  listedBytes(): number {
    let sum = 0;
    for (const length of this.#lengths) if (!Number.isNaN(length)) sum += length;
    return sum;
  }

  /** Sum of the bytes written. */
  writtenBytes(): number {
    let sum = 0;
    for (const bytes of this.#written ?? []) sum += bytes;
    return sum;
  }

  isCorruptOnce(index: number): boolean {
    return this.#corrupt.has(index);
  }

  markCorrupt(index: number): void {
    this.#corrupt.add(index);
  }
}

/** `destination` relative to `target`, '/'-separated (sliced when it is plainly inside it). */
function placementKey(target: string, destination: string): string {
  const inside = destination.startsWith(target) && destination[target.length] === path.sep;
  const relative = inside ? destination.slice(target.length + 1) : path.relative(target, destination);
  return path.sep === '/' ? relative : relative.split(path.sep).join('/');
}

/**
 * One file of the plan, as the fetching and placing code sees it: every property is read from
 * (or written to) the plan's columns. Made when a file is worked on, so it dies young.
 */
export class PlannedFile {
  constructor(
    readonly plan: LegacyDownloadPlan,
    readonly index: number,
  ) {}

  get artifactPath(): string {
    return this.plan.artifactPath(this.index);
  }

  /** The listed length (the uncompressed size), when the listing gave one. */
  get length(): number | undefined {
    return this.plan.length(this.index);
  }

  /** Where the bytes are. */
  get url(): string {
    return this.plan.url(this.index);
  }

  /** The target directory (for messages: the staging path names a held descriptor). */
  get target(): string {
    return this.plan.target;
  }

  get staging(): string {
    return this.plan.staging(this.index);
  }

  /** The destination relative to the target, normalised, '/'-separated. */
  get key(): string {
    return this.plan.key(this.index);
  }

  /** Absolute path inside the target. */
  get destination(): string {
    return path.join(this.plan.target, ...this.key.split('/'));
  }

  /** Bytes written to staging, once the file arrived. */
  get written(): number {
    return this.plan.written(this.index);
  }

  set written(bytes: number) {
    this.plan.setWritten(this.index, bytes);
  }

  /** Set once a response for this file failed to gunzip: a second corrupt body is final. */
  get corruptOnce(): boolean {
    return this.plan.isCorruptOnce(this.index);
  }

  set corruptOnce(value: boolean) {
    if (value) this.plan.markCorrupt(this.index);
  }
}
