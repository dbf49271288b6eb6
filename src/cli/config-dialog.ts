// `bucketfs config` with no action: rclone 1.60's interactive dialogue (fs/config/ui.go), for S3
// remotes. The same menus, questions, defaults and messages in the same order, so a person (or a
// script) who knows rclone's dialogue gets the same file from the same answers. The questions
// are rclone's own (rclone-s3-options.ts). Differences: the storage list offers s3 only (bucketfs
// has no other backend), and the file is saved when a remote is done rather than after each answer.
//
// Lines are read from stdin synchronously, one byte at a time, so that nothing typed ahead is
// lost; output goes to stdout, password prompts to stderr without echo, as in rclone.
import { isatty } from 'node:tty';
import { UserError, EXIT } from '../util/errors.js';
import { addSecret } from '../util/log.js';
import { checkPassword, keyFromCheckedPassword, readPassword, readStdinLine } from '../config/config-crypt.js';
import type { ConfigStore } from '../config/config-write.js';
import { configNameProblem } from '../config/config-edit.js';
import { matchProvider, type RcloneOption } from '../config/rclone-option.js';
import { RCLONE_S3_DESCRIPTION, RCLONE_S3_OPTIONS } from '../config/rclone-s3-options.js';
import { ValueParseError, canonicalValue, describeValueKind } from '../config/rclone-values.js';

/** The terminal side of the dialogue (tests of the logic can replace it). */
export interface DialogTerminal {
  print(text: string): void;
  /** a line of input, trimmed (rclone's ReadLine) */
  readLine(): string;
  /** a password typed without echo, after `prompt` on stderr */
  readPassword(prompt: string): string;
  /** rclone colours the choice lists on a terminal only */
  color: boolean;
}

export function processTerminal(): DialogTerminal {
  return {
    print: (text) => void process.stdout.write(text),
    readLine: () => {
      const line = readStdinLine();
      if (line === undefined) throw new UserError('Failed to read line: EOF', EXIT.usage);
      return line.trim();
    },
    readPassword: (prompt) => readPassword(prompt),
    color: isatty(1),
  };
}

const COLORS = ['\x1b[91m', '\x1b[92m'];
const RESET = '\x1b[0m';

export class ConfigDialog {
  constructor(
    private readonly store: ConfigStore,
    private readonly term: DialogTerminal,
  ) {}

  private get doc() {
    return this.store.doc;
  }

  private out(text: string): void {
    this.term.print(text);
  }

  private newSection(): void {
    this.out('\n');
  }

  /** rclone's EditConfig: the main menu until q. */
  run(): void {
    for (;;) {
      let what = ['eEdit existing remote', 'nNew remote', 'dDelete remote', 'rRename remote', 'cCopy remote', 'sSet configuration password', 'qQuit config'];
      if (this.doc.names().length > 0) {
        this.out('Current remotes:\n\n');
        this.showRemotes();
        this.out('\n');
      } else {
        this.out('No remotes found, make a new one?\n');
        what = [what[1]!, ...what.slice(-2)];
      }
      const choice = this.command(what, -1);
      if (choice === 'q') return;
      this.newSection();
      if (choice === 'n') {
        const name = this.newRemoteName();
        this.newSection();
        this.newRemote(name);
      } else if (choice === 's') {
        this.setPassword();
      } else {
        const name = this.chooseRemote();
        this.newSection();
        if (choice === 'e') this.editOwnRemote(name);
        else if (choice === 'd') this.deleteRemote(name);
        else if (choice === 'r') this.renameRemote(name);
        else if (choice === 'c') this.copyRemote(name);
      }
      this.newSection();
    }
  }

  private showRemotes(): void {
    const names = [...this.doc.names()].sort();
    this.out(`${'Name'.padEnd(20)} Type\n${'===='.padEnd(20)} ====\n`);
    for (const n of names) this.out(`${n.padEnd(20)} ${this.doc.get(n, 'type') ?? ''}\n`);
  }

