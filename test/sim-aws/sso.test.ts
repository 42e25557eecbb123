import {
  SSOAdminClient, ListInstancesCommand, ListPermissionSetsCommand, DescribePermissionSetCommand, ListAccountAssignmentsCommand,
  ListPermissionSetsProvisionedToAccountCommand, ListAccountAssignmentsForPrincipalCommand, ListManagedPoliciesInPermissionSetCommand,
  ListCustomerManagedPolicyReferencesInPermissionSetCommand, GetInlinePolicyForPermissionSetCommand, GetPermissionsBoundaryForPermissionSetCommand, ListTagsForResourceCommand,
  CreateAccountAssignmentCommand, DeleteAccountAssignmentCommand, DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand, ListAccountAssignmentCreationStatusCommand, paginateListAccountAssignmentsForPrincipal,
  ResourceNotFoundException, ConflictException, ThrottlingException, AccessDeniedException, ValidationException,
} from '@aws-sdk/client-sso-admin';
import {
  IdentitystoreClient, ListUsersCommand, paginateListUsers, ListGroupsCommand, ListGroupMembershipsCommand, DescribeUserCommand,
  CreateGroupMembershipCommand, GetGroupMembershipIdCommand, DeleteGroupMembershipCommand, ListGroupMembershipsForMemberCommand,
  DescribeGroupCommand, ResourceNotFoundException as IdsNotFound, ConflictException as IdsConflict, ThrottlingException as IdsThrottling,
} from '@aws-sdk/client-identitystore';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { ssoAdminService } from '../sim/aws/services/sso-admin.js';
import type { AssignmentOp } from '../sim/aws/world.js';
import { cfg, failure, management, member, MGMT } from './helpers.js';

