// Reliability: the connector stopped at random points of its sync and grant jobs. SIGTERM
// must drain (exit 0 within the grace period, every job reported, a cancelled grant leaving
// AWS as it was); SIGKILL must leave nothing a redelivered job cannot finish (one
// assignment per grant). Real connector processes, the reference control plane's job
// results and the AWS simulator's state.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger } from '../../src/access/ledger.js';
import { runInAwsScope } from '../../src/aws/clients.js';
import type { JobResultFrame } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { percentile, report, size } from './report.js';

const TABLE = 'access-connector-ledger';
const GRACE_SECONDS = 1;
/** Identity Center takes this long to settle an assignment: the window a stop can land in. */
const ASSIGNMENT_MS = 500;
/** A grant's life here, start to settled assignment: where the random stop points fall. */
const SPAN_MS = ASSIGNMENT_MS + 1000;
const LATENCY_MS = 40;
const integration = demoIntegration({ resourceTypes: ['sso', 'iam'] });

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
const procs: ConnectorProcess[] = [];
beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false, latencyMs: LATENCY_MS, sso: { assignmentDelayMs: ASSIGNMENT_MS } });
  cp = await ReferenceControlPlane.start({ tokens: ['sig-token'] });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await cp.close();
  await sim.close();
});

interface Grant { grantId: string; params: Record<string, unknown>; userId: string; accountId: string; ps: string }

/** Grants of distinct (user, permission set, account) triples that nobody holds. */
function grantsToMake(prefix: string, n: number, skip: number): Grant[] {
  const sso = sim.world.sso!;
  const users = [...sso.users.values()];
  const sets = [...sso.permissionSets.values()].map((p) => p.arn);
  const accounts = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== '111111111111').map((a) => a.id);
  const out: Grant[] = [];
  for (let i = skip; out.length < n; i++) {
    const u = users[i % users.length]!;
    const ps = sets[Math.floor(i / users.length) % sets.length]!;
    const accountId = accounts[Math.floor(i / (users.length * sets.length)) % accounts.length]!;
    if (sim.admin.hasAssignment({ accountId, permissionSetArn: ps, principalType: 'USER', principalId: u.UserId })) continue;
    const grantId = `${prefix}-${i}`;
    out.push({ grantId, userId: u.UserId, accountId, ps, params: { grantId, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: u.UserId, userName: u.UserName }, target: { accountId, permissionSetArn: ps } } });
  }
  return out;
}
const assignments = (g: Grant) => sim.admin.listAssignments({ accountId: g.accountId, permissionSetArn: g.ps, principalId: g.userId }).length;
const settled = () => new Promise((r) => setTimeout(r, ASSIGNMENT_MS + 300));

async function start(id: string, extra: Record<string, string> = {}): Promise<ConnectorProcess> {
  const c = new ConnectorProcess({
    ...connectorEnv(cp.url, { CONNECTOR_ID: id, CONNECTOR_TOKEN: 'sig-token', LEDGER_TABLE: TABLE, SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS), MAX_CONCURRENT_JOBS: '8', LOG_LEVEL: 'info',
      // The simulator has no quotas here; the connector's own rate limits need not slow the test.
      AWS_QUOTA_MULTIPLIER: '10', ...extra }),
    ...sim.env,
  });
  procs.push(c);
  const known = new Set(cp.sessions().map((s) => s.sessionId));
  await cp.waitForSession(15_000, (s) => s.connectorId === id && !known.has(s.sessionId));
  return c;
}
const sessionOf = (id: string) => cp.sessions().find((s) => s.connectorId === id)!.sessionId;
const sendGrant = (id: string, g: Grant) => cp.sendJob({ jobType: 'grant', integration, params: g.params }, { sessionId: sessionOf(id) }).jobId;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The ledger's lock items (lease holders are `<connectorId>/<pid>/…`). */
function leases(): Array<Record<string, { S?: string; N?: string }>> {
  const items = sim.world.accounts.get('999999999999')!.dynamodb.get('us-east-1')!.get(TABLE)!.items as Map<string, Record<string, { S?: string; N?: string }>>;
  return [...items.values()].filter((i) => i['pk']?.S?.startsWith('lock#'));
}
/** A dead process's ledger leases, aged past their 2-minute TTL: what waiting that long would do. */
function ageLeases(ownerPrefix: string): number {
  const held = leases().filter((l) => l['owner']?.S?.startsWith(ownerPrefix));
  for (const item of held) item['until'] = { N: '0' };
  return held.length;
}

