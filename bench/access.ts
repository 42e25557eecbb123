// npm run bench:access — N concurrent sso.accountAssignment grants, then their N revokes, through
// the real runner (runGrant / runRevoke), AWS layer and ledger, against the simulator's demo
// organization with AWS quotas on, 30 ms per call and Identity Center's asynchronous
// assignments, all time-scaled by k. Prints one JSON line of figures on stdout (progress on
// stderr); asserts nothing about time. Exit code 1 when a job failed or the simulator does not
// hold exactly the granted assignments after the grants and none of them after the revokes.
//
//   node dist/bench/access.js [--grants 100] [--latency-ms 30] [--time-scale 4] [--share 0.5]
//                             [--assignment-delay-ms 2000] [--json] [--no-image-node-args]
//
// The runner runs in this process, so the bench runs itself again under the image's node
// flags and MALLOC_ARENA_MAX (bench/image-settings.ts) unless --no-image-node-args: grants
// are timed as the image runs them. The simulator, in the same process, gets them too.
//
// Floor of a phase (the least time AWS itself allows, see docs/performance.md):
//   max( ceil(ops ÷ maxOutstanding) × assignmentDelay ÷ k ,  max over quota buckets of calls ÷ (rate × share × k) )
// with the fewest calls the phase needs (FEWEST), not the calls the connector made.
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { Ledger } from '../src/access/ledger.js';
import { accessParamsSchema } from '../src/access/params.js';
import { runGrant, runRevoke, type AccessDeps } from '../src/access/run-access.js';
import type { AccessOutput, AccessRequest } from '../src/access/types.js';
import { newAwsCallStats, runInAwsScope, type AwsCallStats, type AwsMetricsSink } from '../src/aws/clients.js';
import { AwsRuntime } from '../src/aws/runtime.js';
import { createLogger } from '../src/log.js';
import { integrationSchema } from '../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator, type StatsSnapshot } from '../test/sim/aws/index.js';
import type { Family } from '../test/sim/aws/quotas.js';
import { demoIntegration } from '../test/sim/aws/worlds/demo.js';
import type { Assignment, AssignmentOp } from '../test/sim/aws/world.js';
import { testConfig } from '../test/helpers/config.js';
import { declaredActions } from '../src/permissions.js';
import { IMAGE_MALLOC_ARENA_MAX, benchNodeArgs } from './image-settings.js';

const USAGE = 'usage: node dist/bench/access.js [--grants 100] [--latency-ms 30] [--time-scale 4] [--share 0.5] [--assignment-delay-ms 2000] [--json] [--no-image-node-args]';

function arg(name: string, def: number, ok: (v: number) => boolean): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || !ok(v)) {
    process.stderr.write(`bench:access: --${name} ${process.argv[i + 1] ?? ''} is out of range\n${USAGE}\n`);
    process.exit(2);
  }
  return v;
}

const grants = arg('grants', 100, (v) => Number.isInteger(v) && v >= 1);
const latencyMs = arg('latency-ms', 30, (v) => v >= 0);
/**
 * k. The connector's status polls (250 ms doubling to 2 s) are real time, not scaled, so a
 * large k makes them long next to the scaled assignment delay; 4 keeps a 100-grant run
 * under a minute with the delay (500 ms) still above the first poll. At least 1:
 * AWS_QUOTA_MULTIPLIER cannot go below.
 */
const k = arg('time-scale', 4, (v) => v >= 1 && v <= 1000);
const share = arg('share', 0.5, (v) => v >= 0.05 && v <= 1);
const assignmentDelayMs = arg('assignment-delay-ms', 2000, (v) => v >= 0);
const jsonOnly = process.argv.includes('--json');
const MAX_OUTSTANDING = 10;

const progress = (msg: string) => {
  if (!jsonOnly) process.stderr.write(`bench:access: ${msg}\n`);
};
/** Epoch milliseconds with sub-millisecond precision (the simulator stamps operations with Date.now()). */
const nowMs = () => performance.timeOrigin + performance.now();

// ---- Per-job timing: every AWS call and every wait for a client-side rate-limit token ----

type Interval = [number, number];
interface Call { service: string; operation: string; outcome: string; start: number; end: number }
interface Trace {
  start: number;
  end: number;
  calls: Call[];
  /** Waits for a token of the connector's own rate limiter (the quota share). */
  tokenWaits: Interval[];
  stats: AwsCallStats;
}
const traces = new AsyncLocalStorage<Trace>();

