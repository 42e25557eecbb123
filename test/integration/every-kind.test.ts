// Every access kind, granted and revoked through the reference control plane by a real
// connector process against the demo organization, with the params of docs/examples/. Each
// grant must change AWS (the examples name access nobody held before), its revoke must
// change it back, and a repeat of either must change nothing: the ledger is what makes
// them idempotent across jobs.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KINDS } from '../../src/access/registry.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { ReferenceControlPlane, type JobInput } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { REPO_ROOT } from '../helpers/paths.js';

const EXAMPLES = resolve(REPO_ROOT, 'docs/examples');
const json = (p: string) => JSON.parse(readFileSync(resolve(EXAMPLES, p), 'utf8')) as Record<string, unknown>;
/** AWS calls that change access, as the simulator counted them (every service but the ledger's and reads). */
const READ = /^(Get|List|Describe|Search|Lookup|Query|Scan|AssumeRole|GetCallerIdentity)/;

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 20 }, ssm: { commandDelayMs: 20 } });
  cp = await ReferenceControlPlane.start();
  connector = new ConnectorProcess({
    ...connectorEnv(cp.url, {
      LEDGER_TABLE: 'access-connector-ledger',
      CONNECTOR_POLICY_FILE: resolve(EXAMPLES, 'policies/permissive.yaml'),
      AWS_QUOTA_MULTIPLIER: '100',
    }),
    ...sim.env,
  });
  await cp.waitForSession();
});
afterAll(async () => {
  await connector.stop();
  await cp.close();
  await sim.close();
});

/** Commands ever run on instances, by the action they asked the document for. */
function instanceCommands(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const account of sim.world.accounts.values()) {
    for (const region of account.ssm.values()) {
      for (const inst of region.instances.values()) {
        for (const c of inst.commands) {
          const action = `ssm:SendCommand(${c.parameters['action']?.[0] ?? '?'})`;
          out[action] = (out[action] ?? 0) + 1;
        }
      }
    }
  }
  return out;
}

/**
 * The AWS calls since the last reset that can change access: every write but the ledger's.
 * An ssm:SendCommand counts by the action it ran: `describe` only reads the instance.
 */
function writes(before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, v] of Object.entries(sim.stats.snapshot().byOperation)) {
    const [service, name] = op.split(':') as [string, string];
    if (service !== 'dynamodb' && op !== 'ssm:SendCommand' && !READ.test(name)) out[op] = v.calls;
  }
  for (const [op, n] of Object.entries(instanceCommands())) if (op !== 'ssm:SendCommand(describe)' && n > (before[op] ?? 0)) out[op] = n - (before[op] ?? 0);
  return out;
}

async function run(jobType: 'grant' | 'revoke', kind: string) {
  const integration = json('integration-organization.json') as unknown as JobInput['integration'];
  const params = json(`params/${kind}.${jobType}.json`);
  sim.stats.reset();
  const before = instanceCommands();
  const { jobId } = cp.sendJob({ jobType, integration, params });
  const r = await cp.waitForResult(jobId, 60_000);
  return { r, writes: writes(before) };
}

describe.each(KINDS.map((k) => k.name))('%s through the reference control plane', (kind) => {
  test('grant changes AWS once; revoke undoes it once', async () => {
    const g = await run('grant', kind);
    expect({ status: g.r.status, error: g.r.error }).toEqual({ status: 'succeeded', error: undefined });
    expect(g.r.output).toMatchObject({ state: 'granted', preExisting: false });
    expect(Object.keys(g.writes).length).toBeGreaterThan(0);
    const again = await run('grant', kind);
    expect(again.r.output).toMatchObject({ state: 'granted' });
    expect(again.writes).toEqual({});

    const v = await run('revoke', kind);
    expect({ status: v.r.status, error: v.r.error }).toEqual({ status: 'succeeded', error: undefined });
    expect(v.r.output).toMatchObject({ state: 'revoked', preExisting: false });
    expect(Object.keys(v.writes).length).toBeGreaterThan(0);
    const twice = await run('revoke', kind);
    expect(twice.r.output).toMatchObject({ state: 'revoked', note: 'already revoked' });
    expect(twice.writes).toEqual({});
  });
});
