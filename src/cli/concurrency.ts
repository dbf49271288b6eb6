// Ordered bounded concurrency for the CLI's listings: HEAD requests for modification times (lsl,
// lsf -F t). Results come back in input order, so listings print in the server's order while up
// to `limit` requests are in flight, and memory stays bounded by `limit` pending items.
// (Unordered work over a list, such as copy's transfers: src/util/concurrency.ts.)

/** Map `src` through `fn` with at most `limit` calls in flight, yielding results in input order. */
export async function* mapOrdered<T, R>(src: AsyncIterable<T> | Iterable<T>, limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  const it = (Symbol.asyncIterator in src ? (src as AsyncIterable<T>)[Symbol.asyncIterator]() : (src as Iterable<T>)[Symbol.iterator]()) as
    AsyncIterator<T> | Iterator<T>;
  let done = false;
  try {
    for (;;) {
      while (!done && pending.length < limit) {
        const next = await it.next();
        if (next.done) {
          done = true;
          break;
        }
        const p = fn(next.value);
        // A rejection is observed when its turn comes; until then keep it from being "unhandled".
        p.catch(() => {});
        pending.push(p);
      }
      const head = pending.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    if (!done) await it.return?.();
    // Let in-flight work settle before the caller moves on (its errors were already reported).
    await Promise.allSettled(pending);
  }
}
