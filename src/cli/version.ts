// `bucketfs --version`, laid out as rclone's: the version, then what a bug report needs to know
// about the machine (OS, kernel, architecture) and the parts bucketfs runs on (Node, libfuse,
// the AWS SDK). Read from the files that say so, never by running a program.
import { readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';

function readJsonVersion(url: URL): string | undefined {
  try {
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** bucketfs's own version (package.json) */
export function packageVersion(): string {
  return readJsonVersion(new URL('../../../package.json', import.meta.url)) ?? 'unknown';
}

/** "Debian GNU/Linux 12 (bookworm)" from /etc/os-release */
function osVersion(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
    if (m?.[1]) return m[1];
  } catch {
    // not Linux, or a minimal container
  }
  return `${os.type()} ${os.release()}`;
}

/** the version of the system's libfuse 3 (what the binding loads: libfuse3.so.3 → libfuse3.so.3.14.0) */
function libfuseVersion(): string {
  const dirs = [
    '/lib/x86_64-linux-gnu',
    '/usr/lib/x86_64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib64',
    '/lib',
  ];
  for (const d of dirs) {
    try {
      const m = /libfuse3\.so\.(\d+(?:\.\d+)*)$/.exec(realpathSync(`${d}/libfuse3.so.3`));
      if (m?.[1]) return m[1];
    } catch {
      // not in this directory
    }
  }
  return 'not found (install fuse3)';
}

/** what `bucketfs --version` prints */
export function versionText(): string {
  return [
    `bucketfs v${packageVersion()}`,
    `- os/version: ${osVersion()}`,
    `- os/kernel: ${os.release()} (${os.machine()})`,
    `- os/type: ${os.platform()}`,
    `- os/arch: ${process.arch}`,
    `- node/version: ${process.version}`,
    `- libfuse/version: ${libfuseVersion()}`,
    `- aws-sdk/version: ${readJsonVersion(new URL('../../../node_modules/@aws-sdk/client-s3/package.json', import.meta.url)) ?? 'unknown'} (@aws-sdk/client-s3)`,
  ].join('\n');
}
