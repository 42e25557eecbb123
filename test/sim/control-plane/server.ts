// Reference control plane: a real WebSocket server speaking protocol v1
// (docs/protocol.md). The connector's integration tests script it, the demo runs
// it standalone (cli.ts), and it checks the connector's side of the contract: every frame
// that breaks the outbound schema or the ordering rules is written to `violations`.
//
// Loopback only. State (received frames, jobs) survives restart() so that dedupe and
// redelivery can be checked across a control-plane crash.
import { randomUUID, createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, WebSocket } from 'ws';
import type { z } from 'zod';
import {
  ACKED_TYPES,
  MAX_FRAME_BYTES,
  PROTOCOL,
  describeIssues,
  jobFrame,
  outboundSchemas,
  type HelloFrame,
  type JobProgressFrame,
  type JobResultFrame,
} from '../../../src/protocol/messages.js';
import { signingInput } from '../../../src/protocol/signature.js';
import { canonicalize } from '../../../src/protocol/jcs.js';

export const CONNECT_PATH = '/v1/connect';

export interface ControlPlaneOptions {
  /** 0 (default) = ephemeral; restart() reuses whatever port was bound. */
  port?: number;
  tls?: { keyPem: string; certPem: string; caPem?: string; requestClientCert?: boolean };
  /** Accepted bearer tokens (default ['test-token']). */
  tokens?: string[];
  /** Sent in welcome; integer 5–120, default 20. */
  heartbeatSeconds?: number;
  /**
   * Server-side dead-socket rule: no byte for this long → close 4408 and terminate.
   * Default 2 × heartbeatSeconds. Exists so tests can exercise the rule in well under the
   * 10 s that the smallest legal heartbeat (5 s) would need, without sending an illegal welcome.
   */
  deadAfterMs?: number;
  /** Sent in welcome: max unacked sync.batch per job (default 16). */
  window?: number;
  /** Default true: ack every acked-type frame on receipt (duplicates too). */
  autoAck?: boolean;
  ackDelayMs?: number;
  /** When set, sendJob signs jobs unless told `sign: false`. */
  signingKey?: { privateKeyPem: string };
  rejectUpgradeStatus?: 401 | 403 | null;
  redirectTo?: string | null;
  /** Default true: unfinished jobs of a dead session are sent again (same jobId, new id). */
  redeliverOnSessionDeath?: boolean;
  /** Observer for the CLI: every frame in and out, sessions, refused upgrades, violations. */
  onEvent?: (event: ControlPlaneEvent) => void;
  /**
   * Default true. False: `received` keeps each sync.batch without its `entities` and with
   * `raw` empty, so a sync of millions of entities is not held in memory; whoever needs
   * the entities reads them from onEvent (bench/sync.ts at 10,000 accounts).
   */
  keepBatchEntities?: boolean;
}

export type ControlPlaneEvent =
  | { kind: 'frame'; direction: 'in' | 'out'; sessionId: string; frame: Record<string, unknown> | null; raw: string }
  | { kind: 'welcomed'; session: SessionInfo }
  | { kind: 'closed'; close: SessionClose }
  | { kind: 'upgrade'; upgrade: UpgradeRecord }
  | { kind: 'violation'; message: string };

export interface UpgradeRecord {
  at: number;
  path: string;
  /** Exactly as received (Authorization included) so tests can assert on them. */
  headers: http.IncomingHttpHeaders;
  /** 101 when upgraded, else the HTTP status answered. */
  status: number;
  refusedBecause?: string;
  /** TLS only, when requestClientCert is set. */
  clientCert?: { presented: boolean; authorized: boolean; subject?: string };
}

export interface ReceivedFrame {
  sessionId: string;
  at: number;
  raw: string;
  /** The parsed JSON object, or null when the frame was not a JSON object. */
  frame: Record<string, unknown> | null;
}

export interface SentFrame {
  sessionId: string;
  at: number;
  frame: Record<string, unknown>;
}

export interface SessionInfo {
  sessionId: string;
  connectorId: string;
  hello: HelloFrame;
  welcomedAt: number;
}

export interface SessionClose {
  sessionId: string;
  connectorId: string | null;
  at: number;
  code: number;
  reason: string;
  by: 'connector' | 'server';
}

/** Time from a session's death to the next welcome of the same connector id. */
export interface ReconnectGap {
  connectorId: string;
  diedAt: number;
  welcomedAt: number;
  gapMs: number;
  closeCode: number;
  sessionId: string;
}

export interface BatchRecord {
  id: string;
  at: number;
  entities: number;
  cursor?: string;
}

export interface JobRecord {
  jobId: string;
  jobType: string;
  /** The last job frame sent for this jobId. */
  frame: Record<string, unknown>;
  sentAt: number;
  sends: { at: number; sessionId: string; frameId: string; redelivery: boolean }[];
  /** The session the job is currently assigned to. */
  sessionId: string;
  connectorId: string;
  accepted: { at: number; sessionId: string } | null;
  rejected: { at: number; reason: string; message: string } | null;
  progress: JobProgressFrame | null;
  /** seq → first arrival of that batch. */
  batches: Map<number, BatchRecord>;
  result: JobResultFrame | null;
  resultAt: number | null;
  cancelRequestedAt: number | null;
}

