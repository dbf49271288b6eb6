// rclone's flag parser (pflag) takes the argument after a flag that needs a value as that value,
// whatever it looks like (`--suffix -2024`, `--filter "- *.jpg"`); yargs would read one that
// starts with `-` as another flag. The values of such flags are joined to them first
// (`--suffix=-2024`), up to a `--` (after it, everything is an argument: double-dash.ts).

/**
 * The arguments with the value of each flag `flagOf` names joined to it: `flagOf(arg)` gives the
 * flag to write (`-f` → `--filter`), or undefined for an argument that is no such flag.
 */
export function joinFlagValues(args: readonly string[], flagOf: (arg: string) => string | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const flag = flagOf(a);
    if (flag !== undefined && i + 1 < args.length) out.push(`${flag}=${args[++i]!}`);
    else out.push(a);
  }
  return out;
}
