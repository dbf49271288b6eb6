// Text for `bucketfs config show`: rclone.conf-style sections. Unlike rclone, secret values
// are never printed: a terminal, a CI log or a bug report is not a safe place for them.
import { S3_OPTIONS, findS3Option } from './option-table.js';
import { formatOptionValue, type OptionValue } from './option-value.js';
import type { RemoteTarget } from './resolve.js';
import type { S3Options } from './s3-options.js';

export const REDACTED = '*** (redacted)';

/**
 * Whether a config key holds a secret. S3 keys follow the option table; keys of other backends
 * (a file may hold drive, crypt, sftp... remotes) are judged by name.
 */
export function isSecretKey(key: string): boolean {
  const spec = findS3Option(key);
  if (spec) return spec.secret === true;
  return /pass|secret|token|key|credential/i.test(key);
}

/**
 * The resolved options of a remote as an rclone.conf section. By default only options that do not
 * come from their default (or that a provider rule changed); `all` lists every option.
 */
export function describeOptionsForConfigShow(target: RemoteTarget, opts: { all?: boolean } = {}): string {
  const lines = [`[${target.remote}]`, 'type = s3'];
  for (const spec of S3_OPTIONS) {
    const name = spec.name as keyof S3Options;
    const value = target.options[name] as OptionValue;
    const text = formatOptionValue(spec, value);
    const changed = target.sources[name] !== 'default' || text !== spec.default;
    if (!opts.all && !changed) continue;
    lines.push(`${spec.name} = ${spec.secret && text !== '' ? REDACTED : text}`);
  }
  return lines.join('\n') + '\n';
}

/** A raw config-file section as rclone prints it, secrets redacted. */
export function renderConfigSection(name: string, section: Record<string, string>): string {
  const lines = [`[${name}]`];
  for (const [key, value] of Object.entries(section)) {
    lines.push(`${key} = ${isSecretKey(key) && value !== '' ? REDACTED : value}`);
  }
  return lines.join('\n') + '\n';
}
