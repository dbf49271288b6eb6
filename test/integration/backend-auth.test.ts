// Credentials as rclone resolves them: static keys, session token, env_auth (environment,
// shared credentials file and profile), anonymous access; and what credential errors say.
// The server checks signatures (TestS3.start({ checkSignatures })): it knows exactly the keys
// below, so a request that succeeds was signed with the right secret (and session token), and a
// wrong or ignored secret_access_key fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { TestS3, TEST_ACCESS_KEY, TEST_SECRET_KEY, type TestCredentials } from '../helpers/s3-server.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import { createS3Backend } from '../../src/backend/s3/backend.js';
import { backendFor, defaultOptions, freshBucket, readAll } from './backend-fixtures.js';

let s3: TestS3;
let bucket: string;
/** every key used below, as the server knows it */
const KNOWN: TestCredentials[] = [
  { accessKeyId: 'STATICKEY', secretAccessKey: 'static-secret', sessionToken: 'the-session-token' },
  { accessKeyId: 'ENVKEY', secretAccessKey: 'env-secret', sessionToken: 'env-token' },
  { accessKeyId: 'ALIASKEY', secretAccessKey: 'alias-secret' },
  { accessKeyId: 'WORKKEY', secretAccessKey: 'w', sessionToken: 'work-token' },
  { accessKeyId: 'ENVPROFILEKEY', secretAccessKey: 'e' },
  { accessKeyId: 'DEFAULTKEY', secretAccessKey: 'd' },
  { accessKeyId: 'OTHERFILEKEY', secretAccessKey: 'o' },
  { accessKeyId: 'ENVFIRST', secretAccessKey: 'x' },
];
before(async () => {
  s3 = await TestS3.start({ checkSignatures: true, credentials: KNOWN });
  bucket = await freshBucket(s3);
  const c = s3.directClient();
  await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'public.txt', Body: 'for everyone', ACL: 'public-read' }));
  await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'private.txt', Body: 'mine' }));
  c.destroy();
});
after(async () => {
  await s3?.stop();
});

const keyIdOf = (auth: string | undefined) => /Credential=([^/]+)\//.exec(auth ?? '')?.[1];
const noKeys = { access_key_id: '', secret_access_key: '' };

test('static keys sign with that key id; session_token is sent as x-amz-security-token', async () => {
  const be = backendFor(s3, { access_key_id: 'STATICKEY', secret_access_key: 'static-secret', session_token: 'the-session-token' });
  s3.clearRequests();
  await be.head(bucket, 'private.txt');
  assert.equal(keyIdOf(s3.requests[0]!.headers.authorization), 'STATICKEY');
  assert.equal(s3.requests[0]!.headers['x-amz-security-token'], 'the-session-token');
  assert.equal(s3.requests[0]!.status, 200, 'signed with that secret and token: accepted');
  be.destroy();
  // the server checks what was signed: the same key id with another secret, or another token, is refused
  for (const over of [{ secret_access_key: 'not-the-secret' }, { session_token: 'not-the-token' }]) {
    const wrong = backendFor(s3, { access_key_id: 'STATICKEY', secret_access_key: 'static-secret', session_token: 'the-session-token', ...over });
    await assert.rejects(wrong.read(bucket, 'private.txt'), (e: unknown) => e instanceof BackendError && e.kind === 'InvalidCredentials');
    wrong.destroy();
  }
});

