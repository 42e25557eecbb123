// Reliability: a day of service compressed in time, and a control plane away for hours.
//   1. Soak: the real connector process takes a steady stream of quick jobs (some failing,
//      some cancelled) while its connection is cut every quarter of a simulated hour (TCP
//      reset, close 1001, or a control-plane restart in turn). RSS and open file descriptors
//      are read from /proc/<pid>; their slopes are reported per simulated hour; the fd count
//      ends at its baseline and RSS does not keep growing after warm-up.
//   2. Away: the control plane disappears for simulated hours while a large sync and quick
//      jobs are in hand. The sync waits at its window, results wait in the outbox, memory and
//      fds stay flat while the connector keeps redialing; on return everything arrives once.
// Protocol timings are compressed by the same factor as the hours (TEST_CONNECTOR_TIMING).
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { DEFAULT_TIMING } from '../../src/daemon/connection.js';
import type { Entity } from '../../src/protocol/messages.js';
import { report, size, slope } from './report.js';

const HOUR_MS = 3_600_000;
type Defer = (f: () => Promise<unknown>) => void;

/** Runs `fn`, then what it deferred, last first (the two tests run side by side, so no shared afterEach). */
async function scoped(fn: (defer: Defer) => Promise<void>): Promise<void> {
  const later: Array<() => Promise<unknown>> = [];
  try {
    await fn((f) => later.push(f));
  } finally {
    for (const f of later.reverse()) await f();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The protocol's timings divided by `k` (a simulated hour lasts HOUR_MS / k). */
function compressed(k: number): string {
  const t = DEFAULT_TIMING;
  const f = (ms: number) => Math.max(1, Math.round(ms / k));
  return JSON.stringify({ firstReconnectMaxMs: f(t.firstReconnectMaxMs), backoffBaseMs: f(t.backoffBaseMs), backoffCapMs: f(t.backoffCapMs), resetAfterMs: f(t.resetAfterMs) });
}

/** One Prometheus value from the connector's /metrics, on a connection that is closed after (no fd kept). */
function metric(healthUrl: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${healthUrl}/metrics`, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
        if (m) resolve(Number(m[1]));
        else reject(new Error(`${name} not in /metrics`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function connector(defer: Defer, cp: ReferenceControlPlane, k: number, env: Record<string, string> = {}): ConnectorProcess {
  const c = new ConnectorProcess({
    // info unless the test asks for more (the away test reads the debug 'reconnect scheduled' lines).
    LOG_LEVEL: 'info',
    ...connectorEnv(cp.url, env),
    TEST_CONNECTOR_TIMING: compressed(k),
    // docs/operations.md's container settings: a leak would meet the heap cap instead of hiding in a large heap.
    NODE_OPTIONS: '--max-old-space-size=160 --max-semi-space-size=4',
  });
  defer(() => c.stop());
  return c;
}

// The two run side by side: each watches only its own connector process, and most of
// their time is waiting.
describe('soak', () => {
  test.concurrent('a compressed day of jobs and reconnects: fds back to baseline, RSS flat after warm-up', () => scoped(async (defer) => {
    const hours = size(1, 24);
    const hourMs = size(6_000, 12_000);
    const k = HOUR_MS / hourMs;
    // Per simulated hour: a job every 30 s (120) and a cut connection every 15 minutes (4).
    const jobsPerHour = 120;
    const cutsPerHour = 4;
    const cp = await ReferenceControlPlane.start({ heartbeatSeconds: 120 });
    defer(() => cp.close());
    const c = connector(defer, cp, k);
    const pid = c.child.pid!;
    await cp.waitForSession(15_000);
    // Warm the code paths once (jobs of each outcome, a reconnect) before the baseline.
    for (const params of [{ ms: 10, batches: 2 }, { ms: 10, fail: true }]) await cp.waitForResult(cp.sendJob({ jobType: 'test.sleep', params }).jobId, 10_000);
    await sleep(500);
    const baseline = { fds: fdCount(pid), rss: rssBytes(pid) };

    const samples: Array<{ hour: number; rss: number; fds: number }> = [];
    const sent: string[] = [];
    let skipped = 0;
    let cuts = 0;
    const t0 = Date.now();
    const end = t0 + hours * hourMs;
    let nextJob = t0;
    let nextCut = t0 + hourMs / cutsPerHour / 2;
    let nextSample = t0;
    let n = 0;
    // Since when the due cut has been waiting for the connector to be back (0: not waiting).
    let cutWaitingSince = 0;
    // The planned cuts all happen even when the machine is slow: a control-plane restart
    // can take seconds on a loaded host and push the last cut past the end of the window,
    // and the count of cuts is a property of the scenario, not of the machine's speed.
    while (Date.now() < end || cuts < hours * cutsPerHour) {
      const now = Date.now();
      if (now >= nextSample) {
        samples.push({ hour: (now - t0) / hourMs, rss: rssBytes(pid), fds: fdCount(pid) });
        nextSample += hourMs / 8;
      }
      // A cut is made only on a live session. Every cut kills all sessions at once, so a live
      // one is the connector back from the previous cut. On a loaded host the redial can
      // outlast the 1.5 s between cuts; a cut then would find no session, record no death
      // and leave one gap fewer than cuts, a miss of the machine and not of the connector.
      // Waiting keeps "one reconnect per cut" exact, and a connector that does not come back
      // within 30 s fails here instead.
      if (now >= nextCut) {
        if (cp.sessions().length > 0) {
          const how = cuts % 3;
          if (how === 0) cp.dropSessions('terminate');
          else if (how === 1) cp.dropSessions('close', 1001);
          else await cp.restart();
          cuts++;
          nextCut += hourMs / cutsPerHour;
          cutWaitingSince = 0;
        } else {
          cutWaitingSince ||= now;
          if (now - cutWaitingSince > 30_000) throw new Error(`cut ${cuts + 1} of ${hours * cutsPerHour}: no session for 30 s, the connector did not come back after cut ${cuts}`);
        }
      }
      if (now >= nextJob) {
        nextJob += hourMs / jobsPerHour;
        n++;
        if (cp.sessions().length === 0) {
          skipped++; // the control plane holds its jobs while no connector is there
        } else {
          const params = n % 20 === 0 ? { ms: 20, fail: true } : n % 20 === 10 ? { ms: 1_000, undoMs: 20 } : { ms: n % 7 === 0 ? 400 : 20, batches: n % 3 };
          const { jobId } = cp.sendJob({ jobType: 'test.sleep', params });
          sent.push(jobId);
          if (n % 20 === 10) {
            setTimeout(() => {
              // A cut may have taken the session away meanwhile: then there is no one to cancel on.
              if (!cp.job(jobId)?.result && cp.sessions().length > 0) cp.cancelJob(jobId);
            }, 100);
          }
        }
      }
      // A cut waiting for the connector is looked at again every 10 ms, not every 1 ms:
      // a busy loop here would take CPU from the connector it waits for.
      const cutAt = cutWaitingSince ? Date.now() + 10 : nextCut;
      await sleep(Math.max(1, Math.min(nextJob, cutAt, nextSample) - Date.now()));
    }

    // Every job sent was answered once the dust settled.
    await cp.waitForSession(30_000);
    const answered = () => sent.every((id) => cp.job(id)!.result !== null || cp.job(id)!.rejected !== null);
    const settleEnd = Date.now() + 30_000;
    while (!answered() && Date.now() < settleEnd) await sleep(50);
    expect(sent.filter((id) => !cp.job(id)!.result && !cp.job(id)!.rejected)).toEqual([]);
    await sleep(500);
    const final = { fds: fdCount(pid), rss: rssBytes(pid) };
    const statuses: Record<string, number> = {};
    for (const id of sent) {
      const j = cp.job(id)!;
      const key = j.result?.status ?? `rejected:${j.rejected!.reason}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
    const afterWarmUp = samples.filter((s) => s.hour >= hours / 4);
    const rssSlope = slope(afterWarmUp.map((s) => [s.hour, s.rss] as const));
    const fdSlope = slope(afterWarmUp.map((s) => [s.hour, s.fds] as const));
    report('soak-compressed-day', {
      simulatedHours: hours,
      wallMs: Date.now() - t0,
      jobsSent: sent.length,
      jobsSkippedWhileDown: skipped,
      statuses,
      connectionCuts: cuts,
      reconnectGaps: cp.reconnectGaps.length,
      rssBytes: { baseline: baseline.rss, final: final.rss, max: Math.max(...samples.map((s) => s.rss)) },
      rssBytesPerSimHour: Math.round(rssSlope),
      fds: { baseline: baseline.fds, final: final.fds, max: Math.max(...samples.map((s) => s.fds)) },
      fdsPerSimHour: fdSlope,
      duplicateFrames: cp.duplicates(),
    });
    expect(cuts).toBe(hours * cutsPerHour);
    expect(cp.reconnectGaps.length).toBe(cuts);
    expect(statuses['succeeded']).toBeGreaterThan(sent.length / 2);
    expect(statuses['failed']).toBeGreaterThan(0);
    expect(statuses['cancelled']).toBeGreaterThan(0);
    expect(Math.abs(final.fds - baseline.fds)).toBeLessThanOrEqual(2);
    expect(Math.abs(fdSlope)).toBeLessThan(1);
    // Generous: 4 MB per simulated hour would be ~100 MB a day; the dedupe table's finished
    // jobs (kept 25 h by design) account for a few hundred kB an hour. The fast run's
    // 45 minutes after warm-up are too short to tell a heap step from a trend: 16 MB there.
    expect(rssSlope).toBeLessThan(size(16, 4) * 1024 * 1024);
    expect(cp.violations).toEqual([]);
  }), 1_200_000);

  test.concurrent('the control plane away for hours: the sync waits at its window, results wait in the outbox, all arrives on return', () => scoped(async (defer) => {
    const awayHours = size(1.5, 8);
    const hourMs = size(2_000, 15_000);
    const k = HOUR_MS / hourMs;
    const WINDOW = 16;
    const BATCHES = 200;
    const PER_BATCH = 500;
    const QUICK = 10;
    const cp = await ReferenceControlPlane.start({ heartbeatSeconds: 120, window: WINDOW, autoAck: false });
    defer(() => cp.close());
    // Room for the sync and every quick job at once (the default 4 + 4 queued would answer busy).
    // Debug: the connector logs each wait it draws before a redial ('reconnect scheduled').
    const c = connector(defer, cp, k, { MAX_CONCURRENT_JOBS: '16', LOG_LEVEL: 'debug' });
    const pid = c.child.pid!;
    const health = await c.healthUrl();
    await cp.waitForSession(15_000);

    // 100,000 entities: ~40 MB of frames if nothing held the sync back.
    const sync = cp.sendJob({ jobType: 'test.sleep', params: { batches: BATCHES, entitiesPerBatch: PER_BATCH } });
    // Quick jobs that finish while the control plane is away, spread over the absence.
    const quick = Array.from({ length: QUICK }, (_, i) => cp.sendJob({ jobType: 'test.sleep', params: { ms: Math.round(((i + 1) * awayHours * hourMs) / (QUICK + 2)) } }).jobId);
    await cp.waitFor(() => (cp.job(sync.jobId)?.batches.size ?? 0) >= WINDOW, 15_000);
    await sleep(300);
    expect(cp.job(sync.jobId)!.batches.size).toBe(WINDOW);

    await cp.stop();
    const awayAt = Date.now();
    const attempts = () => metric(health, 'access_connector_connection_attempts_total');
    const attempts0 = await attempts();
    const samples: Array<{ hour: number; rss: number; fds: number; outbox: number; attempts: number }> = [];
    while (Date.now() - awayAt < awayHours * hourMs) {
      samples.push({ hour: (Date.now() - awayAt) / hourMs, rss: rssBytes(pid), fds: fdCount(pid), outbox: await metric(health, 'access_connector_outbox_depth'), attempts: await attempts() });
      await sleep(hourMs / 10);
    }
    const dials = (await attempts()) - attempts0;
    const heldOutbox = await metric(health, 'access_connector_outbox_depth');
    const returnAt = Date.now();

    await cp.restart();
    cp.setAutoAck(true);
    const result = await cp.waitForResult(sync.jobId, 120_000);
    expect(result.status).toBe('succeeded');
    for (const id of quick) expect((await cp.waitForResult(id, 30_000)).status).toBe('succeeded');
    cp.ackAll();

    const batches = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === sync.jobId);
    expect(batches.map((f) => f.frame!['seq'])).toEqual([...Array(BATCHES).keys()]);
    const ids = new Set(batches.flatMap((f) => (f.frame!['entities'] as Entity[]).map((e) => e.id)));
    expect(ids.size).toBe(BATCHES * PER_BATCH);
    // Each quick job's result exactly once after dedupe.
    const results = cp.unique().filter((f) => f.frame?.['type'] === 'job.result' && quick.includes(String(f.frame['jobId'])));
    expect(results).toHaveLength(QUICK);

    const rss = samples.map((s) => s.rss);
    const fds = samples.map((s) => s.fds);
    const rssSlope = slope(samples.map((s) => [s.hour, s.rss] as const));
    report('control-plane-away', {
      simulatedHoursAway: awayHours,
      wallMsAway: awayHours * hourMs,
      dialsWhileAway: dials,
      window: WINDOW,
      syncBatchesHeld: WINDOW,
      outboxMax: Math.max(...samples.map((s) => s.outbox)),
      outboxAtReturn: heldOutbox,
      rssBytes: { min: Math.min(...rss), max: Math.max(...rss) },
      rssBytesPerSimHour: Math.round(rssSlope),
      fds: { min: Math.min(...fds), max: Math.max(...fds) },
      entitiesAfterReturn: ids.size,
      quickResults: results.length,
    });
    // Still redialing at the cap, proven without a dial rate (a count of dials in wall time
    // falls with the machine's speed): (1) the attempts counter rose in every sampling
    // interval of the absence (each interval is at least six caps long), so the connector
    // never stopped dialing; (2) every wait it drew after a failed dial, as it logged them,
    // was below the compressed 60 s cap, so the backoff never grew past it; (3) its failure
    // count went past the point where the backoff's ceiling is the cap, so it got there.
    const timing = JSON.parse(compressed(k)) as { backoffBaseMs: number; backoffCapMs: number };
    const rises = samples.slice(1).map((s, i) => s.attempts - samples[i]!.attempts);
    expect(rises.length).toBeGreaterThan(0);
    expect(rises.filter((d) => d <= 0)).toEqual([]);
    const waits = c.logs().filter((e) => e['msg'] === 'reconnect scheduled' && e['after'] === 'failed-dial' && Number(e['time']) >= awayAt && Number(e['time']) <= returnAt);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.filter((e) => Number(e['delayMs']) >= timing.backoffCapMs)).toEqual([]);
    // The wait logged with `failures` = f was drawn below min(cap, base × 2^(f − 2)).
    const maxFailures = Math.max(...waits.map((e) => Number(e['failures'])));
    expect(timing.backoffBaseMs * 2 ** (maxFailures - 2)).toBeGreaterThanOrEqual(timing.backoffCapMs);
    // The sync's window, the accepted frames and the quick jobs' results; nothing else piles up.
    expect(Math.max(...samples.map((s) => s.outbox))).toBeLessThanOrEqual(WINDOW + 2 * (QUICK + 2));
    expect(heldOutbox).toBeGreaterThanOrEqual(WINDOW + QUICK);
    expect(Math.max(...rss) - Math.min(...rss)).toBeLessThan(30 * 1024 * 1024);
    expect(Math.max(...fds) - Math.min(...fds)).toBeLessThanOrEqual(2);
    expect(cp.violations).toEqual([]);
  }), 1_200_000);
});
