// Least privilege, proved four ways:
//  1. the declarations are complete: the client factory refuses any action no part of the
//     connector declares (UNDECLARED_AWS_ACTION), in this suite as in production;
//  2. the templates grant exactly the declared actions, identity by identity, for each of
//     the 16 combinations of install switches: nothing missing, nothing extra;
//  3. the connector really works with nothing more than the templates grant: the AWS
//     simulator gives each of its three roles exactly the evaluated template policy, and a
//     full sync, a delta sync, doctor, and a grant and revoke of every access kind run
//     without one refused call; what they call is compared with what is declared. The
//     management and member roles get the statements themselves, so their resources and
//     tag conditions are evaluated;
//  4. the writes that could reach beyond the connector's own objects are scoped by tags:
//     role trust and inline policies only on roles tagged access-connector-jit=enabled,
//     permission-set writes only on sets tagged access-connector-managed=true, refused by
//     the simulator under the template policy otherwise.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { DeleteRolePolicyCommand, GetRoleCommand, IAMClient, ListRolesCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreatePermissionSetCommand, DeletePermissionSetCommand, ProvisionPermissionSetCommand, PutInlinePolicyToPermissionSetCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { ConnectorError } from '../../src/errors.js';
import { SCOPES, allNeeds, declaredActions, requiredActions, type Scope, type Switches } from '../../src/permissions.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import type { IdentityStatement } from '../sim/aws/auth.js';
import { demoIntegration, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { BASE_ROLE, MANAGEMENT_ROLE, MEMBER_ROLE } from '../sim/aws/worlds/builder.js';
import { Evaluated, allowedActions, asList, loadTemplate, roleStatements, type Template } from '../helpers/cfn.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { codeOf } from '../helpers/access.js';
import { MAIN_JS, REPO_ROOT } from '../helpers/paths.js';

const CFN = resolve(REPO_ROOT, 'cloudformation');
const ROLES: Array<{ file: string; role: string; scope: Scope }> = [
  { file: 'connector-ecs.yaml', role: 'ConnectorTaskRole', scope: 'connector' },
  { file: 'eks-role.yaml', role: 'ConnectorRole', scope: 'connector' },
  { file: 'management-roles.yaml', role: 'ManagementRole', scope: 'management' },
  { file: 'management-roles.yaml', role: 'MemberRole', scope: 'member' },
  { file: 'member-role.yaml', role: 'MemberRole', scope: 'member' },
];
const templates = new Map<string, Template>();
const template = (file: string): Template => {
  let t = templates.get(file);
  if (!t) templates.set(file, (t = loadTemplate(join(CFN, file))));
  return t;
};

const COMBOS: Switches[] = [];
for (let i = 0; i < 16; i++) COMBOS.push({ manage: !!(i & 1), ec2: !!(i & 2), boundaries: !!(i & 4), audit: !!(i & 8) });
const label = (s: Switches) => `${s.manage ? 'manage' : 'read-only'}${s.ec2 ? ' +ec2' : ''}${s.boundaries ? ' +boundaries' : ''}${s.audit ? ' +audit' : ''}`;

/** Parameters for `file` with switches `s`; anything else required gets a well-formed stand-in. */
function paramsFor(file: string, s: Switches, extra: Record<string, string> = {}): Record<string, string> {
  const t = template(file);
  const switchValues: Record<string, string> = {
    AccessMode: s.manage ? 'manage' : 'read-only', EnableEc2: String(s.ec2), EnablePermissionBoundaries: String(s.boundaries), EnableAudit: String(s.audit),
    PrimaryRegion: 'us-east-1',
  };
  const out: Record<string, string> = {};
  for (const [name, p] of Object.entries(t.Parameters ?? {})) {
    const def = p as { Default?: unknown; Type?: string; AllowedValues?: unknown[] };
    if (name in switchValues) out[name] = switchValues[name]!;
    else if (def.Default === undefined) {
      const type = def.Type ?? 'String';
      out[name] = type.includes('Subnet') ? 'subnet-0123456789abcdef0,subnet-0123456789abcdef1' : type.includes('VPC') ? 'vpc-0123456789abcdef0'
        : def.AllowedValues ? String(def.AllowedValues[0]) : name.endsWith('Arn') ? `arn:aws:iam::123456789012:role/${name}` : `stand-in-${name}`;
    }
  }
  return { ...out, ...extra };
}
const evaluate = (file: string, s: Switches, extra?: Record<string, string>) => new Evaluated(template(file), paramsFor(file, s, extra));
const sorted = (x: Iterable<string>) => [...x].sort();

/**
 * Gives the simulator's three roles what the templates give them with switches `s`. The
 * connector role gets the action list; the management and member roles get the evaluated
 * statements themselves, evaluated per account, so the simulator checks their resources
 * and conditions (tags, aws:ResourceOrgID) as IAM would. `extra`: other parameters of the
 * roles stacks (JitRoles).
 */
function giveTemplatePolicies(sim: AwsSimulator, s: Switches, extra: Record<string, string> = {}): void {
  const w = sim.world;
  const connector = allowedActions(roleStatements(evaluate('connector-ecs.yaml', s), 'ConnectorTaskRole'));
  expect(sim.admin.setPermissionsOfRole({ roleName: BASE_ROLE, allow: [...connector] })).toBeGreaterThan(0);
  const names = { ConnectorRoleArn: w.base.roleArn, ManagementRoleName: MANAGEMENT_ROLE, MemberRoleName: MEMBER_ROLE, ...extra };
  const stack = (accountId: string) => (accountId === DEMO_MANAGEMENT_ACCOUNT
    ? new Evaluated(template('management-roles.yaml'), paramsFor('management-roles.yaml', s, { ...names, OrganizationId: w.organization!.id }), { 'AWS::AccountId': accountId })
    : new Evaluated(template('member-role.yaml'), paramsFor('member-role.yaml', s, { ...names, ManagementAccountId: DEMO_MANAGEMENT_ACCOUNT }), { 'AWS::AccountId': accountId }));
  const statements = (e: Evaluated, role: string) => roleStatements(e, role) as unknown as IdentityStatement[];
  sim.admin.setRoleStatements({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: MANAGEMENT_ROLE, statements: statements(stack(DEMO_MANAGEMENT_ACCOUNT), 'ManagementRole') });
  let members = 0;
  for (const a of w.accounts.values()) {
    if (!a.iam.roles.has(MEMBER_ROLE)) continue;
    sim.admin.setRoleStatements({ accountId: a.id, roleName: MEMBER_ROLE, statements: statements(stack(a.id), 'MemberRole') });
    members++;
  }
  expect(members).toBeGreaterThan(1);
  sim.admin.actionsUsed({ reset: true });
}

describe('the client factory refuses undeclared actions', () => {
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

  test('iam:ListRoles, which no part of the connector declares, fails UNDECLARED_AWS_ACTION before a request is sent', async () => {
    expect(declaredActions().has('iam:ListRoles')).toBe(true); // the IAM source's fallback
    expect(declaredActions().has('iam:DeleteRole')).toBe(false);
    const { session } = awsLayer(demoIntegration());
    const iam = await session.memberClient(IAMClient, '333333333301');
    await expect(iam.send(new ListRolesCommand({ MaxItems: 1 }))).resolves.toBeDefined();
    const before = sim.stats.snapshot().total.calls;
    const { DeleteRoleCommand } = await import('@aws-sdk/client-iam');
    const err = await iam.send(new DeleteRoleCommand({ RoleName: 'app-deployer' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('UNDECLARED_AWS_ACTION');
    expect((err as Error).message).toContain('iam:DeleteRole');
    expect(sim.stats.snapshot().total.calls).toBe(before);
    expect(sim.admin.getRole({ accountId: '333333333301', roleName: 'app-deployer' })).toBeDefined();
  });
});

describe('the templates grant exactly the declared actions', () => {
  test('every declared action names a service and an operation; needs are unique', () => {
    const ids = allNeeds().map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const a of declaredActions()) expect(a).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
  });

  for (const { file, role, scope } of ROLES) {
    test(`${file} ${role} (${scope}): for each of the 16 switch combinations, granted = declared`, () => {
      const diffs: string[] = [];
      for (const s of COMBOS) {
        const statements = roleStatements(evaluate(file, s), role);
        for (const st of statements) {
          expect({ where: `${file} ${role} ${label(s)}`, notAction: st.NotAction, notResource: st.Effect === 'Allow' ? st.NotResource : undefined }).toEqual({ where: `${file} ${role} ${label(s)}` });
          for (const a of asList(st.Action)) expect({ action: a, literal: /^[a-z0-9-]+:[A-Za-z0-9]+$/.test(a) }).toEqual({ action: a, literal: true });
        }
        const granted = allowedActions(statements);
        const required = requiredActions(s)[scope];
        const missing = sorted([...required].filter((a) => !granted.has(a)));
        const extra = sorted([...granted].filter((a) => !required.has(a)));
        if (missing.length || extra.length) diffs.push(`${label(s)}: missing ${missing.join(' ') || '-'}; extra ${extra.join(' ') || '-'}`);
      }
      expect(diffs).toEqual([]);
    });
  }

  test('a read-only install gets reads only (and the role assumptions it needs)', () => {
    const readOnly: Switches = { manage: false, ec2: true, boundaries: true, audit: true };
    for (const { file, role } of ROLES) {
      const granted = sorted(allowedActions(roleStatements(evaluate(file, readOnly), role)));
      const writes = granted.filter((a) => !/^[a-z0-9-]+:(List|Get|Describe|Search|LookupEvents)/.test(a) && a !== 'sts:AssumeRole');
      expect({ file, role, writes }).toEqual({ file, role, writes: [] });
    }
  });

  test('the member role in the management account is the StackSet member role, switch for switch', () => {
    for (const s of COMBOS) {
      const a = roleStatements(evaluate('management-roles.yaml', s), 'MemberRole');
      const b = roleStatements(evaluate('member-role.yaml', s), 'MemberRole');
      expect({ s: label(s), actions: sorted(allowedActions(a)) }).toEqual({ s: label(s), actions: sorted(allowedActions(b)) });
    }
  });

  test('every ARN uses ${AWS::Partition}', () => {
    for (const file of new Set(ROLES.map((r) => r.file))) {
      const text = readFileSync(join(CFN, file), 'utf8');
      expect({ file, literal: text.match(/arn:aws(-[a-z-]+)?:/g) ?? [] }).toEqual({ file, literal: [] });
    }
  });

  test('trust: the management role trusts only the connector role and requires the ExternalId; the member role trusts only the management role', () => {
    const all: Switches = { manage: true, ec2: true, boundaries: true, audit: true };
    const e = evaluate('management-roles.yaml', all, { ConnectorRoleArn: 'arn:aws:iam::999999999999:role/ConnectorTaskRole' });
    const res = e.resources();
    const trustOf = (id: string) => asList((res.get(id)!.Properties['AssumeRolePolicyDocument'] as { Statement: unknown }).Statement) as Array<{ Effect: string; Principal: Record<string, unknown>; Action: unknown; Condition?: Record<string, Record<string, unknown>> }>;
    const mgmt = trustOf('ManagementRole').filter((s) => s.Effect === 'Allow');
    expect(mgmt).toHaveLength(1);
    expect(asList(mgmt[0]!.Principal['AWS'])).toEqual(['arn:aws:iam::999999999999:role/ConnectorTaskRole']);
    expect(asList(mgmt[0]!.Action as string)).toEqual(['sts:AssumeRole']);
    expect(mgmt[0]!.Condition?.['StringEquals']?.['sts:ExternalId']).toBe(e.params['ExternalId']);
    for (const file of ['management-roles.yaml', 'member-role.yaml']) {
      const m = file === 'member-role.yaml' ? evaluate(file, all, { ManagementAccountId: DEMO_MANAGEMENT_ACCOUNT }) : e;
      const member = asList((m.resources().get('MemberRole')!.Properties['AssumeRolePolicyDocument'] as { Statement: unknown }).Statement) as Array<{ Effect: string; Principal: Record<string, unknown> }>;
      const allow = member.filter((s) => s.Effect === 'Allow');
      expect(allow).toHaveLength(1);
      const principals = asList(allow[0]!.Principal['AWS'] as string);
      expect(principals).toHaveLength(1);
      expect(principals[0]).toMatch(new RegExp(`^(arn:aws:iam::(123456789012|${DEMO_MANAGEMENT_ACCOUNT}):role/${m.params['ManagementRoleName']}|<ManagementRole\\.Arn>)$`));
    }
  });

  test('the management role may assume only the member role name, only inside the organization', () => {
    const e = evaluate('management-roles.yaml', COMBOS[0]!);
    const assume = roleStatements(e, 'ManagementRole').filter((s) => s.Effect === 'Allow' && asList(s.Action).includes('sts:AssumeRole'));
    expect(assume).toHaveLength(1);
    expect(asList(assume[0]!.Action)).toEqual(['sts:AssumeRole']);
    expect(asList(assume[0]!.Resource)).toEqual([`arn:aws:iam::*:role/${e.params['MemberRoleName']}`]);
    expect(assume[0]!.Condition?.['StringEquals']?.['aws:ResourceOrgID']).toBe(e.params['OrganizationId']);
    const connector = roleStatements(evaluate('connector-ecs.yaml', COMBOS[0]!, { ManagementRoleArn: 'arn:aws:iam::111111111111:role/AccessConnectorManagement' }), 'ConnectorTaskRole')
      .filter((s) => s.Effect === 'Allow' && asList(s.Action).includes('sts:AssumeRole'));
    expect(connector.flatMap((s) => asList(s.Resource))).toEqual(['arn:aws:iam::111111111111:role/AccessConnectorManagement']);
  });

  test('the ledger table statements name only the ledger table', () => {
    const manage: Switches = { manage: true, ec2: false, boundaries: false, audit: false };
    for (const { file, role } of ROLES.filter((r) => r.scope === 'connector')) {
      const ddb = roleStatements(evaluate(file, manage), role).filter((s) => s.Effect === 'Allow' && asList(s.Action).some((a) => a.startsWith('dynamodb:')));
      expect(ddb.length).toBeGreaterThan(0);
      for (const s of ddb) for (const r of asList(s.Resource)) expect({ file, r }).toEqual({ file, r: expect.stringMatching(/^(arn:aws:dynamodb:us-east-1:123456789012:table\/[\w.-]+(\/index\/\*)?|<LedgerTable\.Arn>)$/) });
    }
  });

  test('with KmsKeyArn, the connector role may use that key for the ledger table, through DynamoDB only', () => {
    const key = 'arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';
    const manage: Switches = { manage: true, ec2: false, boundaries: false, audit: false };
    for (const { file, role } of ROLES.filter((r) => r.scope === 'connector')) {
      const kms = (s: Switches, extra: Record<string, string>) =>
        roleStatements(evaluate(file, s, extra), role).filter((st) => asList(st.Action).some((a) => a.startsWith('kms:')));
      const withKey = kms(manage, { KmsKeyArn: key });
      expect({ file, statements: withKey }).toEqual({
        file,
        statements: [{
          Sid: 'LedgerTableKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'], Resource: key,
          Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com' } },
        }],
      });
      // No key, or no ledger (read-only): no kms action at all.
      expect({ file, none: [...kms(manage, {}), ...kms(COMBOS[0]!, { KmsKeyArn: key })] }).toEqual({ file, none: [] });
    }
  });

  test('the SSM document the member stack installs is exactly src/access/documents/local-user.json', () => {
    const e = evaluate('member-role.yaml', { manage: true, ec2: true, boundaries: false, audit: false }, { PrimaryRegion: 'eu-west-1' });
    const res = e.resources();
    expect(res.has('MemberRole')).toBe(false); // IAM is global: the role only in the primary region
    const doc = [...res.values()].find((r) => r.Type === 'AWS::SSM::Document')!;
    expect(doc.Properties['Name']).toBe('AccessConnector-LocalUser');
    expect(doc.Properties['DocumentType']).toBe('Command');
    expect(doc.Properties['Content']).toEqual(JSON.parse(readFileSync(resolve(REPO_ROOT, 'src/access/documents/local-user.json'), 'utf8')));
    const off = evaluate('member-role.yaml', { manage: false, ec2: true, boundaries: false, audit: false }).resources();
    expect([...off.values()].some((r) => r.Type === 'AWS::SSM::Document')).toBe(false);
  });
});

// ---- 3. the connector with exactly what the templates grant ------------------------------

const TABLE = 'access-connector-ledger';
const ROLE_NAMES: Record<Scope, string> = { connector: BASE_ROLE, management: MANAGEMENT_ROLE, member: MEMBER_ROLE };
const SCOPE_OF_ROLE = new Map<string, Scope>(SCOPES.map((s) => [ROLE_NAMES[s], s]));

/** Actions declared but not called by the scenario below, and why that is fine. */
const NOT_EXERCISED: Record<string, string> = {
  'connector dynamodb:UpdateItem': 'renews a ledger lock held for more than 30 s (test/access/ledger.test.ts covers it)',
  'management resource-explorer-2:ListViews': 'only when the default view of the aggregator region is filtered or missing (test/sync/ec2-resources.test.ts)',
  'member ssm:ListTagsForResource': 'only for hybrid (mi-) managed nodes, whose tags DescribeInstanceInformation omits (test/sync/ec2-resources.test.ts)',
  'management sso:ListAccountAssignmentCreationStatus': 'only when assignment operations outlast their first status read while others wait (test/access/assignment-polling.test.ts)',
  'management sso:ListAccountAssignmentDeletionStatus': 'the same for deletions',
};

function cli(sim: AwsSimulator, args: string[], env: Record<string, string> = { LEDGER_TABLE: TABLE }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { env: { PATH: process.env['PATH'] ?? '', ...sim.env, LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

describe('the connector works with exactly what the templates grant', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-lp-'));
  let sim: AwsSimulator;
  const file = (name: string, content: unknown) => {
    const f = join(dir, `${name}.json`);
    writeFileSync(f, JSON.stringify(content));
    return f;
  };
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 20 } });
  });
  afterAll(async () => {
    await sim.close();
  });

  const grantTemplates = (s: Switches) => giveTemplatePolicies(sim, s);
  const refused = () => sim.admin.actionsUsed().filter((u) => !u.allowed && SCOPE_OF_ROLE.has(u.role)).map((u) => `${u.role} ${u.action}`);
  const used = () => sim.admin.actionsUsed().filter((u) => u.allowed && SCOPE_OF_ROLE.has(u.role)).map((u) => `${SCOPE_OF_ROLE.get(u.role)!} ${u.action}`);

  async function ok(args: string[], env?: Record<string, string>): Promise<string> {
    const r = await cli(sim, args, env);
    expect({ args: args.join(' '), code: r.code, stderr: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ args: args.join(' '), code: 0, stderr: '' });
    return r.stdout;
  }

  test('read-only install: full sync and doctor, no refused call, no write', async () => {
    const s: Switches = { manage: false, ec2: false, boundaries: false, audit: false };
    grantTemplates(s);
    const integ = file('ro', demoIntegration({ resourceTypes: ['sso', 'iam', 'resources'] }));
    // A read-only install has no ledger table, so no LEDGER_TABLE.
    await ok(['sync', '--integration', integ, '--out', join(dir, 'ro.ndjson'), '--quiet'], {});
    const doctor = await cli(sim, ['doctor', '--integration', integ, '--json'], {});
    expect(refused()).toEqual([]);
    expect(doctor.stdout).not.toContain('"status": "fail"');
    const required = requiredActions(s);
    for (const u of used()) {
      const [scope, action] = u.split(' ') as [Scope, string];
      expect({ u, declared: required[scope].has(action) || action === 'sts:GetCallerIdentity' }).toEqual({ u, declared: true });
    }
  }, 120_000);

  test('everything on: syncs, doctor, and a grant and revoke of every access kind; nothing refused; every declared action used', async () => {
    const s: Switches = { manage: true, ec2: true, boundaries: true, audit: true };
    grantTemplates(s);
    const world = sim.world;
    const integ = file('all', demoIntegration({ enableAudit: true, ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' }));
    await ok(['sync', '--integration', integ, '--out', join(dir, 'full.ndjson'), '--quiet']);
    await ok(['sync', '--integration', integ, '--params', file('delta', { mode: 'delta', since: new Date(Date.now() - 3600_000).toISOString() }), '--out', join(dir, 'delta.ndjson'), '--quiet']);
    // --role reads the role's opt-in tag (iam:GetRole, granted with manage).
    expect(await ok(['doctor', '--integration', integ, '--json', '--role', `arn:aws:iam::333333333301:role/app-deployer`])).toContain('"id": "role-opt-in"');
    // Without an aggregator index, resources are read through each account's own index (member role).
    sim.admin.setIndexType({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: 'us-east-1', type: 'LOCAL' });
    await ok(['sync', '--integration', file('resources', demoIntegration({ resourceTypes: ['resources'] })), '--out', join(dir, 'local.ndjson'), '--quiet']);
    sim.admin.setIndexType({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: 'us-east-1', type: 'AGGREGATOR' });

    const ssoUser = (n: string) => [...world.sso!.users.values()].find((u) => u.UserName === `${n}@example.com`)!.UserId;
    const ssoGroup = (n: string) => [...world.sso!.groups.values()].find((g) => g.DisplayName === n)!.GroupId;
    const ps = (n: string) => [...world.sso!.permissionSets.values()].find((p) => p.name === n)!.arn;
    const instance = (acct: string, region: string, name: string) => [...world.accounts.get(acct)!.ssm.get(region)!.instances.values()].find((i) => i.name === name)!.id;
    const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const len = (b: Buffer) => { const n = Buffer.alloc(4); n.writeUInt32BE(b.length); return n; };
    const key = `ssh-ed25519 ${Buffer.concat([len(Buffer.from('ssh-ed25519')), Buffer.from('ssh-ed25519'), len(raw), raw]).toString('base64')}`;
    const P = '333333333301';
    const D = '444444444401';
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const grants = [
      { accessKind: 'sso.accountAssignment', principal: { type: 'user', id: ssoUser('erin') }, target: { accountId: P, permissionSetArn: ps('ReadOnly') } },
      { accessKind: 'sso.groupMembership', principal: { type: 'user', id: ssoUser('dave') }, target: { groupId: ssoGroup('ReadOnly') } },
      { accessKind: 'sso.user', principal: { type: 'user', id: 'zoe@example.com' }, target: { displayName: 'Zoe Zhang', givenName: 'Zoe', familyName: 'Zhang' } },
      { accessKind: 'iam.groupMembership', principal: { type: 'user', id: `arn:aws:iam::${P}:user/auditor` }, target: { groupName: 'Operators' } },
      { accessKind: 'iam.roleAssume', principal: { type: 'user', id: `arn:aws:iam::${P}:user/ci-bot` }, target: { roleArn: `arn:aws:iam::${D}:role/app-deployer` } },
      { accessKind: 'iam.permissionsBoundary', principal: { type: 'role', id: `arn:aws:iam::${P}:role/app-deployer` }, target: { boundaryPolicyArn: `arn:aws:iam::${P}:policy/AccessConnectorBoundary` } },
      { accessKind: 'iam.permissionsBoundary', principal: { type: 'user', id: `arn:aws:iam::${P}:user/ci-bot` }, target: { boundaryPolicyArn: `arn:aws:iam::${P}:policy/AccessConnectorBoundary` } },
      { accessKind: 'iam.policyAttachment', principal: { type: 'role', id: `arn:aws:iam::${P}:role/app-deployer` }, target: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } },
      { accessKind: 'iam.policyAttachment', principal: { type: 'user', id: `arn:aws:iam::${P}:user/auditor` }, target: { policyArn: `arn:aws:iam::${P}:policy/DeployPolicy` } },
      { accessKind: 'iam.policyAttachment', principal: { type: 'group', id: `arn:aws:iam::${P}:group/Auditors` }, target: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } },
      { accessKind: 'ec2.ssmSession', principal: { type: 'role', id: `arn:aws:iam::${P}:role/app-deployer` }, target: { accountId: P, region: 'us-east-1', instanceIds: [instance(P, 'us-east-1', 'web-1')] } },
      { accessKind: 'ec2.ssmSession', principal: { type: 'user', id: ssoUser('carol') }, target: { accountId: P, region: 'us-east-1', instanceIds: [instance(P, 'us-east-1', 'web-2')] } },
      { accessKind: 'ec2.localUser', principal: { type: 'user', id: 'id-alice', userName: 'alice@example.com' }, target: { accountId: P, region: 'us-east-1', instanceIds: [instance(P, 'us-east-1', 'web-1')], sshPublicKey: key } },
    ];
    // The policy file's OU rules read the account's OU path (organizations:ListParents).
    const policy = file('policy', { version: 1, organizationalUnits: { deny: ['ou-zzzz-zzzzzzzz'] } });
    const env = { LEDGER_TABLE: TABLE, CONNECTOR_POLICY_FILE: policy };
    const later = new Date(Date.now() + 7200_000).toISOString();
    for (const [i, g] of grants.entries()) {
      const params = file(`grant-${i}`, { grantId: `lp-${i}`, expiresAt, ...g });
      await ok(['grant', '--integration', integ, '--params', params], env);
      if (g.accessKind === 'ec2.ssmSession') {
        // The same grant with a later expiry extends it (a permission set is re-provisioned),
        // and a live session of the principal is ended by the revoke.
        await ok(['grant', '--integration', integ, '--params', file(`extend-${i}`, { grantId: `lp-${i}`, expiresAt: later, ...g })], env);
        if (g.principal.type === 'role') sim.admin.startSsmSession({ accountId: P, region: 'us-east-1', target: g.target.instanceIds![0]!, owner: `arn:aws:sts::${P}:assumed-role/app-deployer/alice` });
      }
      await ok(['revoke', '--integration', integ, '--params', params], env);
    }
    await ok(['ledger', 'list']);
    await ok(['ledger', 'show', 'lp-0']);
    await ok(['revoke', '--expired']);
    expect(refused()).toEqual([]);

    const required = requiredActions(s);
    const calledBy = new Set(used());
    const undeclared = [...calledBy].filter((u) => { const [scope, action] = u.split(' ') as [Scope, string]; return !required[scope].has(action) && action !== 'sts:GetCallerIdentity'; });
    expect(undeclared).toEqual([]);
    const unused = SCOPES.flatMap((scope) => [...required[scope]].filter((a) => !calledBy.has(`${scope} ${a}`)).map((a) => `${scope} ${a}`));
    expect(sorted(unused)).toEqual(sorted(Object.keys(NOT_EXERCISED)));
  }, 240_000);
});

