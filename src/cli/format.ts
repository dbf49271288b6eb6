// Output formats of rclone's listing and info commands, and the time conversions they need.
//
// Times are bigint nanoseconds since the epoch throughout (as the backend returns them),
// because rclone prints and stores nanoseconds and a JS Date holds only milliseconds.
import { UserError, EXIT } from '../util/errors.js';

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

export function dateToNs(d: Date): bigint {
  return BigInt(d.getTime()) * NS_PER_MS;
}

/** The current time in ns; sub-millisecond digits from the high-resolution clock. */
export function nowNs(): bigint {
  const ms = performance.timeOrigin + performance.now();
  return BigInt(Math.floor(ms * 1000)) * 1000n;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * Go's `2006-01-02 15:04:05` (digits = 0) or `2006-01-02 15:04:05.000000000` (digits = 9), in
 * the local time zone as rclone prints listings (`modTime.Local()`).
 */
export function formatLocalTime(ns: bigint, digits: 0 | 9 = 0): string {
  const secs = floorDiv(ns, NS_PER_S);
  const frac = ns - secs * NS_PER_S;
  const d = new Date(Number(secs) * 1000);
  const base =
    `${String(d.getFullYear()).padStart(4, '0')}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return digits === 9 ? `${base}.${String(frac).padStart(9, '0')}` : base;
}

/** Go's JSON encoding of a time.Time (RFC 3339, fraction without trailing zeros), in UTC. */
export function formatJsonTime(d: Date): string {
  return d
    .toISOString()
    .replace(/\.?0+Z$/, 'Z')
    .replace(/\.Z$/, 'Z');
}

/** RFC 3339 in UTC with the fraction to the nanosecond: Go's `2006-01-02T15:04:05.000000000Z07:00`
 * (fixed nine digits, rclone lsjson's ModTime) or, with `trim`, time.RFC3339Nano (trailing zeros
 * and an empty fraction dropped, rclone's metadata times). */
export function formatRfc3339Ns(ns: bigint, trim = false): string {
  const secs = floorDiv(ns, NS_PER_S);
  const frac = String(ns - secs * NS_PER_S).padStart(9, '0');
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  const f = trim ? frac.replace(/0+$/, '') : frac;
  return `${base}${f ? '.' + f : ''}Z`;
}

/**
 * Go's json.Marshal (or json.MarshalIndent with `indent`) of plain values: as JSON.stringify,
 * plus Go's escapes in strings: `<`, `>`, `&`, U+2028 and U+2029 as \u escapes, and \b, \f as
 * \u0008, \u000c (Go 1.19, which rclone 1.60 is built with). Object keys keep their order:
 * callers give them in Go's order (struct field order; sorted for maps).
 */
export function goJson(v: unknown, indent?: string): string {
  const text = JSON.stringify(v, null, indent);
  // Escaped backslashes are consumed as pairs first, so `\\b` (a backslash, then b) stays as is.
  return text.replace(/\\[bf\\]|[<>&\u2028\u2029]/g, (m) => {
    if (m === '\\b') return '\\u0008';
    if (m === '\\f') return '\\u000c';
    if (m.length === 2) return m;
    return '\\u' + m.charCodeAt(0).toString(16).padStart(4, '0');
  });
}

/** `%9d` */
export function padSize(n: number, width = 9): string {
  return String(n).padStart(width, ' ');
}

/** rclone's SizeSuffix.ByteUnit(): `0 B`, `512 B`, `1.500 KiB`, `12 MiB`. */
export function byteUnit(bytes: number): string {
  if (bytes < 0) return 'off';
  if (bytes === 0) return '0 B';
  const [val, unit] = scaled(bytes, 1024, ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei']);
  return `${val} ${unit}B`;
}

/** rclone's CountSuffix.String(): decimal k/M/G… with three decimals unless exact. */
export function countSuffix(n: number): string {
  if (n < 0) return 'off';
  if (n === 0) return '0';
  const [val, unit] = scaled(n, 1000, ['', 'k', 'M', 'G', 'T', 'P', 'E']);
  return val + unit;
}

/** `n` in the largest unit it reaches, to three decimals unless exact (rclone's suffix formats) */
function scaled(n: number, base: number, units: string[]): [string, string] {
  let i = 0;
  let v = n;
  while (v >= base && i < units.length - 1) {
    v /= base;
    i++;
  }
  return [Math.floor(v) === v ? v.toFixed(0) : v.toFixed(3), units[i]!];
}

/** The two lines of `rclone size`. */
export function formatSizeReport(count: number, bytes: number): string {
  // rclone 1.60 prints the count both ways always: "3 (3)", "1.234k (1234)"
  const objects = `Total objects: ${countSuffix(count)} (${count})`;
  return `${objects}\nTotal size: ${byteUnit(bytes)} (${bytes} Byte)\n`;
}

/** A transfer rate for the progress line: `1.234 MiB/s`. */
export function rateUnit(bytesPerSec: number): string {
  return `${byteUnit(Math.round(bytesPerSec))}/s`;
}

/** `1h2m3s` as Go prints a rounded duration; `-` when unknown. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  let s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

// `touch -t` layouts as rclone accepts them: YYMMDD, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS with an
// optional fraction (up to ns), optionally RFC 3339 with Z or an offset (then the zone given wins).
const TOUCH_LONG = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;
const TOUCH_SHORT = /^(\d{2})(\d{2})(\d{2})$/;

/**
 * Parse rclone touch's --timestamp into ns since the epoch. Without a zone the time is UTC, or
 * local time with `localtime` (rclone's --localtime).
 */
export function parseTouchTimestamp(text: string, localtime: boolean): bigint {
  const bad = () =>
    new UserError(`invalid --timestamp ${JSON.stringify(text)}: use YYMMDD, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or YYYY-MM-DDTHH:MM:SS.123456789`, EXIT.usage);
  let y: number,
    mo: number,
    d: number,
    h = 0,
    mi = 0,
    s = 0;
  let frac = '';
  let zone: string | undefined;
  const short = TOUCH_SHORT.exec(text);
  const long = TOUCH_LONG.exec(text);
  if (short) {
    // Go's "06" year: 69-99 → 1969-1999, 00-68 → 2000-2068
    const yy = Number(short[1]);
    y = yy >= 69 ? 1900 + yy : 2000 + yy;
    mo = Number(short[2]);
    d = Number(short[3]);
  } else if (long) {
    y = Number(long[1]);
    mo = Number(long[2]);
    d = Number(long[3]);
    if (long[4] !== undefined) {
      h = Number(long[4]);
      mi = Number(long[5]);
      s = Number(long[6]);
    }
    frac = long[7] ?? '';
    zone = long[8];
  } else {
    throw bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) throw bad();
  let ms: number;
  if (zone !== undefined) {
    ms = Date.UTC(y, mo - 1, d, h, mi, s);
    if (zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
  } else if (localtime) {
    ms = new Date(y, mo - 1, d, h, mi, s).getTime();
  } else {
    ms = Date.UTC(y, mo - 1, d, h, mi, s);
  }
  const check = new Date(ms);
  if (Number.isNaN(ms) || (zone === undefined && !localtime && check.getUTCDate() !== d)) throw bad();
  return BigInt(ms) * NS_PER_MS + BigInt(frac.padEnd(9, '0') || '0');
}

/** ns → `1600000000.123456789` (seconds with nine decimals, as a number for fs.utimes and touch). */
export function nsToSecondsString(ns: bigint): string {
  const secs = floorDiv(ns, NS_PER_S);
  const frac = ns - secs * NS_PER_S;
  return `${secs}.${String(frac).padStart(9, '0')}`;
}

/** Render one line of `lsf` for --format letters. */
export interface LsfEntry {
  path: string;
  isDir: boolean;
  size: number;
  mtimeNs?: bigint;
  md5?: string;
}

export function formatLsf(e: LsfEntry, format: string, separator: string, opts: { dirSlash: boolean; absolute: boolean; csv: boolean }): string {
  const fields: string[] = [];
  for (const c of format) {
    switch (c) {
      case 'p': {
        let p = e.path;
        if (opts.absolute) p = '/' + p;
        if (e.isDir && opts.dirSlash) p += '/';
        fields.push(p);
        break;
      }
      case 's':
        fields.push(String(e.size)); // directories: the caller's (-1 for a bucket, 0 inside one, as rclone)
        break;
      case 't':
        fields.push(e.mtimeNs === undefined ? '' : formatLocalTime(e.mtimeNs, 0));
        break;
      case 'h':
        fields.push(e.isDir ? '' : (e.md5 ?? ''));
        break;
      default:
        throw new UserError(`unknown format character ${JSON.stringify(c)} in --format: use p (path), s (size), t (modification time), h (hash)`, EXIT.usage);
    }
  }
  if (opts.csv) return fields.map(csvField).join(',');
  return fields.join(separator);
}

function csvField(f: string): string {
  return /[",\n\r]/.test(f) || f.startsWith(' ') ? `"${f.replace(/"/g, '""')}"` : f;
}
