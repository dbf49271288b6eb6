// `bucketfs delete remote:path`: delete every object under the path (recursively), keeping the
// directory markers, as rclone's delete keeps directories. Deletions go in DeleteObjects
// batches of 1000 while the listing streams.
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { objectsToActOn } from './listing.js';

const BATCH = 1000;

export const deleteCommand = defineCommand<{ remote: string }>({
  retry: true,
  command: 'delete <remote>',
  describe: 'Remove the files in the path (directories are kept)',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true }),
  async run(cli, args) {
    const loc = cli.bucketLocation(args.remote, 'delete');
    let batch: string[] = [];
    let deleted = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await loc.backend.delete(loc.bucket, batch);
      for (const p of batch) log.info(`${p}: Deleted`);
      deleted += batch.length;
      batch = [];
    };
    for await (const l of objectsToActOn(loc, cli.signal)) {
      if (!(await cli.confirm('delete', l.rel, `size ${l.entry.size}`))) continue;
      batch.push(l.path);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    log.info(`deleted ${deleted} object(s)`);
  },
});
