// ec2.ssmSession against the AWS simulator (demo world), for both principal forms: an IAM
// role gets an inline policy, an Identity Center user or group a permission set of its own.
// The policy names exactly the requested instances, expiry becomes DateLessThan, and revoke
// removes the access and ends the principal's live sessions (and nobody else's).
import { createHash } from 'node:crypto';
import {
  SSOAdminClient, CreatePermissionSetCommand, DeleteInlinePolicyFromPermissionSetCommand, DeletePermissionSetCommand, DescribePermissionSetProvisioningStatusCommand,
  GetInlinePolicyForPermissionSetCommand, ListAccountsForProvisionedPermissionSetCommand, ListPermissionSetsCommand, ProvisionPermissionSetCommand,
  PutInlinePolicyToPermissionSetCommand,
} from '@aws-sdk/client-sso-admin';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import type { PermissionSet } from '../sim/aws/world.js';
import { ConnectorError } from '../../src/errors.js';
import type { AccessContext, AccessRequest, Principal } from '../../src/access/types.js';
import { ec2SsmSession as kind, sessionDurationFor } from '../../src/access/kinds/ec2-ssm-session.js';
import { ssoAdminClient, ssoInstance } from '../../src/access/identity-center.js';
import { accessContextFor } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';

type Target = { accountId: string; region: string; instanceIds: string[] };
interface PolicyDoc { Version: string; Statement: { Sid: string; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, string>> }[] }

const PROD = '333333333301';
const DEV = '444444444401';
const MGMT = '111111111111';
const DELAY_MS = 200;

let sim: AwsSimulator;
let restore: () => void;
let ctx: AccessContext;

const instanceId = (accountId: string, region: string, name: string) =>
  [...sim.world.accounts.get(accountId)!.ssm.get(region)!.instances.values()].find((i) => i.name === name)!.id;
const userId = (name: string) => [...sim.world.sso!.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
const groupId = (name: string) => [...sim.world.sso!.groups.values()].find((g) => g.DisplayName === name)!.GroupId;
const roleArn = (accountId: string, name: string, path = '/') => `arn:aws:iam::${accountId}:role${path}${name}`;
/** The whole counter, so that a failure shows whether a second call was a throttled or failed retry. */
const counter = (key: string) => sim.stats.snapshot().byOperation[key];
const calls = (key: string) => counter(key)?.calls ?? 0;
/**
 * The calls of `key` AWS carried out, and its errors: a throttled attempt changes nothing
 * and the SDK sends it again, which the simulator's quotas can cause on a busy machine.
 */
const applied = (key: string) => ({ applied: calls(key) - (counter(key)?.throttled ?? 0), errors: counter(key)?.errors ?? 0 });
const hash = (req: AccessRequest<Target>) => {
  const t = req.target;
  return createHash('sha256').update(`ec2.ssmSession:${req.principal.type}:${req.principal.id}|${t.accountId}|${t.region}|${[...t.instanceIds].sort().join(',')}`).digest('hex').slice(0, 16);
};
const psNamed = (name: string): PermissionSet | undefined => [...sim.world.sso!.permissionSets.values()].find((p) => p.name === name);
const rolePolicy = (accountId: string, role: string, name: string): string | undefined => sim.world.accounts.get(accountId)!.iam.roles.get(role)!.inline?.[name];
const sessions = (accountId: string, region: string) => sim.admin.ssmSessions({ accountId, region }) as { id: string; status: string }[];
const statusOf = (accountId: string, region: string, id: string) => sessions(accountId, region).find((s) => s.id === id)?.status;

function request(principal: Principal, target: Target, expiresAt?: string, grantId = 'g-ssm-1'): AccessRequest<Target> {
  return { grantId, accessKind: 'ec2.ssmSession', principal, target, ...(expiresAt !== undefined && { expiresAt }) };
}
async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}
/** What the ledger keeps per access (kept), as the runner stores it. */
const ledger = new Map<string, Record<string, unknown>>();
/** What the runner does for a grant: facts, describe, then grant, or extend with what the ledger kept. */
async function grant(req: AccessRequest<Target>, c: AccessContext = ctx): Promise<Record<string, unknown>> {
  await kind.facts(c, req);
  const before = await kind.describe(c, req);
  const key = kind.accessKey(req);
  const held = ledger.get(key) ?? before.observed ?? {};
  const kept = { ...held, ...((before.present ? await kind.extend!(c, req, held) : await kind.grant(c, req, before)) ?? {}) };
  ledger.set(key, kept);
  return kept;
}
/** What the runner does for the last holder's revoke: the kind's revoke with what the ledger kept, then the record goes. */
async function revoke(req: AccessRequest<Target>, c: AccessContext = ctx) {
  const key = kind.accessKey(req);
  const out = await kind.revoke(c, req, ledger.get(key) ?? {});
  ledger.delete(key);
  return out;
}
const expectedDocs = (region: string, accountId: string) => [
  `arn:aws:ssm:${region}:${accountId}:document/SSM-SessionManagerRunShell`,
  `arn:aws:ssm:${region}::document/AWS-StartSSHSession`,
  `arn:aws:ssm:${region}::document/AWS-StartPortForwardingSession`,
];

