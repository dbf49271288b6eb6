// rclone.conf protected with rclone's configuration password, read as rclone 1.60 reads it
// (fs/config/crypt.go): after comments and blank lines the file says `RCLONE_ENCRYPT_V0:`, then
// base64 of a 24-byte nonce followed by NaCl secretbox (XSalsa20-Poly1305) of the plain config,
// keyed by SHA-256("[" + NFKC(password) + "][rclone-config]").
//
// The password comes, as in rclone, from --password-command (RCLONE_PASSWORD_COMMAND), else
// RCLONE_CONFIG_PASS, else a prompt (stdin; no echo on a terminal) unless --ask-password=false.
// The derived key is kept for the life of the process (rclone's configKey); the password and the
// plain config are never logged, never put in an error, never passed on a command line.
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readSync } from 'node:fs';
import { isatty } from 'node:tty';
import nacl from 'tweetnacl';
import { UserError, EXIT } from '../util/errors.js';
import { addSecret, log } from '../util/log.js';

const NONCE_BYTES = 24;
const ENCRYPT_V0 = 'RCLONE_ENCRYPT_V0:';

/** What the first line that is neither blank nor a comment says: encrypted (v0), a newer scheme, or plain. */
export function encryptionOf(text: string): 'v0' | 'unsupported' | 'plain' {
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (l === '' || l.startsWith(';') || l.startsWith('#')) continue;
    if (l === ENCRYPT_V0) return 'v0';
    if (l.startsWith('RCLONE_ENCRYPT_V')) return 'unsupported';
    return 'plain';
  }
  return 'plain';
}

/**
 * rclone's checkPassword: NFKC-normalised, leading/trailing space kept (with rclone's warning),
 * refused when nothing but space. The message of the Error is rclone's.
 */
export function checkPassword(password: string): string {
  const trimmed = password.trim();
  if (password.length !== trimmed.length) {
    process.stderr.write('Your password contains leading/trailing whitespace - in previous versions of rclone this was stripped\n');
  }
  const normalized = password.normalize('NFKC');
  if (normalized.length === 0 || trimmed.length === 0) throw new Error('no characters in password');
  return normalized;
}

/** The 32-byte secretbox key rclone derives from the configuration password. */
export function configKeyFromPassword(password: string): Uint8Array {
  return keyFromCheckedPassword(checkPassword(password));
}

/** The key of a password checkPassword has already normalised (its warning printed once). */
export function keyFromCheckedPassword(pw: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`[${pw}][rclone-config]`, 'utf8').digest());
}

/** The base64 body after the `RCLONE_ENCRYPT_V0:` line, decoded as Go's StdEncoding decoder does (newlines ignored). */
function encryptedBox(text: string): Uint8Array {
  const at = text.indexOf(ENCRYPT_V0);
  const body = text.slice(at + ENCRYPT_V0.length).replace(/[\r\n]/g, '');
  const bad = /[^A-Za-z0-9+/=]/.exec(body) ?? /=[^=]/.exec(body);
  if (bad || body.length % 4 !== 0) {
    const pos = bad ? bad.index : body.length - (body.length % 4);
    throw new UserError(`failed to load base64 encoded data: illegal base64 data at input byte ${pos}`, EXIT.usage);
  }
  const box = new Uint8Array(Buffer.from(body, 'base64'));
  if (box.length < NONCE_BYTES + nacl.secretbox.overheadLength) throw new UserError('configuration data too short', EXIT.usage);
  return box;
}

/** The plain config text of an encrypted file, or undefined when `key` does not open it (wrong password). */
export function decryptConfigText(text: string, key: Uint8Array): string | undefined {
  const box = encryptedBox(text);
  const out = nacl.secretbox.open(box.subarray(NONCE_BYTES), box.subarray(0, NONCE_BYTES), key);
  return out ? Buffer.from(out).toString('utf8') : undefined;
}

/** The file rclone writes for `plain` under `key` (fresh random nonce), which rclone reads back. */
export function encryptConfigText(plain: string, key: Uint8Array): string {
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const sealed = nacl.secretbox(new Uint8Array(Buffer.from(plain, 'utf8')), nonce, key);
  const body = Buffer.concat([nonce, sealed]).toString('base64');
  return `# Encrypted rclone configuration File\n\n${ENCRYPT_V0}\n${body}`;
}

/**
 * rclone's SpaceSepList (the --password-command value): Go's encoding/csv with a space as the
 * separator, so "double quotes" group words and two spaces make an empty argument.
 */
