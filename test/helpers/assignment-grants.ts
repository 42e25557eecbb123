// Grants of ReadOnly to the demo world's first users in one member account, through the
// real runner against a simulator of the test's own: the batches the status-read tests
// (test/access/assignment-probe*.test.ts) start together.
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant } from '../../src/access/run-access.js';
import type { AwsRuntime } from '../../src/aws/runtime.js';
import type { Logger } from '../../src/log.js';
import { integrationSchema } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from './aws.js';
import { testAccessDeps } from './access-deps.js';

/** A member account of the demo world where ReadOnly is provisioned and none of its first eight users holds it. */
export const MEMBER = '333333333301';

/**
 * A simulator of its own for each test (operations `assignmentDelayMs` long): nothing one
 * test left running reaches the next. Registers the jest hooks; call at the top of a file.
 */
export function useAssignmentSimulator(assignmentDelayMs: number): { sim(): AwsSimulator; runtimes: AwsRuntime[] } {
  let sim: AwsSimulator | undefined;
  let undo: (() => void) | undefined;
  const runtimes: AwsRuntime[] = [];
  beforeEach(async () => {
    sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs } });
    undo = useAwsEnv(sim.env);
  });
  afterEach(async () => {
    for (const r of runtimes.splice(0)) r.destroy();
    undo?.();
    await sim?.close();
  });
  return { sim: () => sim!, runtimes };
}

/** `count` grants of ReadOnly in `account`, one per user; run(i) starts the i-th (an error is returned, not thrown). */
export function readOnlyGrants(sim: AwsSimulator, runtimes: AwsRuntime[], log: Logger, account = MEMBER, count = 8) {
  const deps = testAccessDeps({ runtimes, log, now: Date.now, config: { ssoMaxOutstandingAssignments: 10 } });
  const integration = integrationSchema.parse(demoIntegration());
  const sso = sim.world.sso!;
  const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
  const reqs = [...sso.users.values()].slice(0, count).map((u, i) =>
    accessParamsSchema.parse({ grantId: `g-batch-${account}-${i}`, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: u.UserId, userName: u.UserName }, target: { accountId: account, permissionSetArn: ps } }),
  );
  const run = (i: number): Promise<unknown> =>
    runGrant(deps, { jobId: `job-${reqs[i]!.grantId}`, integration, request: reqs[i]!, signal: new AbortController().signal, log }).then((g) => g, (err: unknown) => err);
  const held = () => reqs.map((r) => sim.admin.hasAssignment({ accountId: account, permissionSetArn: ps, principalType: 'USER', principalId: r.principal.id }));
  return { size: reqs.length, run, held };
}
