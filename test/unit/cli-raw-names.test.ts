// Local names ↔ logical names as rclone's local backend converts them, and names that are not
// valid UTF-8 kept as their bytes for file-system calls, standard output and argv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localName, localRelPath, nameFromBytes, rawArguments, rawBytes } from '../../src/cli/raw-names.js';

test('local names: control characters become their symbols; a real symbol is quoted; round trip', () => {
  const cases: Array<[Buffer, string]> = [
    [Buffer.from('plain name.txt'), 'plain name.txt'],
    [Buffer.from('ctl\x01char'), 'ctl␁char'],
    [Buffer.from('del\x7f'), 'del␡'],
    [Buffer.from('tab\tx'), 'tab␉x'],
    [Buffer.from('sym␁bol'), 'sym‛␁bol'],
    [Buffer.from('．fullwidth dot'), '．fullwidth dot'],
    [Buffer.from('back\\slash'), 'back\\slash'],
    [Buffer.from([0x62, 0xff]), 'b\udcff'],
  ];
  for (const [bytes, logical] of cases) {
    assert.equal(nameFromBytes(bytes), logical, bytes.toString('latin1'));
    const back = rawBytes(localName(logical));
    assert.deepEqual(Buffer.isBuffer(back) ? back : Buffer.from(back), bytes, logical);
  }
  assert.equal(localRelPath('dir␁/sub/ctl␁char'), 'dir\x01/sub/ctl\x01char');
  assert.equal(localRelPath(''), '');
});

test('rawBytes: the same string unless it holds escaped bytes', () => {
  assert.equal(rawBytes('café'), 'café');
  assert.deepEqual(rawBytes('bad\udcffutf8\n'), Buffer.from([0x62, 0x61, 0x64, 0xff, 0x75, 0x74, 0x66, 0x38, 0x0a]));
  assert.equal(rawBytes('😀'), '😀');
});

test('rawArguments: arguments without U+FFFD are returned as they are', () => {
  const args = ['lsf', 'moto:bucket/café'];
  assert.equal(rawArguments(args), args);
});
