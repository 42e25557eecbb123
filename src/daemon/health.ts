// /healthz (the process is alive and its event loop turns), /readyz (connected,
// welcomed, not draining) and /metrics (Prometheus). Plain node:http: three routes do
// not earn a framework.
import type { Server } from 'node:http';
import { http } from '../node-http.js';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface Readiness {
  ready: boolean;
  reason: string;
}

export class HealthServer {
  private server: Server | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly readiness: () => Readiness,
  ) {}

  async listen(port: number, host: string): Promise<number> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
      } else if (path === '/readyz') {
        const r = this.readiness();
        res
          .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify({ status: r.ready ? 'ready' : 'not ready', reason: r.reason })}\n`);
      } else if (path === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}\n');
      }
    });
    // Probes are tiny; nobody legitimate holds a connection open.
    server.requestTimeout = 5000;
    server.headersTimeout = 5000;
    server.keepAliveTimeout = 1000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
