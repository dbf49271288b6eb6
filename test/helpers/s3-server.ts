// A real S3 server for tests: moto's server, behind a small recording HTTP proxy.
//
// The proxy lets tests assert on what the server *received* (method, query, headers such
// as x-amz-acl or the SSE-C key, the Host used for addressing style) and count requests by
// type, and it can inject faults (5xx, SlowDown, dropped connections) to prove retries.
// Everything listens on 127.0.0.1 only. stop() always kills moto; the moto launcher also
// exits by itself when the test process dies.
import './sdk-warning.js';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import {
  S3Client,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';

const here = path.dirname(fileURLToPath(import.meta.url));
/** repo root, from dist/test/helpers or test/helpers */
export const repoRoot = here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, '../../..') : path.resolve(here, '../..');

export const TEST_ACCESS_KEY = 'testing-access-key';
export const TEST_SECRET_KEY = 'testing-secret-key-do-not-print';
export const TEST_REGION = 'us-east-1';

export interface RecordedRequest {
  method: string;
  /** request path, URL-decoded (bucket first for path style) */
  path: string;
  rawUrl: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  host: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** request type as the bench harness counts them */
  type: string;
  injected?: string;
  /** the request body as text, for small requests only (up to 64 KiB; XML documents such as RestoreRequest) */
  bodyText?: string;
  /** performance.now() when the request arrived, and when its response ended (0: not yet) */
  startedAt: number;
  endedAt: number;
}

const BODY_TEXT_LIMIT = 64 * 1024;

/**
 * What a fault hook may ask for: an HTTP status (with S3 error code), a dropped connection,
 * 'hang' (the request is held with no answer until releaseHung() or stop(): a server that
 * stopped responding), or a delay before the request is passed on (a slow server).
 */
export type Fault = { status: number; code: string } | 'reset' | 'hang' | { delayMs: number } | undefined;

/** A key the server knows, when it checks signatures. */
export interface TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** temporary credentials: requests must carry this x-amz-security-token */
  sessionToken?: string;
}

