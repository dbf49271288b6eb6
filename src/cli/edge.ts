// The edge of the CLI: every failure becomes exactly one line on stderr, `bucketfs: <message>`,
// with a secret-free message and rclone's exit code. A stack trace is printed only at -vv, and
// only for errors that are not expected ones (UserError, BackendError).
import { BackendError, type BackendErrorKind } from '../backend/s3/backend-error.js';
import { UserError, EXIT, describeError } from '../util/errors.js';
import { log, redact } from '../util/log.js';

/** rclone's code for an error not otherwise categorised (lib/exitcode UncategorizedError). */
export const EXIT_UNCATEGORIZED = 2;

const BACKEND_EXIT: Record<BackendErrorKind, number> = {
  NotFound: EXIT.fileNotFound,
  NoSuchBucket: EXIT.notFound,
  AccessDenied: EXIT.fatal,
  InvalidCredentials: EXIT.fatal,
  PreconditionFailed: EXIT_UNCATEGORIZED,
  Archived: EXIT_UNCATEGORIZED,
  TooLarge: EXIT_UNCATEGORIZED,
  InvalidName: EXIT.usage,
  Network: EXIT.retryable,
  Throttled: EXIT.retryable,
  Server: EXIT.retryable,
  Aborted: EXIT_UNCATEGORIZED,
  Other: EXIT_UNCATEGORIZED,
};

export function exitCodeOf(err: unknown): number {
  if (err instanceof UserError) return err.exitCode;
  if (err instanceof BackendError) return BACKEND_EXIT[err.kind] ?? EXIT_UNCATEGORIZED;
  return EXIT_UNCATEGORIZED;
}

/** One line, no newlines, secrets replaced. */
export function oneLine(text: string): string {
  return redact(text.replace(/\s*[\r\n]+\s*/g, ' ').trim());
}

/** Print the error as the one line the user sees and return the exit code. */
export function reportError(err: unknown): number {
  const expected = err instanceof UserError || err instanceof BackendError;
  const message = expected ? (err as Error).message : describeError(err);
  process.stderr.write(`bucketfs: ${oneLine(message || 'unknown error')}\n`);
  if (!expected && log.enabled('DEBUG') && err instanceof Error && err.stack) {
    // -vv only: the stack of an unexpected error, for a bug report.
    for (const line of err.stack.split('\n').slice(1)) log.debug(line.trim());
  }
  return exitCodeOf(err);
}