export type JobFrameInput = z.input<typeof jobFrame>;
/** A partial job frame; extra (unknown) fields are sent as given, and signed. */
export type JobInput = Partial<JobFrameInput> & { jobType: string } & Record<string, unknown>;

/** A valid integration (docs/protocol.md), used when a job names none. */
export const DEMO_INTEGRATION = Object.freeze({
  id: 'int-demo',
  name: 'demo-org',
  type: 'aws-organization',
  region: 'us-east-1',
  roleArn: 'arn:aws:iam::111111111111:role/AccessConnectorManagement',
  externalId: 'demo-external-id',
  memberRoleName: 'AccessConnectorMember',
  ssoRegion: 'us-east-1',
  ssoPortalUrl: 'https://d-1234567890.awsapps.com/start',
  excludeOrganizationalUnitIds: [],
  excludeAccountIds: [],
  regions: [],
  resourceTypes: ['sso', 'iam', 'ec2', 'resources'],
  resourceOwnerTagKey: 'owner',
  userCleanupAfterDays: 0,
  credentialRotationDays: 0,
  enableAudit: false,
  allowManagementAccount: false,
});

interface Session {
  id: string;
  ws: WebSocket;
  socket: Socket;
  headerConnectorId: string;
  hello: HelloFrame | null;
  welcomedAt: number | null;
  lastByteAt: number;
  alive: boolean;
  /** Acked-type ids received here and not yet acked here. */
  pendingAck: Set<string>;
  /** Messages ws parsed while we were silent; processed on goSilent(false). */
  held: { data: Buffer; isBinary: boolean }[];
}

interface Waiter<T> {
  test: () => T | undefined;
  resolve: (v: T) => void;
  fail: (e: Error) => void;
}