  /** rclone's CommandDefault: one letter of `commands` (each "xText"); Enter picks `defaultIndex` when ≥ 0. */
  private command(commands: string[], defaultIndex: number): string {
    const letters = commands.map((c) => c[0]!);
    commands.forEach((c, i) => this.out(`${c[0]}) ${c.slice(1)}${i === defaultIndex ? ' (default)' : ''}\n`));
    for (;;) {
      this.out(`${letters.join('/')}> `);
      const answer = this.term.readLine().toLowerCase();
      if (answer.length === 0) {
        if (defaultIndex >= 0) return letters[defaultIndex]!;
        this.out('This value is required and it has no default.\n');
      } else if ([...answer].length === 1) {
        if (letters.includes(answer)) return answer;
        this.out(`This value must be one of the following characters: ${letters.join(', ')}.\n`);
      } else {
        this.out(`This value must be a single character, one of the following: ${letters.join(', ')}.\n`);
      }
    }
  }

  private confirm(defaultYes: boolean): boolean {
    return this.command(['yYes', 'nNo'], defaultYes ? 0 : 1) === 'y';
  }

  /**
   * rclone's Choose: a numbered list (help above each value when there is some), then a value:
   * its number, one of the values, or (newOk) anything; Enter gives the default or "" when allowed.
   */
  private choose(what: string, kind: string, values: string[], help: string[] | undefined, defaultValue: string, required: boolean, newOk: boolean): string {
    this.out(`Choose a number from below, or type in ${newOk ? 'your own' : 'an existing'} ${kind}.\n`);
    if (defaultValue !== '') this.out(`Press Enter for the default (${defaultValue}).\n`);
    else if (!required) this.out('Press Enter to leave empty.\n');
    values.forEach((value, i) => {
      if (this.term.color) this.out(COLORS[i % 2]!);
      const pos = String(i + 1).padStart(2);
      if (!help || help[i] === '' || help[i] === undefined) {
        this.out(`${pos} > ${value}\n`);
      } else {
        const lines = [...help[i]!.split('\n'), `(${value})`];
        const mid = Math.floor((lines.length - 1) / 2);
        lines.forEach((line, j) => {
          const sep = j === 0 ? '/' : j === lines.length - 1 ? '\\' : '|';
          this.out(`${j === mid ? pos : '  '} ${sep} ${line}\n`);
        });
      }
      if (this.term.color) this.out(RESET);
    });
    for (;;) {
      this.out(`${what}> `);
      const answer = this.term.readLine();
      if (/^[+-]?\d+$/.test(answer)) {
        const i = Number(answer);
        if (i >= 1 && i <= values.length) return values[i - 1]!;
        this.out('No choices with this number.\n');
        continue;
      }
      if (values.includes(answer)) return answer;
      if (answer === '') {
        if (!required) return answer;
        if (defaultValue !== '') return defaultValue;
        this.out('This value is required and it has no default.\n');
      } else if (newOk) {
        return answer;
      } else {
        this.out(`This value must match ${newOk ? 'your own' : 'an existing'} value.\n`);
      }
    }
  }

  /** rclone's Enter: a free value; Enter gives "" (the caller's default) unless required without one. */
  private enter(what: string, kind: string, defaultValue: string, required: boolean): string {
    if (defaultValue !== '') this.out(`Enter a ${kind}. Press Enter for the default (${defaultValue}).\n`);
    else if (required) this.out(`Enter a ${kind}.\n`);
    else this.out(`Enter a ${kind}. Press Enter to leave empty.\n`);
    for (;;) {
      this.out(`${what}> `);
      const answer = this.term.readLine();
      if (!required || answer !== '') return answer;
      if (defaultValue !== '') return defaultValue;
      this.out('This value is required and it has no default.\n');
    }
  }

  private chooseRemote(): string {
    this.out('Select remote.\n');
    return this.choose('remote', 'value', [...this.doc.names()].sort(), undefined, '', true, false);
  }

