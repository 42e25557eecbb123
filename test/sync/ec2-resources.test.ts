// The ec2 (SSM managed instances) and resources (Resource Explorer) sources against the AWS
// simulator: what they emit equals the simulator's ground truth id by id, with exclusions,
// region filters, more than 1,000 resources, no aggregator, a denied account, a disabled
// opt-in region and a throttling storm.
import { ResourceExplorer2Client, SearchCommand } from '@aws-sdk/client-resource-explorer-2';
import { enabledRegions } from '../../src/aws/regions.js';
import { ConnectorError } from '../../src/errors.js';
import { entitySchema, type Entity } from '../../src/protocol/messages.js';
import { ec2Source, isRegionDisabled } from '../../src/sync/sources/ec2.js';
import { resourcesSource } from '../../src/sync/sources/resources.js';
import type { EntitySource, SyncPlan } from '../../src/sync/types.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoWorld, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { generateWorld } from '../sim/aws/worlds/generate.js';
import { ENABLED_BY_DEFAULT, resourcesOf, ssmRegion } from '../sim/aws/world.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { planFor, runAllUnits, runSource, layerFor, linesOf } from '../helpers/sync.js';

type Layer = ReturnType<typeof awsLayer>;
const MGMT = DEMO_MANAGEMENT_ACCOUNT;
const HYBRID = 'mi-0a1b2c3d4e5f60718';


/** Ground-truth lines of one kind for the settings the plan was built from. */
function truthOf(sim: AwsSimulator, plan: SyncPlan, kind: 'ec2.managedInstance' | 'resource'): string[] {
  const i = plan.integration;
  return sim.groundTruth({ type: i.type, resourceTypes: ['ec2', 'resources'], regions: i.regions, excludeAccountIds: i.excludeAccountIds, excludeOrganizationalUnitIds: i.excludeOrganizationalUnitIds })
    .entities.filter((e) => e.kind === kind).map((e) => `${e.kind} ${e.id}`).sort();
}

function expectUniqueAndValid(es: Entity[]): void {
  const lines = es.map((e) => `${e.kind} ${e.id}`);
  expect(new Set(lines).size).toBe(lines.length);
  for (const e of es) expect(entitySchema.safeParse(e).success).toBe(true);
}

/** Runs each unit on its own; returns the entities of the units that completed and the errors of the others. */
async function runEach(source: EntitySource, plan: SyncPlan, layer: Layer) {
  const entities: Entity[] = [];
  const failed: Array<{ accountId: string; region: string; err: unknown }> = [];
  for (const unit of source.units(plan)) {
    try {
      entities.push(...(await runSource(source, plan, unit, layer)).entities);
    } catch (err) {
      failed.push({ accountId: unit.accountId, region: unit.region, err });
    }
  }
  return { entities, failed };
}

