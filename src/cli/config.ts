// `bucketfs config show [remote]` and `bucketfs config file`. bucketfs reads rclone's config but
// never writes it. Unlike rclone, `config show` never prints a secret: every secret value is
// replaced by `*** (redacted)`.
import { existsSync } from 'node:fs';
import { locateConfig, loadConfig } from '../config/config-file.js';
import { describeOptionsForConfigShow, renderConfigSection } from '../config/config-show.js';
import { resolveRemote } from '../config/resolve.js';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';

export const configCommand = defineCommand<{ action: string; remote?: string }>({
  command: 'config <action> [remote]',
  describe: 'Show the configuration: "config show [remote]" (secrets redacted), "config file" (its path)',
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ['show', 'file'], describe: 'show or file', demandOption: true })
      .positional('remote', { type: 'string', describe: 'remote name (config show)' }),
  async run(cli, args) {
    if (args.action === 'file') {
      if (args.remote !== undefined) throw new UserError('config file takes no argument', EXIT.usage);
      const { path } = locateConfig(cli.config);
      if (path === '') await cli.write('Configuration file is not used (--config "")\n');
      else if (existsSync(path)) await cli.write(`Configuration file is stored at:\n${path}\n`);
      else await cli.write(`Configuration file doesn't exist, but bucketfs will use this path:\n${path}\n`);
      return;
    }
    const cfg = loadConfig(cli.config);
    if (args.remote === undefined) {
      const names = Object.keys(cfg.sections);
      await cli.write(names.map((n) => renderConfigSection(n, cfg.sections[n]!)).join('\n'));
      return;
    }
    const name = args.remote.replace(/:$/, '');
    const section = cfg.sections[name];
    if (section) {
      await cli.write(renderConfigSection(name, section));
      return;
    }
    // Not in the file: a remote defined by the environment shows its resolved options;
    // anything else fails with resolve's message (no such remote / not s3).
    const target = resolveRemote(`${name}:`, cli.config);
    await cli.write(describeOptionsForConfigShow(target));
  },
});