describe('signals at random points of sync and grant jobs', () => {
  test('SIGTERM: exit 0 within the grace period; each grant reported done with its assignment, or cancelled and retryable with AWS untouched', async () => {
    // Stops = lanes × rounds: connectors stopped side by side, then again.
    const lanes = size(8, 5);
    const rounds = size(1, 10);
    const outcomes: Record<string, number> = {};
    const stopMs: number[] = [];
    const problems: string[] = [];
    let pending: Grant[] = [];
    const every: Grant[] = [];
    let made = 0;
    const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);

    const lane = async (laneNo: number, round: number, todo: Grant[]): Promise<Grant[]> => {
      const id = `sig-${laneNo}`;
      // Most lanes have no grace at all: every running job is cancelled at once.
      const grace = laneNo % 4 === 3 ? GRACE_SECONDS : 0;
      const c = await start(id, { SHUTDOWN_GRACE_SECONDS: String(grace) });
      const sync = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'full' } }, { sessionId: sessionOf(id) });
      const sent = todo.map((g) => ({ g, jobId: sendGrant(id, g) }));
      // One lane (with grace) stops only once its first grant is done, so each round has a
      // grant that ended before its stop however slow the machine is (eight connectors
      // starting at once on two cores can take longer than a grant's life to get going).
      if (laneNo === 3) await cp.waitForResult(sent[0]!.jobId, 60_000);
      // Stratified: lane l stops at a random point of the l-th slice of a grant's life, so
      // the early points (before the first change) are always among them.
      await sleep(((laneNo + Math.random()) * SPAN_MS) / lanes);
      const t0 = Date.now();
      c.signal('SIGTERM');
      const exit = await c.exited;
      stopMs.push(exit.at - t0);
      if (exit.code !== 0) problems.push(`round ${round} lane ${laneNo}: exit code ${exit.code} signal ${exit.signal}`);
      if (exit.at - t0 > grace * 1000 + 15_000) problems.push(`round ${round} lane ${laneNo}: stopped after ${exit.at - t0} ms`);
      // A drained process holds no lease: one left behind would block the retry of its grant.
      const left = leases().filter((l) => l['owner']?.S?.startsWith(`${id}/${c.child.pid}/`));
      if (left.length > 0) problems.push(`round ${round} lane ${laneNo}: left ${left.length} ledger lease(s) behind`);
      const s = cp.job(sync.jobId)!;
      count(`sync:${s.result?.status ?? s.rejected?.reason ?? 'unreported'}`);
      if (!(s.result?.status === 'succeeded' || (s.result?.status === 'cancelled' && s.result.error?.retryable) || s.rejected?.reason === 'draining')) {
        problems.push(`round ${round}: sync ${JSON.stringify(s.result ?? s.rejected)}`);
      }
      // Anything Identity Center was still doing has had time to finish.
      await settled();
      const retry: Grant[] = [];
      for (const { g, jobId } of sent) {
        const job = cp.job(jobId)!;
        const r: JobResultFrame | null = job.result;
        const state = r ? (r.status === 'cancelled' ? `cancelled:${r.error?.code}` : r.status) : job.rejected ? `rejected:${job.rejected.reason}` : 'unreported';
        count(`grant:${state}`);
        const n = assignments(g);
        if (r?.status === 'succeeded' && n === 1) continue;
        // Not done, and said so in a way that invites a retry: AWS must be as before.
        const retryable = (r?.status === 'cancelled' && r.error?.code === 'JOB_CANCELLED' && r.error.retryable) || job.rejected?.reason === 'draining';
        if (!retryable || n !== 0) problems.push(`round ${round} ${g.grantId}: reported ${state}, ${n} assignment(s) in AWS`);
        retry.push(g);
      }
      return retry;
    };

    for (let round = 0; round < rounds; round++) {
      const work = Array.from({ length: lanes }, (_, l) => {
        const fresh = grantsToMake(`term-${round}-${l}`, 3, made);
        every.push(...fresh);
        made += 8; // keep the lanes' triples apart
        const again = pending.splice(0, 1);
        return lane(l, round, [...again, ...fresh]);
      });
      pending = [...pending, ...(await Promise.all(work)).flat()];
    }
    expect(problems).toEqual([]);
    // Every grant left over is retried once more, without a stop: each ends with one assignment.
    const finisher = await start('sig-final');
    const last: JobResultFrame[] = [];
    let k = 0;
    const retryRest = async () => {
      // 8 at a time: the connector's running and queued slots never overflow into `busy`.
      while (k < pending.length) last.push(await cp.waitForResult(sendGrant('sig-final', pending[k++]!), 30_000));
    };
    await Promise.all(Array.from({ length: 8 }, retryRest));
    await finisher.stop();
    await settled();
    report('sigterm-random', {
      stops: rounds * lanes, graceSeconds: [0, GRACE_SECONDS], grants: every.length, outcomes,
      stopMsP50: percentile(stopMs, 50), stopMsMax: Math.max(...stopMs), retriedAfterStop: pending.length,
    });
    expect(last.filter((r) => r.status !== 'succeeded')).toEqual([]);
    expect(every.filter((g) => assignments(g) !== 1).map((g) => g.grantId)).toEqual([]);
    expect(outcomes['grant:cancelled:JOB_CANCELLED'] ?? 0).toBeGreaterThan(0);
    expect(outcomes['grant:succeeded'] ?? 0).toBeGreaterThan(0);
  }, 900_000);

  test('SIGKILL: a redelivered job (new jobId, same grantId) leaves exactly one assignment per grant', async () => {
    const lanes = 2;
    const rounds = size(1, 5);
    const perKill = 4;
    const creates0 = sim.stats.snapshot().byOperation['sso-admin:CreateAccountAssignment'];
    const states: Record<string, number> = {};
    const redeliveryMs: number[] = [];
    let aged = 0;
    let resent = 0;
    const grants: Grant[] = [];
    const kill = async (k: number, realWait: boolean) => {
      const id = `kill-${k}`;
      const todo = grantsToMake(`kill-${k}`, perKill, 500 + k * perKill * 2);
      grants.push(...todo);
      const c = await start(id);
      const first = todo.map((g) => sendGrant(id, g));
      await sleep((((k % lanes) + Math.random()) * SPAN_MS) / lanes);
      c.signal('SIGKILL');
      await c.exited;
      for (const jobId of first) {
        const r = cp.job(jobId)!.result;
        states[r ? r.status : 'unreported'] = (states[r ? r.status : 'unreported'] ?? 0) + 1;
      }
      if (!realWait) aged += ageLeases(`${id}/${c.child.pid}/`);
      // The same connector comes back; the control plane redelivers what had no result
      // (same jobId) and sends every grant again as a new job (new jobId, same grantId).
      // A retryable failure is sent again, as a control plane would.
      await start(id);
      const t0 = Date.now();
      const results = await Promise.all(todo.map(async (g) => {
        for (;;) {
          const r = await cp.waitForResult(sendGrant(id, g), 200_000);
          if (r.status === 'succeeded' || !r.error?.retryable) return r;
          resent++;
        }
      }));
      redeliveryMs.push(Date.now() - t0);
      return results.filter((r) => r.status !== 'succeeded');
    };
    for (let round = 0; round < rounds; round++) {
      // The last round of a long run waits out the dead processes' leases for real.
      const realWait = size(false, round === rounds - 1);
      const failed = await Promise.all(Array.from({ length: lanes }, (_, l) => kill(round * lanes + l, realWait)));
      expect(failed.flat()).toEqual([]);
    }
    await settled();
    const c = sim.stats.snapshot().byOperation['sso-admin:CreateAccountAssignment']!;
    report('sigkill-redelivery', {
      kills: lanes * rounds, grants: grants.length, firstDeliveryStates: states, agedLeases: aged, retryableFailuresResent: resent,
      createAssignmentOk: c.calls - c.throttled - c.errors - ((creates0?.calls ?? 0) - (creates0?.throttled ?? 0) - (creates0?.errors ?? 0)),
      redeliveryMsP50: percentile(redeliveryMs, 50), redeliveryMsMax: Math.max(...redeliveryMs),
    });
    expect(grants.map((g) => [g.grantId, assignments(g)])).toEqual(grants.map((g) => [g.grantId, 1]));
  }, 900_000);

  // Regression: the lease write was cancellable, so a cancel landing while it was in flight
  // left a lease DynamoDB had stored and nobody released; the grant's retry then waited
  // 90 s and failed LEDGER_BUSY. The same moment, hit on purpose.
  test('a cancel landing while a ledger lease is being written leaves no lease behind', async () => {
    const restore = useAwsEnv(sim.env);
    sim.faults.setLatency(300, 'dynamodb');
    try {
      const layer = awsLayer({});
      const client = layer.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: layer.broker.base() });
      const ledger = new Ledger({ client, table: TABLE, owner: 'cancel-check' });
      const ac = new AbortController();
      setTimeout(() => ac.abort(new DOMException('cancelled', 'AbortError')), 100);
      const held = runInAwsScope({ signal: ac.signal }, () => ledger.withLock('cancel-check', async () => ac.signal.throwIfAborted(), ac.signal));
      await expect(held).rejects.toMatchObject({ name: 'AbortError' });
      expect(leases().filter((l) => l['owner']?.S?.startsWith('cancel-check/'))).toEqual([]);
    } finally {
      sim.faults.setLatency(LATENCY_MS, 'dynamodb');
      destroyAwsLayers();
      restore();
    }
  });
});