describe('ec2 and resources sources: demo world', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let sandboxOu: string;
  beforeAll(async () => {
    const w = demoWorld();
    // A hybrid (on-premises) node: the only kind whose tags SSM serves.
    ssmRegion(w.accounts.get('333333333301')!, 'us-east-1').instances.set(HYBRID, {
      id: HYBRID, name: 'onprem-db', platform: 'Linux', platformName: 'Ubuntu', platformVersion: '22.04', ip: '192.168.1.20',
      computerName: 'onprem-db.corp', ping: 'Online', registered: Date.UTC(2024, 0, 1), iamRole: 'SSMServiceRole',
      tags: [{ Key: 'owner', Value: 'dba-team' }], commands: [], osUsers: {},
    });
    // Quotas off: the connector's own rate limiter paces its calls; here the simulator's
    // buckets, drained by earlier tests, would only add retry waits.
    sim = await startAwsSimulator({ world: w, quotas: false });
    restore = useAwsEnv(sim.env);
    sandboxOu = [...sim.world.ous.values()].find((o) => o.name === 'Sandbox')!.id;
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('ec2: one unit per entered account × region; ids equal the ground truth with exclusions; attributes, tags of hybrid nodes', async () => {
    const layer = layerFor(sim, { excludeAccountIds: ['444444444401'], excludeOrganizationalUnitIds: [sandboxOu] });
    const plan = planFor(sim.world, layer.integration);
    expect(ec2Source.units(plan)).toEqual(plan.accounts.flatMap((a) => plan.regions.map((region) => ({ source: 'ec2', accountId: a.id, region }))));
    const { entities, warnings } = await runAllUnits(ec2Source, plan, layer, { concurrency: 8 });
    expect(warnings).toEqual([]);
    expectUniqueAndValid(entities);
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'ec2.managedInstance'));
    expect(entities.some((e) => e.accountId === '444444444401')).toBe(false);

    const bastionId = [...sim.world.accounts.get('333333333301')!.ssm.get('us-east-1')!.instances.values()].find((i) => i.name === 'bastion')!.id;
    const bastion = entities.find((e) => e.attributes['instanceId'] === bastionId)!;
    expect(bastion).toMatchObject({
      id: `arn:aws:ec2:us-east-1:333333333301:instance/${bastionId}`, arn: `arn:aws:ec2:us-east-1:333333333301:instance/${bastionId}`,
      name: 'bastion', accountId: '333333333301', region: 'us-east-1', parentId: plan.accounts.find((a) => a.id === '333333333301')!.arn,
      attributes: { resourceType: 'EC2Instance', pingStatus: 'ConnectionLost', platformType: 'Linux', platformName: 'Amazon Linux', agentVersion: '3.3.0.0', iamRole: 'AmazonSSMRoleForInstancesQuickSetup' },
    });
    expect(bastion.attributes['lastPingDateTime']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(bastion.tags).toBeUndefined(); // EC2 tags live in EC2; the resource entity of the same ARN carries them

    const hybrid = entities.find((e) => e.attributes['instanceId'] === HYBRID)!;
    expect(hybrid).toMatchObject({
      id: `arn:aws:ec2:us-east-1:333333333301:instance/${HYBRID}`, arn: `arn:aws:ssm:us-east-1:333333333301:managed-instance/${HYBRID}`,
      tags: { owner: 'dba-team' }, owner: 'dba-team', attributes: { resourceType: 'ManagedInstance', computerName: 'onprem-db.corp', ipAddress: '192.168.1.20' },
    });
  });

  // Regression: a denied tag read failed the whole account × region unit.
  test('ec2: ssm:ListTagsForResource denied: the hybrid node is still sent, its tags unknown', async () => {
    const role = { accountId: '333333333301', roleName: 'AccessConnectorMember' };
    const perms = sim.admin.getRole(role)!['permissions'] as { allow: string[]; deny?: string[] };
    sim.admin.setRolePermissions({ ...role, ...perms, deny: [...(perms.deny ?? []), 'ssm:ListTagsForResource'] });
    try {
      const layer = layerFor(sim);
      const plan = planFor(sim.world, layer.integration);
      const unit = { source: 'ec2' as const, accountId: '333333333301', region: 'us-east-1' };
      const r = await runSource(ec2Source, plan, unit, layer);
      const truth = truthOf(sim, plan, 'ec2.managedInstance').filter((l) => l.includes(':us-east-1:333333333301:'));
      expect(linesOf(r.entities)).toEqual(truth);
      expect(r.gaps).toEqual([{ action: 'ssm:ListTagsForResource', reason: 'denied', accountId: '333333333301' }]);
      const hybrid = r.entities.find((e) => e.attributes['instanceId'] === HYBRID)!;
      expect(hybrid.tags).toBeUndefined();
      expect(hybrid.attributes['unknownAttributes']).toEqual(['tags']);
      expect(r.entities.filter((e) => e !== hybrid).every((e) => e.attributes['unknownAttributes'] === undefined)).toBe(true);
    } finally {
      sim.admin.setRolePermissions({ ...role, ...perms });
    }
  });

  test('ec2: the region filter limits the units and the instances', async () => {
    const layer = layerFor(sim, { regions: ['eu-west-1'] });
    const plan = planFor(sim.world, layer.integration);
    expect(new Set(ec2Source.units(plan).map((u) => u.region))).toEqual(new Set(['eu-west-1']));
    const { entities } = await runAllUnits(ec2Source, plan, layer, { concurrency: 8 });
    expect(entities.length).toBe(2);
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'ec2.managedInstance'));
  });

  test('ec2: an opt-in region the accounts have not enabled fails its units as AWS_REGION_DISABLED (skipped), the others complete', async () => {
    const layer = layerFor(sim, { regions: ['us-east-1', 'ap-east-1'], excludeOrganizationalUnitIds: [sandboxOu] });
    const plan = planFor(sim.world, layer.integration);
    const { entities, failed } = await runEach(ec2Source, plan, layer);
    expect(failed.map((f) => f.region)).toEqual(plan.accounts.map(() => 'ap-east-1'));
    for (const f of failed) {
      expect(isRegionDisabled(f.err)).toBe(true);
      expect((f.err as ConnectorError).message).toContain(`${f.accountId}/ap-east-1`);
    }
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'ec2.managedInstance'));
    expect(entities.length).toBeGreaterThan(0);
  });

  test('a denied account fails its ec2 units with ASSUME_ROLE_DENIED; the other accounts complete', async () => {
    const denied = '333333333301';
    const layer = layerFor(sim, { excludeOrganizationalUnitIds: [sandboxOu] });
    const plan = planFor(sim.world, layer.integration);
    sim.faults.denyAccount(denied);
    try {
      const { entities, failed } = await runEach(ec2Source, plan, layer);
      expect(failed.map((f) => `${f.accountId}/${f.region}`)).toEqual(plan.regions.map((r) => `${denied}/${r}`));
      for (const f of failed) {
        expect(f.err).toBeInstanceOf(ConnectorError);
        expect((f.err as ConnectorError).code).toBe('ASSUME_ROLE_DENIED');
        expect(isRegionDisabled(f.err)).toBe(false);
      }
      expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'ec2.managedInstance').filter((l) => !l.includes(`:${denied}:`)));
    } finally {
      sim.faults.allowAccount(denied);
    }
  });

  test('ec2: a throttling storm on SSM still yields the full set', async () => {
    const layer = layerFor(sim);
    const plan = planFor(sim.world, layer.integration);
    // Half of all SSM calls are throttled for 1.5 s; the SDK's retries outlast the storm.
    sim.faults.throttleStorm({ service: 'ssm', fraction: 0.5, durationMs: 1500 });
    sim.stats.reset();
    try {
      const { entities } = await runAllUnits(ec2Source, plan, layer, { concurrency: 8 });
      expect(sim.stats.snapshot().byService['ssm']!.throttled).toBeGreaterThan(0);
      expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'ec2.managedInstance'));
    } finally {
      sim.faults.clear();
    }
  }, 20_000);

  test('resources: one organization unit reads the organization view; ids equal the ground truth, excluded accounts dropped; tags and owner', async () => {
    const layer = layerFor(sim, { excludeAccountIds: ['444444444401'], excludeOrganizationalUnitIds: [sandboxOu] });
    const plan = planFor(sim.world, layer.integration);
    expect(resourcesSource.units(plan)).toEqual([{ source: 'resources', accountId: MGMT, region: 'aggregator' }]);
    sim.stats.reset();
    const { entities, warnings } = await runAllUnits(resourcesSource, plan, layer);
    expect(warnings).toEqual([]);
    expectUniqueAndValid(entities);
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'resource'));
    const excluded = new Set(['444444444401', ...[...sim.world.accounts.values()].filter((a) => a.parentId === sandboxOu).map((a) => a.id)]);
    expect(entities.filter((e) => excluded.has(e.accountId!))).toEqual([]);
    // Only the management account was called: no member role was needed.
    expect(Object.keys(sim.stats.snapshot().byServiceAccount).filter((k) => k.startsWith('resource-explorer-2|'))).toEqual([`resource-explorer-2|${MGMT}`]);

    const bucket = entities.find((e) => e.id === 'arn:aws:s3:::demo-333333333302-artifacts')!;
    expect(bucket).toMatchObject({
      kind: 'resource', arn: bucket.id, name: 'demo-333333333302-artifacts', accountId: '333333333302', region: 'us-east-1',
      parentId: plan.accounts.find((a) => a.id === '333333333302')!.arn, tags: { owner: 'platform' }, owner: 'platform',
      attributes: { resourceType: 's3:bucket', service: 's3' },
    });
    expect(bucket.attributes['lastReportedAt']).toMatch(/^\d{4}-\d\d-\d\dT/);
    const fn = entities.find((e) => e.id === 'arn:aws:lambda:us-west-2:333333333302:function:batch')!;
    expect(fn).toMatchObject({ name: 'batch', region: 'us-west-2' });
    expect(fn.tags).toBeUndefined();
    expect(fn.owner).toBeUndefined();
  });

  test('resources: the region filter keeps only the listed regions', async () => {
    const layer = layerFor(sim, { regions: ['eu-west-1', 'us-west-2'] });
    const plan = planFor(sim.world, layer.integration);
    const { entities } = await runAllUnits(resourcesSource, plan, layer);
    expect(new Set(entities.map((e) => e.region))).toEqual(new Set(['eu-west-1', 'us-west-2']));
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'resource'));
  });

  describe('without an aggregator in the management account', () => {
    beforeAll(() => sim.admin.setIndexType({ accountId: MGMT, region: 'us-east-1', type: 'LOCAL' }));
    afterAll(() => sim.admin.setIndexType({ accountId: MGMT, region: 'us-east-1', type: 'AGGREGATOR' }));

    // The management account now has only LOCAL indexes, and a view only in us-east-1 (its
    // organization view, now limited to that region): its eu-west-1 and us-west-2 resources
    // cannot be listed, and the sync says so.
    const unreadable = (sim: AwsSimulator) => new Set(resourcesOf(sim.world, MGMT).filter((r) => r.region !== 'us-east-1').map((r) => `resource ${r.arn}`));

    test('falls back to each account\'s own indexes, with warnings; everything readable is reported once', async () => {
      const layer = layerFor(sim, { excludeOrganizationalUnitIds: [sandboxOu] });
      const plan = planFor(sim.world, layer.integration);
      const { entities, warnings } = await runAllUnits(resourcesSource, plan, layer);
      expect(warnings.map((w) => w.code)).toEqual(['RESOURCE_EXPLORER_NO_AGGREGATOR', 'RESOURCE_EXPLORER_NO_VIEW', 'RESOURCE_EXPLORER_NO_VIEW']);
      expect(warnings.slice(1).map((w) => w.message)).toEqual([expect.stringContaining(`${MGMT} has a Resource Explorer index in eu-west-1`), expect.stringContaining(`${MGMT} has a Resource Explorer index in us-west-2`)]);
      expectUniqueAndValid(entities);
      const skipped = unreadable(sim);
      expect(skipped.size).toBe(4);
      expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'resource').filter((l) => !skipped.has(l)));
    });

    test('a denied account fails the unit with ASSUME_ROLE_DENIED after the other accounts were reported', async () => {
      const denied = '333333333303';
      const layer = layerFor(sim, { excludeOrganizationalUnitIds: [sandboxOu] });
      const plan = planFor(sim.world, layer.integration);
      const emitted: Entity[] = [];
      sim.faults.denyAccount(denied);
      try {
        const ctx = { session: layer.session, plan, unit: resourcesSource.units(plan)[0]!, log: layer.logs.log, signal: new AbortController().signal, warn: () => undefined };
        const err = await (async () => { for await (const e of resourcesSource.read(ctx)) emitted.push(e); })().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectorError);
        expect((err as ConnectorError).code).toBe('ASSUME_ROLE_DENIED');
        expect((err as ConnectorError).message).toContain(`1 account(s) (${denied})`);
      } finally {
        sim.faults.allowAccount(denied);
      }
      const skipped = unreadable(sim);
      for (const r of resourcesOf(sim.world, denied)) skipped.add(`resource ${r.arn}`);
      expect(linesOf(emitted)).toEqual(truthOf(sim, plan, 'resource').filter((l) => !skipped.has(l)));
    });
  });
});

