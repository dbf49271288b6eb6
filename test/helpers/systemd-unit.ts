// Running a systemd unit file's commands the way systemd would, on a machine where systemd is not
// running (the test machine's PID 1 is not systemd): the unit file is parsed, its specifiers
// (%i, %I, %h, %E) and environment (Environment=, EnvironmentFile=, CacheDirectory=) applied, and
// ExecStartPre=/ExecStart= run; the main process is then stopped as systemd stops it (ExecStop=,
// then KillSignal= to the main process under KillMode=mixed). Only what the contrib units use is
// understood; anything else throws, so a unit that outgrows this emulation fails its test instead
// of being half-run.
//
// System paths of the unit (/etc/bucketfs, /var/cache/bucketfs, /mnt/bucketfs) are relocated into
// temporary directories, and a word that still names /etc, /var or /mnt after that throws: a
// test never touches the machine's own configuration.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from './run.js';

export interface UnitFile {
  /** section → [key, value] in file order */
  sections: Map<string, Array<[string, string]>>;
}

export function parseUnitFile(text: string): UnitFile {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.endsWith('\\')) throw new Error(`unit file: continued lines are not emulated: ${line}`);
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`unit file: not a setting: ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return { sections };
}

/** every value of `key` in `section` */
export function settings(unit: UnitFile, section: string, key: string): string[] {
  return (unit.sections.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** the one value of `key` (undefined when unset; throws when set twice) */
export function setting(unit: UnitFile, section: string, key: string): string | undefined {
  const all = settings(unit, section, key);
  if (all.length > 1) throw new Error(`unit file: ${key}= set ${all.length} times`);
  return all[0];
}

/** systemd-escape's escaping of an instance name (and back), by the real tool */
export function systemdEscape(s: string, unescape = false): string {
  const r = spawnSync('systemd-escape', unescape ? ['--unescape', s] : [s], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`systemd-escape failed: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

export interface UnitContext {
  /** the instance as given (remote:bucket); escaped for the unit name with systemd-escape */
  instance: string;
  /** %h, %E (~/.config) of a user unit */
  home?: string;
  /** system path prefix → the temporary directory that stands for it */
  relocate: Record<string, string>;
  /** the environment systemd gives every command (PATH, NOTIFY_SOCKET, …) */
  baseEnv: Record<string, string>;
}

function expandSpecifiers(s: string, ctx: UnitContext): string {
  return s.replace(/%(.)/g, (_m, c: string) => {
    switch (c) {
      case 'i':
        return systemdEscape(ctx.instance);
      case 'I':
        return ctx.instance;
      case 'h':
        if (!ctx.home) throw new Error('unit file: %h without a home');
        return ctx.home;
      case 'E':
        if (!ctx.home) throw new Error('unit file: %E without a home');
        return path.join(ctx.home, '.config');
      case '%':
        return '%';
      default:
        throw new Error(`unit file: specifier %${c} is not emulated`);
    }
  });
}

function relocate(s: string, ctx: UnitContext): string {
  for (const [from, to] of Object.entries(ctx.relocate)) {
    if (s === from || s.startsWith(`${from}/`)) return to + s.slice(from.length);
  }
  if (/^\/(etc|var|mnt)(\/|$)/.test(s)) throw new Error(`unit file: ${s} would touch the machine's own files`);
  return s;
}

/** systemd's splitting of a command line into words: spaces, "…" and '…' quotes */
function splitWords(s: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m; (m = re.exec(s));) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/** ${NAME} is one word (its value), $NAME is split at spaces, as systemd does */
function expandVariables(words: string[], env: Record<string, string>): string[] {
  return words.flatMap((w) => {
    const whole = /^\$\{(\w+)\}$/.exec(w) ?? /^\$(\w+)$/.exec(w);
    if (whole) {
      const v = env[whole[1]!] ?? '';
      return w.startsWith('${') ? [v] : v.split(/\s+/).filter((x) => x !== '');
    }
    if (w.includes('$')) throw new Error(`unit file: a variable inside a word is not emulated: ${w}`);
    return [w];
  });
}

function assignments(text: string): Array<[string, string]> {
  return splitWords(text).map((a) => {
    const eq = a.indexOf('=');
    if (eq < 1) throw new Error(`unit file: not an assignment: ${a}`);
    return [a.slice(0, eq), a.slice(eq + 1)];
  });
}

