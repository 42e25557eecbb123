// Opens the TCP/TLS connection to the control plane before the HTTP upgrade is written:
// through an HTTP CONNECT proxy when one applies, with the configured trust store, an
// optional client certificate, and public-key pinning. Because the socket reaches the
// HTTP layer only after every check passed, a server that fails a check never sees a
// single header — in particular never the Authorization header.
import { createHash, X509Certificate } from 'node:crypto';
import type { Agent, ClientRequest } from 'node:http';
import { http } from '../node-http.js';
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

function spkiDigest(cert: X509Certificate): string {
  // `PeerCertificate.pubkey` is not SPKI for every key type (for EC it is the bare point),
  // so the SubjectPublicKeyInfo is taken from the certificate itself.
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;
const parsedDefault: { certs?: X509Certificate[] } = {};
const parsedCa = new Map<string, X509Certificate[]>();
/** The trust store the handshake used, parsed: the default store plus every certificate of CONTROL_PLANE_CA_FILE. */
function trustAnchors(caPem: string | undefined): X509Certificate[] {
  const parse = (pems: string[]) =>
    pems.flatMap((p) => {
      try {
        return [new X509Certificate(p)];
      } catch {
        return []; // a store entry Node cannot parse anchors nothing
      }
    });
  parsedDefault.certs ??= parse(defaultTrust());
  if (caPem === undefined) return parsedDefault.certs;
  if (!parsedCa.has(caPem)) parsedCa.set(caPem, parse(caPem.match(PEM_CERT) ?? []));
  return [...parsedDefault.certs, ...parsedCa.get(caPem)!];
}

/**
 * SPKI digests of the certificates that lie on a verified path: from the leaf, each step
 * to an issuer whose name and key id match AND whose key verifies the signature, up to a
 * certificate of the trust store. The chain Node reports links certificates by name and
 * key id only, so a server could append a certificate claiming any public key (a pinned
 * key is public); such a certificate signs nothing on the path and is never matched.
 */
export function verifiedChainDigests(socket: tls.TLSSocket, caPem: string | undefined): string[] {
  const anchors = trustAnchors(caPem);
  const trusted = new Set(anchors.map((c) => c.fingerprint256));
  // The leaf, then what else the server sent (as Node linked it), then the store:
  // candidates, never proof. (Read once: after getPeerX509Certificate() Node returns an
  // empty object here.)
  const candidates = new Map<string, X509Certificate>();
  let peer: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  if (!peer?.raw) return [];
  const leaf = new X509Certificate(peer.raw);
  while (peer?.raw && !candidates.has(peer.fingerprint256)) {
    candidates.set(peer.fingerprint256, new X509Certificate(peer.raw));
    peer = peer.issuerCertificate;
  }
  for (const c of anchors) candidates.set(c.fingerprint256, c);
  const verified = new Set<X509Certificate>();
  const walk = (path: X509Certificate[]): void => {
    const cert = path[path.length - 1]!;
    if (trusted.has(cert.fingerprint256)) path.forEach((c) => verified.add(c));
    if (path.length >= 10) return;
    for (const issuer of candidates.values()) {
      if (path.some((c) => c.fingerprint256 === issuer.fingerprint256) || !cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) continue;
      walk([...path, issuer]);
    }
  };
  walk([leaf]);
  return [...verified].map(spkiDigest);
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
    const req: ClientRequest = http.request({
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
        let digests: string[] = [];
        try {
          digests = verifiedChainDigests(t, opts.caPem);
        } catch {
          // A certificate the checks cannot read proves nothing: no pin matches.
        }
        if (!digests.some((d) => opts.pins.includes(d))) {
          t.destroy();
          reject(
            new ConnectorError(
              'CONTROL_PLANE_PIN_MISMATCH',
              `no key in the verified certificate chain of ${host} matches CONTROL_PLANE_PINS; connection refused before sending anything`,
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
export class ControlPlaneAgent extends http.Agent {
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