/** The policy is exactly the documented one: instance ARNs named one by one, no wildcard but where IAM allows no scoping. */
function expectScopedPolicy(raw: string, t: Target, expiresAt: string | null): void {
  const doc = JSON.parse(raw) as PolicyDoc;
  const until = expiresAt === null ? {} : { DateLessThan: { 'aws:CurrentTime': expiresAt } };
  const nodes = [...t.instanceIds].sort().map((id) => (id.startsWith('mi-')
    ? `arn:aws:ssm:${t.region}:${t.accountId}:managed-instance/${id}` : `arn:aws:ec2:${t.region}:${t.accountId}:instance/${id}`));
  expect(doc).toEqual({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'StartSessionOnNamedInstances', Effect: 'Allow', Action: 'ssm:StartSession', Resource: [...nodes, ...expectedDocs(t.region, t.accountId)],
        Condition: { BoolIfExists: { 'ssm:SessionDocumentAccessCheck': 'true' }, ...until } },
      { Sid: 'OwnSessionsOnly', Effect: 'Allow', Action: ['ssm:TerminateSession', 'ssm:ResumeSession'], Resource: `arn:aws:ssm:${t.region}:${t.accountId}:session/*`,
        Condition: { StringLike: { 'ssm:resourceTag/aws:ssmmessages:session-id': '${aws:userid}' }, ...until } },
      { Sid: 'SessionDataChannel', Effect: 'Allow', Action: 'ssmmessages:OpenDataChannel', Resource: `arn:aws:ssm:${t.region}:${t.accountId}:session/*`, ...(expiresAt === null ? {} : { Condition: until }) },
      { Sid: 'SessionStatus', Effect: 'Allow', Action: ['ssm:DescribeSessions', 'ssm:GetConnectionStatus', 'ssm:DescribeInstanceProperties', 'ssm:DescribeInstanceInformation'], Resource: '*', ...(expiresAt === null ? {} : { Condition: until }) },
    ],
  });
  // Nothing in the StartSession statement reaches an instance not named.
  expect((doc.Statement[0]!.Resource as string[]).filter((r) => r.includes('*'))).toEqual([]);
}

