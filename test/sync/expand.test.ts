// Effective access, expanded once, on request (sync params `expand: true`; docs/sync.md,
// "Effective access (expand)"): the real connector process against the reference control
// plane and the AWS simulator, whose ground truth computes the derived entities on its own.
import { DeleteGroupMembershipCommand, IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT, demoIntegration } from '../sim/aws/worlds/demo.js';
import { canonicalRefs, entityIds } from '../sim/aws/entity-ids.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import type { Entity } from '../../src/protocol/messages.js';
import { encodeCursor, paramsHash } from '../../src/sync/cursor.js';
import { checkResumeCursor, syncParams } from '../../src/sync/run-sync.js';
import { worldIntegration } from '../helpers/sync.js';

const DERIVED = ['sso.effectiveAccess', 'sso.permissionSetPolicy', 'iam.groupPolicy'];
const integration = demoIntegration({ id: 'int-expand', resourceTypes: ['sso' as const, 'iam' as const] });
const settings = { type: 'aws-organization' as const, resourceTypes: ['sso' as const, 'iam' as const] };

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;
let restore: () => void;

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  restore = useAwsEnv(sim.env);
  // A window of 2: the sync cannot get ahead of the control plane by more than 2 batches.
  cp = await ReferenceControlPlane.start({ window: 2 });
  connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env, AWS_QUOTA_MULTIPLIER: '50' });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
});
afterAll(async () => {
  destroyAwsLayers();
  restore();
  await connector.stop();
  await cp.close();
  await sim.close();
});

type Coverage = { accountId: string; source: string; region: string; status: string; reason?: string };
async function sync(params: Record<string, unknown>) {
  const { jobId } = cp.sendJob({ jobType: 'sync', integration, params });
  const result = await cp.waitForResult(jobId, 60_000);
  const batches = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId).map((f) => f.frame!['entities'] as Entity[]);
  const output = result.output as { counts: Record<string, number>; coverage: Coverage[]; errors: unknown[]; warnings: unknown[] };
  return { result, batches, entities: batches.flat(), output };
}

const refs = (es: ReadonlyArray<{ kind: string; id: string }>) => canonicalRefs(es.map((e) => ({ kind: e.kind as never, id: e.id })));
const users = () => new Map([...sim.world.sso!.users.values()].map((u) => [u.UserName.split('@')[0]!, u.UserId]));
const groupId = (name: string) => [...sim.world.sso!.groups.values()].find((g) => g.DisplayName === name)!.GroupId;
const psArn = (name: string) => [...sim.world.sso!.permissionSets.values()].find((p) => p.name === name)!.arn;
const effective = (es: Entity[], userId: string) => es.filter((e) => e.kind === 'sso.effectiveAccess' && e.attributes['userId'] === userId);

test('expand off (absent or false): no derived entity, no derived field, no expansion coverage, as before', async () => {
  for (const params of [{ mode: 'full' }, { mode: 'full', expand: false }]) {
    const { result, entities, output } = await sync(params);
    expect(result.status).toBe('succeeded');
    expect(entities.filter((e) => DERIVED.includes(e.kind))).toEqual([]);
    expect(entities.filter((e) => 'derived' in e)).toEqual([]);
    expect(output.coverage.filter((c) => c.source === 'sso-effective-access')).toEqual([]);
    expect(Object.keys(output.counts).filter((k) => DERIVED.includes(k))).toEqual([]);
    expect(refs(entities)).toEqual(refs(sim.groundTruth(settings).entities));
  }
  expect(cp.violations).toEqual([]);
});

test('resume cursors: `expand: false` hashes as absent (cursors made before the param existed still resume); `expand: true` is other params', () => {
  const plain = syncParams.parse({ mode: 'full' });
  const cursor = encodeCursor('int-expand', paramsHash(plain), 'fingerprint', [0]);
  expect(paramsHash(syncParams.parse({ mode: 'full', expand: false }))).toBe(paramsHash(plain));
  expect(checkResumeCursor('int-expand', syncParams.parse({ mode: 'full', expand: false, resumeFrom: cursor }))).toBeUndefined();
  expect(checkResumeCursor('int-expand', syncParams.parse({ mode: 'full', expand: true, resumeFrom: cursor }))).toMatch(/other sync params/);
  expect(syncParams.safeParse({ mode: 'full', expand: 'yes' }).success).toBe(false);
});

