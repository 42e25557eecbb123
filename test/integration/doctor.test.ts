// `access-connector doctor` and the `check` job against the AWS simulator's demo org.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { MAIN_JS } from '../helpers/paths.js';
import type { CheckReport } from '../../src/check/report.js';

const dir = mkdtempSync(join(tmpdir(), 'ac-doctor-'));
const MGMT_ROLE = `arn:aws:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/AccessConnectorManagement`;
const integration = {
  id: 'int-demo',
  name: 'demo',
  type: 'aws-organization' as const,
  region: 'us-east-1',
  roleArn: MGMT_ROLE,
  externalId: DEMO_EXTERNAL_ID,
  ssoRegion: 'us-east-1',
  ssoPortalUrl: 'https://d-1234567890.awsapps.com/start',
  enableAudit: true,
};
let sim: AwsSimulator;
let cp: ReferenceControlPlane;

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  cp = await ReferenceControlPlane.start({ tokens: ['doctor-token'] });
});
afterAll(async () => {
  await cp.close();
  await sim.close();
});
afterEach(() => sim.faults.clear());

function integrationFile(over: Record<string, unknown> = {}): string {
  const f = join(dir, `integration-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify({ ...integration, ...over }));
  return f;
}

function doctor(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, 'doctor', ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...sim.env, LEDGER_TABLE: 'access-connector-ledger', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const statusOf = (r: CheckReport) => Object.fromEntries(r.items.map((i) => [i.id, i.status]));

describe('doctor', () => {
  test('the demo org: every check passes, the control plane included; exit 0', async () => {
    const r = await doctor(['--integration', integrationFile(), '--json'], {
      CONNECTOR_ID: 'doctor-conn',
      CONTROL_PLANE_URL: cp.url,
      ALLOW_INSECURE_CONTROL_PLANE: 'true',
      CONNECTOR_TOKEN: 'doctor-token',
    });
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(statusOf(report)).toEqual({
      'control-plane': 'pass',
      'base-identity': 'pass',
      'management-role': 'pass',
      organization: 'pass',
      'member-role': 'pass',
      'identity-center': 'pass',
      'resource-explorer': 'pass',
      ssm: 'pass',
      audit: 'pass',
      ledger: 'pass',
      'portal-url': 'pass',
      writes: 'skip',
    });
    expect(r.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(r.stdout + r.stderr).not.toContain('doctor-token');
  });

  test('a rejected token: the HTTP status, and a fix naming the template parameter and the Helm value', async () => {
    const r = await doctor(['--integration', integrationFile(), '--json'], {
      CONNECTOR_ID: 'doctor-conn', CONTROL_PLANE_URL: cp.url, ALLOW_INSECURE_CONTROL_PLANE: 'true', CONNECTOR_TOKEN: 'not-the-token',
    });
    const item = (JSON.parse(r.stdout) as CheckReport).items.find((i) => i.id === 'control-plane')!;
    expect(item).toMatchObject({ status: 'fail', code: 'CONTROL_PLANE_TOKEN_REJECTED' });
    expect(item.detail).toMatch(/rejected the token \(HTTP 401\)$/);
    expect(item.fix).toMatch(/ConnectorToken parameter .*ExistingTokenSecretArn.*token\.existingSecret/);
    expect(r.stdout).not.toContain('not-the-token');
  });

  test('a wrong ExternalId fails with the fix naming the ExternalId parameter; the table says so; exit 1', async () => {
    const r = await doctor(['--integration', integrationFile({ externalId: 'not-the-right-one' })]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+management role\s+.*sts:AssumeRole into arn:aws:iam::111111111111:role\/AccessConnectorManagement/);
    expect(r.stdout).toMatch(/fix: In the management-roles stack .*ExternalId must equal the integration's externalId/);
    expect(r.stdout).toMatch(/SKIP\s+remaining checks/);
    expect(r.stdout).toMatch(/SKIP\s+control plane\s+CONTROL_PLANE_URL is not set/);
  });

  test('a missing permission names the action and the role', async () => {
    const role = sim.admin.getRole({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement' }) as { sim?: { allow: string[] } } | undefined;
    const allow = role?.sim?.allow ?? ['*'];
    sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement', allow, deny: ['sso:ListInstances'] });
    try {
      const r = await doctor(['--integration', integrationFile(), '--json']);
      const report = JSON.parse(r.stdout) as CheckReport;
      const sso = report.items.find((i) => i.id === 'identity-center')!;
      expect(sso).toMatchObject({ status: 'fail', code: 'AWS_ACCESS_DENIED' });
      expect(sso.detail).toMatch(/sso-admin\.ListInstances.*AccessConnectorManagement.*sso:ListInstances/);
      expect(r.code).toBe(1);
      expect(statusOf(report)['organization']).toBe('pass');
    } finally {
      sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement', allow });
    }
  });

  test('an account that denies the member role is named', async () => {
    const accounts = sim.groundTruth({ type: 'aws-organization' } as never).entities.filter((e) => e.kind === 'aws.account');
    expect(accounts.length).toBeGreaterThan(3);
    const r0 = JSON.parse((await doctor(['--integration', integrationFile(), '--json'])).stdout) as CheckReport;
    const tried = /works in (.*)$/.exec(r0.items.find((i) => i.id === 'member-role')!.detail)![1]!.split(', ');
    sim.faults.denyAccount(tried[1]!);
    const r = await doctor(['--integration', integrationFile(), '--json']);
    const member = (JSON.parse(r.stdout) as CheckReport).items.find((i) => i.id === 'member-role')!;
    expect(member).toMatchObject({ status: 'fail', code: 'ASSUME_ROLE_DENIED' });
    expect(member.detail).toContain(`${tried[1]}: ASSUME_ROLE_DENIED`);
    expect(member.fix).toMatch(/DeployMemberRoles=true.*MemberTargetOUs/);
  });

  test('a member role missing in two accounts: each account once, with the cause of that hop (no ExternalId), the whole message, a fix naming the parameters', async () => {
    const r0 = JSON.parse((await doctor(['--integration', integrationFile(), '--json'])).stdout) as CheckReport;
    const tried = /works in (.*)$/.exec(r0.items.find((i) => i.id === 'member-role')!.detail)![1]!.split(', ');
    const broken = [tried[0]!, tried[2]!];
    const saved = broken.map((accountId) => ({ accountId, roleName: 'AccessConnectorMember', document: sim.admin.getRole({ accountId, roleName: 'AccessConnectorMember' })!['trustPolicy'] as string }));
    const nobody = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root' }, Action: 'sts:AssumeRole' }] };
    for (const s of saved) sim.admin.setTrustPolicy({ ...s, document: nobody });
    try {
      const r = await doctor(['--integration', integrationFile(), '--json']);
      const member = (JSON.parse(r.stdout) as CheckReport).items.find((i) => i.id === 'member-role')!;
      expect(member).toMatchObject({ status: 'fail', code: 'ASSUME_ROLE_DENIED' });
      for (const a of broken) expect(member.detail.split(`${a}: ASSUME_ROLE_DENIED: sts:AssumeRole into the member role arn:aws:iam::${a}:role/AccessConnectorMember`)).toHaveLength(2);
      expect(member.detail).toContain('This hop uses no ExternalId');
      expect(member.detail).not.toContain('sets no externalId');
      expect(member.detail).toMatch(/does not trust arn:aws:iam::111111111111:role\/AccessConnectorManagement\.$/); // the end of the second message: nothing cut
      expect(member.fix).toMatch(/DeployMemberRoles=true.*MemberTargetOUs/);
      for (const a of broken) expect(member.fix).toContain(a);
      // The table prints the detail and the fix whole.
      const table = (await doctor(['--integration', integrationFile()])).stdout;
      expect(table).toContain(member.detail);
      expect(table).toContain(`fix: ${member.fix}`);
    } finally {
      for (const s of saved) sim.admin.setTrustPolicy(s);
    }
  });

  test('--role: an opted-in role passes; a role without the tag fails with ROLE_NOT_OPTED_IN naming the tag and the command that adds it; exit 1', async () => {
    const tagged = 'arn:aws:iam::333333333301:role/app-deployer';
    const untagged = 'arn:aws:iam::333333333301:role/lambda-exec';
    const r = await doctor(['--integration', integrationFile(), '--json', '--role', `${tagged},${untagged}`]);
    expect(r.code).toBe(1);
    const items = (JSON.parse(r.stdout) as CheckReport).items.filter((i) => i.id === 'role-opt-in');
    expect(items.map((i) => [i.title, i.status, i.code])).toEqual([
      [`role opt-in (${tagged})`, 'pass', undefined],
      [`role opt-in (${untagged})`, 'fail', 'ROLE_NOT_OPTED_IN'],
    ]);
    expect(items[1]!.detail).toContain('no tag access-connector-jit=enabled');
    expect(items[1]!.fix).toContain('aws iam tag-role --role-name lambda-exec --tags Key=access-connector-jit,Value=enabled');
    // JIT_ROLES=any does not need the tag; the table shows the fix.
    const any = await doctor(['--integration', integrationFile(), '--json', '--role', untagged], { JIT_ROLES: 'any' });
    expect((JSON.parse(any.stdout) as CheckReport).items.find((i) => i.id === 'role-opt-in')!.status).toBe('pass');
    const table = await doctor(['--integration', integrationFile(), '--role', untagged]);
    expect(table.stdout).toContain('access-connector-jit=enabled');
  });

  test('usage errors exit 64 and name the problem', async () => {
    expect((await doctor([])).code).toBe(64);
    const bad = integrationFile({ roleArn: 'not-an-arn' });
    const r = await doctor(['--integration', bad]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/roleArn: must be an IAM role ARN/);
  });
});

describe('check job', () => {
  test('the control plane receives the same report as the job output', async () => {
    const c = new ConnectorProcess({ ...connectorEnv(cp.url, { CONNECTOR_TOKEN: 'doctor-token', LEDGER_TABLE: 'access-connector-ledger' }), ...sim.env });
    try {
      // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
      await cp.waitForSession(20_000, (s) => s.connectorId === 'conn-it');
      const { jobId } = cp.sendJob({ jobType: 'check', integration });
      const result = await cp.waitForResult(jobId, 20_000);
      expect(result.status).toBe('succeeded');
      const report = result.output as CheckReport;
      expect(report.ok).toBe(true);
      expect(report.items.map((i) => i.id)).toContain('identity-center');
      expect(report.items.some((i) => i.id === 'control-plane')).toBe(false);
      expect(result.stats['awsCalls']).toBeGreaterThan(5);
      // The AWS calls show on /metrics, by service and outcome.
      const metrics = await (await fetch(`${await c.healthUrl()}/metrics`)).text();
      expect(metrics).toMatch(/access_connector_aws_calls_total\{service="Organizations",operation="ListRoots",outcome="ok"\} [1-9]/);
      expect(metrics).toMatch(/access_connector_aws_call_duration_seconds_count\{service="SSOAdmin"\} [1-9]/);
      expect(await c.waitForLog((l) => l['event'] === 'job.result' && l['jobId'] === jobId)).toMatchObject({ level: 'info', status: 'succeeded' });

      // A failed check: the job itself succeeded (the report is its output), but the log says what failed, at warn.
      const role = sim.admin.getRole({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement' }) as { permissions?: { allow: string[] } };
      const allow = role.permissions?.allow ?? ['*'];
      sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement', allow, deny: ['sso:ListInstances'] });
      try {
        const failed = cp.sendJob({ jobType: 'check', integration });
        expect((await cp.waitForResult(failed.jobId, 20_000)).status).toBe('succeeded');
        const line = await c.waitForLog((l) => l['event'] === 'job.result' && l['jobId'] === failed.jobId);
        expect(line).toMatchObject({ level: 'warn', status: 'succeeded', failedChecks: ['identity-center'] });
        expect(line['msg']).toBe('check job done: 1 check failed (identity-center); see the report');
      } finally {
        sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement', allow });
      }
    } finally {
      await c.stop();
    }
  }, 30_000);
});