describe('SSO Admin', () => {
  let sim: AwsSimulator;
  let sso: SSOAdminClient;
  let instanceArn: string;
  let psArn: (name: string) => Promise<string>;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false, sso: { assignmentDelayMs: 200, maxOutstanding: 2 } });
    sso = new SSOAdminClient(cfg(sim, await management(sim)));
    instanceArn = (await sso.send(new ListInstancesCommand({}))).Instances![0]!.InstanceArn!;
    psArn = async (name) => {
      for (const arn of (await sso.send(new ListPermissionSetsCommand({ InstanceArn: instanceArn }))).PermissionSets!) {
        if ((await sso.send(new DescribePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: arn }))).PermissionSet?.Name === name) return arn;
      }
      throw new Error(name);
    };
  });
  afterAll(() => sim.close());

  test('instance, permission sets and their policies', async () => {
    const inst = await sso.send(new ListInstancesCommand({}));
    expect(inst.Instances).toHaveLength(1);
    expect(inst.Instances![0]!.IdentityStoreId).toMatch(/^d-\d{10}$/);
    expect(instanceArn).toMatch(/^arn:aws:sso:::instance\/ssoins-[0-9a-f]{16}$/);
    // Another region, or another account, sees no instance.
    expect((await new SSOAdminClient(cfg(sim, await management(sim), 'eu-west-1')).send(new ListInstancesCommand({}))).Instances).toEqual([]);
    const dev = await psArn('Developer');
    expect((await sso.send(new ListManagedPoliciesInPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: dev }))).AttachedManagedPolicies)
      .toEqual([{ Arn: 'arn:aws:iam::aws:policy/PowerUserAccess', Name: 'PowerUserAccess' }]);
    expect((await sso.send(new ListCustomerManagedPolicyReferencesInPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: dev }))).CustomerManagedPolicyReferences)
      .toEqual([{ Name: 'DeployPolicy', Path: '/' }]);
    expect(JSON.parse((await sso.send(new GetInlinePolicyForPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: dev }))).InlinePolicy!).Statement[0].Effect).toBe('Deny');
    expect(await failure(sso.send(new GetPermissionsBoundaryForPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: dev })))).toBeInstanceOf(ResourceNotFoundException);
    const audit = await psArn('SecurityAudit');
    expect((await sso.send(new GetPermissionsBoundaryForPermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: audit }))).PermissionsBoundary?.ManagedPolicyArn).toBe('arn:aws:iam::aws:policy/ReadOnlyAccess');
    expect(await failure(sso.send(new DescribePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: `${instanceArn.replace('instance', 'permissionSet')}/ps-0000000000000000` })))).toBeInstanceOf(ResourceNotFoundException);
  });

  test('ListTagsForResource: a permission set\'s tags, none for an untagged one, ResourceNotFound for an unknown ARN', async () => {
    const dev = await psArn('Developer');
    expect((await sso.send(new ListTagsForResourceCommand({ InstanceArn: instanceArn, ResourceArn: dev }))).Tags).toEqual([{ Key: 'owner', Value: 'platform' }]);
    // InstanceArn may be left out: the permission set ARN names its instance.
    expect((await sso.send(new ListTagsForResourceCommand({ ResourceArn: dev }))).Tags).toEqual([{ Key: 'owner', Value: 'platform' }]);
    expect((await sso.send(new ListTagsForResourceCommand({ InstanceArn: instanceArn, ResourceArn: await psArn('Billing') }))).Tags).toEqual([]);
    const missing = `${instanceArn.replace('instance', 'permissionSet')}/ps-0000000000000000`;
    expect(await failure(sso.send(new ListTagsForResourceCommand({ InstanceArn: instanceArn, ResourceArn: missing })))).toBeInstanceOf(ResourceNotFoundException);
  });

  test('assignments per account × permission set and per principal, paginated', async () => {
    const prov = await sso.send(new ListPermissionSetsProvisionedToAccountCommand({ InstanceArn: instanceArn, AccountId: '444444444401' }));
    expect(prov.PermissionSets).toHaveLength(3);
    const dev = await psArn('Developer');
    const a = await sso.send(new ListAccountAssignmentsCommand({ InstanceArn: instanceArn, AccountId: '444444444401', PermissionSetArn: dev }));
    expect(a.AccountAssignments).toEqual([{ AccountId: '444444444401', PermissionSetArn: dev, PrincipalType: 'GROUP', PrincipalId: expect.any(String) }]);
    const groupId = a.AccountAssignments![0]!.PrincipalId!;
    const all = [];
    for await (const p of paginateListAccountAssignmentsForPrincipal({ client: sso, pageSize: 3 }, { InstanceArn: instanceArn, PrincipalId: groupId, PrincipalType: 'GROUP' })) all.push(...p.AccountAssignments!);
    expect(all).toHaveLength(10);
    expect(await failure(sso.send(new ListPermissionSetsCommand({ InstanceArn: instanceArn, MaxResults: 101 })))).toBeInstanceOf(ValidationException);
  });

  test('create/delete are asynchronous: IN_PROGRESS, then SUCCEEDED; idempotent create; missing delete → ResourceNotFound', async () => {
    const ps = await psArn('ReadOnly');
    const userId = [...sim.world.sso!.users.values()].find((u) => u.UserName === 'bob@example.com')!.UserId;
    const target = { InstanceArn: instanceArn, TargetId: '555555555501', TargetType: 'AWS_ACCOUNT' as const, PermissionSetArn: ps, PrincipalType: 'USER' as const, PrincipalId: userId };
    const created = await sso.send(new CreateAccountAssignmentCommand(target));
    expect(created.AccountAssignmentCreationStatus?.Status).toBe('IN_PROGRESS');
    const requestId = created.AccountAssignmentCreationStatus!.RequestId!;
    const assignment = { accountId: '555555555501', permissionSetArn: ps, principalType: 'USER' as const, principalId: userId };
    expect(sim.admin.hasAssignment(assignment)).toBe(false);
    // The same assignment while the first is in flight → ConflictException.
    expect(await failure(sso.send(new CreateAccountAssignmentCommand(target)))).toBeInstanceOf(ConflictException);
    sim.admin.advanceClock({ ms: 250 });
    const st = await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: instanceArn, AccountAssignmentCreationRequestId: requestId }));
    expect(st.AccountAssignmentCreationStatus?.Status).toBe('SUCCEEDED');
    expect(sim.admin.hasAssignment(assignment)).toBe(true);
    // Creating what exists succeeds, as in AWS.
    const again = await sso.send(new CreateAccountAssignmentCommand(target));
    sim.admin.advanceClock({ ms: 250 });
    expect((await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: instanceArn, AccountAssignmentCreationRequestId: again.AccountAssignmentCreationStatus!.RequestId }))).AccountAssignmentCreationStatus?.Status).toBe('SUCCEEDED');
    const listed = await sso.send(new ListAccountAssignmentCreationStatusCommand({ InstanceArn: instanceArn, Filter: { Status: 'SUCCEEDED' } }));
    expect(listed.AccountAssignmentsCreationStatus!.map((s) => s.RequestId)).toContain(requestId);

    const del = await sso.send(new DeleteAccountAssignmentCommand(target));
    expect(del.AccountAssignmentDeletionStatus?.Status).toBe('IN_PROGRESS');
    sim.admin.advanceClock({ ms: 250 });
    expect((await sso.send(new DescribeAccountAssignmentDeletionStatusCommand({ InstanceArn: instanceArn, AccountAssignmentDeletionRequestId: del.AccountAssignmentDeletionStatus!.RequestId }))).AccountAssignmentDeletionStatus?.Status).toBe('SUCCEEDED');
    expect(sim.admin.hasAssignment(assignment)).toBe(false);
    expect(await failure(sso.send(new DeleteAccountAssignmentCommand(target)))).toBeInstanceOf(ResourceNotFoundException);
  });

  test('FAILED with a reason: unknown principal, injected failure', async () => {
    const ps = await psArn('ReadOnly');
    const bad = await sso.send(new CreateAccountAssignmentCommand({ InstanceArn: instanceArn, TargetId: '555555555502', TargetType: 'AWS_ACCOUNT', PermissionSetArn: ps, PrincipalType: 'USER', PrincipalId: 'no-such-user' }));
    sim.admin.advanceClock({ ms: 250 });
    const st = await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: instanceArn, AccountAssignmentCreationRequestId: bad.AccountAssignmentCreationStatus!.RequestId }));
    expect(st.AccountAssignmentCreationStatus?.Status).toBe('FAILED');
    expect(st.AccountAssignmentCreationStatus?.FailureReason).toContain('no-such-user');
    sim.admin.failNextAssignments({ count: 1, reason: 'Injected: permission set provisioning failed' });
    const userId = [...sim.world.sso!.users.keys()][0]!;
    const op = await sso.send(new CreateAccountAssignmentCommand({ InstanceArn: instanceArn, TargetId: '555555555502', TargetType: 'AWS_ACCOUNT', PermissionSetArn: ps, PrincipalType: 'USER', PrincipalId: userId }));
    sim.admin.advanceClock({ ms: 250 });
    const st2 = await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: instanceArn, AccountAssignmentCreationRequestId: op.AccountAssignmentCreationStatus!.RequestId }));
    expect(st2.AccountAssignmentCreationStatus).toMatchObject({ Status: 'FAILED', FailureReason: 'Injected: permission set provisioning failed' });
  });

  test('outstanding-operation limit → ConflictException (or ThrottlingException when configured)', async () => {
    const ps = await psArn('ReadOnly');
    const users = [...sim.world.sso!.users.keys()];
    const create = (i: number) => sso.send(new CreateAccountAssignmentCommand({ InstanceArn: instanceArn, TargetId: '555555555503', TargetType: 'AWS_ACCOUNT', PermissionSetArn: ps, PrincipalType: 'USER', PrincipalId: users[i]! }));
    await create(0); await create(1);
    expect(await failure(create(2))).toBeInstanceOf(ConflictException);
    sim.admin.advanceClock({ ms: 250 });
    await expect(create(2)).resolves.toBeDefined();
    sim.admin.advanceClock({ ms: 250 });

    const t = await startAwsSimulator({ quotas: false, sso: { assignmentDelayMs: 10_000, maxOutstanding: 1, outstandingError: 'ThrottlingException' } });
    try {
      const c = new SSOAdminClient(cfg(t, await management(t)));
      const inst = t.world.sso!.arn;
      const p = [...t.world.sso!.permissionSets.keys()][0]!;
      const u = [...t.world.sso!.users.keys()];
      await c.send(new CreateAccountAssignmentCommand({ InstanceArn: inst, TargetId: '555555555503', TargetType: 'AWS_ACCOUNT', PermissionSetArn: p, PrincipalType: 'USER', PrincipalId: u[0]! }));
      expect(await failure(c.send(new CreateAccountAssignmentCommand({ InstanceArn: inst, TargetId: '555555555503', TargetType: 'AWS_ACCOUNT', PermissionSetArn: p, PrincipalType: 'USER', PrincipalId: u[1]! })))).toBeInstanceOf(ThrottlingException);
    } finally {
      await t.close();
    }
  });

  test('a request is admitted by its own instant: the clock moving while it is handled never frees a slot early', async () => {
    // A busy host can let time pass between the instant a request is stamped with and the
    // moment its handler runs. Both the admission (which operations are still outstanding)
    // and the new operation's lifetime must use that one instant, or an operation that
    // completed in between frees its slot for one whose lifetime overlaps it.
    const t = await startAwsSimulator({ quotas: false, sso: { assignmentDelayMs: 100, maxOutstanding: 1 } });
    try {
      const creds = await management(t);
      const c = new SSOAdminClient(cfg(t, creds));
      const inst = t.world.sso!;
      const p = [...inst.permissionSets.keys()][0]!;
      const u = [...inst.users.keys()];
      const input = (i: number) => ({ InstanceArn: inst.arn, TargetId: '555555555503', TargetType: 'AWS_ACCOUNT' as const, PermissionSetArn: p, PrincipalType: 'USER' as const, PrincipalId: u[i]! });
      const first = await c.send(new CreateAccountAssignmentCommand(input(0)));
      const op = (t.admin.listAssignmentOperations() as AssignmentOp[]).find((o) => o.requestId === first.AccountAssignmentCreationStatus!.RequestId)!;
      // The second request was stamped 1 ms before the first completes; its handler runs once
      // the clock has passed that completion.
      const stampedAt = op.completesAt - 1;
      t.admin.advanceClock({ ms: 150 });
      const ctx = {
        sim: t.runtime, world: t.world, session: t.runtime.sessions.get(creds.accessKeyId)!, account: t.world.accounts.get(MGMT)!,
        region: inst.region, service: 'sso-admin' as const, op: 'CreateAccountAssignment', input: input(1), requestId: 'late-handler', now: stampedAt,
      };
      expect(() => ssoAdminService.ops['CreateAccountAssignment']!(ctx)).toThrow('Too many concurrent account assignment operations');
      expect(op.status).toBe('IN_PROGRESS');
    } finally {
      await t.close();
    }
  });

  test('a member account cannot use the instance; identity source readable via admin', async () => {
    sim.admin.setRolePermissions({ accountId: '333333333301', roleName: 'AccessConnectorMember', allow: ['sso:*'] });
    const m = new SSOAdminClient(cfg(sim, await member(sim, '333333333301')));
    expect((await m.send(new ListInstancesCommand({}))).Instances).toEqual([]);
    expect(await failure(m.send(new ListPermissionSetsCommand({ InstanceArn: instanceArn })))).toBeInstanceOf(AccessDeniedException);
    expect(sim.admin.ssoInstance()).toMatchObject({ identitySource: 'IDENTITY_CENTER', ownerAccountId: MGMT });
    sim.admin.setIdentitySource({ source: 'EXTERNAL_IDP' });
    expect(sim.admin.ssoInstance().identitySource).toBe('EXTERNAL_IDP');
    const viaHttp = await (await fetch(`${sim.url}/__sim/admin/ssoInstance`)).json() as { identitySource: string };
    expect(viaHttp.identitySource).toBe('EXTERNAL_IDP');
  });
});

