// The policy sees what EC2 access really gives, and who receives access: the EC2 kinds'
// facts (read from the simulator over loopback) carry each instance's tags, instance
// profile role, that role's managed policies and boundary, and the runner's check
// (checkFacts with its AWS lookups) refuses on them. Each case is a sidestep a hostile
// control plane could use before these facts existed.
import { checkFacts, factLookups, accountOuPath, admitAccess, type Verdict } from '../../src/access/policy.js';
import { ec2SsmSession } from '../../src/access/kinds/ec2-ssm-session.js';
import { ec2LocalUser } from '../../src/access/kinds/ec2-local-user.js';
import type { AccessContext, AccessKindDef, AccessRequest, Principal } from '../../src/access/types.js';
import { policySchema, type Policy } from '../../src/policy/schema.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { accessContextFor, codeOf } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';

const PROD = '333333333301';
const MGMT = '111111111111';
const EAST = 'us-east-1';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

let sim: AwsSimulator;
let restore: () => void;
let ctx: AccessContext;

const policy = (p: Record<string, unknown>): Policy => policySchema.parse({ version: 1, ...p });
const instanceId = (name: string) => [...sim.world.accounts.get(PROD)!.ssm.get(EAST)!.instances.values()].find((i) => i.name === name)!.id;
const userId = (name: string) => [...sim.world.sso!.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
const role = (name: string) => `arn:aws:iam::${PROD}:role/${name}`;
const refused = (rule: string) => expect.objectContaining({ ok: false, rule });

type Kind = AccessKindDef<Record<string, unknown>>;
const kinds: [string, Kind, (p: Principal, ids: string[]) => AccessRequest][] = [
  ['ec2.ssmSession', ec2SsmSession as unknown as Kind, (principal, instanceIds) => ({ grantId: 'g-1', accessKind: 'ec2.ssmSession', principal, target: { accountId: PROD, region: EAST, instanceIds } })],
  ['ec2.localUser', ec2LocalUser as unknown as Kind, (principal, instanceIds) => ({ grantId: 'g-1', accessKind: 'ec2.localUser', principal, target: { accountId: PROD, region: EAST, instanceIds, sshPublicKey: KEY } })],
];
const carol = (): Principal => ({ type: 'user', id: userId('carol'), userName: 'carol@example.com' });

/** What the runner does before any write: the kind's facts, then the policy on them. */
async function check(p: Policy, kind: Kind, req: AccessRequest, c: AccessContext = ctx): Promise<Verdict> {
  const admitted = admitAccess(p, { jobType: 'grant', integration: c.integration, request: req, now: Date.now() });
  if (!admitted.ok) return admitted;
  const facts = await kind.facts(c, req);
  return checkFacts(p, c.integration, facts, (id) => accountOuPath(c.session, id), factLookups(c, req));
}

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  restore = useAwsEnv(sim.env);
  ctx = accessContextFor(sim);
  // web-1 runs with an instance profile whose role carries AdministratorAccess and a
  // boundary; web-2 with a harmless role; both are tagged.
  sim.admin.createRole({ accountId: PROD, roleName: 'web-admin' });
  const admin = sim.world.accounts.get(PROD)!.iam.roles.get('web-admin')!;
  admin.attached = [ADMIN];
  admin.boundary = 'arn:aws:iam::aws:policy/PowerUserAccess';
  sim.admin.createRole({ accountId: PROD, roleName: 'web-plain' });
  sim.world.accounts.get(PROD)!.iam.roles.get('web-plain')!.attached = ['arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'];
  sim.admin.putInstance({ accountId: PROD, region: EAST, instanceId: instanceId('web-1'), iamRole: 'web-admin', tags: { env: 'prod', Name: 'web-1' } });
  sim.admin.putInstance({ accountId: PROD, region: EAST, instanceId: instanceId('web-2'), iamRole: 'web-plain', tags: { env: 'dev', Name: 'web-2' } });
});
afterAll(async () => {
  destroyAwsLayers();
  restore();
  await sim.close();
});

