// `bucketfs ls remote:path`: every object under the path, recursively, as rclone prints it:
// the size right-aligned in 9 columns, a space, the path relative to the argument.
import { defineCommand } from './command.js';
import { padSize } from './format.js';
import { listObjects } from './listing.js';

export const lsCommand = defineCommand<{ remote: string }>({
  command: 'ls <remote>',
  describe: 'List the objects in the path with size and path (recursive)',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true }),
  async run(cli, args) {
    const loc = cli.remote(args.remote, 'ls');
    const out = cli.lines();
    for await (const l of listObjects(loc, cli.signal)) await out.line(`${padSize(l.entry.size)} ${l.rel}`);
    await out.flush();
  },
});
