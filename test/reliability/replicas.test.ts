// Reliability: several replicas of one connector (same CONNECTOR_ID) against one control
// plane, as docs/protocol.md ("Authentication") allows ("each holds its own session"). Three real processes:
//   - Jobs spread over the sessions run once each: every test.sleep job starts in exactly
//     one replica, every grant creates its assignment once (the simulator's call counts).
//   - A replica freezes (SIGSTOP) in the middle of a grant: the control plane declares its
//     session dead and redelivers the job to another replica, so the grant runs twice by
//     design; the frozen one thaws while the other runs it, both finish, and AWS changed
//     once (the ledger's lock and conditional writes).
//   - Grants expire while every replica sweeps the ledger (GRANT_SWEEP_INTERVAL_SECONDS at
//     its minimum, 10 s): each expired grant is revoked exactly once (DeleteAccountAssignment).
//   - The replicas' wall clocks are 3 minutes apart each way (TEST_CONNECTOR_CLOCK_SKEW_MS):
//     the locks hold all the same (a waiter never compares clocks), and a grant is revoked
//     no earlier than its expiry by the clock furthest ahead.
//   - Grants are extended right when the replica furthest ahead sweeps them: whatever wins,
//     the control plane's answer is what AWS holds (granted: the access stays; revoked:
//     it is gone), never "granted until +1 h" with the access removed.
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { report, size } from './report.js';
import { sleep, until } from '../helpers/wait.js';

const REPLICAS = 3;
const SWEEP_S = 10;
/** Each replica's wall clock against the test's: on time, 3 minutes behind, 3 minutes ahead. */
const SKEWS_MS = [0, -180_000, 180_000];
const AHEAD_MS = Math.max(...SKEWS_MS);
const integration = demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' });
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** Assignments no one holds in the demo world: users other than alice and judy, member accounts. */
function assignments(sim: AwsSimulator, n: number): Array<{ user: string; accountId: string; permissionSetArn: string }> {
  const sso = sim.world.sso!;
  const users = [...sso.users.values()].filter((u) => !/^(alice|judy)@/.test(u.UserName)).map((u) => u.UserId);
  const accounts = ['333333333302', '333333333303', '333333333304', '444444444401', '444444444402', '555555555501', '555555555502', '777777777777'];
  const sets = [...sso.permissionSets.values()].map((p) => p.arn);
  const out: Array<{ user: string; accountId: string; permissionSetArn: string }> = [];
  for (let i = 0; out.length < n; i++) {
    out.push({ user: users[i % users.length]!, accountId: accounts[Math.floor(i / users.length) % accounts.length]!, permissionSetArn: sets[Math.floor(i / (users.length * accounts.length)) % sets.length]! });
  }
  return out;
}

