// The VFS scenarios, written once against the Driver interface (drivers.ts) and run by
// vfs-direct.test.ts (straight into a Vfs) and vfs-mount.test.ts (through a kernel mount), in
// every --vfs-cache-mode. Where the modes differ the expectation is spelled out per mode:
//   off      streams only: an existing file opened for writing needs O_TRUNC, a write behind
//            the end or a read of a file being written is EPERM
//   minimal  as off, except that O_RDWR opens get a cache file
//   writes, full   everything works
// Each scenario works in a folder of its own; files that must exist before it starts are put
// into the bucket directly before the driver starts (so listings show them, and no pending
// state of an earlier close through this mount can be shared by the next open: in off mode an
// O_APPEND reopen right after close races the kernel's RELEASE of the first handle).
import assert from 'node:assert/strict';
import type { CacheMode, Driver } from './drivers.js';

export interface Ctx {
  d: Driver;
  mode: CacheMode;
  /** the scenario's folder, as a mount path ('/name') */
  dir: string;
  /** the object below the scenario's folder, as the bucket holds it (null: none) */
  object(name: string): Promise<Buffer | null>;
}

export interface Scenario {
  name: string;
  /** objects to put into the scenario's folder first */
  seeds?: Record<string, string>;
  run(c: Ctx): Promise<void>;
}

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
const cached = (m: CacheMode) => m === 'writes' || m === 'full';

async function writeFile(d: Driver, p: string, data: string | Buffer, flags: 'w' | 'wx' = 'w'): Promise<void> {
  const f = await d.open(p, flags);
  try {
    await f.write(data, 0);
  } finally {
    await f.close();
  }
}

