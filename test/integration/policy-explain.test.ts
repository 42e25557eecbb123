// `access-connector policy explain` as a process against the AWS simulator: the decision,
// the rule and the facts, in text and JSON, with the exit codes scripts rely on, and not
// one write to AWS.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { MAIN_JS } from '../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'ac-explain-'));
const PROD = '333333333301';
const EAST = 'us-east-1';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const integration = {
  id: 'int-demo', name: 'demo', type: 'aws-organization', region: EAST,
  roleArn: `arn:aws:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/AccessConnectorManagement`, externalId: DEMO_EXTERNAL_ID, ssoRegion: EAST,
};
const DENY_ADMIN = ['version: 1', 'deniedManagedPolicies:', '  - "arn:*:iam::aws:policy/AdministratorAccess"', 'accounts:', '  deny: ["111111111111"]', ''].join('\n');

let sim: AwsSimulator;
const file = (name: string, body: string | object) => {
  const f = join(dir, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
  return f;
};
const instanceId = (name: string) => [...sim.world.accounts.get(PROD)!.ssm.get(EAST)!.instances.values()].find((i) => i.name === name)!.id;
const userId = (name: string) => [...sim.world.sso!.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
const session = (instance: string, accountId = PROD) => ({
  grantId: 'g-explain', accessKind: 'ec2.ssmSession', principal: { type: 'user', id: userId('carol'), userName: 'carol@example.com' },
  target: { accountId, region: EAST, instanceIds: [instance] }, expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
});
/** Every mutating call AWS received. */
const writes = () => {
  const ops = sim.stats.snapshot().byOperation;
  return sim.runtime.services.flatMap((s) => [...s.mutating].map((op) => `${s.name}:${op}`)).reduce((n, k) => n + (ops[k]?.calls ?? 0), 0);
};

function explain(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, 'policy', 'explain', ...args], { env: { PATH: process.env['PATH'] ?? '', ...sim.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
const run = (policy: string, params: object, json = false) =>
  explain(['--policy', file(`p-${Math.random().toString(36).slice(2)}.yaml`, policy), '--integration', file('integration.json', integration), '--params', file(`g-${Math.random().toString(36).slice(2)}.json`, params), ...(json ? ['--json'] : [])]);

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  // web-1 runs as a role carrying AdministratorAccess; web-2 as a harmless one.
  sim.admin.createRole({ accountId: PROD, roleName: 'web-admin' });
  sim.world.accounts.get(PROD)!.iam.roles.get('web-admin')!.attached = [ADMIN];
  sim.admin.putInstance({ accountId: PROD, region: EAST, instanceId: instanceId('web-1'), iamRole: 'web-admin', tags: { env: 'prod' } });
  sim.admin.createRole({ accountId: PROD, roleName: 'web-plain' });
  sim.admin.putInstance({ accountId: PROD, region: EAST, instanceId: instanceId('web-2'), iamRole: 'web-plain', tags: { env: 'dev' } });
});
afterAll(() => sim.close());

describe('policy explain', () => {
  test('denied after reading AWS: prints the rule, the reason and the facts (the instance\'s role and its policies); exit 77; nothing written', async () => {
    const before = writes();
    const r = await run(DENY_ADMIN, session(instanceId('web-1')));
    expect(r.code).toBe(77);
    expect(r.stdout).toContain('decision: denied\n');
    expect(r.stdout).toContain('rule:     deniedManagedPolicies[0] (after reading AWS)\n');
    expect(r.stdout).toMatch(/why: +the access carries managed policy arn:aws:iam::aws:policy\/AdministratorAccess through role arn:aws:iam::333333333301:role\/web-admin/);
    expect(r.stdout).toMatch(new RegExp(`instances +${instanceId('web-1')} \\[env=prod\\] role: arn:aws:iam::333333333301:role/web-admin`));
    expect(r.stdout).toMatch(/instance roles +arn:aws:iam::333333333301:role\/web-admin managed: arn:aws:iam::aws:policy\/AdministratorAccess; boundary: none/);
    expect(r.stdout).toMatch(/accounts +333333333301/);
    expect(writes()).toBe(before);
  });

  test('--json gives the same decision and facts as one object', async () => {
    const r = await run(DENY_ADMIN, session(instanceId('web-1')), true);
    expect(r.code).toBe(77);
    const e = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(e).toMatchObject({
      decision: 'denied', stage: 'facts', rule: 'deniedManagedPolicies[0]',
      facts: {
        accountIds: [PROD],
        instances: [{ id: instanceId('web-1'), tags: { env: 'prod' }, roleArn: `arn:aws:iam::${PROD}:role/web-admin` }],
        instanceRoles: [{ arn: `arn:aws:iam::${PROD}:role/web-admin`, managedPolicies: [ADMIN] }],
      },
    });
  });

  test('allowed: exit 0; the principal\'s names as the Identity Store gives them, when a principals rule asks', async () => {
    const r = await run(`${DENY_ADMIN}principals:\n  allow: ["*@example.com"]\n`, session(instanceId('web-2')), true);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as { decision: string; principal: { known: string[] } };
    expect(e.decision).toBe('allowed');
    expect(e.principal.known).toEqual(expect.arrayContaining([userId('carol'), 'carol@example.com']));
    const t = await run(DENY_ADMIN, session(instanceId('web-2')));
    expect([t.code, t.stdout.split('\n')[0]]).toEqual([0, 'decision: allowed']);
  });

  test('denied on receipt: decided from the request alone, and AWS is not read at all', async () => {
    sim.stats.reset();
    const r = await run('version: 1\ninstances:\n  deny: ["i-*"]\n', session(instanceId('web-2')));
    expect(r.code).toBe(77);
    expect(r.stdout).toContain('rule:     instances.deny[0] (on receipt, from the request alone)\n');
    expect(r.stdout).toContain('facts:    none read');
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });

  test('exit codes: 78 for an invalid policy, 64 for bad usage, 2 when the kind refuses before the policy decides', async () => {
    const bad = await run('version: 1\ninstances:\n  deny: ["env:prod"]\n', session(instanceId('web-2')));
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/POLICY_FILE_INVALID: .*instances\.deny\.0: must be an instance id/);
    expect((await explain(['--policy', file('x.yaml', DENY_ADMIN)])).code).toBe(64);
    expect((await explain(['check', '--policy', 'x'])).code).toBe(64);
    // The management account, which the integration does not allow: the kind's own refusal.
    sim.admin.putInstance({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: EAST, instanceId: 'i-0aaaaaaaaaaaaaaa1' });
    const refused = await run('version: 1\n', session('i-0aaaaaaaaaaaaaaa1', DEMO_MANAGEMENT_ACCOUNT), true);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ decision: 'undecided', error: { code: 'ACCESS_REFUSED' } });
    expect(refused.stderr).toContain('allowManagementAccount');
  });
});
