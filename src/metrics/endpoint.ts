// The HTTP side of a mount's metrics: one handler, served on --metrics-addr (TCP, when asked)
// and on the mount's stats socket (a unix socket, always; socket-path.ts says where):
//
//   GET /metrics   Prometheus' text format (prometheus.ts)
//   GET /stats     the snapshot as JSON (what `bucketfs stats` reads)
//
// The TCP address is bound before anything else is done, so that a port in use or a bad address
// is one line naming the flag before any request is sent or anything mounted; until the mount is
// up it answers 503.
import http from 'node:http';
import { chmod, stat, unlink } from 'node:fs/promises';
import { statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { UserError, EXIT } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { formatListenAddress, type ListenAddress } from '../config/listen-address.js';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from './prometheus.js';
import type { MountSnapshot } from './snapshot.js';
import { mountSocketDirs, prepareSocketDir, removeStaleSockets, socketName } from './socket-path.js';

/** why a TCP address could not be bound, as the user can act on it */
function bindFailure(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'the address is in use (another program, or another mount, listens there)';
    case 'EADDRNOTAVAIL':
      return 'no such address on this machine';
    case 'EACCES':
      return 'permission denied (ports below 1024 need root)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'unknown host';
    default:
      return err.code ?? err.message;
  }
}

function listen(server: http.Server, target: { host?: string; port: number } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export class MetricsEndpoint {
  private snapshot: (() => MountSnapshot) | undefined;
  private readonly servers: http.Server[] = [];
  private socket: { path: string; ino: number } | undefined;
  private readonly removeOnExit = () => this.removeSocketSync();

  private constructor() {}

  /** Bind --metrics-addr (when given) at once: a failure is a UserError naming the flag. */
  static async open(addr: ListenAddress | undefined): Promise<MetricsEndpoint> {
    const e = new MetricsEndpoint();
    if (!addr) return e;
    const server = e.server();
    try {
      await listen(server, { ...(addr.host ? { host: addr.host } : {}), port: addr.port });
    } catch (err) {
      throw new UserError(`--metrics-addr ${formatListenAddress(addr)}: ${bindFailure(err as NodeJS.ErrnoException)}`, EXIT.usage);
    }
    e.servers.push(server);
    return e;
  }

  /** where --metrics-addr listens (the port chosen, for :0), or undefined */
  get address(): string | undefined {
    const tcp = this.servers.find((s) => typeof s.address() === 'object');
    const a = tcp?.address() as AddressInfo | null | undefined;
    return a ? formatListenAddress({ host: a.address, port: a.port }) : undefined;
  }

  /** the stats socket's path, once listening */
  get socketPath(): string | undefined {
    return this.socket?.path;
  }

  /** From now on, answer with the snapshots of the mount. */
  serve(snapshot: () => MountSnapshot): void {
    this.snapshot = snapshot;
  }

  /**
   * Serve on the stats socket of the mount at `mountpoint` (socket-path.ts). A mount without one
   * still works, only `bucketfs stats` cannot reach it: that is a NOTICE, not a failure.
   */
  async listenSocket(mountpoint: string, log: Logger): Promise<void> {
    const uid = process.getuid?.() ?? 0;
    const refused: string[] = [];
    for (const dir of mountSocketDirs(uid, process.env)) {
      const why = await prepareSocketDir(dir, uid);
      if (why) {
        refused.push(why);
        continue;
      }
      const file = path.join(dir, socketName(mountpoint));
      // a socket left by a mount of this mount point that was killed: nothing listens there (this
      // mount point was not mounted, prepareMountpoint checked)
      await unlink(file).catch(() => undefined);
      const server = this.server();
      try {
        await listen(server, { path: file });
        // owner only (the directory is too: this closes the moment between bind and chmod for nobody)
        await chmod(file, 0o600);
        this.socket = { path: file, ino: (await stat(file)).ino };
      } catch (err) {
        server.close();
        refused.push(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        continue;
      }
      this.servers.push(server);
      // a process that exits without close() (a second Ctrl-C) leaves no socket behind
      process.once('exit', this.removeOnExit);
      log.debug(`stats socket: ${file}`);
      // and those of mounts that were killed are removed by the next mount (in the background)
      void removeStaleSockets(dir).then(
        (gone) => gone.forEach((f) => log.debug(`removed the stats socket of a mount that ended without removing it: ${f}`)),
        () => undefined,
      );
      return;
    }
    log.notice(`no stats socket for ${mountpoint} (bucketfs stats will not reach this mount): ${refused.join('; ')}`);
  }

  /** Stop listening; the socket file goes. */
  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
    this.removeSocketSync();
    process.off('exit', this.removeOnExit);
  }

  /** Remove our socket file, unless another mount of this mount point has put its own there since. */
  private removeSocketSync(): void {
    const s = this.socket;
    if (!s) return;
    this.socket = undefined;
    try {
      if (statSync(s.path).ino === s.ino) unlinkSync(s.path);
    } catch {
      // gone already (closing the server removes it)
    }
  }

  private server(): http.Server {
    return http.createServer((req, res) => this.handle(req, res));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'only GET\n');
    const route = (req.url ?? '/').split('?')[0];
    if (route !== '/metrics' && route !== '/stats') return reply(404, 'text/plain', 'bucketfs: /metrics (Prometheus) or /stats (JSON)\n');
    if (!this.snapshot) return reply(503, 'text/plain', 'bucketfs: not mounted yet\n');
    const s = this.snapshot();
    if (route === '/metrics') reply(200, PROMETHEUS_CONTENT_TYPE, renderPrometheus(s));
    else reply(200, 'application/json', JSON.stringify(s) + '\n');
  }
}
