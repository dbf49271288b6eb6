// The model-based test of the write layer with real crashes: the Vfs runs in a child process
// (crash-child.ts, over the test server) that is SIGKILLed, between two operations or in the
// middle of one (an upload, a journal write, a rename's copy…). Then a Vfs in this process
// recovers the cache directory the child left and every name must be in a state the reference
// model (write-model.ts) allows — exactly its last closed/fsynced content when it was not
// changed since — with the operation in flight counted as done or not done; after the
// recovered uploads the bucket holds exactly what reads showed. Then the next child goes on
// from there. write-model.test.ts covers many more sequences in process, with crashes between
// operations only.
//
// REFTEST_SEED=<n> runs one seed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useS3Bucket } from '../helpers/mount.js';
import { prng } from '../helpers/rng.js';
import { cleanupVfsDirs, motoBackend, unmountVfs, vfsCacheDir, vfsInstance } from '../helpers/vfs-instance.js';
import { opData } from './crash-child.js';
import { Model, describe } from './write-model.js';

// (each seed makes a bucket of its own)
const s3b = useS3Bucket('crash-setup');
after(cleanupVfsDirs);

const NAMES = ['a', 'b', 'c'];
const ROUNDS = 3;
const child = fileURLToPath(new URL('./crash-child.js', import.meta.url));

/** a random operation that is valid in the model's state (this test checks crashes, not errors) */
function gen(r: ReturnType<typeof prng>, m: Model, handle: () => string): string {
  const handles = [...m.handles.keys()];
  const names = [...m.names.keys()];
  const name = NAMES[r.int(0, NAMES.length - 1)]!;
  const roll = r.int(0, 99);
  if (roll < 15 || handles.length === 0) return `open ${name}${r.int(0, 3) === 0 ? ' trunc' : ''} ${handle()}`;
  const h = handles[r.int(0, handles.length - 1)]!;
  const size = m.handles.get(h)!.content.length;
  if (roll < 50) {
    const offset = r.int(0, 2) === 0 ? r.int(0, size) : size;
    return `write h${h} ${offset} ${r.int(1, 20_000)} ${r.int(0, 2 ** 30)}`;
  }
  if (roll < 55) return `ftruncate h${h} ${r.int(0, size + 1000)}`;
  if (roll < 65) return `fsync h${h}`;
  if (roll < 85) return `close h${h}`;
  if (names.length === 0) return `fsync h${h}`;
  const existing = names[r.int(0, names.length - 1)]!;
  const other = NAMES.filter((n) => n !== existing)[r.int(0, NAMES.length - 2)]!;
  if (roll < 92) return `rename ${existing} ${other}`;
  if (roll < 96) return `unlink ${existing}`;
  return `truncate ${existing} ${r.int(0, m.names.get(existing)!.item.content.length + 1000)}`;
}

function applyModel(m: Model, op: string): void {
  const [verb, a = '', b = '', c = '', d = ''] = op.split(' ');
  const item = m.handles.get(Number(a.slice(1)));
  switch (verb) {
    case 'open': {
      const trunc = b === 'trunc';
      const id = Number((trunc ? c : b).slice(1));
      const st = m.names.get(a);
      const it = st ? st.item : m.create(a);
      if (st && trunc) it.truncate(0);
      m.handles.set(id, it);
      return;
    }
    case 'write':
      return item!.write(Number(b), opData(Number(c), Number(d)));
    case 'ftruncate':
      return item!.truncate(Number(b));
    case 'fsync':
      return m.madeDurable(item!);
    case 'close':
      m.handles.delete(Number(a.slice(1)));
      return m.madeDurable(item!);
    case 'rename':
      return m.rename(a, b);
    case 'unlink':
      return m.unlink(a);
    case 'truncate':
      return m.names.get(a)!.item.truncate(Number(b));
  }
}

class Child {
  readonly proc: ChildProcess;
  private out = '';
  private err = '';
  private waiting: ((line: string) => void) | undefined;
  readonly exited: Promise<void>;

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [child, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stderr!.on('data', (b: Buffer) => (this.err += b.toString()));
    this.proc.stdout!.on('data', (b: Buffer) => {
      this.out += b.toString();
      for (let nl = this.out.indexOf('\n'); nl >= 0 && this.waiting; nl = this.out.indexOf('\n')) {
        const line = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      }
    });
  }

  /** the next line the child prints */
  line(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      void this.exited.then(() => reject(new Error(`the child exited: ${this.err}`)));
      this.proc.stdout!.emit('data', Buffer.alloc(0));
    });
  }

  send(op: string): void {
    this.proc.stdin!.write(op + '\n');
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    // reaped: recovery must not take the dead child's pid for a live mount
    await this.exited;
  }
}

