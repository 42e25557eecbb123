// npm run bench:memory — what the idle daemon costs: the real connector process against the
// reference control plane and the AWS simulator's demo organization, measured after its
// welcome with no job sent. Prints one JSON line of figures; asserts nothing.
//
//   node dist/bench/memory.js [--idle-s 15] [--runs 3] [--heap-mb 160] [--malloc-arenas 2] [--node-options '...']
//                             [--no-image-node-args] [--node-args '...']
//
// idleRssMb              resident set (VmRSS) --idle-s after the welcome, no LEDGER_TABLE
// idleRssWithSweeperMb   the same with LEDGER_TABLE on the simulator's DynamoDB table: the
//                        sweeper makes its first pass right after start
// startToConnectedMs     from spawning the process to the control plane's welcome
// Each is the median of --runs fresh processes (min and max alongside). The connector runs
// with the image's node flags (bench/image-settings.ts) unless --no-image-node-args, and
// those of --node-args '...' after them.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReferenceControlPlane } from '../test/sim/control-plane/server.js';
import { startAwsSimulator } from '../test/sim/aws/index.js';
import { ConnectorProcess } from '../test/helpers/process.js';
import { MAIN_JS } from '../test/helpers/paths.js';
import { IMAGE_MALLOC_ARENA_MAX, benchNodeArgs } from './image-settings.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`bench:memory: --${name} must be a number ≥ 0\n`);
    process.exit(2);
  }
  return v;
}

const idleS = arg('idle-s', 15);
const runs = Math.max(1, arg('runs', 3));
/** V8 heap cap (MB) as docs/operations.md recommends for a container; 0 = Node's defaults. */
const heapMb = arg('heap-mb', 160);
/** glibc MALLOC_ARENA_MAX for the connector: 2 as the image sets it; 0 = glibc's default (8 arenas per core). */
const mallocArenas = arg('malloc-arenas', IMAGE_MALLOC_ARENA_MAX);
const nodeArgs = benchNodeArgs();
/** More Node or V8 flags for the connector, after the heap settings (so they win). */
const extraNodeOptions = process.argv.includes('--node-options') ? (process.argv[process.argv.indexOf('--node-options') + 1] ?? '') : '';

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

interface Sample {
  rssMb: number;
  peakRssMb: number;
  startToConnectedMs: number;
}

async function once(withLedger: boolean): Promise<Sample> {
  const sim = await startAwsSimulator();
  const cp = await ReferenceControlPlane.start();
  const table = sim.world.connector.ledgerTable;
  const t0 = Date.now();
  const connector = new ConnectorProcess(
    {
      CONNECTOR_ID: 'bench-memory',
      CONTROL_PLANE_URL: cp.url,
      ALLOW_INSECURE_CONTROL_PLANE: 'true',
      CONNECTOR_TOKEN: 'test-token',
      LOG_LEVEL: 'warn',
      ...((heapMb > 0 || extraNodeOptions) && { NODE_OPTIONS: [heapMb > 0 && `--max-old-space-size=${heapMb} --max-semi-space-size=4`, extraNodeOptions].filter(Boolean).join(' ') }),
      ...(mallocArenas > 0 && { MALLOC_ARENA_MAX: String(mallocArenas) }),
      ...sim.env,
      ...(withLedger && table && { LEDGER_TABLE: table.name }),
    },
    { entry: MAIN_JS, nodeArgs },
  );
  try {
    const session = await cp.waitForSession(30_000);
    const startToConnectedMs = session.welcomedAt - t0;
    await sleep(idleS * 1000);
    const pid = connector.child.pid!;
    const sample = { rssMb: statusKb(pid, 'VmRSS') / 1024, peakRssMb: statusKb(pid, 'VmHWM') / 1024, startToConnectedMs };
    if (withLedger && sim.stats.snapshot().total.calls === 0) throw new Error('the sweeper made no DynamoDB call while idle');
    return sample;
  } finally {
    connector.signal('SIGTERM');
    await connector.exited;
    await cp.close();
    await sim.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}
const r1 = (x: number) => Math.round(x * 10) / 10;
const summary = (xs: number[]) => ({ median: r1(median(xs)), min: r1(Math.min(...xs)), max: r1(Math.max(...xs)) });

async function main(): Promise<void> {
  const plain: Sample[] = [];
  const sweeping: Sample[] = [];
  // Alternated, so load from the rest of the machine falls on both alike.
  for (let i = 0; i < runs; i++) {
    plain.push(await once(false));
    sweeping.push(await once(true));
  }
  console.log(
    JSON.stringify({
      bench: 'memory',
      idleSeconds: idleS,
      runs,
      heapMb: heapMb || 'default',
      mallocArenas: mallocArenas || 'default',
      ...(extraNodeOptions && { nodeOptions: extraNodeOptions }),
      ...(nodeArgs.length > 0 && { nodeArgs: nodeArgs.join(' ') }),
      idleRssMb: r1(median(plain.map((s) => s.rssMb))),
      idleRssWithSweeperMb: r1(median(sweeping.map((s) => s.rssMb))),
      startToConnectedMs: Math.round(median([...plain, ...sweeping].map((s) => s.startToConnectedMs))),
      detail: {
        idleRssMb: summary(plain.map((s) => s.rssMb)),
        idlePeakRssMb: summary(plain.map((s) => s.peakRssMb)),
        idleRssWithSweeperMb: summary(sweeping.map((s) => s.rssMb)),
        peakRssWithSweeperMb: summary(sweeping.map((s) => s.peakRssMb)),
        startToConnectedMs: summary([...plain, ...sweeping].map((s) => s.startToConnectedMs)),
      },
      machine: { cpus: cpus().length, memGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
