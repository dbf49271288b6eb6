// Secrets on the command line (`--s3-secret-access-key …`, an on-the-fly remote
// `:s3,secret_access_key=…:bucket`) must not stay readable by every local user in `ps` (every
// process's /proc/PID/cmdline is world-readable; its environment is not). So the process shows
// its arguments with the secret values as *** (Node's process.title rewrites the memory the
// kernel reads cmdline from), and the detached child of --daemon gets its real arguments
// through its environment, never on its command line. The config file or the environment are
// the places for secrets; --help says so.
import { hideBin } from 'yargs/helpers';
import { S3_OPTIONS, s3FlagName } from '../config/option-table.js';
import { rawArguments } from './raw-names.js';

/** the real arguments of a --daemon child, as JSON, in its environment */
export const DAEMON_ARGS_ENV = 'BUCKETFS_DAEMON_ARGS';

const SECRET_OPTIONS = S3_OPTIONS.filter((o) => o.secret);
const SECRET_FLAGS = new Set(SECRET_OPTIONS.map((o) => s3FlagName(o)));
const SECRET_NAMES = new Set(SECRET_OPTIONS.map((o) => o.name));
/** `name=value` of a secret inside an on-the-fly remote (`:s3,secret_access_key=…:`) */
const SECRET_PARAMS = new RegExp(`\\b(${SECRET_OPTIONS.map((o) => o.name).join('|')})=("[^"]*"|'[^']*'|[^,:]*)`, 'g');

let current: string[] | undefined;

/** This process's arguments after the script: a --daemon child's from its environment (then removed), else the command line's. */
export function commandArguments(): string[] {
  current ??= readArguments();
  return current;
}

/** The arguments this process runs with instead (the mount helper's, translated): what a --daemon child gets. */
export function useCommandArguments(args: string[]): void {
  current = args;
}

function readArguments(): string[] {
  const passed = process.env[DAEMON_ARGS_ENV];
  if (passed !== undefined) {
    delete process.env[DAEMON_ARGS_ENV];
    try {
      const args = JSON.parse(passed) as unknown;
      if (Array.isArray(args) && args.every((a) => typeof a === 'string')) return args;
    } catch {
      // not ours: the command line then
    }
  }
  return rawArguments(hideBin(process.argv));
}

/** `args` with every secret value as *** (null when there is none) */
export function redactedArguments(args: readonly string[]): string[] | null {
  let any = false;
  // `config create|update NAME s3 secret_access_key VALUE`: the pair form of a secret; `config
  // password NAME key VALUE…`: every value is a password
  const configAt = args.findIndex((a, i) => a === 'config' && args[i - 1] !== '--config');
  const configAction = configAt >= 0 ? args[configAt + 1] : undefined;
  const out = args.map((a, i) => {
    const prev = args[i - 1];
    if (configAction === 'password' && i > configAt + 2 && !a.startsWith('--')) {
      any = true;
      return '***';
    }
    if (configAt >= 0 && prev !== undefined && SECRET_NAMES.has(prev) && i > configAt + 2) {
      any = true;
      return '***';
    }
    if (prev !== undefined && SECRET_FLAGS.has(prev.replace(/^--/, '')) && !a.startsWith('--')) {
      any = true;
      return '***';
    }
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && SECRET_FLAGS.has(a.slice(2, eq))) {
      any = true;
      return `${a.slice(0, eq)}=***`;
    }
    const hidden = a.replace(SECRET_PARAMS, (_m, name: string) => `${name}=***`);
    if (hidden !== a) any = true;
    return hidden;
  });
  return any ? out : null;
}

/** Show `args` in ps with their secrets as ***, when they hold any. */
export function hideSecretArguments(args: readonly string[]): void {
  const shown = redactedArguments(args);
  if (shown) process.title = ['bucketfs', ...shown].join(' ');
}
