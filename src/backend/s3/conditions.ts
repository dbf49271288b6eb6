// S3's conditional requests (If-Match / If-None-Match on PUT, CompleteMultipartUpload and
// CopyObject; an ETag per key on DeleteObjects), and what to do on a server that lacks them.
import { BackendError } from './backend-error.js';
import type { BackendContext } from './context.js';

/** store only over this version (its ETag), or only where nothing is */
export type WriteCondition = { ifMatch: string } | { ifNoneMatch: true };

/** the headers of `c`, unless this server refused conditions once */
export function conditionHeaders(ctx: BackendContext, c: WriteCondition | undefined): { IfMatch?: string; IfNoneMatch?: string } {
  if (!c || ctx.conditionsRefused) return {};
  return 'ifMatch' in c ? { IfMatch: c.ifMatch } : { IfNoneMatch: '*' };
}

/**
 * A request that carried a condition failed as a server without conditional requests answers
 * (501 Not Implemented, or 400 naming the header or the XML it does not know): from now on this
 * remote's requests go without them, said once. Returns whether to send it again without.
 */
export function conditionsUnsupported(ctx: BackendContext, hadCondition: boolean, err: unknown): boolean {
  if (!hadCondition || ctx.conditionsRefused || !(err instanceof BackendError)) return false;
  const refused = err.status === 501 || (err.status === 400 && /if-(none-)?match|condition|etag|malformedxml/i.test(err.message));
  if (!refused) return false;
  ctx.conditionsRefused = true;
  ctx.log.notice(
    `${ctx.endpoint || 'the S3 server'} refuses conditional writes (If-Match / If-None-Match: ${err.message}): uploads, copies and deletes go without them, so a file another client stored meanwhile is overwritten (--vfs-conditional-writes=false says so and skips this)`,
  );
  return true;
}

/** the server refused a conditional request: the object is no longer that version (412), or is gone (404 on If-Match) */
export function isRefusedCondition(err: unknown): boolean {
  return err instanceof BackendError && (err.kind === 'PreconditionFailed' || err.kind === 'NotFound');
}
