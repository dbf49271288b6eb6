// Bounded parallel work over a list, shared by the CLI (copy, touch -R) and the VFS (the copies
// of a directory rename): one behaviour for both, so a failure means the same everywhere.

/**
 * Run `fn` over `items` with at most `limit` calls in flight. After the first failure no new
 * item is started (a failed copy or rename should not go on creating objects); the calls
 * already running are waited for, then the first error is thrown. Items may be any value,
 * `undefined` included.
 */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  const list = [...items];
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async () => {
    while (!failed && next < list.length) {
      const item = list[next++] as T;
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
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, list.length)) }, worker));
  if (failed) throw firstError;
}
