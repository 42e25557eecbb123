// Regions: the Account API's ListRegions, opt-in regions an account has not enabled (AWS
// refuses the credentials there), and SSM's hybrid (mi-) nodes with their tags.
import { AccountClient, ListRegionsCommand, paginateListRegions, AccessDeniedException, ValidationException } from '@aws-sdk/client-account';
import { SSMClient, DescribeInstanceInformationCommand, ListTagsForResourceCommand } from '@aws-sdk/client-ssm';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { ResourceExplorer2Client, ListIndexesCommand } from '@aws-sdk/client-resource-explorer-2';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoWorld } from '../sim/aws/worlds/demo.js';
import { ssmRegion } from '../sim/aws/world.js';
import { cfg, failure, management, member, MGMT } from './helpers.js';

const ACCT = '333333333301';

describe('regions', () => {
  let sim: AwsSimulator;
  beforeAll(async () => {
    const w = demoWorld();
    // me-south-1 is an opt-in region the organization uses; one account has not enabled it.
    w.regions.push('me-south-1');
    w.accounts.get('333333333302')!.disabledRegions = ['me-south-1'];
    ssmRegion(w.accounts.get(ACCT)!, 'us-east-1').instances.set('mi-0123456789abcdef0', {
      id: 'mi-0123456789abcdef0', platform: 'Linux', platformName: 'Ubuntu', platformVersion: '22.04', ip: '192.168.0.9', computerName: 'db.corp',
      ping: 'Online', registered: Date.UTC(2024, 0, 1), tags: [{ Key: 'owner', Value: 'dba' }], commands: [], osUsers: {},
    });
    sim = await startAwsSimulator({ world: w, quotas: false });
  });
  afterAll(() => sim.close());

  test('ListRegions: the world\'s regions ENABLED_BY_DEFAULT or ENABLED, known opt-in ones DISABLED; status filter; pages of ≤ 50', async () => {
    const acct = new AccountClient(cfg(sim, await management(sim)));
    const all = (await acct.send(new ListRegionsCommand({ MaxResults: 50 }))).Regions!;
    const status = Object.fromEntries(all.map((r) => [r.RegionName, r.RegionOptStatus]));
    expect(status).toMatchObject({ 'us-east-1': 'ENABLED_BY_DEFAULT', 'eu-west-1': 'ENABLED_BY_DEFAULT', 'me-south-1': 'ENABLED', 'ap-east-1': 'DISABLED' });
    const enabled = [];
    for await (const p of paginateListRegions({ client: acct, pageSize: 2 }, { RegionOptStatusContains: ['ENABLED', 'ENABLED_BY_DEFAULT'] })) {
      expect(p.Regions!.length).toBeLessThanOrEqual(2);
      enabled.push(...p.Regions!.map((r) => r.RegionName));
    }
    expect(enabled.sort()).toEqual(['eu-west-1', 'me-south-1', 'us-east-1', 'us-west-2']);
    expect(await failure(acct.send(new ListRegionsCommand({ MaxResults: 51 })))).toBeInstanceOf(ValidationException);
    // The management account may ask about a member; the member's own opt-out shows.
    const other = (await acct.send(new ListRegionsCommand({ AccountId: '333333333302', RegionOptStatusContains: ['DISABLED'] }))).Regions!.map((r) => r.RegionName);
    expect(other).toContain('me-south-1');
  });

  test('ListRegions: a role without account:ListRegions is denied; a member may not name another account', async () => {
    const m = new AccountClient(cfg(sim, await member(sim, ACCT)));
    const denied = await failure(m.send(new ListRegionsCommand({})));
    expect(denied).toBeInstanceOf(AccessDeniedException);
    expect(denied.message).toContain('account:ListRegions');
    sim.admin.setRolePermissions({ accountId: ACCT, roleName: 'AccessConnectorMember', allow: ['account:ListRegions'] });
    try {
      expect((await m.send(new ListRegionsCommand({}))).Regions!.length).toBeGreaterThan(0);
      const other = await failure(m.send(new ListRegionsCommand({ AccountId: MGMT })));
      expect(other).toBeInstanceOf(AccessDeniedException);
      expect(other.message).toContain('not authorized to perform this operation on the specified account');
    } finally {
      sim.admin.setRolePermissions({ accountId: ACCT, roleName: 'AccessConnectorMember', allow: ['iam:*', 'ssm:*', 'resource-explorer-2:*', 'cloudtrail:LookupEvents'] });
    }
  });

  test('a call in an opt-in region the account has not enabled is refused like an unknown credential; global services still answer', async () => {
    const creds = await member(sim, '333333333302');
    const ssm = (region: string) => new SSMClient(cfg(sim, creds, region));
    const e = await failure(ssm('me-south-1').send(new DescribeInstanceInformationCommand({})));
    expect(e.name).toBe('UnrecognizedClientException');
    expect((await failure(ssm('ap-east-1').send(new DescribeInstanceInformationCommand({})))).name).toBe('UnrecognizedClientException');
    expect((await failure(new ResourceExplorer2Client(cfg(sim, creds, 'ap-east-1')).send(new ListIndexesCommand({})))).name).toBe('UnrecognizedClientException');
    await ssm('us-east-1').send(new DescribeInstanceInformationCommand({}));
    await new IAMClient(cfg(sim, creds, 'me-south-1')).send(new ListRolesCommand({}));
    // Another account that enabled it may call there.
    const enabled = new SSMClient(cfg(sim, await member(sim, ACCT), 'me-south-1'));
    expect((await enabled.send(new DescribeInstanceInformationCommand({}))).InstanceInformationList).toEqual([]);
  });

  test('SSM: hybrid nodes are ManagedInstance and have tags; EC2 instance ids are refused by ListTagsForResource', async () => {
    const ssm = new SSMClient(cfg(sim, await member(sim, ACCT)));
    const list = (await ssm.send(new DescribeInstanceInformationCommand({}))).InstanceInformationList!;
    expect(list.find((i) => i.InstanceId === 'mi-0123456789abcdef0')).toMatchObject({ ResourceType: 'ManagedInstance', SourceType: 'AWS::SSM::ManagedInstance' });
    expect(list.filter((i) => i.InstanceId!.startsWith('i-')).every((i) => i.ResourceType === 'EC2Instance')).toBe(true);
    expect((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: 'mi-0123456789abcdef0' }))).TagList).toEqual([{ Key: 'owner', Value: 'dba' }]);
    const ec2Id = list.find((i) => i.InstanceId!.startsWith('i-'))!.InstanceId!;
    expect((await failure(ssm.send(new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: ec2Id })))).name).toBe('InvalidResourceId');
  });
});
