// Least privilege, proved three ways:
//  1. the declarations are complete: the client factory refuses any action no part of the
//     connector declares (UNDECLARED_AWS_ACTION), in this suite as in production;
//  2. the templates grant exactly the declared actions, identity by identity, for each of
//     the 16 combinations of install switches: nothing missing, nothing extra;
//  3. the connector really works with nothing more than the templates grant: the AWS
//     simulator gives each of its three roles exactly the evaluated template policy, and a
//     full sync, a delta sync, doctor, and a grant and revoke of every access kind run
//     without one refused call; what they call is compared with what is declared.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { ListRolesCommand, IAMClient } from '@aws-sdk/client-iam';
import { ConnectorError } from '../../src/errors.js';
import { SCOPES, allNeeds, declaredActions, requiredActions, type Scope, type Switches } from '../../src/permissions.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { BASE_ROLE, MANAGEMENT_ROLE, MEMBER_ROLE } from '../sim/aws/worlds/builder.js';
import { Evaluated, allowedActions, asList, loadTemplate, roleStatements, type Template } from '../helpers/cfn.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
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

  function grantTemplates(s: Switches): void {
    const per: Record<Scope, Set<string>> = {
      connector: allowedActions(roleStatements(evaluate('connector-ecs.yaml', s), 'ConnectorTaskRole')),
      management: allowedActions(roleStatements(evaluate('management-roles.yaml', s), 'ManagementRole')),
      member: allowedActions(roleStatements(evaluate('member-role.yaml', s), 'MemberRole')),
    };
    for (const scope of SCOPES) expect(sim.admin.setPermissionsOfRole({ roleName: ROLE_NAMES[scope], allow: [...per[scope]] })).toBeGreaterThan(0);
    sim.admin.actionsUsed({ reset: true });
  }
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
    await ok(['doctor', '--integration', integ, '--json']);
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
      { accessKind: 'iam.policyAttachment', principal: { type: 'role', id: `arn:aws:iam::${P}:role/lambda-exec` }, target: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } },
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
