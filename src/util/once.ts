// "Say it once": a bounded set of keys already reported, so that a NOTICE about a key a listing
// shows again and again is logged the first time only (and memory stays bounded: past `max`
// keys it starts over, and a key may then be reported again).
export class Once {
  private readonly seen = new Set<string>();

  constructor(private readonly max = 10_000) {}

  /** true the first time `key` is seen */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(key);
    return true;
  }
}
