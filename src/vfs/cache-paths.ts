// Where a mount keeps its files under --cache-dir: one folder per kind (vfs: pending and cached
// file data; meta: metadata), then per remote, named for people and hashed by the server it
// points at, so two remotes of the same name on different servers never share anything.
import { createHash } from 'node:crypto';
import path from 'node:path';

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80) || '_';
}

/** `<cacheDir>/<kind>/<remote>-<hash of remoteId>/<bucket><suffix>` */
export function remoteCachePath(cacheDir: string, kind: 'vfs' | 'meta', remote: string, remoteId: string | undefined, bucket: string, suffix = ''): string {
  const id = createHash('sha256')
    .update(remoteId ?? remote)
    .digest('hex')
    .slice(0, 8);
  return path.join(cacheDir, kind, `${safeName(remote)}-${id}`, safeName(bucket) + suffix);
}
