import { execFileSync, spawn } from 'node:child_process';
import { OrganizationsClient, paginateListAccounts } from '@aws-sdk/client-organizations';
import { IAMClient, paginateGetAccountAuthorizationDetails } from '@aws-sdk/client-iam';
import { IdentitystoreClient, paginateListUsers } from '@aws-sdk/client-identitystore';
import { SSMClient, paginateDescribeInstanceInformation } from '@aws-sdk/client-ssm';
import { startAwsSimulator, demoWorld, generateWorld, groundTruth, quotaFloor, type AwsSimulator } from '../sim/aws/index.js';
import { entityIds } from '../sim/aws/entity-ids.js';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { assume, cfg, management, member } from './helpers.js';

const idsOf = (kind: string, gt: ReturnType<typeof groundTruth>) => gt.entities.filter((e) => e.kind === kind).map((e) => e.id);

describe('generator', () => {
  test('same seed → same world and ground truth; another seed → another', () => {
    const a = groundTruth(generateWorld({ seed: 7, accounts: 40 }), {});
    const b = groundTruth(generateWorld({ seed: 7, accounts: 40 }), {});
    const c = groundTruth(generateWorld({ seed: 8, accounts: 40 }), {});
    expect(a.hash).toBe(b.hash);
    expect(a.entities).toEqual(b.entities);
    expect(c.hash).not.toBe(a.hash);
  });

  test('1,000 accounts: about 300k entities, built in seconds', () => {
    // CPU time (user + system) of this process, not wall time: the build is pure computation,
    // and on a loaded machine the wall clock also counts the time other processes had the CPU.
    const t = process.cpuUsage();
    const w = generateWorld({ seed: 1, accounts: 1000 });
    const used = process.cpuUsage(t);
    const built = (used.user + used.system) / 1000;
    const gt = groundTruth(w, {});
    expect(built).toBeLessThan(10_000);
    expect(gt.entities.length).toBeGreaterThan(280_000);
    expect(gt.entities.length).toBeLessThan(330_000);
    expect(gt.counts['aws.account']).toBe(1000);
    expect(gt.counts['sso.user']).toBe(8000);
    expect([...w.accounts.values()].filter((x) => x.inOrg && x.state !== 'ACTIVE').length).toBeGreaterThan(0);
  });
});

describe('partitions', () => {
  test('a GovCloud world uses its partition in every ARN, on the wire and in the ground truth', async () => {
    const w = generateWorld({ seed: 5, accounts: 4, partition: 'aws-us-gov', regions: ['us-gov-west-1', 'us-gov-east-1'] });
    expect(groundTruth(w, {}).entities.every((e) => e.id.startsWith('arn:aws-us-gov:'))).toBe(true);
    const sim = await startAwsSimulator({ world: w, quotas: false });
    try {
      const region = 'us-gov-west-1';
      const m = await assume(sim, sim.credentials, 'arn:aws-us-gov:iam::111111111111:role/AccessConnectorManagement', 'generated-external-id', 'gov', region);
      const who = await new STSClient(cfg(sim, m, region)).send(new GetCallerIdentityCommand({}));
      expect(who.Arn).toBe('arn:aws-us-gov:sts::111111111111:assumed-role/AccessConnectorManagement/gov');
      const accounts = [];
      for await (const p of paginateListAccounts({ client: new OrganizationsClient(cfg(sim, m, region)) }, {})) accounts.push(...p.Accounts!);
      expect(accounts.every((a) => a.Arn!.startsWith('arn:aws-us-gov:organizations::'))).toBe(true);
    } finally {
      await sim.close();
    }
  });
});

