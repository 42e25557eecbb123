// The sync job end to end: real connector process, reference control plane, AWS simulator.
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_MANAGEMENT_ACCOUNT, demoIntegration } from '../sim/aws/worlds/demo.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import type { Entity } from '../../src/protocol/messages.js';

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;

const integration = demoIntegration({ id: 'int-sync', resourceOwnerTagKey: 'owner' });

beforeAll(async () => {
  // Quotas on at time scale 20; the connector is told the same scale.
  sim = await startAwsSimulator({ world: 'demo', quotas: true, timeScale: 20 });
  cp = await ReferenceControlPlane.start({ window: 8 });
  connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env, AWS_QUOTA_MULTIPLIER: '20' });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
});
afterAll(async () => {
  await connector.stop();
  await cp.close();
  await sim.close();
});

function entitiesOf(jobId: string): Entity[] {
  return cp
    .unique()
    .filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId)
    .flatMap((f) => f.frame!['entities'] as Entity[]);
}

async function sync(over: Record<string, unknown> = {}, params: Record<string, unknown> = { mode: 'full' }) {
  const { jobId } = cp.sendJob({ jobType: 'sync', integration: { ...integration, ...over }, params });
  const result = await cp.waitForResult(jobId, 60_000);
  return { jobId, result, entities: entitiesOf(jobId) };
}

describe('sync (organization source)', () => {
  test('the organization tree, excluded OU subtree and account honoured, matches the ground truth', async () => {
    const ous = [...sim.world.ous.values()];
    const nested = ous.find((o) => ous.some((c) => c.parentId === o.id))!; // an OU with a child OU
    const loneAccount = [...sim.world.accounts.values()].find((a) => a.inOrg && a.parentId === sim.world.organization!.rootId && a.id !== DEMO_MANAGEMENT_ACCOUNT)!;
    const settings = { resourceTypes: [] as string[], excludeOrganizationalUnitIds: [nested.id], excludeAccountIds: [loneAccount.id] };
    const { result, entities } = await sync(settings);
    expect(result.status).toBe('succeeded');
    const truth = sim.groundTruth({ type: 'aws-organization', ...settings } as never).entities;
    expect(canonicalRefs(entities.map((e) => ({ kind: e.kind as never, id: e.id })))).toEqual(canonicalRefs(truth));
    expect(new Set(entities.map((e) => e.id)).size).toBe(entities.length); // nothing duplicated
    expect(entities.some((e) => e.id.includes(loneAccount.id))).toBe(false);
    const output = result.output as { counts: Record<string, number>; coverage: Array<{ source: string; status: string }>; errors: unknown[] };
    expect(output.counts['aws.account']).toBe(entities.filter((e) => e.kind === 'aws.account').length);
    expect(output.coverage).toEqual([{ accountId: DEMO_MANAGEMENT_ACCOUNT, source: 'organization', region: 'global', status: 'complete' }]);
    expect(output.errors).toEqual([]);
    // Accounts carry their OU path; owners come from the owner tag.
    const withOwner = entities.filter((e) => e.tags?.['owner']);
    for (const e of withOwner) expect(e.owner).toBe(e.tags!['owner']);
    expect(cp.violations).toEqual([]);
  });

  test('the same full sync twice emits the same ids; every batch carries a cursor', async () => {
    const a = await sync({ resourceTypes: [] });
    const b = await sync({ resourceTypes: [] });
    expect(a.entities.map((e) => e.id).sort()).toEqual(b.entities.map((e) => e.id).sort());
    const batches = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === b.jobId);
    expect(batches.at(-1)!.frame!['cursor']).toEqual(expect.any(String));
  });

  test('a cursor from another integration or other params is rejected as invalid', async () => {
    const a = await sync({ resourceTypes: [] });
    const cursor = (a.result.output as { cursor: string }).cursor;
    const other = cp.sendJob({ jobType: 'sync', integration: { ...integration, id: 'int-other', resourceTypes: [] }, params: { mode: 'full', resumeFrom: cursor } });
    const rej = await cp.waitFor((f) => f.frame?.['type'] === 'job.rejected' && f.frame['jobId'] === other.jobId);
    expect(rej.frame).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/resumeFrom/) });
    const garbage = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'full', resumeFrom: 'not-a-cursor!' } });
    expect((await cp.waitFor((f) => f.frame?.['type'] === 'job.rejected' && f.frame['jobId'] === garbage.jobId)).frame).toMatchObject({ reason: 'invalid' });
  });

  test('a management role that cannot be assumed fails the sync with ASSUME_ROLE_DENIED', async () => {
    const { result } = await sync({ externalId: 'wrong-external-id', resourceTypes: [] });
    expect(result).toMatchObject({ status: 'failed', error: { code: 'ASSUME_ROLE_DENIED', retryable: false } });
  });
});
