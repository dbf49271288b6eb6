// One kernel mount through fuse-native: mount, watch, unmount. The operations come from
// ops.ts; this file only manages the mount's lifetime.
import fs from 'node:fs/promises';
import Fuse, { type FuseOps } from 'fuse-native';
import type { Logger } from '../util/log.js';
import { UserError, EXIT } from '../util/errors.js';
import { findMount, parseMountInfo } from './mountinfo.js';
import { fusermountUnmount } from './mountpoint.js';
import { requirePatchedFuseNative } from './binding.js';

export class FuseSession {
  private fuse: Fuse | undefined;
  private watcher: NodeJS.Timeout | undefined;
  private unmounted = false;

  constructor(
    readonly mountPoint: string,
    private readonly ops: FuseOps,
    /** everything after "fsname=" of the libfuse option string (see mount-options.ts) */
    private readonly fsnameOption: string,
    /** per-request limit in ms, 0 = none */
    private readonly requestTimeoutMs: number,
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
      // an unlinked file stays usable through its open handles (hard_remove gives it no path)
      nullpathOk: true,
      // fuse-native fails any request after 15 s by default: a large upload at close() must not
      timeout: this.requestTimeoutMs > 0 ? this.requestTimeoutMs : false,
    });
    this.fuse = fuse;
    await new Promise<void>((resolve, reject) => {
      fuse.mount((err) => {
        if (!err) return resolve();
        reject(
          new UserError(
            `cannot mount on ${this.mountPoint}: ${err.message === 'fuse failed' ? 'libfuse refused the mount (see its message above; is /dev/fuse available and fusermount installed?)' : err.message}`,
            EXIT.fatal,
          ),
        );
      });
    });
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
          if (this.unmounted || findMount(this.mountPoint, parseMountInfo(text))) return;
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
