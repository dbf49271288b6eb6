// `bucketfs lsd remote:path`: directories, as rclone prints them:
// `%12d %13s %9d name` = size, time `2006-01-02 15:04:05` (local), count -1, name. The size is
// -1 for a bucket and 0 for a directory inside one, as rclone's S3 backend gives them.
// `lsd remote:` lists the buckets with their creation dates. S3 has no directory times: a
// common prefix shows the current time (as rclone), a directory marker its LastModified.
import { defineCommand } from './command.js';
import { dateToNs, formatLocalTime, nowNs } from './format.js';
import { listLocation, parentDirs } from './listing.js';

function line(name: string, ns: bigint, size: number): string {
  return `${String(size).padStart(12)} ${formatLocalTime(ns, 0).padStart(13)} ${String(-1).padStart(9)} ${name}`;
}

export const lsdCommand = defineCommand<{ remote: string; recursive?: boolean }>({
  command: 'lsd <remote>',
  describe: 'List the directories in the path (the buckets for remote:)',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:bucket/path, or remote: for the buckets', demandOption: true })
      .option('recursive', { alias: 'R', type: 'boolean', describe: 'Recurse into the listing' }),
  async run(cli, args) {
    const loc = cli.remote(args.remote, 'lsd');
    const out = cli.lines();
    if (!args.recursive || loc.bucket === '') {
      for await (const l of listLocation(loc, { recursive: false, signal: cli.signal })) {
        if (l.entry.kind !== 'dir') continue;
        await out.line(line(l.rel, l.entry.lastModified ? dateToNs(l.entry.lastModified) : nowNs(), loc.bucket === '' ? -1 : 0));
      }
      await out.flush();
      return;
    }
    // -R: every directory, from markers and from the parents of every object, in path order.
    const dirs = new Map<string, bigint | undefined>();
    for await (const l of listLocation(loc, { recursive: true, signal: cli.signal })) {
      const rel = l.rel;
      if (l.entry.kind === 'dir') dirs.set(rel, l.entry.lastModified ? dateToNs(l.entry.lastModified) : dirs.get(rel));
      for (const p of parentDirs(rel)) if (!dirs.has(p)) dirs.set(p, undefined);
    }
    const now = nowNs();
    for (const name of [...dirs.keys()].sort()) await out.line(line(name, dirs.get(name) ?? now, 0));
    await out.flush();
  },
});