  /** rclone's NewRemoteName: a valid name no remote has yet. */
  private newRemoteName(): string {
    for (;;) {
      this.out('Enter name for new remote.\nname> ');
      const name = this.term.readLine();
      if (this.doc.section(name)) {
        this.out(`Remote ${JSON.stringify(name)} already exists.\n`);
        continue;
      }
      const problem = configNameProblem(name);
      if (name === '') this.out("Can't use empty name.\n");
      else if (problem) this.out(`Can't use ${JSON.stringify(name)} as ${problem}.\n`);
      else return name;
    }
  }

  /** The storage type: bucketfs offers s3 only (rclone lists its 46 backends here). */
  private chooseStorage(): void {
    for (;;) {
      this.out('Option Storage.\nType of storage to configure.\n');
      this.out('(bucketfs configures s3 remotes only: the other storage types of rclone are not offered.)\n');
      const type = this.choose('Storage', 'value', ['s3'], [RCLONE_S3_DESCRIPTION], '', true, true);
      if (type === 's3') return;
      this.out(`Bad remote ${JSON.stringify(type)}: didn't find backend called ${JSON.stringify(type)} (bucketfs configures s3 remotes only)\n`);
    }
  }

  private newRemote(name: string): void {
    this.chooseStorage();
    this.doc.set(name, 'type', 's3');
    this.newSection();
    this.askOptions(name, false);
    if (this.okRemote(name)) {
      this.store.save();
      return;
    }
    this.newSection();
    this.editRemote(name);
  }

  /** rclone would ask another backend's questions: bucketfs knows S3's only */
  private editOwnRemote(name: string): void {
    const type = this.doc.get(name, 'type') ?? '';
    if (type === 's3') return this.editRemote(name);
    this.out(`bucketfs edits s3 remotes only: ${JSON.stringify(name)} is of type ${JSON.stringify(type)} (use rclone config).\n`);
  }

  private editRemote(name: string): void {
    this.out(`Editing existing ${JSON.stringify(name)} remote with options:\n`);
    this.showOptions(name);
    this.out('\n');
    for (;;) {
      this.askOptions(name, true);
      if (this.okRemote(name)) break;
    }
    this.store.save();
  }

  private showOptions(name: string): void {
    for (const [k, v] of this.doc.entries(name)) this.out(`- ${k}: ${v}\n`);
  }

  /** rclone's OkRemote: the summary, then keep (y), edit (e) or delete (d). */
  private okRemote(name: string): boolean {
    this.out('Configuration complete.\nOptions:\n');
    this.showOptions(name);
    this.out(`Keep this ${JSON.stringify(name)} remote?\n`);
    const choice = this.command(['yYes this is OK', 'eEdit this remote', 'dDelete this remote'], 0);
    if (choice === 'e') return false;
    if (choice === 'd') this.doc.deleteSection(name);
    return true;
  }

  /** The standard options, then the advanced ones for as long as "Edit advanced config?" is answered yes (rclone asks again after them). */
  private askOptions(name: string, editing: boolean): void {
    const ask = (advanced: boolean) => {
      for (const o of RCLONE_S3_OPTIONS) {
        if ((o.advanced ?? false) !== advanced || o.hide) continue;
        // the provider as answered so far filters the questions that follow it
        if (!matchProvider(o.provider, this.doc.get(name, 'provider') ?? '')) continue;
        this.askOption(name, o, editing);
        this.newSection();
      }
    };
    ask(false);
    for (;;) {
      this.out('Edit advanced config?\n');
      const yes = this.confirm(false);
      this.newSection();
      if (!yes) return;
      ask(true);
    }
  }

