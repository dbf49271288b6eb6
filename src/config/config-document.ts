// rclone.conf as rclone 1.60 edits it: the sections, keys and comments in file order, read and
// written by the rules of the goconfig package rclone uses, so that a file bucketfs rewrites is
// byte for byte the file rclone would write after the same change.
//
// goconfig's rules, checked against rclone 1.60 (`config update` and `config dump` on odd files):
// - comment lines (# or ;) belong to the section or key that follows them and are written back
//   before it; blank lines and comments after the last key are dropped;
// - `key = value` or `key: value`; the key may be quoted with " or ` (a key holding = or : is
//   written back in backquotes); a value quoted with ` or """ loses its quotes, a value in single
//   " or ' keeps them; everything else is trimmed;
// - a key `-` is numbered (#1, #2, …) and written back as `-`;
// - keys before the first section form the section DEFAULT: `config dump` shows it, and it is
//   written first, without a `[DEFAULT]` line;
// - every section is written as `[name]`, its keys as `key = value`, then a blank line.
import { UserError, EXIT } from '../util/errors.js';

export interface ConfigKey {
  key: string;
  value: string;
  /** comment lines just before the key */
  comments: string[];
}

export interface ConfigSection {
  name: string;
  comments: string[];
  keys: ConfigKey[];
}

export const DEFAULT_SECTION = 'DEFAULT';

export class ConfigDocument {
  /** the sections in file order; DEFAULT (keys before any section) is kept apart */
  readonly sections: ConfigSection[] = [];
  readonly defaults: ConfigKey[] = [];

  static parse(text: string, path: string): ConfigDocument {
    const doc = new ConfigDocument();
    let current: ConfigSection | undefined;
    let comments: string[] = [];
    let counter = 1;
    const lines = text.replace(/^\uFEFF/, '').split('\n');
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n]!.trim();
      if (line === '') continue;
      if (line.startsWith('#') || line.startsWith(';')) {
        comments.push(line);
        continue;
      }
      if (line.startsWith('[') && line.endsWith(']')) {
        const name = line.slice(1, -1).trim();
        current = doc.section(name) ?? doc.addSection(name);
        if (comments.length > 0) current.comments = comments;
        comments = [];
        counter = 1;
        continue;
      }
      const bad = () => new UserError(`cannot parse config file ${JSON.stringify(path)} line ${n + 1}: expected "key = value" or "[remote]"`, EXIT.fatal);
      let key: string;
      let sep: number;
      const keyQuote = line.startsWith('"""') && line.length >= 6 ? '"""' : line[0] === '"' || line[0] === '`' ? line[0] : '';
      if (keyQuote !== '') {
        const end = line.indexOf(keyQuote, keyQuote.length);
        if (end < 0) throw bad();
        const rest = line.slice(end).search(/[=:]/);
        if (rest <= 0) throw bad();
        sep = end + rest;
        key = line.slice(keyQuote.length, end);
      } else {
        sep = line.search(/[=:]/);
        if (sep <= 0) throw bad();
        key = line.slice(0, sep).trim();
      }
      if (key === '-') key = `#${counter++}`;
      const right = line.slice(sep + 1).trim();
      let value = right;
      const valQuote = right.length >= 6 && right.startsWith('"""') ? '"""' : right.startsWith('`') ? '`' : '';
      if (valQuote !== '') {
        const end = right.lastIndexOf(valQuote);
        if (end < valQuote.length) throw new UserError(`cannot parse config file ${JSON.stringify(path)} line ${n + 1}: unterminated quoted value`, EXIT.fatal);
        value = right.slice(valQuote.length, end);
      }
      const keys = current ? current.keys : doc.defaults;
      const existing = keys.find((k) => k.key === key);
      if (existing) existing.value = value;
      else keys.push({ key, value, comments: [] });
      const target = existing ?? keys[keys.length - 1]!;
      if (comments.length > 0) target.comments = comments;
      comments = [];
    }
    return doc;
  }

  /** The file text, as goconfig's SaveConfigData writes it. */
  serialize(): string {
    let out = '';
    if (this.defaults.length > 0) out += this.keyLines(this.defaults) + '\n';
    for (const s of this.sections) {
      if (s.comments.length > 0) out += s.comments.join('\n') + '\n';
      out += `[${s.name}]\n` + this.keyLines(s.keys) + '\n';
    }
    return out;
  }

  private keyLines(keys: ConfigKey[]): string {
    let out = '';
    for (const k of keys) {
      if (k.comments.length > 0) out += k.comments.join('\n') + '\n';
      out += `${writtenKey(k.key)} = ${writtenValue(k.value)}\n`;
    }
    return out;
  }

  names(): string[] {
    return this.sections.map((s) => s.name);
  }

  section(name: string): ConfigSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  addSection(name: string): ConfigSection {
    const s: ConfigSection = { name, comments: [], keys: [] };
    this.sections.push(s);
    return s;
  }

  get(name: string, key: string): string | undefined {
    return this.section(name)?.keys.find((k) => k.key === key)?.value;
  }

  /** Set a value in place, or append it to its section (made at the end when missing). */
  set(name: string, key: string, value: string): void {
    const s = this.section(name) ?? this.addSection(name);
    const k = s.keys.find((x) => x.key === key);
    if (k) k.value = value;
    else s.keys.push({ key, value, comments: [] });
  }

  deleteKey(name: string, key: string): void {
    const s = this.section(name);
    if (s) s.keys = s.keys.filter((k) => k.key !== key);
  }

  deleteSection(name: string): void {
    const i = this.sections.findIndex((s) => s.name === name);
    if (i >= 0) this.sections.splice(i, 1);
  }

  /** The keys and values of a section, in file order. */
  entries(name: string): [string, string][] {
    return (this.section(name)?.keys ?? []).map((k) => [k.key, k.value]);
  }

  /** Every section as key → value (DEFAULT first when present), as `config dump` shows them. */
  toRecord(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    if (this.defaults.length > 0) out[DEFAULT_SECTION] = Object.fromEntries(this.defaults.map((k) => [k.key, k.value]));
    for (const s of this.sections) out[s.name] = Object.fromEntries(s.keys.map((k) => [k.key, k.value]));
    return out;
  }
}

/** goconfig: numbered keys are written `-`; a key holding = or : is quoted. */
function writtenKey(key: string): string {
  if (key.startsWith('#')) return '-';
  if (key.includes('=') || key.includes(':')) return key.includes('`') ? `"""${key}"""` : `\`${key}\``;
  return key;
}

/** goconfig: a value holding a backquote is written in double quotes (triple when it holds one). */
function writtenValue(value: string): string {
  if (!value.includes('`')) return value;
  return value.includes('"') ? `"""${value}"""` : `"${value}"`;
}
