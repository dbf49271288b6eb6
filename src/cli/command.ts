// The shape of one CLI command. main.ts turns each into a yargs command whose handler builds
// the Cli context (global flags applied) and calls `run`; errors thrown by `run` reach the
// single error edge in main.ts.
import type { Argv } from 'yargs';
import type { Cli, GlobalArgs } from './context.js';

export interface CommandSpec<A = Record<string, unknown>> {
  /** yargs command string, e.g. 'lsl <remote>' */
  command: string;
  aliases?: string[];
  describe: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command adds arguments of its own type
  builder?: (y: Argv<GlobalArgs>) => Argv<any>;
  run: (cli: Cli, args: A & GlobalArgs) => Promise<void>;
  /**
   * The command installs its own SIGINT/SIGTERM handling (mount: unmount first). Otherwise the
   * first signal aborts `cli.signal`, the command gets a few seconds to clean up (abort a
   * multipart upload, remove a partial file), and a second signal exits at once.
   */
  handlesSignals?: boolean;
  /** a command that changes things: a run that ends with errors is run again (--retries, retries.ts) */
  retry?: boolean;
}

/** Identity helper that keeps the argument type of `run` tied to the builder's flags. */
export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}