describe('ground truth', () => {
  const w = demoWorld();
  const org = w.organization!;
  const dev = [...w.ous.values()].find((o) => o.name === 'Development')!;

  test('a full sync of the demo: every kind, ids by the shared conventions', () => {
    const gt = groundTruth(w, {});
    for (const k of ['aws.organization', 'aws.root', 'aws.organizationalUnit', 'aws.account', 'sso.instance', 'sso.permissionSet', 'sso.user', 'sso.group',
      'sso.groupMembership', 'sso.accountAssignment', 'iam.user', 'iam.accessKey', 'iam.group', 'iam.role', 'iam.policy', 'ec2.managedInstance', 'resource'] as const) {
      expect(gt.counts[k]).toBeGreaterThan(0);
    }
    expect(gt.counts['aws.account']).toBe(20);
    expect(gt.counts['sso.user']).toBe(10);
    const u = [...w.sso!.users.keys()][0]!;
    expect(idsOf('sso.user', gt)).toContain(`arn:aws:identitystore:::user/${u}`);
    expect(idsOf('iam.accessKey', gt).every((id) => /^arn:aws:iam::\d{12}:user\/.+\/accessKey\/AKIA[A-Z0-9]{16}$/.test(id))).toBe(true);
    expect(idsOf('ec2.managedInstance', gt).every((id) => /^arn:aws:ec2:[a-z0-9-]+:\d{12}:instance\/i-[0-9a-f]{17}$/.test(id))).toBe(true);
    expect(idsOf('sso.accountAssignment', gt)[0]).toMatch(/^arn:aws:sso:::permissionSet\/ssoins-[0-9a-f]+\/ps-[0-9a-f]+\|\d{12}\|(USER|GROUP)\|.+$/);
    // The suspended account is listed but not entered.
    expect(idsOf('aws.account', gt)).toContain(entityIds.account('aws', '666666666666', { managementAccountId: org.managementAccountId, id: org.id }));
    expect(idsOf('iam.role', gt).some((id) => id.includes(':666666666666:'))).toBe(false);
  });

  test('exclusions: an OU excludes its subtree; excluded accounts vanish; regions and resource types narrow', () => {
    const full = groundTruth(w, {});
    const gt = groundTruth(w, { excludeOrganizationalUnitIds: [dev.id], excludeAccountIds: ['333333333302'] });
    const accounts = idsOf('aws.account', gt).map((a) => a.split('/').pop());
    expect(accounts).toHaveLength(20 - 10 - 1);
    expect(accounts.some((a) => a!.startsWith('4444') || a!.startsWith('5555') || a === '333333333302')).toBe(false);
    expect(idsOf('aws.organizationalUnit', gt)).toHaveLength(2); // Production, Suspended (Development and Sandbox gone)
    expect(gt.entities.some((e) => /(444444444|555555555|333333333302)/.test(e.id))).toBe(false);
    expect(gt.counts['sso.user']).toBe(full.counts['sso.user']);
    const eu = groundTruth(w, { regions: ['eu-west-1'], resourceTypes: ['ec2', 'resources'] });
    expect(eu.counts['iam.role']).toBeUndefined();
    expect(eu.counts['sso.user']).toBeUndefined();
    expect(idsOf('ec2.managedInstance', eu).every((id) => id.includes(':eu-west-1:'))).toBe(true);
    expect(idsOf('resource', eu).every((id) => id.includes(':eu-west-1:') || id.startsWith('arn:aws:s3:::'))).toBe(true);
    const one = groundTruth(w, { type: 'aws-account', roleArn: 'arn:aws:iam::333333333301:role/X', resourceTypes: ['iam'] });
    expect(idsOf('aws.account', one)).toHaveLength(1);
    expect(one.counts['aws.organization']).toBeUndefined();
    expect(idsOf('iam.role', one).every((id) => id.includes(':333333333301:'))).toBe(true);
  });

  describe('matches what the real SDK reads from the simulator', () => {
    let sim: AwsSimulator;
    beforeAll(async () => { sim = await startAwsSimulator({ quotas: false }); });
    afterAll(() => sim.close());

    test('accounts, IAM roles and access keys, Identity Store users, managed instances', async () => {
      const gt = sim.groundTruth({});
      const mgmt = await management(sim);
      const accounts = [];
      for await (const p of paginateListAccounts({ client: new OrganizationsClient(cfg(sim, mgmt)) }, {})) accounts.push(...p.Accounts!);
      expect(accounts.map((a) => entityIds.account('aws', a.Id!, { managementAccountId: '111111111111', id: sim.world.organization!.id })).sort()).toEqual(idsOf('aws.account', gt).sort());
      expect(accounts.map((a) => a.Arn).sort()).toEqual(idsOf('aws.account', gt).sort());
      const users = [];
      for await (const p of paginateListUsers({ client: new IdentitystoreClient(cfg(sim, mgmt)) }, { IdentityStoreId: sim.world.sso!.identityStoreId })) users.push(...p.Users!);
      expect(users.map((u) => entityIds.ssoUser('aws', u.UserId!)).sort()).toEqual(idsOf('sso.user', gt).sort());
      const acct = '333333333301';
      const m = await member(sim, acct, mgmt);
      const roles = [];
      for await (const p of paginateGetAccountAuthorizationDetails({ client: new IAMClient(cfg(sim, m)) }, { Filter: ['Role'] })) roles.push(...p.RoleDetailList!);
      expect(roles.map((r) => entityIds.iam(r.Arn!)).sort()).toEqual(idsOf('iam.role', gt).filter((id) => id.includes(`::${acct}:`)).sort());
      const inst = [];
      for (const region of sim.world.regions) {
        for await (const p of paginateDescribeInstanceInformation({ client: new SSMClient(cfg(sim, m, region)) }, {})) {
          inst.push(...p.InstanceInformationList!.map((i) => entityIds.managedInstance('aws', region, acct, i.InstanceId!)));
        }
      }
      expect(inst.sort()).toEqual(idsOf('ec2.managedInstance', gt).filter((id) => id.includes(`:${acct}:`)).sort());
    });
  });
});

