// Drives one entity source for one unit against an AWS endpoint (the simulator), the way
// the sync runner does, and collects what it emits. For source tests.
import type { Entity } from '../../src/protocol/messages.js';
import type { EntitySource, SourceContext, SyncPlan, SyncUnit } from '../../src/sync/types.js';
import { ids } from '../../src/sync/ids.js';
import type { World } from '../sim/aws/world.js';
import { startAwsSimulator, type AwsSimulator, type AwsSimulatorOptions } from '../sim/aws/index.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { awsLayer } from './aws.js';
import { ConnectorProcess, connectorEnv } from './process.js';

/** The AWS layer of an integration pointed at the simulator's world (its connector roles). */
export function layerFor(sim: AwsSimulator, extra: Record<string, unknown> = {}): ReturnType<typeof awsLayer> {
  const w = sim.world;
  return awsLayer({
    roleArn: `arn:${w.partition}:iam::${w.organization!.managementAccountId}:role/${w.connector.managementRoleName}`,
    externalId: w.connector.externalId,
    memberRoleName: w.connector.memberRoleName,
    resourceOwnerTagKey: 'owner',
    ...extra,
  });
}

/** The integration a control plane would send for the simulator's world: its organization and connector roles. */
export function worldIntegration(w: World, over: Record<string, unknown> = {}) {
  return {
    id: 'int-sim',
    name: 'sim',
    type: 'aws-organization' as const,
    region: 'us-east-1',
    roleArn: `arn:${w.partition}:iam::${w.organization!.managementAccountId}:role/${w.connector.managementRoleName}`,
    externalId: w.connector.externalId,
    memberRoleName: w.connector.memberRoleName,
    ssoRegion: w.sso?.region ?? 'us-east-1',
    ...over,
  };
}

/** `kind id` lines, sorted: the form ground-truth comparisons use. */
export const linesOf = (es: ReadonlyArray<{ kind: string; id: string }>): string[] => es.map((e) => `${e.kind} ${e.id}`).sort();

export interface SourceRun {
  entities: Entity[];
  warnings: Array<{ code: string; message: string }>;
  /** Optional reads given up (src/sync/optional.ts), with the unit's account. */
  gaps: Array<{ action: string; reason: string; accountId: string }>;
}

/** The plan the runner would build for the simulator's world and these integration settings. */
export function planFor(world: World, integration: ReturnType<typeof awsLayer>['integration']): SyncPlan {
  const org = world.organization;
  const excludedOus = new Set<string>(integration.excludeOrganizationalUnitIds);
  // An excluded OU excludes its subtree.
  let grew = true;
  while (grew) {
    grew = false;
    for (const ou of world.ous.values()) if (!excludedOus.has(ou.id) && excludedOus.has(ou.parentId)) { excludedOus.add(ou.id); grew = true; }
  }
  const accounts = [...world.accounts.values()]
    .filter((a) => a.inOrg && a.state === 'ACTIVE' && !integration.excludeAccountIds.includes(a.id) && !(a.parentId && excludedOus.has(a.parentId)))
    .map((a) => ({ id: a.id, arn: ids.account(world.partition, a.id, org && { managementAccountId: org.managementAccountId, id: org.id }), name: a.name }))
    .sort((x, y) => x.id.localeCompare(y.id));
  return {
    integration,
    partition: world.partition,
    managementAccountId: org?.managementAccountId ?? accounts[0]!.id,
    ...(org && { organization: { id: org.id, arn: `arn:${world.partition}:organizations::${org.managementAccountId}:organization/${org.id}`, managementAccountId: org.managementAccountId } }),
    accounts,
    regions: integration.regions.length > 0 ? integration.regions : world.regions,
  };
}

export async function runSource(source: EntitySource, plan: SyncPlan, unit: SyncUnit, layer: ReturnType<typeof awsLayer>, extra: Partial<SourceContext> = {}): Promise<SourceRun> {
  const warnings: SourceRun['warnings'] = [];
  const gaps: SourceRun['gaps'] = [];
  const ctx: SourceContext = {
    session: layer.session,
    plan,
    unit,
    log: layer.logs.log,
    signal: new AbortController().signal,
    warn: (code, message) => warnings.push({ code, message }),
    gap: (action, reason) => gaps.push({ action, reason, accountId: unit.accountId }),
    ...extra,
  };
  const entities: Entity[] = [];
  for await (const e of source.read(ctx)) entities.push(e);
  return { entities, warnings, gaps };
}

/**
 * Runs every unit of a source and returns all entities, in unit order. `concurrency` units
 * run at once (default 1), as the runner reads several accounts at a time.
 */
export async function runAllUnits(source: EntitySource, plan: SyncPlan, layer: ReturnType<typeof awsLayer>, opts: { concurrency?: number } = {}): Promise<SourceRun> {
  const units = source.units(plan);
  const runs: SourceRun[] = new Array(units.length);
  let next = 0;
  const worker = async () => {
    while (next < units.length) {
      const i = next++;
      runs[i] = await runSource(source, plan, units[i]!, layer);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, worker));
  return { entities: runs.flatMap((r) => r.entities), warnings: runs.flatMap((r) => r.warnings), gaps: runs.flatMap((r) => r.gaps) };
}

/**
 * What an end-to-end sync test runs against: the AWS simulator, the reference control plane
 * and a real connector process connected to both (told the simulator's time scale).
 */
export async function startSyncHarness(o: { sim: AwsSimulatorOptions; window: number; quotaMultiplier: number }): Promise<{ sim: AwsSimulator; cp: ReferenceControlPlane; connector: ConnectorProcess; close(): Promise<void> }> {
  const sim = await startAwsSimulator(o.sim);
  const cp = await ReferenceControlPlane.start({ window: o.window });
  const connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env, AWS_QUOTA_MULTIPLIER: String(o.quotaMultiplier) });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
  return {
    sim,
    cp,
    connector,
    close: async () => {
      await connector.stop();
      await cp.close();
      await sim.close();
    },
  };
}
