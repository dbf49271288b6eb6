// `bucketfs help options [--markdown]`: every S3 option with its flag, environment variable,
// type and default, generated from the option table (the README's table comes from here too,
// through scripts/gen-docs).
import { renderOptionsHelp, renderOptionsMarkdown } from '../config/docs.js';
import { defineCommand } from './command.js';

export const helpCommand = defineCommand<{ topic: string; markdown?: boolean }>({
  command: 'help <topic>',
  describe: 'Show help on a topic: "help options" lists every S3 option',
  builder: (y) =>
    y
      .positional('topic', { type: 'string', choices: ['options'], demandOption: true })
      .option('markdown', { type: 'boolean', describe: 'Print as a Markdown table (as in the README)' }),
  async run(cli, args) {
    const width = Math.min(120, process.stdout.columns || 100);
    await cli.write(args.markdown ? renderOptionsMarkdown() : renderOptionsHelp(undefined, width));
  },
});
