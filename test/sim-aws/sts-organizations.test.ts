import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand, STSServiceException } from '@aws-sdk/client-sts';
import {
  OrganizationsClient, ListAccountsCommand, paginateListAccounts, ListRootsCommand, ListOrganizationalUnitsForParentCommand,
  ListAccountsForParentCommand, ListParentsCommand, ListTagsForResourceCommand, DescribeOrganizationCommand,
  AccessDeniedException, AWSOrganizationsNotInUseException, TooManyRequestsException, ParentNotFoundException, InvalidInputException,
} from '@aws-sdk/client-organizations';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, management, member, mgmtRoleArn, memberRoleArn, assume, MGMT } from './helpers.js';

describe('STS', () => {
  let sim: AwsSimulator;
  beforeAll(async () => { sim = await startAwsSimulator({ quotas: false }); });
  afterAll(() => sim.close());

  test('GetCallerIdentity answers for the base identity and for assumed roles', async () => {
    const base = await new STSClient(cfg(sim)).send(new GetCallerIdentityCommand({}));
    expect(base.Arn).toBe('arn:aws:sts::999999999999:assumed-role/ConnectorTaskRole/connector-task');
    expect(base.Account).toBe('999999999999');
    const m = await management(sim);
    const who = await new STSClient(cfg(sim, m)).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe('arn:aws:sts::111111111111:assumed-role/AccessConnectorManagement/sim-test');
    expect(who.UserId).toMatch(/^AROA[A-Z0-9]+:sim-test$/);
  });

  test('AssumeRole returns ASIA credentials expiring in an hour', async () => {
    const r = await new STSClient(cfg(sim)).send(new AssumeRoleCommand({ RoleArn: mgmtRoleArn(), RoleSessionName: 'access-connector-1', ExternalId: 'demo-external-id' }));
    expect(r.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    const ms = r.Credentials!.Expiration!.getTime() - Date.now();
    expect(ms).toBeGreaterThan(3500_000);
    expect(ms).toBeLessThanOrEqual(3600_000);
    expect(r.AssumedRoleUser?.Arn).toBe('arn:aws:sts::111111111111:assumed-role/AccessConnectorManagement/access-connector-1');
  });

  test('trust policy: wrong or missing ExternalId, untrusted caller and missing role are AccessDenied', async () => {
    const sts = new STSClient(cfg(sim));
    for (const ExternalId of ['wrong-id', undefined]) {
      const e = await failure(sts.send(new AssumeRoleCommand({ RoleArn: mgmtRoleArn(), RoleSessionName: 'x-test', ...(ExternalId ? { ExternalId } : {}) })));
      expect(e).toBeInstanceOf(STSServiceException);
      expect(e.name).toBe('AccessDenied');
      expect(e.message).toContain('is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/AccessConnectorManagement');
      expect(e.$metadata?.httpStatusCode).toBe(403);
    }
    // The base identity is not trusted by the member roles (only the management role is).
    expect((await failure(assume(sim, sim.credentials, memberRoleArn('333333333301')))).name).toBe('AccessDenied');
    expect((await failure(assume(sim, await management(sim), 'arn:aws:iam::333333333301:role/NoSuchRole'))).name).toBe('AccessDenied');
  });

  test('aws:CurrentTime and aws:PrincipalOrgID conditions are evaluated', async () => {
    const m = await management(sim);
    const account = '333333333302';
    const principal = mgmtRoleArn();
    const doc = (cond: object) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole', Condition: cond }] });
    sim.admin.setTrustPolicy({ accountId: account, roleName: 'AccessConnectorMember', document: doc({ DateLessThan: { 'aws:CurrentTime': new Date(Date.now() + 60_000).toISOString() } }) });
    await expect(assume(sim, m, memberRoleArn(account))).resolves.toBeDefined();
    sim.admin.setTrustPolicy({ accountId: account, roleName: 'AccessConnectorMember', document: doc({ DateLessThan: { 'aws:CurrentTime': new Date(Date.now() - 60_000).toISOString() } }) });
    expect((await failure(assume(sim, m, memberRoleArn(account)))).name).toBe('AccessDenied');
    sim.admin.setTrustPolicy({ accountId: account, roleName: 'AccessConnectorMember', document: doc({ StringEquals: { 'aws:PrincipalOrgID': sim.world.organization!.id } }) });
    await expect(assume(sim, m, memberRoleArn(account))).resolves.toBeDefined();
    sim.admin.setTrustPolicy({ accountId: account, roleName: 'AccessConnectorMember', document: doc({ StringEquals: { 'aws:PrincipalOrgID': 'o-other' } }) });
    expect((await failure(assume(sim, m, memberRoleArn(account)))).name).toBe('AccessDenied');
  });

  test('validation: session name, role chaining beyond 1 hour', async () => {
    const sts = new STSClient(cfg(sim));
    for (const name of ['a', 'has space', 'x'.repeat(65)]) {
      const e = await failure(sts.send(new AssumeRoleCommand({ RoleArn: mgmtRoleArn(), RoleSessionName: name, ExternalId: 'demo-external-id' })));
      expect(e.name).toBe('ValidationError');
    }
    const e = await failure(sts.send(new AssumeRoleCommand({ RoleArn: mgmtRoleArn(), RoleSessionName: 'long', ExternalId: 'demo-external-id', DurationSeconds: 7200 })));
    expect(e.name).toBe('ValidationError');
    expect(e.message).toMatch(/MaxSessionDuration|role chaining/);
  });

  test('unknown access key → InvalidClientTokenId; expired session → ExpiredToken / ExpiredTokenException', async () => {
    const bad = { accessKeyId: 'AKIANOTAREALKEY00000', secretAccessKey: 'x' };
    expect((await failure(new STSClient(cfg(sim, bad)).send(new GetCallerIdentityCommand({})))).name).toBe('InvalidClientTokenId');
    const e2 = await failure(new OrganizationsClient(cfg(sim, bad)).send(new ListRootsCommand({})));
    expect(e2.name).toBe('UnrecognizedClientException');
    const m = await management(sim);
    sim.faults.expireSessionsNow();
    try {
      expect((await failure(new IAMClient(cfg(sim, m)).send(new ListRolesCommand({})))).name).toBe('ExpiredToken');
      const e = await failure(new OrganizationsClient(cfg(sim, m)).send(new ListRootsCommand({})));
      expect(e.name).toBe('ExpiredTokenException');
      // The base identity keeps working, and new sessions are fine.
      await expect(management(sim)).resolves.toBeDefined();
    } finally {
      sim.faults.clear();
    }
  });

  test('expireSessionsAfter: sessions stop working after N seconds of simulated time', async () => {
    const m = await management(sim);
    sim.faults.expireSessionsAfter(30);
    try {
      const iam = new IAMClient(cfg(sim, m));
      await expect(iam.send(new ListRolesCommand({}))).resolves.toBeDefined();
      sim.admin.advanceClock({ ms: 31_000 });
      expect((await failure(iam.send(new ListRolesCommand({})))).name).toBe('ExpiredToken');
    } finally {
      sim.faults.clear();
    }
  });
});

describe('Organizations', () => {
  let sim: AwsSimulator;
  let orgs: OrganizationsClient;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    orgs = new OrganizationsClient(cfg(sim, await management(sim)));
  });
  afterAll(() => sim.close());

  test('ListAccounts paginates (≤ 20 per page) with opaque tokens, State and Status', async () => {
    const first = await orgs.send(new ListAccountsCommand({ MaxResults: 7 }));
    expect(first.Accounts).toHaveLength(7);
    expect(first.NextToken).toBeDefined();
    expect(first.NextToken).not.toMatch(/^\d+$/);
    const all = [];
    for await (const page of paginateListAccounts({ client: orgs, pageSize: 7 }, {})) all.push(...(page.Accounts ?? []));
    expect(all).toHaveLength(20);
    expect(new Set(all.map((a) => a.Id)).size).toBe(20);
    const retired = all.find((a) => a.Id === '666666666666')!;
    expect(retired.State).toBe('SUSPENDED');
    expect(retired.Status).toBe('SUSPENDED');
    expect(all.find((a) => a.Id === MGMT)?.Arn).toMatch(/^arn:aws:organizations::111111111111:account\/o-[a-z0-9]{10}\/111111111111$/);
    const e = await failure(orgs.send(new ListAccountsCommand({ MaxResults: 21 })));
    expect(e).toBeInstanceOf(InvalidInputException);
    const bad = await failure(orgs.send(new ListAccountsCommand({ NextToken: 'garbage' })));
    expect(bad).toBeInstanceOf(InvalidInputException);
  });

  test('tree: roots, OUs (nested), accounts per parent, parents, tags', async () => {
    const org = await orgs.send(new DescribeOrganizationCommand({}));
    expect(org.Organization?.MasterAccountId).toBe(MGMT);
    const roots = await orgs.send(new ListRootsCommand({}));
    const rootId = roots.Roots![0]!.Id!;
    const top = await orgs.send(new ListOrganizationalUnitsForParentCommand({ ParentId: rootId }));
    expect(top.OrganizationalUnits!.map((o) => o.Name).sort()).toEqual(['Development', 'Production', 'Suspended']);
    const dev = top.OrganizationalUnits!.find((o) => o.Name === 'Development')!;
    const nested = await orgs.send(new ListOrganizationalUnitsForParentCommand({ ParentId: dev.Id }));
    expect(nested.OrganizationalUnits!.map((o) => o.Name)).toEqual(['Sandbox']);
    const inDev = await orgs.send(new ListAccountsForParentCommand({ ParentId: dev.Id }));
    expect(inDev.Accounts).toHaveLength(5);
    const parents = await orgs.send(new ListParentsCommand({ ChildId: nested.OrganizationalUnits![0]!.Id }));
    expect(parents.Parents).toEqual([{ Id: dev.Id, Type: 'ORGANIZATIONAL_UNIT' }]);
    const tags = await orgs.send(new ListTagsForResourceCommand({ ResourceId: '333333333301' }));
    expect(tags.Tags).toContainEqual({ Key: 'owner', Value: 'team-1' });
    expect(await failure(orgs.send(new ListAccountsForParentCommand({ ParentId: 'ou-none-00000000' })))).toBeInstanceOf(ParentNotFoundException);
  });

  test('only the management account may list; outside the org → AWSOrganizationsNotInUseException', async () => {
    const m = new OrganizationsClient(cfg(sim, await member(sim, '333333333301')));
    // The member role has no organizations permission at all.
    const denied = await failure(m.send(new ListAccountsCommand({})));
    expect(denied).toBeInstanceOf(AccessDeniedException);
    // Even with permission, a member account may not list the organization.
    sim.admin.setRolePermissions({ accountId: '333333333301', roleName: 'AccessConnectorMember', allow: ['organizations:*', 'iam:*'] });
    expect(await failure(m.send(new ListAccountsCommand({})))).toBeInstanceOf(AccessDeniedException);
    await expect(m.send(new DescribeOrganizationCommand({}))).resolves.toBeDefined();
    sim.admin.setRolePermissions({ accountId: '999999999999', roleName: 'ConnectorTaskRole', allow: ['sts:AssumeRole', 'organizations:*'] });
    expect(await failure(new OrganizationsClient(cfg(sim)).send(new ListRootsCommand({})))).toBeInstanceOf(AWSOrganizationsNotInUseException);
  });

  test('a delegated administrator may read the organization; Organizations changes are logged in the management account\'s trail only', async () => {
    const delegate = '222222222222';
    const other = '777777777777';
    for (const accountId of [delegate, other]) sim.admin.setRolePermissions({ accountId, roleName: 'AccessConnectorMember', allow: ['organizations:*', 'cloudtrail:LookupEvents'] });
    const d = new OrganizationsClient(cfg(sim, await member(sim, delegate)));
    const o = new OrganizationsClient(cfg(sim, await member(sim, other)));
    expect(await failure(d.send(new ListAccountsCommand({})))).toBeInstanceOf(AccessDeniedException);
    sim.admin.setOrganizationDelegates({ accountIds: [delegate] });
    const moved = '333333333306';
    const from = sim.world.accounts.get(moved)!.parentId!;
    try {
      expect((await d.send(new DescribeOrganizationCommand({}))).Organization?.MasterAccountId).toBe(MGMT);
      const all = [];
      for await (const page of paginateListAccounts({ client: d }, {})) all.push(...(page.Accounts ?? []));
      expect(all).toHaveLength(20);
      const rootId = (await d.send(new ListRootsCommand({}))).Roots![0]!.Id!;
      const top = await d.send(new ListOrganizationalUnitsForParentCommand({ ParentId: rootId }));
      expect(top.OrganizationalUnits!.map((x) => x.Name).sort()).toEqual(['Development', 'Production', 'Suspended']);
      expect((await d.send(new ListAccountsForParentCommand({ ParentId: rootId }))).Accounts!.map((a) => a.Id).sort()).toEqual([MGMT, delegate, other]);
      expect((await d.send(new ListTagsForResourceCommand({ ResourceId: '333333333301' }))).Tags).toContainEqual({ Key: 'owner', Value: 'team-1' });
      // A member the policy does not name is still refused everything but DescribeOrganization.
      expect(await failure(o.send(new ListRootsCommand({})))).toBeInstanceOf(AccessDeniedException);
      await expect(o.send(new DescribeOrganizationCommand({}))).resolves.toBeDefined();

      // An account moved: the delegate sees the new parent, but only the management account's trail has the event.
      const dev = top.OrganizationalUnits!.find((x) => x.Name === 'Development')!.Id!;
      sim.admin.moveAccount({ accountId: moved, destinationParentId: dev });
      expect((await d.send(new ListParentsCommand({ ChildId: moved }))).Parents).toEqual([{ Id: dev, Type: 'ORGANIZATIONAL_UNIT' }]);
      const orgEvents = async (creds: Awaited<ReturnType<typeof management>>) => ((await new CloudTrailClient(cfg(sim, creds)).send(new LookupEventsCommand({
        LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'organizations.amazonaws.com' }],
      }))).Events ?? []).map((e) => e.EventName);
      expect(await orgEvents(await management(sim))).toEqual(expect.arrayContaining(['MoveAccount', 'PutResourcePolicy']));
      expect(await orgEvents(await member(sim, delegate))).toEqual([]);
      expect(await orgEvents(await member(sim, moved))).toEqual([]);
    } finally {
      sim.world.accounts.get(moved)!.parentId = from;
      sim.admin.setOrganizationDelegates({ accountIds: [] });
    }
    expect(await failure(d.send(new ListAccountsCommand({})))).toBeInstanceOf(AccessDeniedException);
  });

  test('quota: bursts beyond the Organizations rate raise TooManyRequestsException', async () => {
    const q = await startAwsSimulator({ quotas: true });
    try {
      const c = new OrganizationsClient(cfg(q, await management(q)));
      // No refill: the burst is one second of the rate (4), whatever the machine's speed.
      q.admin.setQuotas({ refill: false });
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => c.send(new ListRootsCommand({}))));
      const throttled = results.filter((r) => r.status === 'rejected');
      expect(throttled).toHaveLength(12 - 4);
      for (const r of throttled) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TooManyRequestsException);
      const s = q.stats.snapshot();
      expect(s.byService.organizations?.throttled).toBe(throttled.length);
    } finally {
      await q.close();
    }
  });
});
