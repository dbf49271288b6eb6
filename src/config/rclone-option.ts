// One question of rclone's config dialogue, as `rclone config providers` describes it
// (rclone-s3-options.ts holds the S3 ones), and the rules rclone applies to it.

export interface RcloneExample {
  value: string;
  help: string;
  /** offered only for these providers (rclone's provider filter syntax, see matchProvider) */
  provider?: string;
}

export interface RcloneOption {
  name: string;
  help: string;
  /** asked only for these providers: "AWS,Ceph", "!AWS,Minio" (all but these), absent: all */
  provider?: string;
  /** the default as rclone prints it ("200Mi", "false", "") */
  default: string;
  /** rclone's type name: string, bool, int, SizeSuffix, Duration, Tristate, MultiEncoder, Time */
  type: string;
  advanced?: boolean;
  required?: boolean;
  /** only an example's value is accepted */
  exclusive?: boolean;
  /** rclone obscures the value before writing it (no S3 option is one) */
  isPassword?: boolean;
  /** hidden from the dialogue (rclone's Hide flags) */
  hide?: number;
  examples?: RcloneExample[];
}

/**
 * rclone's fs.MatchProvider: an empty filter or an empty provider matches; "!A,B" matches every
 * provider but A and B; "A,B" matches A and B.
 */
export function matchProvider(filter: string | undefined, provider: string): boolean {
  if (!filter || provider === '') return true;
  const negate = filter.startsWith('!');
  const names = (negate ? filter.slice(1) : filter).split(',');
  return names.includes(provider) !== negate;
}