/** The AWS layer reports each attempt's duration (after its rate-limit token) to this sink. */
const metrics: AwsMetricsSink = {
  call(service, operation, outcome, seconds) {
    const t = traces.getStore();
    if (!t) return;
    const end = nowMs();
    t.calls.push({ service, operation, outcome, start: end - seconds * 1000, end });
  },
};

/** Records token waits of the shared limiter per job. Timing only: the wait itself is unchanged. */
function timeTokenWaits(aws: AwsRuntime): void {
  const limiter = aws.clients.limiter;
  const acquire = limiter.acquire.bind(limiter);
  limiter.acquire = async (key, rate, signal) => {
    const t = traces.getStore();
    const start = nowMs();
    await acquire(key, rate, signal);
    t?.tokenWaits.push([start, nowMs()]);
  };
}

/** Total length of the union of `ivs`, clipped to [lo, hi]. */
function covered(ivs: Interval[], lo: number, hi: number): number {
  const s = ivs.map(([a, b]): Interval => [Math.max(a, lo), Math.min(b, hi)]).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let cur: Interval | undefined;
  for (const iv of s) {
    if (!cur || iv[0] > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [iv[0], iv[1]];
    } else cur[1] = Math.max(cur[1], iv[1]);
  }
  return total + (cur ? cur[1] - cur[0] : 0);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : 0);
function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const ms = (x: number) => Math.round(x);
const sec = (x: number, d = 2) => Number(x.toFixed(d));

/**
 * Where one job's time went. Waiting on AWS: calls in flight, token waits (the quota share),
 * the wait for an outstanding-operation slot (the gap right before the job's create/delete
 * asks for its token: nothing else runs there), and the time AWS reported the job's
 * assignment operation IN_PROGRESS. Everything else is connector overhead; pollLagMs, the
 * part of it between AWS finishing the operation and the connector's next status poll, is
 * also shown on its own.
 */
function breakdown(t: Trace, op: AssignmentOp | undefined, mutating: string) {
  const callIvs = t.calls.map((c): Interval => [c.start, c.end]);
  const tokenBefore = (c: Call): Interval | undefined =>
    t.tokenWaits.filter(([, e]) => e <= c.start + 0.5).sort((x, y) => y[1] - x[1])[0];
  let slot: Interval | undefined;
  const first = t.calls.find((c) => c.operation === mutating);
  const token = first && tokenBefore(first);
  if (first && token) {
    // The ledger lock's renewal (its only UpdateItem) runs on a timer beside the job, not on its path.
    const onPath = t.calls.filter((c) => c.operation !== 'UpdateItem' && c.end <= token[0] + 0.5);
    const prev = Math.max(t.start, ...onPath.map((c) => c.end));
    if (token[0] > prev) slot = [prev, token[0]];
  }
  let pollLag = 0;
  const polls = t.calls.filter((c) => c.operation.startsWith('DescribeAccountAssignment'));
  const last = polls[polls.length - 1];
  if (op && last) {
    const asked = tokenBefore(last)?.[0] ?? last.start;
    pollLag = Math.max(0, asked - op.completesAt);
  }
  const async: Interval[] = op ? [[op.created, op.completesAt]] : [];
  const wall = t.end - t.start;
  const waiting = covered([...callIvs, ...t.tokenWaits, ...(slot ? [slot] : []), ...async], t.start, t.end);
  return {
    wall,
    awsCalls: covered(callIvs, t.start, t.end),
    ledgerCalls: covered(t.calls.filter((c) => c.service === 'DynamoDB').map((c): Interval => [c.start, c.end]), t.start, t.end),
    tokenWait: covered(t.tokenWaits, t.start, t.end),
    slotWait: slot ? slot[1] - slot[0] : 0,
    awsInProgress: op ? op.completesAt - op.created : 0,
    overhead: Math.max(0, wall - waiting),
    pollLag,
  };
}

// ---- The floor ----

interface Bucket { bucket: string; calls: number; ratePerSecond: number; seconds: number }

/**
 * The fewest calls each phase needs (docs/performance.md, "Floor"): per job, per process
 * (the first phase pays them) and per distinct permission set (its facts, read once).
 */
