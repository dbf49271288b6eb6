// `npm run bench` (scripts/bench): what bucketfs does on this machine, against the raw limit.
//
// Starts its own S3 server on 127.0.0.1 (../shared/bench/motolog.py when it is next to the repo:
// moto with the range-GET/ETag/versionId fixes and a JSON request log; otherwise the repo's
// scripts/moto-server.py behind a small recording proxy in this process), creates a bucket, and
// measures, each read/write workload on a fresh mount (`node bin/bucketfs mount bench:BUCKET MNT`):
//
//   raw-put / raw-get   @aws-sdk/client-s3 straight to the server: multipart PUT of the big file
//                       (chunk_size parts, upload_concurrency at a time) and one GetObject: the limit
//   seq-read-cold/-warm dd bs=1M of the big object to /dev/null on a fresh mount, then again
//   seq-read-cold-2nd   then a copy of it nothing of which is cached, on the same mount
//   raw-get-slow-link / seq-read-slow-link
//                       the same single GET, and a cold dd through a fresh mount, both through a
//                       proxy that gives every connection 64 MiB/s and 5 ms each way (as a distant
//                       server, or AWS's per-connection bandwidth): where one GET is the limit
//   rand-read           N preads of 4 KiB at random aligned offsets (a python child), each checked
//   ls-cold / ls-warm   `ls -l` of a directory of --ls-files objects (seeded concurrently), twice
//   ls-remount          the same on a new mount of the same --cache-dir (kept metadata)
//   seq-write           dd bs=1M of the big local file into the mount (wall includes close), then
//                       until the object is in S3 and the mount has exited; peak RSS of the mount
//   rss-write           with --rss-gib N: the same with an N GiB file, for peak RSS
//
// Each row also has the mount process's CPU seconds (cpu_mnt) and peak RSS in MiB (rss_mnt,
// sampled every 50 ms) during that workload, and the server's CPU seconds (cpu_srv).
//
// S3 requests are counted per workload by type (from the server's log, between markers; the
// bench's own set-up and checking requests, user agent "bench-harness", are not counted).
// Everything started here is stopped on exit, failure, Ctrl-C or SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  S3Client,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  DeleteObjectCommand,
  CopyObjectCommand,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, '../..') : path.resolve(here, '..');
const MOTOLOG = path.resolve(repoRoot, '../shared/bench/motolog.py');
const MOTO_SERVER = path.join(repoRoot, 'scripts/moto-server.py');
const BUCKETFS = path.join(repoRoot, 'bin/bucketfs');

const ACCESS_KEY = 'bench-access-key';
const SECRET_KEY = 'bench-secret-key';
const REGION = 'us-east-1';
const HARNESS_UA = 'bench-harness';
const RAW_UA = 'bucketfs-bench-raw';
const MiB = 1024 * 1024;
const CATS = ['GET', 'HEAD', 'LIST', 'PUT', 'MPc', 'MPp', 'MPf', 'COPY', 'DEL', 'oth'] as const;
const ALL_WORKLOADS = ['raw', 'seq-read', 'slow-link', 'rand-read', 'ls', 'seq-write', 'writers'] as const;
/** the slow-link workload: bandwidth of each connection, and delay each way */
const SLOW_LINK_MIBPS = 64;
const SLOW_LINK_DELAY_MS = 5;

const USAGE = `usage: npm run bench -- [options]      (or: bash scripts/bench [options])

Benchmarks bucketfs on this machine against a local S3 server it starts itself, next to the raw
SDK limit of that server. Prints a table; --json writes the same as JSON.

  --big-mib N        size of the big object for raw/seq-read/seq-write/rand-read (default 256)
  --rand-reads N     random 4 KiB preads (default 500)
  --ls-files N       objects in the ls -l directory (default 1000)
  --rss-gib N        also write an N GiB file and report the mount's peak RSS (default 0: skip)
  --latency MS       put a proxy between the server and the raw client and every mount that delays
                     each round trip by MS (half each way), like a distant region (default 0)
  --workloads LIST   comma list of: ${ALL_WORKLOADS.join(',')},rss (default all but rss; rss
                     is added by --rss-gib)
  --mount-args "..." extra flags for every 'bucketfs mount' (e.g. "--max-read-ahead 1M")
  --node-args "..."  flags for the node running each mount (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p")
  --server KIND      auto (default: motolog.py from ../shared/bench if present), motolog, moto
  --json FILE        write results as JSON
  --out FILE         also write the text table to FILE
  --no-verify        skip checking read-back/written data (sha256)
  --keep             keep the work directory (logs, local files)
  --workdir DIR      work directory (default: a new one under \${TMPDIR:-/tmp})
  -h, --help         this text`;

// ------------------------------------------------------------------------------------------------
// options

interface Options {
  bigMib: number;
  randReads: number;
  lsFiles: number;
  rssGib: number;
  workloads: Set<string>;
  mountArgs: string[];
  nodeArgs: string[];
  server: 'auto' | 'motolog' | 'moto';
  json?: string;
  out?: string;
  verify: boolean;
  keep: boolean;
  workdir?: string;
  /** ms each request's round trip is delayed by (a distant region); 0: none */
  latencyMs: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    bigMib: 256,
    randReads: 500,
    lsFiles: 1000,
    rssGib: 0,
    workloads: new Set(ALL_WORKLOADS),
    mountArgs: [],
    nodeArgs: [],
    server: 'auto',
    verify: true,
    keep: false,
    latencyMs: 0,
  };
  let explicitWorkloads = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) die(`${flag} needs a value`);
      return v;
    };
    const num = (min: number): number => {
      const s = val();
      const n = Number(s);
      if (!Number.isFinite(n) || n < min) die(`${flag}: expected a number >= ${min}, got ${JSON.stringify(s)}`);
      return n;
    };
    switch (flag) {
      case '-h':
      case '--help':
        console.log(USAGE);
        return process.exit(0);
      case '--big-mib':
        o.bigMib = Math.floor(num(1));
        break;
      case '--rand-reads':
        o.randReads = Math.floor(num(1));
        break;
      case '--ls-files':
        o.lsFiles = Math.floor(num(1));
        break;
      case '--rss-gib':
        o.rssGib = num(0);
        break;
      case '--latency':
        o.latencyMs = num(0);
        break;
      case '--workloads': {
        explicitWorkloads = true;
        o.workloads = new Set(
          val()
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        );
        for (const w of o.workloads) if (![...ALL_WORKLOADS, 'rss'].includes(w)) die(`unknown workload ${w} (known: ${ALL_WORKLOADS.join(', ')}, rss)`);
        break;
      }
      case '--mount-args':
        o.mountArgs.push(...val().split(/\s+/).filter(Boolean));
        break;
      case '--node-args':
        o.nodeArgs.push(...val().split(/\s+/).filter(Boolean));
        break;
      case '--server': {
        const s = val();
        if (s !== 'auto' && s !== 'motolog' && s !== 'moto') die(`--server: auto, motolog or moto`);
        o.server = s;
        break;
      }
      case '--json':
        o.json = path.resolve(val());
        break;
      case '--out':
        o.out = path.resolve(val());
        break;
      case '--no-verify':
        o.verify = false;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--workdir':
        o.workdir = path.resolve(val());
        break;
      default:
        die(`unknown argument ${a}\n\n${USAGE}`);
    }
  }
  if (o.rssGib > 0 && !(explicitWorkloads && !o.workloads.has('rss'))) o.workloads.add('rss');
  if (o.workloads.has('rss') && o.rssGib <= 0) o.rssGib = 2;
  return o;
}

