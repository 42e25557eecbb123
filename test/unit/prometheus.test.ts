// The metrics registry of src/daemon/prometheus.ts: exact exposition text (text format 0.0.4)
// for each metric type, label escaping, cumulative buckets, the process metrics, and that
// none of it loads a module the idle daemon does without.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Counter, Gauge, Histogram, PROCESS_METRICS, PROMETHEUS_CONTENT_TYPE, ProcessMetrics, Registry } from '../../src/daemon/prometheus.js';
import { Metrics, PROCESS_METRICS_PREFIX } from '../../src/daemon/metrics.js';
import { REPO_ROOT } from '../helpers/paths.js';

/**
 * Checks text against the 0.0.4 format's grammar (HELP, TYPE, then the family's samples;
 * label values quoted with \\ \" \n escapes only) and returns the samples by series.
 */
function parse(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const samples = new Map<string, number>();
  const families = new Set<string>();
  let family: { name: string; type: string } | undefined;
  const lines = text.slice(0, -1).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) ((?:[^\\\n]|\\\\|\\n)*)$/.exec(line);
    if (help) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(lines[++i] ?? '');
      if (!type || type[1] !== help[1]) throw new Error(`HELP without its TYPE: ${line}`);
      if (families.has(type[1]!)) throw new Error(`family twice: ${type[1]}`);
      families.add(type[1]!);
      family = { name: type[1]!, type: type[2]! };
      continue;
    }
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"(?:,(?=[a-zA-Z_]))?)*\})? (\S+)$/.exec(line);
    if (!s || !family) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const suffixes = family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
    if (!suffixes.some((x) => s[1] === family!.name + x)) throw new Error(`${s[1]} outside its family ${family.name}`);
    const v = s[3] === '+Inf' ? Infinity : s[3] === '-Inf' ? -Infinity : Number(s[3]);
    if (Number.isNaN(v) && s[3] !== 'NaN') throw new Error(`bad value: ${line}`);
    const key = `${s[1]}${s[2] ?? ''}`;
    if (samples.has(key)) throw new Error(`series twice: ${key}`);
    samples.set(key, v);
  }
  return samples;
}

