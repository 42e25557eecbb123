import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { dial } from './client.js';

describe('reference control plane: upgrade checks', () => {
  let cp: ReferenceControlPlane;
  beforeEach(async () => {
    cp = await ReferenceControlPlane.start({ tokens: ['test-token'] });
  });
  afterEach(() => cp.close());

  it('binds loopback and upgrades a well-formed request, recording its headers as-is', async () => {
    expect(cp.url).toBe(`ws://127.0.0.1:${cp.port}/v1/connect`);
    const r = await dial(cp.url);
    expect(r.status).toBe(101);
    if (r.upgraded) {
      expect(r.ws.protocol).toBe('access-connector.v1');
      r.ws.terminate();
    }
    expect(cp.upgrades).toHaveLength(1);
    expect(cp.upgrades[0]!.status).toBe(101);
    expect(cp.upgrades[0]!.headers['authorization']).toBe('Bearer test-token');
    expect(cp.upgrades[0]!.headers['x-connector-id']).toBe('conn-test');
    expect(cp.violations).toEqual([]);
  });

  it('answers 401 to an unknown or missing token without echoing it, and accepts it after setTokens', async () => {
    const bad = await dial(cp.url, { token: 'wrong-secret' });
    expect(bad.status).toBe(401);
    if (!bad.upgraded) expect(bad.body).not.toContain('wrong-secret');
    expect(cp.upgrades[0]!.headers['authorization']).toBe('Bearer wrong-secret');
    expect((await dial(cp.url, { token: null })).status).toBe(401);

    cp.setTokens(['wrong-secret']);
    const ok = await dial(cp.url, { token: 'wrong-secret' });
    expect(ok.status).toBe(101);
    if (ok.upgraded) ok.ws.terminate();
    // A bad token is an operator problem, not a protocol violation by the connector.
    expect(cp.violations).toEqual([]);
  });

  it('refuses an upgrade without the access-connector.v1 subprotocol and records a violation', async () => {
    expect((await dial(cp.url, { protocol: null })).status).toBe(400);
    expect((await dial(cp.url, { protocol: 'access-connector.v2' })).status).toBe(400);
    expect(cp.violations).toHaveLength(2);
    expect(cp.violations[0]).toMatch(/Sec-WebSocket-Protocol/);
  });

  it('refuses a missing X-Connector-Id or a foreign User-Agent', async () => {
    expect((await dial(cp.url, { connectorId: null })).status).toBe(400);
    expect((await dial(cp.url, { userAgent: 'curl/8' })).status).toBe(400);
    expect(cp.violations.map((v) => v.includes('X-Connector-Id') || v.includes('User-Agent'))).toEqual([true, true]);
  });

  it('answers 404 outside /v1/connect', async () => {
    expect((await dial(cp.url, { path: '/v2/connect' })).status).toBe(404);
  });

  it('answers every upgrade with the configured status, switchable at run time', async () => {
    cp.setRejectUpgradeStatus(403);
    expect((await dial(cp.url)).status).toBe(403);
    cp.setRejectUpgradeStatus(401);
    expect((await dial(cp.url)).status).toBe(401);
    cp.setRejectUpgradeStatus(null);
    const ok = await dial(cp.url);
    expect(ok.status).toBe(101);
    if (ok.upgraded) ok.ws.terminate();
    expect(cp.upgrades.map((u) => u.status)).toEqual([403, 401, 101]);
  });
});

describe('reference control plane: redirect mode', () => {
  it('answers 302 with Location and never upgrades', async () => {
    const cp = await ReferenceControlPlane.start({ redirectTo: 'wss://elsewhere.example/v1/connect' });
    try {
      const r = await dial(cp.url, { ws: { followRedirects: false } });
      expect(r.status).toBe(302);
      if (!r.upgraded) expect(r.headers['location']).toBe('wss://elsewhere.example/v1/connect');
      expect(cp.sessions()).toEqual([]);
    } finally {
      await cp.close();
    }
  });
});
