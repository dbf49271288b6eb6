// From a path argument (`remote:bucket/path`) to the typed S3 options of that remote, every
// option taken from the first source that has it, in rclone's documented precedence:
//
//   connection string (`remote,chunk_size=16M:`) > flag (`--s3-chunk-size`)
//   > RCLONE_CONFIG_<REMOTE>_<NAME> > RCLONE_S3_<NAME> > rclone.conf section > default
//
// then checked as a whole (features bucketfs refuses, provider rules, SSE-C consistency).
import { createHash } from 'node:crypto';
import { UserError, EXIT } from '../util/errors.js';
import { addSecret } from '../util/log.js';
import type { ConfigContext } from './context.js';
import { loadConfig, type LoadedConfig } from './config-file.js';
import { parseRemotePath, type RemotePath } from './remote-path.js';
import { findRemoteType, remoteEnvKey } from './remotes.js';
import { S3_OPTIONS, findS3Option, s3EnvName, s3FlagName, type OptionSpec } from './option-table.js';
import { parseOptionValue, type OptionValue } from './option-value.js';
import { InvalidValueError } from './units.js';
import type { S3Options } from './s3-options.js';
import { noticeIgnoredOptions } from './ignored-options.js';

export type { ConfigContext } from './context.js';

export type OptionSource = 'flag' | 'env-remote' | 'env-s3' | 'connection-string' | 'config' | 'default';

export interface RemoteTarget {
  /** `myremote`, or `:s3` for an on-the-fly remote (never includes connection-string parameters). */
  remote: string;
  options: S3Options;
  /** "" for `remote:` (bucket listing). */
  bucket: string;
  /** Path inside the bucket without leading/trailing slash; "" for the bucket root. */
  path: string;
  sources: Record<keyof S3Options, OptionSource>;
}

/** Providers that only work with virtual-hosted-style addressing; rclone forces force_path_style = false for them. */
const VIRTUAL_HOST_PROVIDERS = ['aws', 'alibaba', 'netease'];

interface RawValue {
  raw: string;
  source: OptionSource;
  /** For error messages: where the value was read. */
  where: string;
}

/** Parse `spec` and resolve the S3 options of its remote. Every failure is a one-line UserError. */
export function resolveRemote(spec: string, ctx: ConfigContext): RemoteTarget {
  const parsed = parseRemotePath(spec);
  if (parsed.kind === 'local') {
    throw new UserError(`${JSON.stringify(spec)} is a local path, not a remote (expected remote:bucket/path)`, EXIT.usage);
  }
  return resolveParsedRemote(parsed, ctx);
}

export function resolveParsedRemote(parsed: RemotePath, ctx: ConfigContext): RemoteTarget {
  // Secrets typed into a connection string are registered first: the remote spec may be echoed
  // by whatever fails next.
  for (const [key, value] of Object.entries(parsed.params)) {
    if (findS3Option(key)?.secret) addSecret(value);
  }
  // On-the-fly remotes (`:s3:`) have no section and no RCLONE_CONFIG_<REMOTE>_* variables, so
  // the config file is not even read for them.
  const config: LoadedConfig = parsed.onTheFly ? { path: '', found: false, sections: {} } : loadConfig(ctx);
  checkRemoteType(parsed, config, ctx.env);
  checkParams(parsed);

  const section = parsed.onTheFly ? {} : (config.sections[parsed.remote] ?? {});
  const values: Record<string, OptionValue> = {};
  const sources: Record<string, OptionSource> = {};
  for (const spec of S3_OPTIONS) {
    const found = lookup(spec, parsed, ctx, section, config.path);
    values[spec.name] = parseFrom(spec, found);
    sources[spec.name] = found.source;
    // Register before anything else can fail, so no later message or log line can show it.
    if (spec.secret) addSecret(String(values[spec.name]));
  }

  if (!parsed.onTheFly) {
    const nonDefault = new Set(Object.keys(sources).filter((k) => sources[k] !== 'default'));
    noticeIgnoredOptions(parsed.remote, section, ctx.env, nonDefault);
  }

  const options = values as unknown as S3Options;
  const target: RemoteTarget = {
    remote: parsed.remote,
    options,
    bucket: parsed.bucket,
    path: parsed.path,
    sources: sources as Record<keyof S3Options, OptionSource>,
  };
  applyRules(target, config.path);
  return target;
}

function checkRemoteType(parsed: RemotePath, config: LoadedConfig, env: NodeJS.ProcessEnv): void {
  if (parsed.onTheFly) {
    const backend = parsed.remote.slice(1);
    if (backend !== 's3') throw notS3(parsed.remote, backend);
    return;
  }
  const info = findRemoteType(parsed.remote, config, env, parsed.params);
  if (!info) {
    const where = !config.found
      ? config.path === ''
        ? 'no config file in use'
        : `no config file at ${JSON.stringify(config.path)}`
      : config.sections[parsed.remote]
        ? `section [${parsed.remote}] of ${JSON.stringify(config.path)} has no "type"`
        : `no [${parsed.remote}] in ${JSON.stringify(config.path)}`;
    throw new UserError(
      `didn't find section in config file (${JSON.stringify(parsed.remote)}): ${where}, and ${remoteEnvKey(parsed.remote, 'type')} is not set`,
      EXIT.fatal,
    );
  }
  if (info.type !== 's3') throw notS3(parsed.remote, info.type);
}

