// The fusermount of this machine: fusermount3 (libfuse 3's, which the binding runs on), or
// fusermount (libfuse 2's) on a machine that only has that. Unmounting works with either;
// auto_unmount needs fusermount3, because libfuse 3 asks it to watch the mount.
import fs from 'node:fs';
import path from 'node:path';

let found: string | null | undefined;

function onPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (dir === '') continue;
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** 'fusermount3', 'fusermount', or null when neither is on PATH (looked up once) */
export function fusermountCommand(): string | null {
  if (found === undefined) found = onPath('fusermount3') ? 'fusermount3' : onPath('fusermount') ? 'fusermount' : null;
  return found;
}

/** the command that unmounts `mnt` here, for messages: "fusermount3 -u /mnt" (or umount) */
export function unmountCommand(mnt: string, lazy = false): string {
  const cmd = fusermountCommand();
  return cmd === null ? `umount ${lazy ? '-l ' : ''}${mnt}` : `${cmd} ${lazy ? '-uz' : '-u'} ${mnt}`;
}

/** fusermount3 is there: libfuse can mount with auto_unmount */
export function canAutoUnmount(): boolean {
  return fusermountCommand() === 'fusermount3';
}
