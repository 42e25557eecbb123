// The IAM source against the AWS simulator: what it emits equals the simulator's ground
// truth, id by id, through GAAD paging, a denied account and a throttling storm.
import { IAMClient, PutRolePermissionsBoundaryCommand } from '@aws-sdk/client-iam';
import { ConnectorError } from '../../src/errors.js';
import { entitySchema, type Entity } from '../../src/protocol/messages.js';
import { ids } from '../../src/sync/ids.js';
import { createIamSource, iamSource, MAX_POLICY_DOCUMENT_BYTES } from '../../src/sync/sources/iam.js';
import type { SyncPlan } from '../../src/sync/types.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { planFor, runAllUnits, runSource, layerFor, linesOf } from '../helpers/sync.js';

type Layer = ReturnType<typeof awsLayer>;


/** The ground truth's iam.* lines for the same settings the plan was built from. */
function truthOf(sim: AwsSimulator, plan: SyncPlan): string[] {
  const i = plan.integration;
  return sim.groundTruth({ type: i.type, resourceTypes: ['iam'], excludeAccountIds: i.excludeAccountIds, excludeOrganizationalUnitIds: i.excludeOrganizationalUnitIds })
    .entities.filter((e) => e.kind.startsWith('iam.')).map((e) => `${e.kind} ${e.id}`).sort();
}
const find = (es: Entity[], kind: string, arn: string) => es.find((e) => e.kind === kind && e.id === arn);