describe('ec2 and resources sources: generated world with more than 1,000 resources per account and region', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  beforeAll(async () => {
    // 2,200 resources over 2 regions per account (1,100 per region, plus the instances') and
    // 60 managed instances per account and region (two SSM pages).
    sim = await startAwsSimulator({ world: generateWorld({ seed: 7, accounts: 4, regions: ['us-east-1', 'eu-west-1'], resourcesPerAccount: 2200, instancesPerAccount: 120 }) });
    restore = useAwsEnv(sim.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('resources: the organization view is enumerated completely, beyond Search\'s 1,000 cap', async () => {
    const layer = layerFor(sim);
    const plan = planFor(sim.world, layer.integration);
    const perRegion = resourcesOf(sim.world, plan.accounts[1]!.id).filter((r) => r.region === 'us-east-1').length;
    expect(perRegion).toBeGreaterThan(1000);
    // What a single Search would have missed.
    const re = await layer.session.managementClient(ResourceExplorer2Client);
    expect((await re.send(new SearchCommand({ QueryString: '' }))).Count).toEqual({ TotalResources: 1000, Complete: false });

    const { entities, warnings } = await runAllUnits(resourcesSource, plan, layer);
    expect(warnings).toEqual([]);
    expectUniqueAndValid(entities);
    const truth = truthOf(sim, plan, 'resource');
    expect(truth.length).toBeGreaterThan(4 * 2200);
    expect(linesOf(entities)).toEqual(truth);
  }, 20_000);

  test('resources: an aws-account integration reads its own account through its aggregator view', async () => {
    const layer = layerFor(sim, { type: 'aws-account' });
    const all = planFor(sim.world, layer.integration);
    const plan: SyncPlan = { ...all, accounts: all.accounts.filter((a) => a.id === all.managementAccountId) };
    const { entities } = await runAllUnits(resourcesSource, plan, layer);
    expect(entities.length).toBeGreaterThan(2000);
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'resource'));
  }, 20_000);

  test('ec2: pages of 50 instances; ids equal the ground truth', async () => {
    const layer = layerFor(sim);
    const plan = planFor(sim.world, layer.integration);
    sim.stats.reset();
    const { entities } = await runAllUnits(ec2Source, plan, layer, { concurrency: 8 });
    expectUniqueAndValid(entities);
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'ec2.managedInstance'));
    expect(entities.length).toBe(plan.accounts.length * 120);
    expect(sim.stats.snapshot().byOperation['ssm:DescribeInstanceInformation']!.calls).toBe(plan.accounts.length * 2 * 2);
  });
});