async function runSeed(seed: number): Promise<void> {
  const r = prng(seed);
  const cfg = { mode: seed % 2 === 0 ? 'writes' : 'full', writeBackMs: seed % 3 === 0 ? 0 : 5000 } as const;
  const bucket = `crash-${seed}`;
  await s3b.s3.createBucket(bucket);
  const cacheDir = vfsCacheDir('bucketfs-crash-');
  let model = new Model();
  // files that are there before the first mount: opened, they are changed in cache files
  const initial = new Map(NAMES.slice(0, 2).map((n, i) => [n, opData(r.int(1, 30_000), seed * 10 + i)]));
  for (const [n, data] of initial) await s3b.s3.putObject(bucket, n, data);
  model.recovered(initial);
  let nextHandle = 1;
  const log: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const c = new Child([s3b.s3.endpoint, bucket, cacheDir, cfg.mode, String(cfg.writeBackMs)]);
    let models = [model];
    try {
      assert.equal(await c.line(), 'ready');
      const steps = r.int(3, 25);
      for (let i = 0; i < steps; i++) {
        const op = gen(r, model, () => `h${nextHandle++}`);
        log.push(op);
        c.send(op);
        if (i === steps - 1 && r.int(0, 1) === 0) {
          // killed in the middle of it: done or not done
          await new Promise((res) => setTimeout(res, r.int(0, 30)));
          const done = model.clone();
          applyModel(done, op);
          models = [model, done];
          log.push('crash during it');
          break;
        }
        const reply = await c.line();
        assert.equal(reply, 'ok', `${op}: ${reply}`);
        applyModel(model, op);
      }
      if (models.length === 1) log.push('crash');
    } finally {
      await c.kill();
    }
    // a mount over what the child left
    if (process.env.REFTEST_VERBOSE) {
      const keys = await s3b.s3.listKeys(bucket, '');
      console.log(
        `round ${round} after the kill: [${log.join('; ')}] bucket: ${(await Promise.all(keys.map(async (k) => `${k}=${describe(await s3b.s3.getObject(bucket, k))}`))).join(', ')}`,
      );
    }
    const inst = await vfsInstance({ backend: motoBackend(s3b.s3), bucket, cacheDir, opts: { cacheMode: cfg.mode, writeBackMs: cfg.writeBackMs } });
    try {
      const listed = (await inst.vfs.readdir('/')).map((e) => e.name);
      const found = new Map<string, Buffer>();
      for (const name of listed) {
        const fh = await inst.vfs.open('/' + name, 0);
        try {
          const size = (await inst.vfs.getattr('/' + name)).size;
          const buf = Buffer.alloc(size);
          for (let off = 0; off < size;) off += await inst.vfs.read(fh, buf.subarray(off), size - off, off);
          found.set(name, buf);
        } finally {
          await inst.vfs.release(fh);
        }
      }
      const verdicts = models.map(
        (m) => [...new Set([...NAMES, ...listed])].map((n) => m.crashViolation(n, found.get(n) ?? null)).find((v) => v !== null) ?? null,
      );
      const ok = verdicts.findIndex((v) => v === null);
      assert.ok(ok >= 0, `seed ${seed} (${cfg.mode}, write-back ${cfg.writeBackMs}ms), ops [${log.join('; ')}]: ${verdicts.join(' / ')}`);
      model = models[ok]!;
      model.recovered(found);
      await inst.vfs.flushAll();
      const keys = (await s3b.s3.listKeys(bucket, '')).sort();
      assert.deepEqual(keys, [...found.keys()].sort(), `seed ${seed}: objects after the recovered uploads, ops [${log.join('; ')}]`);
      for (const [name, data] of found) {
        const obj = await s3b.s3.getObject(bucket, name);
        assert.ok(obj?.equals(data), `seed ${seed}: object ${name} is ${describe(obj)}, reads showed ${describe(data)}`);
      }
    } catch (err) {
      (err as Error & { ops?: string[] }).ops ??= log;
      throw err;
    } finally {
      await unmountVfs(inst.vfs).catch(() => undefined);
    }
  }
}

async function runSeedLogged(seed: number): Promise<void> {
  try {
    await runSeed(seed);
  } catch (err) {
    const e = err as Error & { ops?: string[] };
    if (e.ops) e.message = `seed ${seed}, ops [${e.ops.join('; ')}]\n${e.message}`;
    throw e;
  }
}

const one = process.env.REFTEST_SEED;
/**
 * Seeds that find known bugs of the write layer: they run as todo tests (reported, not failing
 * the suite) until the bugs are fixed, then move to the seeds below.
 */
const KNOWN_BUGS: Record<number, string> = {};

// seed 1 found that a local rename of a never-flushed file over a pending one lost both after a
// crash (the moved file is now journaled before the rename), seed 5 that a file renamed on the
// server was recovered as a false conflict (the copy's ETag is now kept): crash-bugs.test.ts
const seeds = one !== undefined ? [Number(one)] : [1, 2, 3, 4, 5, 6];
for (const seed of seeds) {
  const todo = KNOWN_BUGS[seed];
  test(`write layer against the model, killed mid-sequence, seed ${seed}`, { timeout: 90_000, ...(todo && one === undefined ? { todo } : {}) }, () =>
    runSeedLogged(seed),
  );
}