describe('ec2.ssmSession (simulator, Identity Center operations take 200 ms)', () => {
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: DELAY_MS } });
    restore = useAwsEnv(sim.env);
    ctx = accessContextFor(sim);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  describe('validation', () => {
    test('hostile instance ids, regions, accounts and principals are rejected before any AWS call', async () => {
      const web1 = instanceId(PROD, 'us-east-1', 'web-1');
      const role = roleArn(PROD, 'app-deployer');
      const ok: Target = { accountId: PROD, region: 'us-east-1', instanceIds: [web1] };
      const badTargets: unknown[] = [
        { ...ok, instanceIds: ['i-123;rm'] },
        { ...ok, instanceIds: ['i-0123456789abcdef0;rm -rf /'] },
        { ...ok, instanceIds: ['../'] },
        { ...ok, instanceIds: ['i-../../etc'] },
        { ...ok, instanceIds: ['*'] },
        { ...ok, instanceIds: ['i-*'] },
        { ...ok, instanceIds: ['i-0123456789abcdef0"}]}'] },
        { ...ok, instanceIds: ['I-0123456789ABCDEF0'] },
        { ...ok, instanceIds: ['i-0123456'] },
        { ...ok, instanceIds: ['i-0123456789abcdef01'] },
        { ...ok, instanceIds: ['mi-0123'] },
        { ...ok, instanceIds: [`i-${'a'.repeat(10_000)}`] },
        { ...ok, instanceIds: [] },
        { ...ok, instanceIds: [web1, web1] },
        { ...ok, instanceIds: Array.from({ length: 51 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`) },
        { ...ok, instanceIds: web1 },
        { ...ok, region: '../' },
        { ...ok, region: '*' },
        { ...ok, region: 'us-east-1;rm' },
        { ...ok, region: 'us-east-1"}]' },
        { ...ok, region: 'US-EAST-1' },
        { ...ok, region: 'x'.repeat(5000) },
        { ...ok, accountId: '33333333330;' },
        { ...ok, accountId: '../333333333' },
        { ...ok, accountId: '*' },
        { ...ok, extra: 'field' },
        { region: 'us-east-1', instanceIds: [web1] },
      ];
      const badPrincipals: Principal[] = [
        { type: 'role', id: `${role}*` },
        { type: 'role', id: `arn:aws:iam::${PROD}:role/../admin` },
        { type: 'role', id: `arn:aws:iam::${PROD}:role/app"}]` },
        { type: 'role', id: `arn:aws:iam::${PROD}:user/bob` },
        { type: 'role', id: `arn:aws:iam::${DEV}:role/app-deployer` }, // another account than the instances'
        { type: 'role', id: `arn:aws:iam::${PROD}:role/${'r'.repeat(3000)}` },
        { type: 'user', id: '$(reboot)' },
        { type: 'user', id: '../../x' },
        { type: 'group', id: '*' },
      ];
      sim.stats.reset();
      for (const t of badTargets) {
        expect(kind.target.safeParse(t).success).toBe(false);
        const req = request({ type: 'role', id: role }, t as Target);
        for (const call of [kind.facts(ctx, req), kind.describe(ctx, req), kind.grant(ctx, req, { present: false }), kind.extend!(ctx, req, {}), kind.revoke(ctx, req, {})]) {
          expect((await rejection(call)).code).toBe('JOB_PARAMS_INVALID');
        }
      }
      for (const p of badPrincipals) {
        const req = request(p, ok);
        if (p.id !== `arn:aws:iam::${DEV}:role/app-deployer`) expect(kind.checkPrincipal!(p)).toEqual(expect.any(String));
        for (const call of [kind.facts(ctx, req), kind.describe(ctx, req), kind.grant(ctx, req, { present: false }), kind.revoke(ctx, req, {})]) {
          expect((await rejection(call)).code).toBe('JOB_PARAMS_INVALID');
        }
      }
      expect(sim.stats.snapshot().total.calls).toBe(0);
    });

    test('valid targets: EC2 and hybrid ids, any order; the access key does not depend on the order', () => {
      const a = { accountId: PROD, region: 'eu-west-1', instanceIds: ['i-0123456789abcdef0', 'mi-0123456789abcdef0', 'i-01234567'] };
      expect(kind.target.safeParse(a).success).toBe(true);
      const p: Principal = { type: 'user', id: userId('carol') };
      expect(kind.accessKey(request(p, a))).toBe(kind.accessKey(request(p, { ...a, instanceIds: [...a.instanceIds].reverse() })));
      expect(kind.accessKey(request(p, a))).not.toBe(kind.accessKey(request(p, { ...a, region: 'us-east-1' })));
      expect(kind.accessKey(request(p, a))).not.toBe(kind.accessKey(request({ type: 'group', id: p.id }, a)));
    });

    test('access details echo only checked values and show at most three commands', () => {
      const hostile = kind.accessDetails(ctx, request({ type: 'role', id: roleArn(PROD, 'app-deployer') }, { accountId: PROD, region: 'us-east-1;curl x|sh', instanceIds: ['i-123;rm'] }));
      expect(JSON.stringify(hostile)).not.toMatch(/curl|rm/);
      const ids = ['i-00000001', 'i-00000002', 'i-00000003', 'i-00000004', 'i-00000005'];
      const d = kind.accessDetails(ctx, request({ type: 'user', id: userId('carol') }, { accountId: PROD, region: 'eu-west-1', instanceIds: ids }));
      expect(d.command).toBe(ids.slice(0, 3).map((id) => `aws ssm start-session --target ${id} --region eu-west-1`).join('\n'));
      expect(d.instructions).toContain('i-00000003 and 2 more');
      expect(d.url).toMatch(/^https:\/\/d-1234567890\.awsapps\.com\/start\/#\/console\?account_id=333333333301&role_name=ACSSM-[0-9a-f]{16}$/);
    });

    test('the console session length is the time left, between the 1 h and 12 h AWS allows', () => {
      const now = Date.UTC(2030, 0, 1);
      expect(sessionDurationFor(now, undefined)).toBe('PT1H');
      expect(sessionDurationFor(now, new Date(now + 30 * 60_000).toISOString())).toBe('PT1H');
      expect(sessionDurationFor(now, new Date(now + 3.5 * 3_600_000).toISOString())).toBe('PT3H');
      expect(sessionDurationFor(now, new Date(now + 48 * 3_600_000).toISOString())).toBe('PT12H');
    });
  });

  describe('role principal: an inline policy on the role', () => {
    const role = roleArn(PROD, 'app-deployer');
    let t: Target;
    beforeAll(() => {
      t = { accountId: PROD, region: 'us-east-1', instanceIds: [instanceId(PROD, 'us-east-1', 'web-2'), instanceId(PROD, 'us-east-1', 'web-1')] };
    });

    test('grant puts a policy naming exactly the instances, with the expiry as DateLessThan; describe sees it; revoke removes it and ends only the role\'s sessions there', async () => {
      const expiresAt = new Date(Date.now() + 4 * 3_600_000).toISOString();
      const req = request({ type: 'role', id: role }, t, expiresAt);
      const name = `AccessConnector-SSM-${hash(req)}`;

      const facts = await kind.facts(ctx, req);
      expect(facts).toMatchObject({ accountIds: [PROD], roles: [role] });
      expect(facts.instances!.map((i) => i.id).sort()).toEqual([...t.instanceIds].sort());
      expect(await kind.describe(ctx, req)).toEqual({ present: false });
      const kept = await kind.grant(ctx, req, { present: false });
      expect(kept).toEqual({ policyName: name, expiresAt });
      expectScopedPolicy(rolePolicy(PROD, 'app-deployer', name)!, t, expiresAt);
      // The role's other inline policy is untouched.
      expect(Object.keys(sim.world.accounts.get(PROD)!.iam.roles.get('app-deployer')!.inline!).sort()).toEqual([name, 'extra-s3'].sort());
      expect(await kind.describe(ctx, req)).toEqual({ present: true, observed: { policyName: name, expiresAt } });

      const details = kind.accessDetails(ctx, req);
      expect(details.roleArn).toBe(role);
      expect(details.command).toBe(t.instanceIds.map((id) => `aws ssm start-session --target ${id} --region us-east-1`).join('\n'));
      expect(details.instructions).toContain(expiresAt);

      const web1 = t.instanceIds[1]!;
      const web2 = t.instanceIds[0]!;
      const bastion = instanceId(PROD, 'us-east-1', 'bastion');
      const mine1 = sim.admin.startSsmSession({ accountId: PROD, region: 'us-east-1', target: web1, owner: `arn:aws:sts::${PROD}:assumed-role/app-deployer/alice` });
      const mine2 = sim.admin.startSsmSession({ accountId: PROD, region: 'us-east-1', target: web2, owner: `arn:aws:sts::${PROD}:assumed-role/app-deployer/ci` });
      const otherRole = sim.admin.startSsmSession({ accountId: PROD, region: 'us-east-1', target: web1, owner: `arn:aws:sts::${PROD}:assumed-role/lambda-exec/job` });
      const samePrefix = sim.admin.startSsmSession({ accountId: PROD, region: 'us-east-1', target: web1, owner: `arn:aws:sts::${PROD}:assumed-role/app-deployer-2/x` });
      const otherInstance = sim.admin.startSsmSession({ accountId: PROD, region: 'us-east-1', target: bastion, owner: `arn:aws:sts::${PROD}:assumed-role/app-deployer/alice` });
      const iamUser = sim.admin.startSsmSession({ accountId: PROD, region: 'us-east-1', target: web2, owner: `arn:aws:iam::${PROD}:user/breakglass` });

      const out = await kind.revoke(ctx, req, kept!);
      expect(out?.notes).toEqual(['2 live Session Manager sessions of the principal on these instances were ended']);
      expect(rolePolicy(PROD, 'app-deployer', name)).toBeUndefined();
      expect(rolePolicy(PROD, 'app-deployer', 'extra-s3')).toBeDefined();
      expect(await kind.describe(ctx, req)).toEqual({ present: false });
      expect([mine1, mine2].map((id) => statusOf(PROD, 'us-east-1', id))).toEqual(['Terminated', 'Terminated']);
      expect([otherRole, samePrefix, otherInstance, iamUser].map((id) => statusOf(PROD, 'us-east-1', id))).toEqual(['Connected', 'Connected', 'Connected', 'Connected']);

      // A second revoke finds nothing and succeeds.
      expect((await kind.revoke(ctx, req, kept!))?.notes).toEqual([`the inline policy ${name} was already gone`, '0 live Session Manager sessions of the principal on these instances were ended']);
    });

    test('a repeated grant is idempotent, and extend pushes the expiry out but never pulls it in', async () => {
      const t1 = new Date(Date.now() + 3_600_000).toISOString();
      const t2 = new Date(Date.now() + 5 * 3_600_000).toISOString();
      const req = (e?: string) => request({ type: 'role', id: role }, t, e);
      const name = `AccessConnector-SSM-${hash(req())}`;

      await grant(req(t1));
      sim.stats.reset();
      // Same request again: present, and nothing to write.
      expect(await grant(req(t1))).toEqual({ policyName: name, expiresAt: t1 });
      expect(calls('iam:PutRolePolicy')).toBe(0);

      expect(await grant(req(t2))).toEqual({ policyName: name, expiresAt: t2 });
      expectScopedPolicy(rolePolicy(PROD, 'app-deployer', name)!, t, t2);
      expect(applied('iam:PutRolePolicy')).toEqual({ applied: 1, errors: 0 });

      // An overlapping grant that ends sooner does not cut the longer one short.
      expect(await grant(req(t1))).toEqual({ policyName: name, expiresAt: t2 });
      expectScopedPolicy(rolePolicy(PROD, 'app-deployer', name)!, t, t2);

      // A policy edited by hand (wider, without expiry) is restored by the next grant, with the
      // expiry the ledger kept: the edit does not extend the access.
      sim.world.accounts.get(PROD)!.iam.roles.get('app-deployer')!.inline![name] = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ssm:*', Resource: '*' }] });
      expect(await grant(req(t1))).toEqual({ policyName: name, expiresAt: t2 });
      expectScopedPolicy(rolePolicy(PROD, 'app-deployer', name)!, t, t2);

      // One without expiry removes the condition.
      expect(await grant(req())).toEqual({ policyName: name, expiresAt: null });
      expectScopedPolicy(rolePolicy(PROD, 'app-deployer', name)!, t, null);

      await revoke(req());
      expect(rolePolicy(PROD, 'app-deployer', name)).toBeUndefined();
    });

    test('managed (hybrid) nodes are named by their managed-instance ARN', async () => {
      sim.admin.putInstance({ accountId: PROD, region: 'eu-west-1', instanceId: 'mi-0123456789abcdef0' });
      const tm: Target = { accountId: PROD, region: 'eu-west-1', instanceIds: ['mi-0123456789abcdef0', instanceId(PROD, 'eu-west-1', 'eu-worker')] };
      const req = request({ type: 'role', id: role }, tm);
      await grant(req);
      expectScopedPolicy(rolePolicy(PROD, 'app-deployer', `AccessConnector-SSM-${hash(req)}`)!, tm, null);
      await revoke(req);
      expect(rolePolicy(PROD, 'app-deployer', `AccessConnector-SSM-${hash(req)}`)).toBeUndefined();
    });

    test('protected roles are refused and never written to', async () => {
      const t0 = { ...t };
      const refused = [
        roleArn(PROD, 'OrganizationAccountAccessRole'),
        roleArn(PROD, 'AccessConnectorMember'),
        roleArn(PROD, 'AWSServiceRoleForSSO', '/aws-service-role/sso.amazonaws.com/'),
        roleArn(PROD, 'AWSReservedSSO_ReadOnly_0123456789abcdef', '/aws-reserved/sso.amazonaws.com/'),
        // Same role named without its real path: GetRole reveals the path.
        roleArn(PROD, 'AWSServiceRoleForSSO'),
      ];
      sim.stats.reset();
      for (const id of refused) {
        const req = request({ type: 'role', id }, t0);
        expect((await rejection(kind.facts(ctx, req))).code).toBe('ROLE_PROTECTED');
        if (id !== roleArn(PROD, 'AWSServiceRoleForSSO')) expect((await rejection(kind.grant(ctx, req, { present: false }))).code).toBe('ROLE_PROTECTED');
      }
      // Role names compare regardless of case, as IAM's do.
      expect((await rejection(kind.facts(ctx, request({ type: 'role', id: roleArn(PROD, 'organizationaccountaccessrole') }, t0)))).code).toBe('ROLE_PROTECTED');
      expect(calls('iam:PutRolePolicy')).toBe(0);
      // A role that does not exist, or an ARN with a made-up path.
      expect((await rejection(kind.facts(ctx, request({ type: 'role', id: roleArn(PROD, 'no-such-role') }, t0)))).code).toBe('AWS_NOT_FOUND');
      expect((await rejection(kind.facts(ctx, request({ type: 'role', id: roleArn(PROD, 'app-deployer', '/made/up/') }, t0)))).code).toBe('AWS_NOT_FOUND');
    });

    // Regression: the policy was put on any role; a role must be opted in by its tag first.
    test('a role not opted in (no access-connector-jit=enabled tag) is refused with ROLE_NOT_OPTED_IN before any write; JIT_ROLES=any allows it', async () => {
      const req = request({ type: 'role', id: roleArn(PROD, 'lambda-exec') }, { ...t }, new Date(Date.now() + 3_600_000).toISOString());
      sim.stats.reset();
      await kind.facts(ctx, req);
      const err = await rejection(kind.describe(ctx, req));
      expect(err.code).toBe('ROLE_NOT_OPTED_IN');
      expect(err.message).toContain('access-connector-jit=enabled');
      expect(err.message).toContain('aws iam tag-role --role-name lambda-exec --tags Key=access-connector-jit,Value=enabled');
      expect(calls('iam:PutRolePolicy')).toBe(0);
      const any = { ...ctx, settings: { ...ctx.settings, jitRoles: 'any' as const } };
      expect(await kind.describe(any, req)).toEqual({ present: false });
    });

    test('the management account is refused unless the integration allows it', async () => {
      sim.admin.putInstance({ accountId: MGMT, region: 'us-east-1', instanceId: 'i-0123456789abcdef0' });
      const tm: Target = { accountId: MGMT, region: 'us-east-1', instanceIds: ['i-0123456789abcdef0'] };
      const req = request({ type: 'role', id: roleArn(MGMT, 'app-deployer') }, tm);
      const err = await rejection(kind.facts(ctx, req));
      expect(err.code).toBe('ACCESS_REFUSED');
      expect(err.message).toContain('allowManagementAccount');
      expect((await rejection(kind.grant(ctx, req, { present: false }))).code).toBe('ACCESS_REFUSED');
      expect(sim.world.accounts.get(MGMT)!.iam.roles.get('app-deployer')!.inline?.[`AccessConnector-SSM-${hash(req)}`]).toBeUndefined();

      const allowed = accessContextFor(sim, { allowManagementAccount: true });
      expect(await kind.facts(allowed, req)).toMatchObject({ accountIds: [MGMT], roles: [req.principal.id] });
    });

    test('an account the integration excludes is refused', async () => {
      const excluded = accessContextFor(sim, { excludeAccountIds: [PROD] });
      expect((await rejection(kind.facts(excluded, request({ type: 'role', id: role }, t))))!.code).toBe('ACCESS_REFUSED');
    });

    test('a role deleted after describe fails the grant with AWS_NOT_FOUND naming the call; its revoke succeeds', async () => {
      const req = request({ type: 'role', id: roleArn(DEV, 'lambda-exec') }, { accountId: DEV, region: 'us-east-1', instanceIds: [instanceId(DEV, 'us-east-1', 'dev-box')] });
      sim.admin.tagRole({ accountId: DEV, roleName: 'lambda-exec', tags: { 'access-connector-jit': 'enabled' } });
      await kind.facts(ctx, req);
      // describe reads the role (its opt-in tag): a role deleted before it fails there.
      expect(await kind.describe(ctx, req)).toEqual({ present: false });
      sim.admin.deleteRole({ accountId: DEV, roleName: 'lambda-exec' });
      const err = await rejection(kind.grant(ctx, req, { present: false }));
      expect(err.code).toBe('AWS_NOT_FOUND');
      expect(err.message).toContain('iam.PutRolePolicy');
      expect((await kind.revoke(ctx, req, {}))?.notes?.[0]).toContain('was already gone');
    });
  });

  describe('Identity Center principal: a permission set of its own', () => {
    let t: Target;
    beforeAll(() => {
      t = { accountId: DEV, region: 'us-east-1', instanceIds: [instanceId(DEV, 'us-east-1', 'dev-box')] };
    });

    test('grant creates the permission set with the scoped policy and assigns it, returning only once AWS says so; revoke removes both and ends only its sessions', async () => {
      const expiresAt = new Date(Date.now() + 3.5 * 3_600_000).toISOString();
      const user = userId('carol');
      const req = request({ type: 'user', id: user, userName: 'carol@example.com' }, t, expiresAt);
      const name = `ACSSM-${hash(req)}`;

      expect(await kind.facts(ctx, req)).toMatchObject({ accountIds: [DEV], instanceRoles: [] });
      expect(await kind.describe(ctx, req)).toEqual({ present: false });
      const kept = await kind.grant(ctx, req, { present: false });
      const ps = psNamed(name)!;
      expect(kept).toEqual({ permissionSetArn: ps.arn, permissionSetName: name, expiresAt });
      expect(ps.sessionDuration).toBe('PT3H');
      // Tagged at creation: the management role may change only permission sets with this tag.
      expect(ps.tags).toEqual([{ Key: 'access-connector-managed', Value: 'true' }]);
      expect(ps.managed).toEqual([]);
      expect(ps.customerManaged).toEqual([]);
      expectScopedPolicy(ps.inline!, t, expiresAt);
      // Assigned (the create has SUCCEEDED by the time grant returns) and provisioned with this policy.
      expect(sim.admin.hasAssignment({ accountId: DEV, permissionSetArn: ps.arn, principalType: 'USER', principalId: user })).toBe(true);
      expect(ps.provisionedInline?.[DEV]).toBe(ps.inline);
      expect(await kind.describe(ctx, req)).toEqual({ present: true, observed: { permissionSetArn: ps.arn, permissionSetName: name, expiresAt } });

      const details = kind.accessDetails(ctx, req);
      expect(details.url).toBe(`https://d-1234567890.awsapps.com/start/#/console?account_id=${DEV}&role_name=${name}`);
      expect(details.instructions).toContain(name);
      expect(details.command).toBe(`aws ssm start-session --target ${t.instanceIds[0]} --region us-east-1`);
      expect(details.revokeLimits!.join(' ')).toContain('3 hours');

      const target = t.instanceIds[0]!;
      const mine = sim.admin.startSsmSession({ accountId: DEV, region: 'us-east-1', target, owner: `arn:aws:sts::${DEV}:assumed-role/AWSReservedSSO_${name}_0123456789abcdef/carol@example.com` });
      const admin = sim.admin.startSsmSession({ accountId: DEV, region: 'us-east-1', target, owner: `arn:aws:sts::${DEV}:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/alice@example.com` });
      const elsewhere = sim.admin.startSsmSession({ accountId: DEV, region: 'us-west-2', target: instanceId(DEV, 'us-west-2', 'dev-west'), owner: `arn:aws:sts::${DEV}:assumed-role/AWSReservedSSO_${name}_0123456789abcdef/carol@example.com` });

      const out = await kind.revoke(ctx, req, kept!);
      expect(out?.notes).toEqual(['1 live Session Manager session of the principal on these instances was ended']);
      expect(sim.admin.hasAssignment({ accountId: DEV, permissionSetArn: ps.arn, principalType: 'USER', principalId: user })).toBe(false);
      expect(psNamed(name)).toBeUndefined();
      expect(statusOf(DEV, 'us-east-1', mine)).toBe('Terminated');
      expect(statusOf(DEV, 'us-east-1', admin)).toBe('Connected');
      expect(statusOf(DEV, 'us-west-2', elsewhere)).toBe('Connected');
      expect(await kind.describe(ctx, req)).toEqual({ present: false });

      // Repeated revoke: nothing left, success.
      expect((await kind.revoke(ctx, req, kept!))?.notes).toEqual(['the assignment was already gone', '0 live Session Manager sessions of the principal on these instances were ended']);
    });

    test('a group gets the same; a repeated grant changes nothing; extend provisions the new expiry to the account', async () => {
      const group = groupId('Developers');
      const t1 = new Date(Date.now() + 2 * 3_600_000).toISOString();
      const t2 = new Date(Date.now() + 6 * 3_600_000).toISOString();
      const req = (e?: string) => request({ type: 'group', id: group }, t, e);
      const name = `ACSSM-${hash(req())}`;

      await grant(req(t1));
      const ps = psNamed(name)!;
      expect(sim.admin.hasAssignment({ accountId: DEV, permissionSetArn: ps.arn, principalType: 'GROUP', principalId: group })).toBe(true);

      sim.stats.reset();
      await grant(req(t1));
      expect(calls('sso-admin:PutInlinePolicyToPermissionSet') + calls('sso-admin:ProvisionPermissionSet') + calls('sso-admin:CreateAccountAssignment') + calls('sso-admin:CreatePermissionSet')).toBe(0);

      expect(await grant(req(t2))).toEqual({ permissionSetArn: ps.arn, permissionSetName: name, expiresAt: t2 });
      expectScopedPolicy(ps.inline!, t, t2);
      // The account's role has the new policy only because it was provisioned again.
      expect(ps.provisionedInline?.[DEV]).toBe(ps.inline);
      expect(applied('sso-admin:ProvisionPermissionSet')).toEqual({ applied: 1, errors: 0 });
      expect(await grant(req(t1))).toEqual({ permissionSetArn: ps.arn, permissionSetName: name, expiresAt: t2 });

      // The revoke needs nothing from the ledger: it finds the permission set by its name.
      ledger.delete(kind.accessKey(req()));
      await kind.revoke(ctx, req(), {});
      expect(psNamed(name)).toBeUndefined();
      expect(sim.admin.listAssignments({ principalId: group, accountId: DEV }).map((a) => a.permissionSetArn)).not.toContain(ps.arn);
    });

    test('a grant retried after a crash reuses the permission set it had created', async () => {
      const req = request({ type: 'user', id: userId('dave') }, t);
      const name = `ACSSM-${hash(req)}`;
      const ctl = await ssoAdminClient(ctx);
      const inst = await ssoInstance(ctx);
      await ctl.send(new CreatePermissionSetCommand({ InstanceArn: inst.instanceArn, Name: name }));
      const before = sim.world.sso!.permissionSets.size;

      const kept = await grant(req);
      expect(sim.world.sso!.permissionSets.size).toBe(before);
      expect(kept.permissionSetArn).toBe(psNamed(name)!.arn);
      expectScopedPolicy(psNamed(name)!.inline!, t, null);
      await revoke(req);
      expect(psNamed(name)).toBeUndefined();
    });

    test('an assignment that FAILS fails the grant and leaves no permission set behind', async () => {
      const req = request({ type: 'user', id: userId('erin') }, t);
      sim.admin.failNextAssignments({ count: 1, reason: 'Received a 404 status error: No user found.' });
      const err = await rejection(kind.grant(ctx, req, { present: false }));
      expect(err.code).toBe('ACCESS_FAILED');
      expect(err.message).toContain('No user found');
      expect(psNamed(`ACSSM-${hash(req)}`)).toBeUndefined();
    });

    test('a permission set someone else assigned too is left in place and the revoke says so', async () => {
      const req = request({ type: 'user', id: userId('frank') }, t);
      const name = `ACSSM-${hash(req)}`;
      const kept = await grant(req);
      ledger.delete(kind.accessKey(req));
      const arn = kept.permissionSetArn as string;
      sim.admin.addAssignment({ accountId: PROD, permissionSetArn: arn, principalType: 'USER', principalId: userId('grace') });

      const out = await kind.revoke(ctx, req, kept);
      expect(out?.notes?.join(' ')).toContain(`permission set ${name} (${arn}) is still assigned or provisioned elsewhere and was left in place`);
      expect(sim.admin.hasAssignment({ accountId: DEV, permissionSetArn: arn, principalType: 'USER', principalId: userId('frank') })).toBe(false);
      expect(psNamed(name)).toBeDefined();
      sim.admin.removeAssignment({ accountId: PROD, permissionSetArn: arn, principalType: 'USER', principalId: userId('grace') });
      sim.world.sso!.provisioned.get(PROD)?.delete(arn);
      await kind.revoke(ctx, req, kept);
      expect(psNamed(name)).toBeUndefined();
    }, 30_000);

    // Regression: a permission set created before the tag existed cannot be deleted under
    // the tag-scoped template (AccessDenied), which failed the whole revoke after the
    // assignment was already gone.
    test('a permission set IAM will not let it delete (untagged, from before the tag) is left in place with a note; the revoke succeeds', async () => {
      const req = request({ type: 'user', id: userId('heidi') }, t);
      const name = `ACSSM-${hash(req)}`;
      const kept = await grant(req);
      const arn = kept.permissionSetArn as string;
      const mgmtRole = { accountId: MGMT, roleName: 'AccessConnectorManagement' };
      const saved = sim.admin.getRole(mgmtRole)!.permissions as { allow: string[]; deny?: string[] };
      sim.admin.setRolePermissions({ ...mgmtRole, allow: saved.allow, deny: [...(saved.deny ?? []), 'sso:DeletePermissionSet'] });
      try {
        const out = await kind.revoke(ctx, req, kept);
        ledger.delete(kind.accessKey(req));
        expect(out?.notes?.join(' ')).toContain(`permission set ${name} (${arn}) was left in place`);
        expect(out?.notes?.join(' ')).toContain('access-connector-managed=true');
      } finally {
        sim.admin.setRolePermissions({ ...mgmtRole, ...saved });
      }
      expect(sim.admin.hasAssignment({ accountId: DEV, permissionSetArn: arn, principalType: 'USER', principalId: userId('heidi') })).toBe(false);
      expect(psNamed(name)).toBeDefined();
      await kind.revoke(ctx, req, kept);
      expect(psNamed(name)).toBeUndefined();
    }, 30_000);

    test('the management account is refused unless the integration allows it', async () => {
      sim.admin.putInstance({ accountId: MGMT, region: 'us-east-1', instanceId: 'i-0123456789abcdef0' });
      const req = request({ type: 'user', id: userId('alice') }, { accountId: MGMT, region: 'us-east-1', instanceIds: ['i-0123456789abcdef0'] });
      expect((await rejection(kind.facts(ctx, req))).code).toBe('ACCESS_REFUSED');
      expect(await kind.facts(accessContextFor(sim, { allowManagementAccount: true }), req)).toMatchObject({ accountIds: [MGMT] });
    });
  });

  describe('simulator: permission set operations answer as AWS documents', () => {
    test('names, session durations, duplicate names, inline policies, provisioning where not provisioned, deleting an assigned set', async () => {
      // A plain SDK client: this checks the simulator itself, including operations the
      // connector never calls (its own client factory refuses those).
      const sso = new SSOAdminClient({ region: 'us-east-1', credentials: ctx.session.management().provider });
      const { instanceArn } = await ssoInstance(ctx);
      const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e as { name?: string }).name);

      expect(await code(sso.send(new CreatePermissionSetCommand({ InstanceArn: instanceArn, Name: 'bad name!' })))).toBe('ValidationException');
      expect(await code(sso.send(new CreatePermissionSetCommand({ InstanceArn: instanceArn, Name: 'x'.repeat(33) })))).toBe('ValidationException');
      expect(await code(sso.send(new CreatePermissionSetCommand({ InstanceArn: instanceArn, Name: 'sim-short', SessionDuration: 'PT30M' })))).toBe('ValidationException');
      expect(await code(sso.send(new CreatePermissionSetCommand({ InstanceArn: instanceArn, Name: 'sim-long', SessionDuration: 'PT13H' })))).toBe('ValidationException');
      expect(await code(sso.send(new CreatePermissionSetCommand({ InstanceArn: instanceArn, Name: 'ReadOnly' })))).toBe('ConflictException');

      const made = (await sso.send(new CreatePermissionSetCommand({ InstanceArn: instanceArn, Name: 'sim-check', SessionDuration: 'PT2H' }))).PermissionSet!;
      expect(made.SessionDuration).toBe('PT2H');
      expect((await sso.send(new ListPermissionSetsCommand({ InstanceArn: instanceArn }))).PermissionSets).toContain(made.PermissionSetArn);

      // Provisioning to an account the set was never assigned in fails, asynchronously.
      const started = (await sso.send(new ProvisionPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: made.PermissionSetArn!, TargetType: 'AWS_ACCOUNT', TargetId: DEV }))).PermissionSetProvisioningStatus!;
      expect(started.Status).toBe('IN_PROGRESS');
      await new Promise((r) => setTimeout(r, DELAY_MS + 50));
      const done = (await sso.send(new DescribePermissionSetProvisioningStatusCommand({ InstanceArn: instanceArn, ProvisionPermissionSetRequestId: started.RequestId! }))).PermissionSetProvisioningStatus!;
      expect(done.Status).toBe('FAILED');
      expect(done.FailureReason).toContain(`Permission set provision not found in AWS account ${DEV}`);

      // Inline policies: JSON only; deleting one leaves the set without.
      const ps = { InstanceArn: instanceArn, PermissionSetArn: made.PermissionSetArn! };
      expect(await code(sso.send(new PutInlinePolicyToPermissionSetCommand({ ...ps, InlinePolicy: '{"Version":' })))).toBe('ValidationException');
      expect(await code(sso.send(new PutInlinePolicyToPermissionSetCommand({ ...ps, InlinePolicy: '{"Version":"2012-10-17","Statement":[]}' })))).toBe('ok');
      expect((await sso.send(new GetInlinePolicyForPermissionSetCommand(ps))).InlinePolicy).toBe('{"Version":"2012-10-17","Statement":[]}');
      await sso.send(new DeleteInlinePolicyFromPermissionSetCommand(ps));
      expect((await sso.send(new GetInlinePolicyForPermissionSetCommand(ps))).InlinePolicy).toBe('');

      sim.admin.addAssignment({ accountId: DEV, permissionSetArn: made.PermissionSetArn!, principalType: 'USER', principalId: userId('heidi') });
      expect((await sso.send(new ListAccountsForProvisionedPermissionSetCommand(ps))).AccountIds).toEqual([DEV]);
      expect(await code(sso.send(new DeletePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: made.PermissionSetArn! })))).toBe('ConflictException');
      sim.admin.removeAssignment({ accountId: DEV, permissionSetArn: made.PermissionSetArn!, principalType: 'USER', principalId: userId('heidi') });
      sim.world.sso!.provisioned.get(DEV)?.delete(made.PermissionSetArn!);
      expect(await code(sso.send(new DeletePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: made.PermissionSetArn! })))).toBe('ok');
      expect(await code(sso.send(new DeletePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: made.PermissionSetArn! })))).toBe('ResourceNotFoundException');
    });
  });
});
