// The agent's `[profile pim-<role>]` sections in the user's AWS config file (~/.aws/config or
// $AWS_CONFIG_FILE). Each one lives in a managed block between two marker comments, appended at the
// end of the file:
//
//     # BEGIN PIM Agent managed profile pim-ml-admin -- do not edit
//     # role ml-admin: PIM Agent removes this profile when the activation ends
//     [profile pim-ml-admin]
//     credential_process = "/home/u/.config/pim-agent/creds/bin/pim-cred" aws pim-ml-admin
//     region = eu-west-1
//     # END PIM Agent managed profile pim-ml-admin
//
// Every byte outside our blocks belongs to the user and is kept as it is: a block owns exactly the
// line break in front of its BEGIN line (the one we added to attach it) and the line break after its
// END line, so adding then removing gives back the original bytes — also for a file without a final
// newline, CRLF files, comments and other profiles. A file we created ourselves starts with
// CREATED_HEADER and is deleted again when its last block goes.
//
// The text functions are pure; updateAwsConfig() does the locked, atomic read-modify-write.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PimError } from '../../shared/errors';
import {
  checkEmbeddablePath,
  checkName,
  ensureUserDir,
  modeOf,
  readRegular,
  removeFile,
  UnsafePathError,
  withFileLock,
  writeFileAtomic,
} from '../../platform/fs-safe';

export interface AwsProfile {
  /** the profile's name, `pim-<role>` */
  name: string;
  /** the PIM role it belongs to (a comment in the block, for people reading the file) */
  role: string;
  /** the command botocore runs (see credentialProcessCommand) */
  credentialProcess: string;
  region: string | null;
}

/** An AWS config or credentials file we cannot safely read or change. */
export type AwsConfigErrorCode = 'bad-aws-config';

export class AwsConfigError extends PimError<AwsConfigErrorCode> {
  constructor(message: string, options?: ErrorOptions) {
    super('bad-aws-config', message, options);
  }
}

const BEGIN = '# BEGIN PIM Agent managed profile ';
const BEGIN_TAIL = ' -- do not edit';
const END = '# END PIM Agent managed profile ';

/** First line of a config file the agent created: such a file is deleted once our blocks are gone. */
export const CREATED_HEADER = '# Created by PIM Agent for its managed profiles; deleted when the last one is removed\n';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** Control characters, C1 controls and the Unicode line/paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

// ---------------------------------------------------------------------------------------------
// validation

function checkProfileName(name: string): string {
  checkName(name, 'AWS profile name');
  if (!name.startsWith('pim-'))
    throw new UnsafePathError(
      `AWS profile name ${JSON.stringify(name)} is not allowed: PIM Agent's profiles are named pim-<role>`,
    );
  return name;
}

export function checkRegion(region: string): string {
  if (typeof region !== 'string' || !REGION.test(region)) {
    throw new AwsConfigError(
      `AWS region ${JSON.stringify(String(region)).slice(0, 60)} is not valid (expected something like eu-west-1)`,
    );
  }
  return region;
}

function checkCommand(cmd: string): string {
  if (typeof cmd !== 'string' || cmd.trim() === '' || cmd !== cmd.trim() || cmd.length > 4096 || CONTROL.test(cmd)) {
    throw new AwsConfigError(
      `credential_process command ${JSON.stringify(String(cmd)).slice(0, 120)} cannot be written: it must be one line without control characters or surrounding spaces`,
    );
  }
  return cmd;
}

function checkProfile(p: AwsProfile): void {
  checkProfileName(p.name);
  checkName(p.role, 'role name');
  if (p.region !== null) checkRegion(p.region);
  checkCommand(p.credentialProcess);
}

// ---------------------------------------------------------------------------------------------
// parsing

interface Line {
  start: number;
  /** end of the line's content, before its line break */
  end: number;
  /** after the line break (= end at the end of the text) */
  next: number;
  text: string;
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const next = nl === -1 ? text.length : nl + 1;
    let end = nl === -1 ? text.length : nl;
    if (end > start && text[end - 1] === '\r') end--;
    out.push({ start, end, next, text: text.slice(start, end) });
    start = next;
  }
  return out;
}

interface Block {
  name: string;
  /** where the BEGIN line starts */
  begin: number;
  /** end of the END line's content */
  end: number;
  /** the span the block owns: its leading line break (if any) … its END line's line break */
  spanStart: number;
  spanEnd: number;
}

interface Parsed {
  blocks: Block[];
  /** profile names of `[profile …]` sections outside our blocks (the user's) */
  userProfiles: Set<string>;
}

function markerName(line: string, prefix: string): string | null {
  if (!line.startsWith(prefix)) return null;
  const rest = line.slice(prefix.length);
  const m = /^(\S+)/.exec(rest);
  return m ? m[1]! : '';
}

