import {
  ResourceExplorer2Client, ListIndexesCommand, GetDefaultViewCommand, SearchCommand, ListResourcesCommand, GetViewCommand, ListViewsCommand,
  paginateSearch, paginateListResources, ThrottlingException, AccessDeniedException,
} from '@aws-sdk/client-resource-explorer-2';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { cfg, failure, management, member, MGMT } from './helpers.js';

const ACCT = '444444444402';

describe('Resource Explorer 2', () => {
  let sim: AwsSimulator;
  let re: ResourceExplorer2Client;
  beforeAll(async () => {
    sim = await startAwsSimulator({ quotas: false });
    re = new ResourceExplorer2Client(cfg(sim, await member(sim, ACCT)));
  });
  afterAll(() => sim.close());

  test('ListIndexes (Type filter), default view, GetView, ListViews', async () => {
    const agg = await re.send(new ListIndexesCommand({ Type: 'AGGREGATOR' }));
    expect(agg.Indexes).toEqual([{ Region: 'us-east-1', Type: 'AGGREGATOR', Arn: expect.stringMatching(/^arn:aws:resource-explorer-2:us-east-1:444444444402:index\//) }]);
    expect((await re.send(new ListIndexesCommand({}))).Indexes).toHaveLength(3);
    const dv = await re.send(new GetDefaultViewCommand({}));
    expect(dv.ViewArn).toMatch(/:view\/all-resources\//);
    const v = await re.send(new GetViewCommand({ ViewArn: dv.ViewArn }));
    expect(v.View?.LastUpdatedAt).toBeInstanceOf(Date);
    expect((await re.send(new ListViewsCommand({}))).Views).toEqual([dv.ViewArn]);
  });

  test('Search: the aggregator covers every region; region: and resourcetype: filters', async () => {
    const all = await re.send(new SearchCommand({ QueryString: '' }));
    expect(all.Resources).toHaveLength(6);
    expect(new Set(all.Resources!.map((r) => r.Region))).toEqual(new Set(['us-east-1', 'eu-west-1', 'us-west-2']));
    expect(all.Count).toEqual({ TotalResources: 6, Complete: true });
    const eu = await re.send(new SearchCommand({ QueryString: 'region:eu-west-1' }));
    expect(eu.Resources!.map((r) => r.ResourceType).sort()).toEqual(['dynamodb:table', 's3:bucket']);
    const buckets = await re.send(new SearchCommand({ QueryString: 'resourcetype:s3:bucket region:us-east-1' }));
    expect(buckets.Resources!.map((r) => r.Arn)).toEqual([`arn:aws:s3:::demo-${ACCT}-artifacts`]);
    expect(buckets.Resources![0]!.Properties?.[0]?.Data).toEqual([{ Key: 'owner', Value: 'platform' }]);
    expect(buckets.Resources![0]!.LastReportedAt).toBeInstanceOf(Date);
    const tagged = await re.send(new SearchCommand({ QueryString: 'tag:owner=team-api' }));
    expect(tagged.Resources).toHaveLength(1);
  });

  test('the management account\'s organization view sees every active account', async () => {
    const mre = new ResourceExplorer2Client(cfg(sim, await management(sim)));
    const rs = [];
    for await (const p of paginateListResources({ client: mre, pageSize: 50 }, {})) rs.push(...p.Resources!);
    const active = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE').length;
    expect(new Set(rs.map((r) => r.OwningAccountId)).size).toBe(active);
    expect(rs.some((r) => r.OwningAccountId === MGMT)).toBe(true);
  });

  test('Search stops at 1,000 results (Count.Complete=false); ListResources enumerates all', async () => {
    for (let i = 0; i < 1200; i++) {
      sim.world.resources.push({ arn: `arn:aws:sqs:us-east-1:${ACCT}:bulk-${i}`, account: ACCT, region: 'us-east-1', type: 'sqs:queue', service: 'sqs', reported: Date.now() });
    }
    const first = await re.send(new SearchCommand({ QueryString: 'service:sqs', MaxResults: 1000 }));
    expect(first.Count).toEqual({ TotalResources: 1000, Complete: false });
    const searched = [];
    for await (const p of paginateSearch({ client: re, pageSize: 300 }, { QueryString: 'service:sqs' })) searched.push(...p.Resources!);
    expect(searched).toHaveLength(1000);
    // Split by a finer query and the halves are complete.
    const listed = [];
    for await (const p of paginateListResources({ client: re, pageSize: 999 }, { Filters: { FilterString: 'service:sqs' } })) listed.push(...p.Resources!);
    expect(listed).toHaveLength(1200);
    expect(new Set(listed.map((r) => r.Arn)).size).toBe(1200);
    // As the API reference warns: MaxResults 1000 ends the listing after one page.
    const full = await re.send(new ListResourcesCommand({ Filters: { FilterString: 'service:sqs' }, MaxResults: 1000 }));
    expect(full.Resources).toHaveLength(1000);
    expect(full.NextToken).toBeUndefined();
  });

  test('ListResources is authorized by resource-explorer-2:Search, as AWS documents', async () => {
    const acct = '444444444403';
    const own = new ResourceExplorer2Client(cfg(sim, await member(sim, acct)));
    try {
      sim.admin.setRolePermissions({ accountId: acct, roleName: 'AccessConnectorMember', allow: ['resource-explorer-2:Search'] });
      expect((await own.send(new ListResourcesCommand({}))).Resources).toHaveLength(6);
      sim.admin.setRolePermissions({ accountId: acct, roleName: 'AccessConnectorMember', allow: ['resource-explorer-2:List*', 'resource-explorer-2:Get*'] });
      const e = await failure(own.send(new ListResourcesCommand({})));
      expect(e).toBeInstanceOf(AccessDeniedException);
      expect(e.message).toContain('resource-explorer-2:Search');
    } finally {
      sim.admin.setRolePermissions({ accountId: acct, roleName: 'AccessConnectorMember', allow: ['iam:*', 'ssm:*', 'resource-explorer-2:*', 'cloudtrail:LookupEvents'] });
    }
  });

  test('an organization view sees a member\'s resources only in regions where the member has an index; setIndexType', async () => {
    const acct = '444444444404';
    const mre = new ResourceExplorer2Client(cfg(sim, await management(sim)));
    const ofAcct = async () => {
      const rs = [];
      for await (const p of paginateListResources({ client: mre, pageSize: 500 }, { Filters: { FilterString: `accountid:${acct}` } })) rs.push(...p.Resources!);
      return new Set(rs.map((r) => r.Region));
    };
    expect(await ofAcct()).toEqual(new Set(['us-east-1', 'eu-west-1', 'us-west-2']));
    const a = sim.world.accounts.get(acct)!;
    const saved = a.re.indexes;
    a.re.indexes = saved.filter((i) => i.region !== 'eu-west-1');
    try {
      expect(await ofAcct()).toEqual(new Set(['us-east-1', 'us-west-2']));
    } finally {
      a.re.indexes = saved;
    }
    // The management aggregator turned LOCAL: its organization view covers its own region only.
    sim.admin.setIndexType({ accountId: MGMT, region: 'us-east-1', type: 'LOCAL' });
    try {
      expect((await mre.send(new ListIndexesCommand({ Type: 'AGGREGATOR' }))).Indexes).toEqual([]);
      expect(await ofAcct()).toEqual(new Set(['us-east-1']));
    } finally {
      sim.admin.setIndexType({ accountId: MGMT, region: 'us-east-1', type: 'AGGREGATOR' });
    }
  });

  test('Search quota 5 TPS → ThrottlingException (429); missing permission → AccessDeniedException', async () => {
    // No refill while the burst is sent: exactly the burst (5 at 5 TPS) is served.
    sim.admin.setQuotas({ enabled: true, refill: false });
    try {
      const r = await Promise.allSettled(Array.from({ length: 8 }, () => re.send(new SearchCommand({ QueryString: 'region:us-west-2' }))));
      const rejected = r.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
      expect(rejected).toHaveLength(3);
      for (const x of rejected) {
        expect(x.reason).toBeInstanceOf(ThrottlingException);
        expect(x.reason.$metadata.httpStatusCode).toBe(429);
      }
    } finally {
      sim.admin.setQuotas({ enabled: false, refill: true });
    }
    sim.admin.setRolePermissions({ accountId: ACCT, roleName: 'AccessConnectorMember', allow: ['resource-explorer-2:List*'] });
    const e = await failure(re.send(new SearchCommand({ QueryString: '' })));
    expect(e).toBeInstanceOf(AccessDeniedException);
    expect(e.message).toContain('resource-explorer-2:Search');
  });
});
