// One running mount's state in one document: what `bucketfs stats` prints (--json: as is), and
// what /metrics renders in Prometheus' text format (prometheus.ts). Each layer keeps its own
// counters (the backend its requests, the FUSE adapter its operations, the VFS its caches and
// uploads); they are only read here, when someone asks: nothing is copied as the mount works.
import type { RequestStats, RequestStatsSnapshot } from '../backend/s3/request-stats.js';
import type { FuseOpStats, FuseOpStatsSnapshot } from '../fuse/op-stats.js';
import type { Vfs } from '../vfs/vfs.js';
import { RateWindow } from './rates.js';

/** The document. Its shape is what `bucketfs stats --json` prints: fields are only ever added. */
export interface MountSnapshot {
  bucketfs: string;
  pid: number;
  remote: string;
  mountpoint: string;
  /** when the mount became usable (ISO 8601) */
  mountedAt: string;
  uptimeSeconds: number;
  uploads: {
    /** closed files whose data is not in the bucket yet (waiting for --vfs-write-back, or uploading) */
    pending: number;
    /** uploads running (or waiting for a --transfers slot) */
    inFlight: number;
    /** files whose last upload attempt failed, to be tried again */
    failing: number;
    /** files open for writing */
    open: number;
    /** files uploaded since the mount, and their bytes */
    completed: number;
    completedBytes: number;
    /** upload attempts that failed */
    failedAttempts: number;
  };
  cache: {
    /** bytes on the cache disk: files not uploaded yet (or open), and clean copies kept for reading */
    pendingBytes: number;
    cleanBytes: number;
    cleanFiles: number;
    /** file data in memory, within one budget (--vfs-memory-limit): downloaded blocks for
     *  readers (their share now: the budget less the upload buffers), streamed uploads' part buffers */
    memoryLimitBytes: number;
    readMemoryBytes: number;
    readMemoryLimitBytes: number;
    uploadBufferBytes: number;
  };
  dirCache: { directories: number; hits: number; misses: number };
  files: { opens: number; openHandles: number; reads: number; readBytes: number; writes: number; writtenBytes: number };
  s3: RequestStatsSnapshot;
  fuse: FuseOpStatsSnapshot;
  /** over the last `seconds` */
  rates: { seconds: number; sentBytesPerSecond: number; receivedBytesPerSecond: number; requestsPerSecond: number };
  process: { residentBytes: number; heapUsedBytes: number; cpuSeconds: number; startTime: number };
}

export interface MountSources {
  version: string;
  remote: string;
  mountpoint: string;
  vfs: Vfs;
  /** the backend's request counts (none: a backend that does not count) */
  requests: RequestStats | undefined;
  fuse: FuseOpStats;
}

/** The snapshots of one mount, from the moment it is mounted. */
export class MountMetrics {
  private readonly mountedAt = new Date();
  private readonly rates: RateWindow;

  constructor(private readonly src: MountSources) {
    const r = src.requests;
    this.rates = new RateWindow(() => [r?.bytesSent ?? 0, r?.bytesReceived ?? 0, r?.total ?? 0]);
  }

  snapshot(): MountSnapshot {
    const v = this.src.vfs.metrics();
    const w = v.writeBack;
    const rates = this.rates.rates();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    return {
      bucketfs: this.src.version,
      pid: process.pid,
      remote: this.src.remote,
      mountpoint: this.src.mountpoint,
      mountedAt: this.mountedAt.toISOString(),
      uptimeSeconds: (Date.now() - this.mountedAt.getTime()) / 1000,
      uploads: {
        pending: w?.pending ?? 0,
        inFlight: w?.uploading ?? 0,
        failing: w?.failing ?? 0,
        open: w?.open ?? 0,
        completed: w?.uploads ?? 0,
        completedBytes: w?.bytesUploaded ?? 0,
        failedAttempts: w?.failures ?? 0,
      },
      cache: {
        pendingBytes: w?.pendingBytes ?? 0,
        cleanBytes: w?.cachedBytes ?? 0,
        cleanFiles: w?.cached ?? 0,
        memoryLimitBytes: v.memory.limitBytes,
        readMemoryBytes: v.readCache.bytes,
        readMemoryLimitBytes: v.readCache.limitBytes,
        uploadBufferBytes: w?.streamMemory ?? 0,
      },
      dirCache: v.dirCache,
      files: { opens: v.opens, openHandles: v.openHandles, reads: v.reads, readBytes: v.bytesRead, writes: v.writes, writtenBytes: v.bytesWritten },
      s3: this.src.requests?.snapshot() ?? { requests: [], inFlight: 0, bytesSent: 0, bytesReceived: 0, retries: 0, errors: {}, durations: {} },
      fuse: this.src.fuse.snapshot(),
      rates: {
        seconds: rates.seconds,
        sentBytesPerSecond: rates.perSecond[0] ?? 0,
        receivedBytesPerSecond: rates.perSecond[1] ?? 0,
        requestsPerSecond: rates.perSecond[2] ?? 0,
      },
      process: {
        residentBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        startTime: Math.round(Date.now() / 1000 - process.uptime()),
      },
    };
  }

  stop(): void {
    this.rates.stop();
  }
}
