/**
 * A small Prometheus text-format (0.0.4) registry: counters, gauges and histograms with labels.
 * Hand-written because the server needs a dozen series, not a client library; every label value
 * comes from a bounded set chosen by the server (route names, status codes, protocols), never
 * from a request's path or a client's choice, so the number of series stays bounded.
 */

type Labels = Readonly<Record<string, string>>;

/** One metric family: renders its HELP, TYPE and samples. */
interface Family {
  render(): string[];
}

export class Counter implements Family {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string[] {
    return header(this.name, this.help, 'counter').concat(
      [...this.#values.values()].map((e) => sample(this.name, e.labels, e.value)),
    );
  }
}

export class Gauge implements Family {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(labels: Labels, value: number): void {
    this.#values.set(labelKey(labels), { labels, value });
  }

  render(): string[] {
    return header(this.name, this.help, 'gauge').concat(
      [...this.#values.values()].map((e) => sample(this.name, e.labels, e.value)),
    );
  }
}

/** Seconds from 1 ms to 60 s: covers a metadata call and a large block alike. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

export class Histogram implements Family {
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = DEFAULT_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    const key = labelKey(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    this.buckets.forEach((bound, i) => {
      if (value <= bound) series.counts[i]! += 1;
    });
    series.sum += value;
    series.count += 1;
  }

  count(labels: Labels): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines = header(this.name, this.help, 'histogram');
    for (const s of this.#series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(sample(`${this.name}_bucket`, { ...s.labels, le: String(bound) }, s.counts[i]!));
      });
      lines.push(sample(`${this.name}_bucket`, { ...s.labels, le: '+Inf' }, s.count));
      lines.push(sample(`${this.name}_sum`, s.labels, s.sum));
      lines.push(sample(`${this.name}_count`, s.labels, s.count));
    }
    return lines;
  }
}

export class Registry {
  readonly #families: Family[] = [];

  add<T extends Family>(family: T): T {
    this.#families.push(family);
    return family;
  }

  /** The exposition, ending with a newline as the format requires. */
  render(): string {
    return `${this.#families.flatMap((f) => f.render()).join('\n')}\n`;
  }
}

/** The content type Prometheus scrapers expect for this format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Backslash, double quote and line feed are the three characters the format escapes. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}
