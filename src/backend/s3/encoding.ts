// Object-name encoding: the ONE place where logical names become S3 keys and back.
//
// This is a byte-exact port of rclone's lib/encoder (MultiEncoder). rclone replaces characters a
// backend cannot store by look-alike Unicode characters (mostly the FULLWIDTH forms, U+FF01..,
// or the control-picture symbols U+2400..), and quotes a look-alike that was already in a name
// with U+201B '‛' so decoding is exact. Invalid UTF-8 bytes become '‛' + two upper-case hex
// digits (byte 0xFF → "‛FF"), because S3 keys must be valid UTF-8 (XML).
//
// Logical names are rclone's "standard" names: what rclone prints and what `rclone mount`
// shows, i.e. names in rclone's Standard encoding (NUL, '/', control characters and DEL shown
// as their symbols, '.'/'..' as fullwidth dots). A key is therefore computed exactly as rclone
// does, FromStandardName = encode(Standard.Decode(name)), and a key is shown as
// ToStandardName = Standard.Encode(decode(key)). This is what makes a file created through a
// bucketfs mount land at the very key `rclone mount` or `rclone copy` would use.
//
// Invalid UTF-8: Linux file names are bytes. A logical name is a JS string in which each byte
// that is not part of valid UTF-8 is kept as a lone surrogate U+DC80..U+DCFF (the
// "surrogateescape" convention of Python's PEP 383). logicalNameFromBytes/logicalNameToBytes
// convert between the two, so a name read as bytes from the kernel round-trips exactly:
// bytes → logical → key ("‛FF") → logical → the same bytes.
//
// encodeBytes and decodeBytes are longer than the rest of the code on purpose: each follows
// rclone's MultiEncoder.Encode/Decode case by case, in the same order, so the two can be
// compared side by side whenever rclone changes; cut into pieces they could not.
import { BackendError } from './backend-error.js';
import { ByteWriter, decodeLastRune, decodeRune, eq, isValidUtf8, logicalNameFromBytes, logicalNameToBytes, runeBytes, RUNE_ERROR } from './utf8.js';

// Flag values are rclone's (lib/encoder/encoder.go, iota order), so numeric masks match too.
export const Enc = {
  Zero: 0,
  Raw: 1 << 0,
  Slash: 1 << 1,
  LtGt: 1 << 2,
  DoubleQuote: 1 << 3,
  SingleQuote: 1 << 4,
  BackQuote: 1 << 5,
  Dollar: 1 << 6,
  Colon: 1 << 7,
  Question: 1 << 8,
  Asterisk: 1 << 9,
  Pipe: 1 << 10,
  Hash: 1 << 11,
  Percent: 1 << 12,
  BackSlash: 1 << 13,
  CrLf: 1 << 14,
  Del: 1 << 15,
  Ctl: 1 << 16,
  LeftSpace: 1 << 17,
  LeftPeriod: 1 << 18,
  LeftTilde: 1 << 19,
  LeftCrLfHtVt: 1 << 20,
  RightSpace: 1 << 21,
  RightPeriod: 1 << 22,
  RightCrLfHtVt: 1 << 23,
  InvalidUtf8: 1 << 24,
  Dot: 1 << 25,
  SquareBracket: 1 << 26,
  Semicolon: 1 << 27,
} as const;

/** rclone's Standard encoding: the form of names rclone shows and mounts use. */
export const STANDARD_MASK = Enc.Zero | Enc.Slash | Enc.Ctl | Enc.Del | Enc.Dot;
/** rclone's default for S3: Slash,InvalidUtf8,Dot */
export const S3_DEFAULT_MASK = Enc.Slash | Enc.InvalidUtf8 | Enc.Dot;