function die(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const say = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// ------------------------------------------------------------------------------------------------
// request records and their classification (the same categories as ../shared/bench/compare)

interface Req {
  m: string;
  p: string;
  q: string;
  copy: boolean;
  ua: string;
  cl: number;
  range: string;
  status: number;
  out: number;
}

const BUCKET_SUB_OTHER = new Set([
  'location',
  'versioning',
  'acl',
  'policy',
  'uploads',
  'tagging',
  'cors',
  'lifecycle',
  'website',
  'logging',
  'notification',
  'encryption',
  'ownershipControls',
  'publicAccessBlock',
  'object-lock',
  'accelerate',
  'requestPayment',
  'replication',
  'analytics',
  'inventory',
  'metrics',
  'intelligent-tiering',
  'policyStatus',
]);
const OBJ_SUB_OTHER = new Set(['acl', 'tagging', 'attributes', 'retention', 'legal-hold', 'torrent', 'restore', 'select']);

function classify(r: Req): string {
  const qs = new Set<string>();
  for (const part of r.q.split('&')) if (part) qs.add(decodeURIComponent(part.split('=')[0]!));
  const any = (set: Set<string>) => [...qs].some((k) => set.has(k));
  const parts = r.p.replace(/^\/+/, '').split('/');
  const bucket = parts[0] ?? '';
  const key = parts.slice(1).join('/');
  if (!bucket) return 'oth';
  if (key === '') {
    if (r.m === 'GET') return any(BUCKET_SUB_OTHER) ? 'oth' : 'LIST';
    if (r.m === 'HEAD') return 'HEAD';
    if (r.m === 'POST' && qs.has('delete')) return 'DEL';
    return 'oth';
  }
  switch (r.m) {
    case 'GET':
      return qs.has('uploadId') || any(OBJ_SUB_OTHER) ? 'oth' : 'GET';
    case 'HEAD':
      return 'HEAD';
    case 'PUT':
      if (qs.has('uploadId')) return r.copy ? 'COPY' : 'MPp';
      if (any(OBJ_SUB_OTHER)) return 'oth';
      return r.copy ? 'COPY' : 'PUT';
    case 'POST':
      if (qs.has('uploads')) return 'MPc';
      if (qs.has('uploadId')) return 'MPf';
      return 'oth';
    case 'DELETE':
      return qs.has('uploadId') ? 'oth' : 'DEL';
    default:
      return 'oth';
  }
}

interface Counts {
  byType: Record<string, number>;
  total: number;
  err: number;
  mbUp: number;
  mbDn: number;
  /** GETs: mean bytes per GET (what the read path asks for) */
  getMeanKiB: number;
}

function countRequests(reqs: Req[]): Counts {
  const byType: Record<string, number> = Object.fromEntries(CATS.map((c) => [c, 0]));
  let err = 0;
  let up = 0;
  let dn = 0;
  let getBytes = 0;
  for (const r of reqs) {
    if (r.ua.includes(HARNESS_UA)) continue;
    const t = classify(r);
    byType[t] = (byType[t] ?? 0) + 1;
    if (r.status >= 400) err++;
    up += r.cl;
    dn += r.out;
    if (t === 'GET') getBytes += r.out;
  }
  const total = Object.values(byType).reduce((a, b) => a + b, 0);
  return { byType, total, err, mbUp: up / 1e6, mbDn: dn / 1e6, getMeanKiB: byType.GET ? getBytes / byType.GET / 1024 : 0 };
}

// ------------------------------------------------------------------------------------------------
// the S3 server

interface BenchServer {
  /** shown in the output */
  readonly description: string;
  readonly endpoint: string;
  /** the server process (for its CPU time) */
  readonly pid: number;
  mark(name: string): Promise<void>;
  /** requests that started between two marks */
  window(from: string, to: string): Promise<Req[]>;
  stop(): Promise<void>;
  /** last resort at process exit: kill without waiting */
  killNow(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const r = http.get(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    r.on('error', reject);
    r.setTimeout(5000, () => r.destroy(new Error(`timeout: ${url}`)));
  });
}

function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  return env;
}

function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** ../shared/bench/motolog.py: moto with fixes, JSON request log, markers. */
class MotologServer implements BenchServer {
  readonly description: string;
  private pos = 0;
  private buf = '';
  private readonly events: ({ mark: string } | { req: Req; id: number })[] = [];
  private readonly ends = new Map<number, { s: number; out: number }>();
  private readonly marks = new Map<string, number>();

  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    private readonly reqlog: string,
    private readonly nonce: string,
  ) {
    this.description = `motolog.py (${MOTOLOG}: moto + range-GET/ETag/versionId fixes, JSON request log) on ${endpoint}`;
  }

  static async start(work: string): Promise<MotologServer> {
    const portfile = path.join(work, 'moto.port');
    const reqlog = path.join(work, 'requests.jsonl');
    const nonce = randomBytes(8).toString('hex');
    const logFd = fs.openSync(path.join(work, 'moto.log'), 'a');
    const child = spawn('python3', [MOTOLOG, portfile, reqlog], {
      env: { ...serverEnv(), BENCH_NONCE: nonce },
      stdio: ['ignore', logFd, logFd],
      detached: true, // not in our process group: Ctrl-C reaches us, we stop it last
    });
    fs.closeSync(logFd);
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(portfile)) {
      if (child.exitCode !== null) throw new Error(`motolog.py exited (${child.exitCode}): ${tail(path.join(work, 'moto.log'))}`);
      if (Date.now() > deadline) {
        await stopChild(child);
        throw new Error('motolog.py did not start within 60 s');
      }
      await sleep(100);
    }
    const port = Number(fs.readFileSync(portfile, 'utf8').trim());
    const s = new MotologServer(child, `http://127.0.0.1:${port}`, reqlog, nonce);
    await s.mark('bench-start');
    return s;
  }

  async mark(name: string): Promise<void> {
    const r = await httpGet(`${this.endpoint}/__bench_marker__/${encodeURIComponent(name)}`, { 'user-agent': HARNESS_UA });
    if (r.status !== 200 || r.headers['x-bench-nonce'] !== this.nonce)
      throw new Error(`the server on ${this.endpoint} is not ours (marker answer ${r.status})`);
  }

  private refresh(): void {
    const fd = fs.openSync(this.reqlog, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size > this.pos) {
        const b = Buffer.alloc(size - this.pos);
        fs.readSync(fd, b, 0, b.length, this.pos);
        this.pos = size;
        this.buf += b.toString('utf8');
      }
    } finally {
      fs.closeSync(fd);
    }
    const lines = this.buf.split('\n');
    this.buf = lines.pop() ?? '';
    for (const ln of lines) {
      if (!ln.trim()) continue;
      const rec = JSON.parse(ln) as Record<string, unknown>;
      if (typeof rec.mark === 'string') {
        this.marks.set(rec.mark, this.events.length);
        this.events.push({ mark: rec.mark });
      } else if (rec.end !== undefined) {
        this.ends.set(Number(rec.end), { s: Number(rec.s ?? 0), out: Number(rec.out ?? 0) });
      } else {
        this.events.push({
          id: Number(rec.id),
          req: {
            m: String(rec.m ?? ''),
            p: String(rec.p ?? ''),
            q: String(rec.q ?? ''),
            copy: Number(rec.copy ?? 0) === 1,
            ua: String(rec.ua ?? ''),
            cl: Number(rec.cl ?? 0),
            range: String(rec.range ?? ''),
            status: 0,
            out: 0,
          },
        });
      }
    }
  }

  async window(from: string, to: string): Promise<Req[]> {
    // end records of the last requests may trail the end marker by a moment
    await sleep(200);
    this.refresh();
    const a = this.marks.get(from);
    const b = this.marks.get(to);
    if (a === undefined || b === undefined) throw new Error(`marker ${a === undefined ? from : to} not in the request log`);
    const out: Req[] = [];
    for (const e of this.events.slice(a + 1, b)) {
      if (!('req' in e)) continue;
      const end = this.ends.get(e.id);
      out.push({ ...e.req, status: end?.s ?? 0, out: end?.out ?? 0 });
    }
    return out;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
  }

  killNow(): void {
    try {
      this.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Fallback: the repo's moto launcher, behind a recording proxy in this process. */
class ProxiedMotoServer implements BenchServer {
  readonly description: string;
  private readonly log: ({ mark: string } | { req: Req })[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly proxy: http.Server,
    readonly endpoint: string,
  ) {
    this.description = `stock moto (scripts/moto-server.py) behind a recording proxy in the bench process on ${endpoint} (--server moto, or ../shared/bench/motolog.py absent); stock moto reads a whole object for each ranged GET, so rand-read and chunked reads look slower than with motolog`;
  }

  static async start(work: string): Promise<ProxiedMotoServer> {
    const motoPort = await freePort();
    const logFd = fs.openSync(path.join(work, 'moto.log'), 'a');
    const child = spawn('python3', [MOTO_SERVER, '-H', '127.0.0.1', '-p', String(motoPort)], {
      env: serverEnv(),
      stdio: ['ignore', logFd, logFd],
      detached: true,
    });
    fs.closeSync(logFd);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`moto exited (${child.exitCode}): ${tail(path.join(work, 'moto.log'))}`);
      try {
        if ((await httpGet(`http://127.0.0.1:${motoPort}/`)).status < 500) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) {
        await stopChild(child);
        throw new Error('moto did not start within 60 s');
      }
      await sleep(100);
    }
    const self: { s?: ProxiedMotoServer } = {};
    const proxy = http.createServer((req, res) => self.s!.forward(req, res, motoPort));
    proxy.keepAliveTimeout = 60_000;
    const port = await new Promise<number>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as net.AddressInfo).port)));
    self.s = new ProxiedMotoServer(child, proxy, `http://127.0.0.1:${port}`);
    return self.s;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, motoPort: number): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const h = (k: string) => {
      const v = req.headers[k];
      return Array.isArray(v) ? v.join(',') : (v ?? '');
    };
    const rec: Req = {
      m: req.method ?? 'GET',
      p: safeDecode(url.pathname),
      q: url.search.replace(/^\?/, ''),
      copy: !!h('x-amz-copy-source'),
      ua: h('user-agent').slice(0, 512),
      cl: Number(h('x-amz-decoded-content-length') || h('content-length') || 0) || 0,
      range: h('range'),
      status: 0,
      out: 0,
    };
    this.log.push({ req: rec });
    const up = http.request({ host: '127.0.0.1', port: motoPort, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      rec.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.on('data', (d: Buffer) => (rec.out += d.length));
      upRes.pipe(res);
    });
    up.on('error', () => {
      rec.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  }

  async mark(name: string): Promise<void> {
    this.log.push({ mark: name });
  }

  async window(from: string, to: string): Promise<Req[]> {
    await sleep(200);
    const a = this.log.findIndex((e) => 'mark' in e && e.mark === from);
    const b = this.log.findIndex((e) => 'mark' in e && e.mark === to);
    if (a < 0 || b < 0) throw new Error(`marker ${a < 0 ? from : to} not recorded`);
    return this.log.slice(a + 1, b).flatMap((e) => ('req' in e ? [e.req] : []));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => {
      this.proxy.closeAllConnections();
      this.proxy.close(() => r());
    });
    await stopChild(this.child);
  }

  killNow(): void {
    try {
      this.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function tail(file: string, n = 2000): string {
  try {
    const t = fs.readFileSync(file, 'utf8');
    return t.slice(-n);
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------------------------------------
// SDK clients

function s3Client(endpoint: string, userAgent: string): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    customUserAgent: userAgent,
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }), connectionTimeout: 60_000, requestTimeout: 300_000 },
  });
}

