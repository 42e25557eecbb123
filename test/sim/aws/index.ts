// Wire-level AWS simulator: one loopback HTTP server that the unmodified AWS SDK v3 talks to
// (endpoint / AWS_ENDPOINT_URL), plus an admin API under /__sim/ on the same port.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimRuntime, type RuntimeOptions } from './runtime.js';
import { SimAdmin, ADMIN_METHODS, AdminError } from './admin.js';
import type { Faults } from './faults.js';
import type { World } from './world.js';
import { demoWorld } from './worlds/demo.js';
import { generateWorld, type GenerateOptions } from './worlds/generate.js';
import { groundTruth, quotaFloor, type IntegrationSettings, type FloorOptions } from './ground-truth.js';
import type { StatsSnapshot } from './stats.js';

export interface AwsSimulatorOptions extends RuntimeOptions {
  /** `demo` (default), a generated world, or a World built by the caller. */
  world?: 'demo' | { generate: GenerateOptions } | World;
  /** Port on 127.0.0.1 (default 0: any free port). */
  port?: number;
}

export interface AwsSimulator {
  url: string;
  port: number;
  world: World;
  runtime: SimRuntime;
  faults: Faults;
  admin: SimAdmin;
  stats: { snapshot(): StatsSnapshot; reset(): void };
  /** The base identity's keys (what the connector's container would get from its task role). */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Environment that points any AWS SDK or the AWS CLI at the simulator. */
  env: Record<string, string>;
  /** `{ endpoint, region, credentials }` for an SDK client constructor. */
  clientConfig(region?: string, credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): {
    endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
  groundTruth(settings: IntegrationSettings): ReturnType<typeof groundTruth>;
  floor(settings: IntegrationSettings, opts?: Partial<FloorOptions>): ReturnType<typeof quotaFloor>;
  close(): Promise<void>;
}

export function buildWorld(w: AwsSimulatorOptions['world']): World {
  if (!w || w === 'demo') return demoWorld();
  if ('generate' in w) return generateWorld(w.generate);
  return w;
}

export async function startAwsSimulator(options: AwsSimulatorOptions = {}): Promise<AwsSimulator> {
  const world = buildWorld(options.world);
  const runtime = new SimRuntime(world, options);
  const admin = new SimAdmin(runtime);
  const server = createServer((req, res) => { void serve(runtime, admin, req, res); });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: world.base.accessKeyId, secretAccessKey: world.base.secretAccessKey };
  return {
    url, port, world, runtime, admin, faults: runtime.faults,
    stats: { snapshot: () => runtime.stats.snapshot(), reset: () => runtime.stats.reset() },
    credentials,
    env: simulatorEnv(url, world),
    clientConfig: (region = 'us-east-1', creds = credentials) => ({ endpoint: url, region, credentials: creds }),
    groundTruth: (s) => groundTruth(world, s),
    floor: (s, o) => quotaFloor(world, s, { ...o, timeScale: o?.timeScale ?? runtime.timeScale, rates: o?.rates ?? runtime.quotas.rates, latencyMs: o?.latencyMs ?? runtime.faults.latencyMs }),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

export function simulatorEnv(url: string, world: World): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: url,
    AWS_ACCESS_KEY_ID: world.base.accessKeyId,
    AWS_SECRET_ACCESS_KEY: world.base.secretAccessKey,
    AWS_REGION: world.regions[0] ?? 'us-east-1',
    // Older AWS CLIs and some tools read only this one.
    AWS_DEFAULT_REGION: world.regions[0] ?? 'us-east-1',
    // The simulator does not verify signatures, but some tools insist on these.
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

async function serve(rt: SimRuntime, admin: SimAdmin, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (url.pathname.startsWith('/__sim/')) {
      const out = handleAdmin(rt, admin, req.method ?? 'GET', url, body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out ?? null));
      return;
    }
    const r = await rt.handle({ method: req.method ?? 'POST', path: url.pathname, headers: req.headers, body });
    res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
    res.end(r.body);
  } catch (e) {
    const status = e instanceof AdminError ? 400 : e instanceof SyntaxError ? 400 : 500;
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: String((e as Error).message ?? e) }));
  }
}

const FAULTS = ['throttleStorm', 'serverErrors', 'timeouts', 'lostResponses', 'denyAccount', 'allowAccount', 'expireSessionsNow', 'expireSessionsAfter', 'setLatency', 'clear'] as const;

/** The HTTP admin API; see docs/simulator.md. */
function handleAdmin(rt: SimRuntime, admin: SimAdmin, method: string, url: URL, body: string): unknown {
  const parts = url.pathname.split('/').filter(Boolean).slice(1); // drop "__sim"
  const arg: Record<string, unknown> = method === 'GET' ? Object.fromEntries(url.searchParams) : (body.trim() ? JSON.parse(body) as Record<string, unknown> : {});
  const [area, name] = parts;
  switch (area) {
    case 'health': return { ok: true };
    case 'stats':
      if (name === 'reset') { rt.stats.reset(); return { ok: true }; }
      return rt.stats.snapshot();
    case 'faults': {
      if (!name) return rt.faults.describe();
      if (!(FAULTS as readonly string[]).includes(name)) throw new AdminError(`unknown fault ${name}`);
      const f = rt.faults as unknown as Record<string, (...a: unknown[]) => unknown>;
      if (name === 'denyAccount' || name === 'allowAccount') return f[name]!.call(rt.faults, String(arg.accountId));
      if (name === 'expireSessionsAfter') return f[name]!.call(rt.faults, Number(arg.seconds));
      if (name === 'setLatency') return f[name]!.call(rt.faults, Number(arg.latencyMs), arg.service);
      return f[name]!.call(rt.faults, arg);
    }
    case 'admin': {
      if (!name || !ADMIN_METHODS.includes(name)) throw new AdminError(`unknown admin method ${name}; known: ${ADMIN_METHODS.join(', ')}`);
      return (admin as unknown as Record<string, (a: unknown) => unknown>)[name]!(arg);
    }
    case 'ground-truth': return groundTruth(rt.world, arg as IntegrationSettings);
    case 'floor': return quotaFloor(rt.world, arg as IntegrationSettings, { timeScale: rt.timeScale, rates: rt.quotas.rates, latencyMs: rt.faults.latencyMs });
    default: throw new AdminError(`unknown admin path ${url.pathname}`);
  }
}

export { SimRuntime, SimAdmin };
export type { World, IntegrationSettings, FloorOptions, GenerateOptions, StatsSnapshot };
export { demoWorld, generateWorld, groundTruth, quotaFloor };
