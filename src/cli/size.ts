// `bucketfs size remote:path`: object count and total bytes, recursively, in rclone's format:
//   Total objects: 3 (3)
//   Total size: 12 MiB (12582912 Byte)
import { defineCommand } from './command.js';
import { formatSizeReport } from './format.js';
import { listObjects } from './listing.js';

export const sizeCommand = defineCommand<{ remote: string; json?: boolean }>({
  command: 'size <remote>',
  describe: 'Print the total size and number of objects in the path',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true })
      .option('json', { type: 'boolean', describe: 'Format output as JSON' }),
  async run(cli, args) {
    const loc = cli.remote(args.remote, 'size');
    let count = 0;
    let bytes = 0;
    for await (const l of listObjects(loc, cli.signal)) {
      count++;
      bytes += l.entry.size;
    }
    if (args.json) await cli.write(JSON.stringify({ count, bytes, sizeless: 0, fs: args.remote }) + '\n');
    else await cli.write(formatSizeReport(count, bytes));
  },
});
