// rclone's filter language (https://rclone.org/filtering/), the one implementation every listing
// and transfer command uses: --include, --exclude, --filter, --filter-from, --include-from,
// --exclude-from, --files-from, --min-size/--max-size, --min-age/--max-age, --max-depth.
//
// Rules are rclone 1.60's (fs/filter): a glob becomes a regular expression (globToRegExp) matched
// against the path relative to the root of the listing; `*` stays within a segment, `**` crosses
// them, a leading `/` anchors at the root, else the pattern matches at any segment boundary. The
// first rule that matches decides. A pattern ending in `/` is a directory rule (an excluded
// directory is not entered, so nothing under it is listed); file rules that include something
// also include the directories it can be in (globToDirGlobs). --include rules come first, then
// --exclude, then --filter/--filter-from, then the implicit `- /**` that any --include adds.
import { readFileSync } from 'node:fs';
import { DURATION_OFF, parseDuration, parseSize, SIZE_OFF } from '../config/units.js';
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { joinFlagValues } from './flag-values.js';

/** A bad pattern or rule: the message is rclone's. */
export class FilterError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'FilterError';
  }
}

/**
 * An rclone glob as a RegExp, exactly as rclone 1.60's GlobToRegexp builds it: `*` → `[^/]*`,
 * `**` → `.*`, `?` → `[^/]`, `[...]` copied as a character class, `{a,b}` → `(a|b)`, `\x`
 * copied, regexp metacharacters escaped, `(^|/)` in front unless the glob starts with `/` (then `^`).
 */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(globToRegExpSource(glob), 'u');
}

export function globToRegExpSource(glob: string): string {
  let re = '';
  let g = glob;
  if (g.startsWith('/')) {
    g = g.slice(1);
    re += '^';
  } else re += '(^|/)';
  let stars = 0;
  const insertStars = () => {
    if (stars === 1) re += '[^/]*';
    else if (stars === 2) re += '.*';
    else if (stars > 2) throw new FilterError(`too many stars in ${JSON.stringify(glob)}`);
    stars = 0;
  };
  let inBraces = false;
  let inBrackets = 0;
  let slashed = false;
  for (const c of g) {
    if (slashed) {
      re += c;
      slashed = false;
      continue;
    }
    if (c !== '*') insertStars();
    if (inBrackets > 0) {
      re += c;
      if (c === '[') inBrackets++;
      if (c === ']') inBrackets--;
      continue;
    }
    switch (c) {
      case '\\':
        re += c;
        slashed = true;
        break;
      case '*':
        stars++;
        break;
      case '?':
        re += '[^/]';
        break;
      case '[':
        re += c;
        inBrackets++;
        break;
      case ']':
        throw new FilterError(`mismatched ']' in glob ${JSON.stringify(glob)}`);
      case '{':
        if (inBraces) throw new FilterError(`can't nest '{' '}' in glob ${JSON.stringify(glob)}`);
        inBraces = true;
        re += '(';
        break;
      case '}':
        if (!inBraces) throw new FilterError(`mismatched '{' and '}' in glob ${JSON.stringify(glob)}`);
        inBraces = false;
        re += ')';
        break;
      case ',':
        re += inBraces ? '|' : c;
        break;
      case '.':
      case '+':
      case '(':
      case ')':
      case '|':
      case '^':
      case '$':
        re += `\\${c}`;
        break;
      default:
        re += c;
    }
  }
  insertStars();
  if (inBrackets > 0) throw new FilterError(`mismatched '[' and ']' in glob ${JSON.stringify(glob)}`);
  if (inBraces) throw new FilterError(`mismatched '{' and '}' in glob ${JSON.stringify(glob)}`);
  re += '$';
  try {
    new RegExp(re, 'u');
  } catch (err) {
    throw new FilterError(`bad glob pattern ${JSON.stringify(glob)} (regexp ${JSON.stringify(re)}): ${(err as Error).message}`);
  }
  return re;
}

