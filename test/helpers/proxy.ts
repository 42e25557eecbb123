// A real HTTP CONNECT proxy on loopback that records what it was asked to do.
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface ConnectRecord {
  target: string;
  proxyAuthorization?: string;
  status: number;
}

export class ConnectProxy {
  readonly requests: ConnectRecord[] = [];
  private sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** `auth` = "user:password" required in Proxy-Authorization; `redirect` sends every tunnel to another port. */
  static async start(opts: { auth?: string; redirectToPort?: number } = {}): Promise<ConnectProxy> {
    const server = createServer((_req, res) => res.writeHead(405).end());
    const proxy = await new Promise<ConnectProxy>((resolve) => {
      server.listen(0, '127.0.0.1', () => resolve(new ConnectProxy(server, (server.address() as AddressInfo).port)));
    });
    server.on('connect', (req, client: Socket, head: Buffer) => {
      proxy.sockets.add(client);
      // The connector may reset the socket after a 407; without a listener that reset is an uncaught error.
      client.on('error', () => client.destroy());
      const auth = req.headers['proxy-authorization'];
      const record: ConnectRecord = { target: req.url ?? '', status: 200, ...(auth !== undefined && { proxyAuthorization: auth }) };
      proxy.requests.push(record);
      if (opts.auth && auth !== `Basic ${Buffer.from(opts.auth).toString('base64')}`) {
        record.status = 407;
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n');
        return;
      }
      const [host, port] = (req.url ?? '').replace(/^\[|\](?=:)/g, '').split(/:(?=\d+$)/);
      // Loopback only, whatever the CONNECT asks for.
      const upstream = connect({ host: host === 'localhost' ? '127.0.0.1' : '127.0.0.1', port: opts.redirectToPort ?? Number(port) });
      proxy.sockets.add(upstream);
      upstream.once('connect', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      const end = () => {
        upstream.destroy();
        client.destroy();
      };
      upstream.on('error', end);
      client.on('error', () => upstream.destroy());
    });
    return proxy;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
