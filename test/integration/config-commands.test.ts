// `bucketfs config create/update/delete/password/dump/touch/paths` against rclone 1.60 as the
// oracle: each command runs on one copy of the same file with bucketfs and on another with
// rclone, and the files, the output and the exit codes are compared. rclone applies several
// key=value pairs in a random order (a Go map), so where more than one key is new the files are
// compared through `config dump` and the order of the keys already there; with one new key they
// are compared byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bucketfs, run, type RunResult } from '../helpers/run.js';

const SECRET = 'Sekr3t/with+chars;#and=more';
const CONF_PASS = 'conf-pass-for-the-test';

/** A file with what rclone keeps and rewrites its own way: comments, `:` and `=` spacing, quoting, DEFAULT keys, an empty section. */
const ODD = [
  'stray = before any section',
  '# about a',
  '[a]',
  'type=s3',
  '; key comment',
  'provider:  Minio',
  `secret_access_key = ${SECRET}`,
  'quoted = `back`',
  'single = "kept"',
  'triple = """tri"ple"""',
  '',
  '',
  '[b.c]',
  'type = s3',
  'region = r',
  '[empty]',
  '[last]',
  'type = s3',
  '',
].join('\n');

let dir: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  const v = await run('rclone', ['version']);
  assert.equal(v.code, 0, 'rclone is needed for this test (scripts/setup installs it)');
  dir = mkdtempSync(path.join(tmpdir(), 'bucketfs-config-cmd-'));
  env = { ...process.env, HOME: dir, XDG_CACHE_HOME: path.join(dir, 'cache'), TMPDIR: dir };
  for (const k of Object.keys(env)) if (k.startsWith('RCLONE_') || k.startsWith('AWS_')) delete env[k];
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** Two copies of `text` (or none when undefined): one for rclone, one for bucketfs. */
function copies(text: string | undefined): { theirs: string; ours: string } {
  n++;
  const theirs = path.join(dir, `rclone-${n}.conf`);
  const ours = path.join(dir, `bucketfs-${n}.conf`);
  if (text !== undefined) {
    writeFileSync(theirs, text, { mode: 0o644 });
    writeFileSync(ours, text, { mode: 0o644 });
  }
  return { theirs, ours };
}

const stamp = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /;
/** rclone's "Error: X" (or its bare usage complaint) and bucketfs's "bucketfs: X", as the one message each gives. */
function message(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  const err = lines.find((l) => l.startsWith('Error: ') || l.startsWith('bucketfs: ') || l.startsWith('Command '));
  return (err ?? '').replace(/^(Error|bucketfs): /, '').replace(/ \(bucketfs configures s3 remotes only\)$/, '');
}

async function both(
  args: string[],
  text: string | undefined,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ theirs: RunResult; ours: RunResult; files: { theirs: string; ours: string } }> {
  const files = copies(text);
  const theirs = await run('rclone', ['--config', files.theirs, ...args], { env: { ...env, ...extraEnv } });
  const ours = await bucketfs(['--config', files.ours, ...args], { env: { ...env, ...extraEnv } });
  assert.ok(!/^\s+at /m.test(ours.stderr), `a stack trace: ${ours.stderr}`);
  return { theirs, ours, files };
}

/** Same exit code, same stdout, same file (bytes), same notice lines. */
async function same(args: string[], text: string | undefined): Promise<RunResult> {
  const { theirs, ours, files } = await both(args, text);
  assert.equal(ours.code, theirs.code, `exit code of config ${args.join(' ')}: ${ours.stderr}`);
  assert.equal(ours.stdout, theirs.stdout, `stdout of config ${args.join(' ')}`);
  if (theirs.code !== 0) assert.equal(message(ours.stderr), message(theirs.stderr));
  const notices = (s: string) =>
    s
      .split('\n')
      .filter((l) => l.includes('NOTICE'))
      .map((l) => l.replace(stamp, '').replace(/"[^"]*"/, '"FILE"'));
  assert.deepEqual(notices(ours.stderr), notices(theirs.stderr));
  assert.equal(existsSync(files.ours), existsSync(files.theirs), 'the file exists in both cases or in neither');
  if (existsSync(files.theirs)) {
    assert.equal(readFileSync(files.ours, 'utf8'), readFileSync(files.theirs, 'utf8'), `the file after config ${args.join(' ')}`);
    assert.equal(statSync(files.ours).mode & 0o777, statSync(files.theirs).mode & 0o777, 'file mode');
  }
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.old')),
    [],
    'no temporary file is left beside the config',
  );
  return ours;
}