export interface StartOptions {
  /**
   * Check every signed request's SigV4 signature, as S3 does: only TEST_ACCESS_KEY with
   * TEST_SECRET_KEY and `credentials` are accepted (InvalidAccessKeyId, SignatureDoesNotMatch,
   * InvalidToken otherwise); unsigned requests are anonymous (object ACLs decide). Off by
   * default: stock moto accepts any key and any signature.
   */
  checkSignatures?: boolean;
  credentials?: TestCredentials[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Classify a request the way ../shared/bench counts them. */
export function requestType(method: string, query: Record<string, string>, headers: Record<string, string>): string {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(query, k);
  if (method === 'GET' && (has('list-type') || has('prefix') || has('delimiter') || has('uploads') || has('max-keys'))) return 'LIST';
  if (method === 'GET') return 'GET';
  if (method === 'HEAD') return 'HEAD';
  if (method === 'POST' && has('uploads')) return 'MPc';
  if (method === 'POST' && has('uploadId')) return 'MPf';
  if (method === 'POST' && has('delete')) return 'DEL';
  if (method === 'PUT' && has('uploadId')) return headers['x-amz-copy-source'] ? 'COPY' : 'MPp';
  if (method === 'PUT' && headers['x-amz-copy-source']) return 'COPY';
  if (method === 'PUT') return 'PUT';
  if (method === 'DELETE' && has('uploadId')) return 'MPabort';
  if (method === 'DELETE') return 'DEL';
  return 'oth';
}

export class TestS3 {
  readonly requests: RecordedRequest[] = [];
  /** set by tests: decides per request whether to inject a fault */
  faultHook: ((req: { method: string; path: string; query: Record<string, string>; type: string; headers: Record<string, string> }) => Fault) | undefined;
  /**
   * set by tests: each response body is sent at most this fast (bytes per second), as from a
   * distant server or AWS's per-connection bandwidth; undefined = as fast as moto answers
   */
  responseBytesPerSecond: number | undefined;
  /** requests held by a 'hang' fault */
  private readonly hung = new Set<http.ServerResponse>();

  private constructor(
    private readonly moto: ChildProcess,
    private readonly proxy: http.Server,
    readonly motoPort: number,
    readonly port: number,
  ) {}

  /** endpoint through the recording proxy: what code under test should use */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** moto itself, unrecorded: for test set-up and for checking what was stored */
  get directEndpoint(): string {
    return `http://127.0.0.1:${this.motoPort}`;
  }

  static async start(opts: StartOptions = {}): Promise<TestS3> {
    const motoPort = await freePort();
    const env = { ...process.env };
    delete env.AWS_CA_BUNDLE;
    delete env.BUCKETFS_MOTO_CREDENTIALS;
    if (opts.checkSignatures) {
      const creds = [{ accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY }, ...(opts.credentials ?? [])];
      env.BUCKETFS_MOTO_CREDENTIALS = JSON.stringify(creds.map((c) => ({ id: c.accessKeyId, secret: c.secretAccessKey, token: c.sessionToken })));
    }
    const moto = spawn('python3', [path.join(repoRoot, 'scripts/moto-server.py'), '-H', '127.0.0.1', '-p', String(motoPort)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    });
    let stderr = '';
    moto.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const killMoto = () => {
      if (moto.exitCode === null) moto.kill('SIGKILL');
    };
    process.once('exit', killMoto);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (moto.exitCode !== null) throw new Error(`moto exited (${moto.exitCode}): ${stderr}`);
      if (await httpOk(`http://127.0.0.1:${motoPort}/`)) break;
      if (Date.now() > deadline) {
        killMoto();
        throw new Error(`moto did not start within 30s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const self: { s?: TestS3 } = {};
    const proxy = http.createServer((req, res) => self.s!.forward(req, res));
    proxy.keepAliveTimeout = 60_000;
    const port = await new Promise<number>((resolve) => {
      proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as net.AddressInfo).port));
    });
    self.s = new TestS3(moto, proxy, motoPort, port);
    return self.s;
  }

  /** An SDK client straight to moto, for set-up and for checking what the server stored. */
  directClient(): S3Client {
    return new S3Client({
      endpoint: this.directEndpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
    });
  }

  async createBucket(name: string): Promise<void> {
    const c = this.directClient();
    try {
      await c.send(new CreateBucketCommand({ Bucket: name }));
    } finally {
      c.destroy();
    }
  }

  /** Run `fn` with a fresh direct client (see directClient()), destroyed afterwards. */
  async withDirectClient<T>(fn: (c: S3Client) => Promise<T>): Promise<T> {
    const c = this.directClient();
    try {
      return await fn(c);
    } finally {
      c.destroy();
    }
  }

  /** The stored body of a key (straight from moto), or null when there is no such key. */
  async getObject(bucket: string, key: string): Promise<Buffer | null> {
    return this.withDirectClient(async (c) => {
      try {
        const o = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return Buffer.from(await o.Body!.transformToByteArray());
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return null;
        throw err;
      }
    });
  }

  /** HEAD a key (straight from moto); throws as the SDK does when the key is missing. */
  async headObject(bucket: string, key: string): Promise<HeadObjectCommandOutput> {
    return this.withDirectClient((c) => c.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
  }

  /** Store an object (straight to moto, unrecorded). */
  async putObject(bucket: string, key: string, body: Buffer | string): Promise<void> {
    await this.withDirectClient((c) => c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
  }

  /** The keys under `prefix` (one ListObjectsV2 page, straight from moto), sorted. */
  async listKeys(bucket: string, prefix: string): Promise<string[]> {
    return this.withDirectClient(async (c) => {
      const out = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    });
  }

  /** Environment for a bucketfs child process: an env-only remote named `name` (default `moto`). */
  env(name = 'moto', extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const R = `RCLONE_CONFIG_${name.toUpperCase()}_`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.AWS_CA_BUNDLE;
    for (const k of Object.keys(env)) if (k.startsWith('RCLONE_') || k.startsWith('AWS_')) delete env[k];
    Object.assign(env, {
      [`${R}TYPE`]: 's3',
      [`${R}PROVIDER`]: 'Other',
      [`${R}ENDPOINT`]: this.endpoint,
      [`${R}ACCESS_KEY_ID`]: TEST_ACCESS_KEY,
      [`${R}SECRET_ACCESS_KEY`]: TEST_SECRET_KEY,
      [`${R}REGION`]: TEST_REGION,
      RCLONE_CONFIG: '/nonexistent/bucketfs-test-rclone.conf',
      ...extra,
    });
    return env;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /**
   * Run `fn` with `hook` as the fault hook, and always clear it afterwards (also when `fn`
   * throws), so that a failing test never leaves faults behind for the next one.
   */
  async withFault<T>(hook: NonNullable<TestS3['faultHook']>, fn: () => Promise<T>): Promise<T> {
    if (this.faultHook) throw new Error('withFault: a fault hook is already set');
    this.faultHook = hook;
    try {
      return await fn();
    } finally {
      this.faultHook = undefined;
    }
  }

  /**
   * The request being decided on, inside a fault hook: forward() records a request and then asks
   * the hook, synchronously, so it is the last one recorded.
   */
  hookedRequest(): RecordedRequest {
    return this.requests.at(-1)!;
  }

  /** Recorded requests whose response has not ended yet (optionally of one type). */
  inFlight(type?: string): RecordedRequest[] {
    return this.requests.filter((r) => r.endedAt === 0 && (type === undefined || r.type === type));
  }

  /** Wait until every recorded request has ended (a response still streaming, a request still uploading). */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight().length > 0) {
      if (Date.now() > deadline) {
        const open = this.inFlight().map((r) => `${r.method} ${r.rawUrl}`);
        throw new Error(`requests still in flight after ${timeoutMs} ms: ${open.join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Requests counted by type, e.g. { LIST: 1, HEAD: 0 }. */
  counts(filter?: (r: RecordedRequest) => boolean): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) if (!filter || filter(r)) out[r.type] = (out[r.type] ?? 0) + 1;
    return out;
  }

  /** End every request a 'hang' fault holds (their connections are dropped). */
  releaseHung(): void {
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
  }

  async stop(): Promise<void> {
    this.releaseHung();
    await new Promise<void>((r) => {
      this.proxy.closeAllConnections();
      this.proxy.close(() => r());
    });
    if (this.moto.exitCode === null) {
      const exited = new Promise((r) => this.moto.once('exit', r));
      this.moto.kill('SIGTERM');
      const t = setTimeout(() => this.moto.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: safeDecode(url.pathname),
      rawUrl: req.url ?? '/',
      query,
      headers,
      host: headers.host ?? '',
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      type: requestType(req.method ?? 'GET', query, headers),
      startedAt: performance.now(),
      endedAt: 0,
    };
    this.requests.push(rec);
    res.once('close', () => (rec.endedAt = performance.now()));
    const fault = this.faultHook?.({ method: rec.method, path: rec.path, query, type: rec.type, headers: rec.headers });
    if (fault === 'reset') {
      rec.injected = 'reset';
      req.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      rec.injected = 'hang';
      req.resume();
      this.hung.add(res);
      res.once('close', () => this.hung.delete(res));
      return;
    }
    if (fault && 'delayMs' in fault) {
      rec.injected = `delay ${fault.delayMs}ms`;
      req.pause();
      setTimeout(() => this.pass(req, res, rec), fault.delayMs);
      return;
    }
    if (fault) {
      rec.injected = fault.code;
      rec.status = fault.status;
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by test</Message></Error>`);
      });
      return;
    }
    this.pass(req, res, rec);
  }

  /** Forward a request to moto and its answer back, recording sizes (throttled when asked). */
  private pass(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): void {
    const up = http.request({ host: '127.0.0.1', port: this.motoPort, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      rec.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.on('data', (d: Buffer) => (rec.bytesOut += d.length));
      const rate = this.responseBytesPerSecond;
      if (!rate) {
        upRes.pipe(res);
        return;
      }
      // throttled: each chunk goes out no earlier than its bytes allow at `rate`
      const t0 = performance.now();
      let sent = 0;
      upRes.on('data', (d: Buffer) => {
        sent += d.length;
        const wait = t0 + (sent / rate) * 1000 - performance.now();
        if (wait <= 0) return void res.write(d);
        upRes.pause();
        setTimeout(() => {
          res.write(d);
          upRes.resume();
        }, wait);
      });
      upRes.on('end', () => setTimeout(() => res.end(), Math.max(0, t0 + (sent / rate) * 1000 - performance.now()) + 1));
      res.once('close', () => upRes.destroy());
    });
    up.on('error', () => {
      rec.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    const small: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      rec.bytesIn += d.length;
      if (rec.bytesIn <= BODY_TEXT_LIMIT) small.push(d);
    });
    req.on('end', () => {
      if (rec.bytesIn > 0 && rec.bytesIn <= BODY_TEXT_LIMIT) rec.bodyText = Buffer.concat(small).toString('utf8');
    });
    req.pipe(up);
  }
}

/** The most requests (of `type`, if given) that were in flight at the same moment, as the server saw them. */
export function maxInFlight(requests: RecordedRequest[], type?: string): number {
  const edges: Array<[number, number]> = [];
  for (const r of requests) if (type === undefined || r.type === type) edges.push([r.startedAt, 1], [r.endedAt || Infinity, -1]);
  // an end at the same instant as a start counts first: touching is not overlapping
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d));
  return max;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

async function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const r = http.get(url, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    r.on('error', () => resolve(false));
    r.setTimeout(1000, () => {
      r.destroy();
      resolve(false);
    });
  });
}