describe('iam source: demo world', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo' });
    restore = useAwsEnv(sim.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('one global unit per entered account; emitted ids equal the ground truth, no duplicates, valid entities', async () => {
    const sandbox = [...sim.world.ous.values()].find((o) => o.name === 'Sandbox')!;
    const layer = layerFor(sim, { excludeAccountIds: ['333333333302'], excludeOrganizationalUnitIds: [sandbox.id] });
    const plan = planFor(sim.world, layer.integration);
    expect(iamSource.units(plan)).toEqual(plan.accounts.map((a) => ({ source: 'iam', accountId: a.id, region: 'global' })));
    expect(plan.accounts.map((a) => a.id)).not.toContain('333333333302');

    const { entities, warnings } = await runAllUnits(iamSource, plan, layer, { concurrency: 4 });
    expect(warnings).toEqual([]);
    const lines = linesOf(entities);
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines).toEqual(truthOf(sim, plan));
    for (const e of entities) expect(entitySchema.parse(e)).toEqual(e);

    // AWS-managed policies are referenced, never emitted.
    expect(entities.some((e) => e.id.includes(':iam::aws:'))).toBe(false);
    const acct = '333333333301';
    const userArn = `arn:aws:iam::${acct}:user/breakglass`;
    const breakglass = find(entities, 'iam.user', userArn)!;
    expect(breakglass).toMatchObject({ name: 'breakglass', accountId: acct, arn: userArn, parentId: plan.accounts.find((a) => a.id === acct)!.arn });
    expect(breakglass.attributes).toMatchObject({ attachedManagedPolicies: ['arn:aws:iam::aws:policy/AdministratorAccess'], inlinePolicies: [], groups: [], permissionsBoundary: null });
    const ciBot = find(entities, 'iam.user', `arn:aws:iam::${acct}:user/ci-bot`)!;
    expect(ciBot).toMatchObject({ tags: { owner: 'platform' }, owner: 'platform', attributes: { groups: ['Operators'], attachedManagedPolicies: [`arn:aws:iam::${acct}:policy/DeployPolicy`] } });
    expect(find(entities, 'iam.group', `arn:aws:iam::${acct}:group/Auditors`)!.attributes).toMatchObject({ inlinePolicies: ['read-logs'], attachedManagedPolicies: [] });

    const deploy = find(entities, 'iam.policy', `arn:aws:iam::${acct}:policy/DeployPolicy`)!;
    const simPolicy = sim.world.accounts.get(acct)!.iam.policies.get(deploy.id)!;
    expect(deploy.attributes).toMatchObject({ document: JSON.parse(simPolicy.document), defaultVersionId: 'v1', attachmentCount: 2 });
    expect(deploy.attributes.documentSize).toBeLessThanOrEqual(MAX_POLICY_DOCUMENT_BYTES);
  });

  test('a role: trust policy, boundary, tags, attachments, inline names, session duration and last use as AWS holds them', async () => {
    const acct = '444444444401';
    const layer = layerFor(sim);
    const boundary = `arn:aws:iam::${acct}:policy/AccessConnectorBoundary`;
    const iam = await layer.session.memberClient(IAMClient, acct);
    await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: 'app-deployer', PermissionsBoundary: boundary }));
    const plan = planFor(sim.world, layer.integration);
    const { entities } = await runSource(iamSource, plan, { source: 'iam', accountId: acct, region: 'global' }, layer);

    const truth = sim.admin.getRole({ accountId: acct, roleName: 'app-deployer' }) as { trustPolicy: string; boundary: string; tags: { Key: string; Value: string }[]; inline: Record<string, string>; attached: string[]; maxSessionDuration: number };
    expect(truth.boundary).toBe(boundary);
    const role = find(entities, 'iam.role', `arn:aws:iam::${acct}:role/app-deployer`)!;
    expect(role.attributes).toMatchObject({
      trustPolicy: JSON.parse(truth.trustPolicy),
      permissionsBoundary: truth.boundary,
      attachedManagedPolicies: truth.attached,
      inlinePolicies: Object.keys(truth.inline),
      maxSessionDuration: truth.maxSessionDuration,
    });
    expect(role.tags).toEqual(Object.fromEntries(truth.tags.map((t) => [t.Key, t.Value])));
    expect(role.owner).toBe('platform');

    // The member role was just assumed to read the account: GAAD reports its last use.
    const member = find(entities, 'iam.role', `arn:aws:iam::${acct}:role/AccessConnectorMember`)!;
    expect(member.attributes.trustPolicy).toEqual(JSON.parse(sim.admin.getRole({ accountId: acct, roleName: 'AccessConnectorMember' })!.trustPolicy as string));
    expect(Date.parse(member.attributes.lastUsedDate as string)).toBeGreaterThan(0);
    expect(member.attributes.lastUsedRegion).toEqual(expect.any(String));
    const slr = find(entities, 'iam.role', `arn:aws:iam::${acct}:role/aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO`)!;
    expect(slr.attributes).toMatchObject({ path: '/aws-service-role/sso.amazonaws.com/', description: 'Service-linked role used by AWS SSO' });
  });

  test('a customer policy over 8 KiB is sent without its document, with its size', async () => {
    const acct = '555555555501';
    const arn = `arn:aws:iam::${acct}:policy/Large`;
    const document = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: 120 }, (_, i) => ({ Effect: 'Allow', Action: `s3:GetObject${i}`, Resource: `arn:aws:s3:::bucket-${i}/*` })) });
    expect(document.length).toBeGreaterThan(MAX_POLICY_DOCUMENT_BYTES);
    const t = Date.parse('2024-01-01T00:00:00Z');
    sim.world.accounts.get(acct)!.iam.policies.set(arn, { arn, name: 'Large', id: 'ANPALARGEPOLICY000001', path: '/', created: t, updated: t, document });
    const layer = layerFor(sim);
    const { entities } = await runSource(iamSource, planFor(sim.world, layer.integration), { source: 'iam', accountId: acct, region: 'global' }, layer);
    expect(find(entities, 'iam.policy', arn)!.attributes).toMatchObject({ document: null, documentSize: document.length, attachmentCount: 0 });
    expect(find(entities, 'iam.policy', `arn:aws:iam::${acct}:policy/DeployPolicy`)!.attributes.document).toEqual(expect.objectContaining({ Version: '2012-10-17' }));
  });

  test('an unreadable trust policy is a warning and a null document; the unit completes', async () => {
    const acct = '555555555502';
    sim.admin.setTrustPolicy({ accountId: acct, roleName: 'lambda-exec', document: '{not json' });
    const layer = layerFor(sim);
    const { entities, warnings } = await runSource(iamSource, planFor(sim.world, layer.integration), { source: 'iam', accountId: acct, region: 'global' }, layer);
    expect(find(entities, 'iam.role', `arn:aws:iam::${acct}:role/lambda-exec`)!.attributes.trustPolicy).toBeNull();
    expect(warnings).toEqual([{ code: 'IAM_POLICY_UNREADABLE', message: expect.stringContaining(`role arn:aws:iam::${acct}:role/lambda-exec`) }]);
    expect(entities.filter((e) => e.kind === 'iam.role')).toHaveLength(sim.world.accounts.get(acct)!.iam.roles.size);
  });

  test('access keys: one per key with status and last use, never a secret', async () => {
    const layer = layerFor(sim);
    const plan = planFor(sim.world, layer.integration);
    const { entities } = await runSource(iamSource, plan, { source: 'iam', accountId: DEMO_MANAGEMENT_ACCOUNT, region: 'global' }, layer);
    const a = sim.world.accounts.get(DEMO_MANAGEMENT_ACCOUNT)!;
    const keys = entities.filter((e) => e.kind === 'iam.accessKey');
    const simKeys = [...a.iam.users.values()].flatMap((u) => (u.accessKeys ?? []).map((k) => ({ u, k })));
    expect(keys).toHaveLength(simKeys.length);
    for (const { u, k } of simKeys) {
      const userArn = `arn:aws:iam::${a.id}:user${u.path}${u.name}`;
      const e = find(keys, 'iam.accessKey', ids.accessKey(userArn, k.id))!;
      expect(e).toMatchObject({ name: k.id, accountId: a.id, parentId: userArn });
      expect(e.attributes).toEqual({
        accessKeyId: k.id, userName: u.name, status: k.status, createDate: new Date(k.created).toISOString(),
        lastUsedDate: k.lastUsed ? new Date(k.lastUsed).toISOString() : null,
        lastUsedService: k.lastUsed ? k.lastService : null,
        lastUsedRegion: k.lastUsed ? k.lastRegion : null,
      });
    }
    // No secret the simulator knows (user keys, the base identity, issued sessions) appears anywhere.
    const text = JSON.stringify(entities);
    const secrets = [...simKeys.map(({ k }) => k.secret), sim.credentials.secretAccessKey, ...sim.runtime.sessions.all().map((s) => s.secretAccessKey)];
    expect(secrets.length).toBeGreaterThan(simKeys.length + 1);
    for (const s of secrets) expect(text).not.toContain(s);
    expect(text).not.toMatch(/secretAccessKey/i);
  });

  test('a denied account fails its own unit with ASSUME_ROLE_DENIED; the other units still complete', async () => {
    const denied = '222222222222';
    const layer = layerFor(sim);
    const plan = planFor(sim.world, layer.integration);
    sim.faults.denyAccount(denied);
    try {
      const err = await runSource(iamSource, plan, { source: 'iam', accountId: denied, region: 'global' }, layer).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).code).toBe('ASSUME_ROLE_DENIED');
      const others = ['111111111111', '333333333301', '777777777777'];
      const runs = await Promise.all(others.map((accountId) => runSource(iamSource, plan, { source: 'iam', accountId, region: 'global' }, layer)));
      const truth = truthOf(sim, plan).filter((l) => others.some((a) => l.includes(`::${a}:`)));
      expect(linesOf(runs.flatMap((r) => r.entities))).toEqual(truth);
    } finally {
      sim.faults.allowAccount(denied);
    }
  });

  test('a throttling storm on IAM (quotas on) still yields the full set', async () => {
    const layer = layerFor(sim);
    const plan = planFor(sim.world, layer.integration);
    sim.stats.reset();
    sim.faults.throttleStorm({ service: 'iam', fraction: 0.5, durationMs: 2000 });
    const { entities } = await runAllUnits(iamSource, plan, layer, { concurrency: 8 });
    expect(sim.stats.snapshot().byService.iam!.throttled).toBeGreaterThan(0);
    expect(linesOf(entities)).toEqual(truthOf(sim, plan));
  }, 20_000);
});

