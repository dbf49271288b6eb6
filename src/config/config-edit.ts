// The changes `config create/update/delete/password` make to rclone.conf, and the texts they
// print, as rclone 1.60 has them (fs/config/config.go, cmd/config/config.go). Only S3 remotes can
// be created: bucketfs knows no other backend.
import { UserError, EXIT } from '../util/errors.js';
import type { ConfigDocument } from './config-document.js';
import { obscure } from './obscure.js';

/** rclone's message for a name fspath.CheckConfigName refuses */
const INVALID_NAME = 'config name contains invalid characters - may only contain `0-9`, `A-Z`, `a-z`, `_`, `-`, `.` and space';

/** rclone 1.60's fspath.CheckConfigName: ASCII letters, digits, `_`, `-`, `.` and space; undefined when valid. */
export function configNameProblem(name: string): string | undefined {
  if (name === '') return "can't use empty string as a path";
  if (!/^[\w. -]+$/.test(name)) return INVALID_NAME;
  if (name.startsWith('-')) return 'config name starts with `-`';
  return undefined;
}

/**
 * rclone's argsToMap: `key=value` words and `key value` pairs, in order. rclone keeps them in a
 * Go map, so it applies them in a random order; bucketfs applies them as given.
 */
export function keyValuePairs(args: readonly string[]): [string, string][] {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    const eq = word.indexOf('=');
    if (eq >= 0) {
      out.set(word.slice(0, eq), word.slice(eq + 1));
    } else {
      if (i + 1 >= args.length) throw new UserError('found key without value', EXIT.usage);
      out.set(word, args[++i]!);
    }
  }
  return [...out];
}

/** rclone's CreateRemote for an S3 remote: any remote of that name is replaced by a new one at the end. */
export function createRemote(doc: ConfigDocument, name: string, type: string, pairs: [string, string][]): void {
  const problem = configNameProblem(name);
  if (problem) throw new UserError(problem, EXIT.usage);
  if (type !== 's3') throw new UserError(`couldn't find backend for type ${JSON.stringify(type)} (bucketfs configures s3 remotes only)`, EXIT.usage);
  doc.deleteSection(name);
  doc.set(name, 'type', type);
  for (const [k, v] of pairs) doc.set(name, k, v);
}

/**
 * rclone's UpdateRemote: the remote must exist (have a type); values are changed in place or
 * appended. Only for S3 remotes: rclone obscures the password options of other backends (an sftp
 * `pass`), which bucketfs does not know, so it would write them differently.
 */
export function updateRemote(doc: ConfigDocument, name: string, pairs: [string, string][]): void {
  const type = typeOf(doc, name);
  if (type !== 's3')
    throw new UserError(`only s3 remotes can be updated: ${JSON.stringify(name)} is of type ${JSON.stringify(type)} (use rclone config update)`, EXIT.usage);
  setAll(doc, name, pairs);
}

/** rclone's PasswordRemote: every value given is obscured, then set as update does (any backend: nothing depends on its options). */
export function passwordRemote(doc: ConfigDocument, name: string, pairs: [string, string][]): void {
  typeOf(doc, name);
  setAll(
    doc,
    name,
    pairs.map(([k, v]) => [k, obscure(v)]),
  );
}

function typeOf(doc: ConfigDocument, name: string): string {
  const type = doc.get(name, 'type');
  if (type === undefined) throw new UserError("couldn't find type field in config", EXIT.usage);
  return type;
}

function setAll(doc: ConfigDocument, name: string, pairs: [string, string][]): void {
  for (const [k, v] of pairs) doc.set(name, k, v);
}

/** rclone's ShowRemote: the section as the file has it (no S3 option is a password: nothing is hidden). */
export function showRemoteText(doc: ConfigDocument, name: string): string {
  return [`[${name}]`, ...doc.entries(name).map(([k, v]) => `${k} = ${v}`)].join('\n') + '\n';
}

/** `config dump`: Go's json.MarshalIndent of the sections (keys sorted, 4 spaces), no newline at the end. */
export function dumpText(doc: ConfigDocument): string {
  const record = doc.toRecord();
  const names = Object.keys(record).sort(byBytes);
  if (names.length === 0) return '{}';
  const sections = names.map((n) => {
    const keys = Object.keys(record[n]!).sort(byBytes);
    if (keys.length === 0) return `    ${goJson(n)}: {}`;
    return `    ${goJson(n)}: {\n${keys.map((k) => `        ${goJson(k)}: ${goJson(record[n]![k]!)}`).join(',\n')}\n    }`;
  });
  return `{\n${sections.join(',\n')}\n}`;
}

/** Go's sort.Strings order (bytes), not JavaScript's UTF-16 order */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** a JSON string as Go's encoding/json writes it (HTML characters and control bytes escaped its way) */
function goJson(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]|\\[bf]/g, (c) => {
    if (c === '\\b') return '\\u0008';
    if (c === '\\f') return '\\u000c';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
