// The --log-file writer: log lines are appended in order without blocking the event loop (a
// mount serves every FUSE request on it, so a synchronous write per line would stall them all
// behind the disk). Lines queue in memory and go out in batches, one write at a time; at exit
// (normal, process.exit, or a crash) whatever is still queued is written synchronously, so the
// last lines (the error that ended the process) are never lost.
import fs from 'node:fs';
import path from 'node:path';

/** Why `file` cannot be a log file, or undefined when it can (checked without creating it). */
export function logFileProblem(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) return 'it is a directory';
    fs.accessSync(file, fs.constants.W_OK);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'ENOENT') return e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message);
  }
  // not there yet: it is created at the first line, so its directory must take it
  const dir = path.dirname(path.resolve(file));
  try {
    if (!fs.statSync(dir).isDirectory()) return `${dir} is not a directory`;
    fs.accessSync(dir, fs.constants.W_OK);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'ENOENT' ? `directory ${dir} does not exist` : e.code === 'EACCES' ? `directory ${dir} is not writable` : (e.code ?? e.message);
  }
}

export class LogFile {
  private fd: number | undefined;
  private queue: string[] = [];
  private writing = false;
  private failed = false;
  private idle: Array<() => void> = [];

  /** `onError` gets one message when the file stops taking lines (disk full…); later lines are dropped. */
  constructor(
    readonly path: string,
    private readonly onError: (message: string) => void,
  ) {
    process.on('exit', () => this.flushSync());
  }

  write(line: string): void {
    if (this.failed) return;
    this.queue.push(line);
    if (!this.writing) this.drain();
  }

  /** One batch at a time, so lines land in the order they were logged. */
  private drain(): void {
    if (this.failed || this.queue.length === 0) {
      this.writing = false;
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.writing = true;
    const batch = Buffer.from(this.queue.join(''));
    this.queue = [];
    try {
      // opened at the first line: nothing is created before anything is logged (a --log-file in a
      // mountpoint not mounted yet must not make it non-empty before the mount refuses it)
      this.fd ??= fs.openSync(this.path, 'a');
    } catch (err) {
      return this.fail(err);
    }
    this.writeAll(batch, 0);
  }

  private writeAll(buf: Buffer, offset: number): void {
    fs.write(this.fd!, buf, offset, buf.length - offset, null, (err, n) => {
      if (err) return this.fail(err);
      if (offset + n < buf.length) return this.writeAll(buf, offset + n);
      this.drain();
    });
  }

  /** Resolves once every line logged so far is in the file (or the file failed). */
  drained(): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private fail(err: unknown): void {
    this.failed = true;
    this.writing = false;
    this.queue = [];
    for (const resolve of this.idle.splice(0)) resolve();
    this.onError(`cannot write the log file ${this.path}: ${(err as Error).message}; further log lines are dropped`);
  }

  /**
   * At exit: the lines still queued, synchronously. A batch already handed to the thread pool
   * completes on its own (its write is one short system call), and the queued lines follow it.
   */
  flushSync(): void {
    if (this.failed || this.queue.length === 0) return;
    try {
      this.fd ??= fs.openSync(this.path, 'a');
      fs.writeSync(this.fd, this.queue.join(''));
      this.queue = [];
    } catch {
      // exiting: nowhere left to report it
    }
  }
}
