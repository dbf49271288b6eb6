// `bucketfs backend COMMAND remote:path [-o key=value]…`: rclone's S3 backend commands.
//   restore                 restore from GLACIER/DEEP_ARCHIVE (-o priority, -o lifetime, -o description)
//   list-multipart-uploads  unfinished multipart uploads as JSON, by bucket
//   cleanup                 abort unfinished multipart uploads older than -o max-age (default 24h)
// JSON is printed as rclone prints it (Go's encoding/json, tab-indented, map keys sorted).
import type { MultipartUploadInfo } from '../backend/s3/types.js';
import { parseDuration, InvalidValueError } from '../config/units.js';
import { UserError, EXIT } from '../util/errors.js';
import { bucketsOf, cleanupUploads } from './cleanup.js';
import { defineCommand } from './command.js';
import type { Cli, RemoteLocation } from './context.js';
import { formatJsonTime, goJson } from './format.js';
import { objectsToActOn } from './listing.js';

const COMMANDS: Record<string, { help: string; options: string[] }> = {
  restore: { help: 'Restore objects from GLACIER to normal storage', options: ['priority', 'lifetime', 'description'] },
  'list-multipart-uploads': { help: 'List the unfinished multipart uploads', options: [] },
  cleanup: { help: 'Remove unfinished multipart uploads older than max-age (default 24h)', options: ['max-age'] },
};

/** `-o key=value` / `-o key` (= "true"), as rclone's backend command takes them. */
export function parseBackendOptions(list: string[], allowed: string[], command: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const key = eq === -1 ? item : item.slice(0, eq);
    const value = eq === -1 ? 'true' : item.slice(eq + 1);
    if (!allowed.includes(key)) {
      const known = allowed.length ? allowed.map((k) => `"${k}"`).join(', ') : 'none';
      throw new UserError(`backend ${command}: unknown option -o ${JSON.stringify(key)} (known: ${known})`, EXIT.usage);
    }
    out[key] = value;
  }
  return out;
}

function uploadJson(u: MultipartUploadInfo): Record<string, unknown> {
  const party = (p?: { id?: string; displayName?: string }) => (p ? { DisplayName: p.displayName ?? null, ID: p.id ?? null } : null);
  return {
    Initiated: u.initiated ? formatJsonTime(u.initiated) : null,
    Initiator: party(u.initiator),
    Key: u.key,
    Owner: party(u.owner),
    StorageClass: u.storageClass ?? null,
    UploadId: u.uploadId,
  };
}

async function restore(cli: Cli, loc: RemoteLocation, opts: Record<string, string>): Promise<void> {
  if (loc.bucket === '') throw new UserError('backend restore needs a bucket: remote:bucket[/path]', EXIT.usage);
  const tier = opts.priority ?? 'Standard';
  if (tier !== 'Standard' && tier !== 'Expedited' && tier !== 'Bulk') {
    throw new UserError(`backend restore: invalid priority ${JSON.stringify(tier)}: use Standard, Expedited or Bulk`, EXIT.usage);
  }
  const days = opts.lifetime === undefined ? 1 : Number(opts.lifetime);
  if (!Number.isInteger(days) || days < 1)
    throw new UserError(`backend restore: invalid lifetime ${JSON.stringify(opts.lifetime)}: a number of days ≥ 1`, EXIT.usage);

  const results: Array<{ Status: string; Remote: string }> = [];
  for await (const l of objectsToActOn(loc, cli.signal)) {
    if (!(await cli.confirm('restore', l.rel))) continue;
    try {
      await loc.backend.restore(l.bucket, l.path, { days, tier, ...(opts.description ? { description: opts.description } : {}) });
      results.push({ Status: 'OK', Remote: l.rel });
    } catch (err) {
      if (cli.signal.aborted) throw err;
      // As rclone: one status per object, the error message in place of "OK".
      results.push({ Status: err instanceof Error ? err.message : String(err), Remote: l.rel });
    }
  }
  await cli.write(goJson(results, '\t') + '\n');
}

async function listMultipart(cli: Cli, loc: RemoteLocation): Promise<void> {
  const out: Record<string, unknown[]> = {};
  for (const bucket of await bucketsOf(loc)) {
    const uploads = await loc.backend.listMultipartUploads(bucket, loc.bucket === '' || loc.path === '' ? undefined : loc.path);
    out[bucket] = uploads.map(uploadJson);
  }
  await cli.write(goJson(out, '\t') + '\n');
}

async function cleanup(cli: Cli, loc: RemoteLocation, opts: Record<string, string>): Promise<void> {
  let maxAgeMs: number;
  try {
    maxAgeMs = parseDuration(opts['max-age'] ?? '24h');
  } catch (err) {
    if (err instanceof InvalidValueError) throw new UserError(`backend cleanup: invalid max-age: ${err.message}`, EXIT.usage);
    throw err;
  }
  await cleanupUploads(cli, loc, maxAgeMs);
}

export const backendCommand = defineCommand<{ name: string; remote: string; option?: string | string[] }>({
  command: 'backend <name> <remote>',
  describe: 'Run an S3 backend command: restore, list-multipart-uploads, cleanup',
  builder: (y) =>
    y
      .positional('name', {
        type: 'string',
        describe: Object.entries(COMMANDS)
          .map(([k, v]) => `${k}: ${v.help}`)
          .join('; '),
        demandOption: true,
      })
      .positional('remote', { type: 'string', describe: 'remote:[bucket[/path]]', demandOption: true })
      // nargs 1: one value per -o, never swallowing the remote that follows.
      .option('option', { alias: 'o', type: 'string', array: true, nargs: 1, describe: 'Option to the command: -o key=value (repeatable)' }),
  async run(cli, args) {
    const spec = COMMANDS[args.name];
    if (!spec) {
      throw new UserError(`backend: unknown command ${JSON.stringify(args.name)} (known: ${Object.keys(COMMANDS).join(', ')})`, EXIT.usage);
    }
    // With duplicate-arguments-array off, every occurrence is collected under the alias key and
    // only the last under the long name: take the longer list.
    const asList = (v: unknown) => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
    const a = asList(args.option);
    const b = asList((args as Record<string, unknown>).o);
    const list = b.length > a.length ? b : a;
    const opts = parseBackendOptions(list, spec.options, args.name);
    const loc = cli.remote(args.remote, `backend ${args.name}`);
    if (args.name === 'restore') return restore(cli, loc, opts);
    if (args.name === 'list-multipart-uploads') return listMultipart(cli, loc);
    return cleanup(cli, loc, opts);
  },
});
