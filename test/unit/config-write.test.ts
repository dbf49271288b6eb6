// The pieces of `bucketfs config` that need no rclone to check: the goconfig rules of
// config-document.ts, rclone's canonical values (rclone-values.ts), the key/value words and names
// (config-edit.ts) and the atomic write (config-write.ts). The integration tests compare the
// whole with rclone itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigDocument } from '../../src/config/config-document.js';
import { canonicalValue, ValueParseError, describeValueKind } from '../../src/config/rclone-values.js';
import { configNameProblem, dumpText, keyValuePairs } from '../../src/config/config-edit.js';
import { writeFileAtomically } from '../../src/config/config-write.js';
import { matchProvider } from '../../src/config/rclone-option.js';

test("goconfig's rules: comments kept before their section or key, quotes, numbered keys, DEFAULT keys first", () => {
  const text = [
    'stray = 1',
    '# top',
    '[a]',
    'type=s3',
    '; about k',
    'k:  v ',
    'q = `back`',
    'd = "kept"',
    '"x=y" = 1',
    '- = one',
    '- = two',
    '# lost at the end',
    '',
  ].join('\n');
  const doc = ConfigDocument.parse(text, 'test.conf');
  assert.equal(doc.get('a', 'q'), 'back');
  assert.equal(doc.get('a', 'd'), '"kept"');
  assert.equal(doc.get('a', 'x=y'), '1');
  assert.equal(doc.get('a', '#2'), 'two');
  doc.set('a', 'new', 'has`tick');
  doc.set('b', 'type', 's3');
  assert.equal(
    doc.serialize(),
    [
      'stray = 1',
      '',
      '# top',
      '[a]',
      'type = s3',
      '; about k',
      'k = v',
      'q = back',
      'd = "kept"',
      '`x=y` = 1',
      '- = one',
      '- = two',
      'new = "has`tick"',
      '',
      '[b]',
      'type = s3',
      '',
      '',
    ].join('\n'),
  );
  assert.throws(() => ConfigDocument.parse('[a]\nno separator\n', 'test.conf'), /line 2/);
});

test("rclone's canonical values and parse errors", () => {
  assert.equal(canonicalValue('SizeSuffix', '1.5G'), '1.500Gi');
  assert.equal(canonicalValue('SizeSuffix', '5M'), '5Mi');
  assert.equal(canonicalValue('SizeSuffix', '1024'), '1Mi');
  assert.equal(canonicalValue('SizeSuffix', 'off'), 'off');
  assert.equal(canonicalValue('bool', 'T'), 'true');
  assert.equal(canonicalValue('bool', 'y'), 'false'); // Go's scanner: any other first letter is false
  assert.equal(canonicalValue('int', '010'), '8');
  assert.equal(canonicalValue('int', '0x10'), '16');
  assert.equal(canonicalValue('Duration', '90s'), '1m30s');
  assert.equal(canonicalValue('Tristate', 'True'), 'true');
  const msg = (type: string, v: string) => {
    try {
      canonicalValue(type, v);
    } catch (err) {
      assert.ok(err instanceof ValueParseError);
      return err.message;
    }
    return 'parsed';
  };
  assert.equal(msg('bool', 'maybe'), 'parsing "maybe" as bool failed: expected newline');
  assert.equal(msg('bool', 'tr'), 'parsing "tr" as bool failed: syntax error scanning boolean');
  assert.equal(msg('SizeSuffix', 'abc'), 'parsing "abc" as fs.SizeSuffix failed: bad suffix \'c\'');
  assert.equal(msg('SizeSuffix', '-1'), 'parsing "-1" as fs.SizeSuffix failed: size can\'t be negative "-1"');
  assert.equal(msg('int', 'x'), 'parsing "x" as int failed: expected integer');
  assert.equal(msg('int', '1.5'), 'parsing "1.5" as int failed: expected newline');
  assert.equal(describeValueKind('SizeSuffix', '5Mi'), 'size with suffix K,M,G,T');
  assert.equal(describeValueKind('string', ''), 'value');
  assert.equal(describeValueKind('Tristate', 'unset'), 'fs.Tristate value');
});

test('key value words, names, provider filters, dump', () => {
  assert.deepEqual(keyValuePairs(['a=1', 'b', '2', 'c=x=y', 'a', '3']), [
    ['a', '3'],
    ['b', '2'],
    ['c', 'x=y'],
  ]);
  assert.throws(() => keyValuePairs(['a=1', 'b']), /found key without value/);
  assert.equal(configNameProblem('ok name_1.2-3'), undefined);
  assert.match(configNameProblem('bad!')!, /invalid characters/);
  assert.ok(matchProvider('!AWS,Minio', 'Ceph') && !matchProvider('!AWS,Minio', 'AWS') && matchProvider('AWS', '') && matchProvider(undefined, 'x'));
  const doc = ConfigDocument.parse('[b]\ntype = s3\nz = <&>\n[a]\n', 'x');
  assert.equal(dumpText(doc), '{\n    "a": {},\n    "b": {\n        "type": "s3",\n        "z": "\\u003c\\u0026\\u003e"\n    }\n}');
  assert.equal(dumpText(new ConfigDocument()), '{}');
});

test('the atomic write: 0600 for a new file, the old mode kept, no temporary file left', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketfs-config-write-'));
  try {
    const file = path.join(dir, 'sub', 'rclone.conf');
    writeFileAtomically(file, 'one\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    chmodSync(file, 0o640);
    writeFileAtomically(file, 'two\n');
    assert.equal(readFileSync(file, 'utf8'), 'two\n');
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(path.join(dir, 'sub')), ['rclone.conf']);
    // a directory where the file should be: one clear error, nothing left behind
    writeFileSync(path.join(dir, 'plain'), '');
    assert.throws(() => writeFileAtomically(path.join(dir, 'plain', 'x.conf'), 'x'), /failed to save config file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
