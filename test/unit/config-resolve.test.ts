import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveRemote, type ConfigContext, type RemoteTarget } from '../../src/config/resolve.js';
import { S3_OPTIONS } from '../../src/config/option-table.js';
import type { S3Options } from '../../src/config/s3-options.js';
import { redact } from '../../src/util/log.js';
import { UserError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'bucketfs-resolve-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

function configFile(text: string): string {
  const path = join(root, `rclone${counter++}.conf`);
  writeFileSync(path, text);
  return path;
}

function ctx(conf: string, env: NodeJS.ProcessEnv = {}, flags: ConfigContext['flags'] = {}): ConfigContext {
  return { configPath: configFile(conf), env: { HOME: root, ...env }, flags };
}

function assertUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, `UserError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.exitCode !== 0, 'non-zero exit code');
    assert.match(err.message, pattern);
    return true;
  });
}

const M = 1024 * 1024;
const BASIC = '[r]\ntype = s3\nprovider = Minio\n';

test('defaults: every option typed as documented', () => {
  const t = resolveRemote('r:bucket/a/b', ctx(BASIC));
  assert.equal(t.remote, 'r');
  assert.equal(t.bucket, 'bucket');
  assert.equal(t.path, 'a/b');
  const o = t.options;
  assert.equal(o.chunk_size, 5 * M);
  assert.equal(o.upload_cutoff, 200 * M);
  // rclone's default is the Go constant 4768 MiB, printed 4.656G (which itself parses to less)
  assert.equal(o.copy_cutoff, 4768 * M);
  assert.equal(o.copy_cutoff, 4999610368);
  assert.equal(o.max_upload_parts, 10000);
  assert.equal(o.upload_concurrency, 4);
  assert.equal(o.list_chunk, 1000);
  assert.equal(o.force_path_style, true);
  assert.equal(o.env_auth, false);
  assert.deepEqual(o.encoding, ['Slash', 'InvalidUtf8', 'Dot']);
  assert.equal(o.memory_pool_flush_time, 60_000);
  assert.equal(o.provider, 'Minio');
  assert.equal(t.sources.provider, 'config');
  assert.equal(t.sources.chunk_size, 'default');
});

test('copy_cutoff: the exact default 4768M; an explicit 4.656G is what it says (4999341932), as in rclone', () => {
  assert.equal(resolveRemote('r:b', ctx(BASIC)).options.copy_cutoff, 4999610368);
  assert.equal(resolveRemote('r:b', ctx(BASIC + 'copy_cutoff = 4.656G\n')).options.copy_cutoff, 4999341932);
  assert.equal(resolveRemote('r:b', ctx(BASIC + 'copy_cutoff = 4768M\n')).options.copy_cutoff, 4999610368);
});

test('the resolved options have exactly the keys of S3Options and of the option table', () => {
  // Fails to compile if S3Options gains or loses a key without this list following.
  const keys: Record<keyof S3Options, true> = {
    provider: true,
    env_auth: true,
    access_key_id: true,
    secret_access_key: true,
    region: true,
    endpoint: true,
    location_constraint: true,
    acl: true,
    server_side_encryption: true,
    sse_kms_key_id: true,
    storage_class: true,
    bucket_acl: true,
    sse_customer_algorithm: true,
    sse_customer_key: true,
    sse_customer_key_md5: true,
    upload_cutoff: true,
    chunk_size: true,
    max_upload_parts: true,
    copy_cutoff: true,
    disable_checksum: true,
    shared_credentials_file: true,
    profile: true,
    session_token: true,
    upload_concurrency: true,
    force_path_style: true,
    v2_auth: true,
    use_accelerate_endpoint: true,
    leave_parts_on_error: true,
    list_chunk: true,
    no_check_bucket: true,
    encoding: true,
    memory_pool_flush_time: true,
    memory_pool_use_mmap: true,
  };
  const t = resolveRemote('r:', ctx(BASIC));
  assert.deepEqual(Object.keys(t.options).sort(), Object.keys(keys).sort());
  assert.deepEqual(S3_OPTIONS.map((o) => o.name).sort(), Object.keys(keys).sort());
  assert.deepEqual(Object.keys(t.sources).sort(), Object.keys(keys).sort());
});

test('priority: connection string > flag > RCLONE_CONFIG_<REMOTE>_* > RCLONE_S3_* > config file > default', () => {
  const conf = BASIC + 'chunk_size = 10M\n';
  const env = { RCLONE_CONFIG_R_CHUNK_SIZE: '8M', RCLONE_S3_CHUNK_SIZE: '9M' };
  const flags = { chunk_size: '7M' };

  const expect = (spec: string, f: ConfigContext['flags'], e: NodeJS.ProcessEnv, text: string, mib: number, source: string) => {
    const t = resolveRemote(spec, ctx(text, e, f));
    assert.equal(t.options.chunk_size, mib * M, `${source}: value`);
    assert.equal(t.sources.chunk_size, source);
  };
  expect('r,chunk_size=6M:b', flags, env, conf, 6, 'connection-string');
  expect('r:b', flags, env, conf, 7, 'flag');
  expect('r:b', {}, env, conf, 8, 'env-remote');
  expect('r:b', {}, { RCLONE_S3_CHUNK_SIZE: '9M' }, conf, 9, 'env-s3');
  expect('r:b', {}, {}, conf, 10, 'config');
  expect('r:b', {}, {}, BASIC, 5, 'default');
  // Unset flags are skipped, not taken as empty.
  expect('r:b', { chunk_size: undefined }, {}, conf, 10, 'config');
});

test('RCLONE_CONFIG_<REMOTE>_* upper-cases the remote name and keeps its dashes', () => {
  const t = resolveRemote('my-remote:b', ctx('[my-remote]\ntype = s3\n', { 'RCLONE_CONFIG_MY-REMOTE_REGION': 'eu-west-1' }));
  assert.equal(t.options.region, 'eu-west-1');
  assert.equal(t.sources.region, 'env-remote');
});

test('flags may be booleans and numbers (as yargs gives them)', () => {
  const t = resolveRemote('r:b', ctx(BASIC, {}, { no_check_bucket: true, upload_concurrency: 8, disable_checksum: 'false' }));
  assert.equal(t.options.no_check_bucket, true);
  assert.equal(t.options.upload_concurrency, 8);
  assert.equal(t.options.disable_checksum, false);
  assert.equal(t.sources.no_check_bucket, 'flag');
});

test('empty config-file values mean "not set"; unknown keys are ignored', () => {
  const t = resolveRemote('r:b', ctx(BASIC + 'endpoint =\nchunk_size =\nsome_future_option = 1\nProvider = AWS\n'));
  assert.equal(t.options.endpoint, '');
  assert.equal(t.sources.endpoint, 'default');
  assert.equal(t.options.chunk_size, 5 * M);
});

test('remotes defined only by the environment', () => {
  const env = {
    RCLONE_CONFIG_ENVREMOTE_TYPE: 's3',
    RCLONE_CONFIG_ENVREMOTE_PROVIDER: 'Other',
    RCLONE_CONFIG_ENVREMOTE_ENDPOINT: 'http://127.0.0.1:5000',
  };
  const t = resolveRemote('envremote:bucket', { configPath: '', env, flags: {} });
  assert.equal(t.remote, 'envremote');
  assert.equal(t.options.endpoint, 'http://127.0.0.1:5000');
  assert.equal(t.options.provider, 'Other');
  // the name is matched case-insensitively through the variable name
  assert.equal(resolveRemote('EnvRemote:', { configPath: '', env, flags: {} }).options.provider, 'Other');
  // and with a default config location that does not exist
  assert.equal(resolveRemote('envremote:', { env: { ...env, HOME: join(root, 'nohome') }, flags: {} }).options.provider, 'Other');
  // the env type wins over the file
  assert.equal(resolveRemote('r:', ctx('[r]\ntype = drive\n', { RCLONE_CONFIG_R_TYPE: 's3' })).remote, 'r');
});

test('on-the-fly remotes and connection strings', () => {
  const t = resolveRemote(":s3,provider=Other,endpoint='http://h:1/',no_check_bucket:bucket/p", {
    env: { HOME: root, RCLONE_S3_REGION: 'us-west-2', RCLONE_CONFIG_S3_REGION: 'ignored' },
    flags: { chunk_size: '16M' },
  });
  assert.equal(t.remote, ':s3');
  assert.equal(t.bucket, 'bucket');
  assert.equal(t.path, 'p');
  assert.equal(t.options.endpoint, 'http://h:1/');
  assert.equal(t.options.provider, 'Other');
  assert.equal(t.options.no_check_bucket, true);
  assert.equal(t.options.region, 'us-west-2');
  assert.equal(t.sources.region, 'env-s3');
  assert.equal(t.options.chunk_size, 16 * M);
  assert.equal(t.sources.endpoint, 'connection-string');
  // An explicit --config that is missing does not matter for an on-the-fly remote (nothing is read).
  assert.equal(resolveRemote(':s3:b', { configPath: join(root, 'missing.conf'), env: {}, flags: {} }).bucket, 'b');
});

test('missing remotes, non-s3 remotes, local paths', () => {
  assertUserError(
    () => resolveRemote('nosuch:b', ctx(BASIC)),
    /^didn't find section in config file \("nosuch"\): no \[nosuch\] in ".*", and RCLONE_CONFIG_NOSUCH_TYPE is not set$/,
  );
  assertUserError(() => resolveRemote('notype:b', ctx('[notype]\nregion = x\n')), /section \[notype\] .* has no "type"/);
  assertUserError(() => resolveRemote('x:b', { env: { HOME: join(root, 'nohome') }, flags: {} }), /no config file at /);
  assertUserError(() => resolveRemote('g:b', ctx('[g]\ntype = drive\n')), /^remote "g" has type "drive": bucketfs only supports type = s3$/);
  assertUserError(() => resolveRemote(':drive:b', ctx('')), /^remote ":drive" has type "drive": bucketfs only supports type = s3$/);
  assertUserError(() => resolveRemote('/tmp/x', ctx(BASIC)), /is a local path, not a remote/);
  assertUserError(
    () => resolveRemote('r:b', { configPath: join(root, 'missing.conf'), env: {}, flags: {} }),
    /^didn't find section in config file \("r"\): no config file at ".*missing.conf", and RCLONE_CONFIG_R_TYPE is not set$/,
  );
  assertUserError(() => resolveRemote('r,chunk_sise=5M:b', ctx(BASIC)), /^unknown option "chunk_sise" in connection string of "r"$/);
});

test('malformed values name the option and the source', () => {
  assertUserError(
    () => resolveRemote('r:b', ctx(BASIC + 'chunk_size = 5Q\n')),
    /^invalid value for chunk_size \("5Q"\) in config file ".*\.conf": unknown suffix "Q"/,
  );
  assertUserError(() => resolveRemote('r:b', ctx(BASIC, { RCLONE_S3_CHUNK_SIZE: '5Q' })), /^invalid value for chunk_size \("5Q"\) from RCLONE_S3_CHUNK_SIZE: /);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC, { RCLONE_CONFIG_R_UPLOAD_CUTOFF: 'x' })), /from RCLONE_CONFIG_R_UPLOAD_CUTOFF/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC, {}, { chunk_size: '5Q' })), /^invalid value for chunk_size \("5Q"\) from --s3-chunk-size: /);
  assertUserError(() => resolveRemote('r,chunk_size=5Q:b', ctx(BASIC)), /^invalid value for chunk_size \("5Q"\) in connection string: /);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'env_auth = yes\n')), /^invalid value for env_auth \("yes"\) in config file/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'list_chunk = many\n')), /^invalid value for list_chunk/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'memory_pool_flush_time = 1x\n')), /^invalid value for memory_pool_flush_time/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'encoding = Slash,Nope\n')), /^invalid value for encoding .*unknown encoder "Nope"/);
  // An empty environment variable is set (as rclone's os.LookupEnv), and an empty size is invalid.
  assertUserError(() => resolveRemote('r:b', ctx(BASIC, { RCLONE_S3_CHUNK_SIZE: '' })), /empty string/);
});

test('limits from the option table', () => {
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'chunk_size = 1M\n')), /^invalid value for chunk_size \("1M"\) .*: must be at least 5M$/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'upload_cutoff = 6G\n')), /upload_cutoff .*must be at most 5G$/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'copy_cutoff = off\n')), /copy_cutoff .*must be at least 0$/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'max_upload_parts = 20000\n')), /max_upload_parts .*must be at most 10000$/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'upload_concurrency = 0\n')), /upload_concurrency .*must be at least 1$/);
  const ok = resolveRemote('r:b', ctx(BASIC + 'chunk_size = 5M\nupload_cutoff = 0\ncopy_cutoff = 5G\n'));
  assert.equal(ok.options.upload_cutoff, 0);
  assert.equal(ok.options.copy_cutoff, 5 * 1024 * M);
});

test('encryption settings', () => {
  assertUserError(
    () => resolveRemote('r:b', ctx(BASIC + 'server_side_encryption = AES128\n')),
    /server_side_encryption .*must be one of "", "AES256", "aws:kms"/,
  );
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'sse_customer_algorithm = aes256\n')), /sse_customer_algorithm .*must be one of/);
  assert.equal(resolveRemote('r:b', ctx(BASIC + 'server_side_encryption = aws:kms\n')).options.server_side_encryption, 'aws:kms');

  const key = 'k'.repeat(32);
  const md5 = createHash('md5').update(key).digest('base64');
  const t = resolveRemote('r:b', ctx(BASIC + `sse_customer_algorithm = AES256\nsse_customer_key = ${key}\n`));
  assert.equal(t.options.sse_customer_key_md5, md5);
  const given = resolveRemote('r:b', ctx(BASIC + `sse_customer_algorithm = AES256\nsse_customer_key = ${key}\nsse_customer_key_md5 = ${md5}\n`));
  assert.equal(given.options.sse_customer_key_md5, md5);
  assertUserError(
    () => resolveRemote('r:b', ctx(BASIC + `sse_customer_algorithm = AES256\nsse_customer_key = ${key}\nsse_customer_key_md5 = wrong==\n`)),
    /^sse_customer_key_md5 \(set in config file .*\) is not the base64 MD5 of sse_customer_key/,
  );
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + `sse_customer_key = ${key}\n`)), /sse_customer_key is set but sse_customer_algorithm is empty/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'sse_customer_algorithm = AES256\n')), /sse_customer_key is empty/);
});

test('v2 signatures are refused', () => {
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'v2_auth = true\n')), /^v2_auth is not supported: .*set in config file/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC, {}, { v2_auth: true })), /^v2_auth is not supported: .*--s3-v2-auth/);
  assertUserError(() => resolveRemote('r:b', ctx(BASIC + 'region = other-v2-signature\n')), /^v2_auth is not supported: region "other-v2-signature"/);
  assert.equal(resolveRemote('r:b', ctx(BASIC + 'v2_auth = false\n')).options.v2_auth, false);
});

test('provider rules: AWS, Alibaba and Netease always use virtual-hosted style', () => {
  const style = (conf: string, flags: ConfigContext['flags'] = {}): boolean =>
    resolveRemote('r:b', ctx('[r]\ntype = s3\n' + conf, {}, flags)).options.force_path_style;
  assert.equal(style('provider = AWS\n'), false);
  assert.equal(style('provider = AWS\nforce_path_style = true\n'), false);
  assert.equal(style('provider = Alibaba\n'), false);
  assert.equal(style('provider = Netease\n'), false);
  assert.equal(style('provider = aws\n'), false);
  assert.equal(style('provider = AWS\n', { force_path_style: true }), false);
  assert.equal(style('provider = Minio\n'), true);
  assert.equal(style('provider = Ceph\nforce_path_style = false\n'), false);
  assert.equal(style('provider = Other\n'), true);
  assert.equal(style(''), true);
  assert.equal(style('provider = Other\nuse_accelerate_endpoint = true\n'), false);
});

test('secret values are registered for redaction as soon as they are resolved', () => {
  const conf = BASIC + 'access_key_id = AKIAEXAMPLEKEY1\nsecret_access_key = s3cr3t/Value+With#Hash\n';
  const t = resolveRemote('r:b', ctx(conf, { RCLONE_S3_SESSION_TOKEN: 'session-token-value' }, {}));
  assert.equal(t.options.secret_access_key, 's3cr3t/Value+With#Hash');
  const line = `key=${t.options.access_key_id} secret=${t.options.secret_access_key} token=${t.options.session_token}`;
  const out = redact(line);
  assert.ok(!out.includes('AKIAEXAMPLEKEY1') && !out.includes('s3cr3t') && !out.includes('session-token-value'), out);

  // Also when resolution fails afterwards, and for the base64 form of an SSE-C key.
  assert.throws(() => resolveRemote('r,secret_access_key=FailingSecretXYZ,chunk_size=1:b', ctx(BASIC)));
  assert.equal(redact('FailingSecretXYZ'), '***');
  assert.throws(() => resolveRemote('r,secret_access_key=EarlySecretXYZ,bogus=1:b', ctx(BASIC)), /unknown option "bogus"/);
  assert.equal(redact('EarlySecretXYZ'), '***');
  const key = 'ssec-key-0123456789abcdef0123456';
  resolveRemote('r:b', ctx(BASIC + `sse_customer_algorithm = AES256\nsse_customer_key = ${key}\n`));
  assert.equal(redact(Buffer.from(key).toString('base64')), '***');
});

test('every RemoteTarget source value is one of the documented kinds', () => {
  const t: RemoteTarget = resolveRemote('r:b', ctx(BASIC, { RCLONE_S3_ACL: 'private' }, { list_chunk: 50 }));
  const kinds = new Set(['flag', 'env-remote', 'env-s3', 'connection-string', 'config', 'default']);
  for (const s of Object.values(t.sources)) assert.ok(kinds.has(s), s);
  assert.equal(t.sources.acl, 'env-s3');
  assert.equal(t.sources.list_chunk, 'flag');
});
