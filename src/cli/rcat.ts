// `bucketfs rcat remote:bucket/path`: standard input to an object. The input's length is not
// known in advance, so the backend streams it as a multipart upload in chunk_size parts with
// only upload_concurrency parts in memory; --size, when the caller knows it, allows a single
// PUT for small data. An interrupted or failed upload is aborted by the backend (no parts
// left behind) unless --s3-leave-parts-on-error.
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { nowNs } from './format.js';
import { Progress } from './progress.js';

export const rcatCommand = defineCommand<{ remote: string; size: number }>({
  command: 'rcat <remote>',
  describe: 'Copy standard input to a file on the remote',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:bucket/path/to/file', demandOption: true })
      .option('size', { type: 'number', default: -1, describe: 'File size hint to preallocate (-1: unknown)' }),
  async run(cli, args) {
    const loc = cli.bucketLocation(args.remote, 'rcat');
    if (loc.path === '') throw new UserError(`rcat needs a file path: ${JSON.stringify(args.remote)} names a bucket`, EXIT.usage);
    if (!Number.isInteger(args.size) || args.size < -1) throw new UserError(`invalid --size ${args.size}: a byte count, or -1 for unknown`, EXIT.usage);
    if (cli.interactive) throw new UserError('rcat cannot be interactive (-i): standard input carries the data', EXIT.usage);
    if (!(await cli.confirm('copy', loc.path))) return;
    const size = args.size >= 0 ? args.size : undefined;
    const progress = new Progress(cli.progress);
    progress.addFile(size);
    // On Ctrl-C/SIGTERM the backend stops the upload even while it waits for input, and aborts
    // the multipart upload.
    try {
      const info = await loc.backend.put(loc.bucket, loc.path, cli.throttle(process.stdin, 'up'), {
        size,
        mtimeNs: nowNs(),
        signal: cli.signal,
        onProgress: progress.tracker(),
      });
      progress.fileDone();
      log.info(`${loc.path}: Copied (new), ${info.size} bytes`);
    } finally {
      progress.stop();
    }
  },
});
