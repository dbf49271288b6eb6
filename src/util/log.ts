// The one logger. Levels as rclone's --log-level (ERROR, NOTICE, INFO, DEBUG); -v = INFO,
// -vv = DEBUG. Every line passes through the secret redactor, so a value registered with
// addSecret() (access keys, SSE-C keys, session tokens) can never be printed, whatever
// the message embeds.
import { appendFileSync } from 'node:fs';

export type LogLevel = 'ERROR' | 'NOTICE' | 'INFO' | 'DEBUG';
const ORDER: Record<LogLevel, number> = { ERROR: 0, NOTICE: 1, INFO: 2, DEBUG: 3 };

const secrets = new Set<string>();
let level: LogLevel = 'NOTICE';
let logFile: string | undefined;

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
export function setLogFile(path: string | undefined): void {
  logFile = path;
}

function emit(l: LogLevel, msg: string): void {
  if (ORDER[l] > ORDER[level]) return;
  const ts = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  const line = redact(`${ts} ${l.padEnd(6)}: ${msg}`) + '\n';
  if (logFile) appendFileSync(logFile, line);
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