test('config update, delete and touch rewrite the file byte for byte as rclone does (comments, quoting, DEFAULT keys, modes)', async () => {
  await same(['config', 'update', 'b.c', 'region', 'eu-west-1'], ODD);
  await same(['config', 'update', 'a', 'chunk_size=10M'], ODD);
  await same(['config', 'update', 'a', 'value_with_backquote', 'x`y'], ODD);
  await same(['config', 'update', 'last'], ODD);
  await same(['config', 'delete', 'b.c'], ODD);
  await same(['config', 'delete', 'no-such-remote'], ODD);
  await same(['config', 'touch'], ODD);
  await same(['config', 'create', 'b.c', 's3', 'provider', 'AWS'], ODD);
  await same(['config', 'create', 'new one', 's3', 'provider=Ceph'], ODD);
  await same(['config', 'create', 'ni', 's3', 'provider=AWS', '--non-interactive'], ODD);
  await same(['config', 'update', 'a', 'region=x', '--non-interactive'], ODD);
});

test('config dump: the same JSON as rclone (sorted, 4 spaces, secrets as in the file)', async () => {
  const r = await same(['config', 'dump'], ODD);
  assert.ok(r.stdout.includes(SECRET));
  await same(['config', 'dump'], '');
  await same(['config', 'dump'], '[x]\ntype = s3\nodd = <&>\n');
});

