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
import { BackendError } from './backend-error.js';

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
// UTF-8 helpers with Go's semantics (an invalid byte decodes as U+FFFD of width 1).

const RUNE_ERROR = 0xfffd;
const QUOTE = 0x201b; // '‛' SINGLE HIGH-REVERSED-9 QUOTATION MARK
const SYMBOL = 0x2400; // '␀' SYMBOL FOR NULL
const FULL = 0xfee0; // printable ASCII + FULL = its FULLWIDTH form
const SYM_SPACE = 0x2420; // '␠'
const SYM_DEL = 0x2421; // '␡'
const FW_DOT = 0xff0e; // '．'
const FW_TILDE = 0xff5e; // '～'

/** Go's utf8.DecodeRune: [rune, width]; invalid → [0xFFFD, 1]; empty → [0xFFFD, 0]. */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const n = b.length - i;
  if (n <= 0) return [RUNE_ERROR, 0];
  const c0 = b[i]!;
  if (c0 < 0x80) return [c0, 1];
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  let cp: number;
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    need = 1;
    cp = c0 & 0x1f;
  } else if (c0 >= 0xe0 && c0 <= 0xef) {
    need = 2;
    cp = c0 & 0x0f;
    if (c0 === 0xe0) lo = 0xa0;
    if (c0 === 0xed) hi = 0x9f; // no surrogates
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    need = 3;
    cp = c0 & 0x07;
    if (c0 === 0xf0) lo = 0x90;
    if (c0 === 0xf4) hi = 0x8f;
  } else return [RUNE_ERROR, 1];
  if (n < need + 1) return [RUNE_ERROR, 1];
  const c1 = b[i + 1]!;
  if (c1 < lo || c1 > hi) return [RUNE_ERROR, 1];
  cp = (cp << 6) | (c1 & 0x3f);
  for (let k = 2; k <= need; k++) {
    const c = b[i + k]!;
    if (c < 0x80 || c > 0xbf) return [RUNE_ERROR, 1];
    cp = (cp << 6) | (c & 0x3f);
  }
  return [cp, need + 1];
}

/** Go's utf8.DecodeLastRune. */
function decodeLastRune(b: Uint8Array, end: number): [number, number] {
  if (end <= 0) return [RUNE_ERROR, 0];
  let start = end - 1;
  if (b[start]! < 0x80) return [b[start]!, 1];
  const lim = Math.max(0, end - 4);
  for (start--; start >= lim; start--) {
    if ((b[start]! & 0xc0) !== 0x80) break;
  }
  if (start < 0) start = 0;
  const [r, size] = decodeRune(b.subarray(0, end), start);
  if (start + size !== end) return [RUNE_ERROR, 1];
  return [r, size];
}

class ByteWriter {
  private buf: number[] = [];
  rune(cp: number): void {
    if (cp < 0x80) this.buf.push(cp);
    else if (cp < 0x800) this.buf.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) this.buf.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else this.buf.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  bytes(b: Uint8Array): void {
    for (const x of b) this.buf.push(x);
  }
  byte(x: number): void {
    this.buf.push(x);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.buf);
  }
}

function runeBytes(...cps: number[]): Uint8Array {
  const w = new ByteWriter();
  for (const c of cps) w.rune(c);
  return w.done();
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

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
  for (let i = 0; i < inp.length; ) {
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

const isHex = (c: number | undefined) =>
  c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

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
  for (let i = 0; i < inp.length; ) {
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

// ---------------------------------------------------------------------------------------------
// Logical names (JS strings, invalid bytes as U+DC80..U+DCFF) ↔ bytes.

/** File-name bytes (as Linux gives them) → logical name; invalid UTF-8 bytes become U+DC80+byte. */
export function logicalNameFromBytes(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; ) {
    const [r, l] = decodeRune(b, i);
    if (r === RUNE_ERROR && l === 1) s += String.fromCharCode(0xdc00 + b[i]!);
    else s += String.fromCodePoint(r);
    i += l;
  }
  return s;
}

/**
 * Logical name → bytes; U+DC80..U+DCFF become the raw byte they stand for. Returns null for a
 * string that no byte sequence produces (any other lone surrogate).
 */
export function logicalNameToBytes(s: string): Buffer | null {
  const w = new ByteWriter();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        w.rune(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00));
        i++;
        continue;
      }
      return null;
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
      if (c >= 0xdc80 && c <= 0xdcff) {
        w.byte(c - 0xdc00);
        continue;
      }
      return null;
    }
    w.rune(c);
  }
  return Buffer.from(w.done());
}

function isValidUtf8(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; ) {
    const [r, l] = decodeRune(b, i);
    if (r === RUNE_ERROR && l === 1) return false;
    i += l;
  }
  return true;
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
