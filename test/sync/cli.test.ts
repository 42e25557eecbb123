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

// On a terminal (a pseudo-terminal from python3, a prerequisite of the project).
function runInPty(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', process.execPath, MAIN_JS, 'sync', ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', ...sim.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('progress on a terminal never goes backwards; an account whose member role fails is named once, with its units', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-sync-cli-'));
  const integ = join(dir, 'integration.json');
  writeFileSync(integ, JSON.stringify({ id: 'int-cli', name: 'demo', type: 'aws-organization', region: 'us-east-1', roleArn: `arn:aws:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/AccessConnectorManagement`, externalId: DEMO_EXTERNAL_ID, resourceTypes: ['iam', 'ec2'], regions: ['us-east-1', 'eu-west-1'] }));
  const denied = '333333333302';
  sim.faults.denyAccount(denied);
  sim.faults.setLatency(15); // slow enough for the 100 ms redraws to show the way
  try {
    const r = await runInPty(['--integration', integ, '--out', join(dir, 'entities.ndjson')], { AWS_QUOTA_MULTIPLIER: '50' });
    expect(r.code).toBe(0);
    const frames = r.out.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => /entities read$/.test(l));
    expect(frames.length).toBeGreaterThan(3);
    const figures = frames.map((l) => {
      const m = /^(?:discovering: (\d+) units found, (\d+) done|units (\d+)\/(\d+) \[[# ]{25}\] (\d+)%), (\d+) entities read$/.exec(l);
      expect(m).not.toBeNull();
      return m![1] !== undefined
        ? { discovering: true, found: Number(m![1]), done: Number(m![2]), entities: Number(m![6]) }
        : { discovering: false, done: Number(m![3]), found: Number(m![4]), pct: Number(m![5]), entities: Number(m![6]) };
    });
    for (let i = 1; i < figures.length; i++) {
      const [a, b] = [figures[i - 1]!, figures[i]!];
      expect(b.done).toBeGreaterThanOrEqual(a.done);
      expect(b.found).toBeGreaterThanOrEqual(a.found);
      expect(b.entities).toBeGreaterThanOrEqual(a.entities);
      if (!a.discovering) expect({ discovering: b.discovering, found: b.found, pct: b.pct! >= a.pct! }).toEqual({ discovering: false, found: a.found, pct: true });
    }
    const final = figures.at(-1)!;
    expect(final).toMatchObject({ discovering: false, pct: 100 });
    expect(final.done).toBe(final.found);
    // Entities count as they are read, not 500 at a time as batches are sent.
    expect(figures.some((f) => f.entities % 500 !== 0 && f.entities !== final.entities)).toBe(true);

    // The denied account: one warning for all its units, and one summary line naming them.
    const warnings = r.out.split(/[\r\n]+/).filter((l) => l.includes('"event":"sync.unit_failed"') && l.includes(denied));
    expect(warnings).toHaveLength(1);
    const summary = r.out.split(/[\r\n]+/).filter((l) => l.startsWith(`  ${denied} (`));
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatch(new RegExp(`^  ${denied} \\(3 units: .*\\): ASSUME_ROLE_DENIED: sts:AssumeRole into the member role .*This hop uses no ExternalId`));
  } finally {
    sim.faults.allowAccount(denied);
    sim.faults.setLatency(0);
  }
}, 120_000);
