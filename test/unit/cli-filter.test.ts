// The filter language (src/cli/filter.ts): globs translated as rclone 1.60's GlobToRegexp
// translates them, directory globs, rule order, and the flag scanning. The integration test
// (test/integration/cli-filter.test.ts) compares whole listings with rclone's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Filter, FilterError, collectFilterLists, globToDirGlobs, globToRegExp, globToRegExpSource, joinFilterValues } from '../../src/cli/filter.js';

test('globToRegExpSource: the regular expressions rclone builds', () => {
  const cases: Array<[string, string]> = [
    ['*.txt', '(^|/)[^/]*\\.txt$'],
    ['/a/**', '^a/.*$'],
    ['a?c', '(^|/)a[^/]c$'],
    ['{one,two}.md', '(^|/)(one|two)\\.md$'],
    ['[a-c]x', '(^|/)[a-c]x$'],
    ['br\\[1\\]', '(^|/)br\\[1\\]$'],
    ['a+b(c)|^$', '(^|/)a\\+b\\(c\\)\\|\\^\\$$'],
    ['x,y', '(^|/)x,y$'],
  ];
  for (const [glob, re] of cases) assert.equal(globToRegExpSource(glob), re, glob);
});

test('globToRegExp: matching paths', () => {
  const m = (glob: string, p: string) => globToRegExp(glob).test(p);
  assert.ok(m('*.txt', 'a.txt') && m('*.txt', 'd/e/a.txt'));
  assert.ok(!m('/*.txt', 'd/a.txt') && m('/*.txt', 'a.txt'));
  assert.ok(m('a/*.txt', 'x/a/b.txt') && !m('a/*.txt', 'a/b/c.txt') && !m('a/*.txt', 'xa/b.txt'));
  assert.ok(m('a/**', 'a/b/c.txt') && m('**/deep/**', 'x/deep/y'));
  assert.ok(m('?op', 'top') && !m('?op', 'op') && !m('?x', '/x'));
  assert.ok(m('{a,b}/*', 'b/z') && !m('{a,b}/*', 'c/z'));
  assert.ok(m('f[0-9]', 'f7') && !m('f[0-9]', 'fx'));
  // one code point per `?`, as Go's regexp counts runes
  assert.ok(m('?.txt', '😀.txt'));
});

test("bad globs: rclone's messages, as FilterError", () => {
  for (const [glob, msg] of [
    ['a]', /mismatched '\]'/],
    ['[ab', /mismatched '\[' and '\]'/],
    ['{a,b', /mismatched '\{' and '\}'/],
    ['a}', /mismatched '\{' and '\}'/],
    ['{a,{b}}', /can't nest/],
    ['***', /too many stars/],
  ] as Array<[string, RegExp]>) {
    assert.throws(
      () => globToRegExp(glob),
      (err: unknown) => err instanceof FilterError && msg.test(err.message),
      glob,
    );
  }
});

test('globToDirGlobs: the directories a file glob can be in', () => {
  assert.deepEqual(globToDirGlobs('a/b/*.txt'), ['a/b/', 'a/']);
  assert.deepEqual(globToDirGlobs('/a/b/c'), ['/a/b/', '/a/', '/']);
  assert.deepEqual(globToDirGlobs('*.txt'), ['/**']);
  assert.deepEqual(globToDirGlobs('a/**/x'), ['a/**/', 'a/']);
  assert.deepEqual(globToDirGlobs('{a/b,c}/x'), ['/**']);
});

test('Filter: --include before --exclude before --filter, the implicit - /** last, first match wins', () => {
  const f = Filter.fromOptions({ include: ['*.txt'], filter: ['- b/**'] });
  assert.deepEqual(f.describe().files, ['+ *.txt', '- b/**', '- /**']);
  assert.ok(f.includeFile('b/x.txt', 1), 'the include comes first');
  assert.ok(!f.includeFile('x.jpg', 1));
  // a directory exclude rule is `dir/**`, for files and directories
  const g = Filter.fromOptions({ exclude: ['a/'] });
  assert.ok(!g.includeDir('a') && !g.includeDir('x/a') && g.includeDir('b'));
  assert.ok(g.includeFile('a', 1), 'a file named a is no directory');
  // `!` clears what came before
  const h = Filter.fromOptions({ filter: ['- *', '!', '- *.jpg'] });
  assert.ok(h.includeFile('x.txt', 1) && !h.includeFile('x.jpg', 1));
  assert.throws(() => Filter.fromOptions({ filter: ['x'] }), /malformed rule "x"/);
});

test('Filter: sizes (bare numbers are KiB), ages, depth, reachability', () => {
  const f = Filter.fromOptions({ minSize: '1', maxSize: '2k', maxDepth: 2 });
  assert.ok(!f.includeFile('a', 1023) && f.includeFile('a', 1024) && f.includeFile('a', 2048) && !f.includeFile('a', 2049));
  const cache = new Map<string, boolean>();
  assert.ok(f.reachable('a/b', false, cache) && !f.reachable('a/b/c', false, cache));
  const now = 1_000_000_000_000;
  const age = Filter.fromOptions({ minAge: '1h', maxAge: '1d' }, now);
  assert.ok(age.usesModTime);
  assert.ok(age.includeFile('a', 1, now - 2 * 3600_000) && !age.includeFile('a', 1, now - 60_000) && !age.includeFile('a', 1, now - 2 * 86400_000));
  assert.throws(() => Filter.fromOptions({ minAge: '2d', maxAge: '1d' }), /can't be larger than --max-age/);
  const d = Filter.fromOptions({ exclude: ['/a/'] });
  assert.ok(!d.reachable('a/b/c.txt', false, new Map()) && d.reachable('b/a.txt', false, new Map()));
  assert.ok(!new Filter().active && d.active);
});

test('repeatable flags: every value in order; a value starting with - stays a value', () => {
  const args = ['lsf', '--include', '*.txt', '--filter', '- b/**', '-f', '+ x', '--include=*.md', '-f- y', 'remote:b'];
  assert.deepEqual(collectFilterLists(args), { include: ['*.txt', '*.md'], filter: ['- b/**', '+ x', '- y'] });
  assert.deepEqual(joinFilterValues(args), ['lsf', '--include=*.txt', '--filter=- b/**', '--filter=+ x', '--include=*.md', '-f- y', 'remote:b']);
});
