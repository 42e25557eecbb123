import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { dial, FakeConnector, hello } from './client.js';

const CLI = path.resolve(process.cwd(), 'dist/test/sim/control-plane/cli.js');

/** Starts the CLI and returns it with an async iterator over its stdout lines. */
function startCli(args: string[]): { proc: ChildProcessWithoutNullStreams; lines: AsyncIterator<string> } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe' });
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  return { proc, lines };
}

const exitCode = (proc: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

describe('reference control plane CLI', () => {
  it('sends --job files to the first welcomed session, prints NDJSON, and exits 0 after the results', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cp-cli-'));
    const jobFile = path.join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify({ jobType: 'sync', params: { mode: 'full' } }));
    const { proc, lines } = startCli(['--port', '0', '--token', 'demo-token', '--job', jobFile, '--quiet-batches', '--exit-after-results']);
    const exited = exitCode(proc);
    const url = (await lines.next()).value as string;
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/connect$/);

    const r = await dial(url, { token: 'demo-token', connectorId: 'conn-cli' });
    if (!r.upgraded) throw new Error(`upgrade answered ${r.status}`);
    const c = new FakeConnector(r.ws, 'conn-cli');
    c.send(hello('conn-cli'));
    const job = await c.next((f) => f['type'] === 'job');
    const jobId = job['jobId'] as string;
    c.send({ type: 'job.accepted', jobId });
    c.send({ type: 'sync.batch', jobId, seq: 0, entities: [{ kind: 'aws.account', id: 'a', name: 'a', attributes: {} }] });
    c.send({ type: 'job.result', jobId, status: 'succeeded', stats: {} });

    const out: Record<string, unknown>[] = [];
    for (let l = await lines.next(); !l.done; l = await lines.next()) out.push(JSON.parse(l.value) as Record<string, unknown>);
    expect(await exited).toBe(0);
    const inbound = out.filter((o) => o['direction'] === 'in').map((o) => o['type']);
    expect(inbound).toEqual(['hello', 'job.accepted', 'sync.batch', 'job.result']);
    const batch = out.find((o) => o['type'] === 'sync.batch')!;
    expect(batch).toMatchObject({ jobId, seq: 0, entities: 1 });
    expect(batch['frame']).toBeUndefined();
    expect(out.find((o) => o['direction'] === 'out' && o['type'] === 'job')).toMatchObject({ jobId });
    expect(out.at(-1)).toEqual({
      summary: expect.objectContaining({ jobs: 1, succeeded: 1, unfinished: 0, violations: 0 }),
    });
  });

  it('exits 0 on SIGTERM with a summary line', async () => {
    const { proc, lines } = startCli(['--port', '0']);
    const exited = exitCode(proc);
    const url = (await lines.next()).value as string;
    expect(url).toMatch(/^ws:\/\//);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    const last = (await lines.next()).value as string;
    expect(JSON.parse(last)).toEqual({ summary: expect.objectContaining({ jobs: 0 }) });
  });
});
