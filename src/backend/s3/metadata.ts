// Object metadata as rclone writes and reads it.
//
// X-Amz-Meta-Mtime: seconds since the epoch as a fixed-point decimal string, accurate to the
// nanosecond, trailing zeros of the fraction dropped ("1600000000.123456789", "1600000000.5",
// "1600000000"). This is ncw/swift's nsToFloatString/floatStringToNs, which rclone uses
// (swift.TimeToFloatString / FloatStringToTime); both are reproduced byte for byte, including
// what the parser accepts: an optional sign, digits, an optional '.' and fraction, where a
// fraction longer than 9 characters is cut to 9 before the digits are checked. Exponents are
// NOT accepted (rclone falls back to the object's LastModified then, and so do callers here:
// parseMtime returns null).
//
// X-Amz-Meta-Md5chksum: base64 of the binary MD5 of the content, which rclone stores on
// multipart uploads (whose ETag is not an MD5) when it knows the MD5 before uploading.
import { createHash } from 'node:crypto';
import type { ObjectInfo } from './types.js';

export const META_MTIME = 'mtime';
export const META_MD5 = 'md5chksum';
// POSIX attributes, under the names `rclone copy --metadata` writes from a local disk (mode as
// octal digits with the file type, "100755"; uid and gid in decimal) and s3fs also uses (s3fs
// writes the mode in decimal, "33261"): both are read, rclone's form is written.
export const META_MODE = 'mode';
export const META_UID = 'uid';
export const META_GID = 'gid';
/** the access time: rclone writes RFC 3339 with nanoseconds, s3fs whole seconds since the epoch */
export const META_ATIME = 'atime';

/** Permission bits and owners an object carries (each absent when not stored or not valid). */
export interface PosixMeta {
  /** permission bits (07777) */
  perm?: number;
  uid?: number;
  gid?: number;
  /** access time, nanoseconds since the epoch */
  atimeNs?: bigint;
}

const S_IFMT = 0o170000;
const MAX_ID = 2 ** 32 - 2; // (uid_t)-1 means "no change" to chown(2), never an owner

/** the readings of a stored mode, full (with its file type): rclone's octal digits first, then s3fs's decimal */
function storedModes(value: string | undefined): number[] {
  if (value === undefined || !/^[0-9]{1,7}$/.test(value.trim())) return [];
  const v = value.trim();
  const out: number[] = [];
  if (/^[0-7]+$/.test(v)) out.push(parseInt(v, 8));
  out.push(parseInt(v, 10));
  return out.filter((m) => m <= 0o177777);
}

/** the permission bits of a stored mode whose file type is `type` (or none); null if invalid */
function parseMode(value: string | undefined, type: number): number | null {
  const m = storedModes(value).find((x) => (x & S_IFMT) === type || (x & S_IFMT) === 0);
  return m === undefined ? null : m & 0o7777;
}

/**
 * Which of `types` an object's stored mode names (s3fs stores a symbolic link as an object whose
 * mode says so), or null. The caller says which types an object can be: "41471" is s3fs's link
 * (decimal 0120777) as well as a directory's octal 041471, and only the first fits an object.
 */
export function storedFileType(metadata: Record<string, string>, types: number[]): number | null {
  const m = storedModes(metadata[META_MODE]).find((x) => types.includes(x & S_IFMT));
  return m === undefined ? null : m & S_IFMT;
}

function parseId(value: string | undefined): number | null {
  if (value === undefined || !/^\s*[0-9]{1,10}\s*$/.test(value)) return null;
  const n = Number(value.trim());
  return n <= MAX_ID ? n : null;
}

/** The POSIX attributes stored in an object's user metadata (`type`: S_IFREG for files). */
export function posixFrom(metadata: Record<string, string>, type: number): PosixMeta {
  const p: PosixMeta = {};
  const perm = parseMode(metadata[META_MODE], type);
  if (perm !== null) p.perm = perm;
  const uid = parseId(metadata[META_UID]);
  if (uid !== null) p.uid = uid;
  const gid = parseId(metadata[META_GID]);
  if (gid !== null) p.gid = gid;
  const atime = parseTime(metadata[META_ATIME]);
  if (atime !== null) p.atimeNs = atime;
  return p;
}

/** RFC 3339 (to the nanosecond) or whole seconds since the epoch → nanoseconds; null if neither */
function parseTime(value: string | undefined): bigint | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^[0-9]{1,12}$/.test(v)) return BigInt(v) * 1_000_000_000n;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(v);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

