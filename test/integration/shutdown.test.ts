// SIGTERM / SIGINT drain (docs/protocol.md, "Shutdown"), measured on the real process.
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
async function setup(env: Record<string, string> = {}) {
  const cp = await ReferenceControlPlane.start();
  cleanup.push(() => cp.close());
  const c = new ConnectorProcess(connectorEnv(cp.url, env));
  cleanup.push(() => c.stop());
  await cp.waitForSession();
  return { cp, c };
}
async function accepted(cp: ReferenceControlPlane, jobId: string) {
  await cp.waitFor((f) => f.frame?.['type'] === 'job.accepted' && f.frame['jobId'] === jobId);
}

describe('shutdown', () => {
  test('SIGTERM with a running job: it finishes within the grace period, its result is flushed, exit 0 after a 1001 close', async () => {
    const { cp, c } = await setup({ SHUTDOWN_GRACE_SECONDS: '10' });
    const health = await c.healthUrl();
    const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { ms: 1500 } });
    await accepted(cp, jobId);
    const t0 = Date.now();
    c.signal('SIGTERM');
    await c.waitForEvent('daemon.drain');
    expect((await fetch(`${health}/readyz`)).status).toBe(503);
    // New work is refused while draining, and not stored: the same jobId may come back later.
    const late = cp.sendJob({ jobType: 'test.sleep' });
    const rej = await cp.waitFor((f) => f.frame?.['type'] === 'job.rejected' && f.frame['jobId'] === late.jobId);
    expect(rej.frame).toMatchObject({ reason: 'draining' });
    const exit = await c.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - t0).toBeLessThan(10_000);
    expect(cp.job(jobId)!.result).toMatchObject({ status: 'succeeded' });
    expect(cp.closes.at(-1)).toMatchObject({ code: 1001, by: 'connector' });
  });

  test('SIGTERM past the grace period: the job is cancelled and retryable, the process still exits 0', async () => {
    const { cp, c } = await setup({ SHUTDOWN_GRACE_SECONDS: '1' });
    const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { ms: 60_000, undoMs: 200 } });
    await accepted(cp, jobId);
    const t0 = Date.now();
    c.signal('SIGTERM');
    const exit = await c.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - t0).toBeGreaterThanOrEqual(1000);
    expect(exit.at - t0).toBeLessThan(1000 + 15_000);
    expect(cp.job(jobId)!.result).toMatchObject({ status: 'cancelled', output: { undone: true }, error: { code: 'JOB_CANCELLED', retryable: true } });
  });

  test('a second signal exits at once', async () => {
    const { cp, c } = await setup({ SHUTDOWN_GRACE_SECONDS: '60' });
    const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { ms: 60_000 } });
    await accepted(cp, jobId);
    c.signal('SIGTERM');
    await c.waitForEvent('daemon.drain');
    const t0 = Date.now();
    c.signal('SIGINT');
    const exit = await c.exited;
    // Wall time in this process: the connector logs the second signal (daemon.forced_exit)
    // but nothing after it (process.exit follows at once), so there is no pair of its own
    // lines to measure between. 10 s, not 1 s, so a loaded machine's delays in delivering
    // the signal and reporting the exit cannot fail it; still far below the 60 s grace and
    // the 60 s job that a drain would wait for.
    expect(exit.at - t0).toBeLessThan(10_000);
    expect(exit.code).toBe(130);
    expect(c.logs().some((e) => e['event'] === 'daemon.forced_exit')).toBe(true);
  });

  test('SIGTERM with nothing running exits 0 promptly', async () => {
    const { c } = await setup();
    c.signal('SIGTERM');
    const exit = await c.exited;
    expect(exit.code).toBe(0);
    // Measured by the connector's own clock, from its line taking the signal (daemon.drain)
    // to its last line before process.exit (daemon.exit): a loaded machine's delays in
    // delivering the signal or in this process noticing the exit are not the connector's.
    const drain = await c.waitForEvent('daemon.drain');
    const stopped = await c.waitForEvent('daemon.exit');
    expect(drain['reason']).toBe('SIGTERM');
    expect(Number(stopped['time']) - Number(drain['time'])).toBeLessThan(3000);
  });
});