test("a file that does not exist: create and touch make it (mode 0600), with rclone's notice", async () => {
  await same(['config', 'create', 'r1', 's3', 'provider', 'AWS'], undefined);
  await same(['config', 'touch'], undefined);
  const { ours } = copies(undefined);
  const r = await bucketfs(['--config', path.join(ours + '.d', 'sub', 'rclone.conf'), 'config', 'touch'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(path.join(ours + '.d', 'sub', 'rclone.conf')).mode & 0o777, 0o600);
});

test('several key=value pairs: the same remote as rclone (rclone applies them in random order)', async () => {
  const args = ['config', 'create', 'multi', 's3', 'provider=Other', 'endpoint', 'http://127.0.0.1:9', 'chunk_size=5M', 'env_auth', 'false', 'region=x'];
  const { theirs, ours, files } = await both(args, ODD);
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(theirs.code, 0, theirs.stderr);
  const lines = (s: string) => s.split('\n').sort();
  assert.deepEqual(lines(ours.stdout), lines(theirs.stdout));
  const dump = async (file: string) => (await run('rclone', ['--config', file, 'config', 'dump'], { env })).stdout;
  assert.equal(await dump(files.ours), await dump(files.theirs));
  // the other sections are untouched: the text before the new remote is the same
  const before = (f: string) => readFileSync(f, 'utf8').split('[multi]')[0];
  assert.equal(before(files.ours), before(files.theirs));
});

test('config password obscures the values it is given; rclone reveals them', async () => {
  const { theirs, ours, files } = await both(['config', 'password', 'a', 'secret_access_key', SECRET], ODD);
  assert.equal(ours.code, theirs.code);
  assert.equal(ours.code, 0, ours.stderr);
  const value = /^secret_access_key = (.*)$/m.exec(readFileSync(files.ours, 'utf8'))![1]!;
  assert.notEqual(value, SECRET);
  const revealed = await run('rclone', ['reveal', value], { env });
  assert.equal(revealed.stdout.trim(), SECRET);
  // the file is otherwise rclone's: only the obscured value (random IV) differs
  const masked = (f: string) => readFileSync(f, 'utf8').replace(/^secret_access_key = .*$/m, 'secret_access_key = X');
  assert.equal(masked(files.ours), masked(files.theirs));
});

test("bad input: rclone's message and exit code, one line, the file untouched", async () => {
  const cases = [
    ['config', 'create'],
    ['config', 'create', 'onlyname'],
    ['config', 'create', 'x', 's3', 'key_without_value'],
    ['config', 'create', 'bad!name', 's3'],
    ['config', 'create', 'x', 'nosuchtype'],
    ['config', 'update'],
    ['config', 'update', 'no-such-remote', 'region', 'x'],
    ['config', 'password', 'no-such-remote', 'k', 'v'],
    ['config', 'delete'],
    ['config', 'dump', 'extra'],
    ['config', 'touch', 'extra'],
    ['config', 'nosuchaction'],
  ];
  for (const args of cases) {
    const { theirs, ours, files } = await both(args, ODD);
    assert.notEqual(theirs.code, 0, `rclone ${args.join(' ')} failed`);
    assert.equal(ours.code, theirs.code, `exit code of ${args.join(' ')}`);
    assert.equal(message(ours.stderr), message(theirs.stderr), `message of ${args.join(' ')}`);
    const mine = ours.stderr.split('\n').filter((l) => l !== '');
    assert.equal(mine.length, 1, `one line: ${ours.stderr}`);
    assert.equal(readFileSync(files.ours, 'utf8'), ODD, 'unchanged');
  }
});

test('a remote of another backend: update is refused (rclone would obscure its password options), delete and password work as rclone', async () => {
  const text = '[sf]\ntype = sftp\nhost = h\n';
  const { ours } = copies(text);
  const r = await bucketfs(['--config', ours, 'config', 'update', 'sf', 'pass', 'x'], { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'bucketfs: only s3 remotes can be updated: "sf" is of type "sftp" (use rclone config update)\n');
  assert.equal(readFileSync(ours, 'utf8'), text);
  await same(['config', 'delete', 'sf'], text);
});

test('config paths: as rclone (a relative --config, RCLONE_CACHE_DIR)', async () => {
  for (const extra of [{}, { RCLONE_CACHE_DIR: 'rel-cache' }, { XDG_CACHE_HOME: '' }]) {
    for (const file of [path.join(dir, 'paths.conf'), 'relative.conf']) {
      const args = ['--config', file, 'config', 'paths'];
      const theirs = await run('rclone', args, { env: { ...env, ...extra }, cwd: dir });
      const ours = await bucketfs(args, { env: { ...env, ...extra }, cwd: dir });
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(ours.stdout, theirs.stdout);
    }
  }
});

test('an encrypted file stays encrypted under the same password; rclone reads the change; secrets are not in ps', async () => {
  const { theirs } = copies('[a]\ntype = s3\nprovider = AWS\n');
  // encrypted as rclone encrypts (config-encrypted.test.ts shows rclone opens such a file; the
  // dialogue test has rclone encrypt one itself)
  const { encryptConfigText, configKeyFromPassword } = await import('../../src/config/config-crypt.js');
  writeFileSync(theirs, encryptConfigText(readFileSync(theirs, 'utf8'), configKeyFromPassword(CONF_PASS)));
  chmodSync(theirs, 0o640);
  const ps = path.join(dir, 'ps.txt');
  // the password command runs while bucketfs waits for it: the process list at that moment
  const cmd = path.join(dir, 'pass.sh');
  writeFileSync(cmd, `#!/bin/sh\nps -eo args > '${ps}'\nprintf '%s\\n' '${CONF_PASS}'\n`, { mode: 0o700 });
  const r = await bucketfs(['--config', theirs, '--password-command', cmd, 'config', 'create', 'b', 's3', 'secret_access_key', SECRET], { env });
  assert.equal(r.code, 0, r.stderr);
  const listing = readFileSync(ps, 'utf8');
  assert.ok(listing.includes('bucketfs'), 'ps saw bucketfs');
  assert.ok(!listing.includes(SECRET), 'the secret appeared in ps');
  assert.ok(!listing.includes(CONF_PASS), 'the password appeared in ps');
  const text = readFileSync(theirs, 'utf8');
  assert.match(text, /^# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n/);
  assert.ok(!text.includes(SECRET) && !text.includes('[b]'));
  assert.equal(statSync(theirs).mode & 0o777, 0o640, 'mode kept');
  const dumped = await run('rclone', ['--config', theirs, 'config', 'dump'], { env: { ...env, RCLONE_CONFIG_PASS: CONF_PASS } });
  assert.equal(dumped.code, 0, dumped.stderr);
  assert.deepEqual(JSON.parse(dumped.stdout), { a: { type: 's3', provider: 'AWS' }, b: { type: 's3', secret_access_key: SECRET } });
});
