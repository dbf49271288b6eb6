import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveRemote } from '../../src/config/resolve.js';
import { describeOptionsForConfigShow, renderConfigSection, isSecretKey, REDACTED } from '../../src/config/config-show.js';
import { listRemotes } from '../../src/config/remotes.js';
import { renderOptionsHelp, renderOptionsMarkdown } from '../../src/config/docs.js';
import { S3_OPTIONS, s3EnvName, s3FlagName, remoteEnvName, findS3Option } from '../../src/config/option-table.js';
import { parseOptionValue, formatOptionValue } from '../../src/config/option-value.js';

const root = mkdtempSync(join(tmpdir(), 'bucketfs-show-'));
after(() => rmSync(root, { recursive: true, force: true }));

function conf(text: string): string {
  const path = join(root, `c${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(path, text);
  return path;
}

test('option table: every default parses and prints back as written', () => {
  for (const o of S3_OPTIONS) {
    const v = parseOptionValue(o, o.default);
    assert.equal(formatOptionValue(o, v), o.default, o.name);
    assert.ok(o.help.length > 0, o.name);
    // an exact default prints as the documented (rounded) one
    if (o.defaultValue !== undefined) assert.equal(formatOptionValue(o, parseOptionValue(o, o.defaultValue)), o.default, o.name);
  }
  assert.deepEqual(
    S3_OPTIONS.filter((o) => o.defaultValue !== undefined).map((o) => [o.name, o.defaultValue]),
    [['copy_cutoff', '4768M']],
  );
});

test('option table: flag and environment names', () => {
  const o = findS3Option('chunk_size')!;
  assert.equal(s3FlagName(o), 's3-chunk-size');
  assert.equal(s3EnvName(o), 'RCLONE_S3_CHUNK_SIZE');
  assert.equal(remoteEnvName('my-remote', o), 'RCLONE_CONFIG_MY-REMOTE_CHUNK_SIZE');
});

test('config show: changed options only, secrets never printed', () => {
  const path = conf('[r]\ntype = s3\nprovider = Minio\naccess_key_id = AKIASHOWME\nsecret_access_key = hidden-secret\nchunk_size = 16M\nsession_token =\n');
  const t = resolveRemote('r:b', { configPath: path, env: { RCLONE_S3_MEMORY_POOL_FLUSH_TIME: '2m' }, flags: {} });
  const text = describeOptionsForConfigShow(t);
  assert.ok(!text.includes('AKIASHOWME') && !text.includes('hidden-secret'), text);
  assert.match(text, /^\[r\]\ntype = s3\nprovider = Minio\n/);
  assert.match(text, new RegExp(`^access_key_id = \\*\\*\\* \\(redacted\\)$`, 'm'));
  assert.match(text, /^chunk_size = 16M$/m);
  assert.match(text, /^memory_pool_flush_time = 2m0s$/m);
  assert.doesNotMatch(text, /^session_token/m);
  assert.doesNotMatch(text, /^upload_cutoff/m);
  assert.doesNotMatch(text, /^copy_cutoff/m); // its exact default (4768M) is the default printed 4.656G

  const all = describeOptionsForConfigShow(t, { all: true });
  assert.equal(all.trim().split('\n').length, 2 + S3_OPTIONS.length);
  assert.match(all, /^session_token = $/m); // empty secrets show as empty, not as "redacted"
  assert.match(all, /^copy_cutoff = 4\.656G$/m);
  assert.match(all, /^encoding = Slash,InvalidUtf8,Dot$/m);
});

test('config show of a raw section redacts secrets of any backend', () => {
  const text = renderConfigSection('d', { type: 'drive', token: '{"access_token":"abc"}', client_secret: 'cs', root_folder_id: 'x', pass: 'p' });
  assert.equal(text, `[d]\ntype = drive\ntoken = ${REDACTED}\nclient_secret = ${REDACTED}\nroot_folder_id = x\npass = ${REDACTED}\n`);
  assert.equal(isSecretKey('sse_kms_key_id'), false);
  assert.equal(isSecretKey('sse_customer_key_md5'), false);
  assert.equal(isSecretKey('sse_customer_key'), true);
  assert.equal(isSecretKey('access_key_id'), true);
});

test('listRemotes: config sections then environment-only remotes', () => {
  const path = conf('[a]\ntype = s3\n[g]\ntype = drive\n[notype]\nregion = x\n');
  const env = { RCLONE_CONFIG_ENVONE_TYPE: 's3', RCLONE_CONFIG_A_TYPE: 's3', RCLONE_CONFIG_PASS: 'x' };
  assert.deepEqual(listRemotes({ configPath: path, env }), [
    { name: 'a', type: 's3', definedBy: 'env' },
    { name: 'g', type: 'drive', definedBy: 'config' },
    { name: 'envone', type: 's3', definedBy: 'env' },
  ]);
});

test('docs: every option appears with its key, flag, env var, type and default', () => {
  const md = renderOptionsMarkdown();
  const help = renderOptionsHelp();
  for (const o of S3_OPTIONS) {
    for (const text of [md, help]) {
      assert.ok(text.includes(o.name), o.name);
      assert.ok(text.includes(`--${s3FlagName(o)}`), o.name);
      assert.ok(text.includes(s3EnvName(o)), o.name);
    }
    assert.ok(md.includes(`| \`${o.name}\` | \`--${s3FlagName(o)}\` | \`${s3EnvName(o)}\` | ${o.type} |`), o.name);
  }
  assert.match(md, /^### S3 options$/m);
  assert.match(md, /^### Advanced S3 options$/m);
  assert.ok(help.indexOf('--s3-provider') < help.indexOf('--s3-chunk-size'), 'standard options first');
  for (const line of help.split('\n')) assert.ok(line.length <= 100, line);
  // a table row per option, and no cell broken by a stray pipe
  const rows = md.split('\n').filter((l) => l.startsWith('| `'));
  assert.equal(rows.length, S3_OPTIONS.length);
  for (const r of rows) assert.equal(r.replace(/\\\|/g, '').split('|').length, 8, r);
});
