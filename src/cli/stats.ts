// `bucketfs stats MOUNTPOINT [--json]`: a running mount's state, asked of the mount process over
// its stats socket (src/metrics/socket-path.ts: found from the mount point alone, no flag needed
// at mount time). The mount point must be a bucketfs mount (/proc/self/mountinfo says
// fuse.bucketfs); the mount point itself is never stat'ed: a mount whose process hangs would
// hang `stats` too.
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { findMount, readMountInfo, type MountInfoEntry } from '../fuse/mountinfo.js';
import type { MountSnapshot } from '../metrics/snapshot.js';
import { socketName, statsSocketDirs } from '../metrics/socket-path.js';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import { formatStats } from './stats-text.js';

/** how long the mount may take to answer (it answers from memory: this is for a stuck process) */
const ANSWER_TIMEOUT_MS = 10_000;

interface StatsArgs {
  mountpoint: string;
  json?: boolean;
}

/** The bucketfs mount at `given` (a path through symbolic links too), or a UserError. */
async function bucketfsMount(given: string): Promise<MountInfoEntry> {
  const entries = readMountInfo();
  const abs = path.resolve(given);
  let e = findMount(abs, entries);
  if (!e) {
    // its real path, from its parent's (the parent is not on the mount)
    const real = await fs.realpath(path.dirname(abs)).catch(() => undefined);
    if (real) e = findMount(path.join(real, path.basename(abs)), entries);
  }
  if (!e || e.fsType !== 'fuse.bucketfs') throw new UserError(`${given} is not a bucketfs mount`, EXIT.usage);
  return e;
}

/** GET /stats over the unix socket at `file` */
function ask(file: string): Promise<MountSnapshot> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: file, path: '/stats', timeout: ANSWER_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`the mount answered ${res.statusCode}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body) as MountSnapshot);
        } catch {
          reject(new Error('the mount answered something that is not its stats'));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`the mount did not answer within ${ANSWER_TIMEOUT_MS / 1000}s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** The mount's snapshot, from the first of its possible sockets that is its own. */
async function readStats(m: MountInfoEntry, given: string): Promise<MountSnapshot> {
  const me = process.getuid?.() ?? 0;
  const owner = Number(/(?:^|,)user_id=(\d+)/.exec(m.superOptions)?.[1] ?? me);
  let denied = false;
  for (const dir of statsSocketDirs(owner, me, process.env)) {
    const file = path.join(dir, socketName(m.mountPoint));
    let s: MountSnapshot;
    try {
      s = await ask(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') denied = true;
      else if (code !== 'ENOENT' && code !== 'ECONNREFUSED' && code !== 'ENOTDIR') throw new UserError(`${given}: ${(err as Error).message}`, EXIT.usage);
      continue;
    }
    if (s.mountpoint === m.mountPoint) return s;
  }
  if (denied) throw new UserError(`${given}: its stats belong to the user who mounted it (uid ${owner}): run bucketfs stats as that user or root`, EXIT.usage);
  throw new UserError(
    `${given}: a bucketfs mount, but its process does not answer (mounted by an older bucketfs, or its stats socket was removed)`,
    EXIT.usage,
  );
}

export const statsCommand = defineCommand<StatsArgs>({
  command: 'stats <mountpoint>',
  describe: "Print a running mount's state: uploads pending, cache use, requests, errors, throughput",
  builder: (y) =>
    y
      .positional('mountpoint', { type: 'string', describe: 'the mount point of a running bucketfs mount', demandOption: true })
      .option('json', { type: 'boolean', describe: 'Print the state as one JSON document (fields are only ever added)' }),
  async run(cli, args) {
    const m = await bucketfsMount(args.mountpoint);
    const s = await readStats(m, args.mountpoint);
    const out = cli.lines();
    if (args.json) await out.line(JSON.stringify(s, null, 2));
    else for (const l of formatStats(s)) await out.line(l);
    await out.flush();
  },
});
