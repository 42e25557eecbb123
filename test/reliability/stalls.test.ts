// Reliability: network stalls that no close event announces.
//   - Silent control plane: the socket stays open but the control plane neither reads nor
//     writes (the reference control plane's goSilent: no pongs, no acks, nothing).
//   - Half-open TCP: a loopback relay between connector and control plane starts dropping
//     every byte in both directions and never sends FIN or RST to either side, as a NAT or
//     load balancer that lost the flow does.
// Both must be detected within 2 × heartbeat (5 s, the smallest legal heartbeat) and
// recovered from: a new connection, a welcome, the job that ran across the stall delivers
// its result, and a new job runs.
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { report, size } from './report.js';

const HEARTBEAT_S = 5;
/**
 * Timer and log-timestamp slack on a shared, busy machine (two connectors, jest and another
 * worker on two cores: a timer fires hundreds of milliseconds late there); the bound itself
 * is 2 × heartbeat. A connector that checked for silence at an interval instead of at the
 * deadline would be up to that interval late: with checks every heartbeat, up to 5 s.
 */
const SLACK_MS = 1_000;
// Quick redials so that recovery is measured, not the 0–10 s fleet jitter.
const TIMING = JSON.stringify({ firstReconnectMaxMs: 200, backoffBaseMs: 100, backoffCapMs: 400 });

