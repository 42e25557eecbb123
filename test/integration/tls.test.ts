// TLS, public-key pinning, mutual TLS and the HTTP CONNECT proxy, on real sockets.
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { chainPki, testPki } from '../helpers/certs.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { ConnectProxy } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';

const FAST = JSON.stringify({ firstReconnectMaxMs: 200, backoffBaseMs: 100, backoffCapMs: 400 });
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function tlsPlane(which: 'server' | 'impostor' = 'server', extra: { requestClientCert?: boolean } = {}) {
  const pki = testPki();
  const cp = await ReferenceControlPlane.start({ tls: { keyPem: pki[which].keyPem, certPem: pki[which].certPem, caPem: pki.caCertPem, ...extra } });
  cleanup.push(() => cp.close());
  return cp;
}
function connector(url: string, env: Record<string, string> = {}) {
  const p = new ConnectorProcess({ TEST_CONNECTOR_TIMING: FAST, ...connectorEnv(url, { ALLOW_INSECURE_CONTROL_PLANE: 'false', ...env }) });
  cleanup.push(() => p.stop());
  return p;
}

/** A raw TLS endpoint that counts every application byte it receives. */
async function recordingTlsServer(which: 'server' | 'impostor' | { key: string; cert: string }) {
  const pki = testPki();
  const received: Buffer[] = [];
  let connections = 0;
  const creds = typeof which === 'string' ? { key: pki[which].keyPem, cert: pki[which].certPem } : which;
  const server: TlsServer = createTlsServer(creds, (sock) => {
    sock.on('data', (d: Buffer) => received.push(d));
    sock.on('error', () => {});
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise((r) => server.close(() => r(undefined))));
  return { port: (server.address() as AddressInfo).port, received, connections: () => connections };
}

/** Until the connector reports a failed attempt or the server received application bytes. */
async function refusedOrLeaked(c: ConnectorProcess, received: Buffer[]): Promise<void> {
  while (!c.logs().some((e) => e['event'] === 'connection.failed') && received.length === 0) await new Promise((r) => setTimeout(r, 20));
}

describe('TLS to the control plane', () => {
  test('wss:// with CONTROL_PLANE_CA_FILE connects; without it the certificate is refused', async () => {
    const cp = await tlsPlane();
    const trusted = connector(cp.url, { CONTROL_PLANE_CA_FILE: testPki().caFile });
    await cp.waitForSession();
    await trusted.waitForEvent('connection.ready');
    const untrusted = connector(cp.url, { CONNECTOR_ID: 'conn-untrusted' });
    const failed = await untrusted.waitForEvent('connection.failed');
    expect(failed['code']).toBe('CONTROL_PLANE_UNREACHABLE');
    expect(String(failed['msg'])).toMatch(/TLS/);
    expect(cp.upgrades.filter((u) => u.headers['x-connector-id'] === 'conn-untrusted')).toHaveLength(0);
  });

  test('pinning accepts the leaf key or the CA key; a rotation list with one right pin works', async () => {
    const pki = testPki();
    const cp = await tlsPlane();
    const leaf = connector(cp.url, { CONNECTOR_ID: 'leaf', CONTROL_PLANE_CA_FILE: pki.caFile, CONTROL_PLANE_PINS: `sha256/${pki.impostor.pin},sha256/${pki.server.pin}` });
    const ca = connector(cp.url, { CONNECTOR_ID: 'ca', CONTROL_PLANE_CA_FILE: pki.caFile, CONTROL_PLANE_PINS: `sha256/${pki.caPin}` });
    await leaf.waitForEvent('connection.ready');
    await ca.waitForEvent('connection.ready');
  });

  test('a valid certificate with another key under pinning: refused before any byte is sent', async () => {
    const pki = testPki();
    const mitm = await recordingTlsServer('impostor');
    const c = connector(`wss://localhost:${mitm.port}/v1/connect`, {
      CONTROL_PLANE_CA_FILE: pki.caFile,
      CONTROL_PLANE_PINS: `sha256/${pki.server.pin}`,
      CONNECTOR_TOKEN: 'pin-canary-token',
    });
    const failed = await c.waitForEvent('connection.failed');
    expect(failed['code']).toBe('CONTROL_PLANE_PIN_MISMATCH');
    // It keeps trying, with backoff: a second connection, and the connector's own line that
    // the pin refused it too (so the byte count below covers two whole attempts). Waited for,
    // up to 10 s, rather than expected within a fixed 1 s.
    await until(() => mitm.connections() >= 2, 10_000, 'a second connection to the impostor');
    await c.waitForLog((e) => e['code'] === 'CONTROL_PLANE_PIN_MISMATCH' && String(e['msg']).startsWith('connection attempt failed'), 10_000);
    expect(Buffer.concat(mitm.received).length).toBe(0); // not one byte of HTTP: no Authorization header
  });

  // Regression: the pin was matched against the chain as linked by name, so an appended
  // certificate that claims the pinned key (but whose signature links nothing) passed it.
  test('a forged certificate with the pinned key appended to another valid chain: refused before any byte is sent', async () => {
    const pki = chainPki();
    for (const which of ['root', 'leaf'] as const) {
      const mitm = await recordingTlsServer({ key: pki.other.leafKeyPem, cert: pki.forge(which) });
      const c = connector(`wss://localhost:${mitm.port}/v1/connect`, {
        CONNECTOR_ID: `forged-${which}`,
        CONTROL_PLANE_CA_FILE: pki.caFile,
        CONTROL_PLANE_PINS: `sha256/${pki.real.pins[which]}`,
        CONNECTOR_TOKEN: 'forged-pin-canary-token',
      });
      await refusedOrLeaked(c, mitm.received);
      expect({ which, bytes: Buffer.concat(mitm.received).length }).toEqual({ which, bytes: 0 });
      expect({ which, code: c.logs().find((e) => e['event'] === 'connection.failed')!['code'] }).toEqual({ which, code: 'CONTROL_PLANE_PIN_MISMATCH' });
    }
  });

  test('a pin on the real leaf, intermediate or root of a verified chain connects', async () => {
    const pki = chainPki();
    const cp = await ReferenceControlPlane.start({ tls: { keyPem: pki.real.leafKeyPem, certPem: pki.real.chainPem } });
    cleanup.push(() => cp.close());
    const levels = ['leaf', 'intermediate', 'root'] as const;
    const cs = levels.map((which) => connector(cp.url, { CONNECTOR_ID: `pin-${which}`, CONTROL_PLANE_CA_FILE: pki.caFile, CONTROL_PLANE_PINS: `sha256/${pki.real.pins[which]}` }));
    for (const c of cs) await c.waitForEvent('connection.ready');
  });

  test('mutual TLS presents the client certificate', async () => {
    const pki = testPki();
    const cp = await tlsPlane('server', { requestClientCert: true });
    const c = connector(cp.url, { CONTROL_PLANE_CA_FILE: pki.caFile, CONTROL_PLANE_CLIENT_CERT_FILE: pki.client.certFile, CONTROL_PLANE_CLIENT_KEY_FILE: pki.client.keyFile });
    await c.waitForEvent('connection.ready');
    expect(cp.upgrades[0]!.clientCert).toMatchObject({ presented: true, authorized: true, subject: 'conn-it' });
  });
});

describe('HTTP CONNECT proxy', () => {
  test('the connection goes through the proxy with Basic credentials that never reach the logs', async () => {
    const pki = testPki();
    const cp = await tlsPlane();
    const proxy = await ConnectProxy.start({ auth: 'proxyuser:proxy-canary-pw' });
    cleanup.push(() => proxy.close());
    const c = connector(cp.url, { CONTROL_PLANE_CA_FILE: pki.caFile, HTTPS_PROXY: `http://proxyuser:proxy-canary-pw@127.0.0.1:${proxy.port}` });
    await c.waitForEvent('connection.ready');
    expect(proxy.requests[0]).toMatchObject({ target: `localhost:${cp.port}`, status: 200 });
    expect(c.output()).not.toContain('proxy-canary-pw');
    expect(c.output()).not.toContain(Buffer.from('proxyuser:proxy-canary-pw').toString('base64'));
  });

  test('a proxy that refuses is reported without its credentials; NO_PROXY bypasses it', async () => {
    const pki = testPki();
    const cp = await tlsPlane();
    const proxy = await ConnectProxy.start({ auth: 'u:right' });
    cleanup.push(() => proxy.close());
    const refused = connector(cp.url, { CONNECTOR_ID: 'refused', CONTROL_PLANE_CA_FILE: pki.caFile, HTTPS_PROXY: `http://u:wrong-canary@127.0.0.1:${proxy.port}` });
    const failed = await refused.waitForEvent('connection.failed');
    expect(String(failed['msg'])).toMatch(/proxy 127\.0\.0\.1 answered CONNECT with 407/);
    expect(refused.output()).not.toContain('wrong-canary');
    const bypass = connector(cp.url, { CONNECTOR_ID: 'bypass', CONTROL_PLANE_CA_FILE: pki.caFile, HTTPS_PROXY: `http://u:right@127.0.0.1:${proxy.port}`, NO_PROXY: 'localhost' });
    await bypass.waitForEvent('connection.ready');
    expect(cp.upgrades.some((u) => u.headers['x-connector-id'] === 'bypass')).toBe(true);
    expect(proxy.requests.every((r) => r.status === 407)).toBe(true);
  });

  test('a man in the middle behind the proxy, under pinning: refused, no token leaves', async () => {
    const pki = testPki();
    const mitm = await recordingTlsServer('impostor');
    const proxy = await ConnectProxy.start({ redirectToPort: mitm.port });
    cleanup.push(() => proxy.close());
    const c = connector('wss://localhost:443/v1/connect', {
      CONTROL_PLANE_CA_FILE: pki.caFile,
      CONTROL_PLANE_PINS: `sha256/${pki.server.pin}`,
      HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`,
    });
    expect((await c.waitForEvent('connection.failed'))['code']).toBe('CONTROL_PLANE_PIN_MISMATCH');
    expect(proxy.requests[0]!.target).toBe('localhost:443');
    expect(Buffer.concat(mitm.received).length).toBe(0);
  });

  test('behind the proxy, a forged certificate carrying the pinned intermediate key: refused, no token leaves', async () => {
    const pki = chainPki();
    const mitm = await recordingTlsServer({ key: pki.other.leafKeyPem, cert: pki.forge('intermediate') });
    const proxy = await ConnectProxy.start({ redirectToPort: mitm.port });
    cleanup.push(() => proxy.close());
    const c = connector('wss://localhost:443/v1/connect', {
      CONTROL_PLANE_CA_FILE: pki.caFile,
      CONTROL_PLANE_PINS: `sha256/${pki.real.pins.intermediate}`,
      HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`,
    });
    await refusedOrLeaked(c, mitm.received);
    expect(Buffer.concat(mitm.received).length).toBe(0);
    expect(c.logs().find((e) => e['event'] === 'connection.failed')!['code']).toBe('CONTROL_PLANE_PIN_MISMATCH');
    expect(proxy.requests[0]!.target).toBe('localhost:443');
  });
});
