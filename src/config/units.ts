// The one place that parses and prints sizes, durations and booleans the way rclone does,
// so a value that works in rclone.conf (or as an rclone flag) means the same here.
import { UserError, EXIT } from '../util/errors.js';

/** A value that failed to parse. `reason` is the bare explanation, so callers can say where the value came from. */
export class InvalidValueError extends UserError {
  constructor(
    readonly kind: string,
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid ${kind} ${JSON.stringify(input)}: ${reason}`, EXIT.usage);
    this.name = 'InvalidValueError';
  }
}

// ---------------------------------------------------------------------------------------------
// Sizes (rclone's fs.SizeSuffix)

const KiB = 1024;
const SIZE_MULTIPLIERS: Record<string, number> = {
  k: KiB,
  m: KiB ** 2,
  g: KiB ** 3,
  t: KiB ** 4,
  p: KiB ** 5,
  e: KiB ** 6,
};

// What strconv.ParseFloat accepts in practice for sizes: no hex floats, no inf/nan.
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Bytes for the size "off" (rclone stores it as -1). */
export const SIZE_OFF = -1;

/**
 * Parse an rclone size: `5M`, `4.656G`, `512b`, `1.5K`, `10MiB`, `off`.
 * A bare number is KiB, as in rclone (its SizeSuffix default unit is K), so `1024` is 1 MiB.
 * Fractions are truncated to whole bytes like Go's float→int conversion: 4.656G = 4999341932.
 */
export function parseSize(input: string): number {
  const s = input.trim();
  if (s === '') throw new InvalidValueError('size', input, 'empty string');
  if (s.toLowerCase() === 'off') return SIZE_OFF;

  let multiplier: number;
  let suffixLen: number;
  const last = s[s.length - 1]!;
  if (/[0-9.]/.test(last)) {
    multiplier = KiB;
    suffixLen = 0;
  } else if (last === 'b' || last === 'B') {
    // `5MiB` is 5 MiB; a lone `b` means bytes.
    if (s.length > 2 && s[s.length - 2] === 'i') {
      multiplier = symbolMultiplier(input, s[s.length - 3]!);
      suffixLen = 3;
    } else {
      multiplier = 1;
      suffixLen = 1;
    }
  } else if (last === 'i' || last === 'I') {
    multiplier = symbolMultiplier(input, s.length > 1 ? s[s.length - 2]! : last);
    suffixLen = 2;
  } else {
    multiplier = symbolMultiplier(input, last);
    suffixLen = 1;
  }

  const num = s.slice(0, s.length - suffixLen);
  if (!DECIMAL.test(num)) throw new InvalidValueError('size', input, `${JSON.stringify(num)} is not a number`);
  const value = Number(num);
  if (value < 0) throw new InvalidValueError('size', input, "size can't be negative");
  const bytes = Math.trunc(value * multiplier);
  if (!Number.isSafeInteger(bytes)) throw new InvalidValueError('size', input, 'too large');
  return bytes;
}

function symbolMultiplier(input: string, symbol: string): number {
  const m = SIZE_MULTIPLIERS[symbol.toLowerCase()];
  if (m === undefined) {
    throw new InvalidValueError('size', input, `unknown suffix ${JSON.stringify(symbol)} (use b, K, M, G, T, P or off)`);
  }
  return m;
}

/**
 * Print a byte count in rclone's short form: 5242880 → `5M`, 4999341932 → `4.656G`, -1 → `off`.
 * Below 1 KiB the `B` suffix is kept so the text parses back to the same number (a bare number means KiB).
 */
export function formatSize(bytes: number): string {
  if (bytes < 0) return 'off';
  if (bytes === 0) return '0';
  if (bytes < KiB) return `${Math.trunc(bytes)}B`;
  const units: Array<[string, number]> = [
    ['E', KiB ** 6],
    ['P', KiB ** 5],
    ['T', KiB ** 4],
    ['G', KiB ** 3],
    ['M', KiB ** 2],
    ['K', KiB],
  ];
  for (const [suffix, size] of units) {
    if (bytes >= size) {
      const scaled = bytes / size;
      return (Number.isInteger(scaled) ? String(scaled) : scaled.toFixed(3)) + suffix;
    }
  }
  return `${bytes}B`; // unreachable: bytes >= KiB matched above
}

const BINARY_UNITS = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];

/**
 * A byte count as rclone's messages print it (SizeSuffix.String()): 5242880 → `5Mi`,
 * 52428800000 → `48.828Gi`. For error and log messages about part sizes and upload limits;
 * formatSize above is the form rclone.conf and `config show` use, and the two must not be
 * mixed up: tests and users match both.
 */
export function formatSizeBinary(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < BINARY_UNITS.length - 1 && v % 1024 === 0) {
    v /= 1024;
    u++;
  }
  if (u === 0 && n >= 1024) {
    // not a whole multiple: a rounded figure
    let x = n;
    let k = 0;
    while (x >= 1024 && k < BINARY_UNITS.length - 1) {
      x /= 1024;
      k++;
    }
    return `${x.toFixed(3).replace(/\.?0+$/, '')}${BINARY_UNITS[k]}`;
  }
  return `${v}${BINARY_UNITS[u]}`;
}

// ---------------------------------------------------------------------------------------------
// Durations (rclone's fs.Duration: Go's time.ParseDuration plus d/w/M/y and bare seconds)

const NS_PER_MS = 1e6;
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 MICRO SIGN
  μs: 1e3, // U+03BC GREEK SMALL LETTER MU
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 86400e9,
  w: 7 * 86400e9,
  M: 30 * 86400e9, // rclone's month is 30 days
  y: 365 * 86400e9,
};
// Go's time.Duration is an int64 of nanoseconds.
const MAX_NS = 2 ** 63;

/**
 * Milliseconds standing for the duration "off" (rclone: the largest Duration). Larger than any
 * duration that parses, so `=== DURATION_OFF` is unambiguous. Callers arming a timer must check
 * for it: Node's setTimeout treats anything above 2^31-1 ms as 1 ms.
 */
export const DURATION_OFF = Number.MAX_SAFE_INTEGER;

/**
 * Parse an rclone duration into milliseconds: `1m0s`, `1h30m`, `300ms`, `1.5h`, `7d`, `2w`, `1M`,
 * `1y`, `off`, or a bare number of seconds. Units are case-sensitive (`M` month, `m` minute).
 */
export function parseDuration(input: string): number {
  const s = input.trim();
  if (s === '') throw new InvalidValueError('duration', input, 'empty string');
  if (s === 'off') return DURATION_OFF;
  // rclone falls back to seconds for a number without a unit.
  if (DECIMAL.test(s)) {
    const ns = Number(s) * 1e9;
    if (Math.abs(ns) >= MAX_NS) throw new InvalidValueError('duration', input, 'out of range');
    return Math.round(ns) / NS_PER_MS;
  }

  let rest = s;
  let sign = 1;
  if (rest[0] === '+' || rest[0] === '-') {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  let total = 0;
  // Each element is a decimal number and a unit, as in Go: "1h30m", "1.5h", ".5s".
  const element = /^(\d+\.?\d*|\.\d+)([^\d.]+)/;
  while (rest !== '') {
    const m = element.exec(rest);
    if (!m) {
      const hint = /^[\d.]+$/.test(rest) ? `missing unit after ${JSON.stringify(rest)}` : 'expected a number followed by a unit';
      throw new InvalidValueError('duration', input, `${hint} (units: ns, us, ms, s, m, h, d, w, M, y)`);
    }
    const unit = UNIT_NS[m[2]!];
    if (unit === undefined) {
      throw new InvalidValueError('duration', input, `unknown unit ${JSON.stringify(m[2])} (units: ns, us, ms, s, m, h, d, w, M, y)`);
    }
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length);
  }
  if (total >= MAX_NS) throw new InvalidValueError('duration', input, 'out of range');
  return (sign * Math.round(total)) / NS_PER_MS;
}

/** Print milliseconds as Go prints a time.Duration: `1m0s`, `24h0m0s`, `300ms`, `1.5s`, `0s`; DURATION_OFF → `off`. */
export function formatDuration(ms: number): string {
  if (ms >= DURATION_OFF) return 'off';
  let ns = Math.round(ms * NS_PER_MS);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  if (ns < 1e3) return `${sign}${ns}ns`;
  if (ns < 1e6) return `${sign}${fraction(ns, 1e3)}µs`;
  if (ns < 1e9) return `${sign}${fraction(ns, 1e6)}ms`;

  const wholeSeconds = Math.floor(ns / 1e9);
  const seconds = fraction(ns - (wholeSeconds - (wholeSeconds % 60)) * 1e9, 1e9);
  const totalMinutes = Math.floor(wholeSeconds / 60);
  if (totalMinutes === 0) return `${sign}${seconds}s`;
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (hours === 0) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${hours}h${minutes}m${seconds}s`;
}

/** `value/unit` with the fraction's trailing zeros dropped, as Go's fmtFrac does. */
function fraction(value: number, unit: number): string {
  const whole = Math.floor(value / unit);
  const rem = value - whole * unit;
  if (rem === 0) return String(whole);
  const digits = String(unit).length - 1;
  const frac = String(Math.round(rem)).padStart(digits, '0').replace(/0+$/, '');
  return `${whole}.${frac}`;
}

// ---------------------------------------------------------------------------------------------
// Booleans and integers

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool, which rclone uses for every bool option. */
export function parseBool(input: string): boolean {
  const s = input.trim();
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw new InvalidValueError('boolean', input, 'use true or false');
}

/** A base-10 integer (what rclone.conf holds for int options). */
export function parseInteger(input: string): number {
  const s = input.trim();
  if (!/^[+-]?\d+$/.test(s)) throw new InvalidValueError('integer', input, 'not a whole number');
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new InvalidValueError('integer', input, 'out of range');
  return n;
}