const NAMES: Record<string, number> = {
  raw: Enc.Raw,
  none: Enc.Zero,
  slash: Enc.Slash,
  ltgt: Enc.LtGt,
  squarebracket: Enc.SquareBracket,
  semicolon: Enc.Semicolon,
  doublequote: Enc.DoubleQuote,
  singlequote: Enc.SingleQuote,
  backquote: Enc.BackQuote,
  dollar: Enc.Dollar,
  colon: Enc.Colon,
  question: Enc.Question,
  asterisk: Enc.Asterisk,
  pipe: Enc.Pipe,
  hash: Enc.Hash,
  percent: Enc.Percent,
  backslash: Enc.BackSlash,
  crlf: Enc.CrLf,
  del: Enc.Del,
  ctl: Enc.Ctl,
  leftspace: Enc.LeftSpace,
  leftperiod: Enc.LeftPeriod,
  lefttilde: Enc.LeftTilde,
  leftcrlfhtvt: Enc.LeftCrLfHtVt,
  rightspace: Enc.RightSpace,
  rightperiod: Enc.RightPeriod,
  rightcrlfhtvt: Enc.RightCrLfHtVt,
  invalidutf8: Enc.InvalidUtf8,
  dot: Enc.Dot,
  // rclone's synthetic aliases
  win: Enc.Colon | Enc.Question | Enc.DoubleQuote | Enc.Asterisk | Enc.LtGt | Enc.Pipe,
  hashpercent: Enc.Hash | Enc.Percent,
};

/**
 * The encoder mask for a list of rclone encoder names (`["Slash","InvalidUtf8","Dot"]`, as the
 * config layer splits the `encoding` option). Names are matched case-insensitively; numbers
 * (`0x2000002`) are accepted as rclone's MultiEncoder.Set does.
 */
