// `bucketfs config [action]`, as rclone 1.60 has it for S3 remotes. With no action: the
// interactive dialogue (config-dialog.ts). Actions: create, update, delete, password, dump,
// touch, paths, show, file. Changes are written as rclone writes them (config-write.ts): the
// same file for the same change, atomically, encrypted again when it was encrypted.
//
// Unlike rclone, `config show` never prints a secret: every secret value is replaced by
// `*** (redacted)` (a terminal, a CI log or a bug report is not a safe place for them). `config
// dump`, `create` and `update` print values as rclone does, secrets included: they are how a
// script reads or checks the file.
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { locateConfig, loadConfig } from '../config/config-file.js';
import { describeOptionsForConfigShow, renderConfigSection } from '../config/config-show.js';
import { ConfigStore } from '../config/config-write.js';
import { createRemote, dumpText, keyValuePairs, passwordRemote, showRemoteText, updateRemote } from '../config/config-edit.js';
import { resolveRemote } from '../config/resolve.js';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import type { Cli } from './context.js';
import { ConfigDialog, processTerminal } from './config-dialog.js';

interface ConfigArgs {
  action?: string;
  args?: (string | number)[];
  'non-interactive'?: boolean;
}

/** the fewest and most words each action takes after its name (rclone's cmd.CheckArgs) */
const ARITY: Record<string, [number, number]> = {
  create: [2, Infinity],
  update: [1, Infinity],
  password: [1, Infinity],
  delete: [1, 1],
  dump: [0, 0],
  touch: [0, 0],
  paths: [0, 0],
  file: [0, 0],
  show: [0, 1],
};

/** Go's %q of a []string: ["a" "b"] */
const goQuoted = (words: string[]) => `[${words.map((w) => JSON.stringify(w)).join(' ')}]`;

function checkArgs(action: string, words: string[]): void {
  const [min, max] = ARITY[action]!;
  if (words.length < min)
    throw new UserError(`Command ${action} needs ${min} arguments minimum: you provided ${words.length} non flag arguments: ${goQuoted(words)}`, EXIT.usage);
  if (words.length > max)
    throw new UserError(`Command ${action} needs ${max} arguments maximum: you provided ${words.length} non flag arguments: ${goQuoted(words)}`, EXIT.usage);
}

export const configCommand = defineCommand<ConfigArgs>({
  command: 'config [action] [args..]',
  describe:
    'Enter an interactive configuration session (no action), or: create NAME s3 [key value]..., update NAME [key value]..., delete NAME, ' +
    'password NAME [key value]..., dump, touch, paths, show [NAME] (secrets redacted), file',
  builder: (y) =>
    y
      // key value pairs are many words of one positional: yargs would keep only the last one
      // under the program's 'duplicate-arguments-array': false
      .parserConfiguration({ 'camel-case-expansion': false, 'duplicate-arguments-array': true, 'boolean-negation': false })
      .positional('action', { type: 'string', describe: 'create, update, delete, password, dump, touch, paths, show or file (none: the dialogue)' })
      .positional('args', { type: 'string', array: true, describe: 'remote name, type, key value pairs' })
      .option('non-interactive', { type: 'boolean', describe: "config create/update: don't interact with user and return questions (S3 asks none)" })
      .option('obscure', { type: 'boolean', describe: 'config create/update: force any passwords to be obscured (no S3 option is a password)' })
      .option('no-obscure', { type: 'boolean', describe: 'config create/update: force any passwords not to be obscured (no S3 option is a password)' }),
  // Ctrl-C ends the process at once, as it ends rclone's dialogue: the dialogue blocks in its
  // reads, where no handler could run, and a write is atomic, so there is nothing to clean up
  handlesSignals: true,
  async run(cli, args) {
    const words = (args.args ?? []).map(String);
    const action = args.action;
    if (action === undefined) {
      new ConfigDialog(ConfigStore.open(cli.config), processTerminal()).run();
      return;
    }
    if (!(action in ARITY))
      throw new UserError(
        `Command config needs 0 arguments maximum: you provided ${words.length + 1} non flag arguments: ${goQuoted([action, ...words])}`,
        EXIT.usage,
      );
    checkArgs(action, words);
    switch (action) {
      case 'file':
        return showFile(cli);
      case 'show':
        return show(cli, words[0]);
      case 'paths':
        return paths(cli);
      case 'dump': {
        const store = ConfigStore.open(cli.config);
        await cli.write(dumpText(store.doc));
        return;
      }
      case 'touch': {
        // rclone loads and saves the file: a missing one is made (empty, 0600), an existing one rewritten
        const store = ConfigStore.open(cli.config);
        store.save();
        return;
      }
      case 'delete': {
        const store = ConfigStore.open(cli.config);
        store.doc.deleteSection(words[0]!);
        store.save();
        return;
      }
      default: {
        const [name, ...rest] = words as [string, ...string[]];
        const store = ConfigStore.open(cli.config);
        if (action === 'create') createRemote(store.doc, name, rest[0]!, keyValuePairs(rest.slice(1)));
        else if (action === 'update') updateRemote(store.doc, name, keyValuePairs(rest));
        else passwordRemote(store.doc, name, keyValuePairs(rest));
        store.save();
        // rclone's --non-interactive answer: the next question of the backend's config, and S3 has none
        if (args['non-interactive'] && action !== 'password') await cli.write('{\n\t"State": "",\n\t"Option": null,\n\t"Error": "",\n\t"Result": ""\n}\n');
        else await cli.write(showRemoteText(store.doc, name));
      }
    }
  },
});

async function showFile(cli: Cli): Promise<void> {
  const { path } = locateConfig(cli.config);
  if (path === '') await cli.write('Configuration file is not used (--config "")\n');
  else if (existsSync(path)) await cli.write(`Configuration file is stored at:\n${path}\n`);
  else await cli.write(`Configuration file doesn't exist, but bucketfs will use this path:\n${path}\n`);
}

async function show(cli: Cli, remote: string | undefined): Promise<void> {
  const cfg = loadConfig(cli.config);
  if (remote === undefined) {
    const names = Object.keys(cfg.sections);
    await cli.write(names.map((n) => renderConfigSection(n, cfg.sections[n]!)).join('\n'));
    return;
  }
  const name = remote.replace(/:$/, '');
  const section = cfg.sections[name];
  if (section) {
    await cli.write(renderConfigSection(name, section));
    return;
  }
  // Not in the file: a remote defined by the environment shows its resolved options;
  // anything else fails with resolve's message (no such remote / not s3).
  const target = resolveRemote(`${name}:`, cli.config);
  await cli.write(describeOptionsForConfigShow(target));
}

/** rclone's `config paths`: the config file, the cache directory (RCLONE_CACHE_DIR, else the user cache dir) and the temporary directory. */
async function paths(cli: Cli): Promise<void> {
  const env = cli.config.env;
  const { path } = locateConfig(cli.config);
  const configPath = path === '' || isAbsolute(path) ? path : resolve(path);
  const cacheBase = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  const cacheDir = env.RCLONE_CACHE_DIR ? resolve(env.RCLONE_CACHE_DIR) : join(cacheBase, 'rclone');
  const temp = env.TMPDIR || tmpdir();
  await cli.write(`Config file: ${configPath}\nCache dir:   ${cacheDir}\nTemp dir:    ${temp}\n`);
}
