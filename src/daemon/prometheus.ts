// A small Prometheus registry: counters, gauges and histograms with fixed label names,
// rendered in the text exposition format 0.0.4, and the process metrics computed at scrape
// time. Ours rather than a library's because the library loaded modules the idle daemon
// has no other use for (V8 heap statistics, performance hooks, its own helpers): about
// 8 MB resident (docs/performance.md). This file needs only `process` and node:fs, which
// the daemon imports at start anyway (test/unit/prometheus.test.ts checks it loads
// nothing more).
import { readdirSync, readFileSync } from 'node:fs';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values by label name; every name declared at construction must be given. */
export type Labels<N extends string> = Readonly<Record<N, string | number>>;

/** Something a registry renders: whole lines of exposition text, each ending in a newline. */
export interface Collector {
  readonly name: string;
  collect(): string | Promise<string>;
}

export class Registry {
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  private readonly collectors = new Map<string, Collector>();

  registerMetric(c: Collector): void {
    if (this.collectors.has(c.name)) throw new Error(`A metric named ${c.name} is registered already`);
    this.collectors.set(c.name, c);
  }

  /** The exposition text, metrics in the order they were registered. */
  async metrics(): Promise<string> {
    let out = '';
    for (const c of this.collectors.values()) out += await c.collect();
    return out;
  }
}

export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

/** `{a="x",b="y"}` from label pairs already in order; '' when there are none. */
function labelText(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

function sample(name: string, pairs: ReadonlyArray<readonly [string, string]>, value: number): string {
  return `${name}${labelText(pairs)} ${formatValue(value)}\n`;
}

interface MetricOptions<N extends string> {
  name: string;
  help: string;
  labelNames?: readonly N[];
  registers?: readonly Registry[];
}

interface Series<T> {
  labels: ReadonlyArray<readonly [string, string]>;
  value: T;
}

abstract class Metric<N extends string, T> implements Collector {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly N[];
  abstract readonly type: string;
  // One entry per label combination seen, in first-seen order (so the output is stable).
  protected readonly series = new Map<string, Series<T>>();

  constructor(opts: MetricOptions<N>, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(opts.name)) throw new Error(`Invalid metric name: ${opts.name}`);
    const names = opts.labelNames ?? [];
    for (const l of names) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || reserved.includes(l)) throw new Error(`Invalid label name for ${opts.name}: ${l}`);
    }
    if (new Set(names).size !== names.length) throw new Error(`Duplicate label name for ${opts.name}`);
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = [...names];
    for (const r of opts.registers ?? []) r.registerMetric(this);
  }

  /** The series for these labels, created with `init` on first use. */
  protected at(labels: Labels<N> | undefined, init: () => T): Series<T> {
    const given = labels ?? ({} as Labels<N>);
    for (const k of Object.keys(given)) {
      if (!(this.labelNames as readonly string[]).includes(k)) throw new Error(`Label ${k} is not declared for ${this.name}`);
    }
    const pairs = this.labelNames.map((n) => {
      const v = given[n];
      if (v === undefined) throw new Error(`Label ${n} is missing for ${this.name}`);
      return [n, String(v)] as const;
    });
    // JSON of the values in label-name order: unambiguous whatever the values contain.
    const key = JSON.stringify(pairs.map(([, v]) => v));
    let s = this.series.get(key);
    if (!s) {
      s = { labels: pairs, value: init() };
      this.series.set(key, s);
    }
    return s;
  }

  /** Without label names, the one series exists (at zero) before anything is recorded. */
  protected initUnlabelled(init: () => T): void {
    if (this.labelNames.length === 0) this.at(undefined, init);
  }

  protected abstract samples(): string;

  collect(): string {
    return header(this.name, this.help, this.type) + this.samples();
  }
}

/** Splits `(labels?, value?)` or `(value?)` arguments. */
function args<N extends string>(a: Labels<N> | number | undefined, b: number | undefined, def: number): [Labels<N> | undefined, number] {
  return typeof a === 'object' ? [a, b ?? def] : [undefined, a ?? def];
}

export class Counter<N extends string = never> extends Metric<N, number> {
  override readonly type = 'counter';

  constructor(opts: MetricOptions<N>) {
    super(opts);
    this.initUnlabelled(() => 0);
  }

  inc(value?: number): void;
  inc(labels: Labels<N>, value?: number): void;
  inc(a?: Labels<N> | number, b?: number): void {
    const [labels, value] = args(a, b, 1);
    if (!(value >= 0)) throw new Error(`A counter only goes up: ${this.name} by ${value}`);
    this.at(labels, () => 0).value += value;
  }

