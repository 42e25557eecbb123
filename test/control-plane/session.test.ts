import { welcomeFrame } from '../../src/protocol/messages.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { testPki } from '../helpers/certs.js';
import { FakeConnector, hello, sleep } from './client.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('reference control plane: sessions', () => {
  let cp: ReferenceControlPlane;
  afterEach(() => cp.close());

  it('answers hello with a schema-valid welcome carrying the configured heartbeat and window', async () => {
    cp = await ReferenceControlPlane.start({ heartbeatSeconds: 7, window: 3 });
    const c = await FakeConnector.connect(cp, 'conn-a');
    c.send(hello('conn-a'));
    const welcome = welcomeFrame.parse(await c.next((f) => f['type'] === 'welcome'));
    expect(welcome.sessionId).toMatch(UUID);
    expect(welcome.heartbeatSeconds).toBe(7);
    expect(welcome.window).toBe(3);
    const session = await cp.waitForSession();
    expect(session).toMatchObject({ sessionId: welcome.sessionId, connectorId: 'conn-a' });
    expect(session.hello.connectorId).toBe('conn-a');
    expect(cp.violations).toEqual([]);
    c.close();
  });

  it('refuses a heartbeat outside the protocol range 5–120', async () => {
    await expect(ReferenceControlPlane.start({ heartbeatSeconds: 2 })).rejects.toThrow(/5 to 120/);
    cp = await ReferenceControlPlane.start();
  });

  it('closes with 4400 and records a violation when the first frame is not hello', async () => {
    cp = await ReferenceControlPlane.start();
    const c = await FakeConnector.connect(cp);
    const id = c.send({ type: 'job.accepted', jobId: 'j-1' });
    expect(await c.waitClose()).toBe(4400);
    expect(c.frames).toContainEqual(expect.objectContaining({ type: 'error', refId: id }));
    expect(cp.violations).toEqual([expect.stringMatching(/first frame is job.accepted, not hello/)]);
    expect(cp.sessions()).toEqual([]);
  });

  it('goSilent stops answering pings and processing frames; resuming processes what was held', async () => {
    cp = await ReferenceControlPlane.start();
    const c = await FakeConnector.welcomed(cp);
    const pong = (waitMs: number) => new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), waitMs);
      c.ws.once('pong', () => { clearTimeout(t); resolve(true); });
      c.ws.ping();
    });
    // The pong that must come is given 5 s: a loaded machine delays it, and 300 ms failed the
    // check there. Where no pong is the expected answer the short wait stays: a silent
    // server never answers, so waiting longer there would only lengthen every run.
    expect(await pong(5000)).toBe(true);
    cp.goSilent(true);
    const before = cp.received.length;
    expect(await pong(300)).toBe(false);
    c.send({ type: 'job.progress', jobId: 'j-x', phase: 'p', done: 1 });
    await sleep(100);
    expect(cp.received.length).toBe(before);
    cp.goSilent(false);
    await cp.waitFor((f) => f.frame?.['type'] === 'job.progress', 1000);
    c.close();
  });

  it('applies the dead-socket rule: a silent connector is closed with 4408, a pinging one is kept', async () => {
    // Dead after 3 s of silence, pings every 100 ms: a stall of the machine shorter than
    // about 2.9 s cannot make the pinging one look dead.
    cp = await ReferenceControlPlane.start({ heartbeatSeconds: 5, deadAfterMs: 3_000 });
    const quiet = await FakeConnector.welcomed(cp, 'conn-quiet');
    const pinging = await FakeConnector.welcomed(cp, 'conn-pinging');
    const pinger = setInterval(() => pinging.ws.ping(), 100);
    try {
      expect(await quiet.waitClose(10_000)).toBe(4408);
      await sleep(3_000);
      expect(pinging.closeCode).toBeNull();
      expect(cp.sessions().map((s) => s.connectorId)).toEqual(['conn-pinging']);
      expect(cp.closes).toContainEqual(expect.objectContaining({ connectorId: 'conn-quiet', code: 4408, by: 'server' }));
    } finally {
      clearInterval(pinger);
      pinging.close();
    }
  });

  it('dropSessions closes with the given code, or resets the TCP connection without a close frame', async () => {
    cp = await ReferenceControlPlane.start();
    const a = await FakeConnector.welcomed(cp);
    cp.dropSessions('close', 4401);
    expect(await a.waitClose()).toBe(4401);
    const b = await FakeConnector.welcomed(cp);
    cp.dropSessions('terminate');
    expect(await b.waitClose()).toBe(1006);
    expect(cp.sessions()).toEqual([]);
  });

  it('serves wss:// with the configured certificate and records whether a client certificate was presented', async () => {
    // Keys are made at test time (test/helpers/certs.ts); none is committed.
    const pki = testPki();
    const { certPem, keyPem } = pki.server;
    cp = await ReferenceControlPlane.start({ tls: { certPem, keyPem, caPem: pki.caCertPem, requestClientCert: true } });
    expect(cp.url).toBe(`wss://localhost:${cp.port}/v1/connect`);
    const c = await FakeConnector.welcomed(cp, 'conn-tls', { ws: { ca: pki.caCertPem } });
    expect(cp.upgrades[0]!.clientCert).toEqual({ presented: false, authorized: false });
    c.close();
    const m = await FakeConnector.welcomed(cp, 'conn-mtls', { ws: { ca: pki.caCertPem, cert: pki.client.certPem, key: pki.client.keyPem } });
    expect(cp.upgrades[1]!.clientCert).toEqual({ presented: true, authorized: true, subject: 'conn-it' });
    m.close();
  });
});
