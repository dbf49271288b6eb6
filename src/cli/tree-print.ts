// The text of rclone 1.60's `tree` (its vendored a8m/tree), from a list of paths: the "/" root
// line, ├── └── │ lines, the optional [props] block, and the "N directories, M files" report.
// Pure (no I/O) so that its quirks are kept in one place, each as rclone has it:
// - names starting with "." are left out (and not counted) unless -a;
// - directories show only their size (-s: the sum of what is shown under them; one not descended
//   into, below --level, shows ???????????), never a date or mode; the root line gets the size too;
// - sorting is a8m's: by name (bytes), size (a directory counts as -1), modification time (a
//   directory as "now", after every file), --dirsfirst; -r reverses the comparison but equal
//   keys keep their name order (Go's sort of up to 12 entries is an insertion sort); -U keeps
//   the listing's order (names) and ignores -r;
// - the report counts directories only when some file was counted ("if f != 0" in rclone's
//   tree.go): with -d it always says "0 directories", and it has no plural for 1 ("1 files").

export interface TreeEntry {
  /** path relative to the root, '/'-separated */
  rel: string;
  dir: boolean;
  /** objects: bytes */
  size: number;
  /** objects: modification time in ns (needed for -D and -t only) */
  mtimeNs?: bigint;
}

export interface TreeFlags {
  dirsOnly: boolean;
  size: boolean;
  modTime: boolean;
  protections: boolean;
  quote: boolean;
  color: boolean;
  all: boolean;
  fullPath: boolean;
  noIndent: boolean;
  noReport: boolean;
  /** 0: no limit */
  level: number;
  sort: 'name' | 'size' | 'mtime' | 'none';
  dirsFirst: boolean;
  reverse: boolean;
}

interface Node {
  name: string;
  dir: boolean;
  size: number;
  mtimeNs?: bigint;
  children: Map<string, Node>;
}

/** the size of a directory that was not descended into (below --level): rclone prints ??????????? */
const UNKNOWN = -1;

const COLOR_DIR = '\x1b[1;34m';
const COLOR_RESET = '\x1b[0m';

function newNode(name: string, dir: boolean, size = 0, mtimeNs?: bigint): Node {
  return { name, dir, size, mtimeNs, children: new Map() };
}

/** The tree of the entries: directories implied by a path are made as needed. */
function build(entries: TreeEntry[]): Node {
  const root = newNode('', true);
  for (const e of entries) {
    const parts = e.rel.split('/').filter((p) => p !== '');
    if (parts.length === 0) continue;
    let n = root;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      let child = n.children.get(parts[i]!);
      if (!child) {
        child = last && !e.dir ? newNode(parts[i]!, false, e.size, e.mtimeNs) : newNode(parts[i]!, true);
        n.children.set(parts[i]!, child);
      }
      n = child;
    }
  }
  return root;
}

const byName = (a: Node, b: Node) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));

/** a8m's Less of each sort: true when a goes before b */
function less(flags: TreeFlags): ((a: Node, b: Node) => boolean) | undefined {
  if (flags.sort === 'none') return undefined;
  if (flags.dirsFirst) return (a, b) => a.dir && !b.dir;
  if (flags.sort === 'size') return (a, b) => (a.dir ? -1 : a.size) < (b.dir ? -1 : b.size);
  if (flags.sort === 'mtime') {
    // a directory on S3 has no time: rclone gives it the current one, later than any file
    const t = (n: Node) => (n.dir ? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n : (n.mtimeNs ?? 0n));
    return (a, b) => t(a) < t(b);
  }
  return (a, b) => byName(a, b) < 0;
}

/** Go's insertion sort (stable), with a8m's sort.Reverse for -r. */
function sortNodes(nodes: Node[], flags: TreeFlags): Node[] {
  const out = [...nodes].sort(byName); // the listing's order
  const lt = less(flags);
  if (!lt) return out;
  const before = flags.reverse ? (a: Node, b: Node) => lt(b, a) : lt;
  for (let i = 1; i < out.length; i++) {
    for (let j = i; j > 0 && before(out[j]!, out[j - 1]!); j--) [out[j], out[j - 1]] = [out[j - 1]!, out[j]!];
  }
  return out;
}

function timeText(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  const month = d.toLocaleString('en-US', { month: 'short' });
  const p = (n: number) => String(n).padStart(2, '0');
  return `${month} ${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** rclone tree's output for `entries` (with its trailing newline). */
export function renderTree(entries: TreeEntry[], flags: TreeFlags): string {
  const root = build(entries);
  let dirs = 0;
  let files = 0;
  const lines: string[] = [];

  // what is shown under a directory, and its size (the sum of that), as a8m's Visit computes them
  interface Shown {
    node: Node;
    path: string;
    kids: Shown[];
    size: number;
  }
  const visit = (node: Node, path: string, depth: number): Shown => {
    const s: Shown = { node, path, kids: [], size: node.dir ? 0 : node.size };
    if (!node.dir) return s;
    if (flags.level > 0 && depth >= flags.level) return { ...s, size: UNKNOWN };
    for (const child of sortNodes([...node.children.values()], flags)) {
      if (!flags.all && child.name.startsWith('.')) continue;
      if (!child.dir && flags.dirsOnly) continue;
      const k = visit(child, path === '/' ? `/${child.name}` : `${path}/${child.name}`, depth + 1);
      if (child.dir) dirs++;
      else files++;
      s.kids.push(k);
      // an unknown size (a directory below --level) is left out of the sum; with -d it makes the sum unknown
      if (s.size !== UNKNOWN && k.size !== UNKNOWN) s.size += k.size;
      else if (flags.dirsOnly) s.size = UNKNOWN;
    }
    return s;
  };
  const top = visit(root, '/', 0);

  const label = (s: Shown): string => {
    const props: string[] = [];
    if (!s.node.dir && flags.protections) props.push('-rw-rw-rw-');
    if (flags.size) props.push(s.size === UNKNOWN ? '?'.repeat(11) : String(s.size).padStart(11));
    if (!s.node.dir && flags.modTime) props.push(timeText(s.node.mtimeNs ?? 0n));
    let name = flags.fullPath ? s.path : s === top ? '/' : s.node.name;
    if (flags.quote) name = `"${name}"`;
    if (flags.color && s.node.dir) name = `${COLOR_DIR}${name}${COLOR_RESET}`;
    return (props.length > 0 ? `[${props.join(' ')}]  ` : '') + name;
  };
  const print = (s: Shown, indent: string) => {
    s.kids.forEach((k, i) => {
      const last = i === s.kids.length - 1;
      lines.push(flags.noIndent ? label(k) : `${indent}${last ? '└── ' : '├── '}${label(k)}`);
      print(k, flags.noIndent ? '' : `${indent}${last ? '    ' : '│   '}`);
    });
  };
  lines.push(label(top));
  print(top, '');
  if (!flags.noReport) {
    const nd = files !== 0 ? dirs : 0;
    lines.push('', flags.dirsOnly ? `${nd} directories` : `${nd} directories, ${files} files`);
  }
  return lines.join('\n') + '\n';
}