  /**
   * rclone's ChooseOption and its "set if different" rule: the answer (Enter: the default, which
   * is the remote's current value when it has one) in canonical form, written only when it
   * differs from the current value (the option's default for a key not in the file). A value
   * from the file is offered in canonical form (10M as 10Mi), as rclone does.
   */
  private askOption(name: string, o: RcloneOption, editing: boolean): void {
    const fileValue = editing ? this.doc.get(name, o.name) : undefined;
    const type = o.type;
    const defaultValue = fileValue === undefined ? o.default : canonicalOrAsIs(type, fileValue);
    this.out(`Option ${o.name}.\n`);
    if (o.help !== '') this.out(o.help.trim().replace(/\n\n/g, '\n') + '\n');
    const kind = describeValueKind(type, defaultValue);
    const provider = this.doc.get(name, 'provider') ?? '';
    const examples = (o.examples ?? []).filter((e) => matchProvider(e.provider, provider));
    let value: string;
    for (;;) {
      const answer =
        examples.length > 0
          ? this.choose(
              o.name,
              kind,
              examples.map((e) => e.value),
              examples.map((e) => e.help),
              defaultValue,
              o.required ?? false,
              !o.exclusive,
            )
          : this.enter(o.name, kind, defaultValue, o.required ?? false);
      value = answer === '' ? defaultValue : answer;
      if (value === '') break;
      try {
        value = canonicalValue(type, value);
        break;
      } catch (err) {
        if (!(err instanceof ValueParseError)) throw err;
        this.out(`Failed to parse ${JSON.stringify(answer)}: ${err.message}\n`);
      }
    }
    const current = this.doc.get(name, o.name) ?? o.default;
    if (value !== current) this.doc.set(name, o.name, value);
  }

  private deleteRemote(name: string): void {
    this.doc.deleteSection(name);
    this.store.save();
  }

  private copySection(from: string, to: string): void {
    for (const [k, v] of this.doc.entries(from)) this.doc.set(to, k, v);
  }

  private renameRemote(name: string): void {
    this.out(`Enter new name for ${JSON.stringify(name)} remote.\n`);
    const newName = this.newRemoteName();
    this.copySection(name, newName);
    this.doc.deleteSection(name);
    this.store.save();
  }

  private copyRemote(name: string): void {
    this.out(`Enter name for copy of ${JSON.stringify(name)} remote.\n`);
    const newName = this.newRemoteName();
    this.copySection(name, newName);
    this.store.save();
  }

  /** rclone's SetPassword menu: add, change or remove the configuration password; saved at once. */
  private setPassword(): void {
    for (;;) {
      if (this.store.encrypted) {
        this.out('Your configuration is encrypted.\n');
        const choice = this.command(['cChange Password', 'uUnencrypt configuration', 'qQuit to main menu'], -1);
        if (choice === 'q') return;
        if (choice === 'c') {
          this.store.setKey(this.newConfigKey());
          this.store.save();
          this.out('Password changed\n');
        } else {
          this.store.setKey(undefined);
          this.store.save();
        }
      } else {
        this.out('Your configuration is not encrypted.\nIf you add a password, you will protect your login information to cloud services.\n');
        const choice = this.command(['aAdd Password', 'qQuit to main menu'], -1);
        if (choice === 'q') return;
        this.store.setKey(this.newConfigKey());
        this.store.save();
        this.out('Password set\n');
      }
    }
  }

  /** rclone's ChangePassword("NEW configuration"): typed twice until both match. */
  private newConfigKey(): Uint8Array {
    for (;;) {
      const a = this.getPassword('Enter NEW configuration password:');
      const b = this.getPassword('Confirm NEW configuration password:');
      if (a === b) return keyFromCheckedPassword(a);
      this.out('Passwords do not match!\n');
    }
  }

  /** rclone's GetPassword: the question on stderr, then "password:" until a usable one is typed. */
  private getPassword(question: string): string {
    process.stderr.write(`${question}\n`);
    for (;;) {
      const typed = this.term.readPassword('password:');
      addSecret(typed);
      try {
        return checkPassword(typed);
      } catch (err) {
        process.stderr.write(`Bad password: ${(err as Error).message}\n`);
      }
    }
  }
}

/** a value of the file in canonical form, or as it is when it does not parse */
function canonicalOrAsIs(type: string, value: string): string {
  try {
    return canonicalValue(type, value);
  } catch {
    return value;
  }
}
