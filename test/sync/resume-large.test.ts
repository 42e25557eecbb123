// A resumed sync of more units than the runner queues at once (RESUME_QUEUED_UNITS, 2,048,
// in src/sync/run-sync.ts): it starts its units as the queue drains, as a fresh sync does,
// and still runs every one of them. The real connector process against the reference
// control plane and the AWS simulator.
import type { ReferenceControlPlane } from '../sim/control-plane/server.js';
import type { AwsSimulator } from '../sim/aws/index.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import type { Entity } from '../../src/protocol/messages.js';
import { startSyncHarness, worldIntegration } from '../helpers/sync.js';

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ sim, cp, close } = await startSyncHarness({ sim: { world: { generate: { seed: 3, accounts: 600 } }, quotas: false }, window: 16, quotaMultiplier: 50 }));
}, 60_000);
afterAll(async () => close());

type Coverage = { accountId: string; source: string; region: string; status: string };
const refs = (es: Array<{ kind: string; id: string }>) => canonicalRefs(es.map((e) => ({ kind: e.kind as never, id: e.id })));

test('resumed from a cursor mid-sync with more than 2,048 units: every unit is covered and the two syncs hold the ground truth', async () => {
  const w = sim.world;
  const integration = worldIntegration(w, { id: 'int-large', name: 'large', resourceTypes: ['ec2' as const] });
  const batchesOf = (jobId: string) => cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId).map((f) => f.frame!);
  const first = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'full' } });
  const r1 = await cp.waitForResult(first.jobId, 240_000);
  expect(r1.status).toBe('succeeded');
  const units = (r1.stats as { units: number }).units;
  expect(units).toBeGreaterThan(2048 + 256);
  // A cursor from about half-way: about half the units are read again.
  const frames = batchesOf(first.jobId);
  const withCursor = frames.filter((f) => typeof f['cursor'] === 'string');
  const mid = withCursor[Math.floor(withCursor.length / 2)]!;
  const upTo = frames.slice(0, frames.indexOf(mid) + 1).flatMap((f) => f['entities'] as Entity[]);

  const resumed = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'full', resumeFrom: mid['cursor'] } });
  const r2 = await cp.waitForResult(resumed.jobId, 240_000);
  expect(r2.status).toBe('succeeded');
  const output = r2.output as { coverage: Coverage[]; warnings: unknown[]; coverageTruncated?: unknown };
  expect(output.warnings).toEqual([]);
  expect((r2.stats as { units: number }).units).toBe(units);
  // Every unit once in the coverage, complete (skipped ones as complete too).
  expect(output.coverageTruncated).toBeUndefined();
  expect(output.coverage.length).toBe(units);
  expect(new Set(output.coverage.map((c) => `${c.source}:${c.accountId}:${c.region}`)).size).toBe(units);
  expect(output.coverage.every((c) => c.status === 'complete')).toBe(true);
  const again = batchesOf(resumed.jobId).flatMap((f) => f['entities'] as Entity[]);
  expect(again.length).toBeGreaterThan(0);
  const truth = refs(sim.groundTruth({ type: 'aws-organization', resourceTypes: ['ec2'] } as never).entities);
  expect([...new Set([...refs(upTo), ...refs(again)])].sort()).toEqual(truth);
}, 600_000);
