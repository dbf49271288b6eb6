// scripts/setup's Debian packages, planned with the real apt-get (-s: simulate) against made-up
// machines: a dpkg database derived from this one, without FUSE, or with FUSE 2 (Debian's fuse,
// which conflicts with fuse3). Setup must never plan to remove a package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const STATUS = '/var/lib/dpkg/status';
const FUSE_PACKAGES = new Set(['fuse', 'fuse3', 'libfuse3-3', 'libfuse3-dev']);
const canPlan = existsSync(STATUS) && spawnSync('apt-cache', ['show', 'fuse3'], { encoding: 'utf8' }).status === 0;
const SKIP = canPlan ? false : 'needs Debian with apt package lists (apt-cache show fuse3)';

function stanzaName(stanza: string): string | undefined {
  return /^Package: (\S+)/m.exec(stanza)?.[1];
}

/** this machine's dpkg status without its FUSE packages, plus `extra` stanzas */
function machine(extra: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bucketfs-dpkg-'));
  const stanzas = readFileSync(STATUS, 'utf8')
    .split(/\n\n+/)
    .filter((s) => s.trim() !== '' && !FUSE_PACKAGES.has(stanzaName(s) ?? ''));
  writeFileSync(path.join(dir, 'status'), [...stanzas, ...extra].join('\n\n') + '\n');
  return dir;
}

/** Debian's fuse (FUSE 2) as dpkg records an installed package, from the archive's record */
function installedFuse2(): string {
  const record = spawnSync('apt-cache', ['show', 'fuse'], { encoding: 'utf8' }).stdout.split(/\n\n/)[0]!;
  const fields = record
    .split('\n')
    .filter((l) =>
      /^(Package|Version|Architecture|Multi-Arch|Priority|Section|Maintainer|Installed-Size|Depends|Pre-Depends|Conflicts|Replaces|Provides|Breaks): /.test(l),
    );
  fields.splice(1, 0, 'Status: install ok installed');
  return fields.join('\n');
}

function plan(admindir: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/setup'), '--plan'], {
    encoding: 'utf8',
    env: { ...process.env, BUCKETFS_DPKG_ADMINDIR: admindir },
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

function simulate(admindir: string, pkgs: string[]): string[] {
  const r = spawnSync('apt-get', ['-s', '-o', `Dir::State::status=${admindir}/status`, 'install', ...pkgs], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('Remv '))
    .map((l) => l.split(' ')[1]!);
}

test('setup on a machine without FUSE: installs fuse3 and libfuse3-dev, removes nothing', { skip: SKIP }, () => {
  const dir = machine([]);
  try {
    const p = plan(dir);
    assert.equal(p.code, 0, p.err);
    assert.match(p.out, /^setup plan: install fuse3 libfuse3-dev( \S+)*; removes: nothing$/);
    assert.doesNotMatch(p.out, /install .*\bfuse\b(?!3)/, 'never FUSE 2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setup on a machine with FUSE 2 (fuse): leaves fuse3 out, says what to do, removes nothing', { skip: SKIP }, () => {
  const dir = machine([installedFuse2()]);
  try {
    // the made-up machine is what it claims: there, fuse3 would remove fuse
    assert.deepEqual(simulate(dir, ['fuse3']), ['fuse']);
    const p = plan(dir);
    assert.equal(p.code, 0, p.err);
    assert.match(p.out, /^setup plan: install libfuse3-dev( \S+)*; removes: nothing$/);
    assert.doesNotMatch(p.out, /fuse3 /);
    assert.match(p.err, /the fuse package \(FUSE 2\) is installed, and fuse3 would replace it/);
    assert.match(p.err, /apt-get install fuse3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setup on this machine: nothing it would install removes a package', { skip: SKIP }, () => {
  const p = plan('/var/lib/dpkg');
  assert.equal(p.code, 0, p.err);
  assert.match(p.out, /^setup plan: (nothing to install|install .*; removes: nothing)$/);
});
