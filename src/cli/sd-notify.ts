// systemd's notification protocol, for a mount run as a `Type=notify` service
// (contrib/systemd/bucketfs@.service): systemd sets NOTIFY_SOCKET, and the service says READY=1
// there once it works, STOPPING=1 when it begins to stop, and a STATUS line for `systemctl status`.
// The socket takes unix datagrams, which Node cannot send, so the message goes through
// systemd-notify(1), a child process: hence NotifyAccess=all in the unit (the sender is not the
// main process). systemd-notify waits until systemd has read the message (its BARRIER), so a
// message is never dropped for coming from a process that has already exited.
import { execFile } from 'node:child_process';
import type { Logger } from '../util/log.js';

/** how long systemd-notify may take (it waits for systemd to read the message: 5 s at most) */
const NOTIFY_TIMEOUT_MS = 15_000;

/** Send `fields` (READY=1, STATUS=…) to the service manager; nothing when there is none. Never throws. */
export function notifyServiceManager(fields: Record<string, string>, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve();
  // a value is one line: the protocol is newline-separated assignments
  const assignments = Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`);
  return new Promise((resolve) => {
    execFile('systemd-notify', assignments, { env, timeout: NOTIFY_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'systemd-notify is not installed' : stderr.trim() || err.message;
        log.error(`NOTIFY_SOCKET is set (a Type=notify service), but systemd could not be told ${assignments[0]}: ${why}`);
      }
      resolve();
    });
  });
}