describe('Identity Store', () => {
  let sim: AwsSimulator;
  let ids: IdentitystoreClient;
  let storeId: string;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    ids = new IdentitystoreClient(cfg(sim, await management(sim)));
    storeId = sim.world.sso!.identityStoreId;
  });
  afterAll(() => sim.close());

  test('users, groups, memberships, paginated', async () => {
    const users = [];
    for await (const p of paginateListUsers({ client: ids, pageSize: 3 }, { IdentityStoreId: storeId })) users.push(...p.Users!);
    expect(users).toHaveLength(10);
    const first = await ids.send(new ListUsersCommand({ IdentityStoreId: storeId, MaxResults: 3 }));
    expect(first.NextToken).toBeDefined();
    const alice = users.find((u) => u.UserName === 'alice@example.com')!;
    expect((await ids.send(new DescribeUserCommand({ IdentityStoreId: storeId, UserId: alice.UserId }))).Emails?.[0]?.Value).toBe('alice@example.com');
    const groups = (await ids.send(new ListGroupsCommand({ IdentityStoreId: storeId }))).Groups!;
    expect(groups.map((g) => g.DisplayName).sort()).toEqual(['Admins', 'Developers', 'Finance', 'ReadOnly', 'Security']);
    const admins = groups.find((g) => g.DisplayName === 'Admins')!;
    expect((await ids.send(new DescribeGroupCommand({ IdentityStoreId: storeId, GroupId: admins.GroupId }))).Description).toBe('Cloud administrators');
    const ms = await ids.send(new ListGroupMembershipsCommand({ IdentityStoreId: storeId, GroupId: admins.GroupId }));
    expect(ms.GroupMemberships).toHaveLength(2);
    expect(ms.GroupMemberships![0]!.MemberId).toHaveProperty('UserId');
    const forAlice = await ids.send(new ListGroupMembershipsForMemberCommand({ IdentityStoreId: storeId, MemberId: { UserId: alice.UserId! } }));
    expect(forAlice.GroupMemberships).toHaveLength(2);
    expect(await failure(ids.send(new DescribeUserCommand({ IdentityStoreId: storeId, UserId: 'nope' })))).toBeInstanceOf(IdsNotFound);
  });

  test('membership writes: create, conflict on duplicate, get id, delete, not found', async () => {
    const groups = (await ids.send(new ListGroupsCommand({ IdentityStoreId: storeId }))).Groups!;
    const finance = groups.find((g) => g.DisplayName === 'Finance')!.GroupId!;
    const bob = [...sim.world.sso!.users.values()].find((u) => u.UserName === 'bob@example.com')!.UserId;
    const c = await ids.send(new CreateGroupMembershipCommand({ IdentityStoreId: storeId, GroupId: finance, MemberId: { UserId: bob } }));
    expect(sim.admin.listGroupMemberships({ groupId: finance, userId: bob })).toHaveLength(1);
    expect(await failure(ids.send(new CreateGroupMembershipCommand({ IdentityStoreId: storeId, GroupId: finance, MemberId: { UserId: bob } })))).toBeInstanceOf(IdsConflict);
    const got = await ids.send(new GetGroupMembershipIdCommand({ IdentityStoreId: storeId, GroupId: finance, MemberId: { UserId: bob } }));
    expect(got.MembershipId).toBe(c.MembershipId);
    await ids.send(new DeleteGroupMembershipCommand({ IdentityStoreId: storeId, MembershipId: c.MembershipId }));
    expect(sim.admin.listGroupMemberships({ groupId: finance, userId: bob })).toHaveLength(0);
    expect(await failure(ids.send(new GetGroupMembershipIdCommand({ IdentityStoreId: storeId, GroupId: finance, MemberId: { UserId: bob } })))).toBeInstanceOf(IdsNotFound);
    expect(await failure(ids.send(new DeleteGroupMembershipCommand({ IdentityStoreId: storeId, MembershipId: c.MembershipId })))).toBeInstanceOf(IdsNotFound);
  });

  test('Identity Center quota (~20 TPS) is shared by sso-admin and identitystore', async () => {
    const q = await startAwsSimulator({ quotas: true });
    try {
      const creds = await management(q);
      const a = new SSOAdminClient(cfg(q, creds));
      const b = new IdentitystoreClient(cfg(q, creds));
      const store = q.world.sso!.identityStoreId;
      // 15 + 15 calls: each client alone stays under the 20-call burst, so any throttling
      // proves the bucket is shared. No refill while they run, so the count is exact on a
      // machine of any speed: the first 15 and 5 of the next 15 are served.
      q.admin.setQuotas({ refill: false });
      const ok1 = await Promise.allSettled(Array.from({ length: 15 }, () => a.send(new ListInstancesCommand({}))));
      const rest = await Promise.allSettled(Array.from({ length: 15 }, () => b.send(new ListGroupsCommand({ IdentityStoreId: store }))));
      const rejected = rest.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(ok1.filter((r) => r.status === 'fulfilled')).toHaveLength(15);
      expect(rejected).toHaveLength(10);
      for (const r of rejected) expect(r.reason).toBeInstanceOf(IdsThrottling);
    } finally {
      await q.close();
    }
  });
});
