// npm run bench:sync — a full sync of the simulator's generated organization through the
// real connector process and the reference control plane, with AWS quotas on and 30 ms
// per call, time-scaled by k. Prints one JSON line of figures; asserts nothing.
//
//   node dist/bench/sync.js [--accounts 1000] [--seed 1] [--k 10] [--latency-ms 30] [--share 0.5]
//                           [--delta-changes 20] [--expand] [--cpu-prof DIR] [--malloc-arena-max N]
//                           [--heap-snapshot-at 25,55] [--metrics-every 1000]
// --delta-changes N: after the full sync, N changes are made (bench/delta-changes.ts: IAM,
// Identity Center and Organizations, deletions included, each logged in CloudTrail) and a
// delta sync runs; its wall time and AWS calls are reported as fractions of the full's, and
// the full sync merged with the delta (test/sim/control-plane/inventory.ts) is compared
// with the ground truth after the changes.
// --expand: the sync asks for derived entities (params `expand: true`, docs/sync.md "Effective
// access (expand)") and is checked against the ground truth with them; run once with and once
// without to see what expanding costs (docs/performance.md).
// --cpu-prof DIR: the connector writes a V8 CPU profile there when it exits.
// --malloc-arena-max N: MALLOC_ARENA_MAX=N in the connector's environment (glibc's arenas);
// 2 by default, as the image sets it (docs/image.md); 0 leaves glibc's default.
// --node-options '…': more flags for the connector after the heap settings; --node-args '…':
// flags on its node command line (V8 flags that NODE_OPTIONS refuses), after the image's
// (bench/image-settings.ts: V8's tiers), which --no-image-node-args leaves out;
// --env NAME=VALUE (repeatable): more environment for it.
// --heap-snapshot-at S[,S…]: S seconds after the job is sent, the connector (started with
// --heapsnapshot-signal=SIGUSR2) writes a V8 heap snapshot into a temporary directory that
// is printed on stderr; read them with bench/heap-summary.ts.
// --metrics-every MS: the connector's /metrics is read every MS milliseconds during the full
// sync, and the highest V8 heap used and resident set seen are reported (heapUsedMbMax,
// metricsRssMbMax): what lives mid-sync, beside VmHWM's peak. Each sample also goes to
// stderr with the CPU both processes took since the last one and the operations called most.
// At 10,000 accounts give the bench itself room: node --max-old-space-size=8192 dist/bench/sync.js …
// --connector-cpu N: the connector (all its threads) runs on CPU N alone and this process
// (the simulator and the control plane) on the other CPUs; without it both share every
// core. It shows how much of a figure comes from the two competing for the cores
// (docs/performance.md, "A faster machine, and where the 10,000-account peak comes from").
// Needs taskset (util-linux) and two CPUs or more.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ReferenceControlPlane } from '../test/sim/control-plane/server.js';
import { startAwsSimulator } from '../test/sim/aws/index.js';
import { RefTally } from './ref-tally.js';
import { canonicalRefs } from '../test/sim/aws/entity-ids.js';
import { Inventory } from '../test/sim/control-plane/inventory.js';
import { makeChanges } from './delta-changes.js';
import { ConnectorProcess } from '../test/helpers/process.js';
import { MAIN_JS } from '../test/helpers/paths.js';
import { IMAGE_MALLOC_ARENA_MAX, benchNodeArgs } from './image-settings.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const accounts = arg('accounts', 1000);
const seed = arg('seed', 1);
const k = arg('k', 10);
const latencyMs = arg('latency-ms', 30);
const share = arg('share', 0.5);
/**
 * V8 heap cap for the connector (MB), as docs/operations.md recommends setting it in a
 * container (with a 4 MB young generation: Node 24 otherwise keeps a 128 MB one whatever
 * the cap, and collects the old generation constantly); 0 = Node's defaults.
 */
const heapMb = arg('heap-mb', 160);
const deltaChanges = arg('delta-changes', 0);
const cpuProfDir = process.argv.includes('--cpu-prof') ? process.argv[process.argv.indexOf('--cpu-prof') + 1] : undefined;
const mallocArenaMax = arg('malloc-arena-max', IMAGE_MALLOC_ARENA_MAX);
/** --node-options '…': more Node or V8 flags for the connector, after the heap settings (so they win). */
const extraNodeOptions = process.argv.includes('--node-options') ? (process.argv[process.argv.indexOf('--node-options') + 1] ?? '') : '';
/** --node-args '…': flags on the connector's node command line (V8 flags NODE_OPTIONS refuses). */
const nodeArgs = benchNodeArgs();
/** --env NAME=VALUE (repeatable): more environment for the connector (GLIBC_TUNABLES, say). */
const extraEnv = Object.fromEntries(process.argv.flatMap((a, i) => (a === '--env' && process.argv[i + 1]?.includes('=') ? [process.argv[i + 1]!.split(/=(.*)/s).slice(0, 2) as [string, string]] : [])));
const expand = process.argv.includes('--expand');
const snapshotAt = process.argv.includes('--heap-snapshot-at')
  ? process.argv[process.argv.indexOf('--heap-snapshot-at') + 1]!.split(',').map(Number).filter((x) => x >= 0)
  : [];
