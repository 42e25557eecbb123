// Reliability: AWS misbehaving under the connector. A throttling storm (most calls answered
// with the service's throttling error for a while) during a sync and a burst of grants, and
// credentials that AWS stops honouring in the middle of a sync. Real connector process,
// reference control plane, AWS simulator with its fault injection (docs/simulator.md).
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Entity, JobResultFrame } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { percentile, report, size } from './report.js';

const TABLE = 'access-connector-ledger';
/** Simulator time scale; the connector's rate limiter is told the same (AWS_QUOTA_MULTIPLIER). */
const K = 10;
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  sim.faults.clear();
});

async function rig() {
  const cp = await ReferenceControlPlane.start({ tokens: ['storm-token'] });
  cleanup.push(() => cp.close());
  const c = new ConnectorProcess({
    ...connectorEnv(cp.url, { CONNECTOR_TOKEN: 'storm-token', LEDGER_TABLE: TABLE, MAX_CONCURRENT_JOBS: '16', AWS_QUOTA_MULTIPLIER: String(K), LOG_LEVEL: 'info' }),
    ...sim.env,
  });
  cleanup.push(() => c.stop());
  await cp.waitForSession(15_000);
  return { cp, c };
}

/**
 * Sends every job, keeping at most `inFlight` unanswered, and sends a job again (same jobId)
 * when the connector answers `busy`. Resolves with each job's result, in order.
 */
async function runAll(cp: ReferenceControlPlane, jobs: Array<Parameters<ReferenceControlPlane['sendJob']>[0]>, inFlight: number, timeoutMs: number): Promise<JobResultFrame[]> {
  const results: JobResultFrame[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const { jobId } = cp.sendJob(jobs[i]!);
      for (;;) {
        // sendJob clears `rejected` when the same jobId is sent again.
        await cp.waitFor(() => !!(cp.job(jobId)?.result ?? cp.job(jobId)?.rejected), timeoutMs);
        const job = cp.job(jobId)!;
        if (job.result) break;
        if (job.rejected!.reason !== 'busy') throw new Error(`job ${i} rejected: ${job.rejected!.message}`);
        // A busy answer is not stored by the connector: the same jobId may be sent again.
        await new Promise((r) => setTimeout(r, 200));
        cp.sendJob({ ...jobs[i]!, jobId });
      }
      results[i] = cp.job(jobId)!.result!;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return results;
}

function entitiesOf(cp: ReferenceControlPlane, jobId: string): string[] {
  const es = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId).flatMap((f) => f.frame!['entities'] as Entity[]);
  return canonicalRefs(es.map((e) => ({ kind: e.kind as never, id: e.id })));
}
const truthOf = (sim: AwsSimulator, resourceTypes: string[]) => canonicalRefs(sim.groundTruth({ type: 'aws-organization', resourceTypes } as never).entities);
const counter = (sim: AwsSimulator, op: string) => sim.stats.snapshot().byOperation[op] ?? { calls: 0, throttled: 0, errors: 0 };

const integrationFor = (sim: AwsSimulator) => ({
  id: 'int-storm', name: 'generated', type: 'aws-organization' as const, region: 'us-east-1', ssoRegion: 'us-east-1',
  roleArn: `arn:aws:iam::${sim.world.organization!.managementAccountId}:role/${sim.world.connector.managementRoleName}`,
  externalId: sim.world.connector.externalId, memberRoleName: sim.world.connector.memberRoleName, resourceTypes: ['sso' as const, 'iam' as const],
});

let sim: AwsSimulator;
beforeAll(async () => {
  sim = await startAwsSimulator({ world: { generate: { seed: 8, accounts: size(8, 100), rolesPerAccount: size(10, 20) } }, quotas: true, timeScale: K, latencyMs: 20 });
  // The ledger table, in the connector's own account, as the templates create it.
  const ddb = new DynamoDBClient(sim.clientConfig());
  await ddb.send(new CreateTableCommand({
    TableName: TABLE, BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
  }));
  ddb.destroy();
});
afterAll(() => sim.close());

