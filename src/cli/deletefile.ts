// `bucketfs deletefile remote:bucket/path`: delete one object; unlike `delete`, the path must be
// an object, not a directory.
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';

export const deletefileCommand = defineCommand<{ remote: string }>({
  retry: true,
  command: 'deletefile <remote>',
  describe: 'Remove a single file from the remote',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:bucket/path/to/file', demandOption: true }),
  async run(cli, args) {
    const loc = cli.bucketLocation(args.remote, 'deletefile');
    if (loc.path === '') throw new UserError(`deletefile ${args.remote}: is a bucket, not a file`, EXIT.usage);
    const info = await loc.backend.head(loc.bucket, loc.path);
    if (!info) throw new UserError(`deletefile ${loc.bucket}/${loc.path}: object not found`, EXIT.fileNotFound);
    if (!(await cli.confirm('delete', loc.path, `size ${info.size}`))) return;
    await loc.backend.delete(loc.bucket, [loc.path]);
    log.info(`${loc.path}: Deleted`);
  },
});