const FEWEST = {
  grant: {
    perJob: ['sso-admin:ListAccountAssignments', 'sso-admin:CreateAccountAssignment', 'sso-admin:DescribeAccountAssignmentCreationStatus'],
    perProcess: ['sso-admin:ListInstances', 'organizations:DescribeOrganization'],
    perPermissionSet: ['sso-admin:DescribePermissionSet', 'sso-admin:ListManagedPoliciesInPermissionSet', 'sso-admin:ListCustomerManagedPolicyReferencesInPermissionSet'],
  },
  revoke: {
    perJob: ['sso-admin:DeleteAccountAssignment', 'sso-admin:DescribeAccountAssignmentDeletionStatus'],
    perProcess: [] as string[],
    perPermissionSet: [] as string[],
  },
};

function floorOf(sim: AwsSimulator, snap: StatsSnapshot, phase: 'grant' | 'revoke', ops: number, permissionSets: number) {
  const familyOf = (key: string): Family => {
    const [service, op] = key.split(':') as [string, string];
    return sim.runtime.services.find((s) => s.name === service)!.family(op);
  };
  // Every call of the floor goes to the management account, in us-east-1.
  const mgmt = sim.world.organization!.managementAccountId;
  const f = FEWEST[phase];
  const perBucket = new Map<string, { family: Family; calls: number }>();
  const add = (ops2: readonly string[], times: number) => {
    for (const key of ops2) {
      const family = familyOf(key);
      const b = perBucket.get(`${mgmt}|${family}`) ?? { family, calls: 0 };
      b.calls += times;
      perBucket.set(`${mgmt}|${family}`, b);
    }
  };
  add(f.perJob, ops);
  add(f.perProcess, 1);
  add(f.perPermissionSet, permissionSets);
  const buckets: Bucket[] = [...perBucket].map(([bucket, b]) => {
    const ratePerSecond = sim.runtime.quotas.rates[b.family] * share * k;
    return { bucket, calls: b.calls, ratePerSecond, seconds: b.calls / ratePerSecond };
  }).sort((x, y) => y.seconds - x.seconds);
  // What the connector really sent to the same buckets, beside the floor's calls.
  const made: Record<string, number> = {};
  for (const [key, c] of Object.entries(snap.byOperation)) {
    const bucket = `${mgmt}|${familyOf(key)}`;
    if (perBucket.has(bucket)) made[bucket] = (made[bucket] ?? 0) + c.calls - c.throttled;
  }
  const maxOutstanding = sim.runtime.options.sso?.maxOutstanding ?? 10;
  const outstandingSeconds = Math.ceil(ops / maxOutstanding) * (assignmentDelayMs / k / 1000);
  const tpsSeconds = buckets[0]?.seconds ?? 0;
  return {
    floorSeconds: Math.max(outstandingSeconds, tpsSeconds),
    outstandingSeconds: sec(outstandingSeconds),
    tpsSeconds: sec(tpsSeconds),
    bound: outstandingSeconds >= tpsSeconds ? 'outstanding-operations' : `tps:${buckets[0]!.bucket}`,
    buckets: buckets.map((b) => ({ ...b, callsMade: made[b.bucket] ?? 0, ratePerSecond: sec(b.ratePerSecond, 1), seconds: sec(b.seconds) })),
  };
}

// ---- Main ----