describe('replicas sharing one connector id', () => {
  test('no job runs twice, a frozen replica changes AWS once, each expired grant is revoked exactly once', async () => {
    const JOBS = size(30, 300);
    const GRANTS = size(6, 30);
    const FREEZES = size(1, 3);
    const EXTENDED = size(4, 10);
    // Expiry waves, one per sweep round: the fast run has one, the long run three.
    const WAVES = size(1, 3);
    const sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 100 } });
    cleanup.push(() => sim.close());
    // The control plane's dead-socket rule at a little over the connector's 5 s ping.
    const cp = await ReferenceControlPlane.start({ heartbeatSeconds: 5, deadAfterMs: 6_500 });
    cleanup.push(() => cp.close());
    const replicas = Array.from({ length: REPLICAS }, (_, i) => {
      const c = new ConnectorProcess({
        ...connectorEnv(cp.url, { CONNECTOR_ID: 'conn-replicas', LEDGER_TABLE: 'access-connector-ledger', GRANT_SWEEP_INTERVAL_SECONDS: String(SWEEP_S), LOG_LEVEL: 'info' }),
        ...sim.env,
        TEST_CONNECTOR_TIMING: JSON.stringify({ firstReconnectMaxMs: 200, backoffBaseMs: 100, backoffCapMs: 400 }),
        TEST_CONNECTOR_CLOCK_SKEW_MS: String(SKEWS_MS[i]),
      });
      cleanup.push(() => c.stop());
      return c;
    });
    await until(() => cp.sessions().length === REPLICAS, 20_000, 'every replica to be welcomed');
    const sweepsFrom = Date.now();
    const ops = () => sim.stats.snapshot().byOperation;
    const calls = (op: string) => ops()[`sso-admin:${op}`]?.calls ?? 0;
    const starts = (jobId: string) => replicas.map((r) => r.logs().filter((e) => e['event'] === 'job.start' && e['jobId'] === jobId).length);

    // 1. Jobs and grants spread over the sessions.
    const combos = assignments(sim, GRANTS + FREEZES + EXTENDED);
    const grantParams = combos.map((a, i) => ({
      grantId: `rep-${i}`,
      accessKind: 'sso.accountAssignment',
      principal: { type: 'user', id: a.user },
      target: { accountId: a.accountId, permissionSetArn: a.permissionSetArn },
    }));
    const expiring: Array<(typeof grantParams)[number] & { expiresAt: string }> = [];
    const sleeps: string[] = [];
    const grants: string[] = [];
    // An expiry every replica accepts and the one ahead meets first, 30 s from now on its
    // clock (once every grant of this step is in place).
    const expiry = (wave: number) => new Date(Date.now() + AHEAD_MS + 30_000 + wave * SWEEP_S * 1000).toISOString();
    const extending: Array<(typeof expiring)[number]> = [];
    for (let i = 0; i < Math.max(JOBS, GRANTS + EXTENDED); i++) {
      if (i < JOBS) sleeps.push(cp.sendJob({ jobType: 'test.sleep', params: { ms: 20 + (i % 5) * 20, batches: i % 3 } }).jobId);
      if (i < GRANTS) {
        // Each wave expires a sweep interval after the one before.
        expiring.push({ ...grantParams[i]!, expiresAt: expiry(i % WAVES) });
        grants.push(cp.sendJob({ jobType: 'grant', integration, params: expiring[i]! }).jobId);
      } else if (i < GRANTS + EXTENDED) {
        const p = { ...grantParams[FREEZES + i]!, expiresAt: expiry(0) };
        extending.push(p);
        grants.push(cp.sendJob({ jobType: 'grant', integration, params: p }).jobId);
      }
      // Paced in rounds, so that no replica has to answer busy (4 running + 4 queued).
      if (i % 6 === 5) await until(() => [...sleeps, ...grants].every((id) => cp.job(id)!.result || cp.job(id)!.rejected), 60_000, 'a round of jobs');
    }
    for (const id of [...sleeps, ...grants]) expect((await cp.waitForResult(id, 60_000)).status).toBe('succeeded');
    const sessionsUsed = new Set([...sleeps, ...grants].map((id) => cp.job(id)!.sessionId));
    // Once each: exactly one job.start across the replicas, exactly one assignment created.
    const startCounts = sleeps.map((id) => starts(id).reduce((a, b) => a + b, 0));
    expect(startCounts.filter((n) => n !== 1)).toEqual([]);
    expect(calls('CreateAccountAssignment')).toBe(GRANTS + EXTENDED);

    // Extensions sent when the replica furthest ahead finds the grant expired (the test's
    // clock at expiresAt minus that replica's lead), spread over ±0.5 s around it.
    const extensions = extending.map((p, k) => new Promise<{ grantId: string; state: string }>((resolve, reject) => {
      const at = Date.parse(p.expiresAt) - AHEAD_MS + (k - (EXTENDED - 1) / 2) * (1000 / EXTENDED);
      setTimeout(() => {
        const extended = { ...p, expiresAt: new Date(Date.parse(p.expiresAt) + 3_600_000).toISOString() };
        cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: extended }).jobId, 120_000).then(
          (r) => resolve({ grantId: p.grantId, state: r.status === 'succeeded' ? String((r.output as { state?: unknown }).state) : `failed ${r.error?.code ?? ''}` }),
          reject,
        );
      }, Math.max(0, at - Date.now()));
    }));

    // 2. A replica frozen in the middle of a grant.
    const held = (p: (typeof grantParams)[number]) => sim.admin.hasAssignment({ accountId: p.target.accountId, permissionSetArn: p.target.permissionSetArn, principalType: 'USER', principalId: p.principal.id });
    const frozenRuns: Array<{ startsPerReplica: number[]; creates: number }> = [];
    for (let f = 0; f < FREEZES; f++) {
      const victim = cp.sessions()[f % REPLICAS]!;
      const p = grantParams[GRANTS + f]!;
      const creates0 = calls('CreateAccountAssignment');
      const { jobId } = cp.sendJob({ jobType: 'grant', integration, params: p }, { sessionId: victim.sessionId });
      await cp.waitFor((r) => r.frame?.['type'] === 'job.accepted' && r.frame['jobId'] === jobId, 10_000);
      const frozen = replicas.find((r) => r.logs().some((e) => e['event'] === 'job.accepted' && e['jobId'] === jobId))!;
      frozen.child.kill('SIGSTOP');
      // The control plane notices the silent session and hands the job to another replica.
      await until(() => cp.job(jobId)!.sends.some((s) => s.redelivery), 20_000, 'the redelivery');
      const other = cp.job(jobId)!.sends.find((s) => s.redelivery)!.sessionId;
      await cp.waitFor((r) => r.sessionId === other && r.frame?.['type'] === 'job.accepted' && r.frame['jobId'] === jobId, 10_000);
      // Thawed while the other replica runs the same grant (the frozen one may hold its
      // ledger lock): both go on at once and both finish.
      frozen.child.kill('SIGCONT');
      const result = await cp.waitForResult(jobId, 60_000);
      await frozen.waitForLog((e) => e['event'] === 'job.result' && e['jobId'] === jobId, 60_000);
      expect(result.status).toBe('succeeded');
      const perReplica = starts(jobId);
      frozenRuns.push({ startsPerReplica: perReplica, creates: calls('CreateAccountAssignment') - creates0 });
      expect(perReplica.filter((n) => n > 0).length).toBe(2);
      expect(calls('CreateAccountAssignment') - creates0).toBe(1);
      expect(held(p)).toBe(true);
      await until(() => cp.sessions().length === REPLICAS, 30_000, 'the thawed replica to reconnect');
    }

    // 3. Every replica sweeps; each expired grant goes once, never before its expiry by the
    // clock furthest ahead.
    const goneAt = new Map<string, number>();
    await until(() => {
      for (const p of expiring) if (!goneAt.has(p.grantId) && !held(p)) goneAt.set(p.grantId, Date.now());
      return goneAt.size === expiring.length;
    }, AHEAD_MS + (WAVES + 3) * SWEEP_S * 1000, 'every expired grant to be revoked');
    const extended = await Promise.all(extensions);
    // A pass reports what it revoked (grant.sweep) when it ends, after its other revokes and
    // the reconciliation scan: wait for every replica's pass that revoked to have reported.
    const revokeLines = (r: ConnectorProcess) => r.logs().filter((e) => e['event'] === 'access.revoked' && e['origin'] === 'expiry').length;
    const reported = (r: ConnectorProcess) => {
      const l = r.logs();
      let lastRevoke = -1;
      let lastSweep = -1;
      l.forEach((e, i) => {
        if (e['event'] === 'access.revoked' && e['origin'] === 'expiry') lastRevoke = i;
        if (e['event'] === 'grant.sweep') lastSweep = i;
      });
      return lastRevoke < 0 || lastSweep > lastRevoke;
    };
    // An extension loses the race when the sweep revoked the grant first (`revoked`), or when
    // the sweep's revoke was already under way: a grant never resumes a `revoking` grant
    // (GRANT_REVOKING), and the sweep finishes the revoke.
    const lostTheRace = (e: { state: string }) => e.state === 'revoked' || e.state === 'failed GRANT_REVOKING';
    const lostRace = extended.filter(lostTheRace).length;
    await until(() => replicas.reduce((n, r) => n + revokeLines(r), 0) >= GRANTS + lostRace && replicas.every(reported), 60_000, 'the sweep passes that revoked to report')
      .catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify({ extended, revokeLines: replicas.map(revokeLines), reported: replicas.map(reported), tails: replicas.map((r) => r.logs().filter((e) => ['access.revoked', 'grant.sweep', 'grant.sweep_failed'].includes(String(e['event']))).slice(-4)) })}`);
      });
    await sleep(500); // a late second revoke would show up here
    const revokes = expiring.map((p) => replicas.map((r) => r.logs().filter((e) => e['event'] === 'access.revoked' && e['grantId'] === p.grantId).length));
    const revokedBy = replicas.map((_, i) => revokes.reduce((n, r) => n + r[i]!, 0));
    // What each replica's sweep passes report as revoked by themselves (a grant another replica
    // revoked first is not counted: the grant.sweep lines add up to the grants, once).
    const sweepTookOn = replicas.map((r) => r.logs().filter((e) => e['event'] === 'grant.sweep').reduce((n, e) => n + Number(e['revoked']), 0));
    report('replicas-one-connector-id', {
      replicas: REPLICAS,
      jobs: JOBS,
      grants: GRANTS,
      sessionsUsed: sessionsUsed.size,
      jobStartsOtherThanOnce: startCounts.filter((n) => n !== 1).length,
      createAccountAssignment: calls('CreateAccountAssignment'),
      frozenRuns,
      expiredGrants: GRANTS,
      deleteAccountAssignment: calls('DeleteAccountAssignment'),
      revokedByReplica: revokedBy,
      sweepTookOn,
      sweepIntervalS: SWEEP_S,
      clockSkewsS: SKEWS_MS.map((ms) => ms / 1000),
      // Seconds before its expiresAt (the test's clock) each expired grant was seen gone:
      // about the lead of the clock furthest ahead.
      revokedBeforeExpiryS: expiring.map((p) => Math.round((Date.parse(p.expiresAt) - goneAt.get(p.grantId)!) / 100) / 10),
      extendedAtExpiry: EXTENDED,
      extensionOutcomes: {
        granted: extended.filter((e) => e.state === 'granted').length,
        revokedFirst: extended.filter((e) => e.state === 'revoked').length,
        refusedWhileRevoking: extended.filter((e) => e.state === 'failed GRANT_REVOKING').length,
        other: extended.filter((e) => e.state !== 'granted' && !lostTheRace(e)).length,
      },
      secondsToLastRevoke: Math.round((Date.now() - sweepsFrom) / 1000),
    });
    expect(sessionsUsed.size).toBe(REPLICAS);
    expect(calls('CreateAccountAssignment')).toBe(GRANTS + FREEZES + EXTENDED);
    expect(calls('DeleteAccountAssignment')).toBe(GRANTS + lostRace);
    expect(sweepTookOn.reduce((a, b) => a + b, 0)).toBe(GRANTS + lostRace);
    expect(revokes.map((r) => r.reduce((a, b) => a + b, 0))).toEqual(expiring.map(() => 1));
    // No replica revoked before its own clock said the grant had expired.
    for (const p of expiring) expect(goneAt.get(p.grantId)!).toBeGreaterThanOrEqual(Date.parse(p.expiresAt) - AHEAD_MS);
    // The answer to each extension is what AWS holds: granted and still there, or revoked
    // (the sweep came first) or refused while the sweep's revoke was under way, and gone.
    expect(extended.filter((e) => e.state !== 'granted' && !lostTheRace(e))).toEqual([]);
    for (const e of extended) expect({ grantId: e.grantId, held: held(extending.find((p) => p.grantId === e.grantId)!) }).toEqual({ grantId: e.grantId, held: e.state === 'granted' });
    // The grants that did not expire are still in place.
    for (const p of grantParams.slice(GRANTS, GRANTS + FREEZES)) expect(held(p)).toBe(true);
    // The only protocol remark allowed: the frozen replica's own result for a job the
    // control plane had already given to another replica (docs/protocol.md: redelivery only after a dead session).
    const frozenJobs = cp.jobs().filter((j) => j.sends.some((s) => s.redelivery)).map((j) => j.jobId);
    expect(cp.violations.filter((v) => !frozenJobs.some((id) => v.includes(`second job.result for ${id}`)))).toEqual([]);
  }, 600_000);
});