test('expand on: exactly the ground truth (facts and derived), none duplicated, each derived one marked and traced to facts of the same sync', async () => {
  const { result, entities, output } = await sync({ mode: 'full', expand: true });
  expect(result.status).toBe('succeeded');
  const truth = sim.groundTruth({ ...settings, expand: true });
  const got = refs(entities);
  expect({ missing: truth.entities.map((e) => `${e.kind} ${e.id}`).filter((r) => !got.includes(r)) }).toEqual({ missing: [] });
  expect(got).toEqual(refs(truth.entities));
  expect(entities.length).toBe(got.length); // nothing duplicated
  for (const kind of DERIVED) expect(truth.counts[kind as never]).toBeGreaterThan(0);
  for (const kind of DERIVED) expect(output.counts[kind]).toBe(truth.counts[kind as never]);

  const facts = new Set(entities.filter((e) => !e.derived).map((e) => e.id));
  const derived = entities.filter((e) => DERIVED.includes(e.kind));
  for (const e of derived) {
    expect(e.derived).toBe(true);
    const from = e.attributes['derivedFrom'] as string[];
    expect(from.length).toBeGreaterThan(0);
    for (const id of from) expect(facts.has(id)).toBe(true);
  }
  expect(entities.filter((e) => !DERIVED.includes(e.kind) && 'derived' in e)).toEqual([]);

  // Each entered account's effective access has its own coverage entry, complete.
  const entered = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE').map((a) => a.id).sort();
  const cov = output.coverage.filter((c) => c.source === 'sso-effective-access');
  expect(cov.map((c) => c.accountId).sort()).toEqual(entered);
  expect(cov.every((c) => c.status === 'complete' && c.region === 'us-east-1')).toBe(true);
  expect(output.errors).toEqual([]);
  expect(cp.violations).toEqual([]);
});

