// Parsing of rclone path arguments: `remote:bucket/path`, `remote:`, `:s3:bucket`,
// connection strings `:s3,provider=Other,endpoint='http://h:1/':bucket` and
// `myremote,region=x:bucket`, and local paths. Follows rclone's fspath.Parse:
//   - no `:` at all, or a `/` before the first `:` or `,` → local path (`/tmp/a:b`, `./x:y`);
//   - the name must be a valid config name, optionally with a leading `:` (on-the-fly backend);
//   - after `,` come `key=value` or bare `key` (= "true") parameters up to the `:`; a value may
//     be quoted with ' or " (to hold `,` or `:`), a doubled quote inside is a literal quote.
import { UserError, EXIT } from '../util/errors.js';

export type ParsedPath = LocalPath | RemotePath;

export interface LocalPath {
  kind: 'local';
  path: string;
}

export interface RemotePath {
  kind: 'remote';
  /** The config name as rclone names it: `myremote`, or `:s3` for an on-the-fly backend. */
  remote: string;
  /** true for `:backend:` paths, which have no config-file section. */
  onTheFly: boolean;
  /** Connection-string parameters, keys as written (`endpoint`), bare keys as "true". */
  params: Record<string, string>;
  /** "" for `remote:` (the list of buckets). */
  bucket: string;
  /** Path inside the bucket, no leading or trailing slash; "" for the bucket root. */
  path: string;
}

// rclone's config name: letters, digits, `_ . + @`, with inner spaces or dashes; it may not
// start with a dash or space (so flags are never taken for remotes) nor end with a space.
const CONFIG_NAME = /^[\w\p{L}\p{N}.+@]+(?:[ -]+[\w\p{L}\p{N}.+@-]+)*$/u;
const PARAM_NAME = /^[A-Za-z0-9_]+$/;

export function isValidRemoteName(name: string): boolean {
  return CONFIG_NAME.test(name);
}

function invalid(spec: string, why: string): UserError {
  // Connection-string parameters may hold secrets and are not registered for redaction yet
  // (they did not parse), so the message shows the name only.
  const comma = spec.indexOf(',');
  const shown = comma === -1 ? spec : `${spec.slice(0, comma)},...`;
  return new UserError(`invalid remote ${JSON.stringify(shown)}: ${why}`, EXIT.usage);
}

/** Parse a path argument. Malformed remotes throw a one-line UserError. */
export function parseRemotePath(spec: string): ParsedPath {
  if (spec === '') throw invalid(spec, "can't use empty string as a path");
  if (!spec.includes(':')) return { kind: 'local', path: spec };

  // The name runs to the first `:` or `,`; a path separator before it makes the whole thing local.
  const end = spec.slice(1).search(/[:,/\\]/) + 1;
  if (end === 0) throw invalid(spec, 'config name needs a trailing ":"'); // only `:` is the leading one
  if (spec[end] === '/' || spec[end] === '\\') {
    if (spec.startsWith(':')) throw invalid(spec, 'backend name contains invalid characters');
    return { kind: 'local', path: spec };
  }
  const onTheFly = spec.startsWith(':');
  const name = spec.slice(onTheFly ? 1 : 0, end);
  if (name === '') throw invalid(spec, "config name can't be empty");
  if (name.startsWith('-')) throw invalid(spec, 'config name starts with "-"');
  if (!CONFIG_NAME.test(name)) {
    throw invalid(spec, 'config name may only contain letters, digits, "_", ".", "+", "@", inner spaces and "-"');
  }

  let i = end;
  const params: Record<string, string> = Object.create(null);
  if (spec[i] === ',') {
    i = parseParams(spec, i + 1, params);
  }
  // Here spec[i] is the `:` that ends the config string.
  const { bucket, path } = splitBucketPath(spec.slice(i + 1));
  return { kind: 'remote', remote: onTheFly ? `:${name}` : name, onTheFly, params, bucket, path };
}

/** Parse `k=v,k2,k3='v:3':` starting at `start`; returns the index of the terminating `:`. */
function parseParams(spec: string, start: number, params: Record<string, string>): number {
  let i = start;
  for (;;) {
    const keyEnd = indexOfAny(spec, ',:=', i);
    if (keyEnd === -1) throw invalid(spec, 'config parameter must end with "," or ":"');
    const key = spec.slice(i, keyEnd);
    if (key === '') throw invalid(spec, "config parameters can't be empty");
    if (!PARAM_NAME.test(key)) throw invalid(spec, `config parameter ${JSON.stringify(key)} may only contain 0-9, A-Z, a-z and _`);

    let stop = keyEnd;
    if (spec[keyEnd] === '=') {
      const v = parseValue(spec, keyEnd + 1);
      params[key] = v.value;
      stop = v.end;
    } else {
      params[key] = 'true';
    }
    if (spec[stop] === ':') return stop;
    i = stop + 1; // past the `,`
  }
}

/** A value starting at `start`, quoted or not; returns it and the index of the `,` or `:` after it. */
function parseValue(spec: string, start: number): { value: string; end: number } {
  const quote = spec[start];
  if (quote !== "'" && quote !== '"') {
    const end = indexOfAny(spec, ',:', start);
    if (end === -1) throw invalid(spec, 'unquoted config value must end with "," or ":"');
    return { value: spec.slice(start, end), end };
  }
  let value = '';
  let i = start + 1;
  for (;;) {
    const close = spec.indexOf(quote, i);
    if (close === -1) throw invalid(spec, 'unterminated quoted config value');
    value += spec.slice(i, close);
    const next = spec[close + 1];
    if (next === quote) {
      // A doubled quote is a literal quote character.
      value += quote;
      i = close + 2;
      continue;
    }
    if (next === ',' || next === ':') return { value, end: close + 1 };
    throw invalid(spec, 'expecting ":" or "," or another quote after a quote');
  }
}

function indexOfAny(s: string, chars: string, from: number): number {
  for (let i = from; i < s.length; i++) if (chars.includes(s[i]!)) return i;
  return -1;
}

/** `/bucket//dir/sub/` → bucket "bucket", path "dir/sub" (rclone's S3 backend trims slashes). */
export function splitBucketPath(p: string): { bucket: string; path: string } {
  const parts = p.split('/').filter((seg) => seg !== '');
  return { bucket: parts[0] ?? '', path: parts.slice(1).join('/') };
}
