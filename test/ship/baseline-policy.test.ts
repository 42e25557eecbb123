// The recommended baseline policy: one source (docs/examples/policies/baseline.yaml), the
// copies the ECS template and the Helm chart install are byte-identical to it, it is on by
// default and off only when asked, it reaches the connector as CONNECTOR_POLICY, and it
// refuses what it promises against the simulator.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { accountOuPath, admitAccess, checkFacts, factLookups } from '../../src/access/policy.js';
import { kindOf } from '../../src/access/registry.js';
import type { AccessRequest } from '../../src/access/types.js';
import { loadConfig } from '../../src/config.js';
import { loadPolicyFile } from '../../src/policy/schema.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { accessContextFor } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { Evaluated, loadTemplate, type Resource } from '../helpers/cfn.js';
import { MAIN_JS, REPO_ROOT } from '../helpers/paths.js';

const SOURCE = resolve(REPO_ROOT, 'docs/examples/policies/baseline.yaml');
const source = () => readFileSync(SOURCE, 'utf8');
const ECS = resolve(REPO_ROOT, 'cloudformation/connector-ecs.yaml');
const ROLES = ['OrganizationAccountAccessRole', 'AWSControlTowerExecution', 'AWSCloudFormationStackSetExecutionRole', 'stacksets-exec-*', 'AWSReservedSSO_*'];

