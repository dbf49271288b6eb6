// An in-memory S3BackendApi for the VFS unit tests: objects and `dir/` markers in maps, the
// listing semantics of ListObjectsV2 with and without a delimiter, If-Match on reads, and a
// count of every call so tests can assert on requests the way the mount tests do at the server.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import type {
  BucketInfo,
  CopyResult,
  DeleteResult,
  DeleteTarget,
  ListEntry,
  MultipartUploadInfo,
  ObjectInfo,
  PutOptions,
  ReadOptions,
  S3BackendApi,
} from '../../src/backend/s3/types.js';

interface Obj {
  data: Buffer;
  etag: string;
  lastModified: Date;
  mtimeNs: bigint | null;
}

export class FakeBackend implements S3BackendApi {
  readonly objects = new Map<string, Obj>();
  readonly markers = new Set<string>();
  readonly calls: Record<string, number> = {};
  /** bytes returned by read() bodies */
  bytesRead = 0;
  readonly reads: Array<{ path: string; offset: number; count: number | undefined }> = [];
  /** delay of each request, ms */
  latencyMs = 0;
  /** concurrent HEADs seen at most */
  maxConcurrentHeads = 0;
  private heads = 0;
  private version = 0;

  private count(op: string): void {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
  }

  resetCounts(): void {
    for (const k of Object.keys(this.calls)) delete this.calls[k];
    this.bytesRead = 0;
    this.reads.length = 0;
    this.maxInFlight = 0;
  }

  /** requests waiting out their latency together at most (since the last resetCounts) */
  maxInFlight = 0;
  private inFlight = 0;

