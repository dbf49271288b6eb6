// `bucketfs listremotes [--long]`: the remotes of the config file (and those defined only in
// the environment), one `name:` a line, sorted, as rclone prints them; --long adds the type, names padded
// to one width.
import { listRemotes } from '../config/remotes.js';
import { defineCommand } from './command.js';

export const listremotesCommand = defineCommand<{ long?: boolean }>({
  command: 'listremotes',
  describe: 'List all the remotes in the config file and defined in environment variables',
  builder: (y) => y.option('long', { type: 'boolean', describe: 'Show the type as well as names' }),
  async run(cli, args) {
    // rclone 1.60 sorts them, config file and environment together (byte order)
    const remotes = [...listRemotes(cli.config)].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    const width = Math.max(0, ...remotes.map((r) => r.name.length + 1));
    const out = cli.lines();
    for (const r of remotes) await out.line(args.long ? `${`${r.name}:`.padEnd(width)} ${r.type}` : `${r.name}:`);
    await out.flush();
  },
});