export function splitSpaceSepList(s: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const malformed = () =>
    new UserError(`invalid argument ${JSON.stringify(s)} for "--password-command" flag: extraneous or missing " in quoted-field`, EXIT.usage);
  if (s === '') return [];
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q < 0) throw malformed();
        field += s.slice(i, q);
        i = q + 1;
        if (s[i] === '"') {
          field += '"';
          i++;
          continue;
        }
        break;
      }
      if (i < s.length && s[i] !== ' ') throw malformed();
    } else {
      const end = s.indexOf(' ', i);
      field = s.slice(i, end < 0 ? s.length : end);
      if (field.includes('"'))
        throw new UserError(`invalid argument ${JSON.stringify(s)} for "--password-command" flag: bare " in non-quoted-field`, EXIT.usage);
      i = end < 0 ? s.length : end;
    }
    fields.push(field);
    if (i >= s.length) return fields;
    i++; // the separator
  }
}

/** How Go's os/exec describes a failed run (`exit status 3`, `signal: killed`, `exec: "x": executable file not found in $PATH`). */
function describeRun(argv0: string, r: ReturnType<typeof spawnSync>): string | undefined {
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !argv0.includes('/')) return `exec: ${JSON.stringify(argv0)}: executable file not found in $PATH`;
    if (code === 'ENOENT') return `fork/exec ${argv0}: no such file or directory`;
    if (code === 'EACCES') return `fork/exec ${argv0}: permission denied`;
    return r.error.message.split('\n')[0];
  }
  if (r.signal) return `signal: ${GO_SIGNAL_NAMES[r.signal] ?? r.signal}`;
  if (r.status !== 0) return `exit status ${r.status}`;
  return undefined;
}

const GO_SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGINT: 'interrupt',
  SIGHUP: 'hangup',
  SIGQUIT: 'quit',
  SIGABRT: 'aborted',
  SIGSEGV: 'segmentation fault',
  SIGPIPE: 'broken pipe',
};

/** rclone's GetPasswordCommand: run it (stdin inherited, stderr captured), its stdout less the CR/LF at either end. */
export function runPasswordCommand(command: string, env: NodeJS.ProcessEnv): string {
  const argv = splitSpaceSepList(command);
  let failure: string | undefined;
  let stderr = '';
  let stdout = '';
  if (argv.length === 0 || argv[0] === '') {
    failure = 'exec: no command';
  } else {
    const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['inherit', 'pipe', 'pipe'], maxBuffer: 1 << 20 });
    failure = describeRun(argv[0]!, r);
    stdout = r.stdout ? r.stdout.toString('utf8') : '';
    stderr = r.stderr ? r.stderr.toString('utf8').trim() : '';
  }
  if (failure !== undefined) {
    // an empty command fails before it runs: rclone logs nothing then
    if (failure !== 'exec: no command') {
      log.error(`Using --password-command returned: ${failure}`);
      if (stderr !== '') log.error(`--password-command stderr: ${stderr}`);
    }
    throw new UserError(`password command failed: ${failure}`, EXIT.usage);
  }
  const pass = stdout.replace(/^[\r\n]+|[\r\n]+$/g, '');
  if (pass === '') throw new UserError('--password-command returned empty string', EXIT.usage);
  return pass;
}

/** One line from stdin, read a byte at a time so nothing after it is consumed; undefined at EOF before a newline. */
export function readStdinLine(): string | undefined {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, one, 0, 1, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((err as NodeJS.ErrnoException).code === 'EOF') return undefined;
      throw err;
    }
    if (n === 0) return undefined;
    if (one[0] === 0x0a) return Buffer.from(bytes).toString('utf8');
    bytes.push(one[0]!);
  }
}

/** stty on the terminal that is stdin (rclone's term.ReadPassword turns echo off the same way). */
function stty(arg: string): void {
  spawnSync('stty', [arg], { stdio: ['inherit', 'ignore', 'ignore'] });
}

/**
 * rclone's ReadPassword: on a terminal, a line typed without echo (kept as typed); otherwise a
 * line of stdin, trimmed. EOF is fatal with rclone's message.
 */
