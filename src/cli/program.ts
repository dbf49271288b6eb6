// The bucketfs command line (main.ts runs it): global flags (rclone's names), every `--s3-<name>` flag generated from
// the option table, one module per command, and the single error edge (one line on stderr,
// rclone's exit codes, never a secret, never a stack trace unless -vv).
import { versionText } from './version.js';
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
import { S3_OPTIONS, s3EnvName, s3FlagName, type OptionSpec } from '../config/option-table.js';
import { DEFAULT_CHECKERS, DEFAULT_MOUNT_CHECKERS, DEFAULT_TRANSFERS } from '../config/defaults.js';
import { UserError, EXIT } from '../util/errors.js';
import { addSecret, log } from '../util/log.js';
import type { CommandSpec } from './command.js';
import { Cli, type GlobalArgs } from './context.js';
import { Filter, collectFilterLists, joinFilterValues } from './filter.js';
import { reportError } from './edge.js';
import { retryFlags, runWithRetries } from './retries.js';
import { backendCommand } from './backend.js';
import { catCommand } from './cat.js';
import { checkCommand } from './check.js';
import { cleanupCommand } from './cleanup.js';
import { configCommand } from './config.js';
import { listremotesCommand } from './listremotes.js';
import { obscureCommand, revealCommand } from './obscure.js';
import { copyCommand } from './copy.js';
import { copytoCommand } from './copyto.js';
import { deleteCommand } from './delete.js';
import { deletefileCommand } from './deletefile.js';
import { helpCommand } from './help.js';
import { installHelperCommand } from './install-helper.js';
import { lsCommand } from './ls.js';
import { lsdCommand } from './lsd.js';
import { lsfCommand } from './lsf.js';
import { hashsumCommand, md5sumCommand, sha1sumCommand } from './hashsum.js';
import { lsjsonCommand } from './lsjson.js';
import { lslCommand } from './lsl.js';
import { mkdirCommand } from './mkdir.js';
import { mountCommand } from './mount.js';
import { purgeCommand } from './purge.js';
import { rcatCommand } from './rcat.js';
import { rmdirCommand } from './rmdir.js';
import { sizeCommand } from './size.js';
import { statsCommand } from './stats.js';
import { moveCommand, movetoCommand, syncCommand } from './sync.js';
import { touchCommand } from './touch.js';
import { treeCommand } from './tree-command.js';
import { MOUNT_HELPER_COMMAND, helperExitCode, parseHelperCall } from './mount-helper.js';
import { hideSecretArguments, useCommandArguments } from './hidden-args.js';

// yargs' CommonJS build: its help layout (cliui with wrap-ansi) wraps descriptions at spaces,
// where the ESM build's cliui breaks lines at fixed character positions, even mid-word.
const yargs = createRequire(import.meta.url)('yargs') as typeof import('yargs').default;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- commands of different argument types in one list (TypeScript has no existential types)
const COMMANDS: CommandSpec<any>[] = [
  mountCommand,
  statsCommand,
  lsCommand,
  lslCommand,
  lsdCommand,
  lsfCommand,
  lsjsonCommand,
  treeCommand,
  mkdirCommand,
  rmdirCommand,
  catCommand,
  rcatCommand,
  copytoCommand,
  copyCommand,
  syncCommand,
  movetoCommand,
  moveCommand,
  deletefileCommand,
  deleteCommand,
  purgeCommand,
  touchCommand,
  sizeCommand,
  md5sumCommand,
  sha1sumCommand,
  hashsumCommand,
  checkCommand,
  cleanupCommand,
  backendCommand,
  configCommand,
  listremotesCommand,
  obscureCommand,
  revealCommand,
  installHelperCommand,
  helpCommand,
];

/** Seconds a command gets after Ctrl-C to clean up (abort its multipart upload) before we exit anyway. */
const INTERRUPT_GRACE_MS = 15_000;

/**
 * One line per flag, as rclone's `help flags` has them: the first sentence of the option's help,
 * then its rclone type and default (`bucketfs help options` has the rest). A bool that defaults
 * to false shows neither, as in rclone.
 */
export function s3FlagDescription(o: OptionSpec): string {
  const first = (/^(.*?)[.!?](\s|$)/.exec(o.help)?.[1] ?? o.help).trim();
  if (o.secret) return `${first} (${o.type}; shown as *** in ps, but safer in the config file or ${s3EnvName(o)})`;
  if (o.type === 'bool') return o.default === 'true' ? `${first} (default true)` : first;
  return o.default === '' ? `${first} (${o.type})` : `${first} (${o.type}, default ${o.default})`;
}

