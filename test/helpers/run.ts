// Running bucketfs (the built CLI, as a user would) and boto3 (an independent S3 client,
// used to prove interoperability) from tests.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './s3-server.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export const bucketfsBin = path.join(repoRoot, 'bin/bucketfs');

/** Run a command to completion; stdin from `input` (or closed). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: Buffer | string; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Run the bucketfs CLI. */
export function bucketfs(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: Buffer | string; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run(process.execPath, [bucketfsBin, ...args], opts);
}

/**
 * Run a Python snippet with boto3 bound to `endpoint`: the snippet sees `s3` (a boto3 client)
 * and `json`; whatever it prints is returned. Throws with stderr when it fails.
 */
export async function boto3(endpoint: string, code: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const prelude = [
    'import boto3, json, sys, os',
    'from botocore.config import Config',
    `s3 = boto3.client("s3", endpoint_url=${JSON.stringify(endpoint)}, region_name="us-east-1", aws_access_key_id="testing-access-key", aws_secret_access_key="testing-secret-key-do-not-print", config=Config(s3={"addressing_style": "path"}))`,
  ].join('\n');
  const e = { ...process.env, ...env };
  delete e.AWS_CA_BUNDLE;
  const r = await run('python3', ['-c', `${prelude}\n${code}`], { env: e });
  if (r.code !== 0) throw new Error(`boto3 snippet failed: ${r.stderr}`);
  return r.stdout;
}
