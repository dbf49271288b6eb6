// Checks on the mount point before mounting, each failure one clear line for the user:
// missing, not a directory, already a mount, not empty (unless --allow-non-empty). A stale
// FUSE mount left by a killed process (stat fails with ENOTCONN) is cleaned automatically with
// `fusermount3 -uz` (fusermount.ts), and that is logged. An automount point (autofs, as
// systemd's x-systemd.automount makes) is mounted over without being looked into.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { UserError, EXIT } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { findMount, readMountInfo, type MountInfoEntry } from './mountinfo.js';
import { fusermountCommand, unmountCommand } from './fusermount.js';

const execFileP = promisify(execFile);

/** errno codes stat(2) returns on a FUSE mount whose process died */
const STALE_CODES = new Set(['ENOTCONN', 'ECONNABORTED']);

/** fusermount3 -u (-uz: lazy); as root without any fusermount, umount(8) */
export async function fusermountUnmount(mnt: string, lazy = true): Promise<void> {
  const cmd = fusermountCommand();
  if (cmd === null) await execFileP('umount', lazy ? ['-l', mnt] : [mnt], { timeout: 30_000 });
  else await execFileP(cmd, [lazy ? '-uz' : '-u', mnt], { timeout: 30_000 });
}

export async function prepareMountpoint(
  given: string,
  opts: { allowNonEmpty: boolean },
  log: Logger,
  mounts: () => MountInfoEntry[] = readMountInfo,
): Promise<string> {
  let abs = path.resolve(given);
  // An automount point: systemd (x-systemd.automount) or automount(8) watches it with an autofs
  // mount and mounts this mount over it when it is first used. It must not be stat'ed or listed
  // here: that would be a use of it, waiting for the very mount we are making (until the mount
  // unit times out). Node's stat is statx(2) without AT_NO_AUTOMOUNT, which does trigger.
  if (findMount(abs, mounts())?.fsType === 'autofs') {
    log.debug(`${abs} is an automount point (autofs): mounting over it`);
    return abs;
  }
  let st;
  try {
    st = await fs.stat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT') throw new UserError(`mountpoint ${given} does not exist (create the directory first)`, EXIT.usage);
    if (!STALE_CODES.has(code)) throw new UserError(`mountpoint ${given}: ${(err as Error).message}`, EXIT.usage);
    log.notice(`${abs}: stale FUSE mount found (its process died); unmounting it with ${unmountCommand(abs, true)}`);
    try {
      await fusermountUnmount(abs);
    } catch (e) {
      throw new UserError(
        `mountpoint ${given} is a stale FUSE mount and unmounting it failed: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`,
        EXIT.usage,
      );
    }
    try {
      st = await fs.stat(abs);
    } catch (e) {
      throw new UserError(`mountpoint ${given}: still unusable after cleaning the stale mount: ${(e as Error).message}`, EXIT.usage);
    }
  }
  if (!st.isDirectory()) throw new UserError(`mountpoint ${given} is not a directory`, EXIT.usage);
  abs = await fs.realpath(abs);
  if (findMount(abs, mounts())) throw new UserError(`mountpoint ${abs} is already a mount point (unmount it first: ${unmountCommand(abs)})`, EXIT.usage);
  if (!opts.allowNonEmpty) {
    const entries = await fs.readdir(abs);
    if (entries.length > 0) throw new UserError(`mountpoint ${abs} is not empty (use --allow-non-empty to mount over it)`, EXIT.usage);
  }
  return abs;
}
