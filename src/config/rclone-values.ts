// An answer of the config dialogue read as rclone 1.60 reads it (configstruct.StringToInterface)
// and written back in rclone's canonical form: `1.5G` becomes `1.500Gi`, `T` becomes `true`,
// `90s` becomes `1m30s`, `010` becomes `8` (Go reads integers with their base prefix). The
// canonical form is what lands in the file, so the same answers make the same file as rclone.
// Errors carry rclone's text after "Failed to parse": `parsing "x" as int failed: expected integer`.
import { parseDuration, formatDuration, parseSize } from './units.js';

/** rclone 1.60's encoder names, as its parse error lists them */
const RCLONE_ENCODERS =
  'Asterisk, BackQuote, BackSlash, Colon, CrLf, Ctl, Del, Dollar, Dot, DoubleQuote, Hash, InvalidUtf8, LeftCrLfHtVt, LeftPeriod, LeftSpace, LeftTilde, LtGt, None, Percent, Pipe, Question, RightCrLfHtVt, RightPeriod, RightSpace, Semicolon, SingleQuote, Slash, SquareBracket';

/** rclone's Go type name for an option type, as its parse errors name it */
const GO_TYPE: Record<string, string> = {
  bool: 'bool',
  int: 'int',
  SizeSuffix: 'fs.SizeSuffix',
  Duration: 'fs.Duration',
  Tristate: 'fs.Tristate',
  MultiEncoder: 'encoder.MultiEncoder',
  Time: 'fs.Time',
};

/** What the dialogue asks for ("Enter a <what>."), as rclone's ChooseOption words it. */
export function describeValueKind(type: string, defaultValue: string): string {
  if (defaultValue === '') return 'value';
  switch (type) {
    case 'bool':
      return 'boolean value (true or false)';
    case 'SizeSuffix':
      return 'size with suffix K,M,G,T';
    case 'Duration':
      return 'duration s,m,h,d,w,M,y';
    case 'int':
      return 'signed integer';
    case 'string':
      return 'string value';
    default:
      return `${GO_TYPE[type] ?? type} value`;
  }
}

export class ValueParseError extends Error {}

/** `input` in rclone's canonical form for `type`; throws ValueParseError with rclone's message. */
export function canonicalValue(type: string, input: string): string {
  const fail = (why: string) => new ValueParseError(`parsing ${JSON.stringify(input)} as ${GO_TYPE[type] ?? type} failed: ${why}`);
  switch (type) {
    case 'bool':
      return scanBool(input, fail);
    case 'int': {
      const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]+|[0-9_]+)(.*)$/.exec(input);
      if (!m) throw fail('expected integer');
      if (m[3] !== '') throw fail('expected newline');
      const digits = m[2]!.replace(/_/g, '');
      let n: bigint;
      if (/^0[xXbBoO]/.test(digits)) n = BigInt(digits.replace(/^0[oO]/, '0o'));
      else if (digits.length > 1 && digits.startsWith('0')) n = BigInt(`0o${digits.slice(1)}`);
      else n = BigInt(digits);
      return String(m[1] === '-' ? -n : n);
    }
    case 'SizeSuffix': {
      if (input.toLowerCase() === 'off') return 'off';
      const last = input[input.length - 1] ?? '';
      if (input !== '' && !/[0-9.bBiIkKmMgGtTpPeE]/.test(last)) throw fail(`bad suffix '${last}'`);
      let bytes: number;
      try {
        bytes = parseSize(input);
      } catch {
        if (/^-/.test(input)) throw fail(`size can't be negative ${JSON.stringify(input.replace(/[^0-9.]+$/, ''))}`);
        throw fail(`strconv.ParseFloat: parsing ${JSON.stringify(input.replace(/[a-zA-Z]+$/, ''))}: invalid syntax`);
      }
      return sizeSuffixString(bytes);
    }
    case 'Duration': {
      try {
        return formatDuration(parseDuration(input));
      } catch {
        throw fail(`parsing time ${JSON.stringify(input)} as "2006-01-02": cannot parse ${JSON.stringify(input)} as "2006"`);
      }
    }
    case 'Tristate': {
      if (input.toLowerCase() === 'unset') return 'unset';
      if (/^(1|t|T|true|TRUE|True)$/.test(input)) return 'true';
      if (/^(0|f|F|false|FALSE|False)$/.test(input)) return 'false';
      throw fail(`failed to parse Tristate ${JSON.stringify(input)}: strconv.ParseBool: parsing ${JSON.stringify(input)}: invalid syntax`);
    }
    case 'MultiEncoder': {
      const known = RCLONE_ENCODERS.split(', ');
      for (const part of input.split(',')) {
        if (!known.includes(part)) throw fail(`bad encoding ${JSON.stringify(part)}: possible values are: ${RCLONE_ENCODERS}`);
      }
      return input;
    }
    case 'Time': {
      // "off", a date or a duration before now: kept as typed (rclone writes the instant it means)
      if (input === 'off' || /^\d/.test(input)) return input;
      throw fail(`strconv.ParseFloat: parsing ${JSON.stringify(input)}: invalid syntax`);
    }
    default:
      return input;
  }
}

/**
 * Go's fmt.Sscanln into a bool, which rclone uses: the first character decides (0 or f/F false,
 * 1 or t/T true, anything else false), "true"/"false" may be spelled out, and nothing may follow.
 * So "y" is false and "yes" an error, as in rclone.
 */
function scanBool(input: string, fail: (why: string) => Error): string {
  let rest = input.slice(1);
  let value = false;
  const spelled = (word: string) => {
    // after t/T or f/F: once the second letter is there, the whole word must be
    if (rest === '' || rest[0]!.toLowerCase() !== word[0]) return;
    for (const ch of word) {
      if (rest === '' || rest[0]!.toLowerCase() !== ch) throw fail('syntax error scanning boolean');
      rest = rest.slice(1);
    }
  };
  switch (input[0]) {
    case '1':
      value = true;
      break;
    case 't':
    case 'T':
      value = true;
      spelled('rue');
      break;
    case 'f':
    case 'F':
      spelled('alse');
      break;
  }
  if (rest !== '') throw fail('expected newline');
  return String(value);
}

/** rclone's SizeSuffix.String(): binary units, three decimals unless whole (`5Mi`, `1.500Gi`, `off`). */
export function sizeSuffixString(bytes: number): string {
  if (bytes < 0) return 'off';
  if (bytes === 0) return '0';
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let u = 0;
  let scaled = bytes;
  while (u < units.length - 1 && bytes >= 1024 ** (u + 1)) u++;
  scaled = bytes / 1024 ** u;
  return (Number.isInteger(scaled) ? String(scaled) : scaled.toFixed(3)) + units[u];
}
