// Changing rclone.conf: load it for editing (decrypted when encrypted), save it as rclone 1.60
// saves it. The file is written to a temporary file beside it, synced, given the old file's mode
// (0600 for a new file, as rclone) and renamed over it: a crash leaves the old file or the new
// one, never half of one. A file that was encrypted stays encrypted under the same key unless
// the configuration password is changed or removed (setKey).
import { chmodSync, chownSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { ConfigDocument } from './config-document.js';
import { configKeyOf, decryptConfigFile, encryptConfigText, encryptionOf, setConfigKeyOf } from './config-crypt.js';
import { describeFsError, locateConfig, type ConfigFileContext } from './config-file.js';

/** rclone's default mode for a config file it creates */
const NEW_FILE_MODE = 0o600;

export class ConfigStore {
  private constructor(
    readonly path: string,
    readonly doc: ConfigDocument,
    /** there was a file (else the first save creates it) */
    readonly found: boolean,
    private key: Uint8Array | undefined,
  ) {}

  /**
   * The config file `ctx` names, for editing. A missing file is an empty one (rclone's notice
   * says so); `--config ""` has no file to change.
   */
  static open(ctx: ConfigFileContext): ConfigStore {
    const { path } = locateConfig(ctx);
    if (path === '') throw new UserError('the configuration file is not used (--config ""): nothing to change', EXIT.usage);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new UserError(`cannot read config file ${JSON.stringify(path)}: ${describeFsError(err)}`, EXIT.fatal, { cause: err });
      }
      log.notice(`Config file ${JSON.stringify(path)} not found - using defaults`);
      return new ConfigStore(path, new ConfigDocument(), false, undefined);
    }
    let key: Uint8Array | undefined;
    if (encryptionOf(text) !== 'plain') {
      text = decryptConfigFile(path, text, ctx);
      key = configKeyOf(path);
    }
    // read by goconfig's rules (config-document.ts), not config-file.ts's: what rclone would
    // keep of the file is what is written back
    return new ConfigStore(path, ConfigDocument.parse(text, path), true, key);
  }

  get encrypted(): boolean {
    return this.key !== undefined;
  }

  /** Encrypt under `key` from the next save on (undefined: save plain). */
  setKey(key: Uint8Array | undefined): void {
    this.key = key;
  }

  /** Write the document (encrypted when it has a key), atomically. */
  save(): void {
    const plain = this.doc.serialize();
    const data = this.key ? encryptConfigText(plain, this.key) : plain;
    writeFileAtomically(this.path, data);
    setConfigKeyOf(this.path, this.key);
  }
}

/** `data` into `path` through a synced temporary file renamed over it; the old file's mode and group kept. */
export function writeFileAtomically(path: string, data: string): void {
  const dir = dirname(path);
  const fail = (what: string, err: unknown) =>
    new UserError(`failed to save config file ${JSON.stringify(path)}: ${what}: ${describeFsError(err)}`, EXIT.fatal, { cause: err });
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw fail('failed to create config directory', err);
  }
  let old: { mode: number; gid: number } | undefined;
  try {
    const st = statSync(path);
    old = { mode: st.mode & 0o7777, gid: st.gid };
  } catch {
    old = undefined;
  }
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', NEW_FILE_MODE);
    const buf = Buffer.from(data, 'utf8');
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (old) {
      // rclone keeps the permissions (and tries to keep the group) of the file it replaces
      chmodSync(tmp, old.mode);
      try {
        chownSync(tmp, -1, old.gid);
      } catch {
        // not a member of that group: the file gets ours, as with rclone
      }
    }
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never made, or already renamed
    }
    throw fail('cannot write it', err);
  }
  // the rename itself survives a crash only once the directory is synced
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // a directory that cannot be opened for sync: the rename is done all the same
  }
}
