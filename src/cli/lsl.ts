// `bucketfs lsl remote:path`: objects recursively with size, modification time and path:
// `%9d 2006-01-02 15:04:05.000000000 path`, local time. The time is rclone's X-Amz-Meta-Mtime,
// which only a HEAD returns, so the HEADs run --checkers at a time while the listing streams;
// objects without it show their LastModified.
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { defineCommand } from './command.js';
import { formatLocalTime, padSize } from './format.js';
import { listObjects, mtimeOf, withHead } from './listing.js';

export const lslCommand = defineCommand<{ remote: string; checkers?: number }>({
  command: 'lsl <remote>',
  describe: 'List the objects in the path with size, modification time and path (recursive)',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true }),
  async run(cli, args) {
    const loc = cli.remote(args.remote, 'lsl');
    const out = cli.lines();
    for await (const l of withHead(loc, listObjects(loc, cli.signal), args.checkers ?? DEFAULT_CHECKERS)) {
      if (l.gone) continue;
      await out.line(`${padSize(l.info?.size ?? l.entry.size)} ${formatLocalTime(mtimeOf(l.info, l.entry), 9)} ${l.rel}`);
    }
    await out.flush();
  },
});
