// The mount process of write-crash.test.ts: a Vfs over the test server that runs the
// operations it reads from stdin (one a line, as write-crash.test.ts writes them) and answers
// each with a line ("ok", or "err <message>"), until it is killed.
//   node crash-child.js <endpoint> <bucket> <cache-dir> <cache-mode> <write-back-ms>
import readline from 'node:readline';
import { prng } from '../helpers/rng.js';
import type { TestS3 } from '../helpers/s3-server.js';
import { motoBackend, vfsInstance } from '../helpers/vfs-instance.js';

const O_RDWR = 2;
const O_TRUNC = 0o1000;

export function opData(len: number, seed: number): Buffer {
  const r = prng(seed);
  const data = Buffer.alloc(len);
  for (let i = 0; i < len; i++) data[i] = r.int(1, 255);
  return data;
}

async function main(): Promise<void> {
  const [endpoint, bucket, cacheDir, mode, wb] = process.argv.slice(2);
  const { vfs } = await vfsInstance({
    backend: motoBackend({ endpoint } as TestS3),
    bucket: bucket!,
    cacheDir: cacheDir!,
    opts: { cacheMode: mode as 'writes' | 'full', writeBackMs: Number(wb) },
  });
  const fhs = new Map<string, number>();
  const exists = (p: string) =>
    vfs.getattr(p).then(
      () => true,
      () => false,
    );
  const run = async (op: string): Promise<void> => {
    const [verb, a = '', b = '', c = '', d = ''] = op.split(' ');
    const fh = fhs.get(a)!;
    switch (verb) {
      case 'open': {
        const trunc = b === 'trunc';
        const id = trunc ? c : b;
        fhs.set(id, (await exists('/' + a)) ? await vfs.open('/' + a, O_RDWR | (trunc ? O_TRUNC : 0)) : await vfs.create('/' + a));
        return;
      }
      case 'write': {
        const data = opData(Number(c), Number(d));
        await vfs.write(fh, data, data.length, Number(b));
        return;
      }
      case 'ftruncate':
        return vfs.ftruncate(fh, Number(b));
      case 'fsync':
        return vfs.fsync(fh);
      case 'close':
        await vfs.flush(fh);
        await vfs.release(fh);
        fhs.delete(a);
        return;
      case 'rename':
        return vfs.rename('/' + a, '/' + b);
      case 'unlink':
        return vfs.unlink('/' + a);
      case 'truncate':
        return vfs.truncate('/' + a, Number(b));
    }
    throw new Error(`unknown operation ${op}`);
  };
  process.stdout.write('ready\n');
  // one at a time, in order
  let chain = Promise.resolve();
  for await (const line of readline.createInterface({ input: process.stdin })) {
    chain = chain.then(() =>
      run(line).then(
        () => void process.stdout.write('ok\n'),
        (err: Error) => void process.stdout.write(`err ${err.message.replace(/\n/g, ' ')}\n`),
      ),
    );
  }
  await chain;
}

if (process.argv[1]?.endsWith('crash-child.js')) {
  main().catch((err) => {
    process.stderr.write(`crash-child: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