// Globs whose directories cannot be worked out: `/` or `**` inside braces.
const TOO_HARD = /\{[^{}]*(\*\*|\/)[^{}]*\}/;

/**
 * The directory globs (each ending in `/`) a file glob can be under: `a/b/*.txt` → `a/b/`, `a/`;
 * a glob with `**` or without `/` could be anywhere (`/**`). As rclone's globToDirGlobs.
 */
export function globToDirGlobs(glob: string): string[] {
  if (TOO_HARD.test(glob)) return ['/**'];
  let g = glob.replace(/\/{2,}/g, '/');
  const out: string[] = [];
  for (;;) {
    let i = g.lastIndexOf('/');
    const j = g.lastIndexOf('**');
    let what = '';
    if (j > i) {
      i = j;
      what = '**';
    }
    if (i < 0) {
      if (out.length === 0) out.push('/**');
      break;
    }
    g = g.slice(0, i);
    const next = `${g}${what}/`;
    if (out.length === 0 || out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

interface Rule {
  include: boolean;
  re: RegExp;
  /** the glob, for messages and tests */
  glob: string;
}

/** The filter flags, as given (repeatable ones in command-line order). */
export interface FilterOptions {
  include?: string[];
  exclude?: string[];
  filter?: string[];
  filterFrom?: string[];
  includeFrom?: string[];
  excludeFrom?: string[];
  filesFrom?: string[];
  minSize?: string;
  maxSize?: string;
  minAge?: string;
  maxAge?: string;
  maxDepth?: number;
}

/** The lines of a rules file (`-` is stdin): trimmed, without blank lines and `#`/`;` comments. */
function ruleLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EISDIR' ? 'is a directory' : (e.message ?? String(err));
    throw new FilterError(`open ${file}: ${why}`);
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l[0] !== '#' && l[0] !== ';');
}

export class Filter {
  private fileRules: Rule[] = [];
  private dirRules: Rule[] = [];
  /** --files-from: the files, and every directory above one */
  private files?: Set<string>;
  private filesDirs?: Set<string>;
  minSize = SIZE_OFF;
  maxSize = SIZE_OFF;
  /** objects modified before this (ms since the epoch) are excluded (--max-age) */
  modTimeFrom?: number;
  /** objects modified after this are excluded (--min-age) */
  modTimeTo?: number;
  /** -1: no limit */
  maxDepth = -1;

  /** A filter from the flags; a bad pattern, rule or file is a FilterError. */
  static fromOptions(o: FilterOptions, now = Date.now()): Filter {
    const f = new Filter();
    if (o.minAge !== undefined) {
      const ms = parseDuration(o.minAge);
      if (ms !== DURATION_OFF) f.modTimeTo = now - ms;
    }
    if (o.maxAge !== undefined) {
      const ms = parseDuration(o.maxAge);
      if (ms !== DURATION_OFF) {
        f.modTimeFrom = now - ms;
        if (f.modTimeTo !== undefined && f.modTimeTo < f.modTimeFrom) {
          throw new FilterError(`filter: --min-age ${JSON.stringify(o.minAge)} can't be larger than --max-age ${JSON.stringify(o.maxAge)}`);
        }
      }
    }
    if (o.minSize !== undefined) f.minSize = parseSize(o.minSize);
    if (o.maxSize !== undefined) f.maxSize = parseSize(o.maxSize);
    if (o.maxDepth !== undefined) {
      if (!Number.isInteger(o.maxDepth)) throw new FilterError(`invalid --max-depth ${JSON.stringify(String(o.maxDepth))}: use a whole number`);
      f.maxDepth = o.maxDepth < 0 ? -1 : o.maxDepth;
    }
    let implicitExclude = false;
    let foundExclude = false;
    for (const g of o.include ?? []) {
      f.add(true, g);
      implicitExclude = true;
    }
    for (const file of o.includeFrom ?? []) {
      for (const g of ruleLines(file)) f.add(true, g);
      implicitExclude = true;
    }
    for (const g of o.exclude ?? []) {
      f.add(false, g);
      foundExclude = true;
    }
    for (const file of o.excludeFrom ?? []) {
      for (const g of ruleLines(file)) f.add(false, g);
      foundExclude = true;
    }
    if (implicitExclude && foundExclude) {
      log.error('Using --filter is recommended instead of both --include and --exclude as the order they are parsed in is indeterminate');
    }
    for (const r of o.filter ?? []) f.addRule(r);
    for (const file of o.filterFrom ?? []) for (const r of ruleLines(file)) f.addRule(r);
    const rulesActive = f.fileRules.length > 0 || f.dirRules.length > 0;
    for (const file of o.filesFrom ?? []) {
      if (rulesActive || f.minSize >= 0 || f.maxSize >= 0 || f.modTimeFrom !== undefined || f.modTimeTo !== undefined) {
        throw new FilterError('The usage of --files-from overrides all other filters, it should be used alone or with --files-from-raw');
      }
      f.files ??= new Set();
      f.filesDirs ??= new Set();
      for (const line of ruleLines(file)) f.addFile(line);
    }
    if (implicitExclude) f.add(false, '/**');
    return f;
  }

  /** `+ glob`, `- glob` or `!` (clear). */
  addRule(rule: string): void {
    if (rule === '!') {
      this.fileRules = [];
      this.dirRules = [];
    } else if (rule.startsWith('- ')) this.add(false, rule.slice(2));
    else if (rule.startsWith('+ ')) this.add(true, rule.slice(2));
    else throw new FilterError(`malformed rule ${JSON.stringify(rule)}`);
  }

  /** One include or exclude glob, as rclone's Filter.Add. */
  add(include: boolean, glob: string): void {
    let g = glob;
    let isDirRule = g.endsWith('/');
    let isFileRule = !isDirRule;
    // excluding `dir/` excludes `dir/**`
    if (isDirRule && !include) g += '**';
    if (g.includes('**')) isDirRule = isFileRule = true;
    const re = globToRegExp(g);
    if (isFileRule) {
      this.fileRules.push({ include, re, glob: g });
      // an include rule says which directories must be entered; an exclude rule rules none out (but `*`)
      if (include || g === '*') {
        for (const d of globToDirGlobs(g)) {
          if (d !== '/') this.dirRules.push({ include, re: globToRegExp(d), glob: d });
        }
      }
    }
    if (isDirRule) this.dirRules.push({ include, re, glob: g });
  }

  private addFile(line: string): void {
    let file = line.replace(/^\/+|\/+$/g, '');
    this.files!.add(file);
    for (;;) {
      const i = file.lastIndexOf('/');
      if (i < 0) break;
      file = file.slice(0, i);
      if (this.filesDirs!.has(file)) break;
      this.filesDirs!.add(file);
    }
  }

  /** Whether any filter is set (else every listing passes through untouched). */
  get active(): boolean {
    return (
      this.files !== undefined ||
      this.fileRules.length > 0 ||
      this.dirRules.length > 0 ||
      this.minSize >= 0 ||
      this.maxSize >= 0 ||
      this.modTimeFrom !== undefined ||
      this.modTimeTo !== undefined ||
      this.maxDepth >= 0
    );
  }

  /** Whether including a file needs its modification time. */
  get usesModTime(): boolean {
    return this.files === undefined && (this.modTimeFrom !== undefined || this.modTimeTo !== undefined);
  }

  /** Whether a file (path relative to the root) passes the rules, size and age; `mtimeMs` only matters with --min-age/--max-age. */
  includeFile(rel: string, size: number, mtimeMs?: number): boolean {
    if (this.files) return this.files.has(rel);
    if (mtimeMs !== undefined) {
      if (this.modTimeFrom !== undefined && mtimeMs < this.modTimeFrom) return false;
      if (this.modTimeTo !== undefined && mtimeMs > this.modTimeTo) return false;
    }
    if (this.minSize >= 0 && size < this.minSize) return false;
    if (this.maxSize >= 0 && size > this.maxSize) return false;
    return firstMatch(this.fileRules, rel);
  }

  /** Whether the directory rules let a directory (path relative to the root, no trailing slash) be entered. */
  includeDir(rel: string): boolean {
    if (this.files) return this.filesDirs!.has(rel);
    return firstMatch(this.dirRules, `${rel}/`);
  }

  /** Whether a path of `depth` segments is within --max-depth. */
  withinDepth(depth: number): boolean {
    return this.maxDepth < 0 || depth <= this.maxDepth;
  }

  /**
   * Whether the directories above `rel` (and `rel` itself when it is a directory) may be entered,
   * and it is within --max-depth: what a walk from the root reaches. `cache` remembers directories.
   */
  reachable(rel: string, isDir: boolean, cache: Map<string, boolean>): boolean {
    const parts = rel.split('/');
    if (!this.withinDepth(parts.length)) return false;
    const n = isDir ? parts.length : parts.length - 1;
    for (let i = 1; i <= n; i++) {
      const d = parts.slice(0, i).join('/');
      let ok = cache.get(d);
      if (ok === undefined) {
        ok = this.includeDir(d);
        cache.set(d, ok);
      }
      if (!ok) return false;
    }
    return true;
  }

  /** The rules, for tests and -vv: `+ glob` per line, files then directories. */
  describe(): { files: string[]; dirs: string[] } {
    const show = (r: Rule) => `${r.include ? '+' : '-'} ${r.glob}`;
    return { files: this.fileRules.map(show), dirs: this.dirRules.map(show) };
  }
}

function firstMatch(rules: Rule[], p: string): boolean {
  for (const r of rules) if (r.re.test(p)) return r.include;
  return true;
}

/** The filter flags' names, as they are written on the command line. */
export const FILTER_LIST_FLAGS = {
  include: 'include',
  exclude: 'exclude',
  filter: 'filter',
  'filter-from': 'filterFrom',
  'include-from': 'includeFrom',
  'exclude-from': 'excludeFrom',
  'files-from': 'filesFrom',
} as const;

/**
 * The repeatable filter flags in command-line order (yargs keeps only the last of a repeated
 * flag here, as pflag does for others): `--include X`, `--include=X`, and `-f X`/`-fX` for --filter.
 */
export function collectFilterLists(args: string[]): Partial<Record<(typeof FILTER_LIST_FLAGS)[keyof typeof FILTER_LIST_FLAGS], string[]>> {
  const out: Partial<Record<string, string[]>> = {};
  const push = (flag: string, v: string) => {
    const key = FILTER_LIST_FLAGS[flag as keyof typeof FILTER_LIST_FLAGS];
    (out[key] ??= []).push(v);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (!(name in FILTER_LIST_FLAGS)) continue;
      if (eq >= 0) push(name, a.slice(eq + 1));
      else if (i + 1 < args.length) push(name, args[++i]!);
    } else if (a === '-f') {
      if (i + 1 < args.length) push('filter', args[++i]!);
    } else if (a.startsWith('-f') && !a.startsWith('--')) push('filter', a.slice(a[2] === '=' ? 3 : 2));
  }
  return out as ReturnType<typeof collectFilterLists>;
}

/** The arguments with each repeatable filter flag's value joined to it (`--filter=- *.jpg`: flag-values.ts). */
export function joinFilterValues(args: string[]): string[] {
  return joinFlagValues(args, (a) => (a === '-f' ? '--filter' : a.startsWith('--') && a.slice(2) in FILTER_LIST_FLAGS ? a : undefined));
}