describe.each(kinds)('%s: the policy sees the instance role', (_name, kind, req) => {
  test('facts carry each instance\'s tags, profile and role, and the role\'s managed policies and boundary', async () => {
    const facts = await kind.facts(ctx, req(carol(), [instanceId('web-1'), instanceId('web-2')]));
    expect(facts.instances).toEqual(expect.arrayContaining([
      { id: instanceId('web-1'), tags: { env: 'prod', Name: 'web-1' }, instanceProfileArn: `arn:aws:iam::${PROD}:instance-profile/web-admin`, roleArn: role('web-admin') },
      { id: instanceId('web-2'), tags: { env: 'dev', Name: 'web-2' }, instanceProfileArn: `arn:aws:iam::${PROD}:instance-profile/web-plain`, roleArn: role('web-plain') },
    ]));
    expect(facts.instanceRoles).toEqual(expect.arrayContaining([
      { arn: role('web-admin'), managedPolicies: [ADMIN], boundary: 'arn:aws:iam::aws:policy/PowerUserAccess' },
      { arn: role('web-plain'), managedPolicies: ['arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'] },
    ]));
  });

  test('"deny AdministratorAccess everywhere" refuses a session on an instance whose role carries it', async () => {
    const p = policy({ deniedManagedPolicies: ['arn:*:iam::aws:policy/AdministratorAccess'] });
    const v = await check(p, kind, req(carol(), [instanceId('web-2'), instanceId('web-1')]));
    expect(v).toEqual(refused('deniedManagedPolicies[0]'));
    expect(!v.ok && v.message).toContain(`through role ${role('web-admin')}`);
    expect(!v.ok && v.message).toContain(instanceId('web-1'));
    expect(await check(p, kind, req(carol(), [instanceId('web-2')]))).toEqual({ ok: true });
  });

  test('roles.deny and roles.allow apply to the instance role', async () => {
    expect(await check(policy({ roles: { deny: ['web-admin'] } }), kind, req(carol(), [instanceId('web-1')]))).toEqual(refused('roles.deny[0]'));
    expect(await check(policy({ roles: { allow: ['support-*'] } }), kind, req(carol(), [instanceId('web-2')]))).toEqual(refused('roles.allow'));
  });

  test('instances.deny by tag and instances.allow by tag, read from EC2', async () => {
    expect(await check(policy({ instances: { deny: ['env=prod'] } }), kind, req(carol(), [instanceId('web-1')]))).toEqual(refused('instances.deny[0]'));
    expect(await check(policy({ instances: { deny: ['env=prod'] } }), kind, req(carol(), [instanceId('web-2')]))).toEqual({ ok: true });
    expect(await check(policy({ instances: { allow: ['env=dev'] } }), kind, req(carol(), [instanceId('web-1')]))).toEqual(refused('instances.allow'));
    // By id, already on receipt.
    expect(await check(policy({ instances: { deny: [instanceId('web-1')] } }), kind, req(carol(), [instanceId('web-1')]))).toEqual(refused('instances.deny[0]'));
  });

  test('principals: the names the request claims do not pass an allowlist; the Identity Store\'s do', async () => {
    // carol, claiming to be alice: the allowlist of alice is decided on carol's real name.
    const forged: Principal = { type: 'user', id: userId('carol'), userName: 'alice@example.com', email: 'alice@example.com' };
    expect(await check(policy({ principals: { allow: ['alice@example.com'] } }), kind, req(forged, [instanceId('web-2')]))).toEqual(refused('principals.allow'));
    expect(await check(policy({ principals: { allow: ['alice@example.com'] } }), kind, req({ ...forged, id: userId('alice') }, [instanceId('web-2')]))).toEqual({ ok: true });
    // A deny by real name holds whatever the request claims.
    expect(await check(policy({ principals: { deny: ['carol@*'] } }), kind, req(forged, [instanceId('web-2')]))).toEqual(refused('principals.deny[0]'));
  });

  test('accounts.denyManagementAccount refuses the management account, read from Organizations', async () => {
    sim.admin.putInstance({ accountId: MGMT, region: EAST, instanceId: 'i-0aaaaaaaaaaaaaaa1' });
    const allowed = accessContextFor(sim, { allowManagementAccount: true });
    const r = { ...req(carol(), ['i-0aaaaaaaaaaaaaaa1']) };
    r.target = { ...r.target, accountId: MGMT };
    expect(await check(policy({ accounts: { denyManagementAccount: true } }), kind, r, allowed)).toEqual(refused('accounts.denyManagementAccount'));
    expect(await check(policy({}), kind, r, allowed)).toEqual({ ok: true });
  });

  test('an instance EC2 does not know is refused: what it gives cannot be checked', async () => {
    expect(await codeOf(kind.facts(ctx, req(carol(), ['i-0bbbbbbbbbbbbbbb2'])))).toBe('AWS_NOT_FOUND');
  });
});

describe('ec2.ssmSession: hybrid nodes', () => {
  test('a managed node\'s service role (SSM IamRole) and tags (SSM) are checked the same way', async () => {
    sim.admin.putInstance({ accountId: PROD, region: EAST, instanceId: 'mi-0123456789abcdef1', iamRole: 'service-role/web-admin', tags: { env: 'lab' } });
    const r = kinds[0]![2](carol(), ['mi-0123456789abcdef1']);
    const facts = await ec2SsmSession.facts(ctx, r as never);
    expect(facts.instances).toEqual([{ id: 'mi-0123456789abcdef1', tags: { env: 'lab' }, roleArn: role('web-admin') }]);
    expect(await check(policy({ deniedManagedPolicies: [ADMIN] }), kinds[0]![1], r)).toEqual(refused('deniedManagedPolicies[0]'));
    expect(await check(policy({ instances: { deny: ['env=lab'] } }), kinds[0]![1], r)).toEqual(refused('instances.deny[0]'));
  });
});
