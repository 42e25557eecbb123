// The AWS layer's calls against two independent AWS emulators: our wire-level simulator
// and moto. Each backend states what its world holds; the same assertions must hold on
// both, so the simulator and the connector cannot drift away from AWS together.
// Where moto lacks an operation (docs/moto.md), the case says so and checks what moto does.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ListAccountsForParentCommand, ListOrganizationalUnitsForParentCommand, ListRootsCommand, ListTagsForResourceCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { GetAccountAuthorizationDetailsCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { CreateAccountAssignmentCommand, DeleteAccountAssignmentCommand, DescribeAccountAssignmentCreationStatusCommand, ListAccountAssignmentsCommand, ListInstancesCommand, ListPermissionSetsCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { CreateGroupMembershipCommand, DeleteGroupMembershipCommand, GetGroupMembershipIdCommand, IdentitystoreClient, ListGroupMembershipsCommand, ListGroupsCommand, ListUsersCommand } from '@aws-sdk/client-identitystore';
import { CreateDocumentCommand, DescribeDocumentCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { seedMoto, startMoto, type MotoServer } from '../moto/moto.js';
import { collect, paginate, pageSize } from '../../src/aws/paginate.js';
import { awsErrorCode } from '../../src/aws/errors.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';

interface Backend {
  name: string;
  env: Record<string, string>;
  roleArn: string;
  externalId: string;
  managementAccountId: string;
  rootId: string;
  /** Accounts under each parent (root or OU), as the backend's world holds them. */
  accountsByParent: Map<string, string[]>;
  ouIdsByParent: Map<string, string[]>;
  memberAccount: string;
  iamInManagement: { users: number; roles: number; groups: number };
  accessKeysOf: { user: string; ids: string[] };
  sso: { users: number; groups: number; permissionSets: number; userId: string; groupId: string };
  ledger: { account: string; region: string; table: string };
  close(): Promise<void>;
}

function group<T>(items: T[], key: (t: T) => string, val: (t: T) => string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const t of items) m.set(key(t), [...(m.get(key(t)) ?? []), val(t)].sort());
  return m;
}

async function simBackend(): Promise<Backend> {
  const sim: AwsSimulator = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 50, maxOutstanding: 10, outstandingError: 'ConflictException' } });
  const w = sim.world;
  const inOrg = [...w.accounts.values()].filter((a) => a.inOrg);
  const mgmt = w.accounts.get(DEMO_MANAGEMENT_ACCOUNT)!;
  const userWithKeys = [...mgmt.iam.users.values()].find((u) => (u.accessKeys?.length ?? 0) > 0);
  const anyWithKeys = userWithKeys ?? [...mgmt.iam.users.values()][0]!;
  return {
    name: 'simulator',
    env: sim.env,
    roleArn: `arn:${w.partition}:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/${w.connector.managementRoleName}`,
    externalId: DEMO_EXTERNAL_ID,
    managementAccountId: DEMO_MANAGEMENT_ACCOUNT,
    rootId: w.organization!.rootId,
    accountsByParent: group(inOrg, (a) => a.parentId!, (a) => a.id),
    ouIdsByParent: group([...w.ous.values()], (o) => o.parentId, (o) => o.id),
    memberAccount: inOrg.find((a) => a.id !== DEMO_MANAGEMENT_ACCOUNT && a.state === 'ACTIVE')!.id,
    iamInManagement: { users: mgmt.iam.users.size, roles: mgmt.iam.roles.size, groups: mgmt.iam.groups.size },
    accessKeysOf: { user: anyWithKeys.name, ids: (anyWithKeys.accessKeys ?? []).map((k) => k.id).sort() },
    sso: { users: w.sso!.users.size, groups: w.sso!.groups.size, permissionSets: w.sso!.permissionSets.size, userId: [...w.sso!.users.keys()][0]!, groupId: [...w.sso!.groups.keys()][0]! },
    ledger: { account: w.connector.ledgerTable!.account, region: w.connector.ledgerTable!.region, table: w.connector.ledgerTable!.name },
    close: () => sim.close(),
  };
}

