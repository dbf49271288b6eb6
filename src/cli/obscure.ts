// `bucketfs obscure PASSWORD` and `bucketfs reveal OBSCURED`, as rclone 1.60 has them: the form
// rclone keeps passwords in its config file (`-` reads the password from a line of stdin).
import { obscure, reveal } from '../config/obscure.js';
import { UserError } from '../util/errors.js';
import { defineCommand } from './command.js';

/** the first line of stdin, without its line end */
async function firstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    if ((c as Buffer).includes(0x0a)) break;
  }
  return (/^[^\r\n]*/.exec(Buffer.concat(chunks).toString('utf8')) ?? [''])[0];
}

export const obscureCommand = defineCommand<{ password: string }>({
  command: 'obscure <password>',
  describe: 'Obscure password for use in the rclone config file ("-" reads it from stdin)',
  builder: (y) => y.positional('password', { type: 'string' }),
  async run(cli, args) {
    // (yargs gives a lone "-" as an empty string)
    const fromStdin = args.password === '-' || (args.password === '' && process.argv.slice(2).includes('-'));
    const plain = fromStdin ? await firstLine() : String(args.password);
    const out = cli.lines();
    await out.line(obscure(plain));
    await out.flush();
  },
});

export const revealCommand = defineCommand<{ obscured: string }>({
  command: 'reveal <obscured>',
  describe: 'Reveal obscured password from rclone.conf',
  builder: (y) => y.positional('obscured', { type: 'string' }),
  async run(cli, args) {
    let plain: string;
    try {
      plain = reveal(String(args.obscured));
    } catch (err) {
      throw new UserError(`Failed to reveal: ${(err as Error).message}`, 1);
    }
    const out = cli.lines();
    await out.line(plain);
    await out.flush();
  },
});
