// `bucketfs rmdir remote:bucket[/dir]`: remove an empty directory: its `dir/` marker object, or
// for a bucket root the bucket itself. A directory with anything in it is left alone.
import { UserError } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { EXIT_UNCATEGORIZED } from './edge.js';

export const rmdirCommand = defineCommand<{ remote: string }>({
  retry: true,
  command: 'rmdir <remote>',
  describe: 'Remove the empty directory (marker) or empty bucket',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:bucket[/dir]', demandOption: true }),
  async run(cli, args) {
    const loc = cli.bucketLocation(args.remote, 'rmdir');
    const item = loc.path === '' ? loc.bucket : `${loc.bucket}/${loc.path}`;
    for await (const entry of loc.backend.list(loc.bucket, loc.path, { recursive: false, signal: cli.signal })) {
      if (entry.path === loc.path) continue;
      throw new UserError(`rmdir ${item}: directory not empty`, EXIT_UNCATEGORIZED);
    }
    if (!(await cli.confirm('remove directory', item))) return;
    if (loc.path === '') await loc.backend.removeBucket(loc.bucket);
    // The marker key is the directory's path with a trailing slash.
    else await loc.backend.delete(loc.bucket, [`${loc.path}/`]);
    log.info(`${item}: Removing directory`);
  },
});
