// Shared set-up for the CLI integration tests (test/integration/cli-*.test.ts): a moto server
// behind the recording proxy, an environment with the env-only remote `moto:`, and a runner
// that checks what every test must hold for every run: the secret key never appears in any
// output, and no stack trace is printed.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestS3, TEST_SECRET_KEY, type StartOptions } from '../helpers/s3-server.js';
import { bucketfs, run, type RunResult } from '../helpers/run.js';

export { TestS3, TEST_SECRET_KEY };

export interface CliEnv {
  s3: TestS3;
  env: NodeJS.ProcessEnv;
  dir: string;
}

/**
 * Start moto and build the child environment. TZ=UTC makes listing times (printed in local
 * time, as rclone does) deterministic. RCLONE_CONFIG points at an empty file of our own so
 * that no config of the machine running the tests can leak in.
 */
export async function startCli(opts: StartOptions = {}): Promise<CliEnv> {
  const s3 = await TestS3.start(opts);
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketfs-cli-'));
  const conf = path.join(dir, 'empty-rclone.conf');
  writeFileSync(conf, '');
  const env = s3.env('moto', { TZ: 'UTC', RCLONE_CONFIG: conf });
  return { s3, env, dir };
}

/**
 * For a test file's top level: a before() that runs startCli() and creates `bucket`, and an
 * after() that stops the server and removes the temporary directory. The returned CliEnv is
 * filled in by that before() (use it only inside hooks and tests).
 */
export function useCli(bucket: string): CliEnv {
  const c = {} as CliEnv;
  before(async () => {
    Object.assign(c, await startCli());
    await c.s3.createBucket(bucket);
  });
  after(async () => {
    await c.s3?.stop();
    if (c.dir) rmSync(c.dir, { recursive: true, force: true });
  });
  return c;
}

/** Every output of every run: never the secret, never a stack frame. */
export function checkClean(r: RunResult, args: string[]): void {
  const all = r.stdoutBytes.toString('latin1') + r.stderr;
  assert.ok(!all.includes(TEST_SECRET_KEY), `the secret key appeared in the output of bucketfs ${args.join(' ')}`);
  assert.ok(!/^\s+at .+/m.test(r.stderr), `a stack trace appeared on stderr of bucketfs ${args.join(' ')}:\n${r.stderr}`);
}

export async function cli(
  c: CliEnv,
  args: string[],
  opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  // one attempt, as the tests run the rclone oracle (--retries 1), unless the test is about --retries
  const once = args.some((a) => a === '--retries' || a.startsWith('--retries=')) ? args : ['--retries', '1', ...args];
  const r = await bucketfs(once, { env: opts.env ?? c.env, input: opts.input, cwd: opts.cwd, timeoutMs: opts.timeoutMs });
  checkClean(r, args);
  return r;
}

/** A run that must succeed; returns stdout. */
export async function ok(c: CliEnv, args: string[], opts: Parameters<typeof cli>[2] = {}): Promise<string> {
  const r = await cli(c, args, opts);
  assert.equal(r.code, 0, `bucketfs ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A run that must fail with exactly one line `bucketfs: …` on stderr. */
export async function fails(c: CliEnv, args: string[], opts: Parameters<typeof cli>[2] & { code?: number; match?: RegExp } = {}): Promise<RunResult> {
  const r = await cli(c, args, opts);
  assert.notEqual(r.code, 0, `bucketfs ${args.join(' ')} should have failed; stdout: ${r.stdout}`);
  // rclone's whole-run retry logs each failed attempt (--retries): a log line, not the error's
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !/^\S+ \S+ ERROR : Attempt \d+\/\d+ failed with /.test(l));
  assert.equal(lines.length, 1, `expected one line on stderr from bucketfs ${args.join(' ')}, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^bucketfs: \S/);
  if (opts.code !== undefined) assert.equal(r.code, opts.code, `exit code of bucketfs ${args.join(' ')}: ${r.stderr}`);
  if (opts.match) assert.match(lines[0]!, opts.match);
  return r;
}

/** Request types that change something on the server. */
// 'oth' covers POST ?restore.
export const WRITE_TYPES = ['PUT', 'COPY', 'DEL', 'MPc', 'MPp', 'MPf', 'MPabort', 'oth'];

export function writes(s3: TestS3): number {
  const c = s3.counts();
  return WRITE_TYPES.reduce((n, t) => n + (c[t] ?? 0), 0);
}

/** A before() hook's check that the rclone oracle is installed (scripts/setup installs it). */
export async function requireRclone(): Promise<void> {
  const v = await run('rclone', ['version']).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }) as RunResult);
  assert.equal(v.code, 0, `rclone is needed for this test (Debian package rclone; scripts/setup installs it): ${v.stderr}`);
}

/**
 * rclone (the oracle) on the test server (c.env has no AWS_CA_BUNDLE): one attempt, as cli()
 * runs bucketfs, unless the test is about --retries; the secret never in its output.
 */
export async function rcloneOn(c: CliEnv, args: string[], opts: { input?: string; retries?: boolean } = {}): Promise<RunResult> {
  const r = await run('rclone', [...(opts.retries ? [] : ['--retries', '1']), ...args], { env: c.env, input: opts.input });
  assert.ok(!(r.stdout + r.stderr).includes(TEST_SECRET_KEY), `the secret appeared in the output of rclone ${args.join(' ')}`);
  return r;
}

/**
 * Log lines of rclone or bucketfs without what differs between runs: the timestamps, rates,
 * elapsed and relative times, the program's name, and `names` (buckets, directories) as <ROOT>.
 */
export function neutralLines(stderr: string, names: string[]): string[] {
  let s = stderr;
  for (const n of names) s = s.split(n).join('<ROOT>');
  return s
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''))
    .map((l) => l.replace(/\(\d+h\d+m[\d.]+s ago\)/g, '(<AGO> ago)'))
    .map((l) => l.replace(/, [^,]*\/s, ETA/, ', <RATE>, ETA'))
    .map((l) => l.replace(/^(bucketfs|rclone): /, '<PROG>: ').replace(/Exit (bucketfs|rclone) now/, 'Exit <PROG> now'))
    .filter((l) => !l.startsWith('Elapsed time:') && l.trim() !== '' && !l.includes('Config file'));
}
