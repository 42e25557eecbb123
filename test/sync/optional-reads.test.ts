// Regression: one optional read denied (or missing from the endpoint) failed its whole
// unit, e.g. GetPermissionsBoundaryForPermissionSet blanked every permission set, group
// and membership of Identity Center. Each optional action is denied alone here, through
// the real connector, and the unit must still send every entity, with the attributes that
// read feeds marked unknown and the gap named in the result.
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_MANAGEMENT_ACCOUNT, demoIntegration } from '../sim/aws/worlds/demo.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import type { Entity } from '../../src/protocol/messages.js';

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;
// enableAudit: users' last sign-in is read from CloudTrail (cloudtrail:LookupEvents), another optional read.
const integration = demoIntegration({ id: 'int-optional', resourceOwnerTagKey: 'owner', enableAudit: true });
const ROLES = ['AccessConnectorManagement', 'AccessConnectorMember'];
const original = new Map<string, { accountId: string; roleName: string; allow: string[]; deny?: string[] }>();

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  for (const acct of sim.world.accounts.keys()) {
    for (const roleName of ROLES) {
      const perms = sim.admin.getRole({ accountId: acct, roleName })?.['permissions'] as { allow: string[]; deny?: string[] } | null | undefined;
      if (perms) original.set(`${acct}/${roleName}`, { accountId: acct, roleName, ...perms });
    }
  }
  cp = await ReferenceControlPlane.start();
  connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
});
afterAll(async () => {
  await connector.stop();
  await cp.close();
  await sim.close();
});

function deny(action: string | undefined): void {
  for (const p of original.values()) sim.admin.setRolePermissions({ ...p, deny: [...(p.deny ?? []), ...(action ? [action] : [])] });
}

async function sync(resourceTypes: string[]) {
  const { jobId } = cp.sendJob({ jobType: 'sync', integration: { ...integration, resourceTypes: resourceTypes as never }, params: { mode: 'full' } });
  const result = await cp.waitForResult(jobId, 60_000);
  const entities = cp
    .unique()
    .filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId)
    .flatMap((f) => f.frame!['entities'] as Entity[]);
  return { result, entities, output: result.output as { coverage: Array<{ source: string; status: string }>; coverageGaps: unknown[]; errors: unknown[] } };
}

const iamAccounts = () => [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE').map((a) => a.id).sort();

// [action, resource types, entity kinds it describes, attributes it feeds, accounts named]
const CASES: Array<[string, string[], string[], string[], () => string[]]> = [
  ['organizations:ListTagsForResource', [], ['aws.root', 'aws.organizationalUnit', 'aws.account'], ['tags'], () => [DEMO_MANAGEMENT_ACCOUNT]],
  ['sso:ListManagedPoliciesInPermissionSet', ['sso'], ['sso.permissionSet'], ['managedPolicyArns'], () => [DEMO_MANAGEMENT_ACCOUNT]],
  ['sso:ListCustomerManagedPolicyReferencesInPermissionSet', ['sso'], ['sso.permissionSet'], ['customerManagedPolicies'], () => [DEMO_MANAGEMENT_ACCOUNT]],
  ['sso:GetInlinePolicyForPermissionSet', ['sso'], ['sso.permissionSet'], ['hasInlinePolicy', 'inlinePolicySize'], () => [DEMO_MANAGEMENT_ACCOUNT]],
  ['sso:GetPermissionsBoundaryForPermissionSet', ['sso'], ['sso.permissionSet'], ['permissionsBoundary'], () => [DEMO_MANAGEMENT_ACCOUNT]],
  ['sso:ListTagsForResource', ['sso'], ['sso.permissionSet'], ['tags'], () => [DEMO_MANAGEMENT_ACCOUNT]],
  ['iam:GetAccessKeyLastUsed', ['iam'], ['iam.accessKey'], ['lastUsedDate', 'lastUsedService', 'lastUsedRegion'], iamAccounts],
  ['iam:ListRoles', ['iam'], ['iam.role'], ['description', 'maxSessionDuration'], iamAccounts],
  ['iam:ListUsers', ['iam'], ['iam.user'], ['passwordLastUsed'], iamAccounts],
  ['cloudtrail:LookupEvents', ['sso'], ['sso.user'], ['lastSignInAt', 'lastSignInWindowStart'], () => [DEMO_MANAGEMENT_ACCOUNT]],
];

describe('an optional read denied', () => {
  afterEach(() => deny(undefined));

  test.each(CASES)('%s: every entity still sent, the attributes it feeds unknown, the gap named', async (action, resourceTypes, kinds, attributes, accounts) => {
    deny(action);
    const { result, entities, output } = await sync(resourceTypes);
    expect(result.status).toBe('succeeded');
    const truth = sim.groundTruth({ ...integration, resourceTypes } as never).entities;
    expect(canonicalRefs(entities.map((e) => ({ kind: e.kind as never, id: e.id })))).toEqual(canonicalRefs(truth));
    expect(output.coverage.filter((c) => c.status !== 'complete')).toEqual([]);
    expect(output.errors).toEqual([]);
    expect(output.coverageGaps).toEqual([{ action, reason: 'denied', accounts: accounts() }]);
    const described = entities.filter((e) => kinds.includes(e.kind));
    expect(described.length).toBeGreaterThan(0);
    for (const e of described) {
      expect({ id: e.id, unknown: e.attributes['unknownAttributes'] }).toEqual({ id: e.id, unknown: attributes });
      for (const a of attributes) expect(a === 'tags' ? e.tags : e.attributes[a]).toBeUndefined();
    }
    // Nothing else is marked unknown.
    expect(entities.filter((e) => !kinds.includes(e.kind) && e.attributes['unknownAttributes'] !== undefined)).toEqual([]);
    expect(connector.logs().some((l) => l['event'] === 'sync.attribute_unknown' && l['action'] === action && l['reason'] === 'denied')).toBe(true);
    expect(cp.violations).toEqual([]);
  }, 90_000);

  test('with nothing denied, no attribute is unknown and no gap is reported', async () => {
    const { result, entities, output } = await sync(['sso', 'iam']);
    expect(result.status).toBe('succeeded');
    expect(output.coverageGaps).toEqual([]);
    expect(entities.filter((e) => e.attributes['unknownAttributes'] !== undefined)).toEqual([]);
    const tagged = entities.filter((e) => e.kind === 'sso.permissionSet' && e.tags !== undefined);
    expect(tagged.length).toBeGreaterThan(0); // the tags case above removes something real
  }, 90_000);
});