/** The environment of the unit's commands: base, Environment=, EnvironmentFile= (later wins), CacheDirectory=. */
export async function unitEnvironment(unit: UnitFile, ctx: UnitContext): Promise<Record<string, string>> {
  const env: Record<string, string> = { ...ctx.baseEnv };
  for (const e of settings(unit, 'Service', 'Environment')) {
    for (const [k, v] of assignments(expandSpecifiers(e, ctx))) env[k] = relocate(v, ctx);
  }
  for (const f of settings(unit, 'Service', 'EnvironmentFile')) {
    const optional = f.startsWith('-');
    const file = relocate(expandSpecifiers(optional ? f.slice(1) : f, ctx), ctx);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    // one NAME=value a line, the value possibly in quotes
    for (const line of text.split('\n')) {
      const l = line.trim();
      if (l === '' || l.startsWith('#') || l.startsWith(';')) continue;
      const eq = l.indexOf('=');
      if (eq < 1) throw new Error(`${file}: not an assignment: ${l}`);
      env[l.slice(0, eq).trim()] = l
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$|^'(.*)'$/, '$1$2');
    }
  }
  const cache = setting(unit, 'Service', 'CacheDirectory');
  if (cache !== undefined) {
    const dir = relocate(path.join('/var/cache', expandSpecifiers(cache, ctx)), ctx);
    await fs.mkdir(dir, { recursive: true, mode: parseInt(setting(unit, 'Service', 'CacheDirectoryMode') ?? '0755', 8) });
    env.CACHE_DIRECTORY = dir;
  }
  return env;
}

export interface UnitCommand {
  /** the `-` prefix: a failure is ignored */
  ignoreFailure: boolean;
  argv: string[];
}

/** The commands of `key` (ExecStartPre, ExecStart, ExecStop), expanded for `env`. */
export function unitCommands(unit: UnitFile, key: string, ctx: UnitContext, env: Record<string, string>): UnitCommand[] {
  return settings(unit, 'Service', key).map((line) => {
    const ignoreFailure = line.startsWith('-');
    const rest = ignoreFailure ? line.slice(1) : line;
    if (/^[@:+!]/.test(rest)) throw new Error(`unit file: command prefix ${rest[0]} is not emulated`);
    const argv = expandVariables(splitWords(expandSpecifiers(rest, ctx)), env).map((w) => relocate(w, ctx));
    return { ignoreFailure, argv };
  });
}

export interface StartedUnit {
  main: ChildProcess;
  env: Record<string, string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** ExecStartPre= (in order, stopping at a failure not marked `-`), then ExecStart= as the main process. */
export async function startUnit(unit: UnitFile, ctx: UnitContext, spawnOpts: { uid?: number; gid?: number } = {}): Promise<StartedUnit> {
  const env = await unitEnvironment(unit, ctx);
  for (const c of unitCommands(unit, 'ExecStartPre', ctx, env)) {
    const r = await run(c.argv[0]!, c.argv.slice(1), { env, timeoutMs: 60_000 });
    if (r.code !== 0 && !c.ignoreFailure) throw new Error(`ExecStartPre ${c.argv.join(' ')} failed (${r.code}): ${r.stderr}`);
  }
  const [start, ...more] = unitCommands(unit, 'ExecStart', ctx, env);
  if (!start || more.length > 0) throw new Error('unit file: exactly one ExecStart= is emulated');
  const main = spawn(start.argv[0]!, start.argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
  let out = '';
  main.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  main.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    main.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { main, env, exited, output: () => out };
}

/**
 * Stop as systemd does: ExecStop= commands (with $MAINPID), then KillSignal= (default SIGTERM)
 * to the main process, which KillMode=mixed confines it to; resolves with its exit.
 */
export async function stopUnit(unit: UnitFile, ctx: UnitContext, started: StartedUnit): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const killMode = setting(unit, 'Service', 'KillMode') ?? 'control-group';
  if (killMode !== 'mixed') throw new Error(`unit file: KillMode=${killMode} is not emulated`);
  const env = { ...started.env, MAINPID: String(started.main.pid) };
  for (const c of unitCommands(unit, 'ExecStop', ctx, env)) {
    const r = await run(c.argv[0]!, c.argv.slice(1), { env, timeoutMs: 60_000 });
    if (r.code !== 0 && !c.ignoreFailure) throw new Error(`ExecStop ${c.argv.join(' ')} failed (${r.code}): ${r.stderr}`);
  }
  const signal = (setting(unit, 'Service', 'KillSignal') ?? 'SIGTERM') as NodeJS.Signals;
  if (started.main.exitCode === null && started.main.signalCode === null) started.main.kill(signal);
  return started.exited;
}

/** the unit file of the repository at `rel` */
export function readUnitFile(file: string): UnitFile {
  return parseUnitFile(readFileSync(file, 'utf8'));
}