export function readPassword(prompt: string): string {
  if (isatty(0)) {
    // Ctrl-C at the prompt ends the process, as in rclone: a command's own SIGINT handler
    // could not run while the read blocks
    const saved = (['SIGINT', 'SIGTERM'] as const).map((sig) => [sig, process.listeners(sig)] as const);
    for (const [sig] of saved) process.removeAllListeners(sig);
    stty('-echo');
    // the prompt once echo is off, so that nothing typed after it is ever shown
    process.stderr.write(prompt);
    let line: string | undefined;
    try {
      line = readStdinLine();
    } finally {
      stty('echo');
      process.stderr.write('\n');
      for (const [sig, listeners] of saved) for (const l of listeners) process.on(sig, l);
    }
    if (line === undefined) throw new UserError('Failed to read password: EOF', EXIT.usage);
    return line.replace(/\r$/, '');
  }
  process.stderr.write(prompt);
  const line = readStdinLine();
  if (line === undefined) throw new UserError('Failed to read line: EOF', EXIT.usage);
  return line.trim();
}

/** rclone's GetPassword + getConfigPassword: prompt until a usable password is typed; its key. */
function promptForKey(): Uint8Array {
  process.stderr.write('Enter configuration password:\n');
  for (;;) {
    const password = readPassword('password:');
    addSecret(password);
    try {
      return configKeyFromPassword(password);
    } catch (err) {
      process.stderr.write(`Bad password: ${(err as Error).message}\n`);
    }
  }
}

export interface PasswordSources {
  /** --password-command as given (rclone's SpaceSepList text); else RCLONE_PASSWORD_COMMAND. */
  passwordCommand?: string;
  /** --ask-password (default true); else RCLONE_ASK_PASSWORD. */
  askPassword?: boolean;
  env: NodeJS.ProcessEnv;
}

/** The keys that opened each config file in this process (rclone keeps one configKey). */
const unlocked = new Map<string, Uint8Array>();

/**
 * The key that opened (or last encrypted) the config file at `path` in this process: a write
 * keeps an encrypted file encrypted under it (config-write.ts). undefined: the file is plain.
 */
export function configKeyOf(path: string): Uint8Array | undefined {
  return unlocked.get(path);
}

/** The key `path` is now encrypted with (undefined: written plain from now on). */
export function setConfigKeyOf(path: string, key: Uint8Array | undefined): void {
  if (key) unlocked.set(path, key);
  else unlocked.delete(path);
}

function envBool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw new UserError(`invalid boolean value ${JSON.stringify(v)} for RCLONE_ASK_PASSWORD`, EXIT.usage);
}

/**
 * The plain text of the encrypted config file at `path` (its contents `text`), as rclone's
 * Decrypt finds it. Errors are rclone's, prefixed as rclone prints them
 * (`Failed to load config file "PATH": …`), exit code 1.
 */
export function decryptConfigFile(path: string, text: string, src: PasswordSources): string {
  const fail = (why: string) => new UserError(`Failed to load config file ${JSON.stringify(path)}: ${why}`, EXIT.usage);
  if (encryptionOf(text) === 'unsupported') throw fail('unsupported configuration encryption - update rclone for support');
  const known = unlocked.get(path);
  if (known) {
    const plain = decryptConfigText(text, known);
    if (plain !== undefined) return plain;
  }

  let key: Uint8Array | undefined;
  let usingPasswordCommand = false;
  const command = src.passwordCommand ?? (src.env.RCLONE_PASSWORD_COMMAND || undefined);
  const withPrefix = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof UserError && !err.message.startsWith('Failed to read')) throw fail(err.message);
      throw err;
    }
  };
  const pass = command !== undefined ? withPrefix(() => runPasswordCommand(command, src.env)) : '';
  if (pass !== '') {
    usingPasswordCommand = true;
    addSecret(pass);
    try {
      key = configKeyFromPassword(pass);
    } catch (err) {
      throw fail(`incorrect password: ${(err as Error).message}`);
    }
  } else {
    const envPass = src.env.RCLONE_CONFIG_PASS;
    if (envPass) {
      try {
        key = configKeyFromPassword(envPass);
        log.debug('Using RCLONE_CONFIG_PASS password.');
      } catch (err) {
        log.error(`Using RCLONE_CONFIG_PASS returned: ${(err as Error).message}`);
      }
    }
  }
  withPrefix(() => encryptedBox(text));

  const askPassword = src.askPassword ?? envBool(src.env.RCLONE_ASK_PASSWORD) ?? true;
  for (;;) {
    if (!key) {
      if (usingPasswordCommand) throw fail('using --password-command derived password, unable to decrypt configuration');
      if (!askPassword)
        throw fail('unable to decrypt configuration and not allowed to ask for password - set RCLONE_CONFIG_PASS to your configuration password');
      key = promptForKey();
    }
    const plain = decryptConfigText(text, key);
    if (plain !== undefined) {
      unlocked.set(path, key);
      return plain;
    }
    log.error("Couldn't decrypt configuration, most likely wrong password.");
    key = undefined;
  }
}