describe('iam source: generated world (25 accounts)', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let layer: Layer;
  let plan: SyncPlan;
  let entities: Entity[];
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: { generate: { seed: 5, accounts: 25 } } });
    restore = useAwsEnv(sim.env);
    layer = layerFor(sim);
    plan = planFor(sim.world, layer.integration);
    // One full read, as the runner does it: every account at once.
    entities = (await runAllUnits(iamSource, plan, layer, { concurrency: 25 })).entities;
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('ids equal the ground truth; GAAD and ListRoles paged by Marker give the same entities as one page, calling only requiredActions', async () => {
    const lines = linesOf(entities);
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines).toEqual(truthOf(sim, plan));

    const small = createIamSource({ pageSize: 7 });
    const acct = plan.accounts[3]!.id;
    const a = sim.world.accounts.get(acct)!;
    const items = a.iam.users.size + a.iam.groups.size + a.iam.roles.size + a.iam.policies.size;
    sim.stats.reset();
    const paged = await runSource(small, plan, { source: 'iam', accountId: acct, region: 'global' }, layer);
    const ops = sim.stats.snapshot().byOperation;
    expect(ops['iam:GetAccountAuthorizationDetails']!.calls - ops['iam:GetAccountAuthorizationDetails']!.throttled).toBe(Math.ceil(items / 7));
    expect(ops['iam:ListRoles']!.calls - ops['iam:ListRoles']!.throttled).toBe(Math.ceil(a.iam.roles.size / 7));
    // Every IAM action called is declared, and every declared one is called.
    expect(Object.keys(ops).filter((k) => k.startsWith('iam:')).sort()).toEqual([...small.requiredActions].sort());
    const byId = (es: Entity[]) => [...es].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    expect(byId(paged.entities)).toEqual(byId(entities.filter((e) => e.accountId === acct)));
  });

  test('a role with a permissions boundary: boundary and trust as AWS holds them', async () => {
    const hit = plan.accounts.flatMap((p) => [...sim.world.accounts.get(p.id)!.iam.roles.values()].filter((r) => r.boundary).map((r) => ({ accountId: p.id, r })))[0]!;
    const truth = sim.admin.getRole({ accountId: hit.accountId, roleName: hit.r.name })!;
    const role = find(entities, 'iam.role', `arn:aws:iam::${hit.accountId}:role${hit.r.path}${hit.r.name}`)!;
    expect(truth.boundary).toEqual(expect.stringContaining(`:iam::${hit.accountId}:policy/`));
    expect(role.attributes.permissionsBoundary).toBe(truth.boundary);
    expect(role.attributes.trustPolicy).toEqual(JSON.parse(truth.trustPolicy as string));
  });
});