/** A TCP relay that can turn every connection it carries into a black hole. */
class Relay {
  private readonly pipes: Array<{ client: Socket; upstream: Socket; dead: boolean }> = [];
  lastToClientAt = 0;

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number): Promise<Relay> {
    // allowHalfOpen: a FIN from one side is never answered on our own; in black-hole mode
    // nothing at all is sent to either side.
    const server = createServer({ allowHalfOpen: true });
    const relay = new Relay(server);
    server.on('connection', (client) => relay.carry(client, targetPort));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return relay;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private carry(client: Socket, targetPort: number): void {
    const upstream = connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    const pipe = { client, upstream, dead: false };
    this.pipes.push(pipe);
    const forward = (from: Socket, to: Socket, toClient: boolean) => {
      from.on('data', (d: Buffer) => {
        if (pipe.dead) return; // read and dropped: the sender's kernel still sees its bytes taken
        to.write(d);
        if (toClient) this.lastToClientAt = Date.now();
      });
      from.on('end', () => {
        if (!pipe.dead) to.end();
      });
      from.on('close', () => {
        if (!pipe.dead) to.destroy();
      });
      from.on('error', () => {
        /* 'close' follows */
      });
    };
    forward(client, upstream, false);
    forward(upstream, client, true);
  }

  /** Every connection open now goes silent both ways, FIN and RST included; new ones still work. */
  blackholeAll(): number {
    for (const p of this.pipes) p.dead = true;
    return this.pipes.filter((p) => !p.client.destroyed).length;
  }

  async close(): Promise<void> {
    for (const p of this.pipes) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

interface StallRun {
  cp: ReferenceControlPlane;
  c: ConnectorProcess;
  /** Starts the stall; returns when it started (ms since epoch). */
  stall: () => number;
  /** Lets the control plane side answer again, for stalls that need it. */
  afterDetection: () => Promise<void>;
}

/** The common script: a job spans the stall; detection, reconnection, its result, a new job. */
async function stallAndRecover(scenario: string, run: StallRun): Promise<void> {
  const { cp, c } = run;
  const first = await cp.waitForSession(15_000);
  await c.waitForEvent('connection.ready');
  const spanning = cp.sendJob({ jobType: 'test.sleep', params: { ms: size(3_000, 6_000), batches: 3 } });
  // The acceptance round trip is the last traffic before the stall, so the connector's
  // silence clock starts at about the stall itself.
  await cp.waitFor((f) => f.frame?.['type'] === 'job.accepted' && f.frame['jobId'] === spanning.jobId, 10_000);
  const stallAt = run.stall();
  const timeout = await c.waitForLog((e) => e['event'] === 'connection.heartbeat_timeout' && Number(e['time']) >= stallAt, 4 * HEARTBEAT_S * 1000);
  const detectedMs = Number(timeout['time']) - stallAt;
  await run.afterDetection();
  const second = await cp.waitForSession(20_000, (s) => s.sessionId !== first.sessionId);
  const recoveredMs = second.welcomedAt - stallAt;
  const spanned = await cp.waitForResult(spanning.jobId, 20_000);
  const after = cp.sendJob({ jobType: 'test.sleep', params: { ms: 50, batches: 2 } });
  const next = await cp.waitForResult(after.jobId, 10_000);
  report(scenario, {
    heartbeatSeconds: HEARTBEAT_S,
    detectedMs,
    connectorSilentForMs: timeout['silentForMs'],
    boundMs: 2 * HEARTBEAT_S * 1000,
    recoveredMs,
    spanningJob: spanned.status,
    jobAfter: next.status,
  });
  expect(detectedMs).toBeLessThanOrEqual(2 * HEARTBEAT_S * 1000 + SLACK_MS);
  // The connector's own measure: terminated once 2 × heartbeat of silence had passed, not a check interval later.
  expect(Number(timeout['silentForMs'])).toBeGreaterThanOrEqual(2 * HEARTBEAT_S * 1000);
  expect(Number(timeout['silentForMs'])).toBeLessThanOrEqual(2 * HEARTBEAT_S * 1000 + SLACK_MS);
  expect(spanned.status).toBe('succeeded');
  expect(next.status).toBe('succeeded');
  // Nothing was lost or repeated across the stall once deduped by message id.
  const batches = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === spanning.jobId);
  expect(batches.map((f) => f.frame!['seq'])).toEqual([0, 1, 2]);
  expect(cp.violations).toEqual([]);
}

describe('network stalls', () => {
  test.concurrent('a control plane that stops reading and writing without closing', async () => {
    const cp = await ReferenceControlPlane.start({ heartbeatSeconds: HEARTBEAT_S });
    const c = new ConnectorProcess({ ...connectorEnv(cp.url), TEST_CONNECTOR_TIMING: TIMING, LOG_LEVEL: 'info' });
    try {
      await stallAndRecover('stall-silent-control-plane', {
        cp,
        c,
        stall: () => {
          cp.goSilent(true);
          return Date.now();
        },
        // The silent control plane still accepts TCP: once the connector has dialed again
        // it comes back, and only the new connection can carry on (the old one is gone).
        afterDetection: async () => {
          const dials = cp.upgrades.length;
          await new Promise<void>((resolve, reject) => {
            const t = setInterval(() => {
              if (cp.upgrades.length > dials || c.child.exitCode !== null) {
                clearInterval(t);
                if (c.child.exitCode !== null) reject(new Error('connector exited'));
                else resolve();
              }
            }, 20);
          });
          cp.goSilent(false);
        },
      });
    } finally {
      await c.stop();
      await cp.close();
    }
  }, 60_000);

  test.concurrent('half-open TCP: a relay drops everything both ways and never sends FIN or RST', async () => {
    const cp = await ReferenceControlPlane.start({ heartbeatSeconds: HEARTBEAT_S });
    const relay = await Relay.start(cp.port);
    const c = new ConnectorProcess({ ...connectorEnv(`ws://127.0.0.1:${relay.port}/v1/connect`), TEST_CONNECTOR_TIMING: TIMING, LOG_LEVEL: 'info' });
    try {
      await stallAndRecover('stall-half-open-tcp', {
        cp,
        c,
        stall: () => {
          expect(relay.blackholeAll()).toBe(1);
          return Date.now();
        },
        afterDetection: async () => {},
      });
      // The control plane applies the same rule to its side of the dead flow.
      const end = Date.now() + 4 * HEARTBEAT_S * 1000;
      while (!cp.closes.some((x) => x.code === 4408 && x.by === 'server') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(cp.closes.filter((x) => x.code === 4408 && x.by === 'server')).toHaveLength(1);
    } finally {
      await c.stop();
      await relay.close();
      await cp.close();
    }
  }, 60_000);
});