test('secret_access_key signs every request: the right one is accepted, a wrong one refused (SignatureDoesNotMatch)', async () => {
  const be = backendFor(s3, { access_key_id: TEST_ACCESS_KEY, secret_access_key: TEST_SECRET_KEY });
  s3.clearRequests();
  assert.equal((await readAll((await be.read(bucket, 'private.txt')).body)).toString(), 'mine');
  await be.put(bucket, 'signed.txt', Buffer.from('signed'), { mtimeNs: 1n });
  assert.ok(s3.requests.length >= 2 && s3.requests.every((r) => r.status < 300), JSON.stringify(s3.requests.map((r) => [r.method, r.status])));
  be.destroy();
  const wrong = backendFor(s3, { access_key_id: TEST_ACCESS_KEY, secret_access_key: 'testing-secret-key-but-wrong' });
  s3.clearRequests();
  await assert.rejects(
    wrong.read(bucket, 'private.txt'),
    (e: unknown) => e instanceof BackendError && e.kind === 'InvalidCredentials' && /SignatureDoesNotMatch/.test(e.message),
  );
  await assert.rejects(
    wrong.put(bucket, 'unsigned.txt', Buffer.from('x'), { mtimeNs: 1n }),
    (e: unknown) => e instanceof BackendError && e.kind === 'InvalidCredentials',
  );
  assert.ok(s3.requests.length >= 2 && s3.requests.every((r) => r.status === 403), JSON.stringify(s3.requests.map((r) => [r.method, r.status])));
  assert.equal(await s3.getObject(bucket, 'unsigned.txt'), null, 'nothing stored with a wrong secret');
  wrong.destroy();
});

test('anonymous (blank keys): unsigned requests read public objects; writes get a clear error', async () => {
  const be = backendFor(s3, noKeys);
  s3.clearRequests();
  const { body } = await be.read(bucket, 'public.txt');
  assert.equal((await readAll(body)).toString(), 'for everyone');
  assert.equal(s3.requests[0]!.headers.authorization, undefined);
  await assert.rejects(be.read(bucket, 'private.txt'), (e: unknown) => e instanceof BackendError && e.kind === 'AccessDenied' && /anonymous/.test(e.message));
  // moto lets anonymous writes through; a real S3 denies them: do what S3 does to unsigned writes
  const denyUnsignedPut = (req: { method: string }) =>
    req.method === 'PUT' && !s3.hookedRequest().headers.authorization ? { status: 403, code: 'AccessDenied' } : undefined;
  await s3.withFault(denyUnsignedPut, () =>
    assert.rejects(
      be.put(bucket, 'x.txt', Buffer.from('x'), { mtimeNs: 1n }),
      (e: unknown) =>
        e instanceof BackendError && e.kind === 'AccessDenied' && e.message === 'PUT x.txt: access denied: anonymous access: writes need credentials',
    ),
  );
  be.destroy();
});

test('one key without the other is a configuration error, as rclone', () => {
  assert.throws(() => createS3Backend(defaultOptions(s3.endpoint, { access_key_id: 'A', secret_access_key: '' })), /secret_access_key not found/);
  assert.throws(() => createS3Backend(defaultOptions(s3.endpoint, { access_key_id: '', secret_access_key: 'S' })), /access_key_id not found/);
});

