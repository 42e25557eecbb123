// npm run bench:sync — a full sync of the simulator's generated organization through the
// real connector process and the reference control plane, with AWS quotas on and 30 ms
// per call, time-scaled by k. Prints one JSON line of figures; asserts nothing.
//
//   node dist/bench/sync.js [--accounts 1000] [--seed 1] [--k 10] [--latency-ms 30] [--share 0.5]
//                           [--delta-changes 20]
// --delta-changes N: after the full sync, N IAM changes in N accounts appear in CloudTrail
// and a delta sync runs; its wall time and AWS calls are reported as fractions of the full's.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ReferenceControlPlane } from '../test/sim/control-plane/server.js';
import { startAwsSimulator } from '../test/sim/aws/index.js';
import { canonicalRefs } from '../test/sim/aws/entity-ids.js';
import { ConnectorProcess } from '../test/helpers/process.js';
import { MAIN_JS } from '../test/helpers/paths.js';

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
  const settings = { type: 'aws-organization' as const, enableAudit: true };
  const truth = sim.groundTruth(settings);
  // The resources source reads the management account's organization view.
  const floor = sim.floor(settings, { quotaShare: share, timeScale: k, latencyMs, resourcesVia: 'management-view' });

  const cp = await ReferenceControlPlane.start({ window: 16 });
  const connector = new ConnectorProcess(
    {
      CONNECTOR_ID: 'bench',
      CONTROL_PLANE_URL: cp.url,
      ALLOW_INSECURE_CONTROL_PLANE: 'true',
      CONNECTOR_TOKEN: 'test-token',
      LOG_LEVEL: 'warn',
      AWS_QUOTA_SHARE: String(share),
      AWS_QUOTA_MULTIPLIER: String(k),
      ...(heapMb > 0 && { NODE_OPTIONS: `--max-old-space-size=${heapMb} --max-semi-space-size=4` }),
      ...sim.env,
    },
    { entry: MAIN_JS },
  );
  await cp.waitForSession(15_000);
  sim.stats.reset();
  const t0 = Date.now();
  const { jobId } = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'full' } });
  // A connector that dies (out of memory under --heap-mb, say) ends the run with its reason.
  const died = connector.exited.then((e) => {
    throw new Error(`connector exited (code ${e.code}, signal ${e.signal}) before the result:\n${connector.output().split('\n').slice(-15).join('\n')}`);
  });
  const result = await Promise.race([cp.waitForResult(jobId, 30 * 60_000), died]);
  const wallSeconds = (Date.now() - t0) / 1000;
  const rss = peakRssMb(connector.child.pid!);
  const simStats = sim.stats.snapshot();

  let delta: Record<string, unknown> | undefined;
  if (deltaChanges > 0) {
    // One IAM change in each of N member accounts, as CloudTrail logs it: N iam units change.
    const since = new Date().toISOString();
    const changed = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== mgmt).slice(0, deltaChanges);
    for (const a of changed) sim.admin.addTrailEvent({ accountId: a.id, region: 'us-east-1', eventSource: 'iam.amazonaws.com', eventName: 'TagRole', username: 'bench', resourceName: 'bench-role' });
    sim.stats.reset();
    const t1 = Date.now();
    const d = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'delta', since } });
    const dr = await Promise.race([cp.waitForResult(d.jobId, 30 * 60_000), died]);
    const dWall = (Date.now() - t1) / 1000;
    const dCalls = sim.stats.snapshot().total.calls;
    const coverage = ((dr.output as { coverage?: Array<{ status: string; reason?: string }> } | undefined)?.coverage ?? []);
    delta = {
      status: dr.status,
      changedAccounts: changed.length,
      unitsComplete: coverage.filter((c) => c.status === 'complete').length,
      unitsSkipped: coverage.filter((c) => c.status === 'skipped').length,
      wallSeconds: Number(dWall.toFixed(1)),
      awsCalls: dCalls,
      wallFractionOfFull: Number((dWall / wallSeconds).toFixed(3)),
      callsFractionOfFull: Number((dCalls / simStats.total.calls).toFixed(3)),
    };
  }

  const seen = new Map<string, number>();
  let entities = 0;
  for (const f of cp.unique()) {
    if (f.frame?.['type'] !== 'sync.batch' || f.frame['jobId'] !== jobId) continue;
    for (const e of f.frame['entities'] as Array<{ kind: string; id: string }>) {
      entities++;
      const key = `${e.kind} ${e.id}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  const expected = new Set(canonicalRefs(truth.entities));
  const got = new Set(seen.keys());
  const missingRefs = [...expected].filter((x) => !got.has(x));
  const extraRefs = [...got].filter((x) => !expected.has(x));
  const byKind = (refs: string[]) => refs.reduce<Record<string, number>>((m, r) => ((m[r.split(' ')[0]!] = (m[r.split(' ')[0]!] ?? 0) + 1), m), {});
  const missing = missingRefs.length;
  const extra = extraRefs.length;
  const duplicated = [...seen.values()].filter((n) => n > 1).length;

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
      entities,
      truthEntities: truth.entities.length,
      wallSeconds: Number(wallSeconds.toFixed(1)),
      floorSeconds: Number(floor.floorSeconds.toFixed(1)),
      ratioToFloor: Number((wallSeconds / floor.floorSeconds).toFixed(2)),
      bottleneck: floor.bottleneck?.bucket,
      awsCalls: simStats.total.calls,
      throttles: simStats.total.throttled,
      connectorAwsCalls: stats['awsCalls'],
      cpuSeconds: Number(((stats['cpuMs'] ?? 0) / 1000).toFixed(1)),
      peakRssMb: rss,
      missing,
      ...(missing > 0 && { missingByKind: byKind(missingRefs), missingSample: missingRefs.slice(0, 3) }),
      extra,
      ...(extra > 0 && { extraByKind: byKind(extraRefs), extraSample: extraRefs.slice(0, 3) }),
      duplicated,
      failedUnits: stats['failedUnits'],
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