describe('prometheus registry', () => {
  test('counters and gauges, without labels and with, in registration order', async () => {
    const r = new Registry();
    const c = new Counter({ name: 'c_total', help: 'A counter.', registers: [r] });
    const g = new Gauge({ name: 'g', help: 'A gauge.', registers: [r] });
    const cl = new Counter({ name: 'cl_total', help: 'Counted by kind.', labelNames: ['kind', 'outcome'], registers: [r] });
    const gl = new Gauge({ name: 'gl', help: 'Set by state.', labelNames: ['state'], registers: [r] });
    // Unlabelled metrics read 0 before anything happens; labelled ones have no series yet.
    expect(await r.metrics()).toBe(
      ['# HELP c_total A counter.', '# TYPE c_total counter', 'c_total 0', '# HELP g A gauge.', '# TYPE g gauge', 'g 0',
        '# HELP cl_total Counted by kind.', '# TYPE cl_total counter', '# HELP gl Set by state.', '# TYPE gl gauge', ''].join('\n'),
    );
    c.inc();
    c.inc(2.5);
    g.set(7);
    g.inc();
    g.dec(3);
    cl.inc({ outcome: 'ok', kind: 'a' }); // label order as declared, whatever the object's
    cl.inc({ kind: 'b', outcome: 'error' }, 4);
    cl.inc({ kind: 'a', outcome: 'ok' });
    gl.set({ state: 'idle' }, 1);
    gl.set({ state: 'ready' }, 0);
    gl.inc({ state: 'ready' }, 2);
    gl.dec({ state: 'idle' });
    gl.set({ state: 'neg' }, -1.5);
    expect(await r.metrics()).toBe(
      [
        '# HELP c_total A counter.', '# TYPE c_total counter', 'c_total 3.5',
        '# HELP g A gauge.', '# TYPE g gauge', 'g 5',
        '# HELP cl_total Counted by kind.', '# TYPE cl_total counter', 'cl_total{kind="a",outcome="ok"} 2', 'cl_total{kind="b",outcome="error"} 4',
        '# HELP gl Set by state.', '# TYPE gl gauge', 'gl{state="idle"} 0', 'gl{state="ready"} 2', 'gl{state="neg"} -1.5',
        '',
      ].join('\n'),
    );
    expect(r.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(PROMETHEUS_CONTENT_TYPE).toBe(r.contentType);
  });

  test('histograms: cumulative buckets up to +Inf, sum and count; a value on a bound counts in that bucket', async () => {
    const r = new Registry();
    const h = new Histogram({ name: 'h_seconds', help: 'Unlabelled.', buckets: [1, 0.5, 5], registers: [r] });
    const hl = new Histogram({ name: 'hl_seconds', help: 'Labelled.', labelNames: ['service'], buckets: [0.1, 1], registers: [r] });
    expect(await r.metrics()).toBe(
      ['# HELP h_seconds Unlabelled.', '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="0.5"} 0', 'h_seconds_bucket{le="1"} 0', 'h_seconds_bucket{le="5"} 0', 'h_seconds_bucket{le="+Inf"} 0', 'h_seconds_sum 0', 'h_seconds_count 0',
        '# HELP hl_seconds Labelled.', '# TYPE hl_seconds histogram', ''].join('\n'),
    );
    for (const v of [0.2, 0.5, 0.75, 7, 100]) h.observe(v);
    hl.observe({ service: 'IAM' }, 0.1);
    hl.observe({ service: 'IAM' }, 2);
    hl.observe({ service: 'STS' }, 0.05);
    expect(await r.metrics()).toBe(
      [
        '# HELP h_seconds Unlabelled.', '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="0.5"} 2', 'h_seconds_bucket{le="1"} 3', 'h_seconds_bucket{le="5"} 3', 'h_seconds_bucket{le="+Inf"} 5', 'h_seconds_sum 108.45', 'h_seconds_count 5',
        '# HELP hl_seconds Labelled.', '# TYPE hl_seconds histogram',
        'hl_seconds_bucket{le="0.1",service="IAM"} 1', 'hl_seconds_bucket{le="1",service="IAM"} 1', 'hl_seconds_bucket{le="+Inf",service="IAM"} 2', 'hl_seconds_sum{service="IAM"} 2.1', 'hl_seconds_count{service="IAM"} 2',
        'hl_seconds_bucket{le="0.1",service="STS"} 1', 'hl_seconds_bucket{le="1",service="STS"} 1', 'hl_seconds_bucket{le="+Inf",service="STS"} 1', 'hl_seconds_sum{service="STS"} 0.05', 'hl_seconds_count{service="STS"} 1',
        '',
      ].join('\n'),
    );
    expect(h.buckets).toEqual([0.5, 1, 5]);
  });

  test('label values escape backslash, double quote and newline; help text backslash and newline', async () => {
    const r = new Registry();
    const g = new Gauge({ name: 'esc', help: 'Back\\slash, "quotes" stay,\nnew line.', labelNames: ['v'], registers: [r] });
    g.set({ v: 'a\\b"c"\nd' }, 1);
    g.set({ v: 'plain, {braces} = ok' }, 2);
    g.set({ v: '' }, 3);
    g.set({ v: 42 }, 4);
    const text = await r.metrics();
    expect(text).toBe(
      ['# HELP esc Back\\\\slash, "quotes" stay,\\nnew line.', '# TYPE esc gauge', 'esc{v="a\\\\b\\"c\\"\\nd"} 1', 'esc{v="plain, {braces} = ok"} 2', 'esc{v=""} 3', 'esc{v="42"} 4', ''].join('\n'),
    );
    expect([...parse(text).keys()]).toEqual(['esc{v="a\\\\b\\"c\\"\\nd"}', 'esc{v="plain, {braces} = ok"}', 'esc{v=""}', 'esc{v="42"}']);
    // Values that differ only in what escaping would blur stay distinct series.
    const d = new Gauge({ name: 'distinct', help: 'x', labelNames: ['a', 'b'] });
    d.set({ a: 'x","b', b: 'y' }, 1);
    d.set({ a: 'x', b: 'b","y' }, 2);
    expect(d.collect().split('\n').filter((l) => l.startsWith('distinct{'))).toEqual(['distinct{a="x\\",\\"b",b="y"} 1', 'distinct{a="x",b="b\\",\\"y"} 2']);
  });

  test('special values, and what is refused', () => {
    const g = new Gauge({ name: 'special', help: 'x' });
    g.set(NaN);
    expect(g.collect()).toContain('\nspecial NaN\n');
    g.set(Infinity);
    expect(g.collect()).toContain('\nspecial +Inf\n');
    g.set(-Infinity);
    expect(g.collect()).toContain('\nspecial -Inf\n');
    g.set(1e-7);
    expect(g.collect()).toContain('\nspecial 1e-7\n');

    const r = new Registry();
    const c = new Counter({ name: 'x_total', help: 'x', labelNames: ['a'], registers: [r] });
    expect(() => new Counter({ name: 'x_total', help: 'again', registers: [r] })).toThrow('registered already');
    expect(() => c.inc({ a: '1' }, -1)).toThrow('only goes up');
    expect(() => c.inc({ a: '1' }, NaN)).toThrow('only goes up');
    expect(() => c.inc({ a: '1', b: '2' } as never)).toThrow('Label b is not declared');
    expect(() => c.inc({} as never)).toThrow('Label a is missing');
    expect(() => c.inc()).toThrow('Label a is missing');
    expect(() => new Gauge({ name: 'bad-name', help: 'x' })).toThrow('Invalid metric name');
    expect(() => new Gauge({ name: 'ok', help: 'x', labelNames: ['__reserved'] })).toThrow('Invalid label name');
    expect(() => new Gauge({ name: 'ok', help: 'x', labelNames: ['a', 'a'] })).toThrow('Duplicate label name');
    expect(() => new Histogram({ name: 'h', help: 'x', labelNames: ['le'], buckets: [1] })).toThrow('Invalid label name');
    expect(() => new Histogram({ name: 'h', help: 'x', buckets: [1, 1] })).toThrow('Invalid buckets');
    expect(() => new Histogram({ name: 'h', help: 'x', buckets: [1] }).observe(NaN)).toThrow('not a number');
    // Nothing refused was recorded.
    expect(c.collect()).toBe('# HELP x_total x\n# TYPE x_total counter\n');
  });

  test('process metrics: every one present where readable, plausible, CPU counters monotonic between scrapes', async () => {
    const r = new Registry();
    new ProcessMetrics('p_', r);
    const first = parse(await r.metrics());
    // Some CPU time between the two scrapes, so the counters have a reason to move.
    const until = Date.now() + 30;
    while (Date.now() < until);
    const second = parse(await r.metrics());
    const linux = process.platform === 'linux' && existsSync('/proc/self/status');
    const families = new Set([...second.keys()].map((k) => k.replace(/\{.*$/, '')));
    const expected = PROCESS_METRICS.filter((m) => linux || !('linux' in m)).map((m) => `p_${m.name}`);
    // nodejs_active_resources has a series per resource type only while one is active.
    const noActive = (names: string[]) => names.filter((n) => n !== 'p_nodejs_active_resources').sort();
    expect(noActive([...families])).toEqual(noActive(expected));

    const v = (m: Map<string, number>, k: string) => {
      const x = m.get(k);
      if (x === undefined) throw new Error(`${k} missing`);
      return x;
    };
    for (const k of ['p_process_cpu_user_seconds_total', 'p_process_cpu_system_seconds_total', 'p_process_cpu_seconds_total']) expect(v(second, k)).toBeGreaterThanOrEqual(v(first, k));
    expect(v(second, 'p_process_cpu_seconds_total')).toBeGreaterThan(v(first, 'p_process_cpu_seconds_total'));
    expect(v(second, 'p_process_cpu_seconds_total')).toBeCloseTo(v(second, 'p_process_cpu_user_seconds_total') + v(second, 'p_process_cpu_system_seconds_total'), 9);
    expect(v(second, 'p_process_cpu_seconds_total')).toBeLessThan(process.uptime() * 64);
    const rss = v(second, 'p_process_resident_memory_bytes');
    expect(rss).toBeGreaterThan(10 * 2 ** 20);
    expect(rss).toBeLessThan(8 * 2 ** 30);
    const start = v(second, 'p_process_start_time_seconds');
    expect(Number.isInteger(start)).toBe(true);
    expect(Math.abs(start - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    expect(v(first, 'p_process_start_time_seconds')).toBe(start);
    const heapUsed = v(second, 'p_nodejs_heap_size_used_bytes');
    expect(heapUsed).toBeGreaterThan(0);
    expect(heapUsed).toBeLessThanOrEqual(v(second, 'p_nodejs_heap_size_total_bytes'));
    expect(v(second, 'p_nodejs_external_memory_bytes')).toBeGreaterThan(0);
    expect(v(second, 'p_nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(v(second, 'p_nodejs_eventloop_lag_seconds')).toBeLessThan(5);
    const [major, minor, patch] = process.versions.node.split('.');
    expect(v(second, `p_nodejs_version_info{version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"}`)).toBe(1);
    if (linux) {
      const fds = v(second, 'p_process_open_fds');
      expect(fds).toBeGreaterThanOrEqual(3);
      expect(fds).toBeLessThanOrEqual(v(second, 'p_process_max_fds'));
      expect(v(second, 'p_process_virtual_memory_bytes')).toBeGreaterThan(rss);
      expect(v(second, 'p_process_heap_bytes')).toBeGreaterThan(0);
    }
    // Active resources are counted by type, and the total is their sum.
    const byType = [...second].filter(([k]) => k.startsWith('p_nodejs_active_resources{'));
    expect(byType.reduce((a, [, n]) => a + n, 0)).toBe(v(second, 'p_nodejs_active_resources_total'));
  });

  test("the daemon's metrics: the declared ones first, exact, then the process ones with the daemon's prefix; all one valid exposition", async () => {
    const m = new Metrics();
    m.setConnectionState('ready');
    m.frame('out', 'hello');
    m.frame('in', 'no-such-type');
    m.call('IAM', 'ListRoles', 'ok', 0.2);
    m.jobsReceived.inc({ type: 'sync', decision: 'accepted' });
    const text = await m.registry.metrics();
    const samples = parse(text);
    expect(text).toContain(
      [
        '# HELP access_connector_connection_state Current control-plane connection state (1 for the current state).',
        '# TYPE access_connector_connection_state gauge',
        'access_connector_connection_state{state="idle"} 0',
        'access_connector_connection_state{state="connecting"} 0',
        'access_connector_connection_state{state="open"} 0',
        'access_connector_connection_state{state="ready"} 1',
        'access_connector_connection_state{state="waiting"} 0',
        'access_connector_connection_state{state="auth_rejected"} 0',
        'access_connector_connection_state{state="stopped"} 0',
        '# HELP access_connector_reconnects_total Reconnections: sessions welcomed after the first one of this process.',
        '# TYPE access_connector_reconnects_total counter',
        'access_connector_reconnects_total 0',
      ].join('\n'),
    );
    expect(text).toContain(
      [
        '# HELP access_connector_frames_total Frames by direction and type.',
        '# TYPE access_connector_frames_total counter',
        'access_connector_frames_total{direction="out",type="hello"} 1',
        'access_connector_frames_total{direction="in",type="unknown"} 1',
        '# HELP access_connector_aws_calls_total AWS API attempts, by service, operation and outcome (ok, throttled, error).',
        '# TYPE access_connector_aws_calls_total counter',
        'access_connector_aws_calls_total{service="IAM",operation="ListRoles",outcome="ok"} 1',
        '# HELP access_connector_aws_call_duration_seconds AWS API attempt latency by service.',
        '# TYPE access_connector_aws_call_duration_seconds histogram',
        'access_connector_aws_call_duration_seconds_bucket{le="0.01",service="IAM"} 0',
        'access_connector_aws_call_duration_seconds_bucket{le="0.05",service="IAM"} 0',
        'access_connector_aws_call_duration_seconds_bucket{le="0.1",service="IAM"} 0',
        'access_connector_aws_call_duration_seconds_bucket{le="0.25",service="IAM"} 1',
        'access_connector_aws_call_duration_seconds_bucket{le="0.5",service="IAM"} 1',
        'access_connector_aws_call_duration_seconds_bucket{le="1",service="IAM"} 1',
        'access_connector_aws_call_duration_seconds_bucket{le="2.5",service="IAM"} 1',
        'access_connector_aws_call_duration_seconds_bucket{le="5",service="IAM"} 1',
        'access_connector_aws_call_duration_seconds_bucket{le="15",service="IAM"} 1',
        'access_connector_aws_call_duration_seconds_bucket{le="+Inf",service="IAM"} 1',
        'access_connector_aws_call_duration_seconds_sum{service="IAM"} 0.2',
        'access_connector_aws_call_duration_seconds_count{service="IAM"} 1',
        '# HELP access_connector_ready 1 when connected, welcomed and not draining.',
        '# TYPE access_connector_ready gauge',
        'access_connector_ready 0',
        `# HELP ${PROCESS_METRICS_PREFIX}process_cpu_user_seconds_total Total user CPU time spent in seconds.`,
      ].join('\n'),
    );
    expect(samples.get('access_connector_jobs_received_total{type="sync",decision="accepted"}')).toBe(1);
    // What the dashboard and the reliability tests read.
    for (const k of ['access_connector_process_resident_memory_bytes', 'access_connector_process_cpu_seconds_total', 'access_connector_nodejs_heap_size_used_bytes']) {
      expect(samples.get(k)).toBeGreaterThan(0);
    }
  });

  test('neither the registry nor a scrape loads a Node module beyond node:fs, which the daemon imports at start anyway', () => {
    const url = pathToFileURL(resolve(REPO_ROOT, 'dist/src/daemon/prometheus.js')).href;
    const script = `
      await import('node:fs');
      const before = new Set(process.moduleLoadList);
      const p = await import(${JSON.stringify(url)});
      const r = new p.Registry();
      new p.ProcessMetrics('x_', r);
      new p.Histogram({ name: 'h', help: 'h', labelNames: ['a'], buckets: [1], registers: [r] }).observe({ a: 'b' }, 2);
      await r.metrics();
      // Read before printing: the first write to stdout loads the stream modules.
      const added = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ') && !m.startsWith('NativeModule internal/'));
      console.log(JSON.stringify(added));`;
    const added = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    expect(added).toEqual([]);
  });
});