  private async delay(): Promise<void> {
    if (this.latencyMs <= 0) return;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, this.latencyMs));
    } finally {
      this.inFlight--;
    }
  }

  /** test set-up: store an object directly (no call counted) */
  putDirect(path: string, data: Buffer | string, mtimeNs: bigint | null = null): Obj {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const o = {
      data: buf,
      etag: `"${createHash('md5').update(buf).update(String(++this.version)).digest('hex')}"`,
      lastModified: new Date(1_700_000_000_000 + this.version * 1000),
      mtimeNs,
    };
    this.objects.set(path, o);
    return o;
  }

  private info(path: string, o: Obj): ObjectInfo {
    return { path, size: o.data.length, lastModified: o.lastModified, mtimeNs: o.mtimeNs, etag: o.etag, metadata: {} };
  }

  async listBuckets(): Promise<BucketInfo[]> {
    return [{ name: 'bucket' }];
  }
  async makeBucket(): Promise<void> {}
  async removeBucket(): Promise<void> {}
  async bucketExists(): Promise<boolean> {
    return true;
  }

  async *list(_bucket: string, prefix: string, opts: { recursive: boolean }): AsyncGenerator<ListEntry> {
    this.count('LIST');
    await this.delay();
    const p = prefix === '' ? '' : prefix + '/';
    const out: ListEntry[] = [];
    const dirs = new Map<string, ListEntry>();
    const addDir = (path: string, marker: boolean) => {
      const e = dirs.get(path);
      if (e) {
        if (marker) e.marker = true;
        return;
      }
      const entry: ListEntry = { kind: 'dir', path, size: 0, ...(marker ? { marker: true } : {}) };
      dirs.set(path, entry);
      out.push(entry);
    };
    // in S3's key order: a marker is the key `dir/`
    const order = (x: { k: string; marker: boolean }) => (x.marker ? x.k + '/' : x.k);
    const keys = [...[...this.objects.keys()].map((k) => ({ k, marker: false })), ...[...this.markers].map((k) => ({ k, marker: true }))].sort((a, b) =>
      order(a) < order(b) ? -1 : 1,
    );
    for (const { k, marker } of keys) {
      if (!k.startsWith(p)) continue;
      const rest = k.slice(p.length);
      if (rest === '') continue;
      if (opts.recursive) {
        if (marker) addDir(k, true);
        else out.push(this.entry(k));
        continue;
      }
      const slash = rest.indexOf('/');
      if (slash >= 0) addDir(p + rest.slice(0, slash), false);
      else if (marker) addDir(k, true);
      else out.push(this.entry(k));
    }
    yield* out;
  }

  async listPage(bucket: string, prefix: string, opts: { recursive: boolean; maxKeys: number }): Promise<{ entries: ListEntry[]; complete: boolean }> {
    const all: ListEntry[] = [];
    for await (const e of this.list(bucket, prefix, opts)) all.push(e);
    return { entries: all.slice(0, opts.maxKeys), complete: all.length <= opts.maxKeys };
  }

  async dirExists(_bucket: string, dir: string): Promise<boolean> {
    this.count('LIST');
    await this.delay();
    const p = dir + '/';
    return this.markers.has(dir) || [...this.objects.keys(), ...this.markers].some((k) => k.startsWith(p));
  }

  async probeName(bucket: string, path: string): Promise<{ isDir: boolean; siblings: ListEntry[]; complete: boolean }> {
    const isDir = await this.dirExists(bucket, path);
    const siblings = [...this.objects.keys()].filter(
      (k) => k.startsWith(path) && k !== path && k.slice(path.length) < '/' && !k.slice(path.length).includes('/'),
    );
    return { isDir, siblings: siblings.map((k) => this.entry(k)), complete: true };
  }

  private entry(k: string): ListEntry {
    const o = this.objects.get(k)!;
    return { kind: 'object', path: k, size: o.data.length, lastModified: o.lastModified, etag: o.etag };
  }

  async head(_bucket: string, path: string): Promise<ObjectInfo | null> {
    this.count('HEAD');
    this.heads++;
    this.maxConcurrentHeads = Math.max(this.maxConcurrentHeads, this.heads);
    try {
      await this.delay();
      const o = this.objects.get(path);
      return o ? this.info(path, o) : null;
    } finally {
      this.heads--;
    }
  }

  async read(_bucket: string, path: string, opts: ReadOptions = {}): Promise<{ body: Readable; info: ObjectInfo }> {
    this.count('GET');
    this.reads.push({ path, offset: opts.offset ?? 0, count: opts.count });
    await this.delay();
    const o = this.objects.get(path);
    if (!o) throw new BackendError('NotFound', 'GET', path, 'not found', { status: 404 });
    if (opts.ifMatch && opts.ifMatch !== o.etag) throw new BackendError('PreconditionFailed', 'GET', path, 'etag mismatch', { status: 412 });
    const start = opts.offset ?? 0;
    const end = opts.count === undefined ? o.data.length : Math.min(o.data.length, start + opts.count);
    const slice = o.data.subarray(start, end);
    const pieces: Buffer[] = [];
    for (let i = 0; i < slice.length; i += 65536) pieces.push(slice.subarray(i, i + 65536));
    const counted = (n: number) => (this.bytesRead += n);
    const body = Readable.from(
      (async function* () {
        for (const piece of pieces) {
          counted(piece.length);
          yield piece;
        }
      })(),
    );
    return { body, info: this.info(path, o) };
  }

  async put(_bucket: string, path: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo> {
    this.count('PUT');
    let data: Buffer;
    if (Buffer.isBuffer(body)) data = body;
    else {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c as Buffer);
      data = Buffer.concat(parts);
    }
    const o = this.putDirect(path, data, opts.mtimeNs);
    return this.info(path, o);
  }

  async copy(_sb: string, src: string, _db: string, dst: string, opts?: { mtimeNs?: bigint }): Promise<CopyResult> {
    this.count('COPY');
    const o = this.objects.get(src);
    if (!o) throw new BackendError('NotFound', 'COPY', src, 'not found', { status: 404 });
    return { etag: this.putDirect(dst, o.data, opts?.mtimeNs ?? o.mtimeNs).etag };
  }

  async setMtime(_bucket: string, path: string, mtimeNs: bigint): Promise<void> {
    this.count('COPY');
    const o = this.objects.get(path);
    if (!o) throw new BackendError('NotFound', 'COPY', path, 'not found', { status: 404 });
    this.putDirect(path, o.data, mtimeNs);
  }

  async delete(_bucket: string, targets: DeleteTarget[]): Promise<DeleteResult> {
    this.count('DELETE');
    const kept: string[] = [];
    for (const t of targets) {
      const p = typeof t === 'string' ? t : t.path;
      const etag = typeof t === 'string' ? undefined : t.etag;
      if (p.endsWith('/')) this.markers.delete(p.slice(0, -1));
      else if (etag && this.objects.has(p) && this.info(p, this.objects.get(p)!).etag !== etag) kept.push(p);
      else this.objects.delete(p);
    }
    return { kept };
  }

  async makeDirMarker(_bucket: string, path: string): Promise<void> {
    this.count('PUT');
    this.markers.add(path);
  }

  async headDirMarker(_bucket: string, dir: string): Promise<ObjectInfo | null> {
    this.count('HEAD');
    await this.delay();
    return this.markers.has(dir) ? { path: dir, size: 0, lastModified: new Date(0), mtimeNs: null, etag: '"marker"', metadata: {} } : null;
  }

  async copyDirMarker(_bucket: string, _from: string, to: string): Promise<void> {
    this.count('COPY');
    this.markers.add(to);
  }

  async listMultipartUploads(): Promise<MultipartUploadInfo[]> {
    return [];
  }
  async abortMultipartUpload(): Promise<void> {}
  async restore(): Promise<void> {}
}

/** A logger that keeps its lines (for assertions) and prints nothing. */
export function memoryLog() {
  const lines: string[] = [];
  const push = (l: string) => (m: string) => void lines.push(`${l} ${m}`);
  return {
    lines,
    error: push('ERROR'),
    notice: push('NOTICE'),
    info: push('INFO'),
    debug: push('DEBUG'),
    enabled: () => true,
  };
}
