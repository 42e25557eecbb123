import {
  IAMClient, GetAccountAuthorizationDetailsCommand, paginateGetAccountAuthorizationDetails, ListRolesCommand, GetRoleCommand,
  UpdateAssumeRolePolicyCommand, PutRolePermissionsBoundaryCommand, DeleteRolePermissionsBoundaryCommand, TagRoleCommand, UntagRoleCommand,
  AddUserToGroupCommand, RemoveUserFromGroupCommand, PutRolePolicyCommand, DeleteRolePolicyCommand, GetRolePolicyCommand,
  ListAccessKeysCommand, GetAccessKeyLastUsedCommand, GetUserCommand, GetGroupCommand, ListAttachedRolePoliciesCommand, GetPolicyCommand,
  GetPolicyVersionCommand, ListAccountAliasesCommand, ListGroupsForUserCommand, ListPoliciesCommand, PutUserPermissionsBoundaryCommand,
  NoSuchEntityException, LimitExceededException, MalformedPolicyDocumentException, UnmodifiableEntityException, IAMServiceException,
} from '@aws-sdk/client-iam';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, member, MGMT } from './helpers.js';

const ACCT = '333333333301';

describe('IAM', () => {
  let sim: AwsSimulator;
  let iam: IAMClient;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    iam = new IAMClient(cfg(sim, await member(sim, ACCT)));
  });
  afterAll(() => sim.close());

  test('GetAccountAuthorizationDetails: every user, group, role and policy, across Marker pages', async () => {
    const users = []; const roles = []; const groups = []; const policies = [];
    let pages = 0;
    for await (const p of paginateGetAccountAuthorizationDetails({ client: iam, pageSize: 4 }, {})) {
      pages++;
      users.push(...(p.UserDetailList ?? [])); roles.push(...(p.RoleDetailList ?? []));
      groups.push(...(p.GroupDetailList ?? [])); policies.push(...(p.Policies ?? []));
    }
    const a = sim.world.accounts.get(ACCT)!;
    expect(users).toHaveLength(a.iam.users.size);
    expect(roles).toHaveLength(a.iam.roles.size);
    expect(groups).toHaveLength(a.iam.groups.size);
    expect(pages).toBeGreaterThan(3);
    const deployer = roles.find((r) => r.RoleName === 'app-deployer')!;
    expect(JSON.parse(decodeURIComponent(deployer.AssumeRolePolicyDocument!)).Statement[0].Principal.AWS).toBe(`arn:aws:iam::${ACCT}:root`);
    expect(deployer.Tags).toContainEqual({ Key: 'owner', Value: 'platform' });
    expect(deployer.RolePolicyList?.[0]?.PolicyName).toBe('extra-s3');
    expect(roles.some((r) => r.RoleName?.startsWith('AWSReservedSSO_') && r.Path === '/aws-reserved/sso.amazonaws.com/')).toBe(true);
    expect(roles.some((r) => r.Path?.startsWith('/aws-service-role/'))).toBe(true);
    expect(users.find((u) => u.UserName === 'ci-bot')?.GroupList).toEqual(['Operators']);
    // Customer policies plus the AWS-managed ones attached in the account.
    expect(policies.some((p) => p.Arn === `arn:aws:iam::${ACCT}:policy/DeployPolicy`)).toBe(true);
    expect(policies.some((p) => p.Arn === 'arn:aws:iam::aws:policy/AdministratorAccess')).toBe(true);
    expect(policies.some((p) => p.Arn === 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess')).toBe(false);
    const filtered = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'] }));
    expect(filtered.UserDetailList).toEqual([]);
    expect(filtered.RoleDetailList!.length).toBe(a.iam.roles.size);
    expect((await failure(iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1001 })))).name).toBe('ValidationError');
  });

  /** The raw XML of an IAM call as the member role (what the SDK parses, before it drops unknown fields). */
  async function rawIam(params: string): Promise<string> {
    const c = await member(sim, ACCT);
    const r = await fetch(sim.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0`,
        'x-amz-security-token': c.sessionToken!,
      },
      body: `Version=2010-05-08&${params}`,
    });
    expect(r.status).toBe(200);
    return r.text();
  }

  // Guards against GAAD rows carrying fields AWS's RoleDetail lacks (the SDK would drop them
  // silently, hiding that a sync needs ListRoles for them).
  test('GetAccountAuthorizationDetails role rows have no MaxSessionDuration or Description, as in AWS', async () => {
    const xml = await rawIam('Action=GetAccountAuthorizationDetails&Filter.member.1=Role');
    expect(xml).toContain('<RoleName>app-deployer</RoleName>');
    expect(xml).not.toContain('MaxSessionDuration');
    expect(xml).not.toContain('<Description>');
    const listed = await iam.send(new ListRolesCommand({}));
    expect(listed.Roles!.every((x) => typeof x.MaxSessionDuration === 'number')).toBe(true);
  });

  test('user access keys have a secret that no read returns', async () => {
    const keys = sim.world.accounts.get(ACCT)!.iam.users.get('ci-bot')!.accessKeys!;
    expect(keys.map((k) => k.secret)).toEqual([expect.stringMatching(/^[0-9a-f]{40}$/), expect.stringMatching(/^[0-9a-f]{40}$/)]);
    const out = [
      await rawIam('Action=GetAccountAuthorizationDetails'),
      await rawIam('Action=ListAccessKeys&UserName=ci-bot'),
      ...await Promise.all(keys.map((k) => rawIam(`Action=GetAccessKeyLastUsed&AccessKeyId=${k.id}`))),
    ].join('\n');
    expect(out).toContain(keys[0]!.id);
    for (const k of keys) expect(out).not.toContain(k.secret);
  });

  test('reads: roles, users, groups, policies, access keys, aliases', async () => {
    const listed = await iam.send(new ListRolesCommand({ MaxItems: 2 }));
    expect(listed.IsTruncated).toBe(true);
    expect(listed.Roles).toHaveLength(2);
    const role = await iam.send(new GetRoleCommand({ RoleName: 'app-deployer' }));
    expect(role.Role?.Arn).toBe(`arn:aws:iam::${ACCT}:role/app-deployer`);
    expect(role.Role?.CreateDate).toBeInstanceOf(Date);
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'app-deployer' }))).AttachedPolicies?.[0]?.PolicyName).toBe('DeployPolicy');
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: 'ci-bot' }));
    expect(keys.AccessKeyMetadata).toHaveLength(2);
    const used = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: keys.AccessKeyMetadata![0]!.AccessKeyId }));
    expect(used.UserName).toBe('ci-bot');
    expect((await iam.send(new GetUserCommand({ UserName: 'ci-bot' }))).User?.Tags).toContainEqual({ Key: 'owner', Value: 'platform' });
    expect((await iam.send(new GetGroupCommand({ GroupName: 'Operators' }))).Users?.map((u) => u.UserName)).toEqual(['ci-bot']);
    expect((await iam.send(new ListGroupsForUserCommand({ UserName: 'auditor' }))).Groups?.map((g) => g.GroupName)).toEqual(['Auditors']);
    const pol = await iam.send(new GetPolicyCommand({ PolicyArn: `arn:aws:iam::${ACCT}:policy/DeployPolicy` }));
    expect(pol.Policy?.AttachmentCount).toBe(2);
    const v = await iam.send(new GetPolicyVersionCommand({ PolicyArn: pol.Policy!.Arn, VersionId: 'v1' }));
    expect(JSON.parse(decodeURIComponent(v.PolicyVersion!.Document!)).Statement[0].Effect).toBe('Allow');
    const local = await iam.send(new ListPoliciesCommand({ Scope: 'Local' }));
    expect(local.Policies?.map((p) => p.PolicyName).sort()).toEqual(['AccessConnectorBoundary', 'DeployPolicy', 'UnusedPolicy']);
    const mgmtIam = new IAMClient(cfg(sim, await member(sim, MGMT)));
    expect((await mgmtIam.send(new ListAccountAliasesCommand({}))).AccountAliases).toEqual(['demo-management']);
    const e = await failure(iam.send(new GetRoleCommand({ RoleName: 'nope' })));
    expect(e).toBeInstanceOf(NoSuchEntityException);
    expect(e.message).toBe('The role with name nope cannot be found.');
  });

  test('UpdateAssumeRolePolicy: written as given; 2,048-character limit; unknown principal; protected roles', async () => {
    const doc = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:user/ci-bot` }, Action: 'sts:AssumeRole', Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } } }] });
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: doc }));
    expect(sim.admin.getRole({ accountId: ACCT, roleName: 'app-deployer' })?.trustPolicy).toBe(doc);
    expect(decodeURIComponent((await iam.send(new GetRoleCommand({ RoleName: 'app-deployer' }))).Role!.AssumeRolePolicyDocument!)).toBe(doc);

    const big = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: 30 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:root` }, Action: 'sts:AssumeRole' })) });
    expect(big.length).toBeGreaterThan(2048);
    expect(await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: big })))).toBeInstanceOf(LimitExceededException);
    expect(await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: '{not json' })))).toBeInstanceOf(MalformedPolicyDocumentException);
    const ghost = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:role/ghost` }, Action: 'sts:AssumeRole' }] });
    const e = await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: ghost })));
    expect(e).toBeInstanceOf(MalformedPolicyDocumentException);
    expect(e.message).toContain('Invalid principal');
    expect(await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'AWSServiceRoleForSSO', PolicyDocument: doc })))).toBeInstanceOf(UnmodifiableEntityException);
  });

  test('boundaries, tags, group membership, inline policies', async () => {
    const boundary = `arn:aws:iam::${ACCT}:policy/AccessConnectorBoundary`;
    await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: 'lambda-exec', PermissionsBoundary: boundary }));
    expect((await iam.send(new GetRoleCommand({ RoleName: 'lambda-exec' }))).Role?.PermissionsBoundary?.PermissionsBoundaryArn).toBe(boundary);
    await iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: 'lambda-exec' }));
    expect(sim.admin.getRole({ accountId: ACCT, roleName: 'lambda-exec' })?.boundary).toBeNull();
    expect(await failure(iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: 'lambda-exec', PermissionsBoundary: `arn:aws:iam::${ACCT}:policy/Nope` })))).toBeInstanceOf(NoSuchEntityException);
    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: 'breakglass', PermissionsBoundary: boundary }));
    expect(sim.admin.getUser({ accountId: ACCT, userName: 'breakglass' })?.boundary).toBe(boundary);

    await iam.send(new TagRoleCommand({ RoleName: 'lambda-exec', Tags: [{ Key: 'access-connector:grant', Value: 'g-1' }] }));
    expect(sim.admin.getRole({ accountId: ACCT, roleName: 'lambda-exec' })?.tags).toEqual([{ Key: 'access-connector:grant', Value: 'g-1' }]);
    await iam.send(new UntagRoleCommand({ RoleName: 'lambda-exec', TagKeys: ['access-connector:grant'] }));
    expect(sim.admin.getRole({ accountId: ACCT, roleName: 'lambda-exec' })?.tags).toEqual([]);

    await iam.send(new AddUserToGroupCommand({ GroupName: 'Operators', UserName: 'breakglass' }));
    expect(sim.admin.getGroupMembers({ accountId: ACCT, groupName: 'Operators' })).toEqual(['ci-bot', 'breakglass']);
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: 'Operators', UserName: 'breakglass' }));
    expect(sim.admin.getGroupMembers({ accountId: ACCT, groupName: 'Operators' })).toEqual(['ci-bot']);
    expect(await failure(iam.send(new AddUserToGroupCommand({ GroupName: 'Operators', UserName: 'ghost' })))).toBeInstanceOf(NoSuchEntityException);

    const deny = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': '2030-01-01T00:00:00Z' } } }] });
    await iam.send(new PutRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'revoke-sessions', PolicyDocument: deny }));
    expect(decodeURIComponent((await iam.send(new GetRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'revoke-sessions' }))).PolicyDocument!)).toBe(deny);
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'revoke-sessions' }));
    expect(await failure(iam.send(new DeleteRolePolicyCommand({ RoleName: 'app-deployer', PolicyName: 'revoke-sessions' })))).toBeInstanceOf(NoSuchEntityException);
  });

  test('missing permission → AccessDenied naming the action and resource; throttling → Throttling', async () => {
    sim.admin.setRolePermissions({ accountId: ACCT, roleName: 'AccessConnectorMember', allow: ['iam:List*', 'iam:GetAccountAuthorizationDetails'], deny: ['iam:ListRoles'] });
    try {
      const e = await failure(iam.send(new GetRoleCommand({ RoleName: 'app-deployer' })));
      expect(e).toBeInstanceOf(IAMServiceException);
      expect(e.name).toBe('AccessDenied');
      expect(e.message).toBe(`User: arn:aws:sts::${ACCT}:assumed-role/AccessConnectorMember/sim-test is not authorized to perform: iam:GetRole on resource: arn:aws:iam::${ACCT}:role/app-deployer because no identity-based policy allows the iam:GetRole action`);
      const d = await failure(iam.send(new ListRolesCommand({})));
      expect(d.message).toContain('explicit deny');
    } finally {
      sim.admin.setRolePermissions({ accountId: ACCT, roleName: 'AccessConnectorMember', allow: ['iam:*'] });
    }
    sim.faults.throttleStorm({ service: 'iam', fraction: 1, durationMs: 60_000 });
    try {
      const t = await failure(iam.send(new ListRolesCommand({})));
      expect(t.name).toBe('Throttling');
      expect(t.$metadata?.httpStatusCode).toBe(400);
    } finally {
      sim.faults.clear();
    }
    // CloudTrail saw the writes, under the caller's session name.
    expect(sim.admin.trailEvents({ accountId: ACCT }).some((ev) => ev.EventName === 'UpdateAssumeRolePolicy' && ev.Username === 'sim-test')).toBe(true);
  });
});
