// What ps shows of a command line that holds secrets: flags and on-the-fly remote parameters
// of every secret option as ***, everything else as given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactedArguments } from '../../src/cli/hidden-args.js';

test('secret flags and on-the-fly remote parameters are shown as ***; nothing else changes; none: null', () => {
  assert.deepEqual(redactedArguments(['mount', 'r:b', '/mnt', '--s3-secret-access-key', 'SEKRIT', '--s3-session-token=TOK', '-vv']), [
    'mount',
    'r:b',
    '/mnt',
    '--s3-secret-access-key',
    '***',
    '--s3-session-token=***',
    '-vv',
  ]);
  assert.deepEqual(redactedArguments(['ls', ':s3,access_key_id=AK,secret_access_key=SK,endpoint=http://h:9000:bkt/p']), [
    'ls',
    ':s3,access_key_id=***,secret_access_key=***,endpoint=http://h:9000:bkt/p',
  ]);
  assert.deepEqual(redactedArguments(['copy', '--s3-sse-customer-key', 'K', 'a', 'b']), ['copy', '--s3-sse-customer-key', '***', 'a', 'b']);
  assert.equal(redactedArguments(['mount', 'r:b', '/mnt', '--s3-chunk-size', '8M']), null);
});