  protected override samples(): string {
    let out = '';
    for (const s of this.series.values()) out += sample(this.name, s.labels, s.value);
    return out;
  }
}

export class Gauge<N extends string = never> extends Metric<N, number> {
  override readonly type = 'gauge';

  constructor(opts: MetricOptions<N>) {
    super(opts);
    this.initUnlabelled(() => 0);
  }

  set(value: number): void;
  set(labels: Labels<N>, value: number): void;
  set(a: Labels<N> | number, b?: number): void {
    const [labels, value] = args(a, b, 0);
    this.at(labels, () => 0).value = value;
  }

  inc(value?: number): void;
  inc(labels: Labels<N>, value?: number): void;
  inc(a?: Labels<N> | number, b?: number): void {
    const [labels, value] = args(a, b, 1);
    this.at(labels, () => 0).value += value;
  }

  dec(value?: number): void;
  dec(labels: Labels<N>, value?: number): void;
  dec(a?: Labels<N> | number, b?: number): void {
    const [labels, value] = args(a, b, 1);
    this.at(labels, () => 0).value -= value;
  }

  protected override samples(): string {
    let out = '';
    for (const s of this.series.values()) out += sample(this.name, s.labels, s.value);
    return out;
  }
}

interface HistogramValue {
  /** Observations per bucket, not cumulative (the last slot is above the largest bound). */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram<N extends string = never> extends Metric<N, HistogramValue> {
  override readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(opts: MetricOptions<N> & { buckets: readonly number[] }) {
    super(opts, ['le']);
    const b = [...opts.buckets].filter((x) => x !== Infinity).sort((x, y) => x - y);
    if (b.some((x) => !Number.isFinite(x)) || new Set(b).size !== b.length) throw new Error(`Invalid buckets for ${opts.name}`);
    this.buckets = b;
    this.initUnlabelled(() => this.empty());
  }

  private empty(): HistogramValue {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  observe(value: number): void;
  observe(labels: Labels<N>, value: number): void;
  observe(a: Labels<N> | number, b?: number): void {
    const [labels, value] = args(a, b, NaN);
    if (Number.isNaN(value)) throw new Error(`Observed value for ${this.name} is not a number`);
    const h = this.at(labels, () => this.empty()).value;
    let i = this.buckets.findIndex((bound) => value <= bound);
    if (i < 0) i = this.buckets.length;
    h.counts[i]! += 1;
    h.sum += value;
    h.count += 1;
  }

  protected override samples(): string {
    let out = '';
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += s.value.counts[i]!;
        out += sample(`${this.name}_bucket`, [['le', formatValue(bound)], ...s.labels], cumulative);
      });
      out += sample(`${this.name}_bucket`, [['le', '+Inf'], ...s.labels], s.value.count);
      out += sample(`${this.name}_sum`, s.labels, s.value.sum);
      out += sample(`${this.name}_count`, s.labels, s.value.count);
    }
    return out;
  }
}

/** The numbers (kB) of `VmSize:`-style lines of /proc/self/status; empty where there is none. */
function procStatusKb(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/^(Vm\w+):\s+(\d+) kB$/gm)) out.set(m[1]!, Number(m[2]));
  } catch {
    // Not Linux, or no procfs: those metrics are left out.
  }
  return out;
}

