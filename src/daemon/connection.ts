// The outbound WebSocket to the control plane (docs/protocol.md, "Connection"): dial, hello/welcome,
// heartbeat and dead-socket detection, and reconnection with backoff. Everything above
// it (outbox, jobs) survives a reconnect; this class only owns the socket.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ClientRequest } from 'node:http';
import WebSocket from 'ws';
import { readToken, type Config } from '../config.js';
import { ConnectorError, type ErrorCode } from '../errors.js';
import { registerSecret, type Logger } from '../log.js';
import { decodeFrame, encodeFrame, errorFrame, refIdOf } from '../protocol/codec.js';
import { PROTOCOL, welcomeFrame, describeIssues, type HelloFrame, type OutboundFrame, type WelcomeFrame } from '../protocol/messages.js';
import { ControlPlaneAgent } from './dialer.js';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'ready' | 'waiting' | 'auth_rejected' | 'stopped';
export const CONNECTION_STATES: readonly ConnectionState[] = ['idle', 'connecting', 'open', 'ready', 'waiting', 'auth_rejected', 'stopped'];

/** The timings of docs/protocol.md, "Connection". Tests shrink them; production uses the defaults. */
export interface Timing {
  firstReconnectMaxMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  resetAfterMs: number;
  authRetryMs: number;
  handshakeTimeoutMs: number;
  defaultHeartbeatSeconds: number;
  /** A sync held at a full window this long resends its unacked frames on the live connection. */
  ackResendMs: number;
}

export const DEFAULT_TIMING: Timing = {
  firstReconnectMaxMs: 10_000,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
  resetAfterMs: 60_000,
  authRetryMs: 5 * 60_000,
  handshakeTimeoutMs: 15_000,
  defaultHeartbeatSeconds: 20,
  ackResendMs: 30_000,
};

/** Largest frame we accept from the socket at all; 1 MiB–8 MiB is answered with `error`. */
const HARD_MAX_PAYLOAD = 8 * 1024 * 1024;

export interface ConnectionEvents {
  state: [ConnectionState];
  ready: [WelcomeFrame];
  frame: [Record<string, unknown>, string];
  down: [];
}

export interface ConnectionDeps {
  config: Config;
  log: Logger;
  version: string;
  hello: () => HelloFrame;
  timing?: Partial<Timing>;
  random?: () => number;
  onFrameIn?: (type: string) => void;
  onFrameOut?: (type: string) => void;
}

/** The upgrade request's headers (docs/protocol.md, "Authentication"). */
export function upgradeHeaders(connectorId: string, token: string, version: string): Record<string, string> {
  return {
    Authorization: `Bearer ${token}`,
    'X-Connector-Id': connectorId,
    'User-Agent': `access-connector/${version}`,
  };
}

/** The checked agent for this configuration (proxy, trust, client certificate, pins). */
export function agentFor(config: Config, timeoutMs: number): ControlPlaneAgent {
  return new ControlPlaneAgent({
    url: config.controlPlaneUrl,
    pins: config.pins,
    noProxy: config.noProxy,
    timeoutMs,
    ...(config.caPem !== undefined && { caPem: config.caPem }),
    ...(config.clientCert !== undefined && { clientCert: config.clientCert }),
    ...(config.proxy !== undefined && { proxy: config.proxy }),
  });
}

/** Full-jitter exponential backoff: uniform in [0, min(cap, base·2^(n-1))]. */
export function backoffDelay(failures: number, t: Pick<Timing, 'backoffBaseMs' | 'backoffCapMs'>, random: () => number): number {
  const ceiling = Math.min(t.backoffCapMs, t.backoffBaseMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * ceiling);
}

export class Connection extends EventEmitter<ConnectionEvents> {
  private readonly timing: Timing;
  private readonly random: () => number;
  private ws: WebSocket | undefined;
  private stateValue: ConnectionState = 'idle';
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatSeconds: number;
  private lastByteAt = 0;
  private lastPingAt = 0;
  private openedAt = 0;
  private authRejectedLogged = false;
  private unreachableLogged = false;
  private stopping = false;
  welcome: WelcomeFrame | undefined;
  reconnects = 0;