/** The profile a section header line names (`[profile x]`, `[profile "x"]`), else null. */
function sectionProfile(line: string): string | null {
  const v = line.trim();
  if (!v.startsWith('[')) return null;
  const close = v.lastIndexOf(']');
  if (close < 1) return null;
  const header = v.slice(1, close);
  const m = /^profile\s+(.*)$/.exec(header);
  if (!m) return null;
  let name = m[1]!.trim();
  const q = name[0];
  if ((q === '"' || q === "'") && name.length >= 2 && name.endsWith(q)) name = name.slice(1, -1);
  return name;
}

function parse(text: string): Parsed {
  const lines = splitLines(text);
  const blocks: Block[] = [];
  const userProfiles = new Set<string>();
  const where = (i: number) => `line ${i + 1} of the AWS config file`;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const endName = markerName(line.text, END);
    if (endName !== null)
      throw new AwsConfigError(
        `${where(i)} closes a PIM Agent block (${JSON.stringify(endName)}) that was never opened: fix the file by hand`,
      );
    const name = markerName(line.text, BEGIN);
    if (name === null) {
      const profile = sectionProfile(line.text);
      if (profile !== null) userProfiles.add(profile);
      continue;
    }
    let j = i + 1;
    for (; j < lines.length; j++) {
      const t = lines[j]!.text;
      if (markerName(t, BEGIN) !== null)
        throw new AwsConfigError(
          `${where(i)}: the PIM Agent block for ${JSON.stringify(name)} is not closed before ${where(j)}: fix the file by hand`,
        );
      const closing = markerName(t, END);
      if (closing === null) continue;
      if (closing !== name)
        throw new AwsConfigError(
          `${where(j)} closes ${JSON.stringify(closing)} inside the PIM Agent block for ${JSON.stringify(name)}: fix the file by hand`,
        );
      break;
    }
    if (j === lines.length)
      throw new AwsConfigError(
        `${where(i)}: the PIM Agent block for ${JSON.stringify(name)} has no END line: fix the file by hand`,
      );
    if (blocks.some((b) => b.name === name))
      throw new AwsConfigError(
        `${where(i)}: a second PIM Agent block for ${JSON.stringify(name)}: fix the file by hand`,
      );
    const last = lines[j]!;
    let spanStart = line.start;
    if (i > 0) spanStart = lines[i - 1]!.end; // the line break in front of BEGIN is the block's
    blocks.push({ name, begin: line.start, end: last.end, spanStart, spanEnd: last.next });
    i = j;
  }
  return { blocks, userProfiles };
}

/** The file's line break: CRLF when its first line ends with one, else LF. */
function eolOf(text: string): string {
  const nl = text.indexOf('\n');
  return nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
}

function renderBlock(p: AwsProfile, eol: string): string {
  const lines = [
    `${BEGIN}${p.name}${BEGIN_TAIL}`,
    `# role ${p.role}: PIM Agent removes this profile when the activation ends`,
    `[profile ${p.name}]`,
    `credential_process = ${p.credentialProcess}`,
    ...(p.region === null ? [] : [`region = ${p.region}`]),
    `${END}${p.name}`,
  ];
  return lines.join(eol);
}

// ---------------------------------------------------------------------------------------------
// the text transforms

/**
 * Adds our managed block for `p` at the end of `text` (null: the file does not exist yet), or
 * replaces our block of the same name where it is. A `[profile <name>]` section the user wrote is
 * never touched: that is an error. Everything is validated before any text is produced.
 */
export function addAwsProfile(text: string | null, p: AwsProfile): string {
  checkProfile(p);
  const base = text ?? '';
  if (/\r(?!\n)/.test(base)) {
    // Python reads a lone CR as a line break, we would not: refuse rather than guess where lines end
    throw new AwsConfigError(
      'the AWS config file has carriage returns without line feeds (old Mac line breaks): save it with LF or CRLF line breaks, then activate again',
    );
  }
  const parsed = parse(base);
  if (parsed.userProfiles.has(p.name)) {
    throw new AwsConfigError(
      `the AWS config file already has its own [profile ${p.name}] section (not written by PIM Agent): rename or remove it, then activate again`,
    );
  }
  const eol = eolOf(base);
  const block = renderBlock(p, eol);
  const existing = parsed.blocks.find((b) => b.name === p.name);
  if (existing) return base.slice(0, existing.begin) + block + base.slice(existing.end);
  if (text === null) return `${CREATED_HEADER}\n${block}\n`;
  if (base === '') return block + eol;
  return base + eol + block + eol;
}