const metricsEvery = arg('metrics-every', 0);
const connectorCpu = arg('connector-cpu', -1);
// Checked before anything starts, so a bad value leaves no simulator or connector running.
if (connectorCpu !== -1 && !(Number.isInteger(connectorCpu) && connectorCpu >= 0 && connectorCpu < cpus().length && cpus().length >= 2)) {
  throw new Error(`--connector-cpu ${process.argv[process.argv.indexOf('--connector-cpu') + 1]}: a CPU number from 0 to ${cpus().length - 1}, on a machine of two CPUs or more (this one has ${cpus().length})`);
}

/**
 * Where the anonymous resident memory sits (/proc/PID/smaps), in MB: glibc's main arena
 * (`brk`, the [heap] mapping), mappings within a 64 MB-aligned reservation of 64 MB (glibc's
 * thread arenas), and the rest (V8's pages, large malloc blocks, thread stacks).
 */
function anonMaps(pid: number): string {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return '';
  }
  const sum = { brk: 0, arenas: 0, other: 0 };
  let kind: keyof typeof sum | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const [start, inode, name] = [BigInt(`0x${head[1]}`), head[3], head[4] ?? ''];
      if (name === '[heap]') kind = 'brk';
      else if (inode !== '0' || name !== '') kind = undefined;
      else kind = start % BigInt(64 * 2 ** 20) === 0n ? 'arenas' : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && kind) sum[kind] += Number(rss[1]);
  }
  return `brk=${Math.round(sum.brk / 1024)} arenas=${Math.round(sum.arenas / 1024)} otherAnon=${Math.round(sum.other / 1024)}`;
}