// ---- 4. writes scoped by tags, as the simulator evaluates the template conditions ----------

const ROLE_WRITES = ['iam:DeleteRolePolicy', 'iam:PutRolePolicy', 'iam:UpdateAssumeRolePolicy'];
const PERMISSION_SET_WRITES = ['sso:CreatePermissionSet', 'sso:DeletePermissionSet', 'sso:ProvisionPermissionSet', 'sso:PutInlinePolicyToPermissionSet'];

describe('role and permission-set writes are scoped by tags', () => {
  test('every statement allowing a role write carries the opt-in tag condition (none with JitRoles=any); permission-set writes never on "*"', () => {
    for (const s of COMBOS.filter((c) => c.manage)) {
      for (const { file, role } of ROLES.filter((r) => r.scope === 'member')) {
        for (const jit of ['tagged', 'any']) {
          const writes = roleStatements(evaluate(file, s, { JitRoles: jit }), role).filter((st) => st.Effect === 'Allow' && asList(st.Action).some((a) => ROLE_WRITES.includes(a)));
          expect(writes.length).toBeGreaterThan(0);
          for (const st of writes) {
            expect({ file, jit, actions: asList(st.Action).filter((a) => !ROLE_WRITES.includes(a)) }).toEqual({ file, jit, actions: [] });
            expect({ file, jit, condition: st.Condition }).toEqual({ file, jit, condition: jit === 'any' ? undefined : { StringEquals: { 'aws:ResourceTag/access-connector-jit': 'enabled' } } });
          }
        }
      }
      const mgmt = roleStatements(evaluate('management-roles.yaml', s), 'ManagementRole').filter((st) => st.Effect === 'Allow' && asList(st.Action).some((a) => PERMISSION_SET_WRITES.includes(a)));
      expect(mgmt.length).toBe(s.ec2 ? 3 : 0);
      for (const st of mgmt) {
        expect(asList(st.Resource)).not.toContain('*');
        if (asList(st.Resource).some((r) => r.includes(':permissionSet/'))) expect(JSON.stringify(st.Condition)).toContain('access-connector-managed');
      }
    }
  });

  describe('with the simulator evaluating the template policies', () => {
    let sim: AwsSimulator;
    let restore: () => void;
    const P = '333333333301';
    const manageEc2: Switches = { manage: true, ec2: true, boundaries: false, audit: false };
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }] });
    const trustOf = (role: string) => sim.admin.getRole({ accountId: P, roleName: role })!.trustPolicy as string;
    beforeAll(async () => {
      sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 0 } });
      restore = useAwsEnv(sim.env);
    });
    afterAll(async () => {
      destroyAwsLayers();
      restore();
      await sim.close();
    });

    // Regression: the member role could rewrite the trust policy and inline policies of any role.
    test('the member role changes trust and inline policies only of roles tagged access-connector-jit=enabled', async () => {
      giveTemplatePolicies(sim, manageEc2);
      const iam = await awsLayer(demoIntegration()).session.memberClient(IAMClient, P);
      expect(sim.admin.getRole({ accountId: P, roleName: 'lambda-exec' })!.tags).toEqual([]);
      // Not opted in: every write refused by IAM, reads allowed.
      expect((await iam.send(new GetRoleCommand({ RoleName: 'lambda-exec' }))).Role?.RoleName).toBe('lambda-exec');
      expect(await codeOf(iam.send(new PutRolePolicyCommand({ RoleName: 'lambda-exec', PolicyName: 'jit', PolicyDocument: policy })))).toBe('AWS_ACCESS_DENIED');
      expect(await codeOf(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'lambda-exec', PolicyDocument: trustOf('lambda-exec') })))).toBe('AWS_ACCESS_DENIED');
      expect(await codeOf(iam.send(new DeleteRolePolicyCommand({ RoleName: 'lambda-exec', PolicyName: 'jit' })))).toBe('AWS_ACCESS_DENIED');
      expect(sim.admin.getRole({ accountId: P, roleName: 'lambda-exec' })!.inline).toEqual({});
      // Opted in: the same writes succeed.
      await iam.send(new PutRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'jit', PolicyDocument: policy }));
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: trustOf('app-deployer') }));
      await iam.send(new DeleteRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'jit' }));
      // The tag value must be exactly "enabled".
      sim.admin.tagRole({ accountId: P, roleName: 'lambda-exec', tags: { 'access-connector-jit': 'yes' } });
      expect(await codeOf(iam.send(new PutRolePolicyCommand({ RoleName: 'lambda-exec', PolicyName: 'jit', PolicyDocument: policy })))).toBe('AWS_ACCESS_DENIED');
      expect(refusedBy(sim, 'member').sort()).toEqual(['iam:DeleteRolePolicy', 'iam:PutRolePolicy', 'iam:UpdateAssumeRolePolicy']);
      // JitRoles=any lifts the condition, never the deny on the protected roles.
      giveTemplatePolicies(sim, manageEc2, { JitRoles: 'any' });
      await iam.send(new PutRolePolicyCommand({ RoleName: 'lambda-exec', PolicyName: 'jit', PolicyDocument: policy }));
      await iam.send(new DeleteRolePolicyCommand({ RoleName: 'lambda-exec', PolicyName: 'jit' }));
      sim.admin.tagRole({ accountId: P, roleName: 'OrganizationAccountAccessRole', tags: { 'access-connector-jit': 'enabled' } });
      expect(await codeOf(iam.send(new PutRolePolicyCommand({ RoleName: 'OrganizationAccountAccessRole', PolicyName: 'jit', PolicyDocument: policy })))).toBe('AWS_ACCESS_DENIED');
      expect(refusedBy(sim, 'member')).toEqual(['iam:PutRolePolicy']);
    });

    // Regression: the management role could create, edit and provision any permission set.
    test('the management role creates permission sets only with the tag access-connector-managed=true, and changes only tagged ones', async () => {
      giveTemplatePolicies(sim, manageEc2);
      const sso = await awsLayer(demoIntegration()).session.managementClient(SSOAdminClient, 'us-east-1');
      const InstanceArn = sim.world.sso!.arn;
      const theirs = [...sim.world.sso!.permissionSets.values()].find((p) => p.name === 'ReadOnly')!;
      const before = { inline: theirs.inline, count: sim.world.sso!.permissionSets.size };
      // The organization's own permission set: no write at all.
      expect(await codeOf(sso.send(new PutInlinePolicyToPermissionSetCommand({ InstanceArn, PermissionSetArn: theirs.arn, InlinePolicy: policy })))).toBe('AWS_ACCESS_DENIED');
      expect(await codeOf(sso.send(new ProvisionPermissionSetCommand({ InstanceArn, PermissionSetArn: theirs.arn, TargetType: 'AWS_ACCOUNT', TargetId: P })))).toBe('AWS_ACCESS_DENIED');
      expect(await codeOf(sso.send(new DeletePermissionSetCommand({ InstanceArn, PermissionSetArn: theirs.arn })))).toBe('AWS_ACCESS_DENIED');
      // Creating one without the tag, with another value, or with a tag besides it.
      const tag = { Key: 'access-connector-managed', Value: 'true' };
      expect(await codeOf(sso.send(new CreatePermissionSetCommand({ InstanceArn, Name: 'untagged' })))).toBe('AWS_ACCESS_DENIED');
      expect(await codeOf(sso.send(new CreatePermissionSetCommand({ InstanceArn, Name: 'wrong-value', Tags: [{ ...tag, Value: 'false' }] })))).toBe('AWS_ACCESS_DENIED');
      expect(await codeOf(sso.send(new CreatePermissionSetCommand({ InstanceArn, Name: 'extra-tag', Tags: [tag, { Key: 'owner', Value: 'x' }] })))).toBe('AWS_ACCESS_DENIED');
      expect({ inline: theirs.inline, count: sim.world.sso!.permissionSets.size }).toEqual(before);
      // One of ours: created, changed, provisioned and deleted.
      const ours = (await sso.send(new CreatePermissionSetCommand({ InstanceArn, Name: 'ours', Tags: [tag] }))).PermissionSet!.PermissionSetArn!;
      await sso.send(new PutInlinePolicyToPermissionSetCommand({ InstanceArn, PermissionSetArn: ours, InlinePolicy: policy }));
      await sso.send(new ProvisionPermissionSetCommand({ InstanceArn, PermissionSetArn: ours, TargetType: 'AWS_ACCOUNT', TargetId: P }));
      await sso.send(new DeletePermissionSetCommand({ InstanceArn, PermissionSetArn: ours }));
      expect(sim.world.sso!.permissionSets.has(ours)).toBe(false);
      expect(refusedBy(sim, 'management').sort()).toEqual(PERMISSION_SET_WRITES);
    });
  });
});

/** Actions refused to the management or member role since the last reset. */
function refusedBy(sim: AwsSimulator, scope: 'management' | 'member'): string[] {
  return sim.admin.actionsUsed().filter((u) => !u.allowed && u.role === ROLE_NAMES[scope]).map((u) => u.action);
}
