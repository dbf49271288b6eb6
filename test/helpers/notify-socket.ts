// A stand-in for systemd's notification socket (NOTIFY_SOCKET), for testing a Type=notify unit
// without systemd: a unix datagram socket served by a small python3 program (Node has no unix
// datagram sockets). Like systemd, it closes the file descriptors a message carries (the
// BARRIER=1 pipe of systemd-notify, which waits for that). For each message it reports, at the
// moment the message arrived, whether the watched mount point was mounted and what it listed:
// so "READY=1 came only once the mount worked" is checked then, not some time later. It exits when
// the test process does (its stdin closes).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { waitFor } from './mount.js';

const SERVER = `
import array, json, os, socket, sys, threading
sock_path, mountpoint = sys.argv[1], sys.argv[2]
# gone with the test process: its end closes our stdin
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
os.chmod(sock_path, 0o777)
print(json.dumps({"listening": True}), flush=True)
def mounted():
    with open("/proc/self/mountinfo") as f:
        return any(line.split(" ")[4] == mountpoint for line in f)
while True:
    msg, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    fields = dict(l.split("=", 1) for l in msg.decode().split("\\n") if "=" in l)
    report = {"fields": fields, "mounted": mounted()}
    if fields.get("READY") == "1":
        try:
            report["listing"] = sorted(os.listdir(mountpoint))
        except OSError as e:
            report["listing_error"] = e.strerror
    print(json.dumps(report), flush=True)
`;

export interface NotifyMessage {
  fields: Record<string, string>;
  /** the mount point was in mountinfo when the message arrived */
  mounted: boolean;
  /** for READY=1: the mount point's names right then */
  listing?: string[];
  listing_error?: string;
}

export class NotifySocket {
  readonly messages: NotifyMessage[] = [];
  private constructor(
    readonly path: string,
    private readonly proc: ChildProcess,
  ) {}

  /** A socket in `dir` that watches `mountpoint`. */
  static async start(dir: string, mountpoint: string): Promise<NotifySocket> {
    const sock = path.join(dir, 'notify.sock');
    await fs.rm(sock, { force: true });
    const proc = spawn('python3', ['-c', SERVER, sock, mountpoint], { stdio: ['pipe', 'pipe', 'inherit'] });
    const n = new NotifySocket(sock, proc);
    let listening = false;
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as NotifyMessage & { listening?: boolean };
        buf = buf.slice(nl + 1);
        if (msg.listening) listening = true;
        else n.messages.push(msg);
      }
    });
    await waitFor(() => listening || proc.exitCode !== null, 20_000, 'the notify socket');
    if (!listening) throw new Error('the notify socket server exited');
    return n;
  }

  /** the first message that sets `field` (e.g. READY), once it has come */
  async next(field: string, until: () => boolean, timeoutMs = 60_000): Promise<NotifyMessage | undefined> {
    await waitFor(() => this.find(field) !== undefined || until(), timeoutMs, `${field}= on the notify socket`);
    return this.find(field);
  }

  find(field: string): NotifyMessage | undefined {
    return this.messages.find((m) => m.fields[field] !== undefined);
  }

  stop(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
