// AWS calls through HTTPS_PROXY: a real CONNECT proxy on loopback, in front of a TLS
// endpoint that forwards to the AWS simulator. The connector's base credentials, its role
// chain and every API call cross the proxy (or bypass it under NO_PROXY), and the proxy's
// password shows nowhere.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { testPki } from '../helpers/certs.js';
import { ConnectProxy } from '../helpers/proxy.js';
import { MAIN_JS } from '../helpers/paths.js';

let sim: AwsSimulator;
let front: Server;
let frontPort: number;
const sockets = new Set<Socket>();
const dir = mkdtempSync(join(tmpdir(), 'ac-aws-proxy-'));
const integrationFile = join(dir, 'integration.json');
const pki = testPki();

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  const simPort = Number(new URL(sim.env['AWS_ENDPOINT_URL']!).port);
  // TLS in front of the simulator, as AWS's endpoints are: the proxy must tunnel it.
  front = createServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (tls) => {
    const up = connect({ host: '127.0.0.1', port: simPort });
    sockets.add(tls).add(up);
    tls.pipe(up).pipe(tls);
    tls.on('error', () => up.destroy());
    up.on('error', () => tls.destroy());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
  frontPort = (front.address() as AddressInfo).port;
  writeFileSync(integrationFile, JSON.stringify(demoIntegration({ resourceTypes: ['iam'] })));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => front.close(() => r()));
  await sim.close();
});

function sync(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [MAIN_JS, 'sync', '--integration', integrationFile, '--out', join(dir, 'out.ndjson'), '--quiet'], {
      env: { PATH: process.env['PATH'] ?? '', ...sim.env, AWS_ENDPOINT_URL: `https://localhost:${frontPort}`, NODE_EXTRA_CA_CERTS: pki.caFile, LOG_LEVEL: 'debug', ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => res({ code, out }));
  });
}

describe('AWS calls through HTTPS_PROXY', () => {
  test('every AWS call is tunnelled through the proxy with its credentials; the password is never printed', async () => {
    const proxy = await ConnectProxy.start({ auth: 'ops:proxy-canary-7f3a' });
    try {
      const calls0 = sim.stats.snapshot().total.calls;
      const r = await sync({ HTTPS_PROXY: `http://ops:proxy-canary-7f3a@127.0.0.1:${proxy.port}` });
      expect({ code: r.code, tail: r.code === 0 ? '' : r.out.slice(-1500) }).toEqual({ code: 0, tail: '' });
      expect(sim.stats.snapshot().total.calls - calls0).toBeGreaterThan(10);
      // Kept-alive sockets: a few tunnels carry every call, all to the AWS endpoint.
      expect(proxy.requests.length).toBeGreaterThan(0);
      expect(proxy.requests.every((q) => q.target === `localhost:${frontPort}` && q.status === 200)).toBe(true);
      expect(r.out).not.toContain('proxy-canary-7f3a');
    } finally {
      await proxy.close();
    }
  }, 60_000);

  test('NO_PROXY bypasses it; a proxy that refuses fails the sync with a message that holds no password', async () => {
    const proxy = await ConnectProxy.start({ auth: 'ops:right' });
    try {
      const bypass = await sync({ HTTPS_PROXY: `http://ops:wrong-canary-19c2@127.0.0.1:${proxy.port}`, NO_PROXY: 'localhost' });
      expect(bypass.code).toBe(0);
      expect(proxy.requests).toHaveLength(0);

      const refused = await sync({ HTTPS_PROXY: `http://ops:wrong-canary-19c2@127.0.0.1:${proxy.port}` });
      expect(refused.code).not.toBe(0);
      expect(proxy.requests.length).toBeGreaterThan(0);
      expect(proxy.requests.every((q) => q.status === 407)).toBe(true);
      expect(refused.out).toMatch(/407|tunnel/i);
      expect(refused.out).not.toContain('wrong-canary-19c2');
    } finally {
      await proxy.close();
    }
  }, 90_000);
});