test('env_auth: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (or AWS_SECRET_KEY) + AWS_SESSION_TOKEN', async () => {
  const be = backendFor(
    s3,
    { ...noKeys, env_auth: true },
    { env: { AWS_ACCESS_KEY_ID: 'ENVKEY', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-token' } },
  );
  s3.clearRequests();
  await be.head(bucket, 'private.txt');
  assert.equal(keyIdOf(s3.requests[0]!.headers.authorization), 'ENVKEY');
  assert.equal(s3.requests[0]!.headers['x-amz-security-token'], 'env-token');
  be.destroy();
  const alias = backendFor(s3, { ...noKeys, env_auth: true }, { env: { AWS_ACCESS_KEY: 'ALIASKEY', AWS_SECRET_KEY: 'alias-secret' } });
  s3.clearRequests();
  await alias.head(bucket, 'private.txt');
  assert.equal(keyIdOf(s3.requests[0]!.headers.authorization), 'ALIASKEY');
  alias.destroy();
  // the secret (and token) came from the environment too: the server accepted the signatures
  assert.equal(s3.requests[0]!.status, 200);
});

test('env_auth: shared credentials file with profile (option beats AWS_PROFILE, file option beats AWS_SHARED_CREDENTIALS_FILE)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketfs-creds-'));
  const file = path.join(dir, 'credentials');
  writeFileSync(
    file,
    '[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = d\n[work]\naws_access_key_id = WORKKEY\naws_secret_access_key = w\naws_session_token = work-token\n[env]\naws_access_key_id = ENVPROFILEKEY\naws_secret_access_key = e\n',
  );
  const other = path.join(dir, 'other');
  writeFileSync(other, '[default]\naws_access_key_id = OTHERFILEKEY\naws_secret_access_key = o\n');
  const keyFor = async (over: Record<string, unknown>, env: NodeJS.ProcessEnv) => {
    const be = backendFor(s3, { ...noKeys, env_auth: true, ...over }, { env });
    s3.clearRequests();
    await be.head(bucket, 'private.txt');
    be.destroy();
    // signed with that profile's secret (and token): the server knows each key's own secret
    assert.equal(s3.requests[0]!.status, 200);
    return [keyIdOf(s3.requests[0]!.headers.authorization), s3.requests[0]!.headers['x-amz-security-token']];
  };
  assert.deepEqual(await keyFor({ shared_credentials_file: file, profile: 'work' }, { AWS_PROFILE: 'env' }), ['WORKKEY', 'work-token']);
  assert.deepEqual(await keyFor({ shared_credentials_file: file }, { AWS_PROFILE: 'env' }), ['ENVPROFILEKEY', undefined]);
  assert.deepEqual(await keyFor({ shared_credentials_file: file }, {}), ['DEFAULTKEY', undefined]);
  assert.deepEqual(await keyFor({}, { AWS_SHARED_CREDENTIALS_FILE: other }), ['OTHERFILEKEY', undefined]);
  assert.deepEqual(await keyFor({ shared_credentials_file: file }, { AWS_SHARED_CREDENTIALS_FILE: other }), ['DEFAULTKEY', undefined]);
  assert.deepEqual(await keyFor({}, { HOME: dir, AWS_SHARED_CREDENTIALS_FILE: other }), ['OTHERFILEKEY', undefined]);
  // environment variables come first
  assert.deepEqual(await keyFor({ shared_credentials_file: file, profile: 'work' }, { AWS_ACCESS_KEY_ID: 'ENVFIRST', AWS_SECRET_ACCESS_KEY: 'x' }), [
    'ENVFIRST',
    undefined,
  ]);
});

test('env_auth with no credentials anywhere: anonymous (unsigned) access, with an INFO line saying so', async () => {
  const saved = process.env.AWS_EC2_METADATA_DISABLED;
  process.env.AWS_EC2_METADATA_DISABLED = 'true'; // no instance metadata service here
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'bucketfs-nocreds-'));
    const lines: string[] = [];
    const log = { error: () => {}, notice: () => {}, info: (m: string) => lines.push(`INFO ${m}`), debug: () => {}, enabled: () => true };
    const be = backendFor(
      s3,
      { ...noKeys, env_auth: true, shared_credentials_file: path.join(dir, 'none'), profile: 'bucketfs-no-such-profile' },
      { env: { HOME: dir }, log },
    );
    s3.clearRequests();
    const { body } = await be.read(bucket, 'public.txt');
    assert.equal((await readAll(body)).toString(), 'for everyone');
    assert.equal(s3.requests[0]!.headers.authorization, undefined, 'the request went unsigned');
    assert.equal(s3.requests[0]!.headers['x-amz-security-token'], undefined);
    // the server's refusal reads as anonymous access, not as a credentials problem
    await assert.rejects(
      be.read(bucket, 'private.txt'),
      (e: unknown) => e instanceof BackendError && e.kind === 'AccessDenied' && /anonymous access/.test(e.message),
    );
    await be.head(bucket, 'public.txt');
    const info = lines.filter((l) => l.startsWith('INFO '));
    assert.equal(info.length, 1, `one INFO line, once per backend: ${JSON.stringify(lines)}`);
    assert.match(info[0]!, /^INFO env_auth: no credentials .*: using anonymous access$/);
    be.destroy();
  } finally {
    if (saved === undefined) delete process.env.AWS_EC2_METADATA_DISABLED;
    else process.env.AWS_EC2_METADATA_DISABLED = saved;
  }
});

