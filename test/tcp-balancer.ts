/**
 * A small TCP load balancer on loopback for the hub-replica tests: each client connection goes to
 * the next replica in turn (round robin per connection, as a layer-4 balancer does), and lives and
 * dies with its replica's connection. A replica that refuses a connection is skipped (a passive
 * health check) until it accepts again, so that a killed replica's share goes to the survivors.
 */
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

interface Target {
  port: number;
  /** Refused the last connection: skipped until a retry finds it back. */
  down: boolean;
  /** Client connections relayed to it so far. */
  connections: number;
  open: Set<Socket>;
}

export class TcpBalancer {
  private next = 0;
  /** New connections go only here while set (a test steering every agent to one replica). */
  private only: number | null = null;
  private readonly clients = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly targets: Target[],
  ) {}

  /** Listens on a free loopback port in front of 127.0.0.1:PORT for each port. */
  static async start(ports: number[]): Promise<TcpBalancer> {
    let balancer: TcpBalancer | null = null;
    const server = createServer((client) => balancer!.relay(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    balancer = new TcpBalancer(
      server,
      ports.map((port) => ({ port, down: false, connections: 0, open: new Set() })),
    );
    return balancer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections each replica got so far, by port. */
  connections(): Record<number, number> {
    return Object.fromEntries(this.targets.map((t) => [t.port, t.connections]));
  }

  /**
   * New connections go only to the replica on `port` (null: round robin again), and the connections
   * open now are closed, so that every client's next request goes there.
   */
  steer(port: number | null): void {
    this.only = port;
    for (const c of this.clients) c.destroy();
  }

  private pick(): Target[] {
    if (this.only !== null) return this.targets.filter((t) => t.port === this.only);
    // Replicas in round-robin order from the next one; those that refused last come last.
    const order = this.targets.map((_, i) => this.targets[(this.next + i) % this.targets.length]!);
    this.next = (this.next + 1) % this.targets.length;
    return [...order.filter((t) => !t.down), ...order.filter((t) => t.down)];
  }

  private relay(client: Socket): void {
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const candidates = this.pick();
    const attempt = (i: number): void => {
      const target = candidates[i];
      if (!target || client.destroyed) {
        client.destroy();
        return;
      }
      const upstream = createConnection({ host: '127.0.0.1', port: target.port });
      let connected = false;
      upstream.on('error', () => {
        upstream.destroy();
        if (connected) return; // the close below takes the client with it
        target.down = true;
        attempt(i + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        target.down = false;
        target.connections++;
        target.open.add(upstream);
        // The client's connection closes with the replica's, and the other way round.
        upstream.once('close', () => {
          target.open.delete(upstream);
          client.destroy();
        });
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    for (const t of this.targets) for (const s of t.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
