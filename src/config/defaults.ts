// Defaults shared by the CLI, the mount options and the VFS, in a module that imports nothing,
// so the VFS can use them without pulling in flag parsing.

/** rclone's --transfers default: parallel copies (CLI) and background uploads (mount) at a time */
export const DEFAULT_TRANSFERS = 4;
