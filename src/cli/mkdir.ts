// `bucketfs mkdir remote:bucket[/dir]`: create the bucket if missing, and for a path inside it a
// zero-byte `dir/` marker object, so that the empty directory shows in listings and mounts.
import { log } from '../util/log.js';
import { defineCommand } from './command.js';

export const mkdirCommand = defineCommand<{ remote: string }>({
  retry: true,
  command: 'mkdir <remote>',
  describe: 'Make the bucket, or a directory (marker object) inside it',
  builder: (y) => y.positional('remote', { type: 'string', describe: 'remote:bucket[/dir]', demandOption: true }),
  async run(cli, args) {
    const loc = cli.bucketLocation(args.remote, 'mkdir');
    const item = loc.path === '' ? loc.bucket : `${loc.bucket}/${loc.path}`;
    if (!(await cli.confirm('make directory', item))) return;
    await loc.backend.makeBucket(loc.bucket);
    if (loc.path !== '') await loc.backend.makeDirMarker(loc.bucket, loc.path);
    log.info(`${item}: Made directory`);
  },
});
