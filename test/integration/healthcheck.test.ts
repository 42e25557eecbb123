// `access-connector healthcheck`, the container image's HEALTHCHECK, run as its own process
// the way Docker runs it: against a real connector, a closed port, a failing and a silent server.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAIN_JS } from '../helpers/paths.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

// Async on purpose: the servers these tests probe run in this process's event loop.
// Only PATH and HEALTH_PORT are passed: the command must not need the daemon's settings.
function healthcheck(port: string | undefined): Promise<Result> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
  if (port !== undefined) env['HEALTH_PORT'] = port;
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN_JS, 'healthcheck'], { env, encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r(undefined)));
  });
  return { server, port: String((server.address() as AddressInfo).port) };
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('healthcheck command', () => {
  test('exits 0 against a running connector, and 1 once it has stopped', async () => {
    const cp = await ReferenceControlPlane.start();
    cleanup.push(() => cp.close());
    const c = new ConnectorProcess(connectorEnv(cp.url));
    cleanup.push(() => c.stop());
    const port = String((await c.waitForEvent('daemon.start'))['healthPort']);

    const ok = await healthcheck(port);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toBe(`healthy: http://127.0.0.1:${port}/healthz answered 200\n`);

    c.signal('SIGTERM');
    expect((await c.exited).code).toBe(0);
    const down = await healthcheck(port);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^unhealthy: .*ECONNREFUSED/);
  });

  test('a closed port: exit 1 with one line naming the failure', async () => {
    const { server, port } = await listen(() => {});
    await new Promise((r) => server.close(r));
    const r = await healthcheck(port);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`unhealthy: http://127.0.0.1:${port}/healthz failed (ECONNREFUSED)\n`);
  });

  test('any status but 200 is unhealthy', async () => {
    const paths: string[] = [];
    const { port } = await listen((req, res) => {
      paths.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(503).end();
    });
    const r = await healthcheck(port);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`unhealthy: http://127.0.0.1:${port}/healthz answered 503\n`);
    expect(paths).toEqual(['GET /healthz']);
  });

  test('a server that never answers: exit 1 after the 3 s timeout', async () => {
    const { port } = await listen(() => {
      // hold the request open
    });
    const r = await healthcheck(port);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/no answer within 3 s/);
    expect(r.ms).toBeGreaterThanOrEqual(3000);
    expect(r.ms).toBeLessThan(8000);
  });

  test('HEALTH_PORT must be 1–65535: exit 78 with one line', async () => {
    for (const bad of ['0', '65536', 'abc', '80.5', '-1']) {
      const r = await healthcheck(bad);
      expect(r.code).toBe(78);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^access-connector: configuration error: HEALTH_PORT: .*1 to 65535.*\n$/);
    }
  });

  test('with no HEALTH_PORT it asks port 8080', async () => {
    const r = await healthcheck(undefined);
    expect(r.stdout + r.stderr).toMatch(/http:\/\/127\.0\.0\.1:8080\/healthz/);
  });
});