describe('the baseline policy file', () => {
  test('loads, denies the management account and the organization roles, caps durations; the stricter choices are comments', () => {
    const p = loadPolicyFile(SOURCE);
    expect(p.accounts.denyManagementAccount).toBe(true);
    expect(p.roles.deny).toEqual(ROLES);
    expect(p.maxDurationMinutes).toBe(720);
    expect(p.deniedManagedPolicies).toEqual([]);
    expect(source()).toMatch(/^# deniedManagedPolicies:\n# {3}- "arn:\*:iam::aws:policy\/AdministratorAccess"$/m);
    // Every commented-out choice is valid once uncommented.
    const uncommented = source().replace(/^# (?=[a-z][a-zA-Z]*:|  )/gm, '');
    expect(uncommented).not.toBe(source());
    const f = join(mkdtempSync(join(tmpdir(), 'ac-baseline-')), 'uncommented.yaml');
    writeFileSync(f, uncommented);
    expect(loadPolicyFile(f)).toMatchObject({ deniedManagedPolicies: ['arn:*:iam::aws:policy/AdministratorAccess', 'arn:*:iam::aws:policy/IAMFullAccess'], instances: { deny: ['env=prod'] } });
  });

  test('fits an SSM String parameter of the standard tier (4 KB), where the ECS template keeps it', () => {
    expect(Buffer.byteLength(source())).toBeLessThanOrEqual(4096);
  });

  test('the Helm chart\'s copy is byte-identical', () => {
    expect(readFileSync(resolve(REPO_ROOT, 'helm/access-connector/files/baseline-policy.yaml'), 'utf8')).toBe(source());
  });

  test('the ECS template\'s copy is byte-identical; on by default, as CONNECTOR_POLICY from the parameter; Policy=none gives no policy', () => {
    const t = loadTemplate(ECS);
    const param = t.Resources['BaselinePolicy'] as Resource;
    expect(param.Type).toBe('AWS::SSM::Parameter');
    expect(param.Properties!['Value']).toBe(source());
    expect(t.Parameters!['Policy']!.Default).toBe('baseline');

    const container = (params: Record<string, string>) => {
      const required = Object.fromEntries(Object.entries(t.Parameters ?? {}).filter(([, p]) => p.Default === undefined).map(([n]) => [n, `stand-in-${n}`]));
      const e = new Evaluated(t, { ...required, ConnectorToken: 'x', Policy: 'baseline', ...params });
      const td = e.value(t.Resources['TaskDefinition']!.Properties as never) as { ContainerDefinitions: { Secrets: { Name: string; ValueFrom: string }[] }[] };
      const exec = JSON.stringify(e.value(t.Resources['TaskExecutionRole']!.Properties as never));
      return { secrets: td.ContainerDefinitions[0]!.Secrets, exec, baseline: e.condition('UseBaselinePolicy') };
    };
    const on = container({});
    expect(on.baseline).toBe(true);
    expect(on.secrets).toContainEqual({ Name: 'CONNECTOR_POLICY', ValueFrom: expect.stringMatching(/^arn:aws:ssm:us-east-1:123456789012:parameter/) });
    expect(on.exec).toContain('ssm:GetParameters');
    const custom = container({ Policy: 'custom', PolicyParameterName: '/team/connector-policy' });
    expect(custom.secrets).toContainEqual({ Name: 'CONNECTOR_POLICY', ValueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/team/connector-policy' });
    expect(custom.exec).toContain('arn:aws:ssm:us-east-1:123456789012:parameter/team/connector-policy');
    const none = container({ Policy: 'none' });
    expect(none.baseline).toBe(false);
    expect(none.secrets.map((s) => s.Name)).not.toContain('CONNECTOR_POLICY');
    expect(none.exec).not.toContain('ssm:GetParameters');
  });
});

describe('CONNECTOR_POLICY: the policy document in an environment variable', () => {
  const base = { CONNECTOR_ID: 'c-1', CONTROL_PLANE_URL: 'wss://cp.example.com/ws', CONNECTOR_TOKEN: 'tok' };

  test('gives the same policy as the file; both at once, or an invalid document, stop start-up naming the variable', () => {
    const fromEnv = loadConfig({ ...base, CONNECTOR_POLICY: source() }, { daemon: false }).policy;
    expect(fromEnv).toEqual(loadPolicyFile(SOURCE));
    expect(() => loadConfig({ ...base, CONNECTOR_POLICY: source(), CONNECTOR_POLICY_FILE: SOURCE }, { daemon: false })).toThrow(/^CONNECTOR_POLICY: is set together with CONNECTOR_POLICY_FILE/);
    expect(() => loadConfig({ ...base, CONNECTOR_POLICY: 'version: 1\nreadonly: true\n' }, { daemon: false })).toThrow(/^CONNECTOR_POLICY: document: line 2, column 1: \(top level\): Unrecognized key.*readonly/);
    expect(() => loadConfig({ ...base, CONNECTOR_POLICY: 'version: 1\naccounts:\n  denyManagementAcount: true\n' }, { daemon: false })).toThrow(/denyManagementAcount/);
  });

  test('a process whose CONNECTOR_POLICY has a typo stops with exit code 78, naming the variable', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, [MAIN_JS, 'grant', '--integration', SOURCE, '--params', SOURCE], {
        env: { PATH: process.env['PATH'] ?? '', CONNECTOR_POLICY: 'version: 1\naccounts:\n  denyManagementAcount: true\n' },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => done({ code, stderr }));
    });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('CONNECTOR_POLICY');
  });
});

describe('the baseline against the simulator', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false });
    restore = useAwsEnv(sim.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  const verdict = async (req: AccessRequest, allowManagementAccount = true) => {
    const p = loadPolicyFile(SOURCE);
    const ctx = accessContextFor(sim, { allowManagementAccount });
    const admitted = admitAccess(p, { jobType: 'grant', integration: ctx.integration, request: req, now: Date.now() });
    if (!admitted.ok) return admitted;
    return checkFacts(p, ctx.integration, await kindOf(req.accessKind).facts(ctx, req), (id) => accountOuPath(ctx.session, id), factLookups(ctx, req));
  };
  const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
  const user = () => [...sim.world.sso!.users.values()].find((u) => u.UserName === 'erin@example.com')!.UserId;
  const ps = (name: string) => [...sim.world.sso!.permissionSets.values()].find((p) => p.name === name)!.arn;
  const assignment = (accountId: string): AccessRequest => ({ grantId: 'g-b', accessKind: 'sso.accountAssignment', principal: { type: 'user', id: user() }, target: { accountId, permissionSetArn: ps('ReadOnly') }, expiresAt: inAnHour() });

  test('refuses the management account even when the integration allows it, read from Organizations; allows a member account', async () => {
    expect(await verdict(assignment('111111111111'))).toMatchObject({ ok: false, rule: 'accounts.denyManagementAccount' });
    expect(await verdict(assignment('333333333302'))).toEqual({ ok: true });
  });

  test('refuses the organization roles, and grants without an expiry or longer than 12 hours', async () => {
    for (const name of ['OrganizationAccountAccessRole', 'AWSControlTowerExecution', 'AWSCloudFormationStackSetExecutionRole', 'stacksets-exec-1a2b3c', 'AWSReservedSSO_Admin_0123456789abcdef']) {
      const req: AccessRequest = { grantId: 'g-r', accessKind: 'iam.roleAssume', principal: { type: 'user', id: 'arn:aws:iam::333333333302:user/ci-bot' }, target: { roleArn: `arn:aws:iam::333333333302:role/${name}` }, expiresAt: inAnHour() };
      expect({ name, v: await verdict(req) }).toMatchObject({ name, v: { ok: false, rule: expect.stringMatching(/^roles\.deny\[\d\]$/) } });
    }
    const { expiresAt: _none, ...forever } = assignment('333333333302');
    expect(await verdict(forever)).toMatchObject({ ok: false, rule: 'maxDurationMinutes' });
    expect(await verdict({ ...forever, expiresAt: new Date(Date.now() + 13 * 3_600_000).toISOString() })).toMatchObject({ ok: false, rule: 'maxDurationMinutes' });
  });
});
