// `bucketfs cleanup remote:[bucket[/path]]`, rclone's top-level cleanup, and the work it shares
// with `backend cleanup` (backend.ts): for S3, rclone 1.60's CleanUp aborts the pending
// multipart uploads older than 24h (backend cleanup: older than -o max-age). bucketfs has no
// --s3-versions, so there are no old versions to remove. The log lines are rclone's, word for
// word; the whole command first passes the gate once ("clean up old files"), then each upload
// ("remove pending upload"), as rclone's operations.CleanUp and s3 cleanUp do.
import { BackendError } from '../backend/s3/backend-error.js';
import { formatDuration } from '../config/units.js';
import { RunFailure, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import type { Cli, RemoteLocation } from './context.js';
import { fsName } from './tree.js';

/** The default age of `cleanup` (rclone's CleanUp: 24 hours). */
export const CLEANUP_MAX_AGE_MS = 24 * 3600 * 1000;

/** Go's `%v` of a time.Time as the SDK parses it (UTC): `2010-11-10 20:48:33 +0000 UTC`. */
export function goTimeUtc(d: Date): string {
  const iso = d.toISOString();
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms ? `.${ms}` : ''} +0000 UTC`;
}

/** The bucket of `loc`, or every bucket (sorted) for `remote:`. */
export async function bucketsOf(loc: RemoteLocation): Promise<string[]> {
  if (loc.bucket !== '') return [loc.bucket];
  return (await loc.backend.listBuckets()).map((b) => b.name).sort();
}

/**
 * Abort the pending multipart uploads under `loc` (every bucket for `remote:`; keys starting
 * with the path, as rclone's prefix) initiated more than `maxAgeMs` ago. A failed abort is logged
 * and the others still tried; the last failure is thrown at the end, as rclone returns it.
 */
export async function cleanupUploads(cli: Cli, loc: RemoteLocation, maxAgeMs: number): Promise<void> {
  const name = fsName(loc);
  let lastError: unknown;
  for (const bucket of await bucketsOf(loc)) {
    log.info(`${name}: cleaning bucket ${JSON.stringify(bucket)} of pending multipart uploads older than ${formatDuration(maxAgeMs)}`);
    const uploads = await loc.backend.listMultipartUploads(bucket, loc.bucket === '' || loc.path === '' ? undefined : loc.path);
    for (const u of uploads) {
      const ago = u.initiated ? formatDuration(Date.now() - u.initiated.getTime()) : '';
      const what = `pending multipart upload for bucket ${JSON.stringify(bucket)} key ${JSON.stringify(u.key)} dated ${u.initiated ? goTimeUtc(u.initiated) : '<nil>'} (${ago} ago)`;
      // no initiation date: rclone keeps it (it cannot tell the age)
      if (!u.initiated || Date.now() - u.initiated.getTime() <= maxAgeMs) {
        log.debug(`${name}: ignoring ${what}`);
        continue;
      }
      log.info(`${name}: removing ${what}`);
      if (!(await cli.confirm('remove pending upload', what))) continue;
      try {
        await loc.backend.abortMultipartUpload(bucket, u.key, u.uploadId);
      } catch (err) {
        // Finished or aborted by someone else meanwhile: nothing left to clean.
        if (err instanceof BackendError && err.kind === 'NotFound') continue;
        if (cli.signal.aborted) throw err;
        log.error(`${name}: failed to remove ${what}: ${err instanceof Error ? err.message : String(err)}`);
        lastError = err;
      }
    }
  }
  if (lastError !== undefined) throw lastError;
}

export const cleanupCommand = defineCommand<{ remote: string }>({
  retry: true,
  command: 'cleanup <remote>',
  describe: 'Clean up the remote: remove pending multipart uploads older than 24h (backend cleanup: any age)',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:[bucket[/path]]', demandOption: true }),
  async run(cli, args) {
    const loc = cli.remote(args.remote, 'cleanup');
    // rclone asks once for the whole command, then for each upload
    if (!(await cli.confirm('clean up old files', fsName(loc)))) return;
    try {
      await cleanupUploads(cli, loc, CLEANUP_MAX_AGE_MS);
    } catch (err) {
      // rclone's S3 CleanUp returns the SDK's error unmapped: a missing bucket exits 1, not 3
      if (err instanceof BackendError && err.kind === 'NoSuchBucket') throw new RunFailure(`Failed to cleanup: ${err.message}`, EXIT.usage, 1, err.message);
      throw err;
    }
  },
});