  constructor(private readonly deps: ConnectionDeps) {
    super();
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
    this.random = deps.random ?? Math.random;
    this.heartbeatSeconds = this.timing.defaultHeartbeatSeconds;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get isReady(): boolean {
    return this.stateValue === 'ready';
  }

  start(): void {
    if (this.stateValue !== 'idle') return;
    this.dial();
  }

  /** Sends now if the session is ready (or if it is the hello). Returns whether it was written. */
  send(frame: OutboundFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    if (this.stateValue !== 'ready' && frame.type !== 'hello') return false;
    ws.send(encodeFrame(frame));
    this.deps.onFrameOut?.(frame.type);
    return true;
  }

  /** Closes with 1001 (going away) and stops reconnecting. */
  async close(code = 1001, reason = 'going away'): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    const ws = this.ws;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000);
        ws.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
        else ws.terminate();
      });
    }
    this.setState('stopped');
  }

  private setState(s: ConnectionState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.emit('state', s);
  }

  private dial(): void {
    if (this.stopping) return;
    this.setState('connecting');
    const { config, log } = this.deps;
    let token: string;
    try {
      token = readToken(config.token);
      registerSecret(token);
    } catch (err) {
      const detail = err instanceof Error ? err.message : 'unreadable';
      log.error({ code: 'CONFIG_INVALID' }, `cannot read the connector token: ${detail}`);
      this.scheduleRetry('failure');
      return;
    }
    const ws = new WebSocket(config.controlPlaneUrl, PROTOCOL, {
      agent: agentFor(config, this.timing.handshakeTimeoutMs),
      headers: upgradeHeaders(config.connectorId, token, this.deps.version),
      followRedirects: false,
      handshakeTimeout: this.timing.handshakeTimeoutMs,
      maxPayload: HARD_MAX_PAYLOAD,
      // Compression of frames that mix secrets and attacker-chosen text is a known
      // side channel; frames are small JSON anyway.
      perMessageDeflate: false,
    });
    this.ws = ws;
    let outcome: 'auth' | 'failure' | 'up' | undefined;
    let failure: { code: ErrorCode; message: string } | undefined;
    let authStatus = 0;

    ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      res.resume();
      req.destroy();
      if (status === 401 || status === 403) {
        outcome = 'auth';
        authStatus = status;
      } else if (status >= 300 && status < 400) {
        outcome = 'failure';
        failure = { code: 'CONTROL_PLANE_REDIRECT', message: `control plane answered the upgrade with a ${status} redirect, which is never followed` };
      } else {
        outcome = 'failure';
        failure = { code: 'CONTROL_PLANE_UNREACHABLE', message: `control plane answered the upgrade with HTTP ${status}` };
      }
      ws.terminate();
    });
    ws.on('upgrade', (res: IncomingMessage) => {
      if (res.headers['sec-websocket-protocol'] !== PROTOCOL) {
        outcome = 'failure';
        failure = { code: 'PROTOCOL_ERROR', message: `control plane did not agree to the ${PROTOCOL} subprotocol` };
      }
    });
    ws.on('open', () => {
      outcome = 'up';
      this.openedAt = Date.now();
      this.lastByteAt = Date.now();
      this.lastPingAt = Date.now();
      this.heartbeatSeconds = this.timing.defaultHeartbeatSeconds;
      this.welcome = undefined;
      this.setState('open');
      this.startHeartbeat();
      this.send(this.deps.hello());
      // A peer that upgrades and answers pings but never welcomes would otherwise hold the
      // connector in `open` forever (not ready, outbox never resent).
      const welcomeTimer = setTimeout(() => {
        if (this.ws === ws && this.stateValue === 'open') {
          this.deps.log.warn({ event: 'connection.failed', code: 'PROTOCOL_ERROR' }, `no welcome within ${this.timing.handshakeTimeoutMs} ms; dropping the connection`);
          ws.close(4400, 'no welcome');
          setTimeout(() => ws.terminate(), 1000).unref();
        }
      }, this.timing.handshakeTimeoutMs);
      ws.once('close', () => clearTimeout(welcomeTimer));
    });
    ws.on('message', (data, isBinary) => {
      this.lastByteAt = Date.now();
      this.onMessage(ws, data as Buffer, isBinary);
    });
    ws.on('ping', () => {
      this.lastByteAt = Date.now();
    });
    ws.on('pong', () => {
      this.lastByteAt = Date.now();
    });
    ws.on('error', (err: Error) => {
      if (outcome === undefined) {
        outcome = 'failure';
        failure =
          err instanceof ConnectorError
            ? { code: err.code, message: err.message }
            : { code: 'CONTROL_PLANE_UNREACHABLE', message: err.message };
      }
      log.debug({ err: { message: err.message } }, 'control plane socket error');
    });
    ws.on('close', (code: number, reasonBuf: Buffer) => {
      if (this.ws === ws) this.ws = undefined;
      this.stopHeartbeat();
      const wasReady = this.stateValue === 'ready';
      if (this.stopping) return;
      const reason = reasonBuf.toString('utf8').slice(0, 200);
      if (outcome === 'up') {
        if (wasReady) this.emit('down');
        if (code === 4401) {
          this.onAuthRejected('closed the connection with 4401 (token revoked)');
          return;
        }
        const upFor = Date.now() - this.openedAt;
        log.warn(
          { event: 'connection.down', closeCode: code, reason, upForMs: upFor },
          `disconnected from control plane (close ${code}${reason ? `: ${reason}` : ''})`,
        );
        if (upFor >= this.timing.resetAfterMs) this.failures = 0;
        // Only a session (welcomed) counts as up: a peer that upgrades and then drops us
        // before welcome gets the growing backoff, not the 0–10 s spread.
        this.scheduleRetry(wasReady ? 'after-up' : 'failure');
      } else if (outcome === 'auth') {
        this.onAuthRejected(`answered the upgrade with HTTP ${authStatus}`);
      } else {
        const f = failure ?? { code: 'CONTROL_PLANE_UNREACHABLE' as const, message: `connection closed (${code})` };
        this.logUnreachable(f);
        this.scheduleRetry('failure');
      }
    });
  }

  private onMessage(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    const decoded = decodeFrame(data, isBinary);
    if (!decoded.ok) {
      this.deps.onFrameIn?.('invalid');
      this.deps.log.warn({ code: 'PROTOCOL_ERROR', frameError: decoded.error.code, bytes: decoded.bytes }, 'control plane sent an invalid frame');
      // hello was written when the socket opened, so an error frame is always in order here.
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(encodeFrame(decoded.error));
        this.deps.onFrameOut?.('error');
      }
      return;
    }
    this.deps.onFrameIn?.(decoded.type);
    if (decoded.type === 'welcome') {
      const parsed = welcomeFrame.safeParse(decoded.raw);
      if (!parsed.success) {
        // docs/protocol.md, "Hello and welcome": answered with error and otherwise ignored, on a new session (we keep waiting
        // for a valid one) as on a ready one.
        const detail = describeIssues(parsed.error);
        this.deps.log.warn({ code: 'PROTOCOL_ERROR' }, `invalid welcome: ${detail}`);
        ws.send(encodeFrame(errorFrame('FRAME_INVALID', detail, refIdOf(decoded.raw))));
        this.deps.onFrameOut?.('error');
        return;
      }
      if (this.stateValue === 'ready') {
        this.deps.log.debug('second welcome on one session ignored');
        return;
      }
      this.welcome = parsed.data;
      this.heartbeatSeconds = parsed.data.heartbeatSeconds;
      this.authRejectedLogged = false;
      const recovered = this.unreachableLogged || this.reconnects > 0;
      this.unreachableLogged = false;
      this.setState('ready');
      this.deps.log.info(
        { event: 'connection.ready', sessionId: parsed.data.sessionId, heartbeatSeconds: parsed.data.heartbeatSeconds, window: parsed.data.window },
        recovered ? 'reconnected to control plane' : 'connected to control plane',
      );
      this.emit('ready', parsed.data);
      return;
    }
    if (this.stateValue !== 'ready') {
      // docs/protocol.md, "Hello and welcome": nothing but welcome before welcome. Answer, do not act.
      this.deps.log.debug({ type: decoded.type }, 'frame before welcome ignored');
      return;
    }
    this.emit('frame', decoded.raw, decoded.type);
  }

  private onAuthRejected(how: string): void {
    this.setState('auth_rejected');
    const delay = this.timing.authRetryMs;
    const nextAttemptAt = new Date(Date.now() + delay).toISOString();
    if (!this.authRejectedLogged) {
      this.authRejectedLogged = true;
      this.deps.log.error(
        { event: 'connection.auth_rejected', code: 'CONTROL_PLANE_TOKEN_REJECTED', retryInMs: delay, nextAttemptAt },
        `control plane rejected the token: it ${how}; next attempt at ${nextAttemptAt} (in ${Math.round(delay / 1000)} s), ` +
          'reading the token file again; after replacing the token, send SIGHUP to try at once',
      );
    } else {
      this.deps.log.debug({ retryInMs: delay, nextAttemptAt }, `control plane still rejects the token (${how})`);
    }
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }

  /**
   * SIGHUP: the operator replaced the token. While waiting to dial (after a rejected token
   * or a failure), dial now; the token is read again on every dial. A live session is kept:
   * the new token is used on the next connection. Returns what was done.
   */
  retryNow(): 'dialing' | 'connected' | 'busy' {
    if (this.stopping) return 'busy';
    if (this.stateValue === 'auth_rejected' || this.stateValue === 'waiting') {
      clearTimeout(this.retryTimer);
      this.dial();
      return 'dialing';
    }
    return this.stateValue === 'ready' ? 'connected' : 'busy';
  }

  private logUnreachable(f: { code: ErrorCode; message: string }): void {
    if (!this.unreachableLogged) {
      this.unreachableLogged = true;
      this.deps.log.warn({ event: 'connection.failed', code: f.code }, `cannot connect to control plane: ${f.message}; retrying with backoff`);
    } else {
      this.deps.log.debug({ code: f.code, failures: this.failures }, `connection attempt failed: ${f.message}`);
    }
  }

  private scheduleRetry(kind: 'failure' | 'after-up'): void {
    if (this.stopping) return;
    this.setState('waiting');
    let delay: number;
    if (kind === 'after-up') {
      // Spread a fleet's reconnects after a control-plane restart (docs/protocol.md, "Reconnection and backoff"). Always 0–10 s after
      // a session, however recent the last drop: a control plane restarted every few
      // seconds must not push each reconnect out towards the 60 s cap. The attempt counter
      // (reset after 60 s up) still grows the waits after failed dials.
      delay = Math.floor(this.random() * this.timing.firstReconnectMaxMs);
    } else {
      delay = backoffDelay(this.failures, this.timing, this.random);
    }
    this.failures++;
    this.reconnects++;
    this.deps.log.debug({ delayMs: delay, failures: this.failures, after: kind === 'after-up' ? 'session' : 'failed-dial' }, 'reconnect scheduled');
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    // Each check is timed for the next deadline (the next ping, or the moment the silence
    // reaches 2 × hb), so a dead socket is dropped at 2 × hb, not up to a check interval
    // later. The welcome may change hb, so the deadline is recomputed on every check.
    const tick = () => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const hbMs = this.heartbeatSeconds * 1000;
      const now = Date.now();
      if (now - this.lastByteAt >= 2 * hbMs) {
        this.deps.log.warn(
          { event: 'connection.heartbeat_timeout', code: 'HEARTBEAT_TIMEOUT', silentForMs: now - this.lastByteAt },
          `no data from control plane for ${Math.round((now - this.lastByteAt) / 1000)} s; dropping the connection`,
        );
        ws.terminate();
        return;
      }
      if (now - this.lastPingAt >= hbMs) {
        this.lastPingAt = now;
        ws.ping();
      }
      const next = Math.min(this.lastPingAt + hbMs, this.lastByteAt + 2 * hbMs, now + Math.floor(hbMs / 4));
      this.heartbeatTimer = setTimeout(tick, Math.max(1, next - now));
    };
    this.heartbeatTimer = setTimeout(tick, Math.max(1, Math.floor((this.heartbeatSeconds * 1000) / 4)));
  }

  private stopHeartbeat(): void {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }
}
