// Reliability: a control plane that wants more than the customer allows. With a policy file
// that pins the integration and denies AdministratorAccess (docs/policy.md), it tries every
// sidestep docs/policy.md lists, end to end: other member roles and management roles, admin
// under other names (permission sets, Identity Center and IAM groups, roles, boundaries),
// the management account, a denied OU, EC2 access in denied accounts, EC2 access on
// instances whose instance-profile role is admin (a shell there can act as that role) or
// whose tags the policy denies, and principals outside the policy's list, including ones
// that claim another person's name. Each attempt must end in job.rejected `policy` or
// POLICY_DENIED, and AWS must not see a single write. Then revokes relabelled as another
// kind, another integration or other access than their grant: each is refused before any
// AWS call, and the grant's access stays until its honest revoke.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobInput } from '../sim/control-plane/server.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration, demoWorld } from '../sim/aws/worlds/demo.js';
import { addAssignment, ssmRegion, type ManagedInstance } from '../sim/aws/world.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { report, size } from './report.js';

const K = 10;
const TABLE = 'access-connector-ledger';
const MGMT = '111111111111';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const OPEN_ACCOUNT = '333333333302';

/** The demo organization plus admin power under other names, as real estates have it. */
function hostileWorld() {
  const w = demoWorld();
  const sso = w.sso!;
  const acct = w.accounts.get(OPEN_ACCOUNT)!;
  const t = Date.now();
  const helpdesk = { arn: `${sso.arn.replace(':instance/', ':permissionSet/')}/ps-4e1fde5c0ffee001`, name: 'Helpdesk', created: t, sessionDuration: 'PT1H', managed: [ADMIN], customerManaged: [] };
  sso.permissionSets.set(helpdesk.arn, helpdesk);
  const platform = `${sso.identityStoreId.slice(2, 12)}-5a7f0000-0000-4000-8000-000000000001`;
  sso.groups.set(platform, { GroupId: platform, DisplayName: 'Platform' });
  addAssignment(sso, { accountId: OPEN_ACCOUNT, permissionSetArn: helpdesk.arn, principalType: 'GROUP', principalId: platform });
  acct.iam.groups.set('platform-admins', { name: 'platform-admins', id: 'AGPAHOSTILE0000000001', path: '/', created: t, attached: [ADMIN], members: [] });
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OPEN_ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });
  // Opted in for just-in-time access, so that the policy file, not the missing tag, is what refuses it.
  acct.iam.roles.set('platform-breakglass', { name: 'platform-breakglass', id: 'AROAHOSTILE0000000001', path: '/', created: t, trust, maxSession: 3600, attached: [ADMIN],
    tags: [{ Key: 'access-connector-jit', Value: 'enabled' }] });
  acct.iam.roles.set('AdministratorAccess', { name: 'AdministratorAccess', id: 'AROAHOSTILE0000000002', path: '/', created: t, trust, maxSession: 3600, attached: [ADMIN] });
  const everything = `arn:aws:iam::${OPEN_ACCOUNT}:policy/AllowEverything`;
  acct.iam.policies.set(everything, { arn: everything, name: 'AllowEverything', id: 'ANPAHOSTILE0000000001', path: '/', created: t, updated: t,
    document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) });
  // Instances whose instance profile carries admin power (under another name, or a denied
  // role), one tagged as production, and one harmless: EC2 access is access as the role.
  const box = (id: string, name: string, iamRole: string, tags: Record<string, string> = {}): ManagedInstance => ({
    id, name, platform: 'Linux', platformName: 'Amazon Linux', platformVersion: '2023', ip: '10.9.0.1', computerName: name, ping: 'Online', registered: t,
    iamRole, tags: Object.entries({ Name: name, ...tags }).map(([Key, Value]) => ({ Key, Value })), commands: [], osUsers: {},
  });
  const region = ssmRegion(acct, 'us-east-1');
  for (const i of [
    box('i-0b0ca1c0ffee00001', 'ops-breakglass', 'platform-breakglass'),
    box('i-0b0ca1c0ffee00002', 'ops-orgaccess', 'OrganizationAccountAccessRole'),
    box('i-0b0ca1c0ffee00003', 'ops-prod', 'AmazonSSMRoleForInstancesQuickSetup', { env: 'prod' }),
  ]) region.instances.set(i.id, i);
  return w;
}

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;
beforeAll(async () => {
  sim = await startAwsSimulator({ world: hostileWorld(), timeScale: K, sso: { assignmentDelayMs: 1000 } });
  cp = await ReferenceControlPlane.start({ tokens: ['hostile-token'] });
  const ou = (name: string) => [...sim.world.ous.values()].find((o) => o.name === name)!.id;
  const policy = {
    version: 1,
    maxDurationMinutes: 480,
    integrations: [{ id: 'int-demo', roleArns: [`arn:aws:iam::${MGMT}:role/AccessConnectorManagement`], externalIdRequired: true, memberRoleNames: ['AccessConnectorMember'] }],
    accounts: { deny: [MGMT, '333333333301'] },
    organizationalUnits: { deny: [ou('Development')] },
    permissionSets: { deny: ['AdministratorAccess'] },
    roles: { deny: ['AdministratorAccess', 'OrganizationAccountAccessRole'] },
    boundaries: { allow: ['arn:aws:iam::*:policy/AccessConnectorBoundary'], deny: ['AdministratorAccess'] },
    deniedManagedPolicies: ['arn:*:iam::aws:policy/AdministratorAccess', 'arn:*:iam::aws:policy/IAMFullAccess'],
    instances: { deny: ['env=prod'] },
    principals: { allow: ['erin@example.com', 'judy@example.com', 'Developers', 'arn:aws:iam::*:user/ci-bot'], deny: ['judy@*'] },
  };
  const file = join(mkdtempSync(join(tmpdir(), 'ac-hostile-')), 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  connector = new ConnectorProcess({
    ...connectorEnv(cp.url, { CONNECTOR_TOKEN: 'hostile-token', LEDGER_TABLE: TABLE, CONNECTOR_POLICY_FILE: file, MAX_CONCURRENT_JOBS: '16', AWS_QUOTA_MULTIPLIER: String(K), LOG_LEVEL: 'info' }),
    ...sim.env,
  });
  await cp.waitForSession(15_000);
});
afterAll(async () => {
  await connector.stop();
  await cp.close();
  await sim.close();
});

/** Every mutating call AWS received, refused ones included, and the ledger's writes. */
function writes(): number {
  const ops = sim.stats.snapshot().byOperation;
  const names = sim.runtime.services.flatMap((s) => [...s.mutating].map((op) => `${s.name}:${op}`));
  names.push('dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:TransactWriteItems');
  return names.reduce((n, k) => n + (ops[k]?.calls ?? 0), 0);
}
/** What access exists: assignments, memberships, IAM principals' groups, trusts, boundaries, OS users. */
function accessState(): string {
  const w = sim.world;
  const sso = w.sso!;
  const iam = [...w.accounts.values()].map((a) => ({
    id: a.id,
    roles: [...a.iam.roles.values()].map((r) => [r.name, r.trust, r.boundary ?? null, r.attached ?? [], Object.keys(r.inline ?? {})]),
    users: [...a.iam.users.values()].map((u) => [u.name, u.boundary ?? null]),
    groups: [...a.iam.groups.values()].map((g) => [g.name, g.members]),
    osUsers: [...a.ssm.values()].flatMap((r) => [...r.instances.values()].map((i) => [i.id, Object.keys(i.osUsers), i.commands.length])),
  }));
  return JSON.stringify({ assignments: [...sso.assignments.keys()].sort(), memberships: [...sso.memberships.values()].map((m) => `${m.GroupId}|${m.UserId}`).sort(), permissionSets: [...sso.permissionSets.keys()].sort(), iam });
}

describe('a hostile control plane against a policy file', () => {
  test('every sidestep is refused (job.rejected policy or POLICY_DENIED) and AWS sees no write', async () => {
    const rounds = size(1, 5);
    const sso = sim.world.sso!;
    const user = (name: string) => [...sso.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
    const group = (name: string) => [...sso.groups.values()].find((g) => g.DisplayName === name)!.GroupId;
    const ps = (name: string) => [...sso.permissionSets.values()].find((p) => p.name === name)!.arn;
    const instance = (accountId: string, name: string) => [...sim.world.accounts.get(accountId)!.ssm.get('us-east-1')!.instances.values()].find((i) => i.name === name)!.id;
    const erin = { type: 'user', id: user('erin'), userName: 'erin@example.com' };
    const iamUser = (accountId: string, name = 'ci-bot') => ({ type: 'user', id: `arn:aws:iam::${accountId}:user/${name}` });
    const role = (accountId: string, name: string) => `arn:aws:iam::${accountId}:role/${name}`;
    const sshKey = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString('base64')}`;
    // The control plane also turns on the connector's own switch for the management account,
    // so that the customer's policy is the only thing in the way.
    const integration = demoIntegration({ allowManagementAccount: true });
    const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
    let seq = 0;
    const grant = (accessKind: string, principal: object, target: object, over: Record<string, unknown> = {}): JobInput =>
      ({ jobType: 'grant', integration, params: { grantId: `hostile-${seq++}`, accessKind, principal, target, expiresAt: inAnHour(), ...over } });
    const benign = () => grant('sso.accountAssignment', erin, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('ReadOnly') });
    const withIntegration = (job: JobInput, over: Record<string, unknown>): JobInput => ({ ...job, integration: { ...integration, ...over } });
    const { externalId: _drop, ...noExternalId } = integration;

    // [what the control plane tries, the rule that must stop it, the job]
    const attempts = (): Array<[string, string, JobInput]> => [
      // Other roles for the connector: pins refuse every job type.
      ['sync as OrganizationAccountAccessRole in members', 'integrations[0].memberRoleNames', withIntegration({ jobType: 'sync', params: { mode: 'full' } }, { memberRoleName: 'OrganizationAccountAccessRole' })],
      ['check as OrganizationAccountAccessRole in members', 'integrations[0].memberRoleNames', withIntegration({ jobType: 'check', params: {} }, { memberRoleName: 'OrganizationAccountAccessRole' })],
      ['grant as OrganizationAccountAccessRole in members', 'integrations[0].memberRoleNames', withIntegration(benign(), { memberRoleName: 'OrganizationAccountAccessRole' })],
      ['sync through another management role', 'integrations[0].roleArns', withIntegration({ jobType: 'sync', params: { mode: 'full' } }, { roleArn: role(MGMT, 'OrganizationAccountAccessRole') })],
      ['grant through another management role', 'integrations[0].roleArns', withIntegration(benign(), { roleArn: role(MGMT, 'OrganizationAccountAccessRole') })],
      ['revoke through another management role', 'integrations[0].roleArns', { ...withIntegration(benign(), { roleArn: role(MGMT, 'OrganizationAccountAccessRole') }), jobType: 'revoke' }],
      ['sync without the ExternalId', 'integrations[0].externalIdRequired', { jobType: 'sync', integration: noExternalId, params: { mode: 'full' } }],
      ['grant through an integration the customer never pinned', 'integrations[0].id', withIntegration(benign(), { id: 'int-shadow' })],
      // Admin under another name: permission sets.
      ['AdministratorAccess permission set', 'permissionSets.deny', grant('sso.accountAssignment', erin, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('AdministratorAccess') })],
      ['a permission set of another name carrying AdministratorAccess', 'deniedManagedPolicies', grant('sso.accountAssignment', erin, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('Helpdesk') })],
      ['AdministratorAccess to a whole group', 'permissionSets.deny', grant('sso.accountAssignment', { type: 'group', id: group('Developers') }, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('AdministratorAccess') })],
      // Group membership into admin groups.
      ['Identity Center group Admins (AdministratorAccess everywhere)', 'accounts.deny', grant('sso.groupMembership', erin, { groupId: group('Admins') })],
      ['Identity Center group assigned admin under another name', 'deniedManagedPolicies', grant('sso.groupMembership', erin, { groupId: group('Platform') })],
      ['Identity Center group assigned in the management account', 'accounts.deny', grant('sso.groupMembership', erin, { groupId: group('Finance') })],
      ['IAM group with AdministratorAccess attached', 'deniedManagedPolicies', grant('iam.groupMembership', iamUser(OPEN_ACCOUNT), { groupName: 'platform-admins' })],
      ['IAM group in the management account', 'accounts.deny', grant('iam.groupMembership', iamUser(MGMT), { groupName: 'Operators' })],
      // Boundaries that lift restrictions.
      ['AdministratorAccess as a role boundary', 'boundaries.deny', grant('iam.permissionsBoundary', { type: 'role', id: role(OPEN_ACCOUNT, 'app-deployer') }, { boundaryPolicyArn: ADMIN })],
      ['AdministratorAccess as a user boundary', 'boundaries.deny', grant('iam.permissionsBoundary', iamUser(OPEN_ACCOUNT), { boundaryPolicyArn: ADMIN })],
      ['an allow-everything customer boundary', 'boundaries.allow', grant('iam.permissionsBoundary', iamUser(OPEN_ACCOUNT), { boundaryPolicyArn: `arn:aws:iam::${OPEN_ACCOUNT}:policy/AllowEverything` })],
      // Admin roles.
      ['assume OrganizationAccountAccessRole', 'roles.deny', grant('iam.roleAssume', iamUser(OPEN_ACCOUNT), { roleArn: role(OPEN_ACCOUNT, 'OrganizationAccountAccessRole') })],
      ['assume it spelt in lower case', 'roles.deny', grant('iam.roleAssume', iamUser(OPEN_ACCOUNT), { roleArn: role(OPEN_ACCOUNT, 'organizationaccountaccessrole') })],
      ['assume a role named AdministratorAccess', 'roles.deny', grant('iam.roleAssume', iamUser(OPEN_ACCOUNT), { roleArn: role(OPEN_ACCOUNT, 'AdministratorAccess') })],
      ['assume an admin role of another name', 'deniedManagedPolicies', grant('iam.roleAssume', iamUser(OPEN_ACCOUNT), { roleArn: role(OPEN_ACCOUNT, 'platform-breakglass') })],
      ['assume a role in the management account', 'accounts.deny', grant('iam.roleAssume', iamUser(OPEN_ACCOUNT), { roleArn: role(MGMT, 'app-deployer') })],
      // The management account, with the integration's own switch turned on.
      ['the management account', 'accounts.deny', grant('sso.accountAssignment', erin, { accountId: MGMT, permissionSetArn: ps('ReadOnly') })],
      // A denied OU, directly and through a nested OU.
      ['an account of a denied OU', 'organizationalUnits.deny', grant('sso.accountAssignment', erin, { accountId: '444444444402', permissionSetArn: ps('ReadOnly') })],
      ['an account of an OU nested in a denied one', 'organizationalUnits.deny', grant('sso.accountAssignment', erin, { accountId: '555555555503', permissionSetArn: ps('ReadOnly') })],
      ['a role in a denied OU', 'organizationalUnits.deny', grant('iam.roleAssume', iamUser(OPEN_ACCOUNT), { roleArn: role('555555555501', 'app-deployer') })],
      // EC2 access in denied places.
      ['SSM session in a denied account', 'accounts.deny', grant('ec2.ssmSession', erin, { accountId: '333333333301', region: 'us-east-1', instanceIds: [instance('333333333301', 'web-1')] })],
      ['local user in a denied account', 'accounts.deny', grant('ec2.localUser', erin, { accountId: '333333333301', region: 'us-east-1', instanceIds: [instance('333333333301', 'web-1')], sshPublicKey: sshKey })],
      ['SSM session in a denied OU', 'organizationalUnits.deny', grant('ec2.ssmSession', erin, { accountId: '444444444401', region: 'us-east-1', instanceIds: [instance('444444444401', 'dev-box')] })],
      ['local user in a denied OU', 'organizationalUnits.deny', grant('ec2.localUser', erin, { accountId: '444444444401', region: 'us-east-1', instanceIds: [instance('444444444401', 'dev-box')], sshPublicKey: sshKey })],
      ['SSM session for an admin role principal', 'roles.deny', grant('ec2.ssmSession', { type: 'role', id: role(OPEN_ACCOUNT, 'OrganizationAccountAccessRole') }, { accountId: OPEN_ACCOUNT, region: 'us-east-1', instanceIds: ['i-0123456789abcdef0'] })],
      // EC2 access is access as the instance's role: a session or a local user on an instance
      // whose profile role is admin under another name, or a denied role; a denied tag.
      ['SSM session on an instance whose role carries AdministratorAccess', 'deniedManagedPolicies', grant('ec2.ssmSession', erin, { accountId: OPEN_ACCOUNT, region: 'us-east-1', instanceIds: ['i-0b0ca1c0ffee00001'] })],
      ['local user on an instance whose role carries AdministratorAccess', 'deniedManagedPolicies', grant('ec2.localUser', erin, { accountId: OPEN_ACCOUNT, region: 'us-east-1', instanceIds: ['i-0b0ca1c0ffee00001'], sshPublicKey: sshKey })],
      ['SSM session on an instance running as OrganizationAccountAccessRole', 'roles.deny', grant('ec2.ssmSession', erin, { accountId: OPEN_ACCOUNT, region: 'us-east-1', instanceIds: ['i-0b0ca1c0ffee00002'] })],
      ['local user on an instance running as OrganizationAccountAccessRole', 'roles.deny', grant('ec2.localUser', erin, { accountId: OPEN_ACCOUNT, region: 'us-east-1', instanceIds: ['i-0b0ca1c0ffee00002'], sshPublicKey: sshKey })],
      ['SSM session on an instance tagged env=prod', 'instances.deny', grant('ec2.ssmSession', erin, { accountId: OPEN_ACCOUNT, region: 'us-east-1', instanceIds: ['i-0b0ca1c0ffee00003'] })],
      // Principals: the policy's list is decided on the Identity Store's names, not the request's.
      ['a denied principal', 'principals.deny', grant('sso.accountAssignment', { type: 'user', id: user('judy'), userName: 'judy@example.com' }, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('ReadOnly') })],
      ['a denied principal claiming an allowed name', 'principals.deny', grant('sso.accountAssignment', { type: 'user', id: user('judy'), userName: 'erin@example.com', email: 'erin@example.com' }, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('ReadOnly') })],
      ['a principal outside the allowlist claiming an allowed name', 'principals.allow', grant('ec2.ssmSession', { type: 'user', id: user('frank'), userName: 'erin@example.com' }, { accountId: OPEN_ACCOUNT, region: 'us-east-1', instanceIds: [instance(OPEN_ACCOUNT, 'ops-prod')] })],
      ['an IAM user outside the allowlist', 'principals.allow', grant('iam.roleAssume', iamUser(OPEN_ACCOUNT, 'deployer'), { roleArn: role(OPEN_ACCOUNT, 'app-deployer') })],
      // Time: access for ever, or for a month.
      ['a grant without expiry', 'maxDurationMinutes', grant('sso.accountAssignment', erin, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('ReadOnly') }, { expiresAt: undefined })],
      ['a grant for thirty days', 'maxDurationMinutes', grant('sso.accountAssignment', erin, { accountId: OPEN_ACCOUNT, permissionSetArn: ps('ReadOnly') }, { expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() })],
    ];

    const writesBefore = writes();
    const stateBefore = accessState();
    const outcomes: Record<string, number> = {};
    const slipped: string[] = [];
    let tried = 0;
    for (let round = 0; round < rounds; round++) {
      const sent = attempts().map(([name, rule, job]) => ({ name, rule, jobId: cp.sendJob(JSON.parse(JSON.stringify(job)) as JobInput).jobId }));
      for (const { name, rule, jobId } of sent) {
        await cp.waitFor(() => !!(cp.job(jobId)?.rejected ?? cp.job(jobId)?.result), 60_000);
        const j = cp.job(jobId)!;
        tried++;
        const how = j.rejected ? `rejected:${j.rejected.reason}` : `${j.result!.status}:${j.result!.error?.code ?? ''}`;
        outcomes[how] = (outcomes[how] ?? 0) + 1;
        const message = j.rejected?.message ?? j.result?.error?.message ?? '';
        if (!(how === 'rejected:policy' || how === 'failed:POLICY_DENIED') || !message.startsWith(`policy rule ${rule}`)) slipped.push(`${name}: ${how} ${message.slice(0, 160)}`);
      }
    }
    const writesAfter = writes();
    const unchanged = accessState() === stateBefore;

    // The same connector, pins and policy do let the customer's own integration work.
    const sync = await cp.waitForResult(cp.sendJob({ jobType: 'sync', integration: { ...integration, resourceTypes: ['sso'] }, params: { mode: 'full' } }).jobId, 60_000);
    const allowed = await cp.waitForResult(cp.sendJob(benign()).jobId, 60_000);
    report('hostile-control-plane', {
      attempts: tried, refused: tried - slipped.length, outcomes, awsWrites: writesAfter - writesBefore, accessUnchanged: unchanged,
      controls: { sync: sync.status, allowedGrant: allowed.status },
    });
    expect(slipped).toEqual([]);
    expect(writesAfter - writesBefore).toBe(0);
    expect(unchanged).toBe(true);
    expect(outcomes['rejected:policy']).toBeGreaterThan(0);
    expect(outcomes['failed:POLICY_DENIED']).toBeGreaterThan(0);
    expect([sync.status, allowed.status]).toEqual(['succeeded', 'succeeded']);
  }, 600_000);

  // A revoke acts on what the ledger recorded, so its job must name that grant as it was
  // granted: a relabelled revoke could otherwise pass the admission rules of another kind
  // or integration (accessKinds.disabled, integration pins) and remove what they guard.
  test('relabelled revokes are refused before any AWS call and the grant keeps its access', async () => {
    const sso = sim.world.sso!;
    const erin = [...sso.users.values()].find((u) => u.UserName === 'erin@example.com')!.UserId;
    const readOnly = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
    const securityAudit = [...sso.permissionSets.values()].find((p) => p.name === 'SecurityAudit')!.arn;
    const developers = [...sso.groups.values()].find((g) => g.DisplayName === 'Developers')!.GroupId;
    const integration = demoIntegration({ allowManagementAccount: true });
    const params = { grantId: 'hostile-relabel', accessKind: 'sso.accountAssignment', principal: { type: 'user', id: erin, userName: 'erin@example.com' },
      target: { accountId: OPEN_ACCOUNT, permissionSetArn: securityAudit }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    // Access nobody else holds (the first test's allowed grant holds ReadOnly), so the honest
    // revoke below must remove it.
    const has = () => [...sso.assignments.values()].some((a) => a.accountId === OPEN_ACCOUNT && a.principalId === erin && a.permissionSetArn === securityAudit);
    expect(has()).toBe(false);
    const granted = await cp.waitForResult(cp.sendJob({ jobType: 'grant', integration, params }).jobId, 60_000);
    expect(granted.status).toBe('succeeded');
    expect(has()).toBe(true);

    const relabelled: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['as another kind', { ...params, accessKind: 'sso.groupMembership', target: { groupId: developers } }, integration],
      ['as other access of the same kind', { ...params, target: { accountId: OPEN_ACCOUNT, permissionSetArn: readOnly } }, integration],
      ['as another principal', { ...params, principal: { type: 'group', id: developers } }, integration],
    ];
    const before = writes();
    const outcomes: string[] = [];
    for (const [, p, integ] of relabelled) {
      const j = cp.sendJob({ jobType: 'revoke', integration: integ, params: p } as JobInput);
      await cp.waitFor(() => !!(cp.job(j.jobId)?.rejected ?? cp.job(j.jobId)?.result), 60_000);
      const r = cp.job(j.jobId)!;
      outcomes.push(r.rejected ? `rejected:${r.rejected.reason}` : `${r.result!.status}:${r.result!.error?.code ?? ''}`);
    }
    // Another integration id never reaches the ledger: the policy pins the integration.
    const shadow = cp.sendJob({ jobType: 'revoke', integration: { ...integration, id: 'int-shadow' }, params } as JobInput);
    await cp.waitFor(() => !!(cp.job(shadow.jobId)?.rejected ?? cp.job(shadow.jobId)?.result), 60_000);
    const s = cp.job(shadow.jobId)!;
    outcomes.push(s.rejected ? `rejected:${s.rejected.reason}` : `${s.result!.status}:${s.result!.error?.code ?? ''}`);
    report('hostile-control-plane-relabelled-revokes', { attempts: outcomes.length, outcomes, awsWrites: writes() - before, accessKept: has() });
    expect(outcomes).toEqual(['failed:JOB_PARAMS_INVALID', 'failed:JOB_PARAMS_INVALID', 'failed:JOB_PARAMS_INVALID', 'rejected:policy']);
    expect(writes() - before).toBe(0);
    expect(has()).toBe(true);

    // The honest revoke still ends it.
    const revoked = await cp.waitForResult(cp.sendJob({ jobType: 'revoke', integration, params } as JobInput).jobId, 60_000);
    expect(revoked.status).toBe('succeeded');
    expect(has()).toBe(false);
  }, 300_000);
});
