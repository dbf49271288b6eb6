// Locating and reading rclone.conf, the way rclone does.
//
// The file is parsed here rather than with the `ini` package because ini's decoder changes
// rclone files: it cuts values at an unquoted `;` or `#` (secret keys may contain both), nests
// sections whose names contain a dot (`[s3.prod]` is a valid rclone remote) and JSON-decodes
// quoted values. rclone reads the file with goconfig, whose rules are small and are followed
// below: `#`/`;` start a comment only at the start of a line, `key = value` or `key: value`,
// one pair of matching quotes (", ', `) around a value is removed, nothing is unescaped.
import { log } from '../util/log.js';
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError, EXIT } from '../util/errors.js';
import type { ConfigContext } from './context.js';
import { decryptConfigFile, encryptionOf } from './config-crypt.js';

export type ConfigSections = Record<string, Record<string, string>>;

export interface LoadedConfig {
  /** The file in use, or that would be used; "" when the config file is disabled (`--config ""`). */
  path: string;
  /** false when there is no file (no remotes defined in it). */
  found: boolean;
  sections: ConfigSections;
}

export interface ConfigLocation {
  path: string;
  /** Named by --config or RCLONE_CONFIG: then it must exist. */
  explicit: boolean;
}

const CONFIG_FILE_NAME = 'rclone.conf';
const HIDDEN_CONFIG_FILE_NAME = '.rclone.conf';

/**
 * Which config file applies: `--config` > RCLONE_CONFIG > $XDG_CONFIG_HOME/rclone/rclone.conf
 * (XDG_CONFIG_HOME defaulting to ~/.config) if it exists > ~/.rclone.conf if it exists > the
 * first of those as the default path (which may not exist: then there are no remotes).
 */
export function locateConfig(ctx: Pick<ConfigContext, 'configPath' | 'env'>): ConfigLocation {
  if (ctx.configPath !== undefined) return { path: ctx.configPath, explicit: true };
  const fromEnv = ctx.env.RCLONE_CONFIG;
  if (fromEnv) return { path: fromEnv, explicit: true };

  const home = ctx.env.HOME || homedir();
  const xdg = ctx.env.XDG_CONFIG_HOME;
  const preferred = xdg ? join(xdg, 'rclone', CONFIG_FILE_NAME) : join(home, '.config', 'rclone', CONFIG_FILE_NAME);
  if (exists(preferred)) return { path: preferred, explicit: false };
  const hidden = join(home, HIDDEN_CONFIG_FILE_NAME);
  if (exists(hidden)) return { path: hidden, explicit: false };
  return { path: preferred, explicit: false };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What reading the config file needs: where it is, and how to get its password when it is encrypted. */
export type ConfigFileContext = Pick<ConfigContext, 'configPath' | 'env' | 'passwordCommand' | 'askPassword'>;

/** Locate and parse the config file. Errors are one-line UserErrors naming the file. */
export function loadConfig(ctx: ConfigFileContext): LoadedConfig {
  const { path, explicit } = locateConfig(ctx);
  if (path === '') return { path, found: false, sections: {} };

  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A config file that does not exist just means "no remotes configured", also when it was
    // named with --config or RCLONE_CONFIG: rclone goes on with env-defined remotes then
    // (`Config file "X" not found - using defaults`). A missing remote is reported later,
    // naming this path. Anything else (a directory, no permission) is an error.
    if (code === 'ENOENT') {
      if (explicit) log.debug(`config file ${JSON.stringify(path)} not found - using defaults`);
      return { path, found: false, sections: {} };
    }
    throw new UserError(`cannot read config file ${JSON.stringify(path)}: ${describeFsError(err)}`, EXIT.fatal, { cause: err });
  }
  // An encrypted file (rclone's configuration password) is opened as rclone opens it: the
  // password from --password-command, RCLONE_CONFIG_PASS or a prompt (config-crypt.ts).
  if (encryptionOf(text) !== 'plain') text = decryptConfigFile(path, text, ctx);
  return { path, found: true, sections: parseConfigText(text, path) };
}

/** errno → the short text a user expects ("permission denied"), like Go's error strings. */
export function describeFsError(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'not a directory';
    default:
      return String((err as Error).message ?? err).split('\n')[0]!;
  }
}

/**
 * Parse rclone.conf text into sections. `path` only labels errors. Keys before the first
 * section are ignored; repeated keys keep the last value; repeated sections merge.
 */
export function parseConfigText(text: string, path: string): ConfigSections {
  const sections: ConfigSections = Object.create(null);
  let current: Record<string, string> | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);

  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('RCLONE_ENCRYPT_V')) {
      // loadConfig decrypts an encrypted file first: this is a marker inside the plain text
      throw new UserError(`cannot parse config file ${JSON.stringify(path)} line ${n + 1}: unexpected ${JSON.stringify(line)}`, EXIT.fatal);
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      const name = line.slice(1, -1).trim();
      current = sections[name] ??= Object.create(null);
      continue;
    }
    const sep = line.search(/[=:]/);
    if (sep <= 0) {
      throw new UserError(`cannot parse config file ${JSON.stringify(path)} line ${n + 1}: expected "key = value" or "[remote]"`, EXIT.fatal);
    }
    if (!current) continue;
    const key = line.slice(0, sep).trim();
    const value = unquote(line.slice(sep + 1).trim());
    if (value === undefined) {
      throw new UserError(`cannot parse config file ${JSON.stringify(path)} line ${n + 1}: unterminated quoted value for ${JSON.stringify(key)}`, EXIT.fatal);
    }
    current[key] = value;
  }
  return sections;
}

/** goconfig's value quoting: a value that starts with a quote runs to the last matching quote. */
function unquote(value: string): string | undefined {
  if (value.length < 2) return value;
  const quote = value.startsWith('"""') && value.length >= 6 ? '"""' : value[0]!;
  if (quote !== '"""' && quote !== '"' && quote !== "'" && quote !== '`') return value;
  const end = value.lastIndexOf(quote);
  if (end < quote.length) return undefined;
  return value.slice(quote.length, end);
}
