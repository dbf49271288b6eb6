// Names that are not valid UTF-8, end to end. Linux file names (and command-line arguments) are
// bytes; bucketfs keeps a byte that is not part of valid UTF-8 as a lone surrogate U+DC80+byte
// in its JS strings (backend/s3/encoding.ts: logical names), and converts back to the very bytes
// wherever a name leaves the process: file-system calls, standard output. rclone does the same
// (its names are Go strings, i.e. bytes): a file `bad\xff` uploaded by either tool is the key
// `bad‛FF`, and both list it, copy it back and print it as the byte 0xFF.
import { readFileSync } from 'node:fs';
import { Enc, NameEncoder } from '../backend/s3/encoding.js';
import { logicalNameFromBytes, logicalNameToBytes } from '../backend/s3/utf8.js';

/**
 * Local file names ↔ logical names, as rclone's local backend converts them (its default
 * encoding on Linux, Slash,Dot): a logical name is rclone's "standard" name, in which control
 * characters show as their symbols (U+2400…), so the local file `a\x01b` is the logical `a␁b`
 * (the key `a\x01b`), and a local file really named `a␁b` is the logical `a‛␁b` (the key `a␁b`).
 */
const LOCAL = new NameEncoder(Enc.Slash | Enc.Dot);

const ESCAPED_BYTE = /[\udc80-\udcff]/;

/** A string for output or for a file-system call: the same string, or its bytes when it holds escaped ones. */
export function rawBytes(s: string): string | Buffer {
  if (!ESCAPED_BYTE.test(s)) return s;
  return logicalNameToBytes(s) ?? s;
}

/** A local path as fs calls take it (a Buffer when the name is not valid UTF-8). */
export function fsPath(p: string): string | Buffer {
  return rawBytes(p);
}

/** A local file name, as fs returns it in bytes, as a logical name. */
export function nameFromBytes(b: Buffer): string {
  return logicalNameFromBytes(LOCAL.decodeSegmentBytes(b));
}

/** A logical name as a local file name (escaped bytes kept as such, for fsPath). */
export function localName(logical: string): string {
  const bytes = logicalNameToBytes(logical);
  return bytes ? logicalNameFromBytes(LOCAL.encodeSegmentBytes(bytes)) : logical;
}

/** A logical relative path ('/'-separated) as a relative local path. */
export function localRelPath(rel: string): string {
  return rel === '' ? '' : rel.split('/').map(localName).join('/');
}

/**
 * The command-line arguments after the script, with the bytes of any argument that is not valid
 * UTF-8 kept (Node decodes process.argv lossily, as U+FFFD): read again from /proc/self/cmdline.
 */
export function rawArguments(args: string[]): string[] {
  if (!args.some((a) => a.includes('\ufffd'))) return args;
  let parts: Buffer[];
  try {
    const all = readFileSync('/proc/self/cmdline');
    parts = [];
    let start = 0;
    for (let i = 0; i < all.length; i++) {
      if (all[i] === 0) {
        parts.push(all.subarray(start, i));
        start = i + 1;
      }
    }
    if (start < all.length) parts.push(all.subarray(start));
  } catch {
    return args;
  }
  if (parts.length < args.length) return args;
  const tail = parts.slice(parts.length - args.length);
  // only when the two agree argument by argument (same count, same lossy text)
  if (!tail.every((b, i) => b.toString('utf8') === args[i])) return args;
  return args.map((a, i) => (a.includes('\ufffd') ? logicalNameFromBytes(tail[i]!) : a));
}
