// A set of byte ranges [start, end), kept sorted, disjoint and coalesced: which bytes of a cache
// file hold valid data (written here, or fetched from the object the file started from).

import { firstIndex } from '../../util/search.js';

export type Range = [start: number, end: number];

export class RangeSet {
  private r: Range[] = [];

  constructor(ranges: readonly Range[] = []) {
    for (const [a, b] of ranges) this.add(a, b);
  }

  static from(json: unknown): RangeSet {
    const s = new RangeSet();
    if (!Array.isArray(json)) return s;
    for (const x of json) {
      if (Array.isArray(x) && x.length === 2 && Number.isSafeInteger(x[0]) && Number.isSafeInteger(x[1])) s.add(x[0] as number, x[1] as number);
    }
    return s;
  }

  /** first index whose range ends at or after `pos` */
  private firstEndingAtOrAfter(pos: number): number {
    return firstIndex(this.r.length, (i) => this.r[i]![1] >= pos);
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const i = this.firstEndingAtOrAfter(start);
    let j = i;
    let a = start;
    let b = end;
    // merge every range touching or overlapping [start, end]
    while (j < this.r.length && this.r[j]![0] <= end) {
      a = Math.min(a, this.r[j]![0]);
      b = Math.max(b, this.r[j]![1]);
      j++;
    }
    this.r.splice(i, j - i, [a, b]);
  }

  /** drop everything at or after `size` */
  clip(size: number): void {
    const out: Range[] = [];
    for (const [a, b] of this.r) {
      if (a >= size) break;
      out.push([a, Math.min(b, size)]);
    }
    this.r = out;
  }

  clear(): void {
    this.r = [];
  }

  /** true when every byte of [start, end) is in the set */
  covers(start: number, end: number): boolean {
    if (end <= start) return true;
    const i = this.firstEndingAtOrAfter(start + 1);
    const x = this.r[i];
    return !!x && x[0] <= start && x[1] >= end;
  }

  /** the parts of [start, end) not in the set, in order */
  missing(start: number, end: number): Range[] {
    const out: Range[] = [];
    let pos = start;
    for (let i = this.firstEndingAtOrAfter(start + 1); i < this.r.length && pos < end; i++) {
      const [a, b] = this.r[i]!;
      if (a >= end) break;
      if (a > pos) out.push([pos, Math.min(a, end)]);
      pos = Math.max(pos, b);
    }
    if (pos < end) out.push([pos, end]);
    return out;
  }

  /** how many bytes of [start, end) starting at `start` are in the set (0 when start is not) */
  presentRun(start: number, end: number): number {
    const i = this.firstEndingAtOrAfter(start + 1);
    const x = this.r[i];
    if (!x || x[0] > start) return 0;
    return Math.min(x[1], end) - start;
  }

  /** the first byte at or after `start` (before `end`) that is in the set; `end` if none */
  nextPresent(start: number, end: number): number {
    const i = this.firstEndingAtOrAfter(start + 1);
    const x = this.r[i];
    if (!x) return end;
    return Math.min(end, Math.max(start, x[0]));
  }

  get bytes(): number {
    let n = 0;
    for (const [a, b] of this.r) n += b - a;
    return n;
  }

  get count(): number {
    return this.r.length;
  }

  toJSON(): Range[] {
    return this.r.map(([a, b]) => [a, b]);
  }
}