async function limited<T>(items: T[], concurrency: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (i < items.length) await f(items[i++]!);
    }),
  );
}

/** Multipart upload of a local file: parts of partSize, `concurrency` at a time (rclone's way). */
async function sdkMultipartPut(c: S3Client, bucket: string, key: string, file: string, partSize: number, concurrency: number): Promise<void> {
  const size = fs.statSync(file).size;
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const fh = await fsp.open(file, 'r');
  try {
    const n = Math.max(1, Math.ceil(size / partSize));
    const etags: string[] = new Array(n);
    await limited([...Array(n).keys()], concurrency, async (i) => {
      const len = Math.min(partSize, size - i * partSize);
      const buf = Buffer.allocUnsafe(len);
      await fh.read(buf, 0, len, i * partSize);
      const out = await c.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: buf, ContentLength: len }));
      etags[i] = out.ETag ?? '';
    });
    await c.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
  } finally {
    await fh.close();
  }
}

/** GET a whole object; bytes and sha256. */
async function sdkGet(c: S3Client, bucket: string, key: string, hash: boolean, range?: string): Promise<{ bytes: number; sha256: string }> {
  const out = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: range } : {}) }));
  const h = hash ? createHash('sha256') : undefined;
  let bytes = 0;
  for await (const chunk of out.Body as Readable) {
    bytes += (chunk as Buffer).length;
    h?.update(chunk as Buffer);
  }
  return { bytes, sha256: h?.digest('hex') ?? '' };
}

/**
 * A TCP proxy to `upstreamPort` that gives each connection at most `mibps` MiB/s towards the
 * client and delays data `delayMs` each way: one connection is then slower than the machine.
 */
async function startSlowLink(upstreamPort: number, mibps: number, delayMs: number): Promise<{ endpoint: string; close: () => void }> {
  const bytesPerMs = (mibps * MiB) / 1000;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    const u = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(c).add(u);
    let free = 0; // when the link towards the client is free again
    // one queue and one timer: separate timers per chunk may fire out of order
    const queue: Array<{ due: number; data: Buffer | null }> = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      const t = performance.now();
      while (queue.length > 0 && queue[0]!.due <= t) {
        const { data } = queue.shift()!;
        if (data) c.write(data);
        else c.end();
      }
      if (u.isPaused() && free - t < 25) u.resume();
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.due - t);
    };
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    c.on('close', () => {
      u.destroy();
      sockets.delete(c);
    });
    u.on('close', () => {
      sockets.delete(u);
      // the end goes through the queue too, after the last byte
      queue.push({ due: Math.max(performance.now(), free) + delayMs, data: null });
      if (!timer) timer = setTimeout(pump, Math.max(0, queue[0]!.due - performance.now()));
    });
    c.on('data', (d) => setTimeout(() => u.write(d), delayMs));
    u.on('data', (d: Buffer) => {
      const t = performance.now();
      free = Math.max(t, free) + d.length / bytesPerMs;
      if (free - t > 50) u.pause();
      queue.push({ due: free + delayMs, data: d });
      if (!timer) timer = setTimeout(pump, free + delayMs - t);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

/** `times` GetObjects of the whole object (with `range`, if given); the fastest sets r's wall and rate. */
async function timedGets(r: PhaseResult, client: S3Client, bucket: string, key: string, size: number, times: number, range?: string): Promise<void> {
  let best = Infinity;
  for (let i = 0; i < times; i++) {
    const t0 = now();
    const got = await sdkGet(client, bucket, key, false, range);
    if (got.bytes !== size) throw new Error(`GET returned ${got.bytes} of ${size} bytes`);
    best = Math.min(best, (now() - t0) / 1000);
  }
  r.wall_s = best;
  r.rate = size / MiB / best;
  r.unit = 'MiB/s';
}

async function sdkSize(c: S3Client, bucket: string, key: string): Promise<number | null> {
  try {
    const h = await c.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return h.ContentLength ?? 0;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------------------------
// child commands

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  wallS: number;
  timedOut: boolean;
}

const running = new Set<ChildProcess>();

function run(cmd: string, args: string[], opts: { timeoutMs?: number; onTimeout?: () => void } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-200_000)));
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
          opts.onTimeout?.();
        }, opts.timeoutMs)
      : undefined;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr, wallS: (now() - t0) / 1000, timedOut });
    });
  });
}

function check(r: RunResult, what: string): void {
  if (r.timedOut) throw new Error(`${what}: timed out after ${r.wallS.toFixed(0)} s`);
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
}

// ------------------------------------------------------------------------------------------------
// mounts

