// Resource Explorer's organization view is listed beside discovery, not after it: the real
// connector process against the reference control plane and the AWS simulator, with the
// Organizations bucket paced so that the walk takes seconds. Resources of an account are
// sent only once discovery has entered it, and never for an account it leaves out (an
// excluded OU or account, a suspended account, an account outside `accountIds`), however
// far the listing runs ahead of the walk. The walk lists the tree ahead of its tag reads,
// so the listing knows which accounts are in long before their entities are sent.
import type { ReferenceControlPlane } from '../sim/control-plane/server.js';
import type { AwsSimulator } from '../sim/aws/index.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import type { Entity } from '../../src/protocol/messages.js';
import { startSyncHarness, worldIntegration } from '../helpers/sync.js';
import { resourcesOf } from '../sim/aws/world.js';

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let close: () => Promise<void>;

beforeAll(async () => {
  // 80 accounts × 120 resources: about 10 pages of ListResources, far more than the listing
  // may hold for accounts not yet discovered (2,000), in an order unrelated to the walk's.
  ({ sim, cp, close } = await startSyncHarness({
    sim: { world: { generate: { seed: 5, accounts: 80, resourcesPerAccount: 120, suspendedFraction: 0.1 } }, quotas: true, timeScale: 10 },
    window: 16,
    quotaMultiplier: 10,
  }));
}, 60_000);
afterAll(async () => close());

const refs = (es: Array<{ kind: string; id: string }>) => canonicalRefs(es.map((e) => ({ kind: e.kind as never, id: e.id })));

/**
 * The order the walk sends OUs and accounts in, worked out from the world: depth first from
 * the root, a parent's accounts and then its OUs (each listed by id, as AWS and the
 * simulator list them), the last OU listed walked first; excluded ones left out.
 */
function walkOrder(excludedOus: ReadonlySet<string>, excludedAccounts: ReadonlySet<string>): string[] {
  const w = sim.world;
  const byId = <T extends { id: string }>(xs: T[]) => xs.sort((x, y) => (x.id < y.id ? -1 : 1));
  const out: string[] = [];
  const stack = [w.organization!.rootId];
  while (stack.length > 0) {
    const parent = stack.pop()!;
    for (const a of byId([...w.accounts.values()].filter((x) => x.inOrg && x.parentId === parent && !excludedAccounts.has(x.id)))) out.push(`account ${a.id}`);
    for (const ou of byId([...w.ous.values()].filter((x) => x.parentId === parent && !excludedOus.has(x.id)))) {
      out.push(`ou ${ou.id}`);
      stack.push(ou.id);
    }
  }
  return out;
}
/** The OUs and accounts of a sync, in the order sent. */
const sentOrder = (entities: Entity[]) =>
  entities.flatMap((e) => (e.kind === 'aws.account' ? [`account ${e.accountId}`] : e.kind === 'aws.organizationalUnit' ? [`ou ${String(e.attributes['ouId'])}`] : []));

async function sync(over: Record<string, unknown>, params: Record<string, unknown> = { mode: 'full' }) {
  const integration = worldIntegration(sim.world, { id: 'int-re', name: 're', resourceTypes: ['resources' as const], ...over });
  const { jobId } = cp.sendJob({ jobType: 'sync', integration, params });
  const result = await cp.waitForResult(jobId, 120_000);
  // In the order the control plane received them.
  const entities = cp
    .unique()
    .filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId)
    .flatMap((f) => f.frame!['entities'] as Entity[]);
  return { result, entities };
}

test('the listing runs beside the walk and sends exactly the ground truth, exclusions and suspended accounts honoured', async () => {
  const w = sim.world;
  const ous = [...w.ous.values()];
  const excludedOu = ous.find((o) => [...w.accounts.values()].some((a) => a.inOrg && a.parentId === o.id))!;
  const excludedAccount = [...w.accounts.values()].find((a) => a.inOrg && a.parentId !== excludedOu.id && a.id !== w.organization!.managementAccountId)!;
  const settings = { excludeOrganizationalUnitIds: [excludedOu.id], excludeAccountIds: [excludedAccount.id] };
  const { result, entities } = await sync(settings);
  expect(result.status).toBe('succeeded');
  expect((result.output as { errors: unknown[] }).errors).toEqual([]);
  const truth = sim.groundTruth({ type: 'aws-organization', resourceTypes: ['resources'], ...settings } as never).entities;
  expect(truth.filter((e) => e.kind === 'resource').length).toBeGreaterThan(2000);
  expect(refs(entities)).toEqual(refs(truth));
  expect(new Set(entities.map((e) => `${e.kind} ${e.id}`)).size).toBe(entities.length);
  // The tree listed ahead of the tag reads, its entities still go out in the walk's order.
  expect(w.ous.size).toBeGreaterThan(3);
  expect(sentOrder(entities)).toEqual(walkOrder(new Set([excludedOu.id]), new Set([excludedAccount.id])));
  // Each resource names its account as parent, as a listing after discovery does.
  const accountIds = new Set(entities.filter((e) => e.kind === 'aws.account').map((e) => e.id));
  for (const e of entities.filter((x) => x.kind === 'resource')) expect(accountIds.has(e.parentId!)).toBe(true);
  // Beside, not after: resources arrived before the walk's last account did.
  const firstResource = entities.findIndex((e) => e.kind === 'resource');
  const lastAccount = entities.map((e) => e.kind).lastIndexOf('aws.account');
  expect(firstResource).toBeGreaterThanOrEqual(0);
  expect(firstResource).toBeLessThan(lastAccount);
  expect(cp.violations).toEqual([]);
}, 180_000);