const STATUS_TEXT: Record<number, string> = { 302: 'Found', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

export class ReferenceControlPlane {
  readonly upgrades: UpgradeRecord[] = [];
  readonly received: ReceivedFrame[] = [];
  readonly sent: SentFrame[] = [];
  readonly violations: string[] = [];
  readonly closes: SessionClose[] = [];
  readonly reconnectGaps: ReconnectGap[] = [];
  /** Ids whose ack was deliberately lost (dropAckOnce), in order. */
  readonly droppedAcks: string[] = [];

  private readonly opts: ControlPlaneOptions;
  private readonly heartbeatSeconds: number;
  private readonly window: number;
  private readonly deadAfterMs: number;
  private tokens: string[];
  private rejectStatus: 401 | 403 | null;
  private autoAck: boolean;
  private ackDrops: Array<(frame: Record<string, unknown>) => boolean> = [];
  private silent = false;
  private closed = false;
  /** True while every session is being ended at once: redeliveries then wait for a new welcome. */
  private endingAll = false;
  private signer: { key: KeyObject; keyId: string } | null = null;

  private server: http.Server | https.Server | null = null;
  private wss: WebSocketServer | null = null;
  private deadTimer: NodeJS.Timeout | null = null;
  private boundPort = 0;
  private readonly allSessions = new Map<string, Session>();
  private readonly jobTable = new Map<string, JobRecord>();
  private readonly rawJobIds = new Set<string>();
  /**
   * id → digest of the canonical JSON and type of its first arrival, for dedupe and id-reuse
   * checks (a digest, not the text: a large sync would otherwise be held twice).
   */
  private readonly seenIds = new Map<string, { canonical: string; type: string }>();
  private readonly ackedIds = new Set<string>();
  /** Unfinished jobs of dead sessions, per connector id, waiting for its next welcome. */
  private readonly redeliveries = new Map<string, string[]>();
  /** Session deaths per connector id not yet matched with a later welcome. */
  private readonly deaths = new Map<string, { at: number; code: number }[]>();
  private waiters: Waiter<unknown>[] = [];

  private constructor(opts: ControlPlaneOptions) {
    this.opts = opts;
    this.heartbeatSeconds = opts.heartbeatSeconds ?? 20;
    if (!Number.isInteger(this.heartbeatSeconds) || this.heartbeatSeconds < 5 || this.heartbeatSeconds > 120) {
      throw new RangeError('heartbeatSeconds must be an integer from 5 to 120 (docs/protocol.md, "Hello and welcome")');
    }
    this.window = opts.window ?? 16;
    this.deadAfterMs = opts.deadAfterMs ?? 2 * this.heartbeatSeconds * 1000;
    this.tokens = opts.tokens ?? ['test-token'];
    this.rejectStatus = opts.rejectUpgradeStatus ?? null;
    this.autoAck = opts.autoAck ?? true;
    if (opts.signingKey) {
      const key = createPrivateKey(opts.signingKey.privateKeyPem);
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('signingKey must be an Ed25519 private key');
      const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
      this.signer = { key, keyId: createHash('sha256').update(der).digest('base64url') };
    }
  }

  static async start(opts: ControlPlaneOptions = {}): Promise<ReferenceControlPlane> {
    const cp = new ReferenceControlPlane(opts);
    await cp.listen(opts.port ?? 0);
    return cp;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    // TLS certificates for tests are issued to "localhost"; the socket is still bound to 127.0.0.1.
    return this.opts.tls ? `wss://localhost:${this.boundPort}${CONNECT_PATH}` : `ws://127.0.0.1:${this.boundPort}${CONNECT_PATH}`;
  }

  /** The key id sendJob puts in signed jobs, or null without a signing key. */
  get keyId(): string | null {
    return this.signer?.keyId ?? null;
  }

  // ------------------------------------------------------------------------------
  // Lifecycle

  private async listen(port: number): Promise<void> {
    const tls = this.opts.tls;
    const server = tls
      ? https.createServer({
          key: tls.keyPem,
          cert: tls.certPem,
          ...(tls.caPem ? { ca: tls.caPem } : {}),
          // Ask for a client certificate but record the verdict instead of refusing, so
          // tests can assert what the connector presented.
          requestCert: tls.requestClientCert ?? false,
          rejectUnauthorized: false,
        })
      : http.createServer();
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end(`use a WebSocket upgrade on ${CONNECT_PATH}\n`);
    });
    // A larger limit than the protocol's 1 MiB so that an oversized frame is recorded as a
    // violation instead of ws closing the socket with 1009.
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: 16 * MAX_FRAME_BYTES,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.wss = wss;
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : port;
    const tick = Math.max(50, Math.min(1000, Math.floor(this.deadAfterMs / 4)));
    this.deadTimer = setInterval(() => this.applyDeadSocketRule(), tick);
  }

  /** Closes the server and every session abruptly, like a crash. State is kept. */
  async stop(): Promise<void> {
    if (this.deadTimer) clearInterval(this.deadTimer);
    this.deadTimer = null;
    this.endingAll = true;
    for (const s of this.liveSessions()) {
      this.markDead(s, 1006, 'control plane stopped', 'server');
      s.socket.destroy();
    }
    this.endingAll = false;
    const server = this.server;
    this.server = null;
    this.wss?.close();
    this.wss = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** stop() then listen again on the same port, keeping received[], jobs and violations. */
  async restart(): Promise<void> {
    if (this.closed) throw new Error('control plane is closed');
    await this.stop();
    await this.listen(this.boundPort);
  }

  /** Ends for good: sessions are closed with 1001 (going away), pending waits fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const live = this.liveSessions();
    const closedAll = Promise.all(
      live.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.ws.readyState === WebSocket.CLOSED) return resolve();
            s.ws.once('close', () => resolve());
            this.markDead(s, 1001, 'going away', 'server');
            s.ws.close(1001, 'going away');
          }),
      ),
    );
    await Promise.race([closedAll, delay(1000)]);
    await this.stop();
    for (const w of this.waiters) w.fail(new Error('control plane closed'));
    this.waiters = [];
  }

  // ------------------------------------------------------------------------------
  // Upgrade

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const record: UpgradeRecord = { at: Date.now(), path: req.url ?? '', headers: req.headers, status: 101 };
    this.upgrades.push(record);
    // Node hands an upgrade's socket over without an error listener. A client may reset the
    // connection while reading a refusal (the connector drops a redirect at once), and an
    // unheard ECONNRESET would crash the process hosting this control plane, a test runner.
    socket.on('error', () => {});
    const tlsSocket = socket as TLSSocket;
    if (this.opts.tls?.requestClientCert && typeof tlsSocket.getPeerCertificate === 'function') {
      const cert = tlsSocket.getPeerCertificate();
      const presented = !!cert && Object.keys(cert).length > 0;
      record.clientCert = { presented, authorized: tlsSocket.authorized, ...(presented && cert.subject ? { subject: String(cert.subject.CN) } : {}) };
    }
    const refuse = (status: number, why: string, extraHeaders: Record<string, string> = {}, violation = false): void => {
      record.status = status;
      record.refusedBecause = why;
      if (violation) this.violation(`upgrade refused: ${why}`);
      this.emit({ kind: 'upgrade', upgrade: record });
      // The body never echoes a header value: the Authorization header is a secret.
      const body = `${why}\n`;
      const lines = [
        `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
        'Connection: close',
        'Content-Type: text/plain',
        `Content-Length: ${Buffer.byteLength(body)}`,
        ...Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}`),
      ];
      socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
    };

    const path = (req.url ?? '').split('?')[0];
    if (path !== CONNECT_PATH) return refuse(404, `no WebSocket endpoint at ${path}; use ${CONNECT_PATH}`);
    if (this.opts.redirectTo) return refuse(302, 'moved', { Location: this.opts.redirectTo });
    if (this.rejectStatus) return refuse(this.rejectStatus, 'control plane rejected the token');
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer (\S+)$/.exec(auth)?.[1];
    if (!token || !this.tokens.includes(token)) return refuse(401, 'missing or unknown bearer token');
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!protocols.includes(PROTOCOL)) return refuse(400, `Sec-WebSocket-Protocol must offer ${PROTOCOL}`, {}, true);
    const connectorId = req.headers['x-connector-id'];
    if (typeof connectorId !== 'string' || connectorId.length === 0) return refuse(400, 'X-Connector-Id header missing', {}, true);
    const ua = req.headers['user-agent'] ?? '';
    if (!ua.startsWith('access-connector/')) return refuse(400, 'User-Agent must start with access-connector/', {}, true);

    const wss = this.wss;
    if (!wss) return refuse(400, 'control plane stopping');
    this.emit({ kind: 'upgrade', upgrade: record });
    wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket as Socket, connectorId));
  }

  private onConnection(ws: WebSocket, socket: Socket, headerConnectorId: string): void {
    const session: Session = {
      id: randomUUID(),
      ws,
      socket,
      headerConnectorId,
      hello: null,
      welcomedAt: null,
      lastByteAt: Date.now(),
      alive: true,
      pendingAck: new Set(),
      held: [],
    };
    this.allSessions.set(session.id, session);
    // Any byte counts for the dead-socket rule, pings and pongs included.
    socket.on('data', () => {
      session.lastByteAt = Date.now();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.silent) session.held.push({ data, isBinary });
      else this.onMessage(session, data, isBinary);
    });
    ws.on('close', (code: number, reason: Buffer) => this.markDead(session, code, reason.toString('utf8'), 'connector'));
    ws.on('error', () => {
      /* 'close' follows; the error itself is the connector's problem, not ours */
    });
    if (this.silent) ws.pause();
  }

  // ------------------------------------------------------------------------------
  // Inbound frames

  private onMessage(session: Session, data: Buffer, isBinary: boolean): void {
    const raw = data.toString('utf8');
    const at = Date.now();
    const where = `session ${session.id.slice(0, 8)}`;
    if (isBinary) {
      this.record(session, at, raw, null);
      this.violation(`${where}: binary frame (${data.length} bytes); frames are UTF-8 text`);
      this.sendError(session, 'invalid_frame', 'frames must be UTF-8 text');
      return;
    }
    if (data.length > MAX_FRAME_BYTES) {
      this.record(session, at, raw, null);
      this.violation(`${where}: frame of ${data.length} bytes exceeds ${MAX_FRAME_BYTES}`);
      this.sendError(session, 'frame_too_large', `frames are at most ${MAX_FRAME_BYTES} bytes`);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.record(session, at, raw, null);
      this.violation(`${where}: frame is not a JSON object`);
      this.sendError(session, 'invalid_json', 'frame is not a JSON object');
      return;
    }
    const frame = parsed as Record<string, unknown>;
    const type = typeof frame['type'] === 'string' ? (frame['type'] as string) : '(none)';
    const id = typeof frame['id'] === 'string' ? (frame['id'] as string) : undefined;
    this.checkId(where, frame, type, id);
    this.recordOnly(session, at, raw, frame);
    this.handleFrame(session, where, frame, type, id);
    this.notify();
  }

  private handleFrame(session: Session, where: string, frame: Record<string, unknown>, type: string, id: string | undefined): void {
    if (!session.hello && !session.alive) return; // already closed for a bad first frame
    if (!session.hello && type !== 'hello') {
      this.violation(`${where}: first frame is ${type}, not hello`);
      this.sendError(session, 'protocol', 'the first frame must be hello', id);
      session.ws.close(4400, 'hello expected');
      this.markDead(session, 4400, 'hello expected', 'server');
      return;
    }
    const schema = (outboundSchemas as Record<string, z.ZodType | undefined>)[type];
    if (!schema) {
      // Forward compatibility is by optional fields only (protocol intro), so a v1
      // connector has no business sending a type v1 does not define.
      this.violation(`${where}: unknown frame type ${type}`);
      return;
    }
    const result = schema.safeParse(frame);
    if (!result.success) {
      this.violation(`${where}: ${type} fails the schema: ${describeIssues(result.error)}`);
      this.sendError(session, 'invalid_frame', `${type}: ${describeIssues(result.error)}`, id);
      return;
    }
    const f = result.data as Record<string, unknown>;
    if (id && ACKED_TYPES.has(type as never)) this.onAckable(session, id, f);
    const jobId = typeof f['jobId'] === 'string' ? (f['jobId'] as string) : undefined;
    const job = jobId ? this.jobTable.get(jobId) : undefined;
    if (jobId && !job && !this.rawJobIds.has(jobId)) this.violation(`${where}: ${type} for jobId ${jobId}, which was never sent`);
    const at = Date.now();
    switch (type) {
      case 'hello':
        return this.onHello(session, where, f as HelloFrame);
      case 'job.accepted':
        if (job && !job.accepted) job.accepted = { at, sessionId: session.id };
        return;
      case 'job.rejected':
        if (job && !job.rejected) job.rejected = { at, reason: String(f['reason']), message: String(f['message']) };
        return;
      case 'job.progress':
        if (job) job.progress = f as JobProgressFrame;
        return;
      case 'sync.batch':
        if (job) this.onBatch(where, job, f, id ?? '');
        return;
      case 'job.result':
        if (!job) return;
        if (!job.result) {
          job.result = f as JobResultFrame;
          job.resultAt = at;
        } else if (job.result.id !== id) {
          // docs/protocol.md, "Dedupe of jobs": a finished job answers a redelivery with its stored result, same id.
          this.violation(`${where}: second job.result for ${job.jobId} with a new id (${id})`);
        }
        return;
      default:
        return; // error frames from the connector are recorded in received[] only
    }
  }

  private onHello(session: Session, where: string, hello: HelloFrame): void {
    if (session.hello) {
      this.violation(`${where}: second hello on one connection`);
      return;
    }
    if (hello.connectorId !== session.headerConnectorId) {
      this.violation(`${where}: hello.connectorId ${hello.connectorId} differs from X-Connector-Id ${session.headerConnectorId}`);
    }
    session.hello = hello;
    session.welcomedAt = Date.now();
    this.send(session, {
      type: 'welcome',
      id: randomUUID(),
      sessionId: session.id,
      heartbeatSeconds: this.heartbeatSeconds,
      window: this.window,
    });
    const info = this.info(session);
    const died = this.deaths.get(hello.connectorId)?.shift();
    if (died) {
      this.reconnectGaps.push({
        connectorId: hello.connectorId,
        diedAt: died.at,
        welcomedAt: info.welcomedAt,
        gapMs: info.welcomedAt - died.at,
        closeCode: died.code,
        sessionId: session.id,
      });
    }
    this.emit({ kind: 'welcomed', session: info });
    const pending = this.redeliveries.get(hello.connectorId) ?? [];
    this.redeliveries.delete(hello.connectorId);
    for (const jobId of pending) this.redeliver(jobId, session);
  }

  private onBatch(where: string, job: JobRecord, f: Record<string, unknown>, id: string): void {
    const seq = f['seq'] as number;
    const entities = (f['entities'] as unknown[]).length;
    const existing = job.batches.get(seq);
    if (existing) {
      if (existing.id !== id) this.violation(`${where}: sync.batch seq ${seq} of ${job.jobId} sent again with a new id`);
      return;
    }
    const expected = job.batches.size === 0 ? 0 : Math.max(...job.batches.keys()) + 1;
    if (seq !== expected) this.violation(`${where}: sync.batch of ${job.jobId} has seq ${seq}, expected ${expected}`);
    if (job.result) this.violation(`${where}: sync.batch seq ${seq} of ${job.jobId} after its job.result`);
    const batch: BatchRecord = { id, at: Date.now(), entities };
    if (typeof f['cursor'] === 'string') batch.cursor = f['cursor'];
    job.batches.set(seq, batch);
    // Our count of unacked batches can only be lower than the connector's (acks in flight),
    // so exceeding the window here is a real breach, never a race.
    let unacked = 0;
    for (const b of job.batches.values()) if (!this.ackedIds.has(b.id)) unacked++;
    if (unacked > this.window) this.violation(`${where}: ${unacked} unacked sync.batch of ${job.jobId}, window is ${this.window}`);
  }

  private checkId(where: string, frame: Record<string, unknown>, type: string, id: string | undefined): void {
    if (!id) return; // the schema check reports it
    const canonical = createHash('sha256').update(safeCanonical(frame)).digest('base64');
    const seen = this.seenIds.get(id);
    if (!seen) {
      this.seenIds.set(id, { canonical, type });
      return;
    }
    // A resent acked frame repeats its id with the same content; anything else reusing an
    // id breaks "unique per sender" and would make the control plane drop a real message.
    if (!ACKED_TYPES.has(type as never)) this.violation(`${where}: ${type} reuses id ${id}`);
    else if (seen.canonical !== canonical) this.violation(`${where}: ${type} reuses id ${id} with different content`);
  }

  private onAckable(session: Session, id: string, frame: Record<string, unknown>): void {
    const drop = this.ackDrops.findIndex((matches) => matches(frame));
    if (drop >= 0) {
      this.ackDrops.splice(drop, 1);
      this.droppedAcks.push(id);
      return;
    }
    if (!this.autoAck) {
      session.pendingAck.add(id);
      return;
    }
    const delayMs = this.opts.ackDelayMs ?? 0;
    if (delayMs <= 0) return this.sendAck(session, [id]);
    session.pendingAck.add(id);
    setTimeout(() => {
      if (session.alive && !this.silent && session.pendingAck.delete(id)) this.sendAck(session, [id]);
    }, delayMs).unref();
  }

  private record(session: Session, at: number, raw: string, frame: Record<string, unknown> | null): void {
    this.recordOnly(session, at, raw, frame);
    this.notify();
  }

  private recordOnly(session: Session, at: number, raw: string, frame: Record<string, unknown> | null): void {
    if (this.opts.keepBatchEntities === false && frame?.['type'] === 'sync.batch') {
      const { entities: _e, ...envelope } = frame;
      this.received.push({ sessionId: session.id, at, raw: '', frame: envelope });
    } else this.received.push({ sessionId: session.id, at, raw, frame });
    this.emit({ kind: 'frame', direction: 'in', sessionId: session.id, frame, raw });
  }

  // ------------------------------------------------------------------------------
  // Sessions and the dead-socket rule

  private liveSessions(): Session[] {
    return [...this.allSessions.values()].filter((s) => s.alive);
  }

  private welcomedSessions(connectorId?: string): Session[] {
    return this.liveSessions().filter((s) => s.hello && (!connectorId || s.hello.connectorId === connectorId));
  }

  private info(s: Session): SessionInfo {
    return { sessionId: s.id, connectorId: s.hello!.connectorId, hello: s.hello!, welcomedAt: s.welcomedAt! };
  }

  /** Live, welcomed sessions. */
  sessions(): SessionInfo[] {
    return this.welcomedSessions().map((s) => this.info(s));
  }

  private applyDeadSocketRule(): void {
    if (this.silent) return; // we are the stalled side: the connector must notice, not us
    const now = Date.now();
    for (const s of this.liveSessions()) {
      if (now - s.lastByteAt <= this.deadAfterMs) continue;
      // Send the close frame where the socket still takes it, but do not wait for the
      // peer that has gone quiet: terminate shortly after.
      s.ws.close(4408, 'heartbeat timeout');
      this.markDead(s, 4408, 'heartbeat timeout', 'server');
      setTimeout(() => s.ws.terminate(), 500).unref();
    }
  }

  private markDead(s: Session, code: number, reason: string, by: 'connector' | 'server'): void {
    if (!s.alive) return;
    s.alive = false;
    s.pendingAck.clear();
    s.held = [];
    const connectorId = s.hello?.connectorId ?? null;
    const close: SessionClose = { sessionId: s.id, connectorId, at: Date.now(), code, reason, by };
    this.closes.push(close);
    this.emit({ kind: 'closed', close });
    if (!connectorId) return;
    const list = this.deaths.get(connectorId) ?? [];
    list.push({ at: close.at, code });
    this.deaths.set(connectorId, list);
    if (this.opts.redeliverOnSessionDeath === false || this.closed) return;
    for (const job of this.jobTable.values()) {
      if (job.sessionId !== s.id || job.result || job.rejected || job.cancelRequestedAt !== null) continue;
      // docs/protocol.md, "Authentication": redeliver elsewhere only once the session holding it is dead.
      const other = this.endingAll ? undefined : this.welcomedSessions(connectorId)[0];
      if (other) this.redeliver(job.jobId, other);
      else {
        const queue = this.redeliveries.get(connectorId) ?? [];
        if (!queue.includes(job.jobId)) queue.push(job.jobId);
        this.redeliveries.set(connectorId, queue);
      }
    }
  }

  private redeliver(jobId: string, session: Session): void {
    const job = this.jobTable.get(jobId);
    if (!job || job.result || job.rejected) return;
    // The signature does not cover `id`, so a signed job stays valid with a new frame id.
    const frame = { ...job.frame, id: randomUUID() };
    this.dispatch(job, frame, session, true);
  }

  /** Stops reading from every session (no pongs, no acks, nothing processed) or resumes. */
  goSilent(on: boolean): void {
    this.silent = on;
    for (const s of this.liveSessions()) {
      if (on) {
        s.ws.pause();
        continue;
      }
      s.lastByteAt = Date.now(); // the silence was ours; do not count it against the connector
      const held = s.held;
      s.held = [];
      for (const m of held) if (s.alive) this.onMessage(s, m.data, m.isBinary);
      s.ws.resume();
    }
  }

  /** Closes every live session: 'close' sends a close frame with `code`; 'terminate' resets TCP. */
  dropSessions(how: 'close' | 'terminate' = 'close', code = 1001): void {
    this.endingAll = true;
    for (const s of this.liveSessions()) {
      if (how === 'close') {
        s.ws.close(code, closeReason(code));
        this.markDead(s, code, closeReason(code), 'server');
      } else {
        this.markDead(s, 1006, 'terminated', 'server');
        s.socket.resetAndDestroy();
      }
    }
    this.endingAll = false;
  }

  setRejectUpgradeStatus(status: 401 | 403 | null): void {
    this.rejectStatus = status;
  }

  setTokens(tokens: string[]): void {
    this.tokens = [...tokens];
  }

  // ------------------------------------------------------------------------------
  // Outbound

  private send(session: Session, frame: Record<string, unknown>): void {
    if (!session.alive || session.ws.readyState !== WebSocket.OPEN) return;
    const raw = JSON.stringify(frame);
    session.ws.send(raw);
    this.sent.push({ sessionId: session.id, at: Date.now(), frame });
    this.emit({ kind: 'frame', direction: 'out', sessionId: session.id, frame, raw });
  }

  private sendError(session: Session, code: string, message: string, refId?: string): void {
    this.send(session, { type: 'error', id: randomUUID(), code, message, ...(refId ? { refId } : {}) });
  }

  private sendAck(session: Session, ids: string[]): void {
    if (ids.length === 0) return;
    for (const id of ids) {
      this.ackedIds.add(id);
      session.pendingAck.delete(id);
    }
    this.send(session, { type: 'ack', id: randomUUID(), ids });
  }

  private sessionFor(sessionId: string | undefined, connectorId?: string): Session {
    if (sessionId) {
      const s = this.allSessions.get(sessionId);
      if (!s || !s.alive || !s.hello) throw new Error(`session ${sessionId} is not live`);
      return s;
    }
    const candidates = this.welcomedSessions(connectorId);
    if (candidates.length === 0) throw new Error(connectorId ? `no live session for connector ${connectorId}` : 'no live session');
    // Spread jobs over replicas: the session holding the fewest unfinished jobs.
    const load = (s: Session) => [...this.jobTable.values()].filter((j) => j.sessionId === s.id && !j.result && !j.rejected).length;
    return candidates.reduce((best, s) => (load(s) < load(best) ? s : best));
  }

  /**
   * Sends a job to one live session. Missing fields are filled (id, jobId, attempt 1,
   * notAfter now + 10 min — 14 min when signed —, the demo integration, params {} or
   * { mode: 'full' } for sync). `raw: true` sends the given fields as they are (plus type
   * and id) for malformed-job tests. Signs when a signing key is configured, unless `sign: false`.
   */
  sendJob(job: JobInput, opts: { sessionId?: string; sign?: boolean; raw?: boolean } = {}): { id: string; jobId: string; frame: Record<string, unknown> } {
    const session = this.sessionFor(opts.sessionId);
    const doSign = opts.sign ?? this.signer !== null;
    if (doSign && !this.signer) throw new Error('sendJob({sign: true}) needs the signingKey option');
    const minutes = doSign ? 14 : 10;
    const frame: Record<string, unknown> = opts.raw
      ? { type: 'job', id: randomUUID(), ...job }
      : {
          type: 'job',
          id: randomUUID(),
          jobId: randomUUID(),
          attempt: 1,
          notAfter: new Date(Date.now() + minutes * 60_000).toISOString(),
          integration: DEMO_INTEGRATION,
          params: job.jobType === 'sync' ? { mode: 'full' } : {},
          ...job,
        };
    if (doSign && this.signer) {
      if (!('connectorId' in job)) frame['connectorId'] = session.hello!.connectorId;
      if (!('keyId' in job)) frame['keyId'] = this.signer.keyId;
      delete frame['signature'];
      frame['signature'] = sign(null, Buffer.from(signingInput(frame), 'utf8'), this.signer.key).toString('base64');
    }
    const jobId = frame['jobId'];
    if (typeof jobId !== 'string') {
      // Only possible with raw: a malformed job the connector should answer with error.
      this.send(session, frame);
      return { id: String(frame['id']), jobId: '', frame };
    }
    const existing = this.jobTable.get(jobId);
    const record: JobRecord = existing ?? {
      jobId,
      jobType: String(frame['jobType']),
      frame,
      sentAt: Date.now(),
      sends: [],
      sessionId: session.id,
      connectorId: session.hello!.connectorId,
      accepted: null,
      rejected: null,
      progress: null,
      batches: new Map(),
      result: null,
      resultAt: null,
      cancelRequestedAt: null,
    };
    // The same jobId sent again (after busy/draining) starts a fresh attempt at admission.
    if (existing) existing.rejected = null;
    this.jobTable.set(jobId, record);
    this.dispatch(record, frame, session, false);
    return { id: String(frame['id']), jobId, frame };
  }

  private dispatch(job: JobRecord, frame: Record<string, unknown>, session: Session, redelivery: boolean): void {
    job.frame = frame;
    job.sessionId = session.id;
    job.connectorId = session.hello!.connectorId;
    job.sends.push({ at: Date.now(), sessionId: session.id, frameId: String(frame['id']), redelivery });
    this.send(session, frame);
  }

  /** Sends job.cancel to the session holding the job (or `sessionId`). */
  cancelJob(jobId: string, sessionId?: string): void {
    const job = this.jobTable.get(jobId);
    let target: Session;
    if (sessionId) target = this.sessionFor(sessionId);
    else {
      const holder = job ? this.allSessions.get(job.sessionId) : undefined;
      target = holder?.alive ? holder : this.sessionFor(undefined, job?.connectorId);
    }
    if (job) job.cancelRequestedAt = Date.now();
    this.send(target, { type: 'job.cancel', id: randomUUID(), jobId });
  }

  /** Any bytes, to one session or every live one (fuzzing). Not recorded in sent[]. */
  sendRaw(data: string | Buffer, opts: { sessionId?: string; binary?: boolean } = {}): void {
    // A raw frame may still carry a jobId the connector will answer about; remember it so
    // that answer is not reported as a reply to a job never sent.
    try {
      const parsed = JSON.parse(data.toString()) as unknown;
      const jobId = (parsed as { jobId?: unknown } | null)?.jobId;
      if (typeof jobId === 'string') this.rawJobIds.add(jobId);
    } catch {
      // not JSON: nothing to remember
    }
    const targets = opts.sessionId ? [this.allSessions.get(opts.sessionId)].filter((s): s is Session => !!s?.alive) : this.liveSessions();
    for (const s of targets) s.ws.send(data, { binary: opts.binary ?? false });
  }

  /** Acks `ids` on one session, or on every welcomed session (unknown ids are harmless). */
  ack(ids: string[], sessionId?: string): void {
    const targets = sessionId ? [this.sessionFor(sessionId)] : this.welcomedSessions();
    for (const s of targets) this.sendAck(s, ids);
  }

  /**
   * The ack of the next frame matching `pred` is lost: never sent, on a connection that
   * stays up. A later copy of the same frame is acked as usual.
   */
  dropAckOnce(pred: (frame: Record<string, unknown>) => boolean): void {
    this.ackDrops.push(pred);
  }

  /** Turning auto-ack on also acks everything pending, so a sync held at its window resumes. */
  setAutoAck(on: boolean): void {
    this.autoAck = on;
    if (on) this.ackAll();
  }

  /** Acks everything received and not yet acked, each on the session it arrived on. */
  ackAll(): void {
    for (const s of this.liveSessions()) this.sendAck(s, [...s.pendingAck]);
  }

  // ------------------------------------------------------------------------------
  // Queries

  /** First arrival of every message id (the protocol's dedupe), frames without an id kept. */
  unique(): ReceivedFrame[] {
    const seen = new Set<string>();
    return this.received.filter((r) => {
      const id = r.frame?.['id'];
      if (typeof id !== 'string') return true;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  duplicates(): number {
    return this.received.length - this.unique().length;
  }

  jobs(): JobRecord[] {
    return [...this.jobTable.values()];
  }

  job(jobId: string): JobRecord | undefined {
    return this.jobTable.get(jobId);
  }

  /** Resolves with the first existing or future received frame matching `pred`. */
  waitFor(pred: (f: ReceivedFrame) => boolean, timeoutMs = 5000): Promise<ReceivedFrame> {
    return this.wait(() => this.received.find(pred), timeoutMs, 'a matching frame');
  }

  /** Resolves with a live welcomed session (optionally one matching `filter`), existing or future. */
  // 20 s by default: callers spawn a connector just before, and on a loaded machine its
  // start (module loading, TLS) can take several seconds; only a real failure waits this long.
  waitForSession(timeoutMs = 20_000, filter: (s: SessionInfo) => boolean = () => true): Promise<SessionInfo> {
    return this.wait(() => this.sessions().find(filter), timeoutMs, 'a welcomed session');
  }

  async waitForResult(jobId: string, timeoutMs = 10_000): Promise<JobResultFrame> {
    await this.wait(() => this.jobTable.get(jobId)?.result ?? undefined, timeoutMs, `job.result of ${jobId}`);
    return this.jobTable.get(jobId)!.result!;
  }

  private wait<T>(test: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = test();
    if (now !== undefined) return Promise.resolve(now);
    if (this.closed) return Promise.reject(new Error('control plane closed'));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        test,
        resolve: (v: T) => {
          clearTimeout(timer);
          resolve(v);
        },
        fail: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const last = this.received.slice(-5).map((r) => (r.frame?.['type'] as string | undefined) ?? '(unparsed)');
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last frames received: [${last.join(', ')}]`));
      }, timeoutMs);
      this.waiters.push(waiter as Waiter<unknown>);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      const v = w.test();
      if (v !== undefined) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(v);
      }
    }
  }

  private violation(message: string): void {
    this.violations.push(message);
    this.emit({ kind: 'violation', message });
  }

  private emit(event: ControlPlaneEvent): void {
    // A welcome or a close can satisfy waitForSession.
    if (event.kind === 'welcomed') queueMicrotask(() => this.notify());
    this.opts.onEvent?.(event);
  }
}

function safeCanonical(v: unknown): string {
  try {
    return canonicalize(v);
  } catch {
    return JSON.stringify(v);
  }
}

function closeReason(code: number): string {
  return { 1001: 'going away', 4400: 'protocol error', 4401: 'token revoked', 4408: 'heartbeat timeout' }[code] ?? '';
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
