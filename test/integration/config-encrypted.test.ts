// An rclone.conf encrypted with rclone's configuration password, made by the installed rclone
// 1.60 (its interactive `config` menu, "s) Set configuration password"): bucketfs reads it with
// RCLONE_CONFIG_PASS, --password-command / RCLONE_PASSWORD_COMMAND or a password on stdin, and
// fails as rclone fails (same messages, same exit code) with a wrong or a missing password. The
// password never appears in any output nor in the process list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bucketfsBin, run, type RunResult } from '../helpers/run.js';
import { startCli, cli, ok, type CliEnv } from './cli-support.js';
import { configKeyFromPassword, encryptConfigText } from '../../src/config/config-crypt.js';

const PASSWORD = 'Corr3ct-Horse-Battery';
const WRONG = 'Not-The-Pass-42';
const B = 'enc-bucket';
let c: CliEnv;
let conf: string;
let plainText: string;
/** the environment of every run: no env-defined remote, RCLONE_CONFIG = the encrypted file */
let env: NodeJS.ProcessEnv;

/**
 * Encrypt `file` with rclone's own menu, answering each prompt once it is shown (rclone reads
 * stdin a buffer at a time, so answers written ahead would be lost).
 */
function encryptWithRclone(file: string, password: string): Promise<void> {
  const answers: [string, string][] = [
    ['e/n/d/r/c/s/q> ', 's'],
    ['a/q> ', 'a'],
    ['password:', password],
    ['password:', password],
    ['c/u/q> ', 'q'],
    ['e/n/d/r/c/s/q> ', 'q'],
  ];
  return new Promise((resolve, reject) => {
    const e: NodeJS.ProcessEnv = { ...env, RCLONE_CONFIG: file };
    delete e.AWS_CA_BUNDLE;
    const child = spawn('rclone', ['config'], { env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      const next = answers[0];
      if (next && seen.endsWith(next[0])) {
        answers.shift();
        seen = '';
        child.stdin.write(`${next[1]}\n`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && answers.length === 0) resolve();
      else reject(new Error(`rclone config exited ${code} with ${answers.length} answers left; last output: ${seen}`));
    });
  });
}

before(async () => {
  const v = await run('rclone', ['version']);
  assert.equal(v.code, 0, 'rclone is needed for this test (scripts/setup installs it)');
  c = await startCli();
  await c.s3.createBucket(B);
  await ok(c, ['rcat', `moto:${B}/dir/hello.txt`], { input: 'hello\n' });
  // the env-only remote `moto` becomes the config section [enc] (plus one more remote)
  const prefix = 'RCLONE_CONFIG_MOTO_';
  const lines = Object.entries(c.env)
    .filter(([k]) => k.startsWith(prefix))
    .map(([k, v]) => `${k.slice(prefix.length).toLowerCase()} = ${v}`)
    .sort((a, b) => (a.startsWith('type') ? -1 : b.startsWith('type') ? 1 : a.localeCompare(b)));
  plainText = `[enc]\n${lines.join('\n')}\n\n[other]\ntype = s3\nprovider = AWS\n`;
  conf = path.join(c.dir, 'encrypted.conf');
  writeFileSync(conf, plainText);
  env = { ...c.env, RCLONE_CONFIG: conf };
  for (const k of Object.keys(env)) if (k.startsWith(prefix)) delete env[k];
  await encryptWithRclone(conf, PASSWORD);
  const text = readFileSync(conf, 'utf8');
  assert.match(text, /^# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n/);
  assert.ok(!text.includes('[enc]'));
});
after(async () => {
  await c?.s3.stop();
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

/** rclone with the same environment (AWS_CA_BUNDLE unset, as rclone needs here). */
function rclone(args: string[], extra: NodeJS.ProcessEnv = {}, input = ''): Promise<RunResult> {
  const e = { ...env, ...extra };
  delete e.AWS_CA_BUNDLE;
  return run('rclone', args, { env: e, input });
}

/** bucketfs, checking that the password never shows. */
async function bfs(args: string[], extra: NodeJS.ProcessEnv = {}, input = ''): Promise<RunResult> {
  const r = await cli(c, args, { env: { ...env, ...extra }, input });
  for (const secret of [PASSWORD, WRONG]) {
    assert.ok(!(r.stdout + r.stderr).includes(secret), `a password appeared in the output of bucketfs ${args.join(' ')}`);
  }
  return r;
}

/** stderr as messages: rclone's log timestamps and bucketfs's `bucketfs: ` prefix removed. */
const messages = (stderr: string) =>
  stderr
    .split('\n')
    .map((l) => l.replace(/^(password:)?(\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d |bucketfs: )/, '$1'))
    .filter((l) => l !== '');

/** bucketfs fails exactly as rclone does: the same messages, the same exit code. */
async function sameFailure(args: string[], extra: NodeJS.ProcessEnv, input = ''): Promise<RunResult> {
  const theirs = await rclone(args, extra, input);
  const ours = await bfs(args, extra, input);
  assert.notEqual(theirs.code, 0);
  assert.equal(ours.code, theirs.code, `exit code of bucketfs ${args.join(' ')}: ${ours.stderr}`);
  assert.deepEqual(messages(ours.stderr), messages(theirs.stderr));
  assert.equal(ours.stdout, '');
  return ours;
}

function script(name: string, body: string): string {
  const file = path.join(c.dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('RCLONE_CONFIG_PASS: listremotes, config show (secrets redacted) and ls read the encrypted file', async () => {
  const pass = { RCLONE_CONFIG_PASS: PASSWORD };
  const theirs = await rclone(['listremotes'], pass);
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.equal((await bfs(['listremotes'], pass)).stdout, theirs.stdout);
  assert.equal(theirs.stdout, 'enc:\nother:\n');

  const shown = await rclone(['config', 'show', 'enc'], pass);
  assert.equal(shown.code, 0, shown.stderr);
  const redacted = shown.stdout.replace(/^(access_key_id|secret_access_key) = .*$/gm, '$1 = *** (redacted)');
  assert.equal((await bfs(['config', 'show', 'enc'], pass)).stdout, redacted);

  const listing = await bfs(['ls', `enc:${B}`], pass);
  assert.equal(listing.code, 0, listing.stderr);
  assert.equal(listing.stdout, '        6 dir/hello.txt\n');
  assert.equal((await rclone(['ls', `enc:${B}`], pass)).stdout, listing.stdout);
});

test('--password-command and RCLONE_PASSWORD_COMMAND; the password is in no process list', async () => {
  const psFile = path.join(c.dir, 'ps.txt');
  // runs while bucketfs waits for it: the process list at that moment, then the password
  const cmd = script('pass.sh', `ps -eo args > '${psFile}'\nprintf '%s\\n' '${PASSWORD}'`);
  const out = await bfs(['--password-command', cmd, 'ls', `enc:${B}`]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, '        6 dir/hello.txt\n');
  const ps = readFileSync(psFile, 'utf8');
  assert.ok(ps.includes('pass.sh') && ps.includes('bucketfs'), 'ps saw bucketfs and its password command');
  assert.ok(!ps.includes(PASSWORD), 'the password appeared in ps');

  const viaEnv = await bfs(['listremotes'], { RCLONE_PASSWORD_COMMAND: cmd });
  assert.equal(viaEnv.stdout, (await rclone(['listremotes'], { RCLONE_PASSWORD_COMMAND: cmd })).stdout);
  // the command wins over RCLONE_CONFIG_PASS, as in rclone
  assert.equal((await bfs(['--password-command', cmd, 'listremotes'], { RCLONE_CONFIG_PASS: WRONG })).code, 0);
  // split as rclone splits it: a quoted argument stays one
  const quoted = await bfs(['--password-command', `sh -c "printf '%s\\n' '${PASSWORD}'"`, 'listremotes']);
  assert.equal(quoted.stdout, 'enc:\nother:\n');
});

test('a password on stdin (not a terminal) is read as rclone reads it', async () => {
  const theirs = await rclone(['listremotes'], {}, `${PASSWORD}\n`);
  assert.equal(theirs.code, 0, theirs.stderr);
  const ours = await bfs(['listremotes'], {}, `${PASSWORD}\n`);
  assert.equal(ours.stdout, theirs.stdout);
  assert.deepEqual(messages(ours.stderr), messages(theirs.stderr));
});

test("on a terminal: the prompt, no echo, a wrong password asked again (rclone's loop)", async () => {
  // a pseudo-terminal from script(1); each answer is typed once the prompt is shown
  const answers = [WRONG, PASSWORD];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(bucketfsBin)} listremotes`, '/dev/null'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let seen = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      pending += d.toString();
      if (pending.endsWith('password:') && answers.length > 0) {
        pending = '';
        child.stdin.write(`${answers.shift()}\r`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(seen) : reject(new Error(`script exited ${code}: ${seen}`))));
  });
  assert.equal(answers.length, 0);
  assert.ok(!out.includes(PASSWORD) && !out.includes(WRONG), `a typed password was echoed: ${out}`);
  const lines = out.split(/\r?\n/).map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''));
  assert.deepEqual(lines, [
    'Enter configuration password:',
    'password:',
    "ERROR : Couldn't decrypt configuration, most likely wrong password.",
    'Enter configuration password:',
    'password:',
    'enc:',
    'other:',
    '',
  ]);
});

test("wrong, failing and missing passwords: rclone's messages and exit code", async () => {
  // wrong RCLONE_CONFIG_PASS: an error, then the prompt, which meets the end of stdin
  const r = await sameFailure(['listremotes'], { RCLONE_CONFIG_PASS: WRONG });
  assert.ok(messages(r.stderr).includes("ERROR : Couldn't decrypt configuration, most likely wrong password."));
  // no password at all, stdin not a terminal and empty
  await sameFailure(['listremotes'], {});
  await sameFailure(['ls', `enc:${B}`], {});
  // no prompt allowed
  await sameFailure(['--ask-password=false', 'listremotes'], {});
  // a wrong password from the command, a command that fails, one that does not exist
  await sameFailure(['--password-command', script('wrong.sh', `echo '${WRONG}'`), 'listremotes'], {});
  await sameFailure(['--password-command', script('fail.sh', 'echo oops >&2; exit 3'), 'listremotes'], {});
  await sameFailure(['--password-command', 'no-such-password-command-here', 'listremotes'], {});
  // a blank RCLONE_CONFIG_PASS: rclone's warning and error, then the prompt
  await sameFailure(['listremotes'], { RCLONE_CONFIG_PASS: '  ' });
});

test('a config bucketfs encrypts opens in rclone with the same password', async () => {
  const file = path.join(c.dir, 'by-bucketfs.conf');
  writeFileSync(file, encryptConfigText(plainText, configKeyFromPassword(PASSWORD)));
  const theirs = await rclone(['listremotes'], { RCLONE_CONFIG: file, RCLONE_CONFIG_PASS: PASSWORD });
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.equal(theirs.stdout, 'enc:\nother:\n');
  const wrong = await rclone(['listremotes'], { RCLONE_CONFIG: file, RCLONE_CONFIG_PASS: WRONG });
  assert.notEqual(wrong.code, 0);
});