/** A free loopback port (for the connector's HEALTH_PORT, read by --metrics-every). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** One gauge's value from a Prometheus text exposition. */
function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Peak resident set of a process, from /proc (VmHWM), in MB. */
function peakRssMb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const sim = await startAwsSimulator({ world: { generate: { seed, accounts } }, quotas: true, timeScale: k, latencyMs });
  const mgmt = sim.world.organization!.managementAccountId;
  const integration = {
    id: 'int-bench',
    name: 'bench',
    type: 'aws-organization' as const,
    region: 'us-east-1',
    roleArn: `arn:${sim.world.partition}:iam::${mgmt}:role/${sim.world.connector.managementRoleName}`,
    externalId: sim.world.connector.externalId,
    memberRoleName: sim.world.connector.memberRoleName,
    ssoRegion: sim.world.sso?.region ?? 'us-east-1',
    // Every read a full sync can make, the users' last sign-in from CloudTrail included.
    enableAudit: true,
  };
  const settings = { type: 'aws-organization' as const, enableAudit: true, ...(expand && { expand: true }) };
  // Only the truth's digests are kept (bench/ref-tally.ts): at 10,000 accounts its 3 million
  // refs would otherwise stay in memory for the whole run.
  const tally = new RefTally();
  let truthEntities: number;
  {
    const truth = sim.groundTruth(settings);
    truthEntities = truth.entities.length;
    tally.expect(truth.entities);
  }
  // The resources source reads the management account's organization view.
  const floor = sim.floor(settings, { quotaShare: share, timeScale: k, latencyMs, resourcesVia: 'management-view' });

  // The control plane keeps no entities; the full sync's are tallied as they arrive, each
  // batch once (first arrival of its id, as the protocol's dedupe does).
  let fullJobId = '';
  const batchIds = new Set<string>();
  let entities = 0;
  let derivedEntities = 0;
  const cp = await ReferenceControlPlane.start({
    window: 16,
    // A delta is checked against the full sync's entities merged with its own: kept then.
    keepBatchEntities: deltaChanges > 0,
    onEvent: (ev) => {
      if (ev.kind !== 'frame' || ev.direction !== 'in' || ev.frame?.['type'] !== 'sync.batch' || ev.frame['jobId'] !== fullJobId) return;
      const id = String(ev.frame['id']);
      if (batchIds.has(id)) return;
      batchIds.add(id);
      for (const e of ev.frame['entities'] as Array<{ kind: string; id: string; derived?: boolean }>) {
        entities++;
        if (e.derived) derivedEntities++;
        tally.add(e.kind, e.id);
      }
    },
  });
  const snapshotDir = snapshotAt.length > 0 ? mkdtempSync(join(tmpdir(), 'connector-heap-')) : undefined;
  if (snapshotDir) console.error(`heap snapshots: ${snapshotDir}`);
  const nodeOptions = [
    heapMb > 0 && `--max-old-space-size=${heapMb} --max-semi-space-size=4`,
    extraNodeOptions,
    cpuProfDir && `--cpu-prof --cpu-prof-dir=${cpuProfDir}`,
    snapshotDir && `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}`,
  ].filter(Boolean).join(' ');
  const healthPort = metricsEvery > 0 ? await freePort() : 0;
  const connector = new ConnectorProcess(
    {
      CONNECTOR_ID: 'bench',
      CONTROL_PLANE_URL: cp.url,
      ALLOW_INSECURE_CONTROL_PLANE: 'true',
      CONNECTOR_TOKEN: 'test-token',
      LOG_LEVEL: 'warn',
      AWS_QUOTA_SHARE: String(share),
      AWS_QUOTA_MULTIPLIER: String(k),
      ...(nodeOptions && { NODE_OPTIONS: nodeOptions }),
      ...(mallocArenaMax > 0 && { MALLOC_ARENA_MAX: String(mallocArenaMax) }),
      ...extraEnv,
      ...(healthPort > 0 && { HEALTH_PORT: String(healthPort) }),
      ...sim.env,
    },
    { entry: MAIN_JS, nodeArgs },
  );
  if (connectorCpu >= 0) {
    const others = cpus().map((_, i) => i).filter((i) => i !== connectorCpu);
    // -a: every thread (V8's and libuv's helpers too); threads made later inherit it.
    execFileSync('taskset', ['-a', '-p', '-c', String(connectorCpu), String(connector.child.pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', others.join(','), String(process.pid)], { stdio: 'ignore' });
  }
  await cp.waitForSession(15_000);
  sim.stats.reset();
  const t0 = Date.now();
  const benchCpu0 = process.cpuUsage();
  // This process's garbage collections: at 10,000 accounts its heap (the simulator's world)
  // is gigabytes, and while a collection runs the simulator and the control plane answer
  // nothing, which the connector's figures then show (wall time, unacked batches held).
  const benchGc = { ms: 0, longestMs: 0, over1s: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      benchGc.ms += e.duration;
      benchGc.longestMs = Math.max(benchGc.longestMs, e.duration);
      if (e.duration >= 1000) {
        benchGc.over1s++;
        console.error(`bench gc t=${((Date.now() - t0) / 1000).toFixed(0)}s ${Math.round(e.duration)} ms`);
      }
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const { jobId } = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'full', ...(expand && { expand: true }) } });
  fullJobId = jobId;
  const timers = snapshotAt.map((sec) =>
    setTimeout(() => {
      console.error(`heap snapshot requested at ${sec} s`);
      connector.signal('SIGUSR2');
    }, sec * 1000),
  );
  // CPU of the connector and of this process (simulator and control plane) since the last
  // sample, in % of one core: which side is busy when the call rate changes. Counted from
  // the job, not from the processes' starts (world generation, ground truth).
  const connectorCpuMs = (): number | undefined => {
    try {
      // utime and stime, in clock ticks (100 a second), after the command name.
      const f = readFileSync(`/proc/${connector.child.pid}/stat`, 'utf8');
      const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return (Number(after[11]) + Number(after[12])) * 10;
    } catch {
      return undefined; // the process has exited
    }
  };
  const benchCpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let lastCpu = { at: t0, connector: connectorCpuMs() ?? 0, bench: (benchCpu0.user + benchCpu0.system) / 1000 };
  const cpuNow = () => {
    const at = Date.now();
    const connectorMs = connectorCpuMs() ?? lastCpu.connector;
    const bench = benchCpuMs();
    const pct = (ms: number) => Math.round((100 * ms) / Math.max(1, at - lastCpu.at));
    const out = `cpu=${pct(connectorMs - lastCpu.connector)}/${pct(bench - lastCpu.bench)}%`;
    lastCpu = { at, connector: connectorMs, bench };
    return out;
  };
  // AWS calls so far: all, the organization walk's tag reads and Resource Explorer's pages.
  // The operations called most since the last sample: which units set the pace then.
  let lastByOperation = new Map<string, number>();
  const callsNow = () => {
    const st = sim.stats.snapshot();
    const now = new Map(Object.entries(st.byOperation).map(([op, s]) => [op, s.calls]));
    const top = [...now].map(([op, n]) => [op, n - (lastByOperation.get(op) ?? 0)] as const).filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]).slice(0, 4);
    lastByOperation = now;
    return `${st.total.calls}/${st.byOperation['organizations:ListTagsForResource']?.calls ?? 0}/${st.byOperation['resource-explorer-2:ListResources']?.calls ?? 0} top=${top.map(([op, d]) => `${op}:${d}`).join(',')}`;
  };
  let heapUsedMbMax = 0;
  let metricsRssMbMax = 0;
  const sampler =
    metricsEvery > 0
      ? setInterval(() => {
          fetch(`http://127.0.0.1:${healthPort}/metrics`)
            .then((r) => r.text())
            .then((text) => {
              const mb = (name: string) => Math.round((gauge(text, `access_connector_${name}`) ?? 0) / 2 ** 20);
              const used = mb('nodejs_heap_size_used_bytes');
              const rssNow = mb('process_resident_memory_bytes');
              heapUsedMbMax = Math.max(heapUsedMbMax, used);
              metricsRssMbMax = Math.max(metricsRssMbMax, rssNow);
              // The series, for reading how memory moves through the sync.
              const status = (() => {
                try {
                  return readFileSync(`/proc/${connector.child.pid}/status`, 'utf8');
                } catch {
                  return '';
                }
              })();
              const kb = (field: string) => Math.round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024);
              console.error(`metrics t=${((Date.now() - t0) / 1000).toFixed(0)}s rss=${rssNow} anon=${kb('RssAnon')} file=${kb('RssFile')} heapUsed=${used} heapTotal=${mb('nodejs_heap_size_total_bytes')} external=${mb('nodejs_external_memory_bytes')} ${anonMaps(connector.child.pid!)} outbox=${gauge(text, 'access_connector_outbox_depth') ?? 0} ${cpuNow()} calls=${callsNow()}`);
            })
            .catch(() => undefined);
        }, metricsEvery)
      : undefined;
  // A connector that dies (out of memory under --heap-mb, say) ends the run with its reason.
  const died = connector.exited.then((e) => {
    throw new Error(`connector exited (code ${e.code}, signal ${e.signal}) before the result:\n${connector.output().split('\n').slice(-15).join('\n')}`);
  });
  const result = await Promise.race([cp.waitForResult(jobId, 30 * 60_000), died]);
  const wallSeconds = (Date.now() - t0) / 1000;
  // The simulator and the control plane run in this process: the CPU they took from the two
  // cores the connector shares with them during the full sync.
  const benchCpu = process.cpuUsage(benchCpu0);
  gcObserver.disconnect();
  for (const t of timers) clearTimeout(t);
  if (sampler) clearInterval(sampler);
  const rss = peakRssMb(connector.child.pid!);
  const simStats = sim.stats.snapshot();

  let delta: Record<string, unknown> | undefined;
  if (deltaChanges > 0) {
    const since = new Date().toISOString();
    const changes = makeChanges(sim, deltaChanges);
    sim.stats.reset();
    const t1 = Date.now();
    const d = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'delta', since } });
    const dr = await Promise.race([cp.waitForResult(d.jobId, 30 * 60_000), died]);
    const dWall = (Date.now() - t1) / 1000;
    const dStats = sim.stats.snapshot();
    const dCalls = dStats.total.calls;
    const coverage = ((dr.output as { coverage?: Array<{ accountId: string; source: string; region: string; status: string; reason?: string }> } | undefined)?.coverage ?? []);
    // The control plane's view: the full sync, then the delta applied to it, against the
    // ground truth after the changes.
    const batchesOf = (id: string) => cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === id).flatMap((f) => f.frame!['entities'] as Array<{ kind: string; id: string; accountId?: string; region?: string; deleted?: boolean }>);
    const view = new Inventory();
    view.applyFull(batchesOf(jobId));
    const deltaEntities = batchesOf(d.jobId);
    view.applyDelta(deltaEntities, coverage);
    const after = view.compare(canonicalRefs(sim.groundTruth(settings).entities));
    const sentTwice = new Map<string, number>();
    for (const e of deltaEntities) sentTwice.set(`${e.kind} ${e.id}`, (sentTwice.get(`${e.kind} ${e.id}`) ?? 0) + 1);
    const skipped = (reason: string) => coverage.filter((c) => c.status === 'skipped' && c.reason === reason).length;
    delta = {
      status: dr.status,
      changes,
      unitsComplete: coverage.filter((c) => c.status === 'complete').length,
      unitsSkippedUnchanged: skipped('unchanged'),
      unitsSkippedNoChangeFeed: skipped('noChangeFeed'),
      completeBySource: coverage.filter((c) => c.status === 'complete').reduce<Record<string, number>>((m, c) => ((m[c.source] = (m[c.source] ?? 0) + 1), m), {}),
      entitiesSent: deltaEntities.length,
      deletedSent: deltaEntities.filter((e) => e.deleted).length,
      missing: after.missing.length,
      ...(after.missing.length > 0 && { missingSample: after.missing.slice(0, 3) }),
      extra: after.extra.length,
      ...(after.extra.length > 0 && { extraSample: after.extra.slice(0, 3) }),
      duplicated: [...sentTwice.values()].filter((x) => x > 1).length,
      callsByService: Object.fromEntries(Object.entries(dStats.byService).map(([k, v]) => [k, v.calls])),
      wallSeconds: Number(dWall.toFixed(1)),
      awsCalls: dCalls,
      wallFractionOfFull: Number((dWall / wallSeconds).toFixed(3)),
      callsFractionOfFull: Number((dCalls / simStats.total.calls).toFixed(3)),
    };
  }

  const { missing, extra, duplicated, missingByKind, extraByKind, extraSample } = tally.result();
  // Which refs are missing is only known from the truth again; recomputed only then.
  const missingSample = missing > 0 ? tally.notReceived(sim.groundTruth(settings).entities) : [];

  connector.signal('SIGTERM');
  await connector.exited;
  await cp.close();
  await sim.close();

  const stats = result.stats as Record<string, number>;
  console.log(
    JSON.stringify({
      bench: 'sync',
      status: result.status,
      accounts,
      seed,
      k,
      latencyMs,
      quotaShare: share,
      heapMb: heapMb || 'default',
      expand,
      entities,
      ...(expand && { derivedEntities, expandState: (result.stats as Record<string, unknown>)['expand'] }),
      truthEntities,
      wallSeconds: Number(wallSeconds.toFixed(1)),
      floorSeconds: Number(floor.floorSeconds.toFixed(1)),
      ratioToFloor: Number((wallSeconds / floor.floorSeconds).toFixed(2)),
      bottleneck: floor.bottleneck?.bucket,
      awsCalls: simStats.total.calls,
      throttles: simStats.total.throttled,
      connectorAwsCalls: stats['awsCalls'],
      // The walk of the organization (the bottleneck bucket's calls), and how long it waited
      // for the queue of units to drain (then the units set the pace, not the bucket).
      discoverySeconds: Number(((Number(stats['discoveryMs']) || 0) / 1000).toFixed(1)),
      discoveryWaitedSeconds: Number(((Number(stats['discoveryWaitedMs']) || 0) / 1000).toFixed(1)),
      cpuSeconds: Number(((stats['cpuMs'] ?? 0) / 1000).toFixed(1)),
      benchGcPauseSeconds: Number((benchGc.ms / 1000).toFixed(1)),
      benchLongestGcPauseMs: Math.round(benchGc.longestMs),
      benchGcPausesOver1s: benchGc.over1s,
      simulatorAndControlPlaneCpuSeconds: Number(((benchCpu.user + benchCpu.system) / 1e6).toFixed(1)),
      cpuMsPer1000Entities: entities > 0 ? Number((((stats['cpuMs'] ?? 0) * 1000) / entities).toFixed(1)) : null,
      peakRssMb: rss,
      benchPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      ...(metricsEvery > 0 && { heapUsedMbMax, metricsRssMbMax }),
      ...(snapshotDir && { heapSnapshots: snapshotDir }),
      mallocArenaMax: mallocArenaMax || 'default',
      ...(extraNodeOptions && { nodeOptions: extraNodeOptions }),
      ...(nodeArgs.length > 0 && { nodeArgs: nodeArgs.join(' ') }),
      ...(connectorCpu >= 0 && { connectorCpu }),
      ...(Object.keys(extraEnv).length > 0 && { env: extraEnv }),
      missing,
      ...(missing > 0 && { missingByKind, missingSample }),
      extra,
      ...(extra > 0 && { extraByKind, extraSample }),
      duplicated,
      failedUnits: stats['failedUnits'],
      ...(Number(stats['failedUnits']) > 0 && { errorsSample: ((result.output as { errors?: unknown[] } | undefined)?.errors ?? []).slice(0, 3) }),
      ...(delta && { delta }),
      machine: { cpus: cpus().length, memGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    }),
  );
  if (result.status !== 'succeeded') process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
