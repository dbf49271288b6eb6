// Mounts whose process a test does not start itself: mount(8)'s helper, a systemd unit's
// ExecStart, --daemon. Their processes are found by the mount point in /proc/*/cmdline (every
// test mount point is a fresh temporary directory, so the match is exact enough), and every mount
// point registered here is cleaned at the end, also when a test fails or the process exits:
// its bucketfs processes and fusermount3 watcher killed, and the mount (live or dead) detached.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { isMounted, waitFor } from './mount.js';

const tracked = new Set<string>();

/** Clean `mnt` at the end (see cleanupDetachedMounts). */
export function trackMountpoint(mnt: string): string {
  tracked.add(mnt);
  return mnt;
}

function cmdlines(): Array<{ pid: number; argv: string[] }> {
  const out: Array<{ pid: number; argv: string[] }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (text !== '') out.push({ pid: Number(d), argv: text.replace(/\0$/, '').split('\0') });
  }
  return out;
}

/**
 * pids of the bucketfs processes serving `mnt`: node running bin/bucketfs, or a process whose
 * title bucketfs rewrote (secrets hidden: one string starting with "bucketfs ")
 */
export function mountProcesses(mnt: string): number[] {
  return cmdlines()
    .filter(({ argv }) => {
      const joined = argv.join(' ');
      if (!joined.includes(mnt)) return false;
      const first = argv[0] ?? '';
      return (/(^|\/)node$/.test(first) && argv.some((a) => a.endsWith('/bin/bucketfs'))) || first.startsWith('bucketfs ');
    })
    .map((p) => p.pid);
}

/** the command lines (spaces for NULs) of the processes serving `mnt` */
export function mountCommandLines(mnt: string): string[] {
  const pids = new Set(mountProcesses(mnt));
  return cmdlines()
    .filter((p) => pids.has(p.pid))
    .map((p) => p.argv.join(' '));
}

/** pids of the fusermount3 that watches `mnt` (auto_unmount) */
export function watcherProcesses(mnt: string): number[] {
  return cmdlines()
    .filter(({ argv }) => /fusermount3$/.test(argv[0] ?? '') && argv.includes(mnt))
    .map((p) => p.pid);
}

/** Wait until no bucketfs process serves `mnt` (it flushed and exited). */
export async function waitForExit(mnt: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => mountProcesses(mnt).length === 0, timeoutMs, `the mount process of ${mnt} to exit`);
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kill and unmount whatever is left at the tracked mount points (synchronous: also on exit). */
export function cleanupDetachedMounts(): void {
  for (const mnt of tracked) {
    for (const pid of [...mountProcesses(mnt), ...watcherProcesses(mnt)]) kill(pid);
    for (let i = 0; i < 5 && isMounted(mnt); i++) spawnSync('fusermount3', ['-uz', mnt], { stdio: 'ignore' });
  }
  tracked.clear();
}
process.on('exit', cleanupDetachedMounts);
