// Options a remote sets that bucketfs does not act on are said once, never silently dropped:
// rclone 1.60's S3 options that bucketfs does not implement (newer than the reference it follows:
// requester_pays, versions, …; a config written by `rclone config` may hold them), and the
// options bucketfs accepts without effect (option-table.ts noEffect) when set to anything but
// their default. One NOTICE per option per process, on stderr: the command's output is unchanged.
import { log } from '../util/log.js';
import { S3_OPTIONS } from './option-table.js';
import { RCLONE_S3_OPTIONS } from './rclone-s3-options.js';
import { remoteEnvKey } from './remotes.js';

const known = new Set(S3_OPTIONS.map((o) => o.name));
const notImplemented = new Set(RCLONE_S3_OPTIONS.map((o) => o.name).filter((n) => !known.has(n)));
const said = new Set<string>();

function once(key: string, message: string): void {
  if (said.has(key)) return;
  said.add(key);
  log.notice(message);
}

/**
 * Say what the remote's section (or its RCLONE_CONFIG_<REMOTE>_* variables) sets that bucketfs
 * ignores; `nonDefault` names the options whose value did not come from their default.
 */
export function noticeIgnoredOptions(remote: string, section: Record<string, string>, env: NodeJS.ProcessEnv, nonDefault: ReadonlySet<string>): void {
  for (const name of notImplemented) {
    const where =
      section[name] !== undefined && section[name] !== ''
        ? 'in the config file'
        : env[remoteEnvKey(remote, name)] !== undefined
          ? `in ${remoteEnvKey(remote, name)}`
          : undefined;
    if (where) once(name, `${remote}: ${name} (set ${where}) is an rclone S3 option bucketfs does not implement: ignored`);
  }
  for (const o of S3_OPTIONS) {
    if (o.noEffect && nonDefault.has(o.name)) once(o.name, `${remote}: ${o.name} has no effect in bucketfs (see bucketfs help options): ignored`);
  }
}
