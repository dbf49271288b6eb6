// What every command handler gets from the global flags: the config context (config file, the
// `--s3-*` flag values, the environment), resolved locations with their backends, the
// --dry-run / --interactive gate for changes, the Ctrl-C signal and buffered stdout.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { S3_OPTIONS, s3FlagName } from '../config/option-table.js';
import type { ConfigContext } from '../config/context.js';
import { parseRemotePath } from '../config/remote-path.js';
import { resolveParsedRemote, type RemoteTarget } from '../config/resolve.js';
import { createS3Backend } from '../backend/s3/index.js';
import type { S3BackendApi } from '../backend/s3/types.js';
import { UserError, EXIT } from '../util/errors.js';
import { log, redact, setLogFile, setLogLevel, type LogLevel } from '../util/log.js';
import { logFileProblem } from '../util/log-file.js';
import { rawBytes } from './raw-names.js';
import { Filter } from './filter.js';
import { TransferStats } from './transfer-stats.js';
import { BandwidthLimit } from '../util/bwlimit.js';

/** The global flags as yargs parses them (the `--s3-*` ones are read by name from the table). */
export interface GlobalArgs {
  config?: string;
  'password-command'?: string;
  'ask-password'?: boolean;
  verbose?: number;
  'log-level'?: string;
  'log-file'?: string;
  'dry-run'?: boolean;
  interactive?: boolean;
  progress?: boolean;
  quiet?: boolean;
  transfers?: number;
  checkers?: number;
  [flag: string]: unknown;
}

export interface LocalLocation {
  kind: 'local';
  /** as given (relative paths stay relative to the working directory) */
  path: string;
  /** for messages */
  display: string;
  /** the filter flags (listings and transfers obey it); none: everything passes */
  filter?: Filter;
}

export interface RemoteLocation {
  kind: 'remote';
  target: RemoteTarget;
  backend: S3BackendApi;
  /** identifies the remote and its options: equal keys can copy server-side */
  backendKey: string;
  bucket: string;
  path: string;
  /** the argument as given, for messages */
  display: string;
  /** the filter flags (listings and transfers obey it); none: everything passes */
  filter?: Filter;
}

export type Location = LocalLocation | RemoteLocation;

const LEVELS: LogLevel[] = ['ERROR', 'NOTICE', 'INFO', 'DEBUG'];

export class Cli {
  readonly config: ConfigContext;
  readonly dryRun: boolean;
  readonly interactive: boolean;
  readonly progress: boolean;
  readonly signal: AbortSignal;
  readonly stdout: Writable;
  /** --include, --exclude, --filter, … (filter.ts) */
  readonly filter: Filter;
  /** --low-level-retries: attempts of one request (the backend's retry policy); undefined: its default */
  lowLevelRetries?: number;
  /** --bwlimit (util/bwlimit.ts); undefined: no limit */
  bwlimit?: BandwidthLimit;
  /** set by the whole-run retry (retries.ts): the stats block is printed once, after the last attempt */
  deferStats = false;
  /** the stats of copy, sync and move, kept across attempts as rclone keeps its global stats */
  runStats?: TransferStats;
  private readonly backends = new Map<string, S3BackendApi>();
  private answerAll: Map<string, boolean> = new Map();
  private prompt?: AsyncIterator<string>;

  constructor(argv: GlobalArgs, signal: AbortSignal, env: NodeJS.ProcessEnv = process.env, stdout: Writable = process.stdout, filter = new Filter()) {
    const flags: ConfigContext['flags'] = {};
    for (const o of S3_OPTIONS) {
      const v = argv[s3FlagName(o)];
      if (v === undefined) continue;
      // A flag given twice: the last one wins, as with rclone's pflag.
      const last = Array.isArray(v) ? v[v.length - 1] : v;
      flags[o.name] = typeof last === 'boolean' ? String(last) : (last as string | number);
    }
    // a repeated flag keeps its last value, as with rclone's pflag
    const last = <T>(v: T | T[] | undefined): T | undefined => (Array.isArray(v) ? v[v.length - 1] : v);
    this.config = { configPath: last(argv.config), flags, env, passwordCommand: last(argv['password-command']), askPassword: last(argv['ask-password']) };
    this.dryRun = argv['dry-run'] === true;
    this.interactive = argv.interactive === true;
    this.progress = argv.progress === true;
    this.signal = signal;
    this.stdout = stdout;
    this.filter = filter;
    const bw = last(argv.bwlimit as string | string[] | undefined);
    if (bw !== undefined) this.bwlimit = BandwidthLimit.parse(String(bw));
  }

  /** `body` through --bwlimit's bucket for its direction ('up': sent to a remote, 'down': received). */
  throttle<T extends Readable>(body: T, dir: 'up' | 'down'): Readable {
    return this.bwlimit ? this.bwlimit.throttle(body, dir, this.signal) : body;
  }

  /** The stats of this attempt: the counts so far, the errors reset (rclone resets them between attempts). */
  statsForRun(): TransferStats {
    this.runStats ??= new TransferStats();
    this.runStats.errors = 0;
    this.runStats.fatal = false;
    return this.runStats;
  }

  /** rclone's stats block at the end of a run (or, with whole-run retries, of the last attempt). */
  logStats(stats: TransferStats): void {
    if (!this.deferStats) stats.logFinal(this.dryRun);
  }