async function motoBackend(): Promise<Backend> {
  const moto: MotoServer = await startMoto();
  const w = await seedMoto(moto.url);
  const ous = Object.values(w.ous);
  const alice = w.iam.accessKeys['alice'] ?? [];
  const accountsByParent = group(w.accounts, (a) => a.parentId, (a) => a.id);
  // The management account itself sits under the root.
  accountsByParent.set(w.organization.rootId, [...(accountsByParent.get(w.organization.rootId) ?? []), w.managementAccountId].sort());
  return {
    name: 'moto',
    env: moto.env,
    roleArn: w.connector.managementRoleArn,
    externalId: w.connector.externalId,
    managementAccountId: w.managementAccountId,
    rootId: w.organization.rootId,
    accountsByParent,
    ouIdsByParent: group(ous, (o) => o.parentId, (o) => o.id),
    memberAccount: w.accounts[0]!.id,
    // The management role is a role too.
    iamInManagement: { users: Object.keys(w.iam.users).length, roles: Object.keys(w.iam.roles).length + 1, groups: Object.keys(w.iam.groups).length },
    accessKeysOf: { user: 'alice', ids: alice.map((k) => k.id).sort() },
    sso: {
      users: Object.keys(w.identityCenter.users).length,
      groups: Object.keys(w.identityCenter.groups).length,
      permissionSets: Object.keys(w.identityCenter.permissionSets).length,
      userId: w.identityCenter.users.carol.userId,
      groupId: w.identityCenter.groups.Auditors.groupId,
    },
    ledger: { account: w.managementAccountId, region: 'us-east-1', table: w.dynamodb.tableName },
    close: () => moto.stop(),
  };
}

