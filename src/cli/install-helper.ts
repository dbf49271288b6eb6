// `bucketfs install-helper [--dir DIR] [--uninstall]`: puts /sbin/mount.bucketfs in place (the
// helper mount(8) runs for fstab entries and `mount -t` of type bucketfs, see mount-helper.ts),
// or takes it away.
//
// The helper is a small shell script that runs this bucketfs, by its absolute path, with the node
// this runs on first on PATH: mount(8), systemd's mount units and the fstab generator run helpers
// with a minimal environment, where a node from nvm or /usr/local would not be found. The script
// carries a marker line: install replaces only a file that has it, --uninstall removes only such a
// file, and nothing else is ever written or removed.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import { MOUNT_HELPER_COMMAND } from './mount-helper.js';

/** where util-linux's mount(8) looks for mount.TYPE (/sbin, then /sbin/fs.d, /sbin/fs) */
export const DEFAULT_HELPER_DIR = '/sbin';
export const HELPER_NAME = 'mount.bucketfs';
/** the first comment line of every helper this command writes */
export const HELPER_MARKER = '# bucketfs-mount-helper:';

/** a word for sh, in single quotes */
function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The helper script: runs `bucketfsPath mount-helper "$@"` with the directory of `nodePath` first on PATH. */
export function helperScript(bucketfsPath: string, nodePath: string): string {
  return [
    '#!/bin/sh',
    `${HELPER_MARKER} written by \`bucketfs install-helper\`; \`bucketfs install-helper --uninstall\` removes it.`,
    '# mount(8) runs it for fstab entries of type bucketfs (and mount -t bucketfs):',
    '#   mount.bucketfs REMOTE:BUCKET[/PATH] MOUNTPOINT [-sfnv] [-o OPTIONS]',
    '# It returns once the mount works, or non-zero with the reason. Node is looked for first where',
    '# it was at install time: mount(8) and systemd may run this with a minimal PATH.',
    `PATH=${shQuote(path.dirname(nodePath))}:"\${PATH:-/usr/sbin:/usr/bin:/sbin:/bin}"`,
    'export PATH',
    `exec ${shQuote(bucketfsPath)} ${MOUNT_HELPER_COMMAND} "$@"`,
    '',
  ].join('\n');
}

/** 'absent', 'ours' (a helper this command wrote), or 'foreign' (anything else: never touched) */
export async function helperState(file: string): Promise<'absent' | 'ours' | 'foreign'> {
  let st;
  try {
    st = await fsp.lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
  if (!st.isFile()) return 'foreign';
  const text = await fsp.readFile(file, 'utf8');
  return text.split('\n', 3)[1]?.startsWith(HELPER_MARKER) ? 'ours' : 'foreign';
}

function cannot(what: string, file: string, err: unknown): UserError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      ? 'permission denied (run it as root)'
      : code === 'ENOENT'
        ? 'no such directory'
        : (err as Error).message;
  return new UserError(`cannot ${what} ${file}: ${why}`, EXIT.fatal);
}

/** Write the helper into `dir` (replacing only our own); the path written. */
export async function installHelper(dir: string, bucketfsPath: string, nodePath: string): Promise<string> {
  const file = path.join(dir, HELPER_NAME);
  if ((await helperState(file).catch((e) => Promise.reject(cannot('read', file, e)))) === 'foreign') {
    throw new UserError(`${file} exists and was not written by bucketfs install-helper: left alone (remove it yourself to install this one)`, EXIT.fatal);
  }
  // written beside it and renamed over it: mount(8) never runs half a script
  const tmp = path.join(dir, `.${HELPER_NAME}.${process.pid}.tmp`);
  try {
    await fsp.writeFile(tmp, helperScript(bucketfsPath, nodePath), { mode: 0o755 });
    await fsp.chmod(tmp, 0o755); // whatever the umask
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw cannot('write', file, err);
  }
  return file;
}

/** Remove the helper from `dir` if this command wrote it; whether there was one to remove. */
export async function uninstallHelper(dir: string): Promise<boolean> {
  const file = path.join(dir, HELPER_NAME);
  const state = await helperState(file).catch((e) => Promise.reject(cannot('read', file, e)));
  if (state === 'absent') return false;
  if (state === 'foreign') throw new UserError(`${file} was not written by bucketfs install-helper: left alone`, EXIT.fatal);
  await fsp.rm(file).catch((e) => Promise.reject(cannot('remove', file, e)));
  return true;
}

export const installHelperCommand = defineCommand<{ dir: string; uninstall?: boolean }>({
  command: 'install-helper',
  describe: `Put ${DEFAULT_HELPER_DIR}/${HELPER_NAME} in place, so that fstab entries of type bucketfs (and mount -t bucketfs) mount through bucketfs`,
  builder: (y) =>
    y
      .option('dir', { type: 'string', default: DEFAULT_HELPER_DIR, describe: 'Directory for the helper (mount(8) looks in /sbin)' })
      .option('uninstall', { type: 'boolean', describe: 'Remove the helper, if install-helper wrote it' }),
  async run(_cli, args) {
    const dir = path.resolve(args.dir);
    if (args.uninstall) {
      const removed = await uninstallHelper(dir);
      process.stdout.write(removed ? `removed ${path.join(dir, HELPER_NAME)}\n` : `nothing to remove: there is no ${path.join(dir, HELPER_NAME)}\n`);
      return;
    }
    const bucketfs = path.resolve(process.argv[1]!);
    const file = await installHelper(dir, bucketfs, process.execPath);
    process.stdout.write(`installed ${file}: mount(8) now mounts fstab entries of type bucketfs with ${bucketfs} (node ${process.execPath})\n`);
  },
});