test('the walk lists the tree ahead of its tag reads: held at its first account\'s tags, the listing still reads every page', async () => {
  const w = sim.world;
  const org = w.organization!;
  // The first account the walk reads tags for: the root's first (listed by id).
  const first = [...w.accounts.values()].filter((a) => a.inOrg && a.parentId === org.rootId).sort((x, y) => (x.id < y.id ? -1 : 1))[0]!;
  const gate = sim.faults.gate({ service: 'organizations', operation: 'ListTagsForResource', match: first.id });
  const calls = () => sim.stats.snapshot().byOperation['resource-explorer-2:ListResources']?.calls ?? 0;
  const truth = sim.groundTruth({ type: 'aws-organization', resourceTypes: ['resources'] } as never).entities;
  const resources = truth.filter((e) => e.kind === 'resource').length;
  const pages = Math.ceil(resources / 999);
  const before = calls();
  const framesBefore = cp.unique().length;
  const run = sync({ id: 'int-re-ahead' });
  try {
    await gate.reached;
    // While no account has been sent (its tags are held), every page of the view is read:
    // each resource's account is known from the listing. Reading only what it may hold for
    // unknown accounts (2,000), it would stop at 3 pages.
    for (let i = 0; i < 600 && calls() - before < pages; i++) await new Promise((r) => setTimeout(r, 100));
    expect(pages).toBeGreaterThan(3);
    expect(calls() - before).toBe(pages);
    // Sent meanwhile (the frames of this sync): resources, and not one account.
    const sent = cp.unique().slice(framesBefore).filter((f) => f.frame?.['type'] === 'sync.batch').flatMap((f) => f.frame!['entities'] as Entity[]);
    expect(sent.filter((e) => e.kind === 'resource').length).toBeGreaterThan(2000);
    expect(sent.filter((e) => e.kind === 'aws.account')).toEqual([]);
    gate.release();
    const { result, entities } = await run;
    expect(result.status).toBe('succeeded');
    expect(refs(entities)).toEqual(refs(truth));
    // The walk's order is unchanged, the held account first.
    expect(sentOrder(entities)[0]).toBe(`account ${first.id}`);
    expect(sentOrder(entities)).toEqual(walkOrder(new Set(), new Set()));
  } finally {
    gate.release();
    await run.catch(() => undefined);
    sim.faults.clear();
  }
}, 180_000);

test('with accountIds, only those accounts\' resources are sent', async () => {
  const w = sim.world;
  const active = [...w.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE');
  const chosen = [active[3]!.id, active[40]!.id, active[active.length - 1]!.id];
  const { result, entities } = await sync({}, { mode: 'full', accountIds: chosen });
  expect(result.status).toBe('succeeded');
  const resources = entities.filter((e) => e.kind === 'resource');
  expect(new Set(resources.map((e) => e.accountId))).toEqual(new Set(chosen));
  // The ground truth of the whole organization, cut to the resources of those accounts.
  const all = sim.groundTruth({ type: 'aws-organization', resourceTypes: ['resources'] } as never).entities.filter((e) => e.kind === 'resource');
  const ofChosen = new Set(chosen.flatMap((id) => resourcesOf(w, id).map((r) => r.arn)));
  const expected = all.filter((e) => ofChosen.has(e.id));
  expect(expected.length).toBeGreaterThan(0);
  expect(refs(resources)).toEqual(refs(expected));
}, 180_000);

test('a walk that fails while the listing waits for it: the sync fails, nothing hangs, no resource of an unknown account is sent', async () => {
  // The walk stops at its first account listing; the organization view's listing, started
  // beside it, reads past what it may hold (every account is still unknown) and waits.
  const gate = sim.faults.gate({ service: 'organizations', operation: 'ListAccountsForParent' });
  const calls = () => sim.stats.snapshot().byOperation['resource-explorer-2:ListResources']?.calls ?? 0;
  const before = calls();
  const run = sync({ id: 'int-re-fail' });
  try {
    await gate.reached;
    for (let i = 0; i < 600 && calls() - before < 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect(calls() - before).toBeGreaterThanOrEqual(3); // 3 × 999 resources: past the 2,000 held
    // Then the walk fails (the listing answers 500 on every retry).
    sim.faults.serverErrors({ service: 'organizations', operation: 'ListAccountsForParent' });
    gate.release();
    const { result, entities } = await run;
    expect(result.status).toBe('failed');
    expect(entities.filter((e) => e.kind === 'resource')).toEqual([]);
    expect(entities.filter((e) => e.kind === 'aws.account')).toEqual([]);
    // And the listing stopped with the walk: the 3 pages read before it waited, none
    // after (not the rest of the view's, about 10).
    expect(calls() - before).toBe(3);
  } finally {
    // Whatever failed above, the walk is let go and the sync ends before the next test.
    gate.release();
    await run.catch(() => undefined);
    sim.faults.clear();
  }
}, 180_000);
