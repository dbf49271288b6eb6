// Reading one mount flag's value the way rclone does: the flag as given, else RCLONE_<FLAG> from
// the environment, else the default of the option table (vfs-option-table.ts), parsed by units.ts.
// Every mount setting passes through here, so a flag and its environment variable can never
// mean different things, and a bad value is one usage error naming the flag (and the variable
// when it came from there), wherever it was read.
import { VFS_OPTIONS, vfsFlagName, type VfsOptionSpec } from './vfs-option-table.js';
import { parseBool, parseDuration, parseInteger, parseSize } from './units.js';
import { UserError, EXIT } from '../util/errors.js';
import { parseListenAddress, type ListenAddress } from './listen-address.js';

/** Flag values keyed by option name (snake_case), as the CLI collected them; absent = not given. */
export type RawFlags = Readonly<Record<string, unknown>>;

/** `dir_cache_time` → `RCLONE_DIR_CACHE_TIME` */
export function flagEnvName(name: string): string {
  return `RCLONE_${name.toUpperCase()}`;
}

export class FlagReader {
  constructor(
    private readonly raw: RawFlags,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private spec(name: string): VfsOptionSpec {
    const spec = VFS_OPTIONS.find((o) => o.name === name);
    if (!spec) throw new Error(`no mount option ${name}`);
    return spec;
  }

  private fromEnv(name: string): string | undefined {
    const v = this.env[flagEnvName(name)];
    return v !== undefined && v !== '' ? v : undefined;
  }

  /** Whether the option was given (as a flag or in the environment), not left at its default. */
  isSet(name: string): boolean {
    this.spec(name);
    const v = this.raw[name];
    return (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) || this.fromEnv(name) !== undefined;
  }

  /** The option's text: flag > environment > default. */
  text(name: string): string {
    const spec = this.spec(name);
    const v = this.raw[name];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) return String(v);
    return this.fromEnv(name) ?? spec.default;
  }

  /** Parse the option's text with `parse`; a failure names the flag (and the variable it came from). */
  private parsed<T>(name: string, parse: (s: string) => T): T {
    const text = this.text(name);
    try {
      return parse(text);
    } catch (err) {
      const given = this.raw[name] !== undefined && this.raw[name] !== null;
      const from = !given && this.fromEnv(name) !== undefined ? ` (from ${flagEnvName(name)})` : '';
      const msg = err instanceof Error ? err.message : String(err);
      throw new UserError(`--${vfsFlagName(this.spec(name))}${from}: ${msg}`, EXIT.usage);
    }
  }

  size(name: string): number {
    return this.parsed(name, parseSize);
  }
  /** milliseconds; DURATION_OFF for "off" */
  duration(name: string): number {
    return this.parsed(name, parseDuration);
  }
  int(name: string): number {
    return this.parsed(name, parseInteger);
  }
  bool(name: string): boolean {
    const v = this.raw[name];
    return typeof v === 'boolean' ? v : this.parsed(name, parseBool);
  }
  /** permission bits written in octal (0755); '' for an option whose default is "not set" */
  octal(name: string): number {
    return this.parsed(name, (s) => {
      const t = s.trim();
      if (!/^0?[0-7]{1,4}$/.test(t)) throw new Error(`invalid ${JSON.stringify(s)}: expected octal permission bits such as 0755`);
      return parseInt(t, 8);
    });
  }
  /** HOST:PORT to listen on (listen-address.ts); undefined when empty (off) */
  listenAddress(name: string): ListenAddress | undefined {
    if (this.text(name).trim() === '') return undefined;
    return this.parsed(name, parseListenAddress);
  }
  /** a repeatable flag: every occurrence; else the environment variable as one value */
  list(name: string): string[] {
    const v = this.raw[name];
    if (Array.isArray(v) && v.length > 0) return v.map(String);
    if (v !== undefined && v !== null && !Array.isArray(v)) return [String(v)];
    const e = this.fromEnv(name);
    return e !== undefined ? [e] : [];
  }
}
