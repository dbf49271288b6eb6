// `mkdir -p` that reports why it failed. Node's recursive mkdir answers ENOENT when a missing
// parent cannot be made (a read-only disk gives EROFS for the parent, but the recursive call
// reports the child's ENOENT), and the write path chooses what the application sees by that code
// (a full or read-only cache disk is ENOSPC/EROFS, not EIO): so on ENOENT the directories are
// made one level at a time and the first level's own error is thrown.
import fs from 'node:fs/promises';
import path from 'node:path';

export async function makeDirs(dir: string, mode: number): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const missing: string[] = [];
  let at = path.resolve(dir);
  while (!(await exists(at))) {
    missing.unshift(at);
    const up = path.dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing) {
    await fs.mkdir(d, { mode }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}