test('credentials rejected by the server: InvalidCredentials without the secret in the message', async () => {
  // refused by the server itself: a key id it does not know, a secret that does not match
  const cases = [
    { code: 'InvalidAccessKeyId', keys: { access_key_id: 'UNKNOWNKEY', secret_access_key: TEST_SECRET_KEY } },
    { code: 'SignatureDoesNotMatch', keys: { access_key_id: TEST_ACCESS_KEY, secret_access_key: `${TEST_SECRET_KEY}-wrong` } },
  ];
  for (const { code, keys } of cases) {
    const be = backendFor(s3, keys);
    s3.clearRequests();
    await assert.rejects(be.read(bucket, 'private.txt'), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.equal(e.kind, 'InvalidCredentials');
      assert.match(e.message, new RegExp(`GET private.txt: credentials rejected by the server \\(${code}\\)`));
      for (const secret of [TEST_SECRET_KEY, keys.secret_access_key]) {
        assert.ok(!e.message.includes(secret));
        assert.ok(!String(e.stack).includes(secret));
      }
      return true;
    });
    assert.ok(s3.requests.length > 0 && s3.requests.every((r) => r.status === 403 && !r.injected), 'refused by the server');
    be.destroy();
  }
});

test('AWS_CA_BUNDLE pointing at garbage does not affect an http:// endpoint', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketfs-ca-'));
  const junk = path.join(dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate');
  for (const ca of [junk, path.join(dir, 'missing.pem')]) {
    const be = backendFor(s3, {}, { env: { AWS_CA_BUNDLE: ca } });
    assert.equal((await readAll((await be.read(bucket, 'private.txt')).body)).toString(), 'mine');
    be.destroy();
  }
});

test('client construction: endpoint scheme, AWS regional and accelerated hosts, default signing region', async () => {
  // No network: a middleware after signing records the request the SDK built and stops it.
  const quiet = { error: () => {}, notice: () => {}, info: () => {}, debug: () => {}, enabled: () => false };
  const capture = async (over: Parameters<typeof defaultOptions>[1]) => {
    const be = createS3Backend(defaultOptions('', over), { log: quiet, retries: 1 });
    let seen = '';
    let auth = '';
    be.ctx.client.middlewareStack.addRelativeTo(
      () => async (args: { request: unknown }) => {
        const r = args.request as { protocol: string; hostname: string; port?: number; path: string; headers: Record<string, string> };
        seen = `${r.protocol}//${r.hostname}${r.port ? `:${r.port}` : ''}${r.path}`;
        auth = r.headers.authorization ?? r.headers.Authorization ?? '';
        throw new Error('captured');
      },
      { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'captureForTest' },
    );
    await be.head('bkt', 'k').catch(() => {});
    be.destroy();
    return { url: seen, auth };
  };
  assert.equal((await capture({ region: 'eu-west-2', force_path_style: false })).url, 'https://bkt.s3.eu-west-2.amazonaws.com/k');
  assert.equal((await capture({ endpoint: 'minio.example.com:9000' })).url, 'https://minio.example.com:9000/bkt/k');
  assert.equal((await capture({ endpoint: 'http://ceph.local:7480', region: '' })).url, 'http://ceph.local:7480/bkt/k');
  assert.match((await capture({ endpoint: 'http://ceph.local:7480', region: '' })).auth, /\/us-east-1\/s3\/aws4_request/);
  assert.equal((await capture({ use_accelerate_endpoint: true, force_path_style: false })).url, 'https://bkt.s3-accelerate.amazonaws.com/k');
  assert.throws(() => createS3Backend(defaultOptions('', { v2_auth: true })), /v2 signatures are not supported/);
});
