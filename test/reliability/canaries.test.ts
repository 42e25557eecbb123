// Scenario 9: secret canaries. The token (file, then a rotated one), the AWS keys and
// session token, and the proxy password are canary values; a connector is driven through a
// broad workload (check, sync, grants and revokes of several kinds, an expiry swept, denied
// accounts, a throttle storm, expired sessions, bad frames, token rotation and revocation,
// a refusing proxy, a drain) and everything it produced is searched for them: stdout,
// stderr, every frame, /metrics, the probes, and what it wrote into AWS (ledger items, SSM
// command parameters). The STS session secrets the simulator issued to it are searched too.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration, demoWorld } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { ConnectProxy } from '../helpers/proxy.js';
import { report, size } from './report.js';
import { until } from '../helpers/wait.js';

const CANARY = {
  tokenFile: 'rel-canary-tokenfile-6b0f8e21',
  tokenRotated: 'rel-canary-rotated-93ad54c7',
  awsKeyId: 'AKIARELCANARY0000042',
  awsSecret: 'relCanarySecret/9f8e7d6c5b4a3f2e1d0cBAzyxwvu',
  awsSession: 'relCanarySession+FwoGZXIvYXdzEJr//////////wEaDRelCanary=',
  proxyPassword: 'rel-canary-proxy-pw-5150',
  refusedProxyPassword: 'rel-canary-refused-pw-8088',
};
const PROXY_USER = 'canary';
const TABLE = 'access-connector-ledger';
const PROD = '333333333301';
/** A public key (32 bytes of 0x5a): nothing secret, just well formed. */
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa';
const TIMING = JSON.stringify({ firstReconnectMaxMs: 200, backoffBaseMs: 100, backoffCapMs: 400, authRetryMs: 500 });

/** The forms a secret may take on its way out: as is, JSON-escaped, URL-encoded, base64. */
function forms(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), Buffer.from(secret).toString('base64')])];
}

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let proxy: ConnectProxy;
const procs: ConnectorProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'ac-rel-canary-'));
const tokenFile = join(dir, 'token');

beforeAll(async () => {
  const world = demoWorld();
  world.base.accessKeyId = CANARY.awsKeyId;
  world.base.secretAccessKey = CANARY.awsSecret;
  sim = await startAwsSimulator({ world, quotas: false, sso: { assignmentDelayMs: 50 }, ssm: { commandDelayMs: 50 } });
  cp = await ReferenceControlPlane.start({ tokens: [CANARY.tokenFile, CANARY.tokenRotated] });
  proxy = await ConnectProxy.start({ auth: `${PROXY_USER}:${CANARY.proxyPassword}` });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await cp.close();
  await proxy.close();
  await sim.close();
});

function connector(proxyPassword: string, id: string): ConnectorProcess {
  const env = connectorEnv(cp.url, {
    CONNECTOR_ID: id,
    CONNECTOR_TOKEN: '',
    CONNECTOR_TOKEN_FILE: tokenFile,
    HTTPS_PROXY: `http://${PROXY_USER}:${proxyPassword}@127.0.0.1:${proxy.port}`,
    LOG_LEVEL: 'trace',
    LEDGER_TABLE: TABLE,
    GRANT_SWEEP_INTERVAL_SECONDS: '10',
    SHUTDOWN_GRACE_SECONDS: '1',
    TEST_CONNECTOR_TIMING: TIMING,
    // The simulator runs without quotas; the connector's own pacing would only add minutes.
    AWS_QUOTA_MULTIPLIER: '100',
  });
  const p = new ConnectorProcess({ ...env, ...sim.env, AWS_SESSION_TOKEN: CANARY.awsSession });
  procs.push(p);
  return p;
}