describe('quota floor', () => {
  const w = generateWorld({ seed: 3, accounts: 100 });
  test('max over buckets of calls ÷ (rate × share × k), plus the latency path', () => {
    const f1 = quotaFloor(w, {});
    expect(f1.bottleneck).toBeDefined();
    expect(f1.quotaSeconds).toBeCloseTo(f1.bottleneck!.calls / f1.bottleneck!.ratePerSecond, 6);
    expect(f1.bottleneck!.seconds).toBe(Math.max(...f1.buckets.map((b) => b.seconds)));
    expect(f1.bottleneck!.ratePerSecond).toBe(f1.bottleneck!.bucket.startsWith('organizations|') ? 4 * 0.5 : f1.bottleneck!.ratePerSecond);
    const f10 = quotaFloor(w, {}, { timeScale: 10, latencyMs: 30 });
    expect(f10.quotaSeconds).toBeCloseTo(f1.quotaSeconds / 10, 6);
    expect(f10.latencyPathSeconds).toBeCloseTo((f10.criticalPathCalls * 30) / 10 / 1000, 9);
    expect(quotaFloor(w, {}, { quotaShare: 1 }).quotaSeconds).toBeCloseTo(f1.quotaSeconds / 2, 6);
    // Fewer accounts → fewer calls.
    const dev = [...w.ous.values()].filter((o) => o.parentId === w.organization!.rootId).map((o) => o.id);
    expect(quotaFloor(w, { excludeOrganizationalUnitIds: dev }).totalCalls).toBeLessThan(f1.totalCalls);
  });
});

describe('CLI', () => {
  test('--ground-truth prints NDJSON; --floor prints JSON', () => {
    const out = execFileSync(process.execPath, ['dist/test/sim/aws/cli.js', '--world', 'demo', '--ground-truth'], { encoding: 'utf8' });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; id: string });
    expect(lines.length).toBe(groundTruth(demoWorld(), {}).entities.length);
    expect(lines[0]).toHaveProperty('kind');
    const floor = JSON.parse(execFileSync(process.execPath, ['dist/test/sim/aws/cli.js', '--world', 'generated', '--accounts', '50', '--seed', '2', '--floor', '--time-scale', '10'], { encoding: 'utf8' })) as { floorSeconds: number; options: { timeScale: number } };
    expect(floor.floorSeconds).toBeGreaterThan(0);
    expect(floor.options.timeScale).toBe(10);
  });
});

describe('simulator exports', () => {
  test('the printed exports hold AWS_DEFAULT_REGION next to AWS_REGION, so every AWS CLI and SDK finds the region', async () => {
    const child = spawn(process.execPath, ['dist/test/sim/aws/cli.js', '--world', 'demo', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (out.includes('# management role')) resolve();
        });
        child.once('exit', () => reject(new Error(`simulator exited: ${out}`)));
      });
      const exports = Object.fromEntries([...out.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(exports['AWS_REGION']).toBe('us-east-1');
      expect(exports['AWS_DEFAULT_REGION']).toBe(exports['AWS_REGION']);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
