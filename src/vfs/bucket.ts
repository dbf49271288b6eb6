// The one boundary between the two coordinate systems of the VFS.
//
// Inside the VFS every path is a *mount path*: relative to the mount root, '' for the root,
// 'a/b' below it (paths.ts). The backend speaks *bucket paths*: logical names relative to the
// bucket root (a mount of `remote:bucket/some/prefix` has its root at 'some/prefix'). Every
// object request of the VFS goes through a MountedBucket, by mount path; it alone converts, so
// no cache, handle or upload of the VFS ever holds a bucket path (journals record one, through
// keyOf, because they outlive the mount and must name the object whatever is mounted next).
import type { Readable } from 'node:stream';
import type { CopyOptions, CopyResult, DeleteResult, DeleteTarget, ListEntry, ObjectInfo, PutOptions, ReadOptions, S3BackendApi } from '../backend/s3/types.js';
import type { MountRoot } from './paths.js';

export class MountedBucket {
  constructor(
    readonly backend: S3BackendApi,
    readonly root: MountRoot,
  ) {}

  get name(): string {
    return this.root.bucket;
  }

  /** mount path → bucket path */
  keyOf(rel: string): string {
    return this.root.toBackend(rel);
  }

  /** bucket path → mount path, or null when it is not below the mount root */
  relOf(key: string): string | null {
    return this.root.fromBackend(key);
  }

  head(rel: string): Promise<ObjectInfo | null> {
    return this.backend.head(this.name, this.keyOf(rel));
  }

  read(rel: string, opts?: ReadOptions): Promise<{ body: Readable; info: ObjectInfo }> {
    return this.backend.read(this.name, this.keyOf(rel), opts);
  }

  put(rel: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo> {
    return this.backend.put(this.name, this.keyOf(rel), body, opts);
  }

  copy(from: string, to: string, opts?: CopyOptions): Promise<CopyResult> {
    return this.backend.copy(this.name, this.keyOf(from), this.name, this.keyOf(to), opts);
  }

  setMtime(rel: string, mtimeNs: bigint): Promise<void> {
    return this.backend.setMtime(this.name, this.keyOf(rel), mtimeNs);
  }

  /** objects by mount path (with the ETag they may be deleted as); returns the mount paths kept */
  async delete(targets: DeleteTarget[]): Promise<DeleteResult> {
    const byKey = new Map<string, string>();
    const out = await this.backend.delete(
      this.name,
      targets.map((t) => {
        const rel = typeof t === 'string' ? t : t.path;
        const key = this.keyOf(rel);
        byKey.set(key, rel);
        return typeof t === 'string' || !t.etag ? key : { path: key, etag: t.etag };
      }),
    );
    return { kept: out.kept.map((k) => byKey.get(k) ?? k) };
  }

  makeDirMarker(rel: string, opts?: { mtimeNs?: bigint; metadata?: Record<string, string> }): Promise<void> {
    return this.backend.makeDirMarker(this.name, this.keyOf(rel), opts);
  }

  headDirMarker(rel: string): Promise<ObjectInfo | null> {
    return this.backend.headDirMarker(this.name, this.keyOf(rel));
  }

  copyDirMarker(from: string, to: string): Promise<void> {
    return this.backend.copyDirMarker(this.name, this.keyOf(from), this.keyOf(to));
  }

  /** The entries of the directory `dir` (or everything below it), with mount paths; entries
   *  outside the mount root (none, unless the backend misbehaves) are skipped. */
  async *list(dir: string, opts: { recursive: boolean; signal?: AbortSignal }): AsyncGenerator<ListEntry> {
    for await (const e of this.backend.list(this.name, this.keyOf(dir), opts)) {
      const rel = this.relOf(e.path);
      if (rel !== null) yield { ...e, path: rel };
    }
  }

  /** One LIST of at most `maxKeys` keys of `dir`, with mount paths; complete: that was all. */
  async listPage(dir: string, maxKeys: number): Promise<{ entries: ListEntry[]; complete: boolean }> {
    const page = await this.backend.listPage(this.name, this.keyOf(dir), { recursive: false, maxKeys });
    const entries: ListEntry[] = [];
    for (const e of page.entries) {
      const rel = this.relOf(e.path);
      if (rel !== null) entries.push({ ...e, path: rel });
    }
    return { entries, complete: page.complete };
  }

  /** a directory at `rel`, and the objects whose names extend its name before '/' (with mount paths) */
  async probeName(rel: string): Promise<{ isDir: boolean; siblings: ListEntry[]; complete: boolean }> {
    const r = await this.backend.probeName(this.name, this.keyOf(rel));
    const siblings: ListEntry[] = [];
    for (const e of r.siblings) {
      const p = this.relOf(e.path);
      if (p !== null) siblings.push({ ...e, path: p });
    }
    return { ...r, siblings };
  }

  /** a directory marker or any key below `rel/` exists */
  dirExists(rel: string): Promise<boolean> {
    return this.backend.dirExists(this.name, this.keyOf(rel));
  }
}
