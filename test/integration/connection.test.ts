// docs/protocol.md, "Connection", against the real connector process and the reference control plane.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { until } from '../helpers/wait.js';

const FAST = JSON.stringify({ firstReconnectMaxMs: 200, backoffBaseMs: 100, backoffCapMs: 400, authRetryMs: 1500 });
const dir = mkdtempSync(join(tmpdir(), 'ac-conn-'));
const running: ConnectorProcess[] = [];
const planes: ReferenceControlPlane[] = [];

async function plane(opts: Parameters<typeof ReferenceControlPlane.start>[0] = {}) {
  const cp = await ReferenceControlPlane.start(opts);
  planes.push(cp);
  return cp;
}
function connector(env: Record<string, string>) {
  const p = new ConnectorProcess({ TEST_CONNECTOR_TIMING: FAST, ...env });
  running.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  await Promise.all(planes.splice(0).map((c) => c.close()));
});

describe('connection', () => {
  test('upgrade headers, hello, welcome, readiness and metrics', async () => {
    const cp = await plane();
    const c = connector(connectorEnv(cp.url));
    const health = await c.healthUrl();
    const session = await cp.waitForSession();
    const up = cp.upgrades[0]!;
    expect(up.headers['authorization']).toBe('Bearer test-token');
    expect(up.headers['x-connector-id']).toBe('conn-it');
    expect(up.headers['sec-websocket-protocol']).toBe('access-connector.v1');
    expect(up.headers['user-agent']).toMatch(/^access-connector\/\d+\.\d+\.\d+/);
    expect(session.hello).toMatchObject({ connectorId: 'conn-it', protocol: 1, maxConcurrentJobs: 4, running: [] });
    expect(session.hello.capabilities.jobTypes).toContain('test.sleep');
    await c.waitForEvent('connection.ready');
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${health}/metrics`)).text();
    expect(metrics).toMatch(/access_connector_connection_state\{state="ready"\} 1/);
    expect(metrics).toMatch(/access_connector_frames_total\{direction="out",type="hello"\} 1/);
    expect(cp.violations).toEqual([]);
  });

  test('a control-plane restart: reconnect, outbox resent in order, nothing lost or duplicated after dedupe', async () => {
    const cp = await plane({ window: 64 });
    const c = connector(connectorEnv(cp.url));
    await cp.waitForSession();
    cp.setAutoAck(false);
    const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { batches: 20, entitiesPerBatch: 5, ms: 0 } });
    await cp.waitFor((f) => f.frame?.['type'] === 'job.result' && f.frame['jobId'] === jobId);
    const firstSession = cp.sessions()[0]!.sessionId;
    await cp.restart();
    const second = await cp.waitForSession(10_000, (s) => s.sessionId !== firstSession);
    // Everything unacked comes again on the new session, in the original order.
    await cp.waitFor((f) => f.sessionId === second.sessionId && f.frame?.['type'] === 'job.result', 10_000);
    const resent = cp.received.filter((f) => f.sessionId === second.sessionId && f.frame && f.frame['type'] !== 'hello');
    const firstRun = cp.received.filter((f) => f.sessionId === firstSession && f.frame && f.frame['type'] !== 'hello');
    expect(resent.map((f) => f.frame!['id'])).toEqual(firstRun.map((f) => f.frame!['id']).filter((id) => resent.some((r) => r.frame!['id'] === id)));
    expect(resent.map((f) => f.frame!['type'])).toEqual(['job.accepted', ...Array(20).fill('sync.batch'), 'job.result']);
    cp.ackAll();
    const batches = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch');
    expect(batches.map((f) => f.frame!['seq'])).toEqual([...Array(20).keys()]);
    const ids = batches.flatMap((f) => (f.frame!['entities'] as Array<{ id: string }>).map((e) => e.id));
    expect(new Set(ids).size).toBe(100);
    expect(c.logs().filter((e) => e['event'] === 'connection.ready')).toHaveLength(2);
    expect(cp.violations).toEqual([]);
  });

  test('token rotation through the token file', async () => {
    const tokenFile = join(dir, 'token-rotate');
    writeFileSync(tokenFile, 'token-one\n');
    const cp = await plane({ tokens: ['token-one'] });
    const c = connector(connectorEnv(cp.url, { CONNECTOR_TOKEN: '', CONNECTOR_TOKEN_FILE: tokenFile }));
    await cp.waitForSession();
    writeFileSync(tokenFile, 'token-two\n');
    cp.setTokens(['token-two']);
    cp.dropSessions('close', 1001);
    await c.waitForLog((e) => e['msg'] === 'reconnected to control plane', 10_000);
    const last = cp.upgrades.at(-1)!;
    expect(last.headers['authorization']).toBe('Bearer token-two');
    expect(last.status).toBe(101);
    expect(c.output()).not.toMatch(/token-one|token-two/);
  });

  test('401: one clear log line, retries only at the auth interval, recovery once the token is fixed', async () => {
    const tokenFile = join(dir, 'token-401');
    writeFileSync(tokenFile, 'wrong-token');
    const cp = await plane({ tokens: ['right-token'] });
    const c = connector(connectorEnv(cp.url, { CONNECTOR_TOKEN: '', CONNECTOR_TOKEN_FILE: tokenFile }));
    const health = await c.healthUrl();
    await c.waitForEvent('connection.auth_rejected');
    // authRetryMs is 1.5 s in this test (5 min in production). Counting attempts within a
    // fixed sleep mixes the connector's pace with the machine's; the gaps between the
    // refused upgrades, as the control plane saw them arrive, are the retry interval itself.
    // Three attempts give two gaps, each at least the interval (1.4 s: the retry's timer
    // starts only once the 401 is read, so 1.5 s would hold; 100 ms is slack): no retry came
    // sooner, however fast or slow the machine. This is stricter than the count was.
    await until(() => cp.upgrades.length >= 3, 20_000, 'three upgrade attempts');
    const refused = [...cp.upgrades];
    expect(refused.every((u) => u.status === 401)).toBe(true);
    const gaps = refused.slice(1).map((u, i) => u.at - refused[i]!.at);
    expect(gaps.filter((g) => g < 1400)).toEqual([]);
    expect(c.logs().filter((e) => e['event'] === 'connection.auth_rejected')).toHaveLength(1);
    expect(c.logs().find((e) => e['event'] === 'connection.auth_rejected')!['msg']).toMatch(/^control plane rejected the token/);
    const ready = await fetch(`${health}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ reason: 'control plane rejected the token' });
    writeFileSync(tokenFile, 'right-token');
    await cp.waitForSession(5000);
    await c.waitForEvent('connection.ready');
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    expect(c.output()).not.toMatch(/wrong-token|right-token/);
  });

  test('a rejected token: the log names the HTTP status and when the next attempt is; SIGHUP after replacing the token connects at once', async () => {
    const tokenFile = join(dir, 'token-sighup');
    writeFileSync(tokenFile, 'wrong-token');
    const cp = await plane({ tokens: ['right-token'] });
    // The next attempt is 10 minutes away: only SIGHUP can bring the connector up within the test.
    const slow = JSON.stringify({ ...JSON.parse(FAST) as object, authRetryMs: 600_000 });
    const c = connector({ ...connectorEnv(cp.url, { CONNECTOR_TOKEN: '', CONNECTOR_TOKEN_FILE: tokenFile }), TEST_CONNECTOR_TIMING: slow });
    const before = Date.now();
    const line = await c.waitForEvent('connection.auth_rejected');
    expect(line['msg']).toMatch(/^control plane rejected the token: it answered the upgrade with HTTP 401; next attempt at \d{4}-\d\d-\d\dT[\d:.]+Z \(in 600 s\)/);
    expect(line['msg']).toContain('send SIGHUP');
    expect(Date.parse(String(line['nextAttemptAt'])) - before).toBeGreaterThanOrEqual(590_000);
    writeFileSync(tokenFile, 'right-token');
    c.signal('SIGHUP');
    expect(await c.waitForEvent('connection.retry_now')).toMatchObject({ outcome: 'dialing' });
    await c.waitForEvent('connection.ready', 5000);
    expect(cp.upgrades.map((u) => u.status)).toEqual([401, 101]);
    // On a live session SIGHUP keeps it.
    c.signal('SIGHUP');
    expect(await c.waitForLog((e) => e['event'] === 'connection.retry_now' && e['outcome'] === 'connected')).toBeDefined();
    expect(cp.upgrades).toHaveLength(2);
    expect(c.output()).not.toMatch(/wrong-token|right-token/);
  });

  test('reconnects_total counts reconnections; connection_attempts_total counts every dial', async () => {
    const cp = await plane();
    const c = connector(connectorEnv(cp.url));
    const health = await c.healthUrl();
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${health}/metrics`)).text())?.[1]);
    await c.waitForEvent('connection.ready');
    expect({ reconnects: await metric('access_connector_reconnects_total'), attempts: await metric('access_connector_connection_attempts_total') }).toEqual({ reconnects: 0, attempts: 1 });
    // Three failed dials (401), then a session again: one reconnection, five dials.
    cp.setRejectUpgradeStatus(401);
    cp.dropSessions('close', 1001);
    for (let i = 0; cp.upgrades.filter((u) => u.status === 401).length < 3; i++) {
      if (i > 400) throw new Error('fewer than 3 refused dials within 40 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    cp.setRejectUpgradeStatus(null);
    await c.waitForLog((e) => e['msg'] === 'reconnected to control plane', 20_000);
    const attempts = await metric('access_connector_connection_attempts_total');
    expect(await metric('access_connector_reconnects_total')).toBe(1);
    expect(attempts).toBe(cp.upgrades.length);
    expect(attempts).toBeGreaterThanOrEqual(5);
  });

  test('start-up says whether the grant ledger, the expiry sweeper and a policy file are on; without a ledger it warns', async () => {
    const cp = await plane();
    const bare = connector(connectorEnv(cp.url));
    const start = await bare.waitForEvent('daemon.start');
    expect(start).toMatchObject({ ledger: null, sweeper: false, policyFile: null });
    expect(start['msg']).toMatch(/starting: no grant ledger, no expiry sweeper, no policy file$/);
    expect((await bare.waitForEvent('daemon.no_ledger'))['msg']).toMatch(/LEDGER_UNAVAILABLE: LEDGER_TABLE is not set.*AccessMode=manage/);

    const policy = join(dir, 'policy-start.json');
    writeFileSync(policy, JSON.stringify({ version: 1 }));
    // Loopback only: the ledger and the sweeper point at a closed local port.
    const full = connector({
      ...connectorEnv(cp.url, { CONNECTOR_ID: 'conn-it-2', LEDGER_TABLE: 'startup-ledger', CONNECTOR_POLICY_FILE: policy }),
      AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example',
    });
    const started = await full.waitForEvent('daemon.start');
    expect(started).toMatchObject({ ledger: 'startup-ledger', sweeper: true, policyFile: policy });
    expect(started['msg']).toMatch(/starting: grant ledger startup-ledger, expiry sweeper every 60 s, policy file /);
    await full.waitForEvent('connection.ready');
    expect(full.logs().some((e) => e['event'] === 'daemon.no_ledger')).toBe(false);
  });

  test('close code 4401 is treated as a rejected token', async () => {
    const cp = await plane();
    const c = connector(connectorEnv(cp.url));
    await cp.waitForSession();
    cp.setTokens(['another']);
    cp.dropSessions('close', 4401);
    const line = await c.waitForEvent('connection.auth_rejected');
    expect(line['msg']).toMatch(/4401/);
  });

  test('a redirect on upgrade is not followed', async () => {
    const target = await plane();
    const cp = await plane({ redirectTo: target.url });
    const c = connector(connectorEnv(cp.url));
    const line = await c.waitForEvent('connection.failed');
    expect(line['code']).toBe('CONTROL_PLANE_REDIRECT');
    await new Promise((r) => setTimeout(r, 500));
    expect(target.upgrades).toHaveLength(0);
    expect(cp.upgrades.length).toBeGreaterThanOrEqual(1);
  });

  test('a silent control plane is detected within 2 × heartbeat and the connection replaced', async () => {
    const cp = await plane({ heartbeatSeconds: 5 });
    const c = connector(connectorEnv(cp.url));
    const first = await cp.waitForSession();
    // The last byte the connector gets is the welcome, logged just before 'ready' (the
    // connector's first ping goes out 5 s later, when the control plane already reads
    // nothing), so the silence is counted from the connector's own 'ready' line: however
    // late this process reads that line, the window is the connector's.
    const ready = await c.waitForEvent('connection.ready');
    cp.goSilent(true);
    const timeout = await c.waitForEvent('connection.heartbeat_timeout', 15_000);
    const detectedAfter = Number(timeout['time']) - Number(ready['time']);
    expect(detectedAfter).toBeGreaterThanOrEqual(9_900);
    expect(detectedAfter).toBeLessThanOrEqual(11_500);
    cp.goSilent(false);
    await cp.waitForSession(10_000, (s) => s.sessionId !== first.sessionId);
  }, 30_000);

  test('the first reconnect after a connection that was up waits within the jitter window', async () => {
    const cp = await plane();
    const c = connector(connectorEnv(cp.url));
    await cp.waitForSession();
    cp.dropSessions('terminate');
    const sched = await c.waitForLog((e) => e['msg'] === 'reconnect scheduled');
    expect(Number(sched['delayMs'])).toBeGreaterThanOrEqual(0);
    expect(Number(sched['delayMs'])).toBeLessThan(200); // firstReconnectMaxMs in this test
    await c.waitForLog((e) => e['msg'] === 'reconnected to control plane');
  });

  test('backoff grows while the control plane is down and resets after a connection stays up', async () => {
    const cp = await plane();
    const timing = JSON.stringify({ firstReconnectMaxMs: 100, backoffBaseMs: 50, backoffCapMs: 400, resetAfterMs: 1500 });
    const c = new ConnectorProcess({ ...connectorEnv(cp.url), TEST_CONNECTOR_TIMING: timing });
    running.push(c);
    await cp.waitForSession();
    await cp.stop();
    await new Promise((r) => setTimeout(r, 2500));
    const delays = c.logs().filter((e) => e['msg'] === 'reconnect scheduled').map((e) => ({ d: Number(e['delayMs']), n: Number(e['failures']) }));
    expect(delays.length).toBeGreaterThanOrEqual(5);
    // Failure n waits at most min(cap, base · 2^(n-2)) (the first one is the 0–100 ms jitter).
    for (const { d, n } of delays.slice(1)) expect(d).toBeLessThan(Math.min(400, 50 * 2 ** Math.max(0, n - 2)) + 1);
    expect(Math.max(...delays.map((x) => x.n))).toBeGreaterThanOrEqual(5);
    await cp.restart();
    await c.waitForLog((e) => e['msg'] === 'reconnected to control plane', 5000);
    await new Promise((r) => setTimeout(r, 1700)); // up for longer than resetAfterMs
    const droppedAt = Date.now();
    cp.dropSessions('terminate');
    const next = await c.waitForLog((e) => e['msg'] === 'reconnect scheduled' && Number(e['time']) >= droppedAt);
    expect(next['failures']).toBe(1); // the counter was reset: back to the first jittered wait
    expect(Number(next['delayMs'])).toBeLessThan(100);
  });

  // Regression: a peer that upgraded but never sent welcome held the connector in `open` forever.
  test('no welcome within the handshake timeout: the connection is dropped and retried', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'access-connector.v1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    let connections = 0;
    wss.on('connection', () => connections++);
    const port = (wss.address() as { port: number }).port;
    const c = new ConnectorProcess({ ...connectorEnv(`ws://127.0.0.1:${port}/v1/connect`), TEST_CONNECTOR_TIMING: JSON.stringify({ handshakeTimeoutMs: 800, firstReconnectMaxMs: 100, backoffBaseMs: 100, backoffCapMs: 200 }) });
    running.push(c);
    try {
      const line = await c.waitForLog((e) => e['code'] === 'PROTOCOL_ERROR' && String(e['msg']).startsWith('no welcome'), 5000);
      expect(line['event']).toBe('connection.failed');
      // It dials again: waited for (up to 10 s) rather than expected within a fixed 1.5 s.
      await until(() => connections >= 2, 10_000, 'a second connection after the dropped one');
    } finally {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});