/** nanoseconds since the epoch → RFC 3339 in UTC with the nanoseconds rclone keeps */
function formatTime(ns: bigint): string {
  const sec = ns / 1_000_000_000n - (ns % 1_000_000_000n < 0n ? 1n : 0n);
  const frac = ns - sec * 1_000_000_000n;
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  const f = frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${f ? '.' + f : ''}Z`;
}

/** User metadata that stores `p` for an object of file type `type`, in rclone's form. */
export function posixMetadata(p: PosixMeta, type: number): Record<string, string> {
  const m: Record<string, string> = {};
  if (p.perm !== undefined) m[META_MODE] = (type | (p.perm & 0o7777)).toString(8);
  if (p.uid !== undefined) m[META_UID] = String(p.uid);
  if (p.gid !== undefined) m[META_GID] = String(p.gid);
  if (p.atimeNs !== undefined) m[META_ATIME] = formatTime(p.atimeNs);
  return m;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** nanoseconds → rclone's mtime string */
export function formatMtime(ns: bigint): string {
  if (ns < 0n) return '-' + formatMtime(-ns);
  const s = ns.toString().padStart(10, '0');
  const split = s.length - 9;
  const whole = s.slice(0, split);
  const frac = s.slice(split).replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole;
}

/** rclone's mtime string → nanoseconds; null when rclone would reject it. */
export function parseMtime(value: string | undefined | null): bigint | null {
  if (value === undefined || value === null) return null;
  let s = value;
  const point = s.indexOf('.');
  if (point >= 0) {
    let tail = s.slice(point + 1);
    tail = tail.length > 9 ? tail.slice(0, 9) : tail + '000000000'.slice(tail.length);
    s = s.slice(0, point) + tail;
  } else if (s.length > 0) {
    s += '000000000';
  }
  // strconv.ParseInt(s, 10, 64): optional sign, then one or more ASCII digits
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const n = BigInt(s);
  if (n < INT64_MIN || n > INT64_MAX) return null;
  return n;
}

/** hex md5 → base64 (Content-MD5 / md5chksum form); null if not a valid hex md5 */
export function md5HexToBase64(hex: string): string | null {
  if (!/^[0-9a-f]{32}$/i.test(hex)) return null;
  return Buffer.from(hex, 'hex').toString('base64');
}

/** base64 md5 → hex; null when it is not 16 bytes of base64 */
export function md5Base64ToHex(b64: string | undefined): string | null {
  if (!b64 || !/^[A-Za-z0-9+/]{22}==$/.test(b64.trim())) return null;
  return Buffer.from(b64.trim(), 'base64').toString('hex');
}

export function md5Of(buf: Uint8Array): Buffer {
  return createHash('md5').update(buf).digest();
}

/** ETag without quotes, lower-cased; a plain 32-hex ETag is the MD5 of a single-part upload. */
export function etagMd5(etag: string | undefined): string | null {
  if (!etag) return null;
  const e = etag.replace(/"/g, '').trim().toLowerCase();
  return /^[0-9a-f]{32}$/.test(e) ? e : null;
}

/** The fields of a HEAD or GET response that ObjectInfo is built from. */
export interface ObjectHeaders {
  ContentLength?: number;
  ContentRange?: string;
  LastModified?: Date;
  ETag?: string;
  StorageClass?: string;
  ContentType?: string;
  CacheControl?: string;
  ContentDisposition?: string;
  ContentEncoding?: string;
  ContentLanguage?: string;
  Metadata?: Record<string, string>;
  Restore?: string;
  ServerSideEncryption?: string;
  SSECustomerAlgorithm?: string;
}

/**
 * Build ObjectInfo. `etagIsNotMd5` when the bucket is configured for SSE-C or SSE-KMS (the ETag
 * is then not the content MD5, as rclone's etagIsNotMD5), and also when the response says so.
 */
export function objectInfoFrom(path: string, h: ObjectHeaders, etagIsNotMd5: boolean): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(h.Metadata ?? {})) metadata[k.toLowerCase()] = v;
  let size = h.ContentLength ?? 0;
  // ranged GET: the total size is after the '/' of Content-Range ("bytes 0-9/1234")
  const m = h.ContentRange ? /\/(\d+)\s*$/.exec(h.ContentRange) : null;
  if (m) size = Number(m[1]);
  const encrypted = etagIsNotMd5 || h.ServerSideEncryption === 'aws:kms' || !!h.SSECustomerAlgorithm;
  const md5 = (!encrypted ? etagMd5(h.ETag) : null) ?? md5Base64ToHex(metadata[META_MD5]) ?? undefined;
  const info: ObjectInfo = {
    path,
    size,
    lastModified: h.LastModified ?? new Date(0),
    mtimeNs: parseMtime(metadata[META_MTIME]),
    etag: h.ETag ?? '',
    metadata,
  };
  if (h.StorageClass) info.storageClass = h.StorageClass;
  if (h.ContentType) info.contentType = h.ContentType;
  if (h.CacheControl) info.cacheControl = h.CacheControl;
  if (h.ContentDisposition) info.contentDisposition = h.ContentDisposition;
  if (h.ContentEncoding) info.contentEncoding = h.ContentEncoding;
  if (h.ContentLanguage) info.contentLanguage = h.ContentLanguage;
  if (md5) info.md5 = md5;
  if (h.Restore) info.restore = h.Restore;
  return info;
}

/** Storage classes whose objects must be restored before they can be read. */
export const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/**
 * True when an object of this class cannot be read now: archived and either never restored
 * (no x-amz-restore) or with the restore still running (ongoing-request="true").
 */
export function isArchivedUnrestored(storageClass: string | undefined, restore: string | undefined): boolean {
  if (!storageClass || !ARCHIVE_CLASSES.has(storageClass)) return false;
  if (!restore) return true;
  return /ongoing-request\s*=\s*"true"/i.test(restore);
}

/** rclone's message for an archived object. */
export function archivedMessage(storageClass: string | undefined, path: string): string {
  return `Object in ${storageClass || 'GLACIER'}, restore first: ${path}`;
}
