// Failures through the real CLI process: every one is exactly one line on stderr
// (`bucketfs: …`), a non-zero exit code as rclone's, no stack trace, and never the secret key
// (cli-support checks the last two for every run). `config show` never prints a secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/s3-server.js';
import { S3_OPTIONS, s3FlagName } from '../../src/config/option-table.js';
import { s3FlagDescription } from '../../src/cli/program.js';
import { startCli, ok, fails, cli, type CliEnv } from './cli-support.js';
import { run } from '../helpers/run.js';

let c: CliEnv;
let conf: string;
const B = 'errors-bucket';

before(async () => {
  // the server checks signatures: wrong credentials are refused by it, not by an injected fault
  c = await startCli({ checkSignatures: true });
  await c.s3.createBucket(B);
  conf = path.join(c.dir, 'rclone.conf');
  writeFileSync(
    conf,
    [
      '[filed]',
      'type = s3',
      'provider = Other',
      `endpoint = ${c.s3.endpoint}`,
      `access_key_id = ${TEST_ACCESS_KEY}`,
      `secret_access_key = ${TEST_SECRET_KEY}`,
      'region = us-east-1',
      '',
      '[gdrive]',
      'type = drive',
      'client_secret = drive-client-secret-value',
      '',
      '[badsize]',
      'type = s3',
      'provider = Other',
      `endpoint = ${c.s3.endpoint}`,
      'chunk_size = 12X',
      '',
    ].join('\n'),
  );
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

test('a remote from the config file works, and the flag --config selects the file', async () => {
  assert.match(await ok(c, ['--config', conf, 'lsd', 'filed:']), new RegExp(`^ {10}-1 \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d {8}-1 ${B}\\n$`));
  assert.equal(await ok(c, ['--config', conf, 'config', 'file']), `Configuration file is stored at:\n${conf}\n`);
  const missing = path.join(c.dir, 'none.conf');
  assert.equal(await ok(c, ['--config', missing, 'config', 'file']), `Configuration file doesn't exist, but bucketfs will use this path:\n${missing}\n`);
});

test('options set for a remote that bucketfs ignores are said once each (NOTICE), never silently: rclone 1.60 options it does not implement, options without effect', async () => {
  const f = path.join(c.dir, 'ignored.conf');
  const section = [
    'type = s3',
    'provider = Other',
    `endpoint = ${c.s3.endpoint}`,
    `access_key_id = ${TEST_ACCESS_KEY}`,
    `secret_access_key = ${TEST_SECRET_KEY}`,
  ];
  writeFileSync(f, ['[ign]', ...section, 'requester_pays = true', 'memory_pool_use_mmap = true', '', '[plain]', ...section, ''].join('\n'));
  const r = await cli(c, ['--config', f, 'size', `ign:${B}`], { env: { ...c.env, RCLONE_CONFIG_IGN_VERSIONS: 'true' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Total objects: 0 (0)\nTotal size: 0 B (0 Byte)\n', 'the output is unchanged');
  const notices = r.stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''));
  assert.deepEqual(notices.sort(), [
    'NOTICE: ign: memory_pool_use_mmap has no effect in bucketfs (see bucketfs help options): ignored',
    'NOTICE: ign: requester_pays (set in the config file) is an rclone S3 option bucketfs does not implement: ignored',
    'NOTICE: ign: versions (set in RCLONE_CONFIG_IGN_VERSIONS) is an rclone S3 option bucketfs does not implement: ignored',
  ]);
  const plain = await cli(c, ['--config', f, 'size', `plain:${B}`]);
  assert.equal(plain.stderr, '', 'nothing to say for a remote without such options');
});

test('config show redacts every secret, for one remote and for all', async () => {
  const one = await ok(c, ['--config', conf, 'config', 'show', 'filed']);
  assert.equal(
    one,
    [
      '[filed]',
      'type = s3',
      'provider = Other',
      `endpoint = ${c.s3.endpoint}`,
      'access_key_id = *** (redacted)',
      'secret_access_key = *** (redacted)',
      'region = us-east-1',
      '',
    ].join('\n'),
  );
  const all = await ok(c, ['--config', conf, 'config', 'show']);
  assert.match(all, /^\[filed\]\n/);
  assert.match(all, /\n\[gdrive\]\ntype = drive\nclient_secret = \*\*\* \(redacted\)\n/);
  assert.ok(!all.includes('drive-client-secret-value'));
  // A remote defined by the environment alone shows its resolved options, redacted too.
  const env = await ok(c, ['config', 'show', 'moto']);
  assert.match(env, /^\[moto\]\ntype = s3\n/);
  assert.match(env, /secret_access_key = \*\*\* \(redacted\)/);
  await fails(c, ['--config', conf, 'config', 'show', 'nosuch'], { match: /nosuch/ });
});

test("bad input: one line, non-zero exit, rclone's exit codes", async () => {
  // usage errors → 1
  await fails(c, ['ls'], { code: 1 });
  await fails(c, ['frobnicate', 'moto:x'], { code: 1, match: /Unknown argument|frobnicate/ });
  await fails(c, ['ls', `moto:${B}`, '--no-such-flag'], { code: 1, match: /no-such-flag/ });
  await fails(c, ['ls', '--s3-chunk-size', '5Q', `moto:${B}`], { code: 1, match: /chunk_size.*5Q/ });
  await fails(c, ['--config', conf, 'ls', 'badsize:x'], { code: 1, match: /chunk_size/ });
  await fails(c, ['--log-level', 'LOUD', 'ls', `moto:${B}`], { code: 1, match: /log-level/ });
  await fails(c, ['cat', '/etc/hostname'], { code: 1, match: /remote path/ });
  // configuration problems
  await fails(c, ['ls', 'nosuch:bucket'], { match: /nosuch/ });
  await fails(c, ['--config', conf, 'ls', 'gdrive:x'], { match: /drive/ });
  await fails(c, ['--config', c.dir, 'ls', 'filed:x'], { match: /config file/ });
  await fails(c, ['--config', path.join(c.dir, 'missing.conf'), 'ls', 'filed:x'], { match: /missing\.conf|filed/ });
  // not found → 3 (bucket/directory) and 4 (file)
  await fails(c, ['ls', 'moto:no-such-bucket'], { code: 3 });
  await fails(c, ['lsl', 'moto:no-such-bucket/dir'], { code: 3 });
  await fails(c, ['cat', `moto:${B}/nope`], { code: 4 });
});

test('wrong credentials: one line, exit 7, the secret never shown', async () => {
  const WRONG_SECRET = 'wrong-secret-never-printed';
  const wrongKeyId = { ...c.env, RCLONE_CONFIG_MOTO_ACCESS_KEY_ID: 'UNKNOWNKEYID' };
  const wrongSecret = { ...c.env, RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY: WRONG_SECRET };
  const commands = [
    ['ls', `moto:${B}`],
    ['lsd', 'moto:'],
    ['rcat', `moto:${B}/x`],
    ['copyto', conf, `moto:${B}/c`],
    ['touch', `moto:${B}/t`],
  ];
  for (const [env, code] of [
    [wrongKeyId, 'InvalidAccessKeyId'],
    [wrongSecret, 'SignatureDoesNotMatch'],
  ] as const) {
    for (const args of commands) {
      c.s3.clearRequests();
      const r = await fails(c, args, { code: 7, input: 'data', env });
      assert.ok(!r.stderr.includes(WRONG_SECRET) && !r.stdout.includes(WRONG_SECRET), 'the wrong secret is not printed either');
      // refused by the server, for what was signed
      assert.ok(
        c.s3.requests.length > 0 && c.s3.requests.every((q) => q.status >= 400 && !q.injected),
        `${args.join(' ')}: ${JSON.stringify(c.s3.requests.map((q) => [q.method, q.status]))}`,
      );
      assert.ok(
        c.s3.requests.some((q) => q.status === 403),
        `${args.join(' ')}: refused with 403 (${code})`,
      );
    }
  }
  assert.equal(await c.s3.getObject(B, 'x'), null, 'nothing written with wrong credentials');
  assert.deepEqual(await c.s3.listKeys(B, ''), [], 'nothing written with wrong credentials');
  // the secret given as a flag is not printed either (the key id is the wrong one)
  await fails(c, ['ls', '--s3-secret-access-key', TEST_SECRET_KEY, `moto:${B}`], { code: 7, env: wrongKeyId });
  // the right credentials, given as flags, work
  await ok(c, ['ls', '--s3-access-key-id', TEST_ACCESS_KEY, '--s3-secret-access-key', TEST_SECRET_KEY, `moto:${B}`], { env: wrongSecret });
  // a server that refuses the request (the key has no permission): exit 7 as well
  await c.s3.withFault(
    () => ({ status: 403, code: 'AccessDenied' }),
    () => fails(c, ['ls', `moto:${B}`], { code: 7 }),
  );
});

test('unreachable endpoint (connection refused): one line, exit 5 (temporary), after 4 quick attempts', async () => {
  const t0 = Date.now();
  const r = await fails(c, ['ls', '--s3-endpoint', 'http://127.0.0.1:1', `moto:${B}`], { code: 5, timeoutMs: 90_000 });
  assert.equal(r.stderr, `bucketfs: LIST ${B}: connection refused after 4 attempts (http://127.0.0.1:1)\n`);
  assert.ok(Date.now() - t0 < 10_000, 'a refused connection fails within seconds, not the whole retry budget');
});

test('bucketfs --help and help options: every command and flag, rclone types and defaults, no broken words', async () => {
  const help = await ok(c, ['--help']);
  for (const cmd of [
    'mount',
    'ls',
    'lsl',
    'lsd',
    'lsf',
    'mkdir',
    'rmdir',
    'cat',
    'rcat',
    'copyto',
    'copy',
    'deletefile',
    'delete',
    'purge',
    'touch',
    'size',
    'backend',
    'config',
    'help',
  ]) {
    assert.match(help, new RegExp(`^  bucketfs ${cmd} `, 'm'), cmd);
  }
  assert.doesNotMatch(help, /\[string\]|\[boolean\]|\[number\]/, 'no yargs type tags (sizes are not "strings")');
  const flat = help.replace(/\s+/g, ' ');
  for (const o of S3_OPTIONS) {
    // the whole description, words intact across wrapped lines
    assert.ok(flat.includes(`--${s3FlagName(o)} ${s3FlagDescription(o)}`), `--${s3FlagName(o)}: ${s3FlagDescription(o)}`);
  }
  assert.ok(flat.includes('--s3-copy-cutoff Cutoff for switching to multipart copy (SizeSuffix, default 4.656G)'));
  assert.ok(flat.includes('--s3-memory-pool-flush-time How often internal memory buffer pools will be flushed (Duration, default 1m0s)'));
  for (const line of help.split('\n')) assert.ok(line.length <= 120, `too long: ${line}`);

  const options = await ok(c, ['help', 'options']);
  for (const o of S3_OPTIONS) assert.ok(options.includes(`--${s3FlagName(o)} ${o.type}  (default ${o.default === '' ? '""' : o.default})`), o.name);
  for (const line of options.split('\n')) assert.ok(line.length <= 100, `too long: ${line}`);
  const flatOptions = options.replace(/\s+/g, ' ');
  for (const name of ['memory-pool-flush-time', 'memory-pool-use-mmap']) {
    assert.match(flatOptions, new RegExp(`--s3-${name} [^-]*accepted, no effect`), name);
  }
});

test('an unwritable local destination is one line too', async () => {
  const ro = path.join(c.dir, 'file-not-dir');
  writeFileSync(ro, 'x');
  await ok(c, ['rcat', `moto:${B}/small.txt`], { input: 'small' });
  await fails(c, ['copyto', `moto:${B}/small.txt`, path.join(ro, 'sub', 'x.txt')], { match: /file-not-dir/ });
  mkdirSync(path.join(c.dir, 'adir'), { recursive: true });
  const r = await cli(c, ['copyto', path.join(c.dir, 'adir'), `moto:${B}/adir`]);
  // a directory source is copied like `copy` (nothing in it: nothing to do)
  assert.equal(r.code, 0, r.stderr);
});

test('--log-file: an unwritable one is refused at start with one line; a writable one gets every line, in order, by exit', async () => {
  await fails(c, ['lsf', `moto:${B}`, '--log-file', path.join(c.dir, 'no-such-dir', 'log.txt')], {
    code: 1,
    match: /cannot write --log-file .*no-such-dir.*does not exist/,
  });
  mkdirSync(path.join(c.dir, 'a-dir'), { recursive: true });
  await fails(c, ['lsf', `moto:${B}`, '--log-file', path.join(c.dir, 'a-dir')], { code: 1, match: /cannot write --log-file .*a-dir: it is a directory/ });
  const logFile = path.join(c.dir, 'debug.log');
  rmSync(logFile, { force: true });
  // -vv against a refused endpoint: one DEBUG line per retry, then the last attempt's error just before exit
  const r = await cli(c, ['lsf', `moto:${B}`, '--s3-endpoint', 'http://127.0.0.1:1', '-vv', '--log-file', logFile], { timeoutMs: 60_000 });
  assert.equal(r.code, 5, r.stderr);
  const text = readFileSync(logFile, 'utf8');
  const attempts = [...text.matchAll(/retrying in \d+ms \(attempt (\d)\/4\)/g)].map((m) => m[1]);
  assert.deepEqual(attempts, ['2', '3', '4'], text);
  assert.ok(text.endsWith('\n'), 'whole lines only');
  // the fourth attempt's failure is logged after the last retry line, right before the process exits
  assert.match(text.slice(text.lastIndexOf('(attempt 4/4)')), /\n.*ECONNREFUSED.*\n$/);
  assert.doesNotMatch(r.stderr, /DEBUG/, 'log lines went to the file, not stderr');
});

test('--version as rclone prints it: the version, then OS, kernel, architecture, Node, libfuse and the AWS SDK', async () => {
  const out = await ok(c, ['--version']);
  const lines = out.trim().split('\n');
  assert.match(lines[0]!, /^bucketfs v\d+\.\d+\.\d+/);
  for (const key of ['os/version', 'os/kernel', 'os/type', 'os/arch', 'node/version', 'libfuse/version', 'aws-sdk/version']) {
    assert.ok(
      lines.some((l) => l.startsWith(`- ${key}: `)),
      `${key} in:\n${out}`,
    );
  }
  assert.match(out, new RegExp(`^- node/version: ${process.version.replace(/\./g, '\\.')}$`, 'm'));
  // this machine has libfuse 3 (setup installs it) and the SDK in node_modules
  assert.match(out, /^- libfuse\/version: 3\.\d+/m);
  assert.match(out, /^- aws-sdk\/version: 3\.\d+\.\d+ \(@aws-sdk\/client-s3\)$/m);
});

test('-vv of an ordinary copy shows no error: a HEAD answered 404 (the destination does not exist yet) is an answer, not a failure', async () => {
  const dir = path.join(c.dir, 'vv');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'a.txt'), 'a\n');
  const r = await cli(c, ['copyto', path.join(dir, 'a.txt'), `moto:${B}/vv/new-${Date.now()}.txt`, '-vv']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /DEBUG/, 'the debug log is on');
  assert.doesNotMatch(r.stderr, /error/i, r.stderr);
  // rclone's log format: local time with slashes, the level padded to six
  const lines = r.stderr.trim().split('\n');
  assert.ok(
    lines.every((l) => /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (ERROR |NOTICE|INFO {2}|DEBUG ): /.test(l)),
    r.stderr,
  );
});

test('a mistyped command: one line naming it and what it may have meant, exit 1 (as rclone, which also says "Did you mean")', async () => {
  const r = await fails(c, ['lss', `moto:${B}`], { code: 1 });
  assert.equal(r.stderr.trim(), 'bucketfs: unknown command "lss"; did you mean ls, lsd, lsf, lsl? (see bucketfs --help)');
  // after flags too (the cli helper puts `--retries 1` first; -v and --dry-run take no value)
  const flagged = await fails(c, ['-v', '--dry-run', '--transfers', '2', 'lss', `moto:${B}`], { code: 1 });
  assert.equal(flagged.stderr.trim(), r.stderr.trim());
  const none = await fails(c, ['frobnicate'], { code: 1 });
  assert.equal(none.stderr.trim(), 'bucketfs: unknown command "frobnicate" (see bucketfs --help)');
});

test('listremotes (and --long) print what rclone listremotes prints for the same config and environment', async () => {
  for (const args of [['listremotes'], ['listremotes', '--long']]) {
    const ours = await ok(c, args);
    const theirs = await run('rclone', args, { env: { ...c.env } });
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(ours, theirs.stdout, args.join(' '));
    assert.ok(ours.length > 0);
  }
});
