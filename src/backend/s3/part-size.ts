// Multipart arithmetic, as rclone's fs/chunksize.Calculator.

const MiB = 1024 * 1024;

/** S3's largest object (5 TiB): a file that would be larger can never be stored */
export const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;

/**
 * The part size for an upload of `size` bytes (-1 or undefined = unknown): the configured
 * chunk size if it keeps the upload within maxParts parts, else the smallest size that does,
 * rounded up to a whole MiB (plus one MiB when exactly on the boundary, as rclone does).
 */
export function partSizeFor(size: number | undefined, maxParts: number, chunkSize: number): number {
  if (size === undefined || size < 0) return chunkSize;
  const required = Math.floor(size / chunkSize);
  if (required < maxParts || (required === maxParts && size % chunkSize === 0)) return chunkSize;
  let minChunk = Math.floor(size / maxParts);
  const remainder = minChunk % MiB;
  if (remainder !== 0) minChunk += MiB - remainder;
  if (Math.floor(size / minChunk) === maxParts && size % maxParts !== 0) minChunk += MiB;
  return minChunk;
}

/** The largest stream of unknown size that fits: chunk_size × max_upload_parts. */
export function maxStreamSize(maxParts: number, chunkSize: number): number {
  return maxParts * chunkSize;
}

/** rclone's rule: multipart for unknown sizes and sizes at or above upload_cutoff; never for empty bodies. */
export function useMultipart(size: number | undefined, uploadCutoff: number): boolean {
  if (size === 0) return false;
  return size === undefined || size >= uploadCutoff;
}
