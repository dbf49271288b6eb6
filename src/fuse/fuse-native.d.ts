// Types for fuse-native 2.2.6 (a CommonJS module without its own), only what the adapter uses.
declare module 'fuse-native' {
  type Cb = (code: number, ...values: unknown[]) => void;
  export interface FuseStat {
    mode: number;
    uid: number;
    gid: number;
    size: number;
    dev?: number;
    nlink: number;
    ino?: number;
    rdev?: number;
    blksize?: number;
    blocks?: number;
    /** Date or milliseconds since the epoch (the unpatched binding passes milliseconds to the kernel) */
    atime: Date | number;
    mtime: Date | number;
    ctime: Date | number;
    /** nanoseconds since the epoch; the patched binding passes these instead of atime/mtime/ctime */
    atimeNs?: bigint;
    mtimeNs?: bigint;
    ctimeNs?: bigint;
    /** readdir only: false = the kernel gets the entry's type, not its attributes (no readdirplus) */
    plus?: boolean;
  }
  /**
   * A time utimens receives with the utimensNs option: nanoseconds since the epoch, 'now'
   * (UTIME_NOW: the current time) or 'omit' (UTIME_OMIT: leave this time as it is).
   */
  export type FuseTime = bigint | 'now' | 'omit';
  export interface FuseStatfs {
    bsize: number;
    frsize: number;
    blocks: number;
    bfree: number;
    bavail: number;
    files: number;
    ffree: number;
    favail: number;
    fsid: number;
    flag: number;
    namemax: number;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each operation has its own callback signature (libfuse's)
  export type FuseOps = Record<string, (...args: any[]) => void>;
  export interface FuseOptions {
    /** per-operation timeout in ms, false = none (fuse-native's default is 15 s) */
    timeout?: number | false;
    fsname?: string;
    force?: boolean;
    mkdir?: boolean;
    debug?: boolean;
    /** patched binding only: utimens gets FuseTime values, and UTIME_OMIT calls reach it */
    utimensNs?: boolean;
    /** (patched binding) operations on open files that were unlinked reach the ops with path '',
     *  and fgetattr is called with the handle */
    nullpathOk?: boolean;
    [k: string]: unknown;
  }
  class Fuse {
    constructor(mnt: string, ops: FuseOps, opts?: FuseOptions);
    readonly mnt: string;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    static unmount(mnt: string, cb: (err: Error | null) => void): void;
    /** true: the patched index.js on the patched binding; false: patched index.js, prebuilt binding; undefined: unpatched */
    static readonly NS_TIMES: boolean | undefined;
    /** the libfuse the binding runs on (314 = 3.14); 0 for a libfuse 2 build */
    static readonly LIBFUSE_VERSION: number;
    static readonly UTIME_NOW: 'now';
    static readonly UTIME_OMIT: 'omit';
    static readonly [errno: string]: unknown;
  }
  export default Fuse;
  export type { Cb };
}
