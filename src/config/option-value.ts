// Turning one option's text (from a flag, the environment, a connection string or rclone.conf)
// into its typed value according to the option table, and back into text.
import type { OptionSpec } from './option-table.js';
import { InvalidValueError, parseBool, parseDuration, parseInteger, parseSize, formatDuration, formatSize } from './units.js';
import { parseEncoding } from './multi-encoder.js';

export type OptionValue = string | number | boolean | string[];

/**
 * Parse `raw` as option `spec`. Throws InvalidValueError whose `reason` explains the problem
 * (the caller adds which option and which source).
 */
export function parseOptionValue(spec: OptionSpec, raw: string): OptionValue {
  switch (spec.type) {
    case 'string':
      if (spec.exclusive && spec.examples && !spec.examples.includes(raw)) {
        throw new InvalidValueError(spec.name, raw, `must be one of ${spec.examples.map((e) => JSON.stringify(e)).join(', ')}`);
      }
      return raw;
    case 'bool':
      return parseBool(raw);
    case 'int':
      return checkRange(spec, raw, parseInteger(raw), String);
    case 'SizeSuffix':
      return checkRange(spec, raw, parseSize(raw), formatSize);
    case 'Duration':
      return parseDuration(raw);
    case 'MultiEncoder':
      return parseEncoding(raw);
  }
}

function checkRange(spec: OptionSpec, raw: string, n: number, show: (n: number) => string): number {
  if (spec.min !== undefined && n < spec.min) {
    throw new InvalidValueError(spec.name, raw, `must be at least ${show(spec.min)}`);
  }
  if (spec.max !== undefined && n > spec.max) {
    throw new InvalidValueError(spec.name, raw, `must be at most ${show(spec.max)}`);
  }
  return n;
}

/** The value as rclone would write it in rclone.conf (`5M`, `1m0s`, `true`, `Slash,Dot`). */
export function formatOptionValue(spec: OptionSpec, value: OptionValue): string {
  switch (spec.type) {
    case 'SizeSuffix':
      return formatSize(value as number);
    case 'Duration':
      return formatDuration(value as number);
    case 'MultiEncoder':
      return (value as string[]).join(',');
    default:
      return String(value);
  }
}