function isMounted(mnt: string): boolean {
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[4] && f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === mnt) return true;
    }
  } catch {
    /* no procfs */
  }
  return false;
}

interface MemSample {
  rssKiB: number;
  hwmKiB: number;
}

function readMem(pid: number): MemSample | null {
  try {
    const t = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)/.exec(t);
    const hwm = /VmHWM:\s+(\d+)/.exec(t);
    return { rssKiB: Number(rss?.[1] ?? 0), hwmKiB: Number(hwm?.[1] ?? 0) };
  } catch {
    return null;
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** user + system CPU seconds of a process so far, or null when it is gone */
function readCpu(pid: number): number | null {
  if (!pid) return null;
  try {
    const t = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 of stat(5), counted from the state field (3)
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

class Mount {
  child: ChildProcess | undefined;
  private seq = 0;
  constructor(
    readonly mnt: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly bucket: string,
    private readonly cacheDir: string,
    private readonly extraArgs: string[],
    private readonly logDir: string,
    private readonly nodeArgs: string[] = [],
  ) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(label: string): Promise<number> {
    if (this.alive || isMounted(this.mnt)) await this.stop();
    fs.mkdirSync(this.mnt, { recursive: true });
    const logFile = path.join(this.logDir, `mount-${++this.seq}-${label}.log`);
    const fd = fs.openSync(logFile, 'a');
    const t0 = now();
    // Through bin/bucketfs's own shebang (with its V8 flags), as a user runs it; `node ARGS bin/bucketfs` only with --node-args.
    const mountArgs = ['mount', `bench:${this.bucket}`, this.mnt, '--cache-dir', this.cacheDir, ...this.extraArgs];
    const child = spawn(this.nodeArgs.length ? 'node' : BUCKETFS, this.nodeArgs.length ? [...this.nodeArgs, BUCKETFS, ...mountArgs] : mountArgs, {
      env: this.env,
      stdio: ['ignore', fd, fd],
      detached: true, // its own process group: we unmount it, Ctrl-C does not race us
    });
    fs.closeSync(fd);
    this.child = child;
    const deadline = Date.now() + 30_000;
    while (!isMounted(this.mnt)) {
      if (!this.alive) throw new Error(`bucketfs mount exited (${child.exitCode ?? child.signalCode}) before mounting: ${tail(logFile, 1500).trim()}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`bucketfs mount not ready within 30 s: ${tail(logFile, 1500).trim()}`);
      }
      await sleep(25);
    }
    return (now() - t0) / 1000;
  }

  /** fusermount -u, then wait for the process to finish its uploads and exit. Wall seconds. */
  async stop(waitMs = 120_000): Promise<number> {
    const t0 = now();
    if (isMounted(this.mnt)) {
      const r = spawnSync('fusermount3', ['-u', this.mnt], { encoding: 'utf8' });
      if (r.status !== 0 && isMounted(this.mnt)) {
        say(`fusermount -u ${this.mnt}: ${(r.stderr || '').trim()}; lazy unmount`);
        spawnSync('fusermount3', ['-uz', this.mnt]);
      }
    }
    const child = this.child;
    if (child && this.alive) {
      const exited = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), waitMs);
        child.once('exit', () => {
          clearTimeout(t);
          resolve(true);
        });
        if (!this.alive) {
          clearTimeout(t);
          resolve(true);
        }
      });
      if (!exited) {
        say(`bucketfs mount (pid ${child.pid}) did not exit ${waitMs / 1000} s after unmount: killing it`);
        this.killNow();
      }
    }
    if (isMounted(this.mnt)) spawnSync('fusermount3', ['-uz', this.mnt]);
    return (now() - t0) / 1000;
  }

  killNow(): void {
    const pid = this.child?.pid;
    if (pid && this.alive) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (isMounted(this.mnt)) spawnSync('fusermount3', ['-uz', this.mnt]);
  }
}

/** Polls the mount process's memory every 50 ms. */
class RssSampler {
  peakRssKiB = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number) {}
  start(): this {
    const sample = () => {
      const m = readMem(this.pid);
      if (m) this.peakRssKiB = Math.max(this.peakRssKiB, m.rssKiB);
    };
    sample();
    this.timer = setInterval(sample, 50);
    return this;
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

// ------------------------------------------------------------------------------------------------
// results

interface PhaseResult {
  name: string;
  ok: boolean;
  wall_s?: number;
  rate?: number;
  unit?: string;
  requests?: Counts;
  notes: string[];
  error?: string;
  extra?: Record<string, number | string>;
}

const results: PhaseResult[] = [];

function fmt(n: number | undefined, digits = 2): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  return n >= 1000 ? n.toFixed(0) : n.toFixed(digits);
}

function table(res: PhaseResult[]): string {
  const head = ['workload', 'ok', 'wall_s', 'rate', 'unit', ...CATS, 'err', 'MB_up', 'MB_dn', 'KiB/GET', 'cpu_mnt', 'rss_mnt', 'cpu_srv'];
  const rows = res.map((r) => [
    r.name,
    r.ok ? 'OK' : 'FAIL',
    fmt(r.wall_s, 3),
    fmt(r.rate, 1),
    r.unit ?? '',
    ...CATS.map((c) => (r.requests ? String(r.requests.byType[c] ?? 0) : '-')),
    r.requests ? String(r.requests.err) : '-',
    r.requests ? r.requests.mbUp.toFixed(1) : '-',
    r.requests ? r.requests.mbDn.toFixed(1) : '-',
    r.requests?.byType.GET ? r.requests.getMeanKiB.toFixed(0) : '-',
    r.extra?.mount_cpu_s !== undefined ? Number(r.extra.mount_cpu_s).toFixed(2) : '-',
    r.extra?.rss_peak_MiB !== undefined ? Number(r.extra.rss_peak_MiB).toFixed(0) : '-',
    r.extra?.server_cpu_s !== undefined ? Number(r.extra.server_cpu_s).toFixed(2) : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

// ------------------------------------------------------------------------------------------------
// main

interface Ctx {
  o: Options;
  work: string;
  server: BenchServer;
  harness: S3Client;
  raw: S3Client;
  bucket: string;
  mount: Mount;
  bigLocal: string;
  bigSha: string;
  bigSize: number;
  bigKey: string;
  partSize: number;
  uploadConcurrency: number;
}

let cleanupStarted = false;
let activeMount: Mount | undefined;
let activeServer: BenchServer | undefined;
let activeLatency: { endpoint: string; close: () => void } | undefined;
let workToRemove: string | undefined;

async function cleanup(): Promise<void> {
  if (cleanupStarted) return;
  cleanupStarted = true;
  for (const c of running) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (activeMount) await activeMount.stop(20_000).catch(() => activeMount?.killNow());
  activeLatency?.close();
  if (activeServer) await activeServer.stop().catch(() => activeServer?.killNow());
  // never recurse into a mount that is somehow still there
  if (workToRemove && !(activeMount && isMounted(activeMount.mnt))) await fsp.rm(workToRemove, { recursive: true, force: true }).catch(() => undefined);
}

/** Run one workload: markers around it, counts from the log, failures recorded, never thrown. */
async function phase(c: Ctx, name: string, body: (r: PhaseResult) => Promise<void>, opts: { mark?: boolean } = {}): Promise<PhaseResult> {
  const r: PhaseResult = { name, ok: false, notes: [] };
  results.push(r);
  const mark = opts.mark !== false;
  say(`${name} …`);
  const mountPid = c.mount.alive ? c.mount.pid : 0;
  const cpu0 = { mount: readCpu(mountPid), server: readCpu(c.server.pid) };
  // the mount's peak memory during every workload (a write workload measures its own, more closely)
  const sampler = mountPid ? new RssSampler(mountPid).start() : undefined;
  const cpuDelta = () => {
    sampler?.stop();
    if (sampler && sampler.peakRssKiB > 0 && r.extra?.rss_peak_MiB === undefined)
      r.extra = { ...(r.extra ?? {}), rss_peak_MiB: +(sampler.peakRssKiB / 1024).toFixed(1) };
    const m1 = readCpu(mountPid);
    const s1 = readCpu(c.server.pid);
    if (cpu0.mount !== null && m1 !== null && r.extra?.mount_cpu_s === undefined) r.extra = { ...(r.extra ?? {}), mount_cpu_s: +(m1 - cpu0.mount).toFixed(2) };
    if (cpu0.server !== null && s1 !== null) r.extra = { ...(r.extra ?? {}), server_cpu_s: +(s1 - cpu0.server).toFixed(2) };
  };
  try {
    if (mark) await c.server.mark(`${name}.start`);
    await body(r);
    cpuDelta();
    if (mark) {
      await c.server.mark(`${name}.end`);
      r.requests = countRequests(await c.server.window(`${name}.start`, `${name}.end`));
    }
    r.ok = r.error === undefined;
  } catch (err) {
    r.ok = false;
    r.error = (err as Error).message ?? String(err);
    cpuDelta();
    if (mark) {
      await c.server.mark(`${name}.end`).catch(() => undefined);
      r.requests = await c.server.window(`${name}.start`, `${name}.end`).then(countRequests, () => undefined);
    }
  }
  const rate = r.rate !== undefined ? ` ${fmt(r.rate, 1)} ${r.unit ?? ''}` : '';
  say(`${name}: ${r.ok ? 'OK' : 'FAILED'}${r.wall_s !== undefined ? ` ${r.wall_s.toFixed(3)} s` : ''}${rate}${r.error ? ` — ${r.error}` : ''}`);
  return r;
}

async function makeRandomFile(file: string, bytes: number): Promise<string> {
  // 64 MiB of random data, repeated with a per-MiB counter stamped in (no two MiB alike)
  const pattern = randomBytes(Math.min(bytes, 64 * MiB));
  const h = createHash('sha256');
  const fh = await fsp.open(file, 'w');
  try {
    let off = 0;
    while (off < bytes) {
      const n = Math.min(MiB, bytes - off);
      const src = (off % pattern.length) + n <= pattern.length ? pattern.subarray(off % pattern.length, (off % pattern.length) + n) : randomBytes(n);
      const b = Buffer.from(src);
      if (b.length >= 8) b.writeBigUInt64LE(BigInt(off), 0);
      h.update(b);
      await fh.write(b, 0, b.length, off);
      off += n;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

async function shaThroughMount(file: string): Promise<string> {
  const r = await run('sha256sum', [file], { timeoutMs: 300_000 });
  check(r, `sha256sum ${file}`);
  return r.stdout.split(/\s+/)[0] ?? '';
}

/** dd the whole big file from a mount to /dev/null: wall time and MiB/s into r */
async function ddWhole(r: PhaseResult, file: string, size: number, mount: Mount): Promise<void> {
  const dd = await run('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: 600_000, onTimeout: () => mount.killNow() });
  r.wall_s = dd.wallS;
  check(dd, 'dd from the mount');
  if (!/^(\d+)\+0 records in/m.test(dd.stderr) || !dd.stderr.includes(`${size} bytes`))
    throw new Error(`dd read a different size: ${dd.stderr.trim().split('\n').pop()}`);
  r.rate = size / MiB / dd.wallS;
  r.unit = 'MiB/s';
}

/** Read the file through the mount once more (not timed or counted) and fail r if its sha256 differs. */
async function verifyThroughMount(r: PhaseResult, file: string, sha: string): Promise<void> {
  const got = await shaThroughMount(file);
  if (got !== sha) {
    r.ok = false;
    r.error = `content read through the mount differs (sha256 ${got.slice(0, 12)}…)`;
  } else r.notes.push('content verified through the mount (sha256, another read, not timed or counted)');
}

async function waitDurable(c: Ctx, key: string, size: number, timeoutMs = 180_000): Promise<number> {
  const t0 = now();
  for (;;) {
    if ((await sdkSize(c.harness, c.bucket, key)) === size) return (now() - t0) / 1000;
    if (now() - t0 > timeoutMs) throw new Error(`${key} not in S3 with ${size} bytes ${timeoutMs / 1000} s after close`);
    await sleep(250);
  }
}

const RANDREAD_PY = `
import json, os, random, sys, time
path, local, count, block, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
size = os.path.getsize(local)
rnd = random.Random(seed)
offs = [rnd.randrange(max(1, size // block)) * block for _ in range(count)]
lf = os.open(local, os.O_RDONLY)
expect = [os.pread(lf, block, o) for o in offs]
os.close(lf)
lat = []
errors = 0
t0 = time.monotonic()
fd = os.open(path, os.O_RDONLY)
for o, e in zip(offs, expect):
    t = time.monotonic()
    got = os.pread(fd, block, o)
    lat.append(time.monotonic() - t)
    if got != e:
        errors += 1
os.close(fd)
el = time.monotonic() - t0
lat.sort()
print(json.dumps({"elapsed": el, "errors": errors, "p50_ms": lat[len(lat) // 2] * 1000, "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, "max_ms": lat[-1] * 1000}))
`;

/** A write workload on a mount started just before its start marker (see writeWorkload). */
async function writePhase(c: Ctx, r: PhaseResult, local: string, sha: string, size: number, key: string): Promise<void> {
  const base = readMem(c.mount.pid);
  const cpu0 = readCpu(c.mount.pid);
  const sampler = new RssSampler(c.mount.pid).start();
  const mem: { hwm?: MemSample | null } = {};
  try {
    const dd = await run('dd', [`if=${local}`, `of=${path.join(c.mount.mnt, key)}`, 'bs=1M'], {
      timeoutMs: 600_000,
      onTimeout: () => c.mount.killNow(),
    });
    r.wall_s = dd.wallS;
    check(dd, 'dd into the mount');
    r.rate = size / MiB / dd.wallS;
    r.unit = 'MiB/s';
    const durable = await waitDurable(c, key, size);
    r.extra = { ...(r.extra ?? {}), durable_s: +(dd.wallS + durable).toFixed(3) };
    mem.hwm = readMem(c.mount.pid);
  } finally {
    sampler.stop();
    const cpu1 = readCpu(c.mount.pid);
    if (cpu0 !== null && cpu1 !== null) r.extra = { ...(r.extra ?? {}), mount_cpu_s: +(cpu1 - cpu0).toFixed(2) };
    const unmountS = await c.mount.stop();
    r.extra = { ...(r.extra ?? {}), unmount_s: +unmountS.toFixed(3) };
    const peak = Math.max(sampler.peakRssKiB, mem.hwm?.hwmKiB ?? 0);
    r.extra = {
      ...r.extra,
      rss_base_MiB: +((base?.rssKiB ?? 0) / 1024).toFixed(1),
      rss_peak_sampled_MiB: +(sampler.peakRssKiB / 1024).toFixed(1),
      ...(mem.hwm ? { vmhwm_MiB: +(mem.hwm.hwmKiB / 1024).toFixed(1) } : {}),
      rss_peak_MiB: +(peak / 1024).toFixed(1),
    };
    r.notes.push(
      `mount RSS: ${((base?.rssKiB ?? 0) / 1024).toFixed(0)} MiB after mounting, peak ${(peak / 1024).toFixed(0)} MiB (sampled every 50 ms: ${(sampler.peakRssKiB / 1024).toFixed(0)}${mem.hwm ? `, VmHWM ${(mem.hwm.hwmKiB / 1024).toFixed(0)}` : ''})`,
    );
  }
  if (r.extra?.durable_s !== undefined && Math.abs(Number(r.extra.durable_s) - (r.wall_s ?? 0)) > 0.3)
    r.notes.push(`data in S3 ${r.extra.durable_s} s after dd started (dd returned at ${r.wall_s?.toFixed(2)} s)`);
  if (c.o.verify) {
    const got = await sdkGet(c.harness, c.bucket, key, true);
    if (got.sha256 !== sha) throw new Error(`${key}: the object in S3 differs from what was written (${got.bytes} bytes, sha256 ${got.sha256.slice(0, 12)}…)`);
    r.notes.push('object in S3 verified (sha256)');
  }
}

/** the many-writers workload: (parallel writers, MiB each, parallel readers of as many MiB);
 *  the first is the one-writer baseline */
const WRITER_SETS: ReadonlyArray<readonly [number, number, number]> = [
  [1, 64, 0],
  [20, 64, 0],
  [100, 16, 0],
  [20, 32, 10],
];
/** file data in memory, reads and upload buffers together: the default --vfs-memory-limit
 *  (src/vfs/memory-budget.ts; uploads get half of it) */
const MEMORY_BUDGET_MIB = 256;

/**
 * `n` parallel `dd if=/dev/zero bs=1M count=mib` into one fresh mount, and `readers` parallel
 * reads of objects of `mib` MiB (put there first) at the same time: the aggregate MiB/s (wall
 * until every close returned) and the mount's peak RSS against the memory budget; every object
 * written is then checked for its size, every read for its sha256, and removed.
 */
async function parallelWriters(c: Ctx, r: PhaseResult, n: number, mib: number, readers: number): Promise<void> {
  const dir = `writers-${n}x${mib}${readers > 0 ? `r${readers}` : ''}`;
  const seed = randomBytes(mib * MiB);
  const seedSha = createHash('sha256').update(seed).digest('hex');
  for (let i = 0; i < readers; i++) await c.harness.send(new PutObjectCommand({ Bucket: c.bucket, Key: `${dir}-in/r${i}`, Body: seed }));
  const base = readMem(c.mount.pid);
  const sampler = new RssSampler(c.mount.pid).start();
  let hwm: MemSample | null = null;
  try {
    await fsp.mkdir(path.join(c.mount.mnt, dir));
    const t0 = performance.now();
    const [dds, sums] = await Promise.all([
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          run('dd', ['if=/dev/zero', `of=${path.join(c.mount.mnt, dir, `f${i}`)}`, 'bs=1M', `count=${mib}`], {
            timeoutMs: 600_000,
            onTimeout: () => c.mount.killNow(),
          }),
        ),
      ),
      Promise.all(
        Array.from({ length: readers }, (_, i) =>
          run('sha256sum', [path.join(c.mount.mnt, `${dir}-in`, `r${i}`)], { timeoutMs: 600_000, onTimeout: () => c.mount.killNow() }),
        ),
      ),
    ]);
    r.wall_s = (performance.now() - t0) / 1000;
    for (const dd of dds) check(dd, 'dd into the mount');
    for (const s of sums) {
      check(s, 'sha256sum of a file of the mount');
      if (!s.stdout.startsWith(seedSha)) throw new Error(`a file read through the mount differs from its object: ${s.stdout.slice(0, 12)}…`);
    }
    r.rate = ((n + readers) * mib) / r.wall_s;
    r.unit = 'MiB/s';
    hwm = readMem(c.mount.pid);
  } finally {
    sampler.stop();
    await c.mount.stop();
  }
  const peak = Math.max(sampler.peakRssKiB, hwm?.hwmKiB ?? 0) / 1024;
  r.extra = { ...(r.extra ?? {}), rss_base_MiB: +((base?.rssKiB ?? 0) / 1024).toFixed(1), rss_peak_MiB: +peak.toFixed(1) };
  r.notes.push(
    `${n} parallel dd bs=1M count=${mib}${readers > 0 ? ` and ${readers} parallel sha256sum of ${mib} MiB objects` : ''} (wall until the last close; MiB/s written and read together); ` +
      `mount RSS ${((base?.rssKiB ?? 0) / 1024).toFixed(0)} MiB after mounting, peak ${peak.toFixed(0)} MiB; the memory budget for file data is ${MEMORY_BUDGET_MIB} MiB (uploads ${MEMORY_BUDGET_MIB / 2} MiB of it)`,
  );
  for (let i = 0; i < n; i++) {
    const key = `${dir}/f${i}`;
    const size = await sdkSize(c.harness, c.bucket, key);
    if (size !== mib * MiB) throw new Error(`${key}: ${size ?? 'no object'} in S3, ${mib * MiB} bytes written`);
    await c.harness.send(new DeleteObjectCommand({ Bucket: c.bucket, Key: key })).catch(() => undefined);
  }
  for (let i = 0; i < readers; i++) await c.harness.send(new DeleteObjectCommand({ Bucket: c.bucket, Key: `${dir}-in/r${i}` })).catch(() => undefined);
  r.notes.push(`${n} objects in S3 verified (size)${readers > 0 ? `, ${readers} reads verified (sha256)` : ''}`);
}

/** Mount first (its probe LIST is not the workload's), then the marked phase; the phase unmounts. */
async function writeWorkload(c: Ctx, name: string, body: (r: PhaseResult) => Promise<void>): Promise<PhaseResult> {
  let mountS: number;
  try {
    mountS = await c.mount.start(name);
  } catch (err) {
    const r: PhaseResult = { name, ok: false, notes: [], error: (err as Error).message };
    results.push(r);
    return r;
  }
  try {
    const r = await phase(c, name, body);
    r.notes.unshift(`mount ready in ${mountS.toFixed(2)} s`);
    return r;
  } finally {
    await c.mount.stop();
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  // the SDK's notice about future Node versions is noise in a benchmark's output
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const wallStart = now();
  const work = o.workdir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'bucketfs-bench.')));
  await fsp.mkdir(work, { recursive: true });
  if (!o.keep && !o.workdir) workToRemove = work;
  const logDir = path.join(work, 'logs');
  await fsp.mkdir(logDir, { recursive: true });

  const onSignal = (sig: string) => {
    say(`${sig}: unmounting and stopping the server`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('exit', () => {
    // last resort (an uncaught error): nothing may stay mounted or running
    activeMount?.killNow();
    activeServer?.killNow();
  });

  // --- server ---------------------------------------------------------------------------------
  const useMotolog = o.server === 'motolog' || (o.server === 'auto' && fs.existsSync(MOTOLOG));
  if (o.server === 'motolog' && !fs.existsSync(MOTOLOG)) die(`--server motolog: ${MOTOLOG} not found`);
  say(`starting ${useMotolog ? 'motolog.py' : 'moto + recording proxy'} …`);
  const server: BenchServer = useMotolog ? await MotologServer.start(logDir) : await ProxiedMotoServer.start(logDir);
  activeServer = server;
  say(`server: ${server.description}`);

  const bucket = `bench-${randomBytes(3).toString('hex')}`;
  const harness = s3Client(server.endpoint, HARNESS_UA);
  // --latency: the raw client and the mounts reach the server through a delaying proxy; the
  // harness's own requests (seeding, checks, markers) do not
  if (o.latencyMs > 0) {
    activeLatency = await startSlowLink(Number(new URL(server.endpoint).port), Infinity, o.latencyMs / 2);
    say(`latency: every round trip of the raw client and the mounts delayed ${o.latencyMs} ms (${activeLatency.endpoint})`);
  }
  const endpoint = activeLatency?.endpoint ?? server.endpoint;
  const raw = s3Client(endpoint, RAW_UA);
  await harness.send(new CreateBucketCommand({ Bucket: bucket }));

  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  for (const k of Object.keys(env)) if (k.startsWith('RCLONE_') || k.startsWith('AWS_')) delete env[k];
  Object.assign(env, {
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: ACCESS_KEY,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: SECRET_KEY,
    RCLONE_CONFIG_BENCH_REGION: REGION,
    RCLONE_CONFIG: path.join(work, 'no-rclone.conf'),
  });
  const mount = new Mount(path.join(work, 'mnt'), env, bucket, path.join(work, 'cache'), o.mountArgs, logDir, o.nodeArgs);
  activeMount = mount;

  const bigSize = o.bigMib * MiB;
  const bigLocal = path.join(work, 'big.bin');
  say(`making a ${o.bigMib} MiB local random file …`);
  const bigSha = await makeRandomFile(bigLocal, bigSize);
  const c: Ctx = { o, work, server, harness, raw, bucket, mount, bigLocal, bigSha, bigSize, bigKey: 'big.bin', partSize: 5 * MiB, uploadConcurrency: 4 };

  const need = (w: string) => o.workloads.has(w);
  const readsNeedBig = need('seq-read') || need('rand-read') || need('slow-link');

  // --- raw SDK: the limit -----------------------------------------------------------------------
  let rawPut: PhaseResult | undefined;
  let rawGet: PhaseResult | undefined;
  let rawGetRanged: PhaseResult | undefined;
  if (need('raw') || readsNeedBig) {
    rawPut = await phase(c, 'raw-put', async (r) => {
      const t0 = now();
      await sdkMultipartPut(raw, bucket, c.bigKey, bigLocal, c.partSize, c.uploadConcurrency);
      r.wall_s = (now() - t0) / 1000;
      r.rate = bigSize / MiB / r.wall_s;
      r.unit = 'MiB/s';
      r.notes.push(`@aws-sdk/client-s3 multipart: ${c.partSize / MiB} MiB parts, ${c.uploadConcurrency} at a time (chunk_size/upload_concurrency defaults)`);
    });
    if (!need('raw')) rawPut.notes.push('(needed to seed the big object)');
  }
  if (need('raw')) {
    rawGet = await phase(c, 'raw-get', async (r) => {
      await timedGets(r, raw, bucket, c.bigKey, bigSize, 2);
      r.notes.push('one GetObject of the whole object streamed to nowhere, best of 2 (the request counts cover both)');
    });
    rawGetRanged = await phase(c, 'raw-get-ranged', async (r) => {
      await timedGets(r, raw, bucket, c.bigKey, bigSize, 2, `bytes=0-${bigSize - 1}`);
      r.notes.push(
        'the same with Range: bytes=0-(size-1), best of 2: mounts read with ranged GETs, which this server serves another way (motolog: from the object buffer, 256 KiB at a time)',
      );
    });
  }

  // --- sequential reads -------------------------------------------------------------------------
  let seqCold: PhaseResult | undefined;
  let seqWarm: PhaseResult | undefined;
  let seqCold2: PhaseResult | undefined;
  if (need('seq-read')) {
    const file = path.join(mount.mnt, c.bigKey);
    const otherKey = 'big-2.bin';
    const ddRead = (r: PhaseResult, f: string) => ddWhole(r, f, bigSize, mount);
    try {
      // a second object with other bytes' worth of cold data (a server-side copy, not counted)
      await harness.send(new CopyObjectCommand({ Bucket: bucket, Key: otherKey, CopySource: `${bucket}/${c.bigKey}` }));
      await mount.start('seq-read');
      seqCold = await phase(c, 'seq-read-cold', (r) => ddRead(r, file));
      seqCold.notes.push('the first read of a fresh mount: nothing cached, and the process not warmed up yet (JIT, memory)');
      seqWarm = await phase(c, 'seq-read-warm', async (r) => {
        await ddRead(r, file);
        r.notes.push("second dd on the same mount: the kernel's page cache, kept across opens while size and mtime are unchanged (auto_cache)");
      });
      seqCold2 = await phase(c, 'seq-read-cold-2nd', async (r) => {
        await ddRead(r, path.join(mount.mnt, otherKey));
        r.notes.push(`then another object (${otherKey}, nothing of it cached) on the same mount: cold data, warmed-up process, as on a mount in use`);
      });
      if (o.verify && seqCold.ok) await verifyThroughMount(seqCold, file, bigSha);
    } catch (err) {
      if (!seqCold) results.push({ name: 'seq-read-cold', ok: false, notes: [], error: (err as Error).message });
    } finally {
      await mount.stop();
      await harness.send(new DeleteObjectCommand({ Bucket: bucket, Key: otherKey })).catch(() => undefined);
    }
  }

  // --- through a slow link: one connection slower than the reader ---------------------------------
  let rawSlow: PhaseResult | undefined;
  let seqSlow: PhaseResult | undefined;
  if (need('slow-link')) {
    const link = await startSlowLink(Number(new URL(server.endpoint).port), SLOW_LINK_MIBPS, SLOW_LINK_DELAY_MS);
    const slowMount = new Mount(
      path.join(work, 'mnt'),
      { ...env, RCLONE_CONFIG_BENCH_ENDPOINT: link.endpoint },
      bucket,
      path.join(work, 'cache'),
      o.mountArgs,
      logDir,
      o.nodeArgs,
    );
    const note = `through a proxy giving each connection ${SLOW_LINK_MIBPS} MiB/s and ${SLOW_LINK_DELAY_MS} ms each way`;
    try {
      const slowRaw = s3Client(link.endpoint, RAW_UA);
      rawSlow = await phase(c, 'raw-get-slow-link', async (r) => {
        await timedGets(r, slowRaw, bucket, c.bigKey, bigSize, 1, `bytes=0-${bigSize - 1}`);
        r.notes.push(`one ranged GetObject of the whole object ${note}`);
      });
      slowRaw.destroy();
      activeMount = slowMount;
      await slowMount.start('slow-link');
      seqSlow = await phase({ ...c, mount: slowMount }, 'seq-read-slow-link', async (r) => {
        await ddWhole(r, path.join(slowMount.mnt, c.bigKey), bigSize, slowMount);
        r.notes.push(`cold dd on a fresh mount ${note}: a stream whose reader waits adds GETs in parallel`);
      });
      if (o.verify && seqSlow.ok) await verifyThroughMount(seqSlow, path.join(slowMount.mnt, c.bigKey), bigSha);
    } catch (err) {
      if (!seqSlow) results.push({ name: 'seq-read-slow-link', ok: false, notes: [], error: (err as Error).message });
    } finally {
      await slowMount.stop();
      activeMount = mount;
      link.close();
    }
  }

  // --- random reads -----------------------------------------------------------------------------
  if (need('rand-read')) {
    try {
      await mount.start('rand-read');
      await phase(c, 'rand-read', async (r) => {
        const py = await run('python3', ['-c', RANDREAD_PY, path.join(mount.mnt, c.bigKey), bigLocal, String(o.randReads), '4096', '42'], {
          timeoutMs: 600_000,
          onTimeout: () => mount.killNow(),
        });
        check(py, 'random reads');
        const res = JSON.parse(py.stdout.trim().split('\n').pop()!) as { elapsed: number; errors: number; p50_ms: number; p99_ms: number; max_ms: number };
        r.wall_s = res.elapsed;
        r.rate = o.randReads / res.elapsed;
        r.unit = 'reads/s';
        r.extra = { p50_ms: +res.p50_ms.toFixed(2), p99_ms: +res.p99_ms.toFixed(2), max_ms: +res.max_ms.toFixed(2) };
        r.notes.push(
          `${o.randReads} preads of 4 KiB (python child, one open): p50 ${res.p50_ms.toFixed(2)} ms, p99 ${res.p99_ms.toFixed(2)} ms, max ${res.max_ms.toFixed(1)} ms`,
        );
        if (res.errors > 0) throw new Error(`${res.errors} of ${o.randReads} blocks differ from the local copy`);
      });
    } catch (err) {
      if (!results.some((x) => x.name === 'rand-read')) results.push({ name: 'rand-read', ok: false, notes: [], error: (err as Error).message });
    } finally {
      await mount.stop();
    }
  }

  // --- ls -l ------------------------------------------------------------------------------------
  if (need('ls')) {
    const dir = 'lsdir';
    try {
      say(`seeding ${o.lsFiles} objects under ${dir}/ …`);
      const t0 = now();
      const names = Array.from({ length: o.lsFiles }, (_, i) => `f${String(i).padStart(5, '0')}.txt`);
      await limited(names, 32, async (n) => {
        await harness.send(new PutObjectCommand({ Bucket: bucket, Key: `${dir}/${n}`, Body: Buffer.from(`${n}\n`) }));
      });
      say(`seeded in ${((now() - t0) / 1000).toFixed(1)} s`);
      await mount.start('ls');
      for (const which of ['cold', 'warm', 'remount']) {
        if (which === 'remount') {
          await mount.stop();
          await mount.start('ls-remount');
        }
        await phase(c, `ls-${which}`, async (r) => {
          const ls = await run('ls', ['-l', path.join(mount.mnt, dir)], { timeoutMs: 300_000, onTimeout: () => mount.killNow() });
          r.wall_s = ls.wallS;
          check(ls, 'ls -l');
          const lines = ls.stdout.split('\n').filter((l) => l.startsWith('-')).length;
          if (lines !== o.lsFiles) throw new Error(`ls -l showed ${lines} files, expected ${o.lsFiles}`);
          r.rate = o.lsFiles / ls.wallS;
          r.unit = 'files/s';
          if (which === 'warm') r.notes.push('right after ls-cold on the same mount (kernel attr cache: --attr-timeout 1s)');
          if (which === 'remount')
            r.notes.push('a fresh mount of the same --cache-dir: the metadata kept from ls-cold answers while the listing shows the same ETags');
        });
      }
    } catch (err) {
      if (!results.some((x) => x.name === 'ls-cold')) results.push({ name: 'ls-cold', ok: false, notes: [], error: (err as Error).message });
    } finally {
      await mount.stop();
    }
  }

  // --- sequential write -------------------------------------------------------------------------
  let seqWrite: PhaseResult | undefined;
  if (need('seq-write')) {
    seqWrite = await writeWorkload(c, 'seq-write', async (r) => {
      await writePhase(c, r, bigLocal, bigSha, bigSize, 'written.bin');
      r.notes.push('wall = dd bs=1M incl. close; the request counts run until the mount has exited (write-back uploads count)');
    });
  }

  // --- many parallel writers (and readers): the mount's peak RSS against its one memory budget --
  const writerRows: PhaseResult[] = [];
  if (need('writers')) {
    for (const [n, mib, readers] of WRITER_SETS) {
      const name = `writers-${n}x${mib}M${readers > 0 ? `+readers-${readers}` : ''}`;
      writerRows.push(await writeWorkload(c, name, (r) => parallelWriters(c, r, n, mib, readers)));
    }
  }

  // --- big write for peak RSS -------------------------------------------------------------------
  let rssWrite: PhaseResult | undefined;
  if (need('rss')) {
    const bytes = Math.round(o.rssGib * 1024) * MiB;
    const local = path.join(work, 'rss.bin');
    say(`making a ${(bytes / 2 ** 30).toFixed(2)} GiB local file …`);
    const sha = await makeRandomFile(local, bytes);
    rssWrite = await writeWorkload(c, `rss-write-${o.rssGib}g`, async (r) => {
      await writePhase(c, r, local, sha, bytes, 'rss.bin');
      const budget = 5 * (4 + 2) + 100;
      r.notes.push(
        `target: peak RSS < chunk_size × (upload_concurrency + 2) + 100 MB = 5M × 6 + 100 ≈ ${budget} MB (${((budget * 1e6) / MiB).toFixed(0)} MiB); peak ${r.extra?.rss_peak_MiB} MiB → ${(Number(r.extra?.rss_peak_MiB) * MiB) / 1e6 < budget ? 'within' : 'OVER'} target`,
      );
    });
    await fsp.rm(local, { force: true });
    await harness.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'rss.bin' })).catch(() => undefined);
  }

  // --- report -----------------------------------------------------------------------------------
  const ratios: Record<string, number> = {};
  const rr = (name: string, a?: PhaseResult, b?: PhaseResult) => {
    if (a?.ok && b?.ok && a.rate && b.rate) ratios[name] = +(a.rate / b.rate).toFixed(3);
  };
  rr('seq-read-cold / raw-get', seqCold, rawGet);
  rr('seq-read-cold / raw-get-ranged', seqCold, rawGetRanged);
  rr('seq-read-cold-2nd / raw-get', seqCold2, rawGet);
  rr('seq-read-cold-2nd / raw-get-ranged', seqCold2, rawGetRanged);
  rr('seq-read-warm / raw-get', seqWarm, rawGet);
  rr('seq-read-slow-link / raw-get-slow-link', seqSlow, rawSlow);
  rr('seq-write / raw-put', seqWrite, rawPut);
  rr(`rss-write / raw-put`, rssWrite, rawPut);
  for (const w of writerRows.slice(1)) rr(`${w.name} / ${writerRows[0]!.name}`, w, writerRows[0]);
  // the mount process's CPU seconds per GiB moved (each of these moves the big object once)
  const cpuPerGib: Record<string, number> = {};
  for (const r of [seqCold, seqCold2, seqSlow, seqWrite]) {
    const s = r?.ok ? r.extra?.mount_cpu_s : undefined;
    if (r && s !== undefined) cpuPerGib[r.name] = +(Number(s) / (o.bigMib / 1024)).toFixed(2);
  }

  const git = spawnSync('git', ['-C', repoRoot, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout.trim();
  const cpu = (os.cpus()[0]?.model ?? '?').replace(/\s+/g, ' ');
  const machine = `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, node ${process.version}`;
  const lines: string[] = [];
  lines.push(`bucketfs bench — ${new Date().toISOString()}`);
  lines.push(`machine: ${machine}`);
  lines.push(`tree:    ${git}${dirty ? ` (src/ has uncommitted changes: ${dirty.split('\n').length} paths)` : ''}`);
  lines.push(`server:  ${server.description}`);
  lines.push(
    `mount:   ${o.nodeArgs.length ? `node ${o.nodeArgs.join(' ')} ` : ''}bin/bucketfs mount bench:${bucket} MNT --cache-dir WORK/cache${o.mountArgs.length ? ' ' + o.mountArgs.join(' ') : ''}  (fresh mount per workload; -warm rows reuse the previous row's mount)`,
  );
  lines.push(
    `sizes:   big object ${o.bigMib} MiB, ${o.randReads} random 4 KiB reads, ls dir of ${o.lsFiles} files${o.workloads.has('rss') ? `, rss write ${o.rssGib} GiB` : ''}; MiB/s = 2^20 bytes/s`,
  );
  lines.push('');
  lines.push(table(results));
  lines.push('');
  if (Object.keys(ratios).length) {
    lines.push('ratios (mount ÷ raw SDK on the same server):');
    for (const [k, v] of Object.entries(ratios)) lines.push(`  ${k.padEnd(32)} ${v.toFixed(2)}`);
    lines.push('');
  }
  if (Object.keys(cpuPerGib).length) {
    lines.push('mount CPU seconds per GiB:');
    for (const [k, v] of Object.entries(cpuPerGib)) lines.push(`  ${k.padEnd(32)} ${v.toFixed(2)}`);
    lines.push('');
  }
  lines.push('notes:');
  for (const r of results) {
    const extra = r.extra
      ? Object.entries(r.extra)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : '';
    const all = [...(r.error ? [`FAILED: ${r.error}`] : []), ...r.notes, ...(extra ? [extra] : [])];
    for (const n of all) lines.push(`  ${r.name.padEnd(14)} ${n}`);
  }
  lines.push(`total bench time ${((now() - wallStart) / 1000).toFixed(0)} s`);
  const text = lines.join('\n');
  console.log('\n' + text);
  if (o.out) await fsp.writeFile(o.out, text + '\n');
  if (o.json) {
    await fsp.writeFile(
      o.json,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          machine,
          tree: git,
          src_dirty: !!dirty,
          server: server.description,
          options: { ...o, workloads: [...o.workloads] },
          results,
          ratios,
          cpuPerGib,
        },
        null,
        2,
      ) + '\n',
    );
  }
  if (o.keep || o.workdir) say(`work dir kept: ${work}`);
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

main()
  .catch((err) => {
    say(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
