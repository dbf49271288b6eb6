// The README's option tables are generated from the option table: this fails when someone
// changes an option without running scripts/gen-docs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spliceOptions, repoRoot } from '../../scripts/gen-docs.js';
import { S3_OPTIONS, s3FlagName } from '../../src/config/option-table.js';

test('README.md options section is up to date (run: bash scripts/gen-docs)', () => {
  const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
  assert.equal(spliceOptions(readme), readme, 'README.md is out of date: run bash scripts/gen-docs');
  for (const o of S3_OPTIONS) assert.ok(readme.includes(`\`--${s3FlagName(o)}\``), `README lacks --${s3FlagName(o)}`);
});

test('README quick start is exactly the two commands', () => {
  const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
  const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  assert.deepEqual(
    quick
      .trim()
      .split('\n')
      .map((l) => l.replace(/\s+#.*$/, '').trim()),
    ['npm run demo', 'npm test'],
  );
});