/** The terminal width --help is laid out for. */
export function helpWidth(): number {
  return Math.min(120, process.stdout.columns || 120);
}

/** Every `--s3-<name>` flag from the option table. Not defaulted: absent means "not given". */
export function addS3Flags(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  for (const o of S3_OPTIONS) {
    y = y.option(s3FlagName(o), {
      type: o.type === 'bool' ? 'boolean' : 'string',
      describe: s3FlagDescription(o),
      group: 'S3 options (override the remote\'s config; "bucketfs help options" lists them in full):',
    });
  }
  return y;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any command of the list above
export function buildParser(args: string[], onCommand: (spec: CommandSpec<any>, argv: GlobalArgs) => Promise<void>): Argv<GlobalArgs> {
  let y = yargs(args)
    .scriptName('bucketfs')
    .usage("Usage: $0 [flags] <command> [args]\n\nMount S3 buckets through FUSE, and run rclone's object commands on them.")
    .option('config', { type: 'string', describe: 'Config file (default: $RCLONE_CONFIG, then ~/.config/rclone/rclone.conf)', group: 'Global flags:' })
    .option('password-command', {
      type: 'string',
      describe: 'Command for supplying the config password (its output; default $RCLONE_PASSWORD_COMMAND)',
      group: 'Global flags:',
    })
    .option('ask-password', { type: 'boolean', describe: 'Allow prompt for password for encrypted configuration (default true)', group: 'Global flags:' })
    .option('verbose', { alias: 'v', type: 'count', describe: 'Print lots more stuff (repeat for more: -v INFO, -vv DEBUG)', group: 'Global flags:' })
    .option('log-level', { type: 'string', describe: 'Log level DEBUG|INFO|NOTICE|ERROR (default NOTICE)', group: 'Global flags:' })
    .option('log-file', { type: 'string', describe: 'Log everything to this file', group: 'Global flags:' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print as little stuff as possible', group: 'Global flags:' })
    .option('dry-run', { alias: 'n', type: 'boolean', describe: 'Do a trial run with no permanent changes', group: 'Global flags:' })
    .option('interactive', { alias: 'i', type: 'boolean', describe: 'Enable interactive mode: ask before every change', group: 'Global flags:' })
    .option('progress', { alias: 'P', type: 'boolean', describe: 'Show progress during transfer (on stderr)', group: 'Global flags:' })
    .option('transfers', {
      type: 'number',
      default: DEFAULT_TRANSFERS,
      describe: `Number of file transfers to run in parallel (default ${DEFAULT_TRANSFERS})`,
      group: 'Global flags:',
    })
    // bucketfs lists a tree with one recursive LIST (paginated) wherever a command walks one
    // (ls, lsl, lsf -R, lsjson -R, tree, size, copy, sync, move, check, …): --fast-list is
    // what it always does. Accepted so that rclone command lines run unchanged.
    .option('fast-list', {
      type: 'boolean',
      describe: 'Use recursive list if available; uses more memory but fewer transactions (bucketfs always lists a tree with one recursive LIST)',
      group: 'Global flags:',
    })
    .option('bwlimit', {
      type: 'string',
      describe:
        'Bandwidth limit in KiB/s, or use suffix B|K|M|G|T|P, or "UP:DOWN", or a timetable "08:00,512k 12:00,10M" (copy, sync, move, cat, rcat; not mount) (default off)',
      group: 'Global flags:',
      requiresArg: true,
    })
    .option('retries', { type: 'number', describe: 'Retry operations this many times if they fail (default 3)', group: 'Global flags:', requiresArg: true })
    .option('retries-sleep', {
      type: 'string',
      describe: 'Interval between retrying operations if they fail, e.g. 500ms, 60s, 5m (0 to disable) (default 0s)',
      group: 'Global flags:',
      requiresArg: true,
    })
    .option('low-level-retries', { type: 'number', describe: 'Number of low level retries to do (default 10)', group: 'Global flags:', requiresArg: true })
    .option('checkers', {
      type: 'number',
      describe: `Number of checkers (HEAD requests for modification times) to run in parallel (default ${DEFAULT_CHECKERS}; mount: ${DEFAULT_MOUNT_CHECKERS})`,
      group: 'Global flags:',
    })
    .option('include', { type: 'string', describe: 'Include files matching pattern (repeatable)', group: 'Filter flags:' })
    .option('exclude', { type: 'string', describe: 'Exclude files matching pattern (repeatable)', group: 'Filter flags:' })
    .option('filter', { alias: 'f', type: 'string', describe: 'Add a file filtering rule: "+ glob" or "- glob" (repeatable)', group: 'Filter flags:' })
    .option('filter-from', { type: 'string', describe: 'Read file filtering rules from a file (use - to read from stdin)', group: 'Filter flags:' })
    .option('include-from', { type: 'string', describe: 'Read file include patterns from file (use - to read from stdin)', group: 'Filter flags:' })
    .option('exclude-from', { type: 'string', describe: 'Read file exclude patterns from file (use - to read from stdin)', group: 'Filter flags:' })
    .option('files-from', { type: 'string', describe: 'Read list of source-file names from file (use - to read from stdin)', group: 'Filter flags:' })
    .option('min-size', { type: 'string', describe: 'Only transfer files bigger than this in KiB or suffix B|K|M|G|T|P (default off)', group: 'Filter flags:' })
    .option('max-size', {
      type: 'string',
      describe: 'Only transfer files smaller than this in KiB or suffix B|K|M|G|T|P (default off)',
      group: 'Filter flags:',
    })
    .option('min-age', {
      type: 'string',
      describe: 'Only transfer files older than this in s or suffix ms|s|m|h|d|w|M|y (default off)',
      group: 'Filter flags:',
    })
    .option('max-age', {
      type: 'string',
      describe: 'Only transfer files younger than this in s or suffix ms|s|m|h|d|w|M|y (default off)',
      group: 'Filter flags:',
    })
    .option('max-depth', { type: 'number', describe: 'If set limits the recursion depth to this (default -1)', group: 'Filter flags:' })
    // rclone's flags (pflag): no automatic --no-X negation (it would turn --no-create, --no-modtime
    // into create=false, modtime=false), no camelCase copies, a repeated flag keeps the last value.
    .parserConfiguration({ 'camel-case-expansion': false, 'duplicate-arguments-array': false, 'boolean-negation': false }) as unknown as Argv<GlobalArgs>;
  // yargs' "[string]" tags would call every size, duration and number a string: the descriptions
  // name rclone's types and defaults instead (usageConfiguration is yargs ≥ 17.7, unknown to @types/yargs)
  y = (y as unknown as { usageConfiguration(c: Record<string, boolean>): Argv<GlobalArgs> }).usageConfiguration({ 'hide-types': true });
  y = addS3Flags(y);
  for (const spec of COMMANDS) {
    y = y.command({
      command: spec.command,
      aliases: spec.aliases,
      describe: spec.describe,
      builder: (b: Argv<GlobalArgs>) => (spec.builder ? spec.builder(b) : b),
      handler: (argv: GlobalArgs) => onCommand(spec, argv),
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs' CommandModule overloads do not accept a builder typed for another command
    } as any);
  }
  skipHelpCache(y);
  return y
    .demandCommand(1, 'no command given')
    .strict()
    .help()
    .alias('h', 'help')
    .version(versionText())
    .wrap(helpWidth())
    .showHelpOnFail(false)
    .fail((msg, err) => {
      // A handler's error passes through unchanged; a parsing/usage problem becomes exit code 1.
      if (err) throw err;
      throw new UserError(`${msg} (see bucketfs --help)`, EXIT.usage);
    });
}

/**
 * yargs renders a command's whole help text as the command starts, in case a failure wants to
 * print it: for `mount`, with its hundred flags, 70 ms of the main thread while the mount's first
 * request is in flight. Failures here never print help (showHelpOnFail(false)), so that
 * rendering is skipped; `--help` itself renders as before.
 */
function skipHelpCache(y: Argv<GlobalArgs>): void {
  const internal = (y as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/**
 * A first word that is no command (`bucketfs lss remote:`): one line naming it and the commands
 * it may have meant, as rclone suggests them (its name within two edits, or a command it starts).
 */
function checkCommandName(args: string[]): void {
  const word = args[0];
  if (word === undefined || word.startsWith('-')) return;
  const names = COMMANDS.map((c) => String(c.command).split(' ')[0]!);
  if (names.includes(word)) return;
  const close = names.filter((n) => n.startsWith(word) || editDistance(word, n) <= 2).sort();
  const hint = close.length > 0 ? `; did you mean ${close.join(', ')}?` : '';
  throw new UserError(`unknown command ${JSON.stringify(word)}${hint} (see bucketfs --help)`, EXIT.usage);
}

/** Levenshtein distance (small words: the quadratic table is fine) */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Secrets given on the command line or in the environment, registered before anything can print. */
function registerSecretsEarly(args: string[], env: NodeJS.ProcessEnv): void {
  const secretNames = S3_OPTIONS.filter((o) => o.secret);
  for (const o of secretNames) {
    const flag = `--${s3FlagName(o)}`;
    args.forEach((a, i) => {
      if (a === flag) addSecret(args[i + 1]);
      else if (a.startsWith(`${flag}=`)) addSecret(a.slice(flag.length + 1));
    });
  }
  const suffixes = secretNames.map((o) => `_${o.name.toUpperCase()}`);
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('RCLONE_') && !k.startsWith('AWS_')) continue;
    if (k === 'RCLONE_CONFIG_PASS') addSecret(v);
    if (suffixes.some((s) => k.endsWith(s)) || k === 'AWS_SECRET_ACCESS_KEY' || k === 'AWS_SESSION_TOKEN' || k === 'AWS_SECRET_KEY') addSecret(v);
  }
}

export async function flushStdout(): Promise<void> {
  await new Promise<void>((resolve) => {
    if (process.stdout.writableLength === 0) return resolve();
    process.stdout.write('', () => resolve());
  });
}

/**
 * Run the command line `args` (after the script); the exit code. `bucketfs mount-helper SPEC DIR
 * -o OPTIONS` (what /sbin/mount.bucketfs runs for mount(8)) runs as the `bucketfs mount --daemon`
 * it translates to (mount-helper.ts), with mount(8)'s exit codes.
 */
export async function main(args: string[]): Promise<number> {
  if (args[0] !== MOUNT_HELPER_COMMAND) return runCommandLine(args);
  let mountArgs: string[];
  try {
    const call = parseHelperCall(args.slice(1));
    if (call.fake) return 0; // mount -f: everything but the mount
    mountArgs = call.mountArguments;
  } catch (err) {
    return helperExitCode(reportError(err));
  }
  // the --daemon child gets these, and ps shows them, secrets as *** (an -o secret included)
  useCommandArguments(mountArgs);
  hideSecretArguments(mountArgs);
  return helperExitCode(await runCommandLine(mountArgs));
}

/** The filter of the filter flags: the repeatable ones read from the arguments in order, the others from yargs. */
export function filterFromArgs(args: string[], argv: GlobalArgs): Filter {
  const str = (k: string) => (argv[k] === undefined ? undefined : String(argv[k]));
  const depth = argv['max-depth'];
  if (depth !== undefined && (typeof depth !== 'number' || !Number.isInteger(depth))) throw new UserError('--max-depth must be a whole number', EXIT.usage);
  return Filter.fromOptions({
    ...collectFilterLists(args),
    minSize: str('min-size'),
    maxSize: str('max-size'),
    minAge: str('min-age'),
    maxAge: str('max-age'),
    maxDepth: depth as number | undefined,
  });
}

async function runCommandLine(args: string[]): Promise<number> {
  registerSecretsEarly(args, process.env);
  // `bucketfs cat … | head`: a closed stdout ends the command quietly, as for any Unix filter.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });

  const controller = new AbortController();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any command of the list
  let running: CommandSpec<any> | undefined;
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (running?.handlesSignals) return;
    if (signalled) process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    signalled = sig;
    log.notice(`${sig === 'SIGINT' ? 'interrupted' : 'terminated'}: cleaning up (again to exit at once)`);
    controller.abort(new UserError('interrupted', 128 + (sig === 'SIGINT' ? 2 : 15)));
    setTimeout(() => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)), INTERRUPT_GRACE_MS).unref();
  };

  let code = 0;
  try {
    checkCommandName(args);
    const parser = buildParser(joinFilterValues(args), async (spec, argv) => {
      Cli.applyLogging(argv);
      for (const k of ['transfers', 'checkers'] as const) {
        const v = argv[k];
        if (v === undefined && k === 'checkers') continue;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UserError(`--${k} must be a whole number ≥ 1`, EXIT.usage);
      }
      running = spec;
      if (!spec.handlesSignals) {
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }
      const filter = filterFromArgs(args, argv);
      const cli = new Cli(argv, controller.signal, process.env, process.stdout, filter);
      const retry = retryFlags(argv);
      cli.lowLevelRetries = retry.lowLevelRetries;
      if (spec.retry) await runWithRetries(cli, retry, () => spec.run(cli, argv));
      else await spec.run(cli, argv);
    });
    await parser.parseAsync();
  } catch (err) {
    if (signalled) {
      process.stderr.write(`bucketfs: ${signalled === 'SIGINT' ? 'interrupted' : 'terminated'}\n`);
      code = 128 + (signalled === 'SIGINT' ? 2 : 15);
    } else {
      code = reportError(err);
    }
  }
  if (signalled && code === 0) code = 128 + (signalled === 'SIGINT' ? 2 : 15);
  return code;
}
