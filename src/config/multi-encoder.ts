// Validation of MultiEncoder option values (the `encoding` option). Applying an encoding to
// object names is the backend's job (src/backend/s3/encoding.ts); here we only make sure the
// value names encoders that exist, so a typo fails at start-up instead of silently changing
// which keys are written. The accepted names are the ones the backend implements.
import { InvalidValueError } from './units.js';

/** rclone's encoder names (lib/encoder), in rclone's order, plus its aliases Win and HashPercent. */
export const ENCODER_NAMES = [
  'Raw', // no encoding at all, not even the backend's mandatory one
  'None', // nothing beyond the backend's mandatory encoding
  'Slash',
  'LtGt',
  'SquareBracket',
  'SemiColon',
  'DoubleQuote',
  'SingleQuote',
  'BackQuote',
  'Dollar',
  'Colon',
  'Question',
  'Asterisk',
  'Pipe',
  'Hash',
  'Percent',
  'BackSlash',
  'CrLf',
  'Del',
  'Ctl',
  'LeftSpace',
  'LeftPeriod',
  'LeftTilde',
  'LeftCrLfHtVt',
  'RightSpace',
  'RightPeriod',
  'RightCrLfHtVt',
  'InvalidUtf8',
  'Dot',
  'Win', // Colon, Question, DoubleQuote, Asterisk, LtGt, Pipe
  'HashPercent',
] as const;
export type EncoderName = (typeof ENCODER_NAMES)[number];

const BY_LOWER = new Map<string, EncoderName>(ENCODER_NAMES.map((n) => [n.toLowerCase(), n]));

// rclone's MultiEncoder.Set also takes a numeric bit mask (strconv.ParseUint base 0); the
// backend uses rclone's bit order, so such a value is passed through as written.
const NUMERIC_MASK = /^(0x[0-9a-f]+|0o?[0-7]+|0b[01]+|[1-9][0-9]*|0)$/i;

/**
 * Parse a comma-separated encoder list (`Slash,InvalidUtf8,Dot`) into canonical names (numeric
 * masks kept as written), duplicates dropped, order kept. Names match case-insensitively (rclone
 * is exact; being lenient cannot change the meaning).
 */
export function parseEncoding(input: string): string[] {
  const out: string[] = [];
  for (const raw of input.split(',')) {
    const part = raw.trim();
    const name = BY_LOWER.get(part.toLowerCase()) ?? (NUMERIC_MASK.test(part) ? part : undefined);
    if (name === undefined) {
      throw new InvalidValueError('encoding', input, `unknown encoder ${JSON.stringify(part)} (known: ${ENCODER_NAMES.join(', ')})`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
