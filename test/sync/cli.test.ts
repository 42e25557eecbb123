// `access-connector sync` writes the same entities as the job, without a control plane.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import { MAIN_JS } from '../helpers/paths.js';

let sim: AwsSimulator;
beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
});
afterAll(() => sim.close());

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN_JS, 'sync', ...args], { env: { PATH: process.env['PATH'] ?? '', ...sim.env, AWS_QUOTA_MULTIPLIER: '50' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('sync --integration --out writes NDJSON equal to the ground truth and prints a summary', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-sync-cli-'));
  const integ = join(dir, 'integration.json');
  writeFileSync(integ, JSON.stringify({ id: 'int-cli', name: 'demo', type: 'aws-organization', region: 'us-east-1', roleArn: `arn:aws:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/AccessConnectorManagement`, externalId: DEMO_EXTERNAL_ID, resourceTypes: [] }));
  const out = join(dir, 'entities.ndjson');
  const r = await run(['--integration', integ, '--out', out]);
  expect(r.code).toBe(0);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; id: string });
  expect(canonicalRefs(lines.map((e) => ({ kind: e.kind as never, id: e.id })))).toEqual(canonicalRefs(sim.groundTruth({ type: 'aws-organization', resourceTypes: [] } as never).entities));
  expect(r.stderr).toMatch(/^sync succeeded: \d+ entities in [\d.]+ s, \d+ AWS calls \(0 throttled\)/m);
  expect(r.stderr).toMatch(/aws\.account\s+\d+/);
  expect(r.stderr).toMatch(/coverage: 1 units, 0 failed/);
});

test('bad usage exits 64', async () => {
  expect((await run([])).code).toBe(64);
  expect((await run(['--integration', '/nonexistent.json'])).code).toBe(64);
});
