// The one logger. Levels as rclone's --log-level (ERROR, NOTICE, INFO, DEBUG); -v = INFO,
// -vv = DEBUG. Every line passes through the secret redactor, so a value registered with
// addSecret() (access keys, SSE-C keys, session tokens) can never be printed, whatever
// the message embeds. With --log-file, lines go to the file without blocking (log-file.ts).
import { LogFile } from './log-file.js';

export type LogLevel = 'ERROR' | 'NOTICE' | 'INFO' | 'DEBUG';
const ORDER: Record<LogLevel, number> = { ERROR: 0, NOTICE: 1, INFO: 2, DEBUG: 3 };

const secrets = new Set<string>();
let level: LogLevel = 'NOTICE';
let logFile: LogFile | undefined;

export function addSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

export function setLogLevel(l: LogLevel): void {
  level = l;
}
export function getLogLevel(): LogLevel {
  return level;
}
/** Log to `path` from now on (undefined: stderr). The caller checked it is writable (logFileProblem). */
export function setLogFile(path: string | undefined): void {
  logFile?.flushSync();
  logFile = path === undefined ? undefined : new LogFile(path, (msg) => process.stderr.write(redact(`bucketfs: ${msg}`) + '\n'));
}

/** Resolves once every line logged so far is written (call before process.exit). */
export function flushLog(): Promise<void> {
  return logFile?.drained() ?? Promise.resolve();
}

/** rclone's log time: local, `2006/01/02 15:04:05` */
export function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function emit(l: LogLevel, msg: string): void {
  if (ORDER[l] > ORDER[level]) return;
  const line = redact(`${timestamp(new Date())} ${l.padEnd(6)}: ${msg}`) + '\n';
  if (logFile) logFile.write(line);
  else process.stderr.write(line);
}

export const log = {
  error: (msg: string) => emit('ERROR', msg),
  notice: (msg: string) => emit('NOTICE', msg),
  info: (msg: string) => emit('INFO', msg),
  debug: (msg: string) => emit('DEBUG', msg),
  enabled: (l: LogLevel) => ORDER[l] <= ORDER[level],
};
export type Logger = typeof log;