describe.each([
  ['simulator', simBackend],
  ['moto', motoBackend],
] as const)('AWS layer against %s', (name, make) => {
  let b: Backend;
  let restore: () => void;
  beforeAll(async () => {
    b = await make();
    restore = useAwsEnv(b.env);
  }, 60_000);
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await b.close();
  });
  const layer = () => awsLayer({ roleArn: b.roleArn, externalId: b.externalId });

  test('credentials: management role with ExternalId, then the member role as a second hop', async () => {
    const { session } = layer();
    const sts = await session.managementClient(STSClient);
    expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe(b.managementAccountId);
    const memberSts = await session.memberClient(STSClient, b.memberAccount);
    const me = await memberSts.send(new GetCallerIdentityCommand({}));
    expect(me.Account).toBe(b.memberAccount);
    expect(me.Arn).toMatch(/:assumed-role\/AccessConnectorMember\/access-connector-conn-test$/);
  });

  test('organizations: the tree read page by page (≤ 20) matches the world', async () => {
    const { session } = layer();
    const org = await session.managementClient(OrganizationsClient);
    const roots = (await org.send(new ListRootsCommand({ MaxResults: pageSize('organizations') }))).Roots!;
    expect(roots.map((r) => r.Id)).toEqual([b.rootId]);
    const parents = [b.rootId];
    const seenAccounts = new Map<string, string[]>();
    const seenOus = new Map<string, string[]>();
    while (parents.length) {
      const parent = parents.shift()!;
      const ous = await collect(paginate(async (t) => {
        const o = await org.send(new ListOrganizationalUnitsForParentCommand({ ParentId: parent, MaxResults: pageSize('organizations', 2), NextToken: t }));
        return { items: o.OrganizationalUnits, next: o.NextToken };
      }));
      if (ous.length) seenOus.set(parent, ous.map((o) => o.Id!).sort());
      parents.push(...ous.map((o) => o.Id!));
      const accts = await collect(paginate(async (t) => {
        const o = await org.send(new ListAccountsForParentCommand({ ParentId: parent, MaxResults: pageSize('organizations', 2), NextToken: t }));
        return { items: o.Accounts, next: o.NextToken };
      }));
      if (accts.length) seenAccounts.set(parent, accts.map((a) => a.Id!).sort());
      for (const a of accts) expect(['ACTIVE', 'SUSPENDED', 'PENDING_CLOSURE', 'CLOSED']).toContain(a.State ?? a.Status);
    }
    expect(seenOus).toEqual(b.ouIdsByParent);
    expect(seenAccounts).toEqual(b.accountsByParent);
    const tags = await org.send(new ListTagsForResourceCommand({ ResourceId: b.memberAccount }));
    expect(Array.isArray(tags.Tags)).toBe(true);
  });

  test('iam: GetAccountAuthorizationDetails and access keys through the member role', async () => {
    const { session } = layer();
    const iam = await session.memberClient(IAMClient, b.managementAccountId);
    const pages = await collect(paginate(async (t) => {
      const o = await iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: pageSize('iamAuthorizationDetails', 5), Marker: t }));
      return { items: [o], next: o.IsTruncated ? o.Marker : undefined };
    }));
    const count = (k: 'UserDetailList' | 'RoleDetailList' | 'GroupDetailList') => pages.reduce((n, p) => n + (p[k]?.length ?? 0), 0);
    expect({ users: count('UserDetailList'), roles: count('RoleDetailList'), groups: count('GroupDetailList') }).toEqual(b.iamInManagement);
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: b.accessKeysOf.user }));
    expect(keys.AccessKeyMetadata!.map((k) => k.AccessKeyId).sort()).toEqual(b.accessKeysOf.ids);
    for (const k of keys.AccessKeyMetadata!) expect(k).not.toHaveProperty('SecretAccessKey');
  });

  test('identity center: instance, permission sets, users, groups, memberships; membership write and read back', async () => {
    const { session } = layer();
    const sso = await session.managementClient(SSOAdminClient);
    const inst = (await sso.send(new ListInstancesCommand({}))).Instances![0]!;
    const pss = await collect(paginate(async (t) => {
      const o = await sso.send(new ListPermissionSetsCommand({ InstanceArn: inst.InstanceArn!, MaxResults: pageSize('ssoAdmin', 1), NextToken: t }));
      return { items: o.PermissionSets, next: o.NextToken };
    }));
    expect(pss).toHaveLength(b.sso.permissionSets);
    const ids = await session.managementClient(IdentitystoreClient);
    const store = inst.IdentityStoreId!;
    const users = await collect(paginate(async (t) => {
      const o = await ids.send(new ListUsersCommand({ IdentityStoreId: store, MaxResults: pageSize('identityStore', 2), NextToken: t }));
      return { items: o.Users, next: o.NextToken };
    }));
    expect(users).toHaveLength(b.sso.users);
    expect((await ids.send(new ListGroupsCommand({ IdentityStoreId: store }))).Groups).toHaveLength(b.sso.groups);
    const before = (await ids.send(new ListGroupMembershipsCommand({ IdentityStoreId: store, GroupId: b.sso.groupId }))).GroupMemberships!.length;
    const existing = await ids.send(new GetGroupMembershipIdCommand({ IdentityStoreId: store, GroupId: b.sso.groupId, MemberId: { UserId: b.sso.userId } })).catch((e: unknown) => e);
    let membershipId: string;
    if (existing instanceof Error) {
      expect(awsErrorCode((existing as { cause?: unknown }).cause ?? existing)).toBe('ResourceNotFoundException');
      membershipId = (await ids.send(new CreateGroupMembershipCommand({ IdentityStoreId: store, GroupId: b.sso.groupId, MemberId: { UserId: b.sso.userId } }))).MembershipId!;
      expect((await ids.send(new ListGroupMembershipsCommand({ IdentityStoreId: store, GroupId: b.sso.groupId }))).GroupMemberships).toHaveLength(before + 1);
      await ids.send(new DeleteGroupMembershipCommand({ IdentityStoreId: store, MembershipId: membershipId }));
    } else {
      membershipId = (existing as { MembershipId: string }).MembershipId;
      expect(membershipId).toBeTruthy();
    }
    expect((await ids.send(new ListGroupMembershipsCommand({ IdentityStoreId: store, GroupId: b.sso.groupId }))).GroupMemberships).toHaveLength(before);
  });

  test('identity center: an account assignment is created, reaches SUCCEEDED and is listed', async () => {
    const { session } = layer();
    const sso = await session.managementClient(SSOAdminClient);
    const inst = (await sso.send(new ListInstancesCommand({}))).Instances![0]!;
    const ps = (await sso.send(new ListPermissionSetsCommand({ InstanceArn: inst.InstanceArn! }))).PermissionSets![0]!;
    const target = { InstanceArn: inst.InstanceArn!, TargetId: b.memberAccount, TargetType: 'AWS_ACCOUNT' as const, PermissionSetArn: ps, PrincipalType: 'USER' as const, PrincipalId: b.sso.userId };
    const created = await sso.send(new CreateAccountAssignmentCommand(target));
    let status = created.AccountAssignmentCreationStatus!.Status;
    for (let i = 0; i < 50 && status === 'IN_PROGRESS'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: inst.InstanceArn!, AccountAssignmentCreationRequestId: created.AccountAssignmentCreationStatus!.RequestId! }))).AccountAssignmentCreationStatus!.Status;
    }
    expect(status).toBe('SUCCEEDED');
    const listed = await sso.send(new ListAccountAssignmentsCommand({ InstanceArn: inst.InstanceArn!, AccountId: b.memberAccount, PermissionSetArn: ps }));
    expect(listed.AccountAssignments!.some((a) => a.PrincipalId === b.sso.userId && a.PrincipalType === 'USER')).toBe(true);
    await sso.send(new DeleteAccountAssignmentCommand(target));
  });

  test('ssm: a Command document is created and described', async () => {
    const { session } = layer();
    // A plain SDK client: the connector never creates documents (the templates do), and its
    // own client factory refuses actions it does not declare.
    const ssm = new SSMClient({ region: 'us-east-1', credentials: (await session.member(b.memberAccount)).provider });
    const content = { schemaVersion: '2.2', description: 'test', parameters: { name: { type: 'String', allowedPattern: '^ac-[a-z0-9]{1,28}$' } }, mainSteps: [{ action: 'aws:runShellScript', name: 'run', inputs: { runCommand: ['true'] } }] };
    const docName = `AccessConnectorTest-${name}`;
    await ssm.send(new CreateDocumentCommand({ Name: docName, DocumentType: 'Command', DocumentFormat: 'JSON', Content: JSON.stringify(content) }));
    const d = await ssm.send(new DescribeDocumentCommand({ Name: docName }));
    expect(d.Document).toMatchObject({ Name: docName, DocumentType: 'Command' });
  });

  test('dynamodb: conditional writes refuse the second create and a stale version', async () => {
    const { clients, broker } = layer();
    const ddb = clients.get(DynamoDBClient, { region: b.ledger.region, accountId: b.ledger.account, credentials: broker.base() });
    const key = { pk: { S: `grant#${name}` }, sk: { S: 'state' } };
    await ddb.send(new PutItemCommand({ TableName: b.ledger.table, Item: { ...key, version: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' }));
    const again = await ddb.send(new PutItemCommand({ TableName: b.ledger.table, Item: { ...key, version: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' })).catch((e: unknown) => e);
    expect(awsErrorCode((again as { cause?: unknown }).cause)).toBe('ConditionalCheckFailedException');
    await ddb.send(new UpdateItemCommand({ TableName: b.ledger.table, Key: key, UpdateExpression: 'SET version = :n', ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':n': { N: '2' }, ':v': { N: '1' } } }));
    const stale = await ddb.send(new UpdateItemCommand({ TableName: b.ledger.table, Key: key, UpdateExpression: 'SET version = :n', ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':n': { N: '2' }, ':v': { N: '1' } } })).catch((e: unknown) => e);
    expect(awsErrorCode((stale as { cause?: unknown }).cause)).toBe('ConditionalCheckFailedException');
  });
});
