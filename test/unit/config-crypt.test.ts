// Reading rclone.conf encrypted with rclone's configuration password (config-crypt.ts), against
// fixed files that rclone 1.60 wrote (its `config` menu, "s) Set configuration password").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configKeyFromPassword, decryptConfigText, encryptConfigText, encryptionOf, splitSpaceSepList } from '../../src/config/config-crypt.js';
import { parseConfigText } from '../../src/config/config-file.js';
import { UserError } from '../../src/util/errors.js';

// rclone 1.60, password "secretpw", from this plain config:
const PLAIN = `[s3test]
type = s3
provider = Other
access_key_id = AKIDEXAMPLE
secret_access_key = sek#ret;x
endpoint = http://127.0.0.1:9

[other]
type = s3
`;
const VECTOR = `# Encrypted rclone configuration File

RCLONE_ENCRYPT_V0:
sHMfTVchjA+eKOVovYYfcyQeP4qjKT4fezr8lY9Z567erxtcLo2ElM87cMjEnuVbeeJUxwD8QGYKYkpxSS2ulBwVRsxesDsq9glXHk/zxmMAXCYZHiHT9MEMnViuP/mXZK89PiY8pGrWe90rj0+/qa92BiZ+iQxIuMUVsfmrdF+poYjBjiHa7toQnmD8tfhglz6Bim2tZcoHmcU8KzRNcOUr4GcuKlIN7CiOviyVHrQU4uW8iaOieQ==`;
// the same config, password typed as "ﬁpäss" (U+FB01 LATIN SMALL LIGATURE FI): rclone NFKC-normalises it to "fipäss"
const VECTOR_NFKC = `# Encrypted rclone configuration File

RCLONE_ENCRYPT_V0:
H1aCjUx5jnDwRbNMeSnyQXlTHq9qt8y68DBEQe74xpVGd2lSt2UukRvK3aJlvHEuSn9b2J3REihYyrNdeLoKjdDix8r0k0VEcucMTKXuLYK55KexFOVnYDDuxlxzSCPuPjH+DJ3i3eo38598f6axqBeWcu2/TSrc5cHZL/XbE09HRZd19gnss1hmBPVRrmPaZUbwWfcnNqx+wSSWtm1RqC+9JgOYtE2La7WIri8ad1GFbfObCDdxFg==`;

test('key: SHA-256 of "[password][rclone-config]"', () => {
  assert.equal(Buffer.from(configKeyFromPassword('secretpw')).toString('hex'), '02c0090fb9d7a593e8d2b2b3bf9dab074b4efe3350b3e33cf4f55e69ac7199ef');
  assert.deepEqual(configKeyFromPassword('\uFB01päss'), configKeyFromPassword('fipäss'));
  assert.throws(() => configKeyFromPassword(''), /^Error: no characters in password$/);
});

test('decrypts the file rclone 1.60 wrote, to the config it was made from', () => {
  assert.equal(encryptionOf(VECTOR), 'v0');
  const plain = decryptConfigText(VECTOR, configKeyFromPassword('secretpw'));
  assert.ok(plain !== undefined);
  assert.deepEqual(parseConfigText(plain, 'x'), parseConfigText(PLAIN, 'x'));
  assert.equal(parseConfigText(plain, 'x').s3test!.secret_access_key, 'sek#ret;x');
  const nfkc = decryptConfigText(VECTOR_NFKC, configKeyFromPassword('\uFB01päss'));
  assert.ok(nfkc !== undefined);
  assert.deepEqual(parseConfigText(nfkc, 'x'), parseConfigText(PLAIN, 'x'));
  // CRLF line ends and a wrapped body still decode (Go's base64 decoder skips newlines)
  const crlf = VECTOR.replace(/\n/g, '\r\n').replace(/(RCLONE_ENCRYPT_V0:\r\n.{40})/, '$1\r\n');
  assert.deepEqual(decryptConfigText(crlf, configKeyFromPassword('secretpw')), plain);
});

test('a wrong password opens nothing; damaged data is an error, never a parse of garbage', () => {
  assert.equal(decryptConfigText(VECTOR, configKeyFromPassword('secretpx')), undefined);
  const flipped = VECTOR.slice(0, -10) + (VECTOR.at(-10) === 'A' ? 'B' : 'A') + VECTOR.slice(-9);
  assert.equal(decryptConfigText(flipped, configKeyFromPassword('secretpw')), undefined);
  assert.throws(
    () => decryptConfigText('RCLONE_ENCRYPT_V0:\nAAAA', configKeyFromPassword('secretpw')),
    (e: unknown) => e instanceof UserError && e.message === 'configuration data too short',
  );
  assert.throws(() => decryptConfigText('RCLONE_ENCRYPT_V0:\nAA*A', configKeyFromPassword('secretpw')), /illegal base64 data at input byte 2/);
});

test('encryptionOf: the first line that is not blank or a comment decides', () => {
  assert.equal(encryptionOf('# c\n; c\n\n  RCLONE_ENCRYPT_V0:  \nxx'), 'v0');
  assert.equal(encryptionOf('RCLONE_ENCRYPT_V1:\nxx'), 'unsupported');
  assert.equal(encryptionOf('[a]\ntype = s3\nRCLONE_ENCRYPT_V0:'), 'plain');
  assert.equal(encryptionOf(''), 'plain');
});

test('encrypt: what bucketfs writes opens with the same key (fresh nonce each time)', () => {
  const key = configKeyFromPassword('secretpw');
  const a = encryptConfigText(PLAIN, key);
  assert.ok(a.startsWith('# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n'));
  assert.equal(decryptConfigText(a, key), PLAIN);
  assert.notEqual(encryptConfigText(PLAIN, key), a);
});

test('--password-command is split as rclone splits a SpaceSepList (csv with space separator)', () => {
  assert.deepEqual(splitSpaceSepList('echo secretpw'), ['echo', 'secretpw']);
  assert.deepEqual(splitSpaceSepList('sh -c "echo a b"'), ['sh', '-c', 'echo a b']);
  assert.deepEqual(splitSpaceSepList('echo  x'), ['echo', '', 'x']);
  assert.deepEqual(splitSpaceSepList(' echo'), ['', 'echo']);
  assert.deepEqual(splitSpaceSepList('say "a ""q"" b"'), ['say', 'a "q" b']);
  assert.throws(() => splitSpaceSepList('echo "a'), /extraneous or missing " in quoted-field/);
  assert.throws(() => splitSpaceSepList('echo a"b'), /bare " in non-quoted-field/);
});
