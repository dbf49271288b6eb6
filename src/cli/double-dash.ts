// `--` ends the flags, as in rclone (pflag): every argument after it is a positional argument,
// even one that starts with `-` (`bucketfs reveal -- -Xq…`: an obscured password can). yargs
// counts nothing after `--` toward a command's positional arguments, so those arguments go
// through yargs marked (a leading NUL, which no flag starts with and no command-line argument
// can hold), and the marks are taken off the parsed arguments before any command sees them.
const MARK = '\u0000';

/** The arguments with `--` dropped and the ones after it marked as positional. */
export function markAfterDoubleDash(args: readonly string[]): string[] {
  const at = args.indexOf('--');
  if (at < 0) return [...args];
  return [...args.slice(0, at), ...args.slice(at + 1).map((a) => MARK + a)];
}

/** Take the marks off every parsed value (in place): strings, and strings in arrays. */
export function unmarkParsed(argv: Record<string, unknown>): void {
  const un = (v: unknown): unknown => (typeof v === 'string' && v.startsWith(MARK) ? v.slice(MARK.length) : v);
  for (const [k, v] of Object.entries(argv)) argv[k] = Array.isArray(v) ? v.map(un) : un(v);
}
