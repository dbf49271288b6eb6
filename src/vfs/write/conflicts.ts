// Conflicts between writers of one name: what another client stored meanwhile is never
// overwritten; ours goes up as name.conflict-<host>-<time> (recovery, a refused conditional
// upload). The name, the test of a refusal, and the loop that resolves one.
import { hostname } from 'node:os';
import { BackendError } from '../../backend/s3/backend-error.js';
import { errnoInChain } from '../../util/errors.js';

/**
 * `dir/name.ext` → `dir/name.ext.conflict-<host>-20240102-030405` (UTC): the version written on
 * this machine, kept next to the one another client stored (the host says whose it is); `n` > 1
 * when that name was taken too (`…-030405-2`).
 */
export function conflictName(p: string, when: Date, host: string = hostname(), n = 1): string {
  const t = when.toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*$/, '');
  const h = host.split('.')[0]!.replace(/[^A-Za-z0-9_-]/g, '_') || 'host';
  return `${p}.conflict-${h}-${t}${n > 1 ? `-${n}` : ''}`;
}

/** conflict names tried for one upload before it fails as any upload does (and is retried later) */
export const MAX_CONFLICT_NAMES = 8;

/** a conditional upload refused: the object is no longer the version it replaces (412), or gone (404 on If-Match) */
export function isUploadConflict(err: unknown): boolean {
  return err instanceof BackendError && (err.kind === 'PreconditionFailed' || (err.kind === 'NotFound' && err.operation === 'PUT'));
}

/**
 * Run `upload`; when the server refuses it as a conflict, `resolve` (divert the file to a
 * conflict name, or find it was ours after all) and run it again, a bounded number of times.
 * `resolve` false: the server could not be asked, the refusal stands.
 */
export async function uploadResolvingConflicts(upload: () => Promise<void>, resolve: () => Promise<boolean>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await upload();
    } catch (err) {
      if (attempt >= MAX_CONFLICT_NAMES || !isUploadConflict(err) || !(await resolve())) throw err;
    }
  }
}

/** the local disk of the cache is full (ENOSPC, EDQUOT), under whatever wrapped the error */
export function isDiskFull(err: unknown): boolean {
  return errnoInChain(err, ['ENOSPC', 'EDQUOT']) !== undefined;
}

/** The cache cannot take a write: full, or read-only (EROFS: remounted so, or a read-only mount over it). */
export function isCacheUnwritable(err: unknown): boolean {
  return errnoInChain(err, ['ENOSPC', 'EDQUOT', 'EROFS']) !== undefined;
}