describe('enabledRegions: every enabled region of the management account, for integrations that name none', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  beforeAll(async () => {
    const w = demoWorld();
    // The organization uses the opt-in region me-south-1, which one member has not enabled.
    w.regions.push('me-south-1');
    w.accounts.get('333333333302')!.disabledRegions = ['me-south-1'];
    sim = await startAwsSimulator({ world: w, quotas: false });
    restore = useAwsEnv(sim.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('the Account API\'s ENABLED and ENABLED_BY_DEFAULT regions (not the DISABLED opt-in ones)', async () => {
    const layer = layerFor(sim);
    expect(await enabledRegions(layer.session)).toEqual(['eu-west-1', 'me-south-1', 'us-east-1', 'us-west-2']);
  });

  test('a plan over the enabled regions: the member that opted out of one has that unit skipped (AWS_REGION_DISABLED); the rest equals the ground truth of regions: []', async () => {
    const layer = layerFor(sim);
    const plan = { ...planFor(sim.world, layer.integration), regions: await enabledRegions(layer.session) };
    const { entities, failed } = await runEach(ec2Source, plan, layer);
    expect(failed.map((f) => `${f.accountId}/${f.region}`)).toEqual(['333333333302/me-south-1']);
    expect(isRegionDisabled(failed[0]!.err)).toBe(true);
    expect(linesOf(entities)).toEqual(truthOf(sim, plan, 'ec2.managedInstance'));
  });

  test('more regions than one page of 50', async () => {
    const w = generateWorld({ seed: 3, accounts: 2, regions: [...ENABLED_BY_DEFAULT, ...Array.from({ length: 40 }, (_, i) => `xx-test-${i + 1}`)], resourcesPerAccount: 0, instancesPerAccount: 0 });
    const big = await startAwsSimulator({ world: w, quotas: false });
    const restoreBig = useAwsEnv(big.env);
    try {
      const layer = layerFor(big);
      expect(await enabledRegions(layer.session)).toEqual([...w.regions].sort());
      expect(big.stats.snapshot().byOperation['account:ListRegions']!.calls).toBe(2);
    } finally {
      restoreBig();
      await big.close();
    }
  });

  test('a management role without account:ListRegions fails with AWS_ACCESS_DENIED naming the action', async () => {
    const role = sim.world.connector.managementRoleName;
    const before = sim.admin.getRole({ accountId: MGMT, roleName: role })!['permissions'] as { allow: string[] };
    sim.admin.setRolePermissions({ accountId: MGMT, roleName: role, allow: before.allow.filter((a) => !a.startsWith('account:')) });
    try {
      const err = await enabledRegions(layerFor(sim).session).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe('AWS_ACCESS_DENIED');
      expect((err as ConnectorError).message).toContain('account:ListRegions');
    } finally {
      sim.admin.setRolePermissions({ accountId: MGMT, roleName: role, allow: before.allow });
    }
  });
});
