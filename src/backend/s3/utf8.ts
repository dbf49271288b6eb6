// UTF-8 with Go's semantics (an invalid byte decodes as U+FFFD of width 1), as rclone's encoder
// sees names, and logical names: JS strings in which each byte that is not valid UTF-8 is kept as
// a lone surrogate U+DC80..U+DCFF (PEP 383 "surrogateescape"), so Linux names round-trip.

export const RUNE_ERROR = 0xfffd;

/** Go's utf8.DecodeRune: [rune, width]; invalid → [0xFFFD, 1]; empty → [0xFFFD, 0]. */
export function decodeRune(b: Uint8Array, i: number): [number, number] {
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
export function decodeLastRune(b: Uint8Array, end: number): [number, number] {
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

export class ByteWriter {
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

export function runeBytes(...cps: number[]): Uint8Array {
  const w = new ByteWriter();
  for (const c of cps) w.rune(c);
  return w.done();
}

export function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** File-name bytes (as Linux gives them) → logical name; invalid UTF-8 bytes become U+DC80+byte. */
export function logicalNameFromBytes(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length;) {
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

export function isValidUtf8(b: Uint8Array): boolean {
  for (let i = 0; i < b.length;) {
    const [r, l] = decodeRune(b, i);
    if (r === RUNE_ERROR && l === 1) return false;
    i += l;
  }
  return true;
}
