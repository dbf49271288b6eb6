// `bucketfs touch remote:bucket/path`: create an empty object, or set the modification time of an
// existing one (X-Amz-Meta-Mtime, changed by a server-side copy of the object onto itself, so
// the data is not transferred). -t/--timestamp sets a given time (UTC unless --localtime).
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { nowNs, parseTouchTimestamp } from './format.js';
import { objectsToActOn } from './listing.js';
import { forEachLimit } from '../util/concurrency.js';

interface TouchArgs {
  remote: string;
  timestamp?: string;
  'no-create'?: boolean;
  localtime?: boolean;
  recursive?: boolean;
  transfers: number;
}

export const touchCommand = defineCommand<TouchArgs>({
  retry: true,
  command: 'touch <remote>',
  describe: 'Create new file or change file modification time',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true })
      .option('timestamp', { alias: 't', type: 'string', describe: 'Use this time instead of now: YYYY-MM-DDTHH:MM:SS[.fraction], YYYY-MM-DD or YYMMDD' })
      .option('no-create', { alias: 'C', type: 'boolean', describe: 'Do not create the file if it does not exist (implied with --recursive)' })
      .option('localtime', { type: 'boolean', describe: 'Use localtime for timestamp, not UTC' })
      .option('recursive', { alias: 'R', type: 'boolean', describe: 'Recursively touch all files' }),
  async run(cli, args) {
    const loc = cli.bucketLocation(args.remote, 'touch');
    const mtimeNs = args.timestamp !== undefined ? parseTouchTimestamp(args.timestamp, args.localtime === true) : nowNs();
    if (args.recursive) {
      const items: string[] = [];
      for await (const l of objectsToActOn(loc, cli.signal)) items.push(l.path);
      await forEachLimit(items, args.transfers, async (p) => {
        if (!(await cli.confirm('touch', p))) return;
        await loc.backend.setMtime(loc.bucket, p, mtimeNs);
        log.info(`${p}: Touched`);
      });
      return;
    }
    if (loc.path === '') throw new UserError(`touch needs a file path: ${JSON.stringify(args.remote)} names a bucket (use -R to touch every file)`, EXIT.usage);
    const info = await loc.backend.head(loc.bucket, loc.path);
    if (info) {
      if (!(await cli.confirm('touch', loc.path))) return;
      await loc.backend.setMtime(loc.bucket, loc.path, mtimeNs);
      log.info(`${loc.path}: Touched`);
      return;
    }
    if (args['no-create']) {
      log.info(`${loc.path}: not found, not created (--no-create)`);
      return;
    }
    if (!(await cli.confirm('touch (create)', loc.path))) return;
    await loc.backend.put(loc.bucket, loc.path, Buffer.alloc(0), { size: 0, mtimeNs, signal: cli.signal });
    log.info(`${loc.path}: Created`);
  },
});