test('canaries in the token, token file, AWS keys, session token and proxy URL: zero occurrences in everything a broad workload produced', async () => {
  const started = Date.now();
  writeFileSync(tokenFile, CANARY.tokenFile);
  const c = connector(CANARY.proxyPassword, 'conn-canary');
  await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-canary');
  const health = await c.healthUrl();
  const probes: string[] = [];
  const scrape = async (base: string) => {
    for (const path of ['/metrics', '/healthz', '/readyz']) probes.push(await (await fetch(`${base}${path}`)).text());
  };

  const sso = sim.world.sso!;
  const userId = (name: string) => [...sso.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
  const groupId = [...sso.groups.values()].find((g) => g.DisplayName === 'Developers')!.GroupId;
  const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
  const instance = [...sim.world.accounts.get(PROD)!.ssm.get('us-east-1')!.instances.values()].find((i) => i.ping === 'Online' && i.platform === 'Linux')!.id;
  const integration = demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start', enableAudit: true });
  const statuses: Record<string, number> = {};
  const codes = new Set<string>();
  const run = async (jobType: string, params: Record<string, unknown> = {}) => {
    const { jobId } = cp.sendJob({ jobType, integration, params });
    const r = await cp.waitForResult(jobId, 120_000);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.error) codes.add(r.error.code);
    return r;
  };
  const ok = async (jobType: string, p: Record<string, unknown> = {}) => {
    const res = await run(jobType, p);
    expect({ jobType, p, status: res.status, error: res.error?.message }).toEqual({ jobType, p, status: 'succeeded', error: undefined });
  };
  const grant = (id: string, accessKind: string, principal: Record<string, unknown>, target: Record<string, unknown>, expiresAt?: string) => ({
    grantId: id, accessKind, principal, target, ...(expiresAt !== undefined && { expiresAt }),
  });

  for (let r = 0; r < size(1, 5); r++) {
    // Left to expire: the sweeper revokes it (GRANT_SWEEP_INTERVAL_SECONDS=10) while the rest runs.
    const expiring = grant(`cn-${r}-exp`, 'sso.groupMembership', { type: 'user', id: userId('frank') }, { groupId }, new Date(Date.now() + 1000).toISOString());
    await ok('grant', expiring);
    await ok('check');
    await ok('sync', { mode: 'full' });
    const hour = new Date(Date.now() + 3_600_000).toISOString();
    const kinds = [
      grant(`cn-${r}-sso`, 'sso.accountAssignment', { type: 'user', id: userId('erin'), userName: 'erin@example.com' }, { accountId: PROD, permissionSetArn: ps }, hour),
      grant(`cn-${r}-role`, 'iam.roleAssume', { type: 'role', id: `arn:aws:iam::${PROD}:role/lambda-exec` }, { roleArn: `arn:aws:iam::${PROD}:role/app-deployer` }, hour),
      grant(`cn-${r}-local`, 'ec2.localUser', { type: 'user', id: userId('erin'), userName: 'erin@example.com' }, { accountId: PROD, region: 'us-east-1', instanceIds: [instance], sshPublicKey: SSH_KEY }, hour),
    ];
    for (const p of kinds) await ok('grant', p);
    for (const p of kinds) await ok('revoke', p);

    // Failures that carry AWS's words: a denied account, a throttle storm, dead sessions.
    sim.faults.denyAccount('333333333302');
    expect((await run('grant', grant(`cn-${r}-denied2`, 'iam.roleAssume', { type: 'role', id: 'arn:aws:iam::333333333302:role/lambda-exec' }, { roleArn: 'arn:aws:iam::333333333302:role/app-deployer' }, new Date(Date.now() + 3_600_000).toISOString()))).status).toBe('failed');
    await run('sync', { mode: 'full', accountIds: ['333333333302', PROD] });
    sim.faults.allowAccount('333333333302');
    // The storm lasts until cleared, and is cleared once it has throttled an sso-admin call
    // of this grant. A storm of fixed wall time could end before the grant's first sso-admin
    // call on a slow machine (role assumption and ledger calls come first), and no throttle
    // would happen; cleared at once, the SDK's next attempt goes through and the grant succeeds.
    const throttledSoFar = () => sim.stats.snapshot().byService['sso-admin']?.throttled ?? 0;
    const throttledBefore = throttledSoFar();
    sim.faults.throttleStorm({ service: 'sso-admin' });
    let settled = false;
    const throttledGrant = ok('grant', grant(`cn-${r}-throttled`, 'sso.accountAssignment', { type: 'user', id: userId('frank') }, { accountId: PROD, permissionSetArn: ps })).finally(() => (settled = true));
    await until(() => throttledSoFar() > throttledBefore || settled, 60_000, 'an sso-admin call throttled by the storm', 5);
    sim.faults.clear();
    await throttledGrant;
    expect(throttledSoFar()).toBeGreaterThan(throttledBefore);
    sim.faults.expireSessionsNow();
    await ok('revoke', grant(`cn-${r}-throttled`, 'sso.accountAssignment', { type: 'user', id: userId('frank') }, { accountId: PROD, permissionSetArn: ps }));

    // Bad frames and jobs the connector refuses.
    cp.sendRaw('{"type":"job","id":"x","jobId":"bad jobid"}');
    cp.sendRaw('not json at all');
    cp.sendJob({ jobType: 'frobnicate' });
    cp.sendJob({ jobType: 'grant', integration, params: { grantId: 'x;y' } });

    // The token rotates in its file: the next dial reads it.
    writeFileSync(tokenFile, r % 2 === 0 ? CANARY.tokenRotated : CANARY.tokenFile);
    const sessions = cp.closes.length;
    cp.dropSessions('close', 1012);
    await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-canary' && cp.closes.length > sessions);
  }
  // The sweeper revoked the expiring grants.
  await c.waitForLog((e) => e['event'] === 'access.revoked' && e['origin'] === 'expiry', 30_000);
  // Revoked token (4401), then accepted again.
  cp.setTokens(['someone-else']);
  cp.dropSessions('close', 4401);
  await c.waitForEvent('connection.auth_rejected');
  await scrape(health);
  const restored = Date.now();
  cp.setTokens([CANARY.tokenFile, CANARY.tokenRotated]);
  await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-canary' && s.welcomedAt >= restored);

  // A proxy that refuses this connector's credentials.
  const refused = connector(CANARY.refusedProxyPassword, 'conn-refused');
  const failed = await refused.waitForEvent('connection.failed');
  expect(String(failed['msg'])).toMatch(/407/);
  await scrape(await refused.healthUrl());

  // A drain with a job running.
  const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { ms: 60_000 } });
  await cp.waitFor((f) => f.frame?.['type'] === 'job.accepted' && f.frame['jobId'] === jobId, 10_000);
  await scrape(health);
  c.signal('SIGTERM');
  refused.signal('SIGTERM');
  expect((await c.exited).code).toBe(0);
  expect((await refused.exited).code).toBe(0);

  // The workload did what it says: failures with AWS's errors, throttling met, a refusal logged.
  expect(codes.has('ASSUME_ROLE_DENIED') || codes.has('AWS_ACCESS_DENIED')).toBe(true);
  expect(sim.stats.snapshot().total.throttled).toBeGreaterThan(0);
  expect(proxy.requests.some((q) => q.status === 407) && proxy.requests.some((q) => q.status === 200)).toBe(true);

  const aws = [
    ...sim.admin.ddbItems({ accountId: '999999999999', region: 'us-east-1', table: TABLE }),
    ...sim.admin.ssmCommands({ accountId: PROD, region: 'us-east-1' }),
  ].map((x) => JSON.stringify(x));
  const sources: Record<string, string> = {
    stdoutStderr: procs.map((p) => p.output()).join('\n'),
    frames: cp.received.map((f) => f.raw).join('\n'),
    probes: probes.join('\n'),
    writtenToAws: aws.join('\n'),
  };
  const issued = sim.runtime.sessions.all().filter((s) => !s.base);
  const secrets: Record<string, string> = {
    ...CANARY,
    proxyBasic: `${PROXY_USER}:${CANARY.proxyPassword}`,
    refusedProxyBasic: `${PROXY_USER}:${CANARY.refusedProxyPassword}`,
    ...Object.fromEntries(issued.flatMap((s, i) => [[`sts${i}.secret`, s.secretAccessKey], [`sts${i}.token`, s.sessionToken ?? ''], [`sts${i}.keyId`, s.accessKeyId]])),
  };
  const found: string[] = [];
  for (const [source, text] of Object.entries(sources)) {
    for (const [name, secret] of Object.entries(secrets)) {
      expect({ name, length: secret.length >= 16 }).toEqual({ name, length: true });
      for (const f of forms(secret)) if (text.includes(f)) found.push(`${name} in ${source}`);
    }
  }
  expect(found).toEqual([]);
  const bytes = Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, Buffer.byteLength(v)]));
  expect(bytes['stdoutStderr']).toBeGreaterThan(20_000);
  expect(bytes['frames']).toBeGreaterThan(100_000);

  report('canaries', {
    rounds: size(1, 5),
    bytesScanned: Object.values(bytes).reduce((s, n) => s + n, 0),
    bytesBySource: bytes,
    framesScanned: cp.received.length,
    secretsSearched: Object.keys(secrets).length,
    formsSearched: Object.values(secrets).reduce((n, x) => n + forms(x).length, 0),
    issuedStsSessions: issued.length,
    occurrences: found.length,
    jobs: statuses,
    errorCodes: [...codes].sort(),
    awsCalls: sim.stats.snapshot().total.calls,
    awsThrottled: sim.stats.snapshot().total.throttled,
    durationMs: Date.now() - started,
  });
}, size(180_000, 1_200_000));
