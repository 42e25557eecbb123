// The simulator's managed-policy attachment operations against the real IAM SDK client:
// Attach*/Detach*/ListAttached* for users, roles and groups on IAM's query protocol, with
// AWS's errors (unknown policy, invalid ARN, detach of what is not attached, protected role)
// and its quota of managed policies per principal.
import {
  AttachGroupPolicyCommand, AttachRolePolicyCommand, AttachUserPolicyCommand, DetachGroupPolicyCommand, DetachRolePolicyCommand,
  DetachUserPolicyCommand, IAMClient, LimitExceededException, ListAttachedGroupPoliciesCommand, ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand, NoSuchEntityException, UnmodifiableEntityException, InvalidInputException,
} from '@aws-sdk/client-iam';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, member } from './helpers.js';

const ACCT = '333333333302';
const aws = (name: string) => `arn:aws:iam::aws:policy/${name}`;

describe('IAM managed-policy attachments', () => {
  let sim: AwsSimulator;
  let iam: IAMClient;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    iam = new IAMClient(cfg(sim, await member(sim, ACCT)));
  });
  afterAll(() => sim.close());

  const listed = async (kind: 'user' | 'role' | 'group', name: string) => {
    const o = kind === 'user' ? await iam.send(new ListAttachedUserPoliciesCommand({ UserName: name }))
      : kind === 'role' ? await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))
        : await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: name }));
    return (o.AttachedPolicies ?? []).map((p) => `${p.PolicyName} ${p.PolicyArn}`);
  };

  test('attach and detach for a user, a role and a group; attaching twice is one attachment', async () => {
    await iam.send(new AttachUserPolicyCommand({ UserName: 'auditor', PolicyArn: aws('ReadOnlyAccess') }));
    await iam.send(new AttachUserPolicyCommand({ UserName: 'auditor', PolicyArn: aws('ReadOnlyAccess') }));
    expect(await listed('user', 'auditor')).toEqual([`SecurityAudit ${aws('SecurityAudit')}`, `ReadOnlyAccess ${aws('ReadOnlyAccess')}`]);
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'lambda-exec', PolicyArn: `arn:aws:iam::${ACCT}:policy/DeployPolicy` }));
    expect(await listed('role', 'lambda-exec')).toEqual([
      `AWSLambdaBasicExecutionRole arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`, `DeployPolicy arn:aws:iam::${ACCT}:policy/DeployPolicy`,
    ]);
    await iam.send(new AttachGroupPolicyCommand({ GroupName: 'Auditors', PolicyArn: aws('ReadOnlyAccess') }));
    expect(await listed('group', 'Auditors')).toEqual([`ReadOnlyAccess ${aws('ReadOnlyAccess')}`]);

    await iam.send(new DetachUserPolicyCommand({ UserName: 'auditor', PolicyArn: aws('ReadOnlyAccess') }));
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'lambda-exec', PolicyArn: `arn:aws:iam::${ACCT}:policy/DeployPolicy` }));
    await iam.send(new DetachGroupPolicyCommand({ GroupName: 'Auditors', PolicyArn: aws('ReadOnlyAccess') }));
    expect(await listed('user', 'auditor')).toEqual([`SecurityAudit ${aws('SecurityAudit')}`]);
    expect(await listed('group', 'Auditors')).toEqual([]);
  });

  test("AWS's errors: unknown policy or principal, invalid ARN, detach of what is not attached, a service-linked role", async () => {
    const unknown = await failure(iam.send(new AttachUserPolicyCommand({ UserName: 'auditor', PolicyArn: `arn:aws:iam::${ACCT}:policy/Nope` })));
    expect([unknown instanceof NoSuchEntityException, unknown.message, unknown.$metadata?.httpStatusCode]).toEqual([true, `Policy arn:aws:iam::${ACCT}:policy/Nope does not exist or is not attachable.`, 404]);
    // A customer-managed policy of another account is not attachable here.
    expect(await failure(iam.send(new AttachRolePolicyCommand({ RoleName: 'lambda-exec', PolicyArn: 'arn:aws:iam::333333333301:policy/DeployPolicy' })))).toBeInstanceOf(NoSuchEntityException);
    expect(await failure(iam.send(new AttachRolePolicyCommand({ RoleName: 'nobody', PolicyArn: aws('ReadOnlyAccess') })))).toBeInstanceOf(NoSuchEntityException);
    const invalid = await failure(iam.send(new AttachGroupPolicyCommand({ GroupName: 'Auditors', PolicyArn: 'arn:aws:iam::aws:role/ReadOnlyAccess' })));
    expect([invalid instanceof InvalidInputException, invalid.message]).toEqual([true, 'ARN arn:aws:iam::aws:role/ReadOnlyAccess is not valid.']);
    const notAttached = await failure(iam.send(new DetachUserPolicyCommand({ UserName: 'auditor', PolicyArn: aws('ReadOnlyAccess') })));
    expect([notAttached instanceof NoSuchEntityException, notAttached.message]).toEqual([true, `Policy ${aws('ReadOnlyAccess')} was not found.`]);
    const slr = [...sim.world.accounts.get(ACCT)!.iam.roles.values()].find((r) => r.path.startsWith('/aws-service-role/'))!;
    expect(await failure(iam.send(new AttachRolePolicyCommand({ RoleName: slr.name, PolicyArn: aws('ReadOnlyAccess') })))).toBeInstanceOf(UnmodifiableEntityException);
  });

  test('at most 10 managed policies per principal: LimitExceeded (409) naming the quota, nothing attached', async () => {
    const policies = sim.world.accounts.get(ACCT)!.iam.policies;
    const names = Array.from({ length: 10 }, (_, i) => {
      const arn = `arn:aws:iam::${ACCT}:policy/Extra${i}`;
      policies.set(arn, { arn, name: `Extra${i}`, id: `ANPAEXTRA${i}`, path: '/', created: Date.now(), updated: Date.now(), document: '{"Version":"2012-10-17","Statement":[]}' });
      return arn;
    });
    for (const a of names.slice(0, 9)) await iam.send(new AttachUserPolicyCommand({ UserName: 'auditor', PolicyArn: a }));
    expect(await listed('user', 'auditor')).toHaveLength(10);
    const e = await failure(iam.send(new AttachUserPolicyCommand({ UserName: 'auditor', PolicyArn: names[9] })));
    expect([e instanceof LimitExceededException, e.name, e.message, e.$metadata?.httpStatusCode]).toEqual([true, 'LimitExceededException', 'Cannot exceed quota for PoliciesPerUser: 10', 409]);
    expect(await listed('user', 'auditor')).toHaveLength(10);
    // One already attached is not a new attachment: no quota error.
    await iam.send(new AttachUserPolicyCommand({ UserName: 'auditor', PolicyArn: names[0] }));

    for (const a of names.slice(0, 10)) await iam.send(new AttachGroupPolicyCommand({ GroupName: 'Operators', PolicyArn: a })).catch((x: unknown) => x);
    expect(await listed('group', 'Operators')).toHaveLength(10);
    expect((await failure(iam.send(new AttachGroupPolicyCommand({ GroupName: 'Operators', PolicyArn: aws('SecurityAudit') })))).message).toBe('Cannot exceed quota for PoliciesPerGroup: 10');

    // A raised quota (20) applies to users and roles, never to groups.
    sim.world.accounts.get(ACCT)!.iam.managedPoliciesQuota = 20;
    await iam.send(new AttachUserPolicyCommand({ UserName: 'auditor', PolicyArn: names[9] }));
    expect(await listed('user', 'auditor')).toHaveLength(11);
    expect((await failure(iam.send(new AttachGroupPolicyCommand({ GroupName: 'Operators', PolicyArn: aws('SecurityAudit') }))))).toBeInstanceOf(LimitExceededException);
    delete sim.world.accounts.get(ACCT)!.iam.managedPoliciesQuota;
  });
});
