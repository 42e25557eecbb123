// Opens the TCP/TLS connection to the control plane before the HTTP upgrade is written:
// through an HTTP CONNECT proxy when one applies, with the configured trust store, an
// optional client certificate, and public-key pinning. Because the socket reaches the
// HTTP layer only after every check passed, a server that fails a check never sees a
// single header — in particular never the Authorization header.
import { createHash, X509Certificate } from 'node:crypto';
import { Agent, request as httpRequest, type ClientRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import * as tls from 'node:tls';
import { ConnectorError } from '../errors.js';

export interface DialOptions {
  url: URL;
  caPem?: string;
  /** base64 SHA-256 digests of SPKI DER. */
  pins: readonly string[];
  clientCert?: { certPem: string; keyPem: string };
  proxy?: URL;
  noProxy: readonly string[];
  timeoutMs: number;
}

let trustStore: string[] | undefined;
/** Node's bundled roots, NODE_EXTRA_CA_CERTS and the operating system's store. */
function defaultTrust(): string[] {
  if (!trustStore) {
    const all = new Set<string>(tls.getCACertificates('default'));
    try {
      for (const c of tls.getCACertificates('system')) all.add(c);
    } catch {
      // Some platforms have no readable system store; the bundled roots remain.
    }
    trustStore = [...all];
  }
  return trustStore;
}

/** NO_PROXY matching as curl does it: exact host, domain suffix, `*`, optional :port. */
export function bypassesProxy(host: string, port: string, noProxy: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return noProxy.some((entry) => {
    if (entry === '*') return true;
    let [name, entryPort] = entry.split(/:(?=\d+$)/) as [string, string | undefined];
    if (entryPort !== undefined && entryPort !== port) return false;
    name = name.replace(/^\*?\./, '.');
    if (name.startsWith('.')) return h.endsWith(name) || h === name.slice(1);
    return h === name;
  });
}

function spkiDigest(cert: tls.PeerCertificate): string | undefined {
  // `cert.pubkey` is not SPKI for every key type (for EC it is the bare point), so the
  // SubjectPublicKeyInfo is taken from the certificate itself.
  if (!cert.raw) return undefined;
  const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Every SPKI digest in the presented chain (leaf first). */
export function chainDigests(socket: tls.TLSSocket): string[] {
  const out: string[] = [];
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert && Object.keys(cert).length > 0 && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    const d = spkiDigest(cert);
    if (d) out.push(d);
    cert = cert.issuerCertificate;
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new ConnectorError('CONTROL_PLANE_UNREACHABLE', `${what} timed out after ${ms} ms`));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function tunnel(proxy: URL, host: string, port: number, track: (s: { destroy(): void }) => void): Promise<Socket> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: authority };
  if (proxy.username) {
    const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers['proxy-authorization'] = `Basic ${Buffer.from(cred).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const req: ClientRequest = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port || 80),
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
    });
    track(req);
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        // The proxy URL may hold a password: name only its host.
        reject(new ConnectorError('CONTROL_PLANE_UNREACHABLE', `proxy ${proxy.hostname} answered CONNECT with ${res.statusCode}`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      track(socket);
      resolve(socket);
    });
    req.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConnectorError('CONTROL_PLANE_UNREACHABLE', `proxy ${proxy.hostname}: ${err.code ?? err.message}`)),
    );
    req.end();
  });
}

function tcp(host: string, port: number, track: (s: { destroy(): void }) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    track(s);
    s.once('connect', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.destroy();
      reject(new ConnectorError('CONTROL_PLANE_UNREACHABLE', `${host}:${port}: ${err.code ?? err.message}`));
    });
  });
}

function secure(socket: Socket, host: string, opts: DialOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const servername = /^[\d.]+$|:/.test(host) ? undefined : host;
    const t = tls.connect({
      socket,
      host,
      ...(servername !== undefined && { servername }),
      ca: opts.caPem ? [...defaultTrust(), opts.caPem] : defaultTrust(),
      ...(opts.clientCert && { cert: opts.clientCert.certPem, key: opts.clientCert.keyPem }),
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    });
    t.once('secureConnect', () => {
      if (opts.pins.length > 0) {
        const digests = chainDigests(t);
        if (!digests.some((d) => opts.pins.includes(d))) {
          t.destroy();
          reject(
            new ConnectorError(
              'CONTROL_PLANE_PIN_MISMATCH',
              `no key in the certificate chain of ${host} matches CONTROL_PLANE_PINS; connection refused before sending anything`,
            ),
          );
          return;
        }
      }
      resolve(t);
    });
    t.once('error', (err: NodeJS.ErrnoException) => {
      t.destroy();
      reject(new ConnectorError('CONTROL_PLANE_UNREACHABLE', `TLS with ${host}: ${err.code ?? err.message}`));
    });
  });
}

/** Opens a checked socket to the control plane. */
export async function dial(opts: DialOptions): Promise<Socket> {
  const { url } = opts;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const secureScheme = url.protocol === 'wss:';
  const port = Number(url.port || (secureScheme ? 443 : 80));
  const useProxy = opts.proxy !== undefined && !bypassesProxy(host, String(port), opts.noProxy);
  // Everything opened for this attempt, so a timeout can tear it all down (a late connect
  // or a proxy that answers after we gave up must not leave a socket behind).
  const opened: Array<{ destroy(): void }> = [];
  const track = (s: { destroy(): void }) => opened.push(s);
  const abort = () => opened.forEach((s) => s.destroy());
  const raw = await withTimeout(useProxy ? tunnel(opts.proxy!, host, port, track) : tcp(host, port, track), opts.timeoutMs, abort, 'connect');
  if (!secureScheme) return raw;
  return withTimeout(secure(raw, host, opts), opts.timeoutMs, abort, 'TLS handshake');
}

/**
 * An http.Agent whose sockets come from dial(). `ws` hands it to http(s).request, so the
 * upgrade request is written only on a socket that passed every check.
 */
export class ControlPlaneAgent extends Agent {
  constructor(private readonly opts: DialOptions) {
    super({ keepAlive: false, maxSockets: 1 });
    // https.request insists that the agent speaks https.
    (this as unknown as { protocol: string }).protocol = opts.url.protocol === 'wss:' ? 'https:' : 'http:';
  }

  override createConnection(...args: Parameters<Agent['createConnection']>): ReturnType<Agent['createConnection']> {
    const callback = args[1];
    dial(this.opts).then(
      (s) => callback?.(null, s),
      (e: unknown) => callback?.(e as Error, undefined as never),
    );
    // Returning nothing tells http.Agent to wait for the callback.
    return undefined as unknown as ReturnType<Agent['createConnection']>;
  }
}
