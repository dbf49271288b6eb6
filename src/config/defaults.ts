// Defaults shared by the CLI, the mount options and the VFS, in a module that imports nothing,
// so the VFS can use them without pulling in flag parsing.

/** rclone's --transfers default: parallel copies (CLI) and background uploads (mount) at a time */
export const DEFAULT_TRANSFERS = 4;

/** --checkers of the CLI commands that HEAD while listing (lsl, lsf) */
export const DEFAULT_CHECKERS = 16;

/**
 * --checkers of a mount when not given: HEADs at once for a stat storm (`ls -l`, a file
 * manager). Wider than the CLI's: at a distance a folder's metadata is round trips, and the
 * kernel waits for each one.
 */
export const DEFAULT_MOUNT_CHECKERS = 32;
