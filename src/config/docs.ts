// Option documentation generated from the option table, so `--help` and the README cannot
// drift from what the code accepts.
import { S3_OPTIONS, s3EnvName, s3FlagName, type OptionSpec } from './option-table.js';
import { VFS_OPTIONS, type VfsOptionSpec } from './vfs-option-table.js';

function flagOf(o: OptionSpec): string {
  return o.scope === 's3' ? `--${s3FlagName(o)}` : `--${o.name.replace(/_/g, '-')}`;
}

function envOf(o: OptionSpec): string {
  return o.scope === 's3' ? s3EnvName(o) : `RCLONE_${o.name.toUpperCase()}`;
}

function defaultOf(o: OptionSpec): string {
  return o.default === '' ? '""' : o.default;
}

function notes(o: OptionSpec): string[] {
  const out: string[] = [];
  if (o.secret) out.push('secret: shown as *** in output');
  if (o.examples && o.examples.length > 0) {
    const list = o.examples.map((e) => (e === '' ? '""' : e)).join(', ');
    out.push(o.exclusive ? `one of: ${list}` : `examples: ${list}`);
  }
  return out;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Markdown for the README: a table of standard options, then one of advanced options. */
export function renderOptionsMarkdown(options: OptionSpec[] = S3_OPTIONS): string {
  const out: string[] = [];
  for (const [title, group] of groups(options)) {
    out.push(`### ${title}`, '');
    out.push('| Config key | Flag | Environment variable | Type | Default | Description |');
    out.push('|---|---|---|---|---|---|');
    for (const o of group) {
      const help = [o.help, ...notes(o).map((n) => `(${n})`)].join(' ');
      out.push(`| \`${o.name}\` | \`${flagOf(o)}\` | \`${envOf(o)}\` | ${o.type} | \`${escapeCell(defaultOf(o))}\` | ${escapeCell(help)} |`);
    }
    out.push('');
  }
  const inert = options.filter((o) => o.noEffect).map((o) => `\`${o.name}\``);
  out.push(
    `Every option has the effect rclone documents for it, and a test proving it, except: \`v2_auth\` (refused: the AWS SDK signs with v4 only)${inert.length ? ` and ${inert.join(', ')} (accepted so that rclone.conf files work, without effect: Node has no such buffer pool)` : ''}.`,
    '',
    'Each option is taken from the first of: a connection-string parameter (`remote,chunk_size=16M:bucket`),',
    "the flag, `RCLONE_CONFIG_<REMOTE>_<KEY>`, the environment variable above, the remote's section of",
    'rclone.conf, the default. Sizes take rclone suffixes (`b`, `K`, `M`, `G`, `T`, `P`; a bare number is KiB),',
    'durations Go/rclone units (`300ms`, `1m0s`, `1h30m`, `7d`, `2w`).',
  );
  return out.join('\n') + '\n';
}

/** Markdown for the README: the mount flags (`bucketfs mount --help` shows the same). */
export function renderMountOptionsMarkdown(options: VfsOptionSpec[] = VFS_OPTIONS): string {
  const out: string[] = [];
  out.push('| Flag | Environment variable | Type | Default | Description |');
  out.push('|---|---|---|---|---|');
  for (const o of options) {
    if (o.hidden) continue;
    const flag = `${flagOf(o)}${o.alias ? `, -${o.alias}` : ''}${o.repeatable ? ' (repeatable)' : ''}`;
    out.push(`| \`${flag}\` | \`${envOf(o)}\` | ${o.type} | \`${escapeCell(defaultOf(o))}\` | ${escapeCell(o.help)} |`);
  }
  return out.join('\n') + '\n';
}

/** Plain text for `--help`: one block per option, standard options then advanced ones. */
export function renderOptionsHelp(options: OptionSpec[] = S3_OPTIONS, width = 100): string {
  const out: string[] = [];
  for (const [title, group] of groups(options)) {
    if (out.length > 0) out.push('');
    out.push(`${title}:`);
    for (const o of group) {
      out.push(`  ${flagOf(o)} ${o.type}  (default ${defaultOf(o)})`);
      for (const line of wrap([o.help, ...notes(o).map((n) => `(${n})`)].join(' '), width - 6)) out.push(`      ${line}`);
      out.push(`      config: ${o.name}   env: ${envOf(o)}`);
    }
  }
  return out.join('\n') + '\n';
}

function groups(options: OptionSpec[]): Array<[string, OptionSpec[]]> {
  const all: Array<[string, OptionSpec[]]> = [
    ['S3 options', options.filter((o) => !o.advanced)],
    ['Advanced S3 options', options.filter((o) => o.advanced)],
  ];
  return all.filter(([, group]) => group.length > 0);
}

/** Words of `text` in lines of at most `width` characters (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