function maxFds(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

function openFds(): number | undefined {
  try {
    // readdirSync opens the directory itself: that descriptor is closed again by now.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/** How long a callback queued now waits for the event loop to reach it. */
function eventLoopLagSeconds(): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => setImmediate(() => resolve(Number(process.hrtime.bigint() - start) / 1e9)));
}

/**
 * The process and Node.js metrics, names without their prefix. Names and help texts are the
 * ones operators' dashboards already know; only what `process` and procfs give is here.
 * `linux`: read from procfs, left out where it cannot be read.
 */
export const PROCESS_METRICS = [
  { name: 'process_cpu_user_seconds_total', type: 'counter', labelNames: [], help: 'Total user CPU time spent in seconds.' },
  { name: 'process_cpu_system_seconds_total', type: 'counter', labelNames: [], help: 'Total system CPU time spent in seconds.' },
  { name: 'process_cpu_seconds_total', type: 'counter', labelNames: [], help: 'Total user and system CPU time spent in seconds.' },
  { name: 'process_start_time_seconds', type: 'gauge', labelNames: [], help: 'Start time of the process since unix epoch in seconds.' },
  { name: 'process_resident_memory_bytes', type: 'gauge', labelNames: [], help: 'Resident memory size in bytes.' },
  { name: 'process_virtual_memory_bytes', type: 'gauge', labelNames: [], help: 'Virtual memory size in bytes.', linux: true },
  { name: 'process_heap_bytes', type: 'gauge', labelNames: [], help: 'Process heap size in bytes.', linux: true },
  { name: 'process_open_fds', type: 'gauge', labelNames: [], help: 'Number of open file descriptors.', linux: true },
  { name: 'process_max_fds', type: 'gauge', labelNames: [], help: 'Maximum number of open file descriptors.', linux: true },
  { name: 'nodejs_eventloop_lag_seconds', type: 'gauge', labelNames: [], help: 'Lag of event loop in seconds.' },
  { name: 'nodejs_active_resources', type: 'gauge', labelNames: ['type'], help: 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.' },
  { name: 'nodejs_active_resources_total', type: 'gauge', labelNames: [], help: 'Total number of active resources.' },
  { name: 'nodejs_heap_size_total_bytes', type: 'gauge', labelNames: [], help: 'Process heap size from Node.js in bytes.' },
  { name: 'nodejs_heap_size_used_bytes', type: 'gauge', labelNames: [], help: 'Process heap size used from Node.js in bytes.' },
  { name: 'nodejs_external_memory_bytes', type: 'gauge', labelNames: [], help: 'Node.js external memory size in bytes.' },
  { name: 'nodejs_version_info', type: 'gauge', labelNames: ['version', 'major', 'minor', 'patch'], help: 'Node.js version info.' },
] as const satisfies ReadonlyArray<{ name: string; type: 'counter' | 'gauge'; labelNames: readonly string[]; help: string; linux?: boolean }>;

type ProcessMetricName = (typeof PROCESS_METRICS)[number]['name'];
/** A value, or one per label set (in label-name order), or nothing when it could not be read. */
type Reading = number | Array<[ReadonlyArray<readonly [string, string]>, number]> | undefined;

/** Renders PROCESS_METRICS, prefixed, from what the process reports at each scrape. */
export class ProcessMetrics implements Collector {
  readonly name: string;
  // Whole seconds: a start time needs no more, and it then reads the same on every scrape.
  private readonly startTime = Math.round(Date.now() / 1000 - process.uptime());
  private readonly maxFds = maxFds();

  constructor(
    private readonly prefix: string,
    registry: Registry,
  ) {
    this.name = `${prefix}process`;
    registry.registerMetric(this);
  }

  async collect(): Promise<string> {
    const lag = await eventLoopLagSeconds();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const status = procStatusKb();
    const kb = (field: string) => (status.has(field) ? status.get(field)! * 1024 : undefined);
    const resources = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) resources.set(r, (resources.get(r) ?? 0) + 1);
    const [major = '', minor = '', patch = ''] = process.versions.node.split('.');
    const read: Record<ProcessMetricName, Reading> = {
      process_cpu_user_seconds_total: cpu.user / 1e6,
      process_cpu_system_seconds_total: cpu.system / 1e6,
      process_cpu_seconds_total: (cpu.user + cpu.system) / 1e6,
      process_start_time_seconds: this.startTime,
      process_resident_memory_bytes: mem.rss,
      process_virtual_memory_bytes: kb('VmSize'),
      process_heap_bytes: kb('VmData'),
      process_open_fds: openFds(),
      process_max_fds: this.maxFds,
      nodejs_eventloop_lag_seconds: lag,
      nodejs_active_resources: [...resources].map(([type, n]) => [[['type', type]], n]),
      nodejs_active_resources_total: [...resources.values()].reduce((a, b) => a + b, 0),
      nodejs_heap_size_total_bytes: mem.heapTotal,
      nodejs_heap_size_used_bytes: mem.heapUsed,
      nodejs_external_memory_bytes: mem.external,
      nodejs_version_info: [[[['version', process.version], ['major', major], ['minor', minor], ['patch', patch]], 1]],
    };
    let out = '';
    for (const m of PROCESS_METRICS) {
      const v = read[m.name];
      if (v === undefined) continue;
      const name = this.prefix + m.name;
      out += header(name, m.help, m.type);
      for (const [labels, value] of typeof v === 'number' ? [[[], v] as const] : v) out += sample(name, labels, value);
    }
    return out;
  }
}
