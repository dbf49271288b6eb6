// One kernel mount through fuse-native: mount, watch, unmount. The operations come from
// ops.ts; this file only manages the mount's lifetime.
import fs from 'node:fs/promises';
import Fuse, { type FuseOps } from 'fuse-native';
import type { Logger } from '../util/log.js';
import { UserError, EXIT } from '../util/errors.js';
import { findMount, parseMountInfo } from './mountinfo.js';
import { fusermountUnmount } from './mountpoint.js';
import { requirePatchedFuseNative } from './binding.js';

/**
 * The patched binding throws "fuse failed: <what libfuse and fusermount3 printed>" (one line);
 * the usual prefixes are dropped, so the user reads libfuse's own reason.
 */
export function mountFailure(message: string): string {
  const text = message
    .replace(/^fuse failed:?\s*/, '')
    .split(';')
    .map((part) => part.trim().replace(/^(fuse|fusermount3?):\s*/, ''))
    .filter((part) => part !== '')
    .join('; ');
  return text === '' ? 'libfuse refused the mount (is /dev/fuse available?)' : text;
}

export class FuseSession {
  private fuse: Fuse | undefined;
  private watcher: NodeJS.Timeout | undefined;
  private unmounted = false;
  /** our mount's ID in mountinfo, read once mounted (another mount may sit under it: autofs) */
  private mountId: string | undefined;

  constructor(
    readonly mountPoint: string,
    private readonly ops: FuseOps,
    /** everything after "fsname=" of the libfuse option string (see mount-options.ts) */
    private readonly fsnameOption: string,
    /** per-request limit in ms, 0 = none */
    private readonly requestTimeoutMs: number,
    /** --max-read-ahead: bytes the kernel may read ahead of a sequential reader */
    private readonly readAheadBytes: number,
    private readonly log: Logger,
  ) {}

  /** Resolves once the kernel has sent INIT: the mount is usable. */
  async mount(): Promise<void> {
    this.log.debug(`libfuse options: fsname=${this.fsnameOption}`);
    requirePatchedFuseNative();
    const fuse = new Fuse(this.mountPoint, this.ops, {
      fsname: this.fsnameOption,
      // nanosecond times in utimens, and calls that set the mtime only (tar x, touch -m)
      utimensNs: true,
      // No hard_remove: libfuse renames an open file that is unlinked to a hidden name, and the
      // VFS takes that rename as the unlink (no copy on S3, see Vfs.hide). The file so keeps a
      // path, which fstat(2) needs: the kernel sends getattr without the file handle.
      // fgetattr gets the handle (and a path of '' for a file that has none)
      nullpathOk: true,
      // fuse-native fails any request after 15 s by default: a large upload at close() must not
      timeout: this.requestTimeoutMs > 0 ? this.requestTimeoutMs : false,
    });
    this.fuse = fuse;
    await new Promise<void>((resolve, reject) => {
      fuse.mount((err) => {
        if (!err) return resolve();
        reject(new UserError(`cannot mount on ${this.mountPoint}: ${mountFailure(err.message)}`, EXIT.fatal));
      });
    });
    const entry = findMount(this.mountPoint, parseMountInfo(await fs.readFile('/proc/self/mountinfo', 'utf8')));
    this.mountId = entry?.id;
    if (entry) await this.raiseReadAhead(entry.devno);
  }

  /** our mount is among `text`'s (/proc/self/mountinfo) */
  private isMountedIn(text: string): boolean {
    const entries = parseMountInfo(text);
    // by ID: once our mount is gone, an automount point's autofs mount stays at the same path
    return this.mountId !== undefined ? entries.some((e) => e.id === this.mountId) : findMount(this.mountPoint, entries) !== undefined;
  }

  /**
   * The kernel starts a FUSE mount with the system's default read-ahead (128 KiB), and the
   * max_readahead of INIT can only lower it; the read-ahead is also the size of the kernel's read
   * requests (up to 1 MiB, max_pages). A larger --max-read-ahead is written to the mount's
   * backing device info (root only: otherwise the kernel keeps 128 KiB, said in the log).
   */
  private async raiseReadAhead(devno: string): Promise<void> {
    const kb = Math.floor(this.readAheadBytes / 1024);
    if (kb <= 128) return;
    try {
      await fs.writeFile(`/sys/class/bdi/${devno}/read_ahead_kb`, `${kb}\n`);
    } catch (err) {
      this.log.info(
        `--max-read-ahead ${kb}K: the kernel keeps its 128K read-ahead (${(err as NodeJS.ErrnoException).code ?? String(err)} writing /sys/class/bdi/${devno}/read_ahead_kb; only root may)`,
      );
    }
  }

  /**
   * Poll /proc/self/mountinfo: an outside `fusermount -u`/`umount` removes our mount without
   * telling fuse-native (its loop ends silently), and the owner must still flush and exit.
   * Every `intervalMs` (100 ms: the unmount is noticed about that fast) one asynchronous read
   * of a small file (about 0.2 ms of CPU); reads never overlap (a slow one skips the ticks it
   * covers).
   */
  watch(onGone: () => void, intervalMs = 100): void {
    let busy = false;
    this.watcher = setInterval(() => {
      if (busy || this.unmounted) return;
      busy = true;
      void fs.readFile('/proc/self/mountinfo', 'utf8').then(
        (text) => {
          busy = false;
          if (this.unmounted || this.isMountedIn(text)) return;
          this.unmounted = true;
          this.stopWatching();
          onGone();
        },
        () => {
          busy = false;
        },
      );
    }, intervalMs);
    this.watcher.unref();
  }

  private stopWatching(): void {
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = undefined;
  }

  get isUnmounted(): boolean {
    return this.unmounted;
  }

  /** Lazy unmount (open files elsewhere cannot block it). Safe to call when already gone. */
  async unmount(): Promise<void> {
    this.stopWatching();
    if (this.unmounted) return;
    this.unmounted = true;
    try {
      await fusermountUnmount(this.mountPoint);
    } catch (err) {
      const text = ((err as { stderr?: string }).stderr || (err as Error).message).trim();
      // already unmounted from outside: fine
      if (!/not found|not mounted|Invalid argument/i.test(text)) this.log.error(`unmount ${this.mountPoint}: ${text}`);
    }
  }
}
