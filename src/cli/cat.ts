// `bucketfs cat remote:path`: the object (or every object under a directory, in listing order)
// to stdout, streamed and binary-safe. --head/--tail/--offset/--count select a byte range of
// each object, which is fetched with a ranged GET rather than downloaded whole.
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import { objectsToActOn } from './listing.js';
import type { Cli, RemoteLocation } from './context.js';

interface CatArgs {
  remote: string;
  head: number;
  tail: number;
  offset: number;
  count: number;
  discard?: boolean;
}

/** rclone's cat: --head N = first N bytes, --tail N = last N, --offset (negative: from the end) and --count. */
export function catRange(size: number, a: Pick<CatArgs, 'head' | 'tail' | 'offset' | 'count'>): { offset: number; count: number } {
  let offset = a.offset;
  let count = a.count;
  if (a.head > 0) {
    offset = 0;
    count = a.head;
  }
  if (a.tail > 0) {
    offset = -a.tail;
    count = -1;
  }
  if (offset < 0) offset = Math.max(0, size + offset);
  offset = Math.min(offset, size);
  const rest = size - offset;
  return { offset, count: count < 0 ? rest : Math.min(count, rest) };
}

async function catOne(cli: Cli, loc: RemoteLocation, path: string, size: number, args: CatArgs): Promise<void> {
  const r = catRange(size, args);
  if (r.count === 0) return;
  const whole = r.offset === 0 && r.count === size;
  const { body } = await loc.backend.read(loc.bucket, path, whole ? { signal: cli.signal } : { offset: r.offset, count: r.count, signal: cli.signal });
  for await (const chunk of cli.throttle(body, 'down') as AsyncIterable<Buffer>) {
    if (!args.discard) await cli.write(chunk);
  }
}

export const catCommand = defineCommand<CatArgs>({
  command: 'cat <remote>',
  describe: 'Concatenate the object(s) under the path to standard output',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true })
      .option('head', { type: 'number', default: 0, describe: 'Only print the first N bytes' })
      .option('tail', { type: 'number', default: 0, describe: 'Only print the last N bytes' })
      .option('offset', { type: 'number', default: 0, describe: 'Start printing at offset N (or from the end if negative)' })
      .option('count', { type: 'number', default: -1, describe: 'Only print N bytes (-1: to the end)' })
      .option('discard', { type: 'boolean', describe: 'Discard the output instead of printing it' }),
  async run(cli, args) {
    for (const k of ['head', 'tail', 'offset', 'count'] as const) {
      if (!Number.isInteger(args[k])) throw new UserError(`--${k} must be a whole number`, EXIT.usage);
    }
    const loc = cli.bucketLocation(args.remote, 'cat');
    if (loc.path !== '') {
      const info = await loc.backend.head(loc.bucket, loc.path);
      if (info) return catOne(cli, loc, loc.path, info.size, args);
    }
    let any = false;
    for await (const l of objectsToActOn(loc, cli.signal)) {
      any = true;
      await catOne(cli, loc, l.path, l.entry.size, args);
    }
    if (!any && loc.path !== '') throw new UserError(`cat ${loc.bucket}/${loc.path}: object not found`, EXIT.fileNotFound);
  },
});
