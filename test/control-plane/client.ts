// A plain `ws` client standing in for the connector in the control plane's own tests.
import { randomUUID } from 'node:crypto';
import { WebSocket, type ClientOptions } from 'ws';
import { PROTOCOL } from '../../src/protocol/messages.js';
import type { ReferenceControlPlane } from '../sim/control-plane/server.js';

export interface DialOptions {
  token?: string | null;
  connectorId?: string | null;
  userAgent?: string | null;
  protocol?: string | null;
  path?: string;
  ws?: ClientOptions;
}

/** The answer to an upgrade: 101 with an open socket, or the HTTP status and headers. */
export type DialResult =
  | { upgraded: true; status: 101; ws: WebSocket }
  | { upgraded: false; status: number; headers: Record<string, string | string[] | undefined>; body: string };

export function dial(url: string, o: DialOptions = {}): Promise<DialResult> {
  const headers: Record<string, string> = {};
  const token = o.token === undefined ? 'test-token' : o.token;
  if (token !== null) headers['Authorization'] = `Bearer ${token}`;
  const connectorId = o.connectorId === undefined ? 'conn-test' : o.connectorId;
  if (connectorId !== null) headers['X-Connector-Id'] = connectorId;
  const ua = o.userAgent === undefined ? 'access-connector/0.0.0-test' : o.userAgent;
  if (ua !== null) headers['User-Agent'] = ua;
  const protocol = o.protocol === undefined ? PROTOCOL : o.protocol;
  const target = o.path ? url.replace('/v1/connect', o.path) : url;
  const ws = new WebSocket(target, protocol === null ? [] : [protocol], { headers, ...o.ws });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ upgraded: true, status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ upgraded: false, status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    ws.once('error', reject);
  });
}

/** A connected fake connector that records every frame the control plane sends it. */
export class FakeConnector {
  readonly frames: Record<string, unknown>[] = [];
  closeCode: number | null = null;
  private readonly closed: Promise<number>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket, readonly connectorId: string) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Record<string, unknown>);
      for (const w of this.waiters) w();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        resolve(code);
        for (const w of this.waiters) w();
      }),
    );
  }

  static async connect(cp: ReferenceControlPlane, connectorId = 'conn-test', o: DialOptions = {}): Promise<FakeConnector> {
    const r = await dial(cp.url, { connectorId, ...o });
    if (!r.upgraded) throw new Error(`upgrade answered ${r.status}`);
    return new FakeConnector(r.ws, connectorId);
  }

  /** Connects, sends hello and waits for welcome. */
  static async welcomed(cp: ReferenceControlPlane, connectorId = 'conn-test', o: DialOptions = {}): Promise<FakeConnector> {
    const c = await FakeConnector.connect(cp, connectorId, o);
    c.send(hello(connectorId));
    await c.next((f) => f['type'] === 'welcome');
    return c;
  }

  send(frame: Record<string, unknown>): string {
    const withId = { id: randomUUID(), ...frame };
    this.ws.send(JSON.stringify(withId));
    return withId.id as string;
  }

  /** The first frame (existing or future) matching `pred`. */
  next(pred: (f: Record<string, unknown>) => boolean, timeoutMs = 3000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const f = this.frames.find(pred);
        if (f) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(f);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((f) => f['type']))}`));
      }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }

  waitClose(timeoutMs = 3000): Promise<number> {
    return Promise.race([
      this.closed,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  }

  close(): void {
    this.ws.terminate();
  }
}

export function hello(connectorId: string): Record<string, unknown> {
  return {
    type: 'hello',
    id: randomUUID(),
    connectorId,
    version: '0.0.0-test',
    protocol: 1,
    capabilities: { jobTypes: ['sync', 'grant', 'revoke', 'check'], accessKinds: [], entityKinds: [] },
    maxConcurrentJobs: 4,
    running: [],
  };
}

export function entity(i: number): Record<string, unknown> {
  return { kind: 'aws.account', id: `acct-${i}`, name: `account ${i}`, attributes: {} };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
