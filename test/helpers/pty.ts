// Running an interactive program (rclone config, bucketfs config) in a real pseudo-terminal with
// scripted answers, through test/helpers/pty-dialog.py. The answers travel on the helper's stdin
// (never its command line), so passwords and secret keys stay out of the process list.
import path from 'node:path';
import { repoRoot } from './s3-server.js';
import { run } from './run.js';

/** [the text the output ends with when the answer is due, the answer] */
export type Step = [prompt: string, answer: string];

export interface PtyResult {
  /** everything written to the terminal (CR LF line ends, colours as written) */
  out: string;
  /** answers never given: their prompt never came */
  left: number;
  /** exit code; null when the program had to be killed at the time limit */
  code: number | null;
}

export async function runInPty(argv: string[], steps: Step[], opts: { env?: NodeJS.ProcessEnv; timeoutSec?: number } = {}): Promise<PtyResult> {
  const spec = { argv, steps, timeout: opts.timeoutSec ?? 60 };
  const r = await run('python3', [path.join(repoRoot, 'test/helpers/pty-dialog.py')], {
    env: opts.env,
    input: JSON.stringify(spec),
    timeoutMs: (spec.timeout + 10) * 1000,
  });
  if (r.code !== 0) throw new Error(`pty helper failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as PtyResult;
}

/** `text` with every one of `secrets` replaced, for a failure message. */
export function hide(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}
