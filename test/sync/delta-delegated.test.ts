// Delta syncs through a delegated administrator for AWS Organizations (src/sync/delta.ts,
// `organization()`): Organizations logs the organization's changes in the management
// account's trail only, so the connector's own trail, in a member account the organization's
// delegation policy lets read the tree, looks quiet whatever happens. The organization unit
// must then be read in full on every delta, never skipped as unchanged.
//
// The tests share one simulator and run in order: the second moves an account after the
// first's full sync.
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_MANAGEMENT_ACCOUNT, demoIntegration } from '../sim/aws/worlds/demo.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import type { Entity } from '../../src/protocol/messages.js';

const DELEGATE = '222222222222';
let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;
// IAM as well as the organization: the connector enters every account through its member
// roles from the delegate, as it would in AWS.
const management = demoIntegration({ id: 'int-delta-management', resourceTypes: ['iam' as const] });
const delegated = demoIntegration({ id: 'int-delta-delegated', resourceTypes: ['iam' as const], roleArn: `arn:aws:iam::${DELEGATE}:role/AccessConnectorManagement` });

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  // The delegation policy was put a day ago: outside every feed window read here.
  sim.admin.setOrganizationDelegates({ accountIds: [DELEGATE], eventTime: Date.now() - 86_400_000 });
  // The connector's role in the delegate, as in the management account (same trust and
  // permissions), and member roles that trust either.
  const roleName = sim.world.connector.managementRoleName;
  const role = sim.admin.getRole({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName }) as { trustPolicy: string; permissions: { allow: string[] } };
  sim.admin.createRole({ accountId: DELEGATE, roleName, trust: role.trustPolicy });
  sim.admin.setRolePermissions({ accountId: DELEGATE, roleName, allow: role.permissions.allow });
  for (const a of sim.world.accounts.values()) {
    if (!a.inOrg) continue;
    sim.admin.setTrustPolicy({ accountId: a.id, roleName: sim.world.connector.memberRoleName, document: {
      Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: [management.roleArn, delegated.roleArn] }, Action: 'sts:AssumeRole' }],
    } });
  }
  cp = await ReferenceControlPlane.start();
  connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env, AWS_QUOTA_MULTIPLIER: '50' });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
});
afterAll(async () => {
  await connector.stop();
  await cp.close();
  await sim.close();
});

type Coverage = { accountId: string; source: string; region: string; status: string; reason?: string };
async function run(integration: typeof management, params: Record<string, unknown>) {
  sim.stats.reset();
  const { jobId } = cp.sendJob({ jobType: 'sync', integration, params });
  const result = await cp.waitForResult(jobId, 60_000);
  const calls = sim.stats.snapshot().byOperation;
  const entities = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId).flatMap((f) => f.frame!['entities'] as Entity[]);
  const output = result.output as { coverage: Coverage[] };
  return {
    result, entities, output, org: output.coverage.find((c) => c.source === 'organization')!,
    tagReads: calls['organizations:ListTagsForResource']?.calls ?? 0,
    orgEntities: entities.filter((e) => e.kind.startsWith('aws.')).sort((x, y) => (x.id < y.id ? -1 : 1)),
  };
}
const inOrg = () => [...sim.world.accounts.values()].filter((a) => a.inOrg);
/** Every root, OU and account's tags read: the tree was read in full. */
const fullTagReads = () => 1 + sim.world.ous.size + inOrg().length;

test('from a delegated administrator, a full sync reads the organization as from the management account, and a quiet delta still reads it in full', async () => {
  const viaManagement = await run(management, { mode: 'full' });
  const full = await run(delegated, { mode: 'full' });
  expect(full.result.status).toBe('succeeded');
  expect(full.org).toMatchObject({ accountId: DELEGATE, status: 'complete' });
  expect(full.orgEntities.filter((e) => e.kind === 'aws.account')).toHaveLength(inOrg().length);
  expect(full.orgEntities).toEqual(viaManagement.orgEntities);
  // Every ACTIVE account entered through its member role.
  expect(full.output.coverage.filter((c) => c.source === 'iam').every((c) => c.status === 'complete')).toBe(true);

  // Nothing changed, but the delegate's trail could not have told: the unit is read in full.
  const delta = await run(delegated, { mode: 'delta', since: new Date().toISOString() });
  expect(delta.result.status).toBe('succeeded');
  expect(delta.org).toMatchObject({ status: 'complete' });
  expect(delta.tagReads).toBe(fullTagReads());
  expect(delta.orgEntities).toEqual(full.orgEntities);
});

test('an account moved (logged in the management account\'s trail only): a delta from the delegated administrator reads the organization in full and sends the move, as one from the management account does', async () => {
  const account = sim.world.accounts.get('333333333306')!;
  const to = [...sim.world.ous.values()].find((o) => o.name === 'Sandbox')!;
  expect(account.parentId).not.toBe(to.id);
  const since = new Date().toISOString();
  sim.admin.moveAccount({ accountId: account.id, destinationParentId: to.id });
  // The premise: the delegate's trail is quiet, the management account's is not.
  expect(sim.admin.trailEvents({ accountId: DELEGATE }).some((e) => e.EventSource === 'organizations.amazonaws.com')).toBe(false);
  expect(sim.admin.trailEvents({ accountId: DEMO_MANAGEMENT_ACCOUNT }).some((e) => e.EventName === 'MoveAccount')).toBe(true);

  const moved = (r: Awaited<ReturnType<typeof run>>) => r.entities.find((e) => e.kind === 'aws.account' && e.accountId === account.id);
  const delta = await run(delegated, { mode: 'delta', since });
  expect(delta.result.status).toBe('succeeded');
  expect(delta.org).toMatchObject({ accountId: DELEGATE, status: 'complete' });
  expect(delta.tagReads).toBe(fullTagReads());
  expect(delta.orgEntities.filter((e) => e.kind === 'aws.account')).toHaveLength(inOrg().length);
  expect(moved(delta)?.attributes['ouPath']).toEqual(expect.arrayContaining([to.id]));

  // The counterpart: from the management account, the same change is a structural event.
  const viaManagement = await run(management, { mode: 'delta', since });
  expect(viaManagement.org).toMatchObject({ accountId: DEMO_MANAGEMENT_ACCOUNT, status: 'complete' });
  expect(viaManagement.tagReads).toBe(fullTagReads());
  expect(moved(viaManagement)).toEqual(moved(delta));
});
