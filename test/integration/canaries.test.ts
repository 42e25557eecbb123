// Secret canaries: planted in every input the connector has, and searched for in every
// output it produces: stdout, stderr, frames and metrics.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { ConnectProxy } from '../helpers/proxy.js';

const CANARIES = {
  tokenFile: 'canary-tokenfile-5f1e2d3c',
  envToken: 'canary-envtoken-9a8b7c6d',
  awsKeyId: 'AKIACANARY0000000001',
  awsSecret: 'canarySecretKey/0123456789abcdefghijABCDEFGHIJ',
  awsSession: 'canarySessionToken+FwoGZXIvYXdzEJr//////////wEaDCanary',
  proxyPassword: 'canary-proxy-pw-4242',
};

test('no secret reaches stdout, stderr, frames or metrics', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ac-canary-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, CANARIES.tokenFile);
  const proxy = await ConnectProxy.start({ auth: `u:${CANARIES.proxyPassword}` });
  const cp = await ReferenceControlPlane.start({ tokens: [CANARIES.tokenFile] });
  const env = connectorEnv(cp.url, {
    CONNECTOR_TOKEN: '',
    CONNECTOR_TOKEN_FILE: tokenFile,
    AWS_ACCESS_KEY_ID: CANARIES.awsKeyId,
    AWS_SECRET_ACCESS_KEY: CANARIES.awsSecret,
    AWS_SESSION_TOKEN: CANARIES.awsSession,
    HTTPS_PROXY: `http://u:${CANARIES.proxyPassword}@127.0.0.1:${proxy.port}`,
    LOG_LEVEL: 'trace',
  });
  const c = new ConnectorProcess(env);
  try {
    await cp.waitForSession();
    const health = await c.healthUrl();
    // Exercise the paths that log: jobs, failures, rejections, a drop and reconnect, a bad token.
    const ok = cp.sendJob({ jobType: 'test.sleep', params: { ms: 1, batches: 2 } });
    await cp.waitForResult(ok.jobId);
    const failing = cp.sendJob({ jobType: 'test.sleep', params: { fail: true } });
    await cp.waitForResult(failing.jobId);
    cp.sendJob({ jobType: 'nope' });
    cp.sendRaw('{"type":"job","id":"x","jobId":"bad jobid"}');
    cp.setTokens(['other']);
    cp.dropSessions('close', 4401);
    await c.waitForEvent('connection.auth_rejected');
    const metrics = await (await fetch(`${health}/metrics`)).text();
    c.signal('SIGTERM');
    await c.exited;
    const everything = [c.output(), metrics, ...cp.received.map((f) => f.raw)].join('\n');
    expect(everything.length).toBeGreaterThan(2000);
    for (const [name, value] of Object.entries(CANARIES)) {
      expect({ name, found: everything.includes(value) }).toEqual({ name, found: false });
    }
    // The proxy really was used, with the credentials: they were sent where they belong only.
    expect(proxy.requests.length).toBeGreaterThan(0);
  } finally {
    await c.stop();
    await cp.close();
    await proxy.close();
  }
}, 30_000);
