// Reading /proc/self/mountinfo: is a path a mount point, and of what type.
import { readFileSync } from 'node:fs';

export interface MountInfoEntry {
  /** the mount's ID (field 1): unique among the mounts present, unlike the path, where mounts can stack */
  id: string;
  mountPoint: string;
  fsType: string;
  source: string;
  /** the mount's device number, "major:minor" (its backing device info is /sys/class/bdi/<devno>) */
  devno: string;
  /** the file system's own options (a FUSE mount's say user_id=, the uid that mounted it) */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0 || fields.length < sep + 3) continue;
    out.push({
      id: fields[0]!,
      mountPoint: unescapeMountField(fields[4]!),
      fsType: fields[sep + 1]!,
      source: unescapeMountField(fields[sep + 2]!),
      devno: fields[2]!,
      superOptions: fields[sep + 3] ?? '',
    });
  }
  return out;
}

export function readMountInfo(file = '/proc/self/mountinfo'): MountInfoEntry[] {
  try {
    return parseMountInfo(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}

/** The mount at exactly `absPath` (the last one, if stacked), or undefined. */
export function findMount(absPath: string, entries = readMountInfo()): MountInfoEntry | undefined {
  let found: MountInfoEntry | undefined;
  for (const e of entries) if (e.mountPoint === absPath) found = e;
  return found;
}
