// Every S3 option of the spec (rclone's S3 backend documentation) has an observable effect in
// bucketfs, and a test that proves it — or is documented as without effect (`noEffect` in the
// option table, and the README says so). This map names, for each option, the tests that prove
// its effect. It fails when an option is added without one, when a named test disappears or its
// title no longer names exactly one test, and when a named test does not set the option: the
// body of that test must name it in one of the forms a user gives it (the option name as a
// config key or an S3Options field, `--s3-<name>`, `RCLONE_S3_<NAME>`, or
// `RCLONE_CONFIG_<REMOTE>_<NAME>`), so a test that merely sits beside the option does not count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../scripts/gen-docs.js';
import { S3_OPTIONS, s3FlagName, s3EnvName, type OptionSpec } from '../../src/config/option-table.js';
import { renderOptionsMarkdown } from '../../src/config/docs.js';

type Proof = [file: string, titleStart: string];

const AUTH = 'test/integration/backend-auth.test.ts';
const OPTS = 'test/integration/backend-options.test.ts';
const RESOLVE = 'test/unit/config-resolve.test.ts';

const PROOFS: Record<string, Proof[]> = {
  provider: [[RESOLVE, 'provider rules: AWS, Alibaba and Netease always use virtual-hosted style']],
  env_auth: [
    [AUTH, 'env_auth: AWS_ACCESS_KEY_ID'],
    [AUTH, 'env_auth with no credentials anywhere: anonymous'],
  ],
  access_key_id: [
    [AUTH, 'static keys sign with that key id'],
    [AUTH, 'one key without the other'],
  ],
  secret_access_key: [
    [AUTH, 'static keys sign with that key id'],
    [AUTH, 'credentials rejected by the server'],
  ],
  region: [[AUTH, 'client construction: endpoint scheme, AWS regional and accelerated hosts, default signing region']],
  endpoint: [[AUTH, 'client construction: endpoint scheme']],
  location_constraint: [[OPTS, 'bucket_acl: used for CreateBucket instead of acl; location_constraint sent and stored']],
  acl: [[OPTS, 'acl: x-amz-acl on PUT']],
  server_side_encryption: [[OPTS, 'server_side_encryption and sse_kms_key_id']],
  sse_kms_key_id: [[OPTS, 'server_side_encryption and sse_kms_key_id']],
  storage_class: [[OPTS, 'storage_class: header on PUT']],
  bucket_acl: [[OPTS, 'bucket_acl: used for CreateBucket']],
  sse_customer_algorithm: [[OPTS, 'SSE-C: customer key headers']],
  sse_customer_key: [[OPTS, 'SSE-C: customer key headers']],
  sse_customer_key_md5: [
    [OPTS, 'SSE-C: customer key headers'],
    [RESOLVE, 'encryption settings'],
  ],
  upload_cutoff: [[OPTS, 'upload_cutoff: below it one PUT']],
  chunk_size: [[OPTS, 'chunk_size: a 12 MiB stream']],
  max_upload_parts: [[OPTS, 'max_upload_parts: part size grows']],
  copy_cutoff: [
    [OPTS, 'copy_cutoff: copies at or above it'],
    [RESOLVE, 'copy_cutoff: the exact default 4768M'],
  ],
  disable_checksum: [
    [OPTS, 'disable_checksum: md5chksum stored'],
    [OPTS, 'disable_checksum with a hashable stream'],
  ],
  shared_credentials_file: [[AUTH, 'env_auth: shared credentials file with profile']],
  profile: [[AUTH, 'env_auth: shared credentials file with profile']],
  session_token: [[AUTH, 'static keys sign with that key id; session_token']],
  upload_concurrency: [[OPTS, 'upload_concurrency: parts in flight']],
  force_path_style: [
    [OPTS, 'force_path_style: path style'],
    [RESOLVE, 'provider rules'],
  ],
  v2_auth: [
    [RESOLVE, 'v2 signatures are refused'],
    [AUTH, 'client construction'],
  ],
  use_accelerate_endpoint: [[AUTH, 'client construction: endpoint scheme, AWS regional and accelerated hosts']],
  leave_parts_on_error: [[OPTS, 'leave_parts_on_error: a failed upload']],
  list_chunk: [[OPTS, 'list_chunk: max-keys per request']],
  no_check_bucket: [[OPTS, 'no_check_bucket: makeBucket sends nothing']],
  // (rclone-interop's 'names: hostile names' shows the default encoding, without setting the option)
  encoding: [[OPTS, 'encoding: extra encoder flags']],
  // no effect (documented): parsed and validated only
  memory_pool_flush_time: [[RESOLVE, 'malformed values name the option and the source']],
  memory_pool_use_mmap: [[RESOLVE, 'the resolved options have exactly the keys']],
};