async function main(): Promise<void> {
  const sim = await startAwsSimulator({ world: 'demo', quotas: true, latencyMs, timeScale: k, sso: { assignmentDelayMs, maxOutstanding: MAX_OUTSTANDING } });
  Object.assign(process.env, { AWS_EC2_METADATA_DISABLED: 'true' }, sim.env);
  const config = testConfig({
    CONNECTOR_ID: 'bench',
    AWS_QUOTA_SHARE: String(share),
    AWS_QUOTA_MULTIPLIER: String(k),
    LEDGER_TABLE: 'access-connector-ledger',
    AWS_REGION: 'us-east-1',
    SSO_MAX_OUTSTANDING_ASSIGNMENTS: String(MAX_OUTSTANDING),
  });
  const log = createLogger({ level: 'warn', destination: process.stderr });
  const aws = new AwsRuntime({ declaredActions: declaredActions(), connectorId: config.connectorId, log, quotaShare: config.awsQuotaShare, quotaMultiplier: config.awsQuotaMultiplier, metrics });
  timeTokenWaits(aws);
  const integration = integrationSchema.parse(demoIntegration());
  const ledger = await Ledger.fromConfig(aws, config, integration);
  const deps: AccessDeps = { aws, ledger, config, log };

  // N distinct user × permission set × member account assignments that do not exist yet.
  const sso = sim.world.sso!;
  const mgmt = sim.world.organization!.managementAccountId;
  const accounts = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== mgmt).map((a) => a.id);
  const requests: AccessRequest[] = [];
  const wanted: Assignment[] = [];
  outer: for (const accountId of accounts) {
    for (const ps of sso.permissionSets.values()) {
      for (const u of sso.users.values()) {
        const a: Assignment = { accountId, permissionSetArn: ps.arn, principalType: 'USER', principalId: u.UserId };
        if (sim.admin.hasAssignment(a)) continue;
        if (requests.length >= grants) break outer;
        wanted.push(a);
        requests.push(accessParamsSchema.parse({
          grantId: `bench-${requests.length}`, accessKind: 'sso.accountAssignment',
          principal: { type: 'user', id: u.UserId, userName: u.UserName }, target: { accountId, permissionSetArn: ps.arn },
        }));
      }
    }
  }
  if (requests.length < grants) throw new Error(`the demo organization has room for ${requests.length} new assignments; ask for fewer --grants`);
  const assignmentsBefore = sim.admin.listAssignments().length;
  const held = () => wanted.filter((a) => sim.admin.hasAssignment(a)).length;

  async function phase(name: 'grant' | 'revoke') {
    sim.stats.reset();
    const opsBefore = new Set((sim.admin.listAssignmentOperations() as AssignmentOp[]).map((o) => o.requestId));
    const cpu0 = process.cpuUsage();
    const jobTraces: Trace[] = [];
    const outputs: Array<AccessOutput | undefined> = [];
    const errors: string[] = [];
    let done = 0;
    const ticker = setInterval(() => progress(`${name}: ${done}/${requests.length} done`), 2000);
    const t0 = nowMs();
    await Promise.all(requests.map(async (request, i) => {
      const trace: Trace = { start: nowMs(), end: 0, calls: [], tokenWaits: [], stats: newAwsCallStats() };
      jobTraces[i] = trace;
      const signal = new AbortController().signal;
      const job = { jobId: `bench-${name}-${i}`, integration, request, signal, log };
      try {
        // As the dispatcher runs a job (src/jobs/execute.ts): calls counted in its own scope.
        outputs[i] = await traces.run(trace, () => runInAwsScope({ signal, stats: trace.stats }, () =>
          name === 'grant' ? runGrant(deps, job) : runRevoke(deps, { ...job, origin: 'job' })));
      } catch (err) {
        errors.push(`${request.grantId}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        trace.end = nowMs();
        done++;
      }
    }));
    const wall = (nowMs() - t0) / 1000;
    clearInterval(ticker);
    const cpu = process.cpuUsage(cpu0);
    const snap = sim.stats.snapshot();

    // A job that returned but did not do what was asked is a failure too.
    const expected = name === 'grant' ? 'granted' : 'revoked';
    outputs.forEach((o, i) => {
      if (o && (o.state !== expected || o.preExisting || o.note !== undefined)) errors.push(`${requests[i]!.grantId}: ${o.state}, preExisting ${o.preExisting}, note ${o.note ?? '-'}`);
    });

    const kind = name === 'grant' ? 'create' : 'delete';
    const ops = (sim.admin.listAssignmentOperations() as AssignmentOp[]).filter((o) => o.kind === kind && !opsBefore.has(o.requestId));
    const opOf = new Map(ops.map((o) => [`${o.a.permissionSetArn}|${o.a.accountId}|${o.a.principalId}`, o]));
    const mutating = name === 'grant' ? 'CreateAccountAssignment' : 'DeleteAccountAssignment';
    const parts = jobTraces.map((t, i) => breakdown(t, opOf.get(`${wanted[i]!.permissionSetArn}|${wanted[i]!.accountId}|${wanted[i]!.principalId}`), mutating));
    const of = (key: keyof ReturnType<typeof breakdown>) => parts.map((p) => p[key]);
    const floor = floorOf(sim, snap, name, ops.length, new Set(wanted.map((a) => a.permissionSetArn)).size);
    const identityCenterCalls = Object.entries(snap.byOperation).filter(([op]) => op.startsWith('sso-admin:')).reduce((n, [, c]) => n + c.calls, 0);
    const byOperation = Object.fromEntries(Object.entries(snap.byOperation).map(([op, c]) => [op, c.calls]).sort((a, b) => (b[1] as number) - (a[1] as number)));
    return {
      jobs: requests.length,
      failures: errors.length,
      ...(errors.length > 0 && { failureSample: errors.slice(0, 3) }),
      wallSeconds: sec(wall),
      floorSeconds: sec(floor.floorSeconds),
      ratioToFloor: sec(wall / floor.floorSeconds),
      floor: { bound: floor.bound, outstandingSeconds: floor.outstandingSeconds, tpsSeconds: floor.tpsSeconds, operations: ops.length, buckets: floor.buckets },
      jobMs: { p50: ms(pct(of('wall'), 50)), p99: ms(pct(of('wall'), 99)), max: ms(Math.max(...of('wall'))) },
      // Means per job; overhead also as percentiles.
      perJobMs: {
        awsCalls: ms(mean(of('awsCalls'))),
        ledgerCalls: ms(mean(of('ledgerCalls'))),
        tokenWait: ms(mean(of('tokenWait'))),
        slotWait: ms(mean(of('slotWait'))),
        awsInProgress: ms(mean(of('awsInProgress'))),
        overhead: ms(mean(of('overhead'))),
        overheadP50: ms(pct(of('overhead'), 50)),
        overheadP99: ms(pct(of('overhead'), 99)),
        pollLag: ms(mean(of('pollLag'))),
      },
      awsCalls: snap.total.calls,
      callsPerJob: sec(snap.total.calls / requests.length, 1),
      identityCenterCallsPerJob: sec(identityCenterCalls / requests.length),
      byOperation,
      throttles: { simulator: snap.total.throttled, connector: sum(jobTraces.map((t) => t.stats.throttles)) },
      awsErrors: sum(jobTraces.map((t) => t.stats.errors)),
      maxInFlight: snap.maxInFlight,
      cpuSeconds: sec((cpu.user + cpu.system) / 1e6, 1),
    };
  }

  progress(`${grants} grants at k=${k}, ${latencyMs} ms per call, assignment delay ${assignmentDelayMs} ms (÷k), quota share ${share}`);
  const grant = await phase('grant');
  const afterGrants = held();
  progress(`grants: ${grant.wallSeconds} s (floor ${grant.floorSeconds} s, ratio ${grant.ratioToFloor}); ${afterGrants}/${grants} assignments in place`);
  const revoke = await phase('revoke');
  const afterRevokes = held();
  progress(`revokes: ${revoke.wallSeconds} s (floor ${revoke.floorSeconds} s, ratio ${revoke.ratioToFloor}); ${afterRevokes} left`);
  const assignmentsAfter = sim.admin.listAssignments().length;
  aws.destroy();
  await sim.close();

  const wall = grant.wallSeconds + revoke.wallSeconds;
  const floor = grant.floorSeconds + revoke.floorSeconds;
  const verified = afterGrants === grants && afterRevokes === 0 && assignmentsAfter === assignmentsBefore;
  console.log(
    JSON.stringify({
      bench: 'access',
      accessKind: 'sso.accountAssignment',
      grants,
      k,
      latencyMs,
      assignmentDelayMs,
      quotaShare: share,
      maxOutstanding: MAX_OUTSTANDING,
      wallSeconds: sec(wall),
      floorSeconds: sec(floor),
      ratioToFloor: sec(wall / floor),
      identityCenterCallsPerGrant: grant.identityCenterCallsPerJob,
      identityCenterCallsPerRevoke: revoke.identityCenterCallsPerJob,
      failures: grant.failures + revoke.failures,
      throttles: grant.throttles.simulator + revoke.throttles.simulator,
      verified,
      assignments: { before: assignmentsBefore, heldAfterGrants: afterGrants, heldAfterRevokes: afterRevokes, after: assignmentsAfter },
      grant,
      revoke,
      nodeArgs: nodeArgs.join(' '),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    }),
  );
  if (grant.failures + revoke.failures > 0 || !verified) process.exitCode = 1;
}

// Runs itself again under the image's flags unless already under them (or told not to).
const nodeArgs = benchNodeArgs();
if (!nodeArgs.every((a) => process.execArgv.includes(a))) {
  const r = spawnSync(process.execPath, [...nodeArgs, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, MALLOC_ARENA_MAX: process.env['MALLOC_ARENA_MAX'] ?? String(IMAGE_MALLOC_ARENA_MAX) },
  });
  process.exit(r.status ?? 1);
}
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