async function readFile(d: Driver, p: string): Promise<string> {
  const f = await d.open(p, 'r');
  try {
    const s = await d.stat(p);
    return (await f.read(s.size + 16, 0)).toString();
  } finally {
    await f.close();
  }
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'a new file reads back, with its size',
    async run({ d, dir }) {
      await writeFile(d, `${dir}/new.txt`, 'hello, world');
      assert.equal(await readFile(d, `${dir}/new.txt`), 'hello, world');
      assert.equal((await d.stat(`${dir}/new.txt`)).size, 12);
      await assert.rejects(d.open(`${dir}/new.txt`, 'wx'), code('EEXIST'));
    },
  },
  {
    name: 'overwrite: O_TRUNC in every mode, in place only with a cache file',
    seeds: { 'f.txt': 'hello world' },
    async run({ d, dir, mode }) {
      const p = `${dir}/f.txt`;
      if (mode === 'off') {
        await assert.rejects(d.open(p, 'r+'), code('EPERM'), 'O_RDWR without O_TRUNC needs a cache file');
      } else {
        const f = await d.open(p, 'r+');
        await f.write('HELLO', 0);
        assert.equal((await f.read(11, 0)).toString(), 'HELLO world');
        await f.close();
        assert.equal(await readFile(d, p), 'HELLO world');
      }
      await writeFile(d, p, 'replaced');
      assert.equal(await readFile(d, p), 'replaced');
    },
  },
  {
    name: 'append: O_APPEND writes at the end of an existing file (with a cache file)',
    seeds: { 'log.txt': 'one\n', 'log2.txt': 'one\n' },
    async run({ d, dir, mode }) {
      // write-only O_APPEND: a cache file in writes/full only
      if (cached(mode)) {
        const f = await d.open(`${dir}/log.txt`, 'a');
        await f.write('two\n', null);
        await f.close();
        assert.equal(await readFile(d, `${dir}/log.txt`), 'one\ntwo\n');
      } else await assert.rejects(d.open(`${dir}/log.txt`, 'a'), code('EPERM'));
      // O_RDWR|O_APPEND: minimal gives it a cache file too
      if (mode === 'off') await assert.rejects(d.open(`${dir}/log2.txt`, 'a+'), code('EPERM'));
      else {
        const f = await d.open(`${dir}/log2.txt`, 'a+');
        await f.write('two\n', null);
        await f.write('three\n', null);
        await f.close();
        assert.equal(await readFile(d, `${dir}/log2.txt`), 'one\ntwo\nthree\n');
      }
      // a new file opened O_APPEND streams in every mode
      const f = await d.open(`${dir}/new.log`, 'a');
      await f.write('a', null);
      await f.write('b', null);
      await f.close();
      assert.equal(await readFile(d, `${dir}/new.log`), 'ab');
    },
  },
  {
    name: 'truncate shrinks and extends (with zeros); to 0 in every mode',
    seeds: { 't.txt': '0123456789', 'z.txt': 'to be emptied' },
    async run({ d, dir, mode }) {
      const p = `${dir}/t.txt`;
      if (mode === 'off') await assert.rejects(d.truncate(p, 4), code('EPERM'));
      else {
        await d.truncate(p, 4);
        assert.equal(await readFile(d, p), '0123');
        await d.truncate(p, 8);
        assert.equal(await readFile(d, p), '0123\0\0\0\0');
        assert.equal((await d.stat(p)).size, 8);
      }
      await d.truncate(`${dir}/z.txt`, 0);
      assert.equal((await d.stat(`${dir}/z.txt`)).size, 0);
      // ftruncate of a file being written (a stream can shrink what it has not sent)
      const f = await d.open(`${dir}/n.txt`, 'w');
      await f.write('abcdef', 0);
      await f.truncate(3);
      await f.close();
      assert.equal(await readFile(d, `${dir}/n.txt`), 'abc');
    },
  },
  {
    name: 'rename of a file and of a folder',
    seeds: { 'a.txt': 'A', 'sub/x': 'X', 'sub/y': 'Y' },
    async run({ d, dir, object }) {
      await d.rename(`${dir}/a.txt`, `${dir}/b.txt`);
      assert.equal(await readFile(d, `${dir}/b.txt`), 'A');
      await assert.rejects(d.stat(`${dir}/a.txt`), code('ENOENT'));
      await d.rename(`${dir}/sub`, `${dir}/moved`);
      assert.deepEqual(await d.readdir(`${dir}/moved`), ['x', 'y']);
      assert.equal(await readFile(d, `${dir}/moved/y`), 'Y');
      await assert.rejects(d.stat(`${dir}/sub`), code('ENOENT'));
      assert.deepEqual(await d.readdir(dir), ['b.txt', 'moved']);
      assert.equal(await object('a.txt'), null);
      assert.equal((await object('moved/x'))?.toString(), 'X');
      // a file written here, renamed before its upload
      await writeFile(d, `${dir}/new`, 'fresh');
      await d.rename(`${dir}/new`, `${dir}/renamed`);
      assert.equal(await readFile(d, `${dir}/renamed`), 'fresh');
    },
  },
  {
    name: 'unlink while open: the name goes at once, the open file stays readable',
    seeds: { 'r.txt': 'read me while deleted' },
    async run({ d, dir, mode, object }) {
      const r = await d.open(`${dir}/r.txt`, 'r');
      try {
        await d.unlink(`${dir}/r.txt`);
        await assert.rejects(d.stat(`${dir}/r.txt`), code('ENOENT'));
        assert.deepEqual(await d.readdir(dir), []);
        assert.equal((await r.read(100, 0)).toString(), 'read me while deleted');
      } finally {
        await r.close();
      }
      const w = await d.open(`${dir}/w.txt`, mode === 'off' ? 'w' : 'w+');
      try {
        await w.write('unlinked while written', 0);
        await d.unlink(`${dir}/w.txt`);
        await w.write('!', 22);
        if (mode !== 'off') assert.equal((await w.read(100, 0)).toString(), 'unlinked while written!');
      } finally {
        await w.close();
      }
      await assert.rejects(d.stat(`${dir}/w.txt`), code('ENOENT'));
      assert.equal(await object('w.txt'), null);
    },
  },
  {
    name: 'readdir after create and delete',
    async run({ d, dir }) {
      assert.deepEqual(await d.readdir(dir), []);
      await writeFile(d, `${dir}/x`, 'x');
      await writeFile(d, `${dir}/y`, 'y');
      assert.deepEqual(await d.readdir(dir), ['x', 'y']);
      await d.unlink(`${dir}/x`);
      assert.deepEqual(await d.readdir(dir), ['y']);
      await assert.rejects(d.unlink(`${dir}/x`), code('ENOENT'));
    },
  },
  {
    name: 'mkdir and rmdir (ENOTEMPTY while something is inside)',
    async run({ d, dir }) {
      await d.mkdir(`${dir}/sub`);
      assert.ok((await d.stat(`${dir}/sub`)).isDir);
      await assert.rejects(d.mkdir(`${dir}/sub`), code('EEXIST'));
      await writeFile(d, `${dir}/sub/f`, 'f');
      await assert.rejects(d.rmdir(`${dir}/sub`), code('ENOTEMPTY'));
      await d.unlink(`${dir}/sub/f`);
      await d.rmdir(`${dir}/sub`);
      await assert.rejects(d.stat(`${dir}/sub`), code('ENOENT'));
      assert.deepEqual(await d.readdir(dir), []);
    },
  },
  {
    name: 'sparse and out-of-order writes; behind bytes already sent: EPERM without a cache file',
    async run({ d, dir, mode }) {
      // a hole, then a write behind the end: all still in the stream's buffer, fine in every mode
      const s = await d.open(`${dir}/hole`, 'w');
      await s.write('x', 4096);
      await s.write('y', 0);
      await s.close();
      assert.equal(await readFile(d, `${dir}/hole`), 'y' + '\0'.repeat(4095) + 'x');
      // past one part (5 MiB) the stream has sent bytes: a write behind them needs a cache file
      // (minimal allows one for every created file: create(2) opens it read-write)
      const big = Buffer.alloc(6 * 1024 * 1024, 0x61);
      const f = await d.open(`${dir}/big`, 'w');
      try {
        await f.write(big, 0);
        if (mode !== 'off') await f.write('B', 0);
        else await assert.rejects(f.write('B', 0), code('EPERM'));
      } finally {
        await f.close();
      }
      const head = await d.open(`${dir}/big`, 'r');
      try {
        assert.equal((await head.read(2, 0)).toString(), mode !== 'off' ? 'Ba' : 'aa');
      } finally {
        await head.close();
      }
      assert.equal((await d.stat(`${dir}/big`)).size, big.length);
    },
  },
  {
    name: 'utimes sets the mtime, which stays after a remount',
    async run({ d, dir }) {
      await writeFile(d, `${dir}/m`, 'm');
      const when = new Date(Date.UTC(2001, 1, 3, 4, 5, 6, 789));
      await d.utimes(`${dir}/m`, when);
      assert.equal((await d.stat(`${dir}/m`)).mtimeMs, when.getTime());
      await d.remount();
      assert.equal((await d.stat(`${dir}/m`)).mtimeMs, when.getTime());
    },
  },
  {
    name: 'after a remount everything written is in the bucket and reads back',
    seeds: { 'old.txt': 'old' },
    async run({ d, dir, mode, object }) {
      await writeFile(d, `${dir}/a`, 'alpha');
      const big = Buffer.alloc(300_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      await writeFile(d, `${dir}/big`, big);
      if (mode !== 'off') {
        const f = await d.open(`${dir}/old.txt`, 'r+');
        await f.write('O', 0);
        await f.sync();
        await f.close();
      }
      await d.unlink(`${dir}/a`);
      await writeFile(d, `${dir}/a`, 'again');
      await d.remount();
      assert.equal(await readFile(d, `${dir}/a`), 'again');
      assert.equal((await object('a'))?.toString(), 'again');
      assert.ok((await object('big'))?.equals(big));
      assert.equal((await object('old.txt'))?.toString(), mode === 'off' ? 'old' : 'Old');
      assert.deepEqual(await d.readdir(dir), ['a', 'big', 'old.txt']);
    },
  },
];