describe('AWS storms', () => {
  test('a throttling storm during a sync and a burst of grants: no job fails, every grant makes exactly one assignment', async () => {
    const grants = size(8, 100);
    // Grants sent at once (the connector runs 16 and queues 16): the first ones all meet the storm.
    const inFlight = Math.min(grants, 24);
    const stormMs = size(3_000, 90_000);
    const { cp } = await rig();
    const sso = sim.world.sso!;
    const users = [...sso.users.values()].map((u) => ({ id: u.UserId, name: u.UserName }));
    const sets = [...sso.permissionSets.values()].map((p) => p.arn);
    const accounts = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== sim.world.organization!.managementAccountId).map((a) => a.id);
    // Distinct (user, permission set, account) triples no one holds yet.
    const wanted: Array<{ grantId: string; user: { id: string; name: string }; ps: string; account: string }> = [];
    for (let i = 0; wanted.length < grants; i++) {
      const user = users[i % users.length]!;
      const ps = sets[i % sets.length]!;
      const account = accounts[i % accounts.length]!;
      if (sim.admin.hasAssignment({ accountId: account, permissionSetArn: ps, principalType: 'USER', principalId: user.id })) continue;
      wanted.push({ grantId: `storm-${i}`, user, ps, account });
    }
    const assignmentsBefore = sim.admin.listAssignments().length;
    const truthBefore = truthOf(sim, ['sso', 'iam']);
    const integration = integrationFor(sim);
    // The storm starts once the sync is under way (its first role sessions assumed).
    const sync = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'full' } });
    await cp.waitFor(() => (cp.job(sync.jobId)?.batches.size ?? 0) >= 1, 60_000);
    sim.stats.reset();
    const t0 = Date.now();
    sim.faults.throttleStorm({ fraction: 0.9, durationMs: stormMs });
    let inStorm = sim.stats.snapshot().total;
    const stormEnd = setTimeout(() => (inStorm = sim.stats.snapshot().total), stormMs);
    const results = await runAll(cp, wanted.map((w) => ({
      jobType: 'grant', integration,
      params: { grantId: w.grantId, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: w.user.id, userName: w.user.name }, target: { accountId: w.account, permissionSetArn: w.ps } },
    })), inFlight, 300_000);
    const syncResult = await cp.waitForResult(sync.jobId, 300_000);
    const elapsedMs = Date.now() - t0;
    clearTimeout(stormEnd);

    const stats = sim.stats.snapshot();
    const creates = counter(sim, 'sso-admin:CreateAccountAssignment');
    const createOk = creates.calls - creates.throttled - creates.errors;
    const failed = results.filter((r) => r.status !== 'succeeded');
    const statOf = (r: JobResultFrame, k: string) => Number((r.stats as Record<string, unknown>)[k] ?? 0);
    const durations = results.map((r) => statOf(r, 'durationMs'));
    const hit = results.filter((r) => statOf(r, 'awsThrottles') > 0).length;
    report('aws-throttle-storm', {
      grants, stormMs, stormFraction: 0.9, elapsedMs,
      awsCalls: stats.total.calls, awsThrottled: stats.total.throttled, callsInStorm: inStorm.calls, throttledInStorm: inStorm.throttled,
      grantsThrottled: hit, syncThrottles: statOf(syncResult, 'awsThrottles'),
      grantsFailed: failed.length, syncStatus: syncResult.status,
      createAssignmentOk: createOk, createAssignmentThrottled: creates.throttled,
      grantMsP50: percentile(durations, 50), grantMsP99: percentile(durations, 99),
    });

    // The storm reached the jobs: grants sent during it, and the sync, were throttled.
    expect(hit).toBeGreaterThanOrEqual(inFlight / 4);
    expect(statOf(syncResult, 'awsThrottles')).toBeGreaterThan(0);
    expect(failed.map((r) => r.error)).toEqual([]);
    expect(syncResult.status).toBe('succeeded');
    expect((syncResult.output as { errors: unknown[] }).errors).toEqual([]);
    // The sync ran beside the grants: it holds everything there was before them, and
    // nothing that was never there (the new assignments it may or may not have seen).
    const seen = entitiesOf(cp, sync.jobId);
    expect(truthBefore.filter((e) => !seen.includes(e))).toEqual([]);
    const after = new Set(truthOf(sim, ['sso', 'iam']));
    expect(seen.filter((e) => !after.has(e))).toEqual([]);
    // Exactly one assignment per grant, made by exactly one successful create.
    for (const w of wanted) expect(sim.admin.listAssignments({ accountId: w.account, permissionSetArn: w.ps, principalId: w.user.id })).toHaveLength(1);
    expect(sim.admin.listAssignments().length - assignmentsBefore).toBe(grants);
    expect(createOk).toBe(grants);
  }, 600_000);

  test('credentials AWS stops honouring in the middle of a sync are replaced: the sync delivers every entity of the ground truth', async () => {
    const revocations = size(4, 12);
    const capSeconds = 3;
    const { cp } = await rig();
    const truth = truthOf(sim, ['sso', 'iam']);
    sim.stats.reset();
    // One IAM read is held until AWS has cut the sessions twice: the sync cannot have ended
    // before then however fast this machine runs it (the held call then goes on, and the
    // unit's next calls meet credentials that no longer work).
    const held = sim.faults.gate({ service: 'iam', operation: 'GetAccountAuthorizationDetails' });
    let heldReached = false;
    void held.reached.then(() => (heldReached = true));
    const t0 = Date.now();
    const { jobId } = cp.sendJob({ jobType: 'sync', integration: integrationFor(sim), params: { mode: 'full' } });
    await cp.waitFor(() => (cp.job(jobId)?.batches.size ?? 0) >= 1, 60_000);
    // Sessions issued so far die within a few seconds, and new ones live no longer.
    sim.faults.expireSessionsAfter(capSeconds);
    // And at random moments AWS revokes every session at once.
    const cut: number[] = [];
    try {
      while (!cp.job(jobId)!.result && cut.length < revocations) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
        cut.push(sim.faults.expireSessionsNow());
        if (cut.length === 2) held.release();
      }
    } finally {
      held.release();
    }
    const result = await cp.waitForResult(jobId, 300_000);
    const stats = sim.stats.snapshot();
    report('aws-credentials-expiring', {
      entities: truth.length, sessionCapSeconds: capSeconds, cuts: cut.length, durationMs: Date.now() - t0,
      assumeRoleCalls: (stats.byOperation['sts:AssumeRole']?.calls ?? 0), refusedCalls: stats.total.errors, awsCalls: stats.total.calls, status: result.status,
    });
    // The sync was still running when AWS cut its credentials at least twice.
    expect(heldReached).toBe(true);
    expect(cut.length).toBeGreaterThanOrEqual(2);
    expect(result.status).toBe('succeeded');
    expect((result.output as { errors: unknown[] }).errors).toEqual([]);
    expect(entitiesOf(cp, jobId)).toEqual(truth);
  }, 600_000);
});