/** Removes our managed blocks whose name `which` accepts; nothing else changes. */
export function removeAwsProfiles(text: string, which: (name: string) => boolean): string {
  const { blocks } = parse(text);
  let out = text;
  for (const b of [...blocks].reverse()) {
    if (!which(b.name)) continue;
    const prefix = out.slice(0, b.spanStart);
    const rest = out.slice(b.spanEnd);
    const sep = out.slice(b.spanStart, b.begin);
    // someone wrote after our END line: keep their first line on a line of its own
    const glue = prefix !== '' && !prefix.endsWith('\n') && rest !== '' && !/^\r?\n/.test(rest) ? sep : '';
    out = prefix + glue + rest;
  }
  return out === CREATED_HEADER ? '' : out;
}

/** Names of our managed profiles in `text`, in file order. */
export function listPimProfiles(text: string): string[] {
  return parse(text).blocks.map((b) => b.name);
}

// ---------------------------------------------------------------------------------------------
// paths and the command

/** $AWS_CONFIG_FILE (with `$VAR` and `~` expanded, as botocore does), else ~/.aws/config. */
export function awsConfigPath(env: NodeJS.ProcessEnv = process.env, homedir: string = os.homedir()): string {
  const raw = env.AWS_CONFIG_FILE;
  if (raw) {
    // os.path.expandvars: $NAME and ${NAME}; unknown variables stay as written
    const v = raw.replace(
      /\$(\w+|\{([^}]*)\})/g,
      (whole, bare: string, braced: string | undefined) => env[braced ?? bare] ?? whole,
    );
    if (v === '~') return homedir;
    if (v.startsWith('~/') || v.startsWith(`~${path.sep}`)) return path.join(homedir, v.slice(2));
    return path.resolve(v);
  }
  return path.join(homedir, '.aws', 'config');
}

/**
 * The credential_process value that runs `<helper> aws <name>`. botocore splits it with
 * shlex.split (POSIX) or its own Windows rules: a double-quoted path without quotes, backslashes
 * (POSIX) or control characters reads back the same under both, spaces included
 * ("…/Library/Application Support/…").
 */
export function credentialProcessCommand(
  helperPath: string,
  name: string,
  platform: NodeJS.Platform = process.platform,
): string {
  checkProfileName(name);
  if (platform === 'win32') {
    if (!path.win32.isAbsolute(helperPath) || /["\u0000-\u001f\u007f]/.test(helperPath) || helperPath.endsWith('\\')) {
      throw new UnsafePathError(
        `credential helper ${JSON.stringify(helperPath)} cannot be used: it must be an absolute path without quotes or control characters`,
      );
    }
  } else {
    checkEmbeddablePath(helperPath, 'credential helper');
  }
  return `"${helperPath}" aws ${name}`;
}

// ---------------------------------------------------------------------------------------------
// the file

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decode(buf: Buffer, file: string): string {
  try {
    return UTF8.decode(buf);
  } catch {
    throw new AwsConfigError(
      `${file} is not UTF-8 text: PIM Agent will not rewrite it (save it as UTF-8 and try again)`,
    );
  }
}

/**
 * Read-modify-write of the AWS config file under `${file}.pim-lock`: `edit` gets the text (null:
 * no file) and returns the new text, or null to delete the file. `edit` must be a pure function of
 * its text (it may run twice: once before the folder is created, once under the lock). A symlink at `file` is refused.
 * The folder is made (0700) when missing; the file is replaced atomically keeping its mode (a new
 * one is 0600). A file we created whose only content was ours is deleted once that content is gone.
 */
export function updateAwsConfig(
  file: string,
  edit: (text: string | null) => string | null,
): { changed: boolean; removed: boolean } {
  const dir = path.dirname(file);
  let dirExisted = true;
  try {
    fs.lstatSync(dir);
  } catch {
    dirExisted = false;
  }
  if (!dirExisted) {
    // No folder, so no file: let `edit` refuse bad values (or decide there is nothing to write)
    // before we create anything. It runs again below, under the lock, on what is there by then.
    const next = edit(null);
    if (next === null || next === '') return { changed: false, removed: false };
    ensureUserDir(dir);
    if (process.platform !== 'win32') fs.chmodSync(dir, 0o700);
  } else {
    ensureUserDir(dir);
  }
  return withFileLock(`${file}.pim-lock`, () => {
    const buf = readRegular(file);
    const before = buf === null ? null : decode(buf, file);
    const next = edit(before);
    const drop = next === null || (next === '' && before !== null && before.startsWith(CREATED_HEADER));
    if (drop || (before === null && next === '')) {
      if (before === null) return { changed: false, removed: false };
      removeFile(file);
      return { changed: true, removed: true };
    }
    if (next === before) return { changed: false, removed: false };
    writeFileAtomic(file, next, modeOf(file, 0o600));
    return { changed: true, removed: false };
  });
}