const sources = new Map<string, string>();
function source(file: string): string {
  let s = sources.get(file);
  if (s === undefined) {
    s = readFileSync(path.join(repoRoot(), file), 'utf8');
    sources.set(file, s);
  }
  return s;
}

/** The source of the one top-level test of `file` whose title starts with `title`, up to the next test. */
export function testBody(text: string, title: string): { count: number; body: string } {
  const starts: number[] = [];
  const re = /^test\((['"`])/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) starts.push(m.index);
  const hits = starts.filter((i) => text.startsWith(title, i + 'test('.length + 1));
  if (hits.length !== 1) return { count: hits.length, body: '' };
  const from = hits[0]!;
  const next = starts.find((i) => i > from) ?? text.length;
  return { count: 1, body: text.slice(from, next) };
}

/** How a test may name option `o`: the name itself (a config key, an S3Options field), its flag, its environment variables. */
export function optionForms(o: OptionSpec): RegExp {
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const forms = [
    `(?<![\\w-])${esc(o.name)}(?![\\w])`,
    esc(s3FlagName(o)),
    esc(s3EnvName(o)),
    `RCLONE_CONFIG_[A-Z0-9_-]+_${esc(o.name.toUpperCase())}(?![A-Z_])`,
  ];
  return new RegExp(forms.join('|'));
}

test('every option has a test proving its effect, or is documented as without effect', () => {
  assert.deepEqual(Object.keys(PROOFS).sort(), S3_OPTIONS.map((o) => o.name).sort(), 'one entry per option of the table');
  const misses: string[] = [];
  for (const o of S3_OPTIONS) {
    for (const [file, title] of PROOFS[o.name]!) {
      const { count, body } = testBody(source(file), title);
      if (count !== 1) misses.push(`${o.name}: ${count} tests titled "${title}…" in ${file} (one expected)`);
      else if (!optionForms(o).test(body))
        misses.push(`${o.name}: the test "${title}…" in ${file} does not set it (as a key, --${s3FlagName(o)} or an environment variable)`);
    }
  }
  assert.deepEqual(misses, []);
  const inert = S3_OPTIONS.filter((o) => o.noEffect).map((o) => o.name);
  assert.deepEqual(inert, ['memory_pool_flush_time', 'memory_pool_use_mmap']);
  for (const name of inert) {
    const o = S3_OPTIONS.find((x) => x.name === name)!;
    assert.match(o.help, /accepted, no effect/, name);
  }
  const md = renderOptionsMarkdown();
  assert.match(
    md,
    /except: `v2_auth` \(refused[^)]*\) and `memory_pool_flush_time`, `memory_pool_use_mmap` \(accepted so that rclone\.conf files work, without effect/,
  );
});

test('the coverage check fails for a test that does not set the option it is named for', () => {
  const text = [
    "test('sets it', async () => {",
    "  await run(['--s3-chunk-size', '5M']);",
    '});',
    "test('does not', async () => {",
    "  await run(['ls']);",
    '});',
    '',
  ].join('\n');
  const chunk = S3_OPTIONS.find((o) => o.name === 'chunk_size')!;
  const copy = S3_OPTIONS.find((o) => o.name === 'copy_cutoff')!;
  assert.match(testBody(text, 'sets it').body, optionForms(chunk));
  assert.doesNotMatch(testBody(text, 'does not').body, optionForms(chunk));
  assert.doesNotMatch(testBody(text, 'sets it').body, optionForms(copy));
  assert.equal(testBody(text, 'missing').count, 0);
  assert.equal(testBody(text + text, 'sets it').count, 2);
  // a name inside another name does not count (acl in bucket_acl)
  const acl = S3_OPTIONS.find((o) => o.name === 'acl')!;
  assert.doesNotMatch("test('x', () => { bucket_acl: 'private' });", optionForms(acl));
  assert.match("test('x', () => { acl: 'private' });", optionForms(acl));
  assert.match('RCLONE_CONFIG_MOTO_ACL=private', optionForms(acl));
});
