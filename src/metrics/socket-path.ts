// Where a mount's stats socket is: a unix socket named for the mount point, in a directory only
// its user can enter, so that `bucketfs stats MOUNTPOINT` finds it from the mount point alone.
//
//   $XDG_RUNTIME_DIR/bucketfs/   the user's runtime directory (systemd-logind makes it, mode 0700,
//                                on tmpfs, emptied at logout): where a user's sockets belong
//   /run/bucketfs/               root without one (a system service, a mount at boot)
//   /tmp/bucketfs-UID/           anyone else (no login session: cron, ssh without logind,
//                                containers), made 0700 and used only if it is ours and 0700
//
// Not under --cache-dir: `stats` knows only the mount point, not the cache directory the mount
// was given; a cache directory may be on a disk that is slow or shared between machines; and a
// socket's path must fit in 107 bytes, which a deep cache directory may not leave. The name is a
// hash of the mount point's path, so it is short, and one per mount point. A mount removes its
// socket when it ends; one killed (SIGKILL) cannot, and the next mount removes what it left.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** the socket's file name for a mount at `mountpoint` (an absolute, real path) */
export function socketName(mountpoint: string): string {
  return `mount-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 16)}.sock`;
}

const SOCKET_NAME = /^mount-[0-9a-f]{16}\.sock$/;

/** whether a process listens on the unix socket at `file` (a refused connection: nobody does) */
function listening(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}

/**
 * Remove the sockets in `dir` that nobody listens on any more: those of mounts killed with
 * SIGKILL (or crashed), which had no chance to. Only those older than `minAgeMs`: a mount
 * starting at the same moment may have bound its socket and not be listening yet.
 */
export async function removeStaleSockets(dir: string, minAgeMs = 60_000, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(dir)) {
    if (!SOCKET_NAME.test(name)) continue;
    const file = path.join(dir, name);
    const st = await fs.lstat(file).catch(() => null);
    if (!st?.isSocket() || now - st.mtimeMs < minAgeMs || (await listening(file))) continue;
    await fs.unlink(file).then(
      () => removed.push(file),
      () => undefined,
    );
  }
  return removed;
}

function runtimeDir(env: NodeJS.ProcessEnv): string | undefined {
  const d = env.XDG_RUNTIME_DIR;
  return d && path.isAbsolute(d) ? path.join(d, 'bucketfs') : undefined;
}

/** The directories a mount of user `uid` tries for its socket, in order. */
export function mountSocketDirs(uid: number, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  const xdg = runtimeDir(env);
  if (xdg) out.push(xdg);
  if (uid === 0) out.push('/run/bucketfs');
  out.push(`/tmp/bucketfs-${uid}`);
  return out;
}

/**
 * The directories `bucketfs stats` looks in for the socket of a mount made by user `owner`: ours
 * as the mount would choose them, and the runtime directory logind gives `owner` (so root, or a
 * shell whose environment differs from the mount's, finds it too).
 */
export function statsSocketDirs(owner: number, me: number, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (owner === me) {
    const xdg = runtimeDir(env);
    if (xdg) out.push(xdg);
  }
  out.push(`/run/user/${owner}/bucketfs`);
  if (owner === 0) out.push('/run/bucketfs');
  out.push(`/tmp/bucketfs-${owner}`);
  return [...new Set(out)];
}

/**
 * Make `dir` (mode 0700) if missing, and check it is a directory of ours that nobody else can
 * enter: another user who made it first could otherwise replace our socket with theirs. Returns
 * why it cannot be used, or undefined.
 */
export async function prepareSocketDir(dir: string, uid: number): Promise<string | undefined> {
  try {
    // not recursive: the parent ($XDG_RUNTIME_DIR, /run, /tmp) must be there already
    await fs.mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    const st = await fs.lstat(dir);
    if (!st.isDirectory()) return `${dir} is not a directory`;
    if (st.uid !== uid) return `${dir} belongs to another user (uid ${st.uid})`;
    if ((st.mode & 0o077) !== 0) return `${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}; 700 needed)`;
    return undefined;
  } catch (err) {
    return `${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}
