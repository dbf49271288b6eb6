// `bucketfs purge remote:bucket[/path]`: remove everything under the path: objects and directory
// markers, the path's own marker, and for a whole bucket the bucket itself (as rclone's purge).
import { BackendError } from '../backend/s3/backend-error.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { listLocation } from './listing.js';
import { unreachableKeyNotice } from '../backend/s3/list.js';

const BATCH = 1000;

export const purgeCommand = defineCommand<{ remote: string }>({
  retry: true,
  command: 'purge <remote>',
  describe: 'Remove the path and all of its contents (a whole bucket: the bucket too)',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:bucket[/path]', demandOption: true }),
  async run(cli, args) {
    const loc = cli.bucketLocation(args.remote, 'purge');
    const item = loc.path === '' ? loc.bucket : `${loc.bucket}/${loc.path}`;
    // Checked before asking: purging a bucket that does not exist is an error (exit 3), not a no-op.
    if (loc.path === '' && !(await loc.backend.bucketExists(loc.bucket))) {
      throw new BackendError('NoSuchBucket', 'purge', loc.bucket, 'directory not found: the bucket does not exist');
    }
    if (!(await cli.confirm('purge', item))) return;
    let batch: string[] = [];
    let deleted = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await loc.backend.delete(loc.bucket, batch);
      deleted += batch.length;
      batch = [];
    };
    for await (const l of listLocation(loc, { recursive: true, signal: cli.signal, all: true })) {
      // a key whose name would be another key's: deleting that name would not delete it
      if (l.entry.unreachableKey !== undefined) {
        if (l.entry.kind !== 'dir') log.notice(unreachableKeyNotice(l.bucket, l.entry.unreachableKey));
        continue;
      }
      // A marker object's key is its directory path with a trailing slash.
      batch.push(l.entry.kind === 'dir' ? `${l.path}/` : l.path);
      if (batch.length >= BATCH) await flush();
    }
    if (loc.path !== '') batch.push(`${loc.path}/`);
    await flush();
    if (loc.path === '') await loc.backend.removeBucket(loc.bucket);
    log.info(`${item}: purged (${deleted} key(s) removed)`);
  },
});
