// Bounded concurrency for the CLI: HEAD requests for modification times (lsl, lsf -F t) and file
// transfers (copy). Results come back in input order, so listings print in the server's order
// while up to `limit` requests are in flight, and memory stays bounded by `limit` pending items.

/** Map `src` through `fn` with at most `limit` calls in flight, yielding results in input order. */
export async function* mapOrdered<T, R>(src: AsyncIterable<T> | Iterable<T>, limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const pending: Promise<R>[] = [];
  const it = (Symbol.asyncIterator in src ? (src as AsyncIterable<T>)[Symbol.asyncIterator]() : (src as Iterable<T>)[Symbol.iterator]()) as
    | AsyncIterator<T>
    | Iterator<T>;
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

/** Run `fn` over all items with at most `limit` in flight; resolves when all have settled, rejects with the first error. */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  let firstError: unknown;
  let failed = false;
  const worker = async () => {
    for (;;) {
      if (failed) return;
      const item = queue.shift();
      if (item === undefined) return;
      try {
        await fn(item);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, worker));
  if (failed) throw firstError;
}
