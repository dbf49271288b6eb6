// rclone's whole-run retry (cmd.Run with retry): a command that changes things (copy, sync,
// move, cleanup, delete, …) and ends with errors is run again, up to --retries times in all
// (default 3), --retries-sleep apart, each failed attempt logged as rclone logs it:
//   ERROR : Attempt 1/3 failed with 1 errors and: <the last error>
//   ERROR : Attempt 2/3 succeeded
// A fatal error (--max-delete) is not retried ("Fatal error received - not attempting retries").
// Errors in the command line itself (exit 1 before any work: bad flags, overlapping paths) and
// refused credentials or access (exit 7) end the command at once: rclone reports the former before
// its loop and would try a refused access three times over, in vain.
// Requests are retried one level down, by the backend (--low-level-retries, backend/s3/retry.ts).
import { BackendError } from '../backend/s3/backend-error.js';
import { parseDuration, InvalidValueError } from '../config/units.js';
import { RunFailure, UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import type { Cli, GlobalArgs } from './context.js';
import { EXIT_UNCATEGORIZED, oneLine } from './edge.js';

export interface RetryFlags {
  retries: number;
  sleepMs: number;
  /** undefined: the backend's default */
  lowLevelRetries?: number;
}

/** --retries, --retries-sleep and --low-level-retries, checked. */
export function retryFlags(argv: GlobalArgs): RetryFlags {
  const whole = (name: string, min: number): number | undefined => {
    const v = argv[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new UserError(`invalid argument ${JSON.stringify(String(v))} for "--${name}" flag: a whole number`, EXIT.usage);
    return v;
  };
  let sleepMs = 0;
  const sleep = argv['retries-sleep'];
  if (sleep !== undefined) {
    try {
      sleepMs = parseDuration(String(sleep));
    } catch (err) {
      if (err instanceof InvalidValueError)
        throw new UserError(`invalid argument ${JSON.stringify(String(sleep))} for "--retries-sleep" flag: ${err.message}`, EXIT.usage);
      throw err;
    }
  }
  // rclone runs a command once when given --retries 0 or less
  return { retries: Math.max(1, whole('retries', -1_000_000) ?? 3), sleepMs, lowLevelRetries: whole('low-level-retries', 1) };
}

/** Whether an attempt's failure may go away on another: its error count and text, or undefined. */
function retryable(err: unknown): { errors: number; text: string; fatal: boolean } | undefined {
  if (err instanceof RunFailure) return { errors: err.errors, text: err.lastError, fatal: err.fatal };
  if (err instanceof BackendError) {
    if (err.kind === 'Aborted' || err.kind === 'InvalidCredentials' || err.kind === 'AccessDenied' || err.kind === 'InvalidName') return undefined;
    return { errors: 1, text: oneLine(err.message), fatal: false };
  }
  if (err instanceof UserError) {
    const again: number[] = [EXIT.notFound, EXIT.fileNotFound, EXIT.retryable, EXIT_UNCATEGORIZED];
    return again.includes(err.exitCode) ? { errors: 1, text: oneLine(err.message), fatal: false } : undefined;
  }
  return undefined;
}

/** Run `attempt` up to flags.retries times, as rclone's cmd.Run does; the last failure is thrown. */
export async function runWithRetries(cli: Cli, flags: RetryFlags, attempt: () => Promise<void>): Promise<void> {
  cli.deferStats = true;
  try {
    for (let n = 1; ; n++) {
      try {
        await attempt();
        if (n > 1) log.error(`Attempt ${n}/${flags.retries} succeeded`);
        return;
      } catch (err) {
        const why = cli.signal.aborted ? undefined : retryable(err);
        if (!why) throw err;
        if (why.fatal) {
          log.error('Fatal error received - not attempting retries');
          throw err;
        }
        log.error(`Attempt ${n}/${flags.retries} failed with ${why.errors} errors and: ${why.text}`);
        if (n >= flags.retries) throw err;
        if (flags.sleepMs > 0) await new Promise((r) => setTimeout(r, flags.sleepMs));
      }
    }
  } finally {
    cli.deferStats = false;
    if (cli.runStats) cli.logStats(cli.runStats);
  }
}