export function maskFromNames(names: readonly string[]): number {
  let mask = 0;
  for (const raw of names) {
    const part = raw.trim();
    if (part === '') continue;
    const bits = NAMES[part.toLowerCase()];
    if (bits !== undefined) {
      mask |= bits;
      continue;
    }
    if (/^(0x[0-9a-f]+|0o?[0-7]+|0b[01]+|[1-9][0-9]*|0)$/i.test(part)) {
      mask |= Number(part.replace(/^0(?=[0-7])/, '0o'));
      continue;
    }
    throw new Error(`bad encoding "${part}": possible values are: ${Object.keys(NAMES).sort().join(', ')}`);
  }
  return mask >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The look-alike characters

const QUOTE = 0x201b; // '‛' SINGLE HIGH-REVERSED-9 QUOTATION MARK
const SYMBOL = 0x2400; // '␀' SYMBOL FOR NULL
const FULL = 0xfee0; // printable ASCII + FULL = its FULLWIDTH form
const SYM_SPACE = 0x2420; // '␠'
const SYM_DEL = 0x2421; // '␡'
const FW_DOT = 0xff0e; // '．'
const FW_TILDE = 0xff5e; // '～'

const DOT1 = runeBytes(0x2e);
const DOT2 = runeBytes(0x2e, 0x2e);
const FWDOT1 = runeBytes(FW_DOT);
const FWDOT2 = runeBytes(FW_DOT, FW_DOT);
const QFWDOT1 = runeBytes(QUOTE, FW_DOT);
const QFWDOT2 = runeBytes(QUOTE, FW_DOT, QUOTE, FW_DOT);

// The classes replaced by their FULLWIDTH form (r + 0xFEE0), each behind its flag.
const FULLWIDTH_CLASSES: Array<[number, number[]]> = [
  [Enc.Asterisk, [0x2a]],
  [Enc.LtGt, [0x3c, 0x3e]],
  [Enc.SquareBracket, [0x5b, 0x5d]],
  [Enc.Semicolon, [0x3b]],
  [Enc.Question, [0x3f]],
  [Enc.Colon, [0x3a]],
  [Enc.Pipe, [0x7c]],
  [Enc.DoubleQuote, [0x22]],
  [Enc.SingleQuote, [0x27]],
  [Enc.BackQuote, [0x60]],
  [Enc.Dollar, [0x24]],
  [Enc.Slash, [0x2f]],
  [Enc.BackSlash, [0x5c]],
  [Enc.Hash, [0x23]],
  [Enc.Percent, [0x25]],
];

/** For one rune: what Encode writes. 'quote' = write QUOTE then the rune; null = unchanged. */
function encodeRune(mask: number, r: number): number | 'quote' | null {
  for (const [flag, chars] of FULLWIDTH_CLASSES) {
    if (!(mask & flag)) continue;
    for (const c of chars) {
      if (r === c) return r + FULL;
      if (r === c + FULL) return 'quote';
    }
  }
  if (mask & Enc.CrLf) {
    if (r === 0x0d || r === 0x0a) return r + SYMBOL;
    if (r === 0x0d + SYMBOL || r === 0x0a + SYMBOL) return 'quote';
  }
  if (mask & Enc.Del) {
    if (r === 0x7f) return SYM_DEL;
    if (r === SYM_DEL) return 'quote';
  }
  if (mask & Enc.Ctl) {
    if (r >= 1 && r <= 0x1f) return SYMBOL + r;
    if (r > SYMBOL && r <= SYMBOL + 0x1f) return 'quote';
  }
  return null;
}

/** For one rune: what Decode writes when it is not quoted; null = not an encoded rune. */
function decodeRuneOf(mask: number, r: number): number | null {
  for (const [flag, chars] of FULLWIDTH_CLASSES) {
    if (!(mask & flag)) continue;
    for (const c of chars) if (r === c + FULL) return c;
  }
  if (mask & Enc.CrLf && (r === 0x0d + SYMBOL || r === 0x0a + SYMBOL)) return r - SYMBOL;
  if (mask & Enc.Del && r === SYM_DEL) return 0x7f;
  if (mask & Enc.Ctl && r > SYMBOL && r <= SYMBOL + 0x1f) return r - SYMBOL;
  return null;
}

const isCrLfHtVt = (c: number) => c === 0x09 || c === 0x0a || c === 0x0b || c === 0x0d;

/** rclone MultiEncoder.Encode on bytes. */
export function encodeBytes(mask: number, input: Uint8Array): Uint8Array {
  if (mask === Enc.Raw || input.length === 0) return input;
  if (mask & Enc.Dot) {
    if (eq(input, DOT1)) return FWDOT1;
    if (eq(input, DOT2)) return FWDOT2;
    if (eq(input, FWDOT1)) return QFWDOT1;
    if (eq(input, FWDOT2)) return QFWDOT2;
  }
  let inp = input;
  let prefix: Uint8Array | null = null;
  if (mask & Enc.LeftSpace) {
    if (inp[0] === 0x20) [prefix, inp] = [runeBytes(SYM_SPACE), inp.subarray(1)];
    else {
      const [r, l] = decodeRune(inp, 0);
      if (r === SYM_SPACE) [prefix, inp] = [runeBytes(QUOTE, SYM_SPACE), inp.subarray(l)];
    }
  }
  if (mask & Enc.LeftPeriod && prefix === null) {
    if (inp[0] === 0x2e) [prefix, inp] = [runeBytes(FW_DOT), inp.subarray(1)];
    else {
      const [r, l] = decodeRune(inp, 0);
      if (r === FW_DOT) [prefix, inp] = [runeBytes(QUOTE, FW_DOT), inp.subarray(l)];
    }
  }
  if (mask & Enc.LeftTilde && prefix === null) {
    if (inp[0] === 0x7e) [prefix, inp] = [runeBytes(FW_TILDE), inp.subarray(1)];
    else {
      const [r, l] = decodeRune(inp, 0);
      if (r === FW_TILDE) [prefix, inp] = [runeBytes(QUOTE, FW_TILDE), inp.subarray(l)];
    }
  }
  if (mask & Enc.LeftCrLfHtVt && prefix === null) {
    const c = inp[0]!;
    if (isCrLfHtVt(c)) [prefix, inp] = [runeBytes(SYMBOL + c), inp.subarray(1)];
    else {
      const [r, l] = decodeRune(inp, 0);
      if (r > SYMBOL && isCrLfHtVt(r - SYMBOL)) [prefix, inp] = [runeBytes(QUOTE, r), inp.subarray(l)];
    }
  }
  let suffix: Uint8Array | null = null;
  if (inp.length > 0) {
    const last = inp[inp.length - 1]!;
    if (mask & Enc.RightSpace) {
      if (last === 0x20) [suffix, inp] = [runeBytes(SYM_SPACE), inp.subarray(0, inp.length - 1)];
      else {
        const [r, l] = decodeLastRune(inp, inp.length);
        if (r === SYM_SPACE) [suffix, inp] = [runeBytes(QUOTE, SYM_SPACE), inp.subarray(0, inp.length - l)];
      }
    }
    if (mask & Enc.RightPeriod && suffix === null) {
      if (last === 0x2e) [suffix, inp] = [runeBytes(FW_DOT), inp.subarray(0, inp.length - 1)];
      else {
        const [r, l] = decodeLastRune(inp, inp.length);
        if (r === FW_DOT) [suffix, inp] = [runeBytes(QUOTE, FW_DOT), inp.subarray(0, inp.length - l)];
      }
    }
    if (mask & Enc.RightCrLfHtVt && suffix === null) {
      if (isCrLfHtVt(last)) [suffix, inp] = [runeBytes(SYMBOL + last), inp.subarray(0, inp.length - 1)];
      else {
        const [r, l] = decodeLastRune(inp, inp.length);
        if (r > SYMBOL && isCrLfHtVt(r - SYMBOL)) [suffix, inp] = [runeBytes(QUOTE, r), inp.subarray(0, inp.length - l)];
      }
    }
  }

  const out = new ByteWriter();
  if (prefix) out.bytes(prefix);
  for (let i = 0; i < inp.length;) {
    const [r, l] = decodeRune(inp, i);
    const invalid = r === RUNE_ERROR && l === 1;
    if (r === 0) out.rune(SYMBOL);
    else if (r === SYMBOL || r === QUOTE) {
      out.rune(QUOTE);
      out.rune(r);
    } else if (invalid) {
      if (mask & Enc.InvalidUtf8) {
        out.rune(QUOTE);
        const hex = inp[i]!.toString(16).toUpperCase().padStart(2, '0');
        out.byte(hex.charCodeAt(0));
        out.byte(hex.charCodeAt(1));
      } else out.byte(inp[i]!);
    } else {
      const e = encodeRune(mask, r);
      if (e === null) out.bytes(inp.subarray(i, i + l));
      else if (e === 'quote') {
        out.rune(QUOTE);
        out.rune(r);
      } else out.rune(e);
    }
    i += l;
  }
  if (suffix) out.bytes(suffix);
  return out.done();
}

const isHex = (c: number | undefined) => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

/** rclone MultiEncoder.Decode on bytes. */
export function decodeBytes(mask: number, input: Uint8Array): Uint8Array {
  if (mask === Enc.Raw) return input;
  if (mask & Enc.Dot) {
    if (eq(input, FWDOT1)) return DOT1;
    if (eq(input, FWDOT2)) return DOT2;
    if (eq(input, QFWDOT1)) return FWDOT1;
    if (eq(input, QFWDOT2)) return FWDOT2;
  }
  let inp = input;
  let prefix: Uint8Array | null = null;
  {
    const [r, l1] = decodeRune(inp, 0);
    if (mask & Enc.LeftSpace && r === SYM_SPACE) [prefix, inp] = [Uint8Array.of(0x20), inp.subarray(l1)];
    else if (mask & Enc.LeftPeriod && r === FW_DOT) [prefix, inp] = [DOT1, inp.subarray(l1)];
    else if (mask & Enc.LeftTilde && r === FW_TILDE) [prefix, inp] = [Uint8Array.of(0x7e), inp.subarray(l1)];
    else if (mask & Enc.LeftCrLfHtVt && r > SYMBOL && isCrLfHtVt(r - SYMBOL)) [prefix, inp] = [Uint8Array.of(r - SYMBOL), inp.subarray(l1)];
    else if (r === QUOTE) {
      const [r2, l2] = decodeRune(inp, l1);
      if (mask & Enc.LeftSpace && r2 === SYM_SPACE) [prefix, inp] = [runeBytes(SYM_SPACE), inp.subarray(l1 + l2)];
      else if (mask & Enc.LeftPeriod && r2 === FW_DOT) [prefix, inp] = [runeBytes(FW_DOT), inp.subarray(l1 + l2)];
      else if (mask & Enc.LeftTilde && r2 === FW_TILDE) [prefix, inp] = [runeBytes(FW_TILDE), inp.subarray(l1 + l2)];
      else if (mask & Enc.LeftCrLfHtVt && r2 > SYMBOL && isCrLfHtVt(r2 - SYMBOL)) [prefix, inp] = [runeBytes(r2), inp.subarray(l1 + l2)];
    }
  }
  let suffix: Uint8Array | null = null;
  {
    const [r, l] = decodeLastRune(inp, inp.length);
    const quotedBefore = (rest: Uint8Array): [boolean, number] => {
      const [q, l2] = decodeLastRune(rest, rest.length);
      return [q === QUOTE, l2];
    };
    const take = (plain: Uint8Array, sym: number) => {
      inp = inp.subarray(0, inp.length - l);
      const [quoted, l2] = quotedBefore(inp);
      if (quoted) [suffix, inp] = [runeBytes(sym), inp.subarray(0, inp.length - l2)];
      else suffix = plain;
    };
    if (mask & Enc.RightSpace && r === SYM_SPACE) take(Uint8Array.of(0x20), SYM_SPACE);
    else if (mask & Enc.RightPeriod && r === FW_DOT) take(DOT1, FW_DOT);
    else if (mask & Enc.RightCrLfHtVt && r > SYMBOL && isCrLfHtVt(r - SYMBOL)) take(Uint8Array.of(r - SYMBOL), r);
  }

  const out = new ByteWriter();
  if (prefix) out.bytes(prefix);
  let unquote = false;
  let unquoteNext = false;
  let skipNext = false;
  for (let i = 0; i < inp.length;) {
    const [r, l] = decodeRune(inp, i);
    const at = i;
    i += l;
    if (skipNext) {
      skipNext = false;
      continue;
    }
    unquote = unquoteNext;
    unquoteNext = false;
    if (r === SYMBOL) {
      out.rune(unquote ? r : 0);
      continue;
    }
    if (r === QUOTE) {
      if (unquote) out.rune(r);
      else unquoteNext = true;
      continue;
    }
    const d = decodeRuneOf(mask, r);
    if (d !== null) {
      out.rune(unquote ? r : d);
      continue;
    }
    if (unquote) {
      if (mask & Enc.InvalidUtf8 && isHex(inp[at]) && isHex(inp[at + 1])) {
        out.byte(parseInt(String.fromCharCode(inp[at]!, inp[at + 1]!), 16));
        skipNext = true;
        continue;
      }
      out.rune(QUOTE);
    }
    out.bytes(inp.subarray(at, at + l));
  }
  if (unquoteNext) out.rune(QUOTE);
  if (suffix) out.bytes(suffix);
  return out.done();
}

/** S3 limits a key to 1024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

/**
 * The name codec for one backend: logical paths ↔ S3 keys, per '/'-separated segment.
 */
export class NameEncoder {
  constructor(readonly mask: number) {}

  static fromNames(names: readonly string[]): NameEncoder {
    return new NameEncoder(maskFromNames(names));
  }

  /** One logical name (no '/') → key segment bytes. */
  encodeSegmentBytes(name: Uint8Array): Uint8Array {
    if (this.mask === STANDARD_MASK) return name;
    return encodeBytes(this.mask, decodeBytes(STANDARD_MASK, name));
  }

  /** One key segment → logical name bytes. */
  decodeSegmentBytes(seg: Uint8Array): Uint8Array {
    if (this.mask === STANDARD_MASK) return seg;
    return encodeBytes(STANDARD_MASK, decodeBytes(this.mask, seg));
  }

  /** One logical name (a JS string, no '/') → its key segment. */
  encodeSegment(name: string, op = 'encode'): string {
    const bytes = logicalNameToBytes(name);
    if (!bytes) throw new BackendError('InvalidName', op, name, 'name contains an unpaired UTF-16 surrogate');
    const enc = this.encodeSegmentBytes(bytes);
    if (!isValidUtf8(enc)) {
      throw new BackendError('InvalidName', op, name, 'name is not valid UTF-8 and the encoding option lacks InvalidUtf8');
    }
    return Buffer.from(enc).toString('utf8');
  }

  /** Convenience for callers holding raw bytes (a FUSE name): bytes → key segment. */
  encodePathSegmentFromBytes(name: Uint8Array, op = 'encode'): string {
    return this.encodeSegment(logicalNameFromBytes(name), op);
  }

  /** Logical path ('a/b/c', no leading slash) → key. Throws InvalidName for keys over 1024 bytes. */
  keyFromPath(path: string, op = 'encode'): string {
    if (path === '') return '';
    const key = path
      .split('/')
      .map((seg) => this.encodeSegment(seg, op))
      .join('/');
    if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
      throw new BackendError('InvalidName', op, path, `name too long: the S3 key would be ${Buffer.byteLength(key, 'utf8')} bytes (limit ${MAX_KEY_BYTES})`);
    }
    return key;
  }

  /** Logical directory → listing prefix ('' for the root, else 'key/'). */
  dirPrefix(dir: string, op = 'encode'): string {
    const d = dir.replace(/\/+$/, '');
    return d === '' ? '' : `${this.keyFromPath(d, op)}/`;
  }

  /** One key segment → logical name. */
  decodeSegment(seg: string): string {
    return logicalNameFromBytes(this.decodeSegmentBytes(Buffer.from(seg, 'utf8')));
  }

  /** Key → logical path. */
  pathFromKey(key: string): string {
    if (key === '') return '';
    return key
      .split('/')
      .map((s) => this.decodeSegment(s))
      .join('/');
  }
}
