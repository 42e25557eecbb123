// Reliability: grants whose expiry falls while the connector is down and its control plane
// unreachable. The connector is killed with expiries pending, then started again pointing
// at a closed port: its own sweeper must revoke every expired grant within one sweep
// interval of its expiry. The lag is measured per grant on the simulator's state.
import { createServer } from 'node:net';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { percentile, report, size } from './report.js';

const TABLE = 'access-connector-ledger';
/** GRANT_SWEEP_INTERVAL_SECONDS at its minimum. */
const SWEEP_SECONDS = 10;
const K = 10;

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
const procs: ConnectorProcess[] = [];
beforeAll(async () => {
  // AWS at ten times its speed and quotas; the connector told so (AWS_QUOTA_MULTIPLIER).
  sim = await startAwsSimulator({ world: 'demo', timeScale: K, sso: { assignmentDelayMs: 2000 } });
  cp = await ReferenceControlPlane.start({ tokens: ['exp-token'] });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await cp.close();
  await sim.close();
});

function connector(url: string, extra: Record<string, string> = {}): ConnectorProcess {
  const c = new ConnectorProcess({ ...connectorEnv(url, { CONNECTOR_TOKEN: 'exp-token', LEDGER_TABLE: TABLE, LOG_LEVEL: 'info', AWS_QUOTA_MULTIPLIER: String(K), ...extra }), ...sim.env });
  procs.push(c);
  return c;
}

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('expiry across a restart with the control plane unreachable', () => {
  test('every grant that expires while the connector is down is revoked within one sweep interval of its expiry', async () => {
    const n = size(20, 200);
    const sso = sim.world.sso!;
    const users = [...sso.users.values()];
    const sets = [...sso.permissionSets.values()].map((p) => p.arn);
    const accounts = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== '111111111111').map((a) => a.id);
    const grants: Array<{ grantId: string; userId: string; accountId: string; ps: string; params: Record<string, unknown> }> = [];
    for (let i = 0; grants.length < n; i++) {
      const u = users[i % users.length]!;
      const ps = sets[Math.floor(i / users.length) % sets.length]!;
      const accountId = accounts[Math.floor(i / (users.length * sets.length)) % accounts.length]!;
      if (sim.admin.hasAssignment({ accountId, permissionSetArn: ps, principalType: 'USER', principalId: u.UserId })) continue;
      grants.push({ grantId: `exp-${i}`, userId: u.UserId, accountId, ps, params: { grantId: `exp-${i}`, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: u.UserId }, target: { accountId, permissionSetArn: ps } } });
    }
    const present = (g: (typeof grants)[number]) => sim.admin.hasAssignment({ accountId: g.accountId, permissionSetArn: g.ps, principalType: 'USER', principalId: g.userId });

    // 1. Granted through the control plane, expiries spread over a few seconds ahead.
    const first = connector(cp.url, { MAX_CONCURRENT_JOBS: '16', GRANT_SWEEP_INTERVAL_SECONDS: '3600' });
    await cp.waitForSession(15_000);
    // Long enough for 20 grants through a connector that is still loading its modules on a
    // loaded machine (they take about 2 s on a quiet one): all are granted before the first expiry.
    const grantPhaseMs = size(10_000, 60_000);
    const expiresAt = new Map<string, number>();
    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < grants.length) {
        const g = grants[next++]!;
        const at = t0 + grantPhaseMs + 1_000 + Math.floor(Math.random() * size(2_000, 10_000));
        expiresAt.set(g.grantId, at);
        const r = await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration: demoIntegration(), params: { ...g.params, expiresAt: new Date(at).toISOString() } }).jobId, 120_000);
        expect(r.status).toBe('succeeded');
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(Date.now()).toBeLessThan(Math.min(...expiresAt.values())); // all granted before the first expiry
    expect(grants.filter((g) => !present(g))).toEqual([]);

    // 2. Killed with every expiry pending, and down while the first ones pass; started again
    // towards a closed port.
    first.signal('SIGKILL');
    await first.exited;
    const restartAt = Math.min(...expiresAt.values()) + size(1_000, 3_000);
    await new Promise((r) => setTimeout(r, restartAt - Date.now()));
    const expiredWhileDown = [...expiresAt.values()].filter((t) => t <= Date.now()).length;
    const port = await closedPort();
    const second = connector(`ws://127.0.0.1:${port}/v1/connect`, { GRANT_SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS) });
    await second.waitForEvent('daemon.start');

    // 3. Each assignment's disappearance, watched on the simulator.
    const removedAt = new Map<string, number>();
    const deadline = Math.max(...expiresAt.values()) + 3 * SWEEP_SECONDS * 1000;
    while (removedAt.size < grants.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      for (const g of grants) if (!removedAt.has(g.grantId) && !present(g)) removedAt.set(g.grantId, Date.now());
    }
    const lags = grants.map((g) => (removedAt.get(g.grantId) ?? Infinity) - expiresAt.get(g.grantId)!);
    const early = grants.filter((g) => (removedAt.get(g.grantId) ?? Infinity) < expiresAt.get(g.grantId)!);
    const reachedControlPlane = second.logs().some((e) => e['event'] === 'connection.ready');
    report('expiry-after-restart', {
      grants: n, sweepSeconds: SWEEP_SECONDS, expiredWhileDown, revoked: removedAt.size,
      lagMsP50: percentile(lags, 50), lagMsP99: percentile(lags, 99), lagMsMax: Math.max(...lags),
    });
    expect(reachedControlPlane).toBe(false);
    expect(expiredWhileDown).toBeGreaterThan(0);
    expect(early.map((g) => g.grantId)).toEqual([]);
    expect(removedAt.size).toBe(grants.length);
    expect(Math.max(...lags)).toBeLessThanOrEqual(SWEEP_SECONDS * 1000);
  }, 900_000);
});