function notS3(remote: string, type: string): UserError {
  return new UserError(`remote ${JSON.stringify(remote)} has type ${JSON.stringify(type)}: bucketfs only supports type = s3`, EXIT.fatal);
}

/** A connection-string parameter is typed by hand next to the path, so a misspelt one is an error, not ignored. */
function checkParams(parsed: RemotePath): void {
  for (const key of Object.keys(parsed.params)) {
    if (key !== 'type' && !findS3Option(key)) {
      throw new UserError(`unknown option ${JSON.stringify(key)} in connection string of ${JSON.stringify(parsed.remote)}`, EXIT.usage);
    }
  }
}

function lookup(spec: OptionSpec, parsed: RemotePath, ctx: ConfigContext, section: Record<string, string>, configPath: string): RawValue {
  const param = parsed.params[spec.name];
  if (param !== undefined) return { raw: param, source: 'connection-string', where: 'in connection string' };

  const flag = ctx.flags[spec.name];
  if (flag !== undefined) return { raw: String(flag), source: 'flag', where: `from --${s3FlagName(spec)}` };

  // rclone counts a variable that is set but empty as set (os.LookupEnv).
  if (!parsed.onTheFly) {
    const key = remoteEnvKey(parsed.remote, spec.name);
    const v = ctx.env[key];
    if (v !== undefined) return { raw: v, source: 'env-remote', where: `from ${key}` };
  }
  const envKey = s3EnvName(spec);
  const env = ctx.env[envKey];
  if (env !== undefined) return { raw: env, source: 'env-s3', where: `from ${envKey}` };

  // rclone ignores empty values in the config file (`endpoint =` means "not set").
  const fromFile = section[spec.name];
  if (fromFile !== undefined && fromFile !== '') {
    return { raw: fromFile, source: 'config', where: `in config file ${JSON.stringify(configPath)}` };
  }
  return { raw: spec.defaultValue ?? spec.default, source: 'default', where: 'as default' };
}

function parseFrom(spec: OptionSpec, v: RawValue): OptionValue {
  try {
    return parseOptionValue(spec, v.raw);
  } catch (err) {
    if (!(err instanceof InvalidValueError)) throw err;
    const shown = spec.secret ? '***' : JSON.stringify(v.raw);
    throw new UserError(`invalid value for ${spec.name} (${shown}) ${v.where}: ${err.reason}`, EXIT.usage, { cause: err });
  }
}

function describeSource(target: RemoteTarget, name: keyof S3Options, configPath: string): string {
  switch (target.sources[name]) {
    case 'connection-string':
      return 'in connection string';
    case 'flag':
      return `by --${s3FlagName(findS3Option(name)!)}`;
    case 'env-remote':
      return `by ${remoteEnvKey(target.remote, name)}`;
    case 'env-s3':
      return `by ${s3EnvName(findS3Option(name)!)}`;
    case 'config':
      return `in config file ${JSON.stringify(configPath)}`;
    default:
      return 'by default';
  }
}

/** Whole-remote rules: what bucketfs refuses, what the provider implies, derived values. */
function applyRules(target: RemoteTarget, configPath: string): void {
  const o = target.options;
  if (o.v2_auth) {
    throw new UserError(
      `v2_auth is not supported: bucketfs signs requests with AWS Signature Version 4 only (v2_auth set ${describeSource(target, 'v2_auth', configPath)})`,
      EXIT.fatal,
    );
  }
  if (o.region === 'other-v2-signature') {
    throw new UserError(
      `v2_auth is not supported: region "other-v2-signature" selects v2 signatures, bucketfs signs with AWS Signature Version 4 only; leave region blank for an S3 clone without one`,
      EXIT.fatal,
    );
  }

  // As rclone: these providers (and the accelerated endpoint) need virtual-hosted-style
  // addressing whatever force_path_style says. Matched case-insensitively: `provider = aws`
  // is plainly meant as AWS.
  if (VIRTUAL_HOST_PROVIDERS.includes(o.provider.toLowerCase()) || o.use_accelerate_endpoint) {
    o.force_path_style = false;
  }

  // SSE-C needs both halves; S3 answers 400 to either alone, so say it before any request.
  if (o.sse_customer_key !== '' && o.sse_customer_algorithm === '') {
    throw new UserError('sse_customer_key is set but sse_customer_algorithm is empty: set sse_customer_algorithm = AES256', EXIT.fatal);
  }
  if (o.sse_customer_algorithm !== '' && o.sse_customer_key === '') {
    throw new UserError(`sse_customer_algorithm is ${JSON.stringify(o.sse_customer_algorithm)} but sse_customer_key is empty`, EXIT.fatal);
  }
  if (o.sse_customer_key !== '') {
    // The key also travels base64-encoded in request headers: keep that form out of logs too.
    addSecret(Buffer.from(o.sse_customer_key, 'utf8').toString('base64'));
    const computed = createHash('md5').update(o.sse_customer_key, 'utf8').digest('base64');
    if (o.sse_customer_key_md5 === '') o.sse_customer_key_md5 = computed;
    else if (o.sse_customer_key_md5 !== computed) {
      // S3 would refuse every request (400); say which setting is wrong before sending any
      throw new UserError(
        `sse_customer_key_md5 (set ${describeSource(target, 'sse_customer_key_md5', configPath)}) is not the base64 MD5 of sse_customer_key: leave it blank to have it computed`,
        EXIT.fatal,
      );
    }
  }
}
