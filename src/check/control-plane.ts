// doctor's control-plane probe: one real connection attempt — dial (proxy, TLS, pins),
// upgrade with the token, hello, wait for welcome — then a normal close.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { readToken, type Config } from '../config.js';
import { ConnectorError } from '../errors.js';
import { registerSecret } from '../log.js';
import { PROTOCOL, PROTOCOL_VERSION, welcomeFrame } from '../protocol/messages.js';
import { agentFor, upgradeHeaders } from '../daemon/connection.js';
import type { CheckItem } from './report.js';

export async function probeControlPlane(config: Config, version: string, timeoutMs = 10_000): Promise<CheckItem> {
  const base = { id: 'control-plane', title: 'control plane' };
  if (!config.controlPlaneConfigured) {
    return { ...base, status: 'skip', detail: 'CONTROL_PLANE_URL is not set' };
  }
  const target = `${config.controlPlaneUrl.protocol}//${config.controlPlaneUrl.host}`;
  let token: string;
  try {
    token = readToken(config.token);
    registerSecret(token);
  } catch (err) {
    return { ...base, status: 'fail', code: 'CONFIG_INVALID', detail: `cannot read the token: ${(err as Error).message}`, fix: 'Set CONNECTOR_TOKEN_FILE to a readable file holding the token.' };
  }
  return new Promise<CheckItem>((resolve) => {
    const ws = new WebSocket(config.controlPlaneUrl, PROTOCOL, {
      agent: agentFor(config, timeoutMs),
      headers: upgradeHeaders(config.connectorId, token, version),
      followRedirects: false,
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
    });
    let settled = false;
    const done = (item: CheckItem) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'doctor done');
      else ws.terminate();
      resolve(item);
    };
    const timer = setTimeout(() => done({ ...base, status: 'fail', code: 'CONTROL_PLANE_UNREACHABLE', detail: `${target}: no welcome within ${timeoutMs} ms`, fix: 'Check egress to the control plane on 443 and any proxy.' }), timeoutMs);
    ws.on('unexpected-response', (req, res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      res.resume();
      req.destroy();
      if (status === 401 || status === 403) {
        done({ ...base, status: 'fail', code: 'CONTROL_PLANE_TOKEN_REJECTED', detail: `${target} rejected the token (HTTP ${status})`, fix: 'Replace the token: the ConnectorToken parameter (or the secret named by ExistingTokenSecretArn) of connector-ecs.yaml, or token.existingSecret / token.value in the Helm values; the daemon reads the file again at its next attempt, or at once on SIGHUP.' });
      } else if (status >= 300 && status < 400) {
        done({ ...base, status: 'fail', code: 'CONTROL_PLANE_REDIRECT', detail: `${target} answered with a ${status} redirect`, fix: 'Set CONTROL_PLANE_URL (parameter ControlPlaneUrl of connector-ecs.yaml, controlPlane.url in the Helm values) to the final wss:// address.' });
      } else {
        done({ ...base, status: 'fail', code: 'CONTROL_PLANE_UNREACHABLE', detail: `${target} answered the upgrade with HTTP ${status}`, fix: 'Check CONTROL_PLANE_URL (parameter ControlPlaneUrl of connector-ecs.yaml, controlPlane.url in the Helm values): scheme, host and path.' });
      }
    });
    ws.on('error', (err: Error) => {
      const code = err instanceof ConnectorError ? err.code : 'CONTROL_PLANE_UNREACHABLE';
      const fix =
        code === 'CONTROL_PLANE_PIN_MISMATCH'
          ? 'The server key matches no CONTROL_PLANE_PINS entry: add the new pin during a rotation, otherwise investigate TLS interception.'
          : 'Check DNS and egress to the control plane on 443 (security group, NetworkPolicy, HTTPS_PROXY/NO_PROXY, CONTROL_PLANE_CA_FILE for a private CA).';
      done({ ...base, status: 'fail', code, detail: `${target}: ${err.message}`, fix });
    });
    ws.on('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          id: randomUUID(),
          connectorId: config.connectorId,
          version,
          protocol: PROTOCOL_VERSION,
          // A probe takes no jobs: it advertises none.
          capabilities: { jobTypes: [], accessKinds: [], entityKinds: [] },
          maxConcurrentJobs: config.maxConcurrentJobs,
          running: [],
        }),
      );
    });
    ws.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(String(data));
      } catch {
        return;
      }
      const w = welcomeFrame.safeParse(frame);
      if (w.success) {
        done({ ...base, status: 'pass', detail: `${target}: token accepted, welcomed (heartbeat ${w.data.heartbeatSeconds} s, window ${w.data.window})` });
      }
    });
  });
}
