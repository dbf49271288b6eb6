// The assembler of recursive listings (tree-listing.ts): which directories it reports complete,
// and with which entries, from entries in S3's key order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ListEntry } from '../../src/backend/s3/types.js';
import type { DirEntry } from '../../src/vfs/dir-cache.js';
import { TreeAssembler } from '../../src/vfs/tree-listing.js';
import { baseName } from '../../src/vfs/paths.js';

const file = (path: string): ListEntry => ({ kind: 'object', path, size: 1, etag: `"${path}"` });
const marker = (path: string): ListEntry => ({ kind: 'dir', path, size: 0, marker: true });

/** a merge that keeps a directory over a file of the same name, as the namespace does */
function merge(entries: Map<string, DirEntry>, _dir: string, e: ListEntry, rel: string): void {
  const name = baseName(rel);
  const prev = entries.get(name);
  if (e.kind === 'dir') entries.set(name, { name, kind: 'dir', size: 0, marker: !!e.marker || !!prev?.marker });
  else if (prev?.kind !== 'dir') entries.set(name, { name, kind: 'file', size: e.size });
}

function assemble(root: string, entries: ListEntry[], complete: boolean) {
  const done: Array<[string, string[]]> = [];
  const broken: string[] = [];
  const t = new TreeAssembler(
    root,
    merge,
    (dir, m) => done.push([dir, [...m.values()].map((e) => `${e.name}${e.kind === 'dir' ? '/' : ''}${e.marker ? '(m)' : ''}`).sort()]),
    (dir) => broken.push(dir),
  );
  let error: Error | undefined;
  try {
    for (const e of entries) t.add(e);
    t.finish(complete);
  } catch (err) {
    error = err as Error;
    t.finish(false);
  }
  return { done, broken, error };
}

test('a complete listing: every directory once, implied ones included, as soon as the listing has passed it', () => {
  const { done } = assemble('t', [file('t/a/1'), file('t/a/2'), marker('t/b'), file('t/b/c/3'), file('t/b/d'), marker('t/e'), file('t/f')], true);
  assert.deepEqual(done, [
    ['t/a', ['1', '2']],
    ['t/b/c', ['3']],
    ['t/b', ['c/', 'd']],
    ['t/e', []],
    ['t', ['a/', 'b/(m)', 'e/(m)', 'f']],
  ]);
});

test('a listing stopped early: the directories still open are not reported', () => {
  const { done } = assemble('', [file('a/1'), file('b/c/1'), file('b/c/2')], false);
  assert.deepEqual(done, [['a', ['1']]]);
});

test('a file and keys below the same name: one directory entry', () => {
  const { done } = assemble('', [file('x'), file('x/y')], true);
  assert.deepEqual(done, [
    ['x', ['y']],
    ['', ['x/']],
  ]);
});

test('keys out of order (a finished directory seen again): an error, and every directory reported is named so it can be forgotten', () => {
  const { done, broken, error } = assemble('', [file('a/1'), file('b/1'), file('a/2')], true);
  assert.deepEqual(
    done.map(([d]) => d),
    ['a', 'b'],
  );
  assert.deepEqual(broken, ['a', 'b']);
  assert.match(String(error?.message), /not listed together/);
});
