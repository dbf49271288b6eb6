// Errors that reach the user. A UserError carries a one-line message meant to be printed
// as is (no stack trace) and the process exit code; everything that talks to the user
// (CLI, mount start-up) turns failures into one of these at the edge.

export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/**
 * A command's run that did its work and ended with errors (failed transfers, deletes): rclone's
 * whole-run retry (--retries, cli/retries.ts) may run it again. `errors` is how many, `lastError`
 * the last one's text (rclone's "Attempt 1/3 failed with N errors and: …"), `fatal` that no
 * retry may help (--max-delete).
 */
export class RunFailure extends UserError {
  constructor(
    message: string,
    exitCode: number,
    readonly errors: number,
    readonly lastError: string,
    readonly fatal = false,
  ) {
    super(message, exitCode);
  }
}

/** Exit codes follow rclone's where they mean the same thing. */
export const EXIT = {
  usage: 1, // syntax or usage error
  notFound: 3, // directory not found
  fileNotFound: 4,
  retryable: 5, // temporary (retry) error
  fatal: 7, // fatal error (bad credentials, config)
} as const;

/** A short, single-line description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const msg = err.message || err.name;
    return msg.split('\n')[0]!.trim();
  }
  return String(err).split('\n')[0]!.trim();
}

/**
 * The first of `codes` that a Node system error (ENOSPC, EROFS, …) says, in `err` or what it
 * wraps (its causes): a disk error keeps its meaning under the VFS's own errors.
 */
export function errnoInChain<C extends string>(err: unknown, codes: readonly C[]): C | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && (codes as readonly string[]).includes(code)) return code as C;
  }
  return undefined;
}
