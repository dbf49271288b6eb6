// The VFS's settings: typed values only (bytes, milliseconds, mode bits). They are resolved from
// the mount flags in src/config (vfs-options.ts, mount-options.ts) and handed to the VFS; the
// VFS never reads or parses a flag itself.
export type { VfsOptions, CacheMode } from '../config/vfs-options.js';
