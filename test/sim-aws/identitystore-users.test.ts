// The simulator's Identity Store user writes against the real SDK client: GetUserId by user
// name (unique regardless of case) or external id, CreateUser with its required fields and
// the uniqueness conflict, DeleteUser (memberships go with the user), and their errors.
import {
  ConflictException, CreateGroupMembershipCommand, CreateUserCommand, DeleteUserCommand, DescribeUserCommand, GetUserIdCommand, IdentitystoreClient,
  ListGroupMembershipsForMemberCommand, ResourceNotFoundException, ValidationException, paginateListUsers,
} from '@aws-sdk/client-identitystore';
import { SSOAdminClient, ListInstancesCommand } from '@aws-sdk/client-sso-admin';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, management } from './helpers.js';

describe('Identity Store users', () => {
  let sim: AwsSimulator;
  let store: IdentitystoreClient;
  let storeId: string;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    const creds = await management(sim);
    storeId = (await new SSOAdminClient(cfg(sim, creds)).send(new ListInstancesCommand({}))).Instances![0]!.IdentityStoreId!;
    store = new IdentitystoreClient(cfg(sim, creds));
  });
  afterAll(() => sim.close());

  const byName = (name: string) => store.send(new GetUserIdCommand({ IdentityStoreId: storeId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'userName', AttributeValue: name } } }));

  test('create, find by user name in any case, describe, delete; memberships go with the user', async () => {
    const created = await store.send(new CreateUserCommand({
      IdentityStoreId: storeId, UserName: 'zoe@example.com', DisplayName: 'Zoe Zhang', Name: { GivenName: 'Zoe', FamilyName: 'Zhang' },
      Emails: [{ Value: 'zoe@example.com', Type: 'work', Primary: true }],
    }));
    expect(created.UserId).toMatch(/^[0-9a-f]{10}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await byName('ZOE@example.com')).UserId).toBe(created.UserId);
    const u = await store.send(new DescribeUserCommand({ IdentityStoreId: storeId, UserId: created.UserId! }));
    expect([u.UserName, u.DisplayName, u.Name?.GivenName, u.Emails?.[0]?.Value]).toEqual(['zoe@example.com', 'Zoe Zhang', 'Zoe', 'zoe@example.com']);
    const group = [...sim.world.sso!.groups.values()][0]!.GroupId;
    await store.send(new CreateGroupMembershipCommand({ IdentityStoreId: storeId, GroupId: group, MemberId: { UserId: created.UserId! } }));

    await store.send(new DeleteUserCommand({ IdentityStoreId: storeId, UserId: created.UserId! }));
    expect(await failure(byName('zoe@example.com'))).toBeInstanceOf(ResourceNotFoundException);
    expect((await store.send(new ListGroupMembershipsForMemberCommand({ IdentityStoreId: storeId, MemberId: { UserId: created.UserId! } }))).GroupMemberships).toEqual([]);
    expect(await failure(store.send(new DeleteUserCommand({ IdentityStoreId: storeId, UserId: created.UserId! })))).toBeInstanceOf(ResourceNotFoundException);
  });

  // Regression: ListUsers keeps its sorted list between calls; a user deleted and another
  // created (the same count) must show in the next listing, not the kept one.
  test('a listing after a user is deleted and another created shows both changes', async () => {
    const list = async () => {
      const ids: string[] = [];
      for await (const p of paginateListUsers({ client: store, pageSize: 3 }, { IdentityStoreId: storeId })) ids.push(...p.Users!.map((u) => u.UserId!));
      return ids;
    };
    const create = async (name: string) =>
      (await store.send(new CreateUserCommand({ IdentityStoreId: storeId, UserName: `${name}@example.com`, DisplayName: name, Name: { GivenName: name, FamilyName: 'Test' } }))).UserId!;
    const gone = await create('xavier');
    const before = await list();
    expect(before).toContain(gone);
    expect(new Set(before).size).toBe(before.length);
    await store.send(new DeleteUserCommand({ IdentityStoreId: storeId, UserId: gone }));
    const added = await create('yan');
    const after = await list();
    expect(after.length).toBe(before.length);
    expect(after).toContain(added);
    expect(after).not.toContain(gone);
    expect(new Set(after).size).toBe(after.length);
    expect(after).toEqual([...after].sort());
    await store.send(new DeleteUserCommand({ IdentityStoreId: storeId, UserId: added }));
  });

  test("AWS's errors: a user name taken (in another case), required fields missing, an unknown identifier", async () => {
    const dup = await failure(store.send(new CreateUserCommand({ IdentityStoreId: storeId, UserName: 'ALICE@example.com', DisplayName: 'A', Name: { GivenName: 'A', FamilyName: 'B' } })));
    expect([dup instanceof ConflictException, (dup as unknown as { Reason?: string }).Reason]).toEqual([true, 'UNIQUENESS_CONSTRAINT_VIOLATION']);
    expect(await failure(store.send(new CreateUserCommand({ IdentityStoreId: storeId, UserName: 'nameless', DisplayName: 'N' })))).toBeInstanceOf(ValidationException);
    expect(await failure(store.send(new CreateUserCommand({ IdentityStoreId: storeId, UserName: 'n', Name: { GivenName: 'A', FamilyName: 'B' } })))).toBeInstanceOf(ValidationException);
    expect(await failure(byName('nobody@example.com'))).toBeInstanceOf(ResourceNotFoundException);
    expect(await failure(store.send(new GetUserIdCommand({ IdentityStoreId: storeId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'displayName', AttributeValue: 'Alice Anders' } } })))).toBeInstanceOf(ValidationException);
    expect(await failure(store.send(new CreateUserCommand({ IdentityStoreId: 'd-0000000000', UserName: 'x', DisplayName: 'X', Name: { GivenName: 'X', FamilyName: 'Y' } })))).toBeInstanceOf(ResourceNotFoundException);
  });
});