test('direct and through a group; a user in two groups reaches an account once per path', async () => {
  const { entities } = await sync({ mode: 'full', expand: true });
  const u = users();
  const alice = u.get('alice')!;
  const mgmtAccess = effective(entities, alice).filter((e) => e.accountId === DEMO_MANAGEMENT_ACCOUNT);
  // alice: AdministratorAccess directly and through Admins; SecurityAudit through Security.
  const admin = psArn('AdministratorAccess');
  const direct = mgmtAccess.find((e) => e.attributes['via'] === 'direct')!;
  expect(direct).toMatchObject({
    id: entityIds.effectiveAccess(admin, DEMO_MANAGEMENT_ACCOUNT, alice),
    accountId: DEMO_MANAGEMENT_ACCOUNT,
    derived: true,
    attributes: {
      userId: alice, userEntityId: entityIds.ssoUser('aws', alice), permissionSetArn: admin, permissionSetName: 'AdministratorAccess', via: 'direct',
      derivedFrom: [entityIds.accountAssignment(admin, DEMO_MANAGEMENT_ACCOUNT, 'USER', alice)],
    },
  });
  const membership = sim.admin.listGroupMemberships({ groupId: groupId('Admins'), userId: alice })[0]!;
  expect(mgmtAccess.find((e) => e.attributes['via'] === 'group' && e.attributes['groupId'] === groupId('Admins'))).toMatchObject({
    id: entityIds.effectiveAccess(admin, DEMO_MANAGEMENT_ACCOUNT, alice, groupId('Admins')),
    attributes: {
      permissionSetArn: admin, groupEntityId: entityIds.ssoGroup('aws', groupId('Admins')),
      derivedFrom: [entityIds.accountAssignment(admin, DEMO_MANAGEMENT_ACCOUNT, 'GROUP', groupId('Admins')), entityIds.ssoGroupMembership('aws', membership.MembershipId)],
    },
  });
  expect(mgmtAccess.filter((e) => e.attributes['permissionSetArn'] === admin)).toHaveLength(2);
  // In a member account alice is in two assigned groups: two entities, one per group.
  const member = [...sim.world.accounts.values()].find((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== DEMO_MANAGEMENT_ACCOUNT)!.id;
  const there = effective(entities, alice).filter((e) => e.accountId === member);
  expect(there.map((e) => [e.attributes['permissionSetName'], e.attributes['groupId']]).sort()).toEqual(
    [['AdministratorAccess', groupId('Admins')], ['SecurityAudit', groupId('Security')]].sort(),
  );
  // The policies each permission set and IAM group carries.
  expect(entities.find((e) => e.id === entityIds.permissionSetPolicy(admin, 'arn:aws:iam::aws:policy/AdministratorAccess'))).toMatchObject({
    kind: 'sso.permissionSetPolicy', derived: true, parentId: admin, attributes: { permissionSetArn: admin, policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess', derivedFrom: [admin] },
  });
  const operators = entities.find((e) => e.kind === 'iam.group' && e.name === 'Operators' && e.accountId === member)!;
  expect(entities.filter((e) => e.kind === 'iam.groupPolicy' && e.parentId === operators.id)).toEqual([
    expect.objectContaining({ id: entityIds.groupPolicy(operators.arn!, 'arn:aws:iam::aws:policy/ReadOnlyAccess'), accountId: member, derived: true, attributes: { groupArn: operators.arn, policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess', derivedFrom: [operators.id] } }),
  ]);
});

test('the same facts give the same derived ids in a later sync', async () => {
  const a = await sync({ mode: 'full', expand: true });
  const b = await sync({ mode: 'full', expand: true });
  const derivedIds = (es: Entity[]) => es.filter((e) => e.derived).map((e) => e.id).sort();
  expect(derivedIds(a.entities).length).toBeGreaterThan(50);
  expect(derivedIds(b.entities)).toEqual(derivedIds(a.entities));
});

test('a membership deleted since: its derived access is gone in the next sync, whose expansion coverage says so (complete); a delta re-reads the accounts it changes', async () => {
  const u = users();
  const carol = u.get('carol')!;
  const readOnly = groupId('ReadOnly');
  const before = await sync({ mode: 'full', expand: true });
  const viaReadOnly = effective(before.entities, carol).filter((e) => e.attributes['groupId'] === readOnly);
  expect(viaReadOnly.length).toBeGreaterThan(0);
  const accounts = new Set(viaReadOnly.map((e) => e.accountId));

  // Deleted through Identity Store, as a person would: CloudTrail logs it.
  const since = new Date().toISOString();
  const { session } = awsLayer({ roleArn: integration.roleArn, externalId: DEMO_EXTERNAL_ID });
  const store = await session.managementClient(IdentitystoreClient);
  const m = sim.admin.listGroupMemberships({ groupId: readOnly, userId: carol })[0]!;
  await store.send(new DeleteGroupMembershipCommand({ IdentityStoreId: sim.world.sso!.identityStoreId, MembershipId: m.MembershipId }));

  for (const params of [{ mode: 'full', expand: true }, { mode: 'delta', since, expand: true }]) {
    const after = await sync(params);
    expect(after.result.status).toBe('succeeded');
    const ids = new Set(after.entities.map((e) => e.id));
    for (const e of viaReadOnly) expect(ids.has(e.id)).toBe(false);
    // Carol still reaches the dev accounts through Developers.
    expect(effective(after.entities, carol).some((e) => e.attributes['groupId'] === groupId('Developers'))).toBe(true);
    // Deletable: the accounts' expansion is complete in this sync.
    for (const acct of accounts) expect(after.output.coverage.find((c) => c.source === 'sso-effective-access' && c.accountId === acct)).toMatchObject({ status: 'complete' });
    // What was read matches the truth of the changed world (a delta reads what changed).
    const truth = new Set(refs(sim.groundTruth({ ...settings, expand: true }).entities));
    expect(refs(after.entities.filter((e) => !e.deleted)).filter((r) => !truth.has(r))).toEqual([]);
  }
  expect(cp.violations).toEqual([]);
});

test('a directory that cannot be read completely: every account\'s expansion is failed (no deletion may be inferred), the assignments themselves stay complete', async () => {
  sim.faults.serverErrors({ service: 'identitystore', operation: 'ListGroupMemberships' });
  try {
    const { result, entities, output } = await sync({ mode: 'full', expand: true });
    expect(result.status).toBe('succeeded');
    expect(output.coverage.find((c) => c.source === 'sso')).toMatchObject({ status: 'failed' });
    const expansion = output.coverage.filter((c) => c.source === 'sso-effective-access');
    expect(expansion.length).toBeGreaterThan(1);
    expect(expansion.every((c) => c.status === 'failed')).toBe(true);
    expect(output.coverage.filter((c) => c.source === 'sso-assignments').every((c) => c.status === 'complete')).toBe(true);
    const errors = output.errors as Array<{ source: string; accountId: string; code: string }>;
    expect(errors.filter((e) => e.source === 'sso-effective-access').map((e) => e.accountId).sort()).toEqual(expansion.map((c) => c.accountId).sort());
    // What is sent is still true: direct assignments expand without the directory.
    expect(entities.some((e) => e.kind === 'sso.effectiveAccess' && e.attributes['via'] === 'direct')).toBe(true);
    expect(entities.some((e) => e.kind === 'sso.effectiveAccess' && e.attributes['via'] !== 'direct')).toBe(false);

    // Resumed from that sync's last cursor once the directory reads again: the assignments
    // were not done for expansion, so they are read again and their group paths derived.
    sim.faults.clear();
    const cursor = (output as unknown as { cursor: string }).cursor;
    const resumed = await sync({ mode: 'full', expand: true, resumeFrom: cursor });
    expect(resumed.result.status).toBe('succeeded');
    expect(resumed.output.coverage.filter((c) => c.source === 'sso-effective-access').every((c) => c.status === 'complete')).toBe(true);
    const groupPath = (e: { kind: string; id: string }) => e.kind === 'sso.effectiveAccess' && e.id.includes('via:GROUP');
    const viaGroup = resumed.entities.filter(groupPath);
    const expected = sim.groundTruth({ ...settings, expand: true }).entities.filter(groupPath);
    expect(expected.length).toBeGreaterThan(0);
    expect(refs(viaGroup).sort()).toEqual(refs(expected).sort());
  } finally {
    sim.faults.clear();
  }
});

describe('a generated organization of 40 accounts', () => {
  let big: AwsSimulator;
  let bigCp: ReferenceControlPlane;
  let bigConnector: ConnectorProcess;
  beforeAll(async () => {
    big = await startAwsSimulator({ world: { generate: { seed: 7, accounts: 40 } }, quotas: false });
    // A window of 2: the sync cannot get ahead of the control plane by more than 2 batches.
    bigCp = await ReferenceControlPlane.start({ window: 2 });
    bigConnector = new ConnectorProcess({ ...connectorEnv(bigCp.url), ...big.env, AWS_QUOTA_MULTIPLIER: '50' });
    // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
    await bigCp.waitForSession(20_000);
  });
  afterAll(async () => {
    await bigConnector.stop();
    await bigCp.close();
    await big.close();
  });

  test('derived entities stream with the facts in many batches under a window of 2, match the ground truth, and the join holds the directory only', async () => {
    const w = big.world;
    const bigIntegration = { ...integration, ...worldIntegration(w, { id: integration.id, name: integration.name }) };
    const { jobId } = bigCp.sendJob({ jobType: 'sync', integration: bigIntegration, params: { mode: 'full', expand: true } });
    const result = await bigCp.waitForResult(jobId, 120_000);
    expect(result.status).toBe('succeeded');
    const batches = bigCp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId).map((f) => f.frame!['entities'] as Entity[]);
    const entities = batches.flat();
    const got = refs(entities);
    expect(got).toEqual(refs(big.groundTruth({ ...settings, expand: true }).entities));
    expect(entities.length).toBe(got.length);

    const derived = entities.filter((e) => e.derived).length;
    expect(derived).toBeGreaterThan(1000);
    const withDerived = batches.map((b, seq) => ({ seq, n: b.filter((e) => e.derived).length })).filter((x) => x.n > 0);
    expect(withDerived.length).toBeGreaterThan(2);
    // Sent as their facts are read: derived entities go out long before the last facts do.
    const lastFact = Math.max(...batches.map((b, seq) => (b.some((e) => !e.derived) ? seq : -1)));
    expect(withDerived[0]!.seq).toBeLessThan(lastFact);
    // The state of the join: the directory's memberships (ids only), nothing per account.
    expect((result.stats as { expand?: unknown }).expand).toEqual({ derived, memberships: w.sso!.memberships.size, groups: expect.any(Number), users: expect.any(Number) });
    expect(bigCp.violations).toEqual([]);
  });

  test('resumed from a cursor taken mid-expansion: the directory is read again, and the batches up to the cursor plus the resumed sync hold every derived entity', async () => {
    const w = big.world;
    const bigIntegration = { ...integration, ...worldIntegration(w, { id: integration.id, name: integration.name }) };
    const params = { mode: 'full', expand: true };
    const first = bigCp.sendJob({ jobType: 'sync', integration: bigIntegration, params });
    expect((await bigCp.waitForResult(first.jobId, 120_000)).status).toBe('succeeded');
    const frames = bigCp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === first.jobId).map((f) => f.frame!);
    // The first batch with effective access: the directory is complete by then, most accounts' assignments not yet.
    const n = frames.findIndex((f) => (f['entities'] as Entity[]).some((e) => e.kind === 'sso.effectiveAccess'));
    expect(n).toBeGreaterThan(0);
    const upTo = frames.slice(0, n + 1).flatMap((f) => f['entities'] as Entity[]);

    const resumed = bigCp.sendJob({ jobType: 'sync', integration: bigIntegration, params: { ...params, resumeFrom: frames[n]!['cursor'] } });
    const result = await bigCp.waitForResult(resumed.jobId, 120_000);
    expect(result.status).toBe('succeeded');
    const again = bigCp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === resumed.jobId).flatMap((f) => f.frame!['entities'] as Entity[]);
    // Some accounts' assignments were read again (else this would test nothing)…
    expect(again.filter((e) => e.kind === 'sso.accountAssignment').length).toBeGreaterThan(0);
    // …and together the two hold exactly the truth.
    const truth = big.groundTruth({ ...settings, expand: true });
    expect(refs([...upTo, ...again])).toEqual(refs(truth.entities));
    const cov = (result.output as { coverage: Coverage[] }).coverage;
    expect(cov.find((c) => c.source === 'sso')).toMatchObject({ status: 'complete' });
    expect(cov.filter((c) => c.source === 'sso-effective-access').every((c) => c.status === 'complete')).toBe(true);
  });
});
