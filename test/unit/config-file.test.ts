import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFsError, loadConfig, locateConfig, parseConfigText } from '../../src/config/config-file.js';
import { UserError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'bucketfs-config-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** A fresh fake home directory. */
function home(): string {
  const dir = join(root, `home${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function write(path: string, text: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function assertUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, 'UserError');
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.exitCode !== 0);
    assert.match(err.message, pattern);
    return true;
  });
}

test('lookup: --config beats RCLONE_CONFIG beats the default locations', () => {
  const h = home();
  const xdgFile = write(join(h, '.config', 'rclone', 'rclone.conf'), '[a]\ntype = s3\n');
  const flagFile = write(join(h, 'flag.conf'), '');
  const envFile = write(join(h, 'env.conf'), '');
  const env = { HOME: h, RCLONE_CONFIG: envFile };
  assert.deepEqual(locateConfig({ configPath: flagFile, env }), { path: flagFile, explicit: true });
  assert.deepEqual(locateConfig({ env }), { path: envFile, explicit: true });
  assert.deepEqual(locateConfig({ env: { HOME: h } }), { path: xdgFile, explicit: false });
});

test('lookup: $XDG_CONFIG_HOME/rclone/rclone.conf, then ~/.rclone.conf, then the default path', () => {
  const h = home();
  const xdg = join(h, 'xdg');
  const dotConfig = write(join(h, '.config', 'rclone', 'rclone.conf'), '');
  const hidden = write(join(h, '.rclone.conf'), '[hidden]\ntype = s3\n');
  // With XDG_CONFIG_HOME set, ~/.config is not consulted (as rclone).
  assert.equal(locateConfig({ env: { HOME: h, XDG_CONFIG_HOME: xdg } }).path, hidden);
  const xdgFile = write(join(xdg, 'rclone', 'rclone.conf'), '');
  assert.equal(locateConfig({ env: { HOME: h, XDG_CONFIG_HOME: xdg } }).path, xdgFile);
  // Without it, ~/.config/rclone/rclone.conf comes before ~/.rclone.conf.
  assert.equal(locateConfig({ env: { HOME: h } }).path, dotConfig);

  const empty = home();
  assert.deepEqual(locateConfig({ env: { HOME: empty } }), { path: join(empty, '.config', 'rclone', 'rclone.conf'), explicit: false });
  assert.equal(locateConfig({ env: { HOME: empty, XDG_CONFIG_HOME: join(empty, 'x') } }).path, join(empty, 'x', 'rclone', 'rclone.conf'));
});

test('a missing default config file means no remotes', () => {
  const h = home();
  const c = loadConfig({ env: { HOME: h } });
  assert.equal(c.found, false);
  assert.deepEqual({ ...c.sections }, {});
  assert.equal(c.path, join(h, '.config', 'rclone', 'rclone.conf'));
});

test('--config "" disables the config file', () => {
  const c = loadConfig({ configPath: '', env: { HOME: home() } });
  assert.equal(c.found, false);
  assert.equal(c.path, '');
});

test('an explicit config file that is missing means no remotes, as in rclone', () => {
  const h = home();
  const missing = join(h, 'nope.conf');
  assert.deepEqual(loadConfig({ configPath: missing, env: { HOME: h } }), { path: missing, found: false, sections: {} });
  assert.deepEqual(loadConfig({ env: { HOME: h, RCLONE_CONFIG: missing } }), { path: missing, found: false, sections: {} });
});

test('an explicit config file that cannot be read is a one-line error', () => {
  const h = home();
  assertUserError(() => loadConfig({ configPath: h, env: { HOME: h } }), /: is a directory$/);
  if (process.getuid?.() !== 0) {
    const locked = write(join(h, 'locked.conf'), '[a]\ntype = s3\n');
    chmodSync(locked, 0o000);
    assertUserError(() => loadConfig({ configPath: locked, env: { HOME: h } }), new RegExp(`^cannot read config file "${locked}": permission denied$`));
  }
});

test('file errors read like the system says them', () => {
  const err = (code: string) => Object.assign(new Error(`${code}: long node message, open 'x'`), { code });
  assert.equal(describeFsError(err('EACCES')), 'permission denied');
  assert.equal(describeFsError(err('EPERM')), 'permission denied');
  assert.equal(describeFsError(err('ENOENT')), 'no such file or directory');
  assert.equal(describeFsError(err('EISDIR')), 'is a directory');
  assert.equal(describeFsError(err('EIO')), "EIO: long node message, open 'x'");
});

test("an encrypted rclone config: rclone's errors before any password is tried, and with none allowed", () => {
  const h = home();
  const short = write(join(h, 'enc.conf'), '# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\nZm9vYmFy\n');
  assertUserError(
    () => loadConfig({ configPath: short, env: { HOME: h }, askPassword: false }),
    /^Failed to load config file ".*enc\.conf": configuration data too short$/,
  );
  const newer = write(join(h, 'v1.conf'), 'RCLONE_ENCRYPT_V1:\nZm9vYmFy\n');
  assertUserError(() => loadConfig({ configPath: newer, env: { HOME: h } }), /: unsupported configuration encryption - update rclone for support$/);
  const enc = write(join(h, 'enc2.conf'), `RCLONE_ENCRYPT_V0:\n${Buffer.alloc(64, 1).toString('base64')}\n`);
  assertUserError(
    () => loadConfig({ configPath: enc, env: { HOME: h }, askPassword: false }),
    /: unable to decrypt configuration and not allowed to ask for password - set RCLONE_CONFIG_PASS to your configuration password$/,
  );
  assertUserError(() => loadConfig({ configPath: enc, env: { HOME: h, RCLONE_ASK_PASSWORD: 'false' } }), /not allowed to ask for password/);
});

test('parsing follows rclone (goconfig), not ini', () => {
  const text = [
    '\uFEFF# comment',
    '; another comment',
    '[s3.prod]',
    'type = s3',
    'secret_access_key = abc#def;ghi',
    'endpoint: http://localhost:9000',
    'region =',
    '  acl  =  private  ',
    'session_token = "quoted # value"',
    "sse_customer_key = 'single'",
    'storage_class = `back`',
    'access_key_id = "a"b"',
    'list_chunk = 10',
    'list_chunk = 20',
    '[other]',
    'type = drive',
    'token = {"access_token":"x"}',
    '[s3.prod]',
    'provider = Minio',
  ].join('\r\n');
  const sections = parseConfigText(text, 'test.conf');
  assert.deepEqual(Object.keys(sections), ['s3.prod', 'other']);
  assert.deepEqual(
    { ...sections['s3.prod'] },
    {
      type: 's3',
      secret_access_key: 'abc#def;ghi',
      endpoint: 'http://localhost:9000',
      region: '',
      acl: 'private',
      session_token: 'quoted # value',
      sse_customer_key: 'single',
      storage_class: 'back',
      access_key_id: 'a"b',
      list_chunk: '20',
      provider: 'Minio',
    },
  );
  assert.equal(sections.other!.token, '{"access_token":"x"}');
});

test('keys before the first section are ignored; empty sections exist', () => {
  const s = parseConfigText('stray = 1\n[empty]\n[x]\ntype = s3\n', 't');
  assert.deepEqual(Object.keys(s), ['empty', 'x']);
  assert.deepEqual({ ...s.empty }, {});
});

test('unparseable lines are one-line errors with the line number', () => {
  assertUserError(() => parseConfigText('[a]\ntype = s3\njunk\n', 'f.conf'), /^cannot parse config file "f.conf" line 3: /);
  assertUserError(() => parseConfigText('[a]\nkey = "open\n', 'f.conf'), /line 2: unterminated quoted value for "key"/);
  assertUserError(() => parseConfigText('[a\n', 'f.conf'), /line 1/);
});
