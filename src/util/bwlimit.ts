// --bwlimit: rclone's bandwidth limit, as one token bucket per direction shared by every transfer
// of the command (rclone's is global too). The value is rclone's syntax:
//   1M            1 MiB/s (a bare number is KiB/s; "off": no limit)
//   10M:100k      upload (bytes sent) 10 MiB/s, download (bytes received) 100 KiB/s
//   "08:00,512k 12:00,10M 18:00,off"   a timetable: from each time of day on, that rate (the last
//                 entry of the day goes on until the first of the next)
// Sizes are parsed by config/units.ts. The bucket holds a tenth of a second's bytes: a burst never
// goes far beyond the rate, and a chunk larger than what is held puts the bucket in debt (the next
// chunk waits for it), so the average stays at the rate whatever the chunk size.
import { Transform, type Readable } from 'node:stream';
import { parseSize, InvalidValueError, SIZE_OFF } from '../config/units.js';
import { UserError, EXIT } from './errors.js';

/** Bytes per second; undefined: no limit. */
type Rate = number | undefined;

interface Slot {
  /** minutes since midnight */
  at: number;
  up: Rate;
  down: Rate;
}

function parseRate(text: string, flag: string): { up: Rate; down: Rate } {
  const one = (t: string): Rate => {
    let n: number;
    try {
      n = parseSize(t);
    } catch (err) {
      if (err instanceof InvalidValueError) throw new UserError(`invalid argument ${JSON.stringify(text)} for "${flag}" flag: ${err.message}`, EXIT.usage);
      throw err;
    }
    return n === SIZE_OFF || n === 0 ? undefined : n;
  };
  const parts = text.split(':');
  if (parts.length > 2) throw new UserError(`invalid argument ${JSON.stringify(text)} for "${flag}" flag: use RATE or UP:DOWN`, EXIT.usage);
  const up = one(parts[0]!);
  return { up, down: parts.length === 2 ? one(parts[1]!) : up };
}

/** The limits of a --bwlimit value; undefined when it limits nothing. */
export class BandwidthLimit {
  private readonly buckets: { up?: TokenBucket; down?: TokenBucket } = {};

  private constructor(
    private readonly slots: Slot[],
    /** one rate for both directions together (no UP:DOWN given) */
    private readonly shared: boolean,
  ) {}

  static parse(value: string, flag = '--bwlimit'): BandwidthLimit | undefined {
    const text = value.trim();
    const entries = text.split(/\s+/).filter((e) => e !== '');
    const slots: Slot[] = [];
    let shared = true;
    for (const e of entries) {
      const m = /^(\d\d):(\d\d),(.+)$/.exec(e);
      if (!m && entries.length > 1)
        throw new UserError(`invalid argument ${JSON.stringify(value)} for "${flag}" flag: a timetable is "HH:MM,RATE HH:MM,RATE …"`, EXIT.usage);
      const rate = parseRate(m ? m[3]! : e, flag);
      if (rate.up !== rate.down || (m ? m[3]! : e).includes(':')) shared = false;
      const at = m ? Number(m[1]) * 60 + Number(m[2]) : 0;
      if (m && (Number(m[1]) > 23 || Number(m[2]) > 59))
        throw new UserError(`invalid argument ${JSON.stringify(value)} for "${flag}" flag: bad time ${m[1]}:${m[2]}`, EXIT.usage);
      slots.push({ at, ...rate });
    }
    if (slots.every((s) => s.up === undefined && s.down === undefined)) return undefined;
    slots.sort((a, b) => a.at - b.at);
    return new BandwidthLimit(slots, shared);
  }

  /** The rates in force at `now`. */
  ratesAt(now: Date): { up: Rate; down: Rate } {
    const minute = now.getHours() * 60 + now.getMinutes();
    let slot = this.slots[this.slots.length - 1]!;
    for (const s of this.slots) if (s.at <= minute) slot = s;
    return slot;
  }

  private bucket(dir: 'up' | 'down'): TokenBucket {
    const key = this.shared ? 'up' : dir;
    return (this.buckets[key] ??= new TokenBucket(() => this.ratesAt(new Date())[dir]));
  }

  /** `body` passed through the limit of its direction: 'up' for bytes sent, 'down' for bytes received. */
  throttle(body: Readable, dir: 'up' | 'down', signal?: AbortSignal): Readable {
    const bucket = this.bucket(dir);
    const t = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bucket.take(chunk.length, signal).then(
          () => cb(null, chunk),
          (err: unknown) => cb(err as Error),
        );
      },
    });
    body.on('error', (err) => t.destroy(err));
    return body.pipe(t);
  }
}

/** Tokens (bytes) at `rate()` per second, at most a tenth of a second's worth held. */
export class TokenBucket {
  private tokens = 0;
  private last = performance.now();

  constructor(private readonly rate: () => Rate) {}

  /** Resolves when `n` bytes may pass. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    const rate = this.rate();
    if (rate === undefined) return;
    const now = performance.now();
    this.tokens = Math.min(rate / 10, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    this.tokens -= n;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / rate) * 1000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, waitMs);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