  /** Apply -v/-vv/-q/--log-level/--log-file; called before anything can log. */
  static applyLogging(argv: GlobalArgs): void {
    let level: LogLevel = 'NOTICE';
    const v = argv.verbose ?? 0;
    if (v >= 2) level = 'DEBUG';
    else if (v === 1) level = 'INFO';
    if (argv.quiet) level = 'ERROR';
    const explicit = argv['log-level'];
    if (explicit !== undefined) {
      const up = String(explicit).toUpperCase() as LogLevel;
      if (!LEVELS.includes(up)) throw new UserError(`invalid --log-level ${JSON.stringify(explicit)}: use DEBUG, INFO, NOTICE or ERROR`, EXIT.usage);
      level = up;
    }
    setLogLevel(level);
    const file = argv['log-file'];
    if (file) {
      // refused now, with one line, rather than every log line failing later (or a mount that runs blind)
      const problem = logFileProblem(String(file));
      if (problem) throw new UserError(`cannot write --log-file ${file}: ${problem}`, EXIT.usage);
      setLogFile(String(file));
    }
  }

  /** A path argument: local path or remote location. */
  location(spec: string): Location {
    const parsed = parseRemotePath(spec);
    if (parsed.kind === 'local') return { kind: 'local', path: parsed.path, display: spec, filter: this.filter };
    const target = resolveParsedRemote(parsed, this.config);
    // The options (connection-string parameters included) decide which backend instance serves it.
    const backendKey = JSON.stringify([target.remote, target.options]);
    let backend = this.backends.get(backendKey);
    if (!backend) {
      backend = createS3Backend(target.options, { log, ...(this.lowLevelRetries !== undefined ? { retries: this.lowLevelRetries } : {}) });
      this.backends.set(backendKey, backend);
    }
    return { kind: 'remote', target, backend, backendKey, bucket: target.bucket, path: target.path, display: spec, filter: this.filter };
  }

  /** A path argument that must be a remote (`what` names the command for the message). */
  remote(spec: string, what: string): RemoteLocation {
    const loc = this.location(spec);
    if (loc.kind !== 'remote') throw new UserError(`${what} needs a remote path (remote:bucket/path), got local path ${JSON.stringify(spec)}`, EXIT.usage);
    return loc;
  }

  /** A remote location that must name a bucket (not just `remote:`). */
  bucketLocation(spec: string, what: string): RemoteLocation {
    const loc = this.remote(spec, what);
    if (loc.bucket === '') throw new UserError(`${what} needs a bucket: ${JSON.stringify(spec)} names no bucket (use remote:bucket)`, EXIT.usage);
    return loc;
  }

  /**
   * The gate before every change. --dry-run: log what would happen and say no. --interactive:
   * ask on stderr, read the answer from stdin (end of input means "no"). Otherwise yes.
   * `action` is rclone's verb ("copy", "delete", "remove pending upload"), `item` what it acts on.
   */
  async confirm(action: string, item: string, detail = ''): Promise<boolean> {
    if (this.dryRun) {
      log.notice(`${item}: Skipped ${action} as --dry-run is set${detail ? ` (${detail})` : ''}`);
      return false;
    }
    if (!this.interactive) return true;
    // Transfers run in parallel: one question at a time, in order.
    const turn = this.asking.then(() => this.ask(action, item, detail));
    this.asking = turn.catch(() => {});
    return turn;
  }

  private asking: Promise<unknown> = Promise.resolve();

  private async ask(action: string, item: string, detail: string): Promise<boolean> {
    const yes = await this.answer(action, item, detail);
    // rclone's SkipDestructive says so when a change is skipped
    if (!yes) log.notice(`${item}: Skipped ${action} as --interactive is set${detail ? ` (${detail})` : ''}`);
    return yes;
  }

  private async answer(action: string, item: string, detail: string): Promise<boolean> {
    const remembered = this.answerAll.get(action);
    if (remembered !== undefined) return remembered;
    process.stderr.write(
      redact(
        `bucketfs: ${action} "${item}"${detail ? ` (${detail})` : ''}?\n` +
          `y) Yes, this is OK (default)\nn) No, skip this\ns) Skip all ${action} operations with no more questions\n` +
          `!) Do all ${action} operations with no more questions\nq) Exit bucketfs now.\ny/n/s/!/q> `,
      ),
    );
    this.prompt ??= createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
    const next = await this.prompt.next();
    const answer = next.done ? 'n' : next.value.trim().toLowerCase();
    if (next.done) process.stderr.write('\n');
    switch (answer) {
      case '':
      case 'y':
        return true;
      case 's':
        this.answerAll.set(action, false);
        return false;
      case '!':
        this.answerAll.set(action, true);
        return true;
      case 'q':
        throw new UserError("quit at the user's request", EXIT.usage);
      default:
        return false;
    }
  }

  /**
   * Write to stdout, waiting when the pipe is full (large listings, cat). Names that are not
   * valid UTF-8 are written as their bytes, as rclone prints them (raw-names.ts).
   */
  async write(text: string | Buffer): Promise<void> {
    if (!this.stdout.write(typeof text === 'string' ? rawBytes(text) : text)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.stdout.off('error', onError);
          resolve();
        };
        const onError = (err: Error) => {
          this.stdout.off('drain', onDrain);
          reject(err);
        };
        this.stdout.once('drain', onDrain);
        this.stdout.once('error', onError);
      });
    }
  }

  /** A line writer that batches small lines into larger writes. */
  lines(): { line(s: string): Promise<void>; flush(): Promise<void> } {
    let buf = '';
    return {
      line: async (s: string) => {
        buf += s + '\n';
        if (buf.length >= 64 * 1024) {
          const out = buf;
          buf = '';
          await this.write(out);
        }
      },
      flush: async () => {
        if (buf) {
          const out = buf;
          buf = '';
          await this.write(out);
        }
      },
    };
  }
}
