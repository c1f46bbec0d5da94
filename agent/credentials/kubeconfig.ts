// Kubeconfig injection as pure text transforms: our `pim-<cluster>--<role>` cluster, context and user
// entries are spliced into the user's kubeconfig, and spliced out again, without re-serialising the
// document. Every byte that is not ours stays as it was: comments, key order, quoting, indentation,
// line endings (CRLF files get CRLF lines).
//
// What is "ours" (never anything else is touched):
//   - a user entry whose name is pim-… (a valid fs-safe name) and whose `user.exec.command` is our
//     helper (basename pim-cred, pim-cred.cmd or pim-cred.exe);
//   - a cluster entry with the name of such a user;
//   - a context entry with the name of such a user, whose cluster and user are that name.
// A same-named entry that is not ours is never overwritten: addKubeEntries throws KubeconfigError.
//
// How the text is edited, per section (`clusters:`, `contexts:`, `users:`):
//   - block sequence (the normal case, kubectl's `- ` at the key's column or hand-written indented
//     `  - `): our items are inserted as text after the last item, at the column the sequence already
//     uses; an entry of ours with the same name is replaced in place; removal cuts exactly the lines
//     of our item. Add then remove gives back the original bytes.
//   - empty value on the key's line (`users:`, `users: null` as kubectl writes, `users: ~`,
//     `users: []`): the value is swapped for a marker comment (`users: # PIM Agent: was null`) and our
//     items go below the key. When the last item leaves, the marker turns back into the value, so the
//     bytes come back exactly.
//   - key missing: `users: # PIM Agent: added` and our items are appended at the end of the file; the
//     key goes away with the last item (exact, unless the file did not end with a newline: one is
//     added).
//   - anything else that is still a list (a non-empty flow sequence `users: [{…}]`, a sequence whose
//     layout a splice would disturb): the whole key is rewritten as a block sequence of its items plus
//     ours. Only that key changes form (its inner comments and flow style are lost); it stays a block
//     sequence afterwards.
//   - no file or an empty one: a new kubeconfig (SKELETON) with a header saying PIM Agent wrote it. Once
//     our last entry is removed the text is exactly SKELETON again; isEmptySkeleton() lets the caller
//     delete it (so an existing 0-byte file ends up deleted too). A file with nothing but comments
//     gets the kubeconfig keys appended after them (they stay). Keys are appended before a
//     document-end marker (`...`) if the file has one.
// Every edit is checked before it is returned: the result must parse, and its data must equal the
// original's with exactly our changes; a splice that fails the check falls back to rewriting the
// affected keys, and if that fails too the function throws rather than return a damaged file. A file
// that is not valid YAML, holds several documents or is not a mapping is refused.
//
// current-context is never touched: terminals select a role's context with `pim env` (a KUBECONFIG
// list whose first file only sets it). A current-context the user pointed at one of our entries
// themselves stays when that entry goes: kubectl then says "context was not found for specified
// context: pim-…", naming it, which is clearer than silently falling back to some other cluster.
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import {
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  stringify,
  type Document,
  type Node,
  type Pair,
  type Scalar,
} from 'yaml';
import { PimError } from '../../shared/errors';
import { checkName, isName } from '../../platform/fs-safe';

export interface KubeEntry {
  name: string;
  cluster: string;
  role: string;
  server: string;
  certificateAuthorityData: string | null;
  command: string;
  args: string[];
}

/** A kubeconfig we cannot safely read or change (or an entry we will not write into one). */
export type KubeconfigErrorCode = 'bad-kubeconfig';

export class KubeconfigError extends PimError<KubeconfigErrorCode> {
  constructor(message: string, options?: ErrorOptions) {
    super('bad-kubeconfig', message, options);
  }
}

/** The exec plugin API version: kubectl requires the plugin to answer with this same apiVersion. */
export const EXEC_API_VERSION = 'client.authentication.k8s.io/v1';

/** A kubeconfig PIM Agent creates when there is none. After our last entry is removed the text is
 *  exactly this again (see isEmptySkeleton). */
export const SKELETON = `# Kubernetes client configuration written by PIM Agent for the roles you activate.
# PIM Agent deletes this file once they have all ended, unless something else was added to it.
apiVersion: v1
kind: Config
clusters:
contexts:
users:
`;

const SECTIONS = ['clusters', 'contexts', 'users'] as const;
type SectionKey = (typeof SECTIONS)[number];
const HELPER_BASENAMES = new Set(['pim-cred', 'pim-cred.cmd', 'pim-cred.exe']);
const EMPTY_VALUE_RE = /^(?:null|Null|NULL|~|\[[ \t]*\])$/;
const MARKER_RE = /^([ \t]*:[ \t]*)(# PIM Agent: (?:was (null|Null|NULL|~|\[[ \t]*\])|added))(?=[ \t\r\n]|$)/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The kubeconfig file kubectl writes new entries to: the first non-empty entry of $KUBECONFIG,
 *  else ~/.kube/config. */
export function kubeconfigPath(env: NodeJS.ProcessEnv = process.env, homedir: string = os.homedir()): string {
  const first = (env.KUBECONFIG ?? '').split(path.delimiter).find((p) => p !== '');
  return first ?? path.join(homedir, '.kube', 'config');
}

/** True when `text` is exactly the kubeconfig we create (SKELETON), i.e. ours and now empty. */
export function isEmptySkeleton(text: string): boolean {
  return text.replace(/\r\n/g, '\n') === SKELETON;
}

// ---------------------------------------------------------------------------------------------
// reading

type Js = Record<string, unknown>;

interface Item {
  js: unknown;
  name: string | null;
  ours: boolean;
  /** start of the line holding the item's '-' */
  start: number;
  /** end of the item's last content line, after its line break (or the end of the text) */
  end: number;
}

interface Section {
  key: SectionKey;
  /** block: a block sequence we can splice; empty: no items, value (if any) on the key's line;
   *  missing: no such key; rewrite: a list we rewrite as a whole (flow with items, odd layouts) */
  state: 'block' | 'empty' | 'missing' | 'rewrite';
  items: Item[];
  /** the key's text and column, and where its line ends (after the line break) */
  keyStart: number;
  keySource: string;
  keyCol: number;
  keyLineEnd: number;
  /** end of the whole key/value pair's text (after the line break) */
  pairEnd: number;
  /** an explicit empty value on the key's line (null, ~, []) */
  emptyValue: { start: number; end: number; source: string } | null;
  /** our marker comment on the key's line */
  marker: { start: number; end: number; restore: string | null } | null;
  /** the '-' column of the existing items */
  indent: string | null;
}

interface Parsed {
  text: string;
  eol: string;
  js: Js;
  sections: Record<SectionKey, Section>;
  oursUsers: Set<string>;
  /** sequences in this file are indented under their key (`  - name:`) */
  indentedSeqs: boolean;
  /** where keys are appended: the end of the text, or the start of a document-end marker (`...`) */
  appendAt: number;
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

function lineEnd(text: string, pos: number): number {
  const nl = text.indexOf('\n', pos);
  return nl === -1 ? text.length : nl + 1;
}

/** End of the content that finishes at `pos`: just after its line break. */
function contentEnd(text: string, pos: number): number {
  if (pos > 0 && text[pos - 1] === '\n') return pos;
  return lineEnd(text, pos);
}

/** The last segment of a path, whichever platform's separators it uses. */
function basename(p: string): string {
  return p.split(/[\\/]/).pop() ?? '';
}

function obj(v: unknown): Js | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Js) : null;
}

function isOurUser(js: unknown): boolean {
  const u = obj(js);
  const name = u?.name;
  if (typeof name !== 'string' || !name.startsWith('pim-') || !isName(name)) return false;
  const command = obj(obj(u?.user)?.exec)?.command;
  return typeof command === 'string' && HELPER_BASENAMES.has(basename(command));
}

function nameOf(js: unknown): string | null {
  const n = obj(js)?.name;
  return typeof n === 'string' ? n : null;
}

function isOurs(key: SectionKey, js: unknown, oursUsers: Set<string>): boolean {
  const name = nameOf(js);
  if (name === null || !oursUsers.has(name)) return false;
  if (key === 'users') return isOurUser(js);
  if (key === 'contexts') {
    const c = obj(obj(js)?.context);
    return c?.cluster === name && c?.user === name;
  }
  return true;
}

function detectEol(text: string): string {
  const nl = text.indexOf('\n');
  return nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
}

function parseText(text: string): Parsed {
  const doc = parseDocument(text, { keepSourceTokens: true, prettyErrors: false, uniqueKeys: true }) as Document.Parsed;
  if (doc.errors.length > 0)
    throw new KubeconfigError(
      `not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix or move it, then try again`,
    );
  const eol = detectEol(text);
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    // nothing but comments or blank lines: give it the kubeconfig keys, after what is there
    const sep = text === '' || text.endsWith('\n') ? '' : eol;
    return parseText(`${text}${sep}${SKELETON.split('\n').slice(2).join(eol)}`);
  }
  if (!isMap(contents) || contents.flow)
    throw new KubeconfigError('not a kubeconfig (its top level is not a block mapping of keys)');
  const js = (doc.toJS({ maxAliasCount: 1000 }) ?? {}) as Js;

  const pairs = new Map<string, Pair>();
  for (const pair of contents.items) {
    if (isScalar(pair.key) && typeof pair.key.value === 'string') pairs.set(pair.key.value, pair);
  }
  const oursUsers = new Set<string>();
  if (Array.isArray(js.users)) for (const u of js.users) if (isOurUser(u)) oursUsers.add(nameOf(u)!);

  let indentedSeqs = false;
  const sections = {} as Record<SectionKey, Section>;
  for (const key of SECTIONS) {
    const s = readSection(text, key, pairs.get(key) ?? null, js[key], oursUsers);
    if (s.state === 'block' && s.indent !== null && s.indent.length > s.keyCol) indentedSeqs = true;
    sections[key] = s;
  }

  const tail = text.slice(contents.range[2]);
  const docEnd = /(?:^|\n)(\.\.\.)(?=[ \t\r\n]|$)/.exec(tail);
  const appendAt = docEnd ? contents.range[2] + docEnd.index + docEnd[0].length - 3 : text.length;
  return { text, eol, js, sections, oursUsers, indentedSeqs, appendAt };
}

function readSection(text: string, key: SectionKey, pair: Pair | null, js: unknown, oursUsers: Set<string>): Section {
  const s: Section = {
    key,
    state: 'missing',
    items: [],
    keyStart: text.length,
    keySource: key,
    keyCol: 0,
    keyLineEnd: text.length,
    pairEnd: text.length,
    emptyValue: null,
    marker: null,
    indent: null,
  };
  if (!pair) return s;
  const keyNode = pair.key as Scalar;
  const [k0, k1] = keyNode.range!;
  s.keyStart = k0;
  s.keySource = text.slice(k0, k1);
  s.keyCol = k0 - lineStart(text, k0);
  s.keyLineEnd = lineEnd(text, k1);
  const m = MARKER_RE.exec(text.slice(k1, s.keyLineEnd));
  if (m) s.marker = { start: k1 + m[1]!.length, end: k1 + m[1]!.length + m[2]!.length, restore: m[3] ?? null };
  const value = pair.value as Node | null;
  const valueEnd = value?.range ? value.range[1] : k1;
  s.pairEnd = Math.max(s.keyLineEnd, contentEnd(text, valueEnd));

  if (value === null || (isScalar(value) && value.value === null)) {
    const src = value && isScalar(value) ? (value.source ?? '') : '';
    if (src === '') {
      s.state = 'empty';
    } else if (EMPTY_VALUE_RE.test(src) && value!.range![1] <= s.keyLineEnd) {
      s.state = 'empty';
      s.emptyValue = { start: value!.range![0], end: value!.range![1], source: src };
    } else {
      s.state = 'rewrite';
    }
    return s;
  }
  if (!isSeq(value) || !Array.isArray(js)) throw new KubeconfigError(`its "${key}" is not a list`);
  s.items = (js as unknown[]).map((itemJs) => ({
    js: itemJs,
    name: nameOf(itemJs),
    ours: isOurs(key, itemJs, oursUsers),
    start: -1,
    end: -1,
  }));
  if (value.flow) {
    if (value.items.length === 0 && value.range![1] <= s.keyLineEnd) {
      s.state = 'empty';
      s.emptyValue = {
        start: value.range![0],
        end: value.range![1],
        source: text.slice(value.range![0], value.range![1]),
      };
      if (!EMPTY_VALUE_RE.test(s.emptyValue.source)) s.state = 'rewrite';
    } else {
      s.state = 'rewrite';
    }
    return s;
  }
  s.state = 'block';
  const tokens = (value as unknown as { srcToken?: { items?: { start: { type: string; offset: number }[] }[] } })
    .srcToken?.items;
  for (let i = 0; i < value.items.length; i++) {
    const dash = tokens?.[i]?.start.find((t) => t.type === 'seq-item-ind')?.offset;
    const node = value.items[i] as Node | null;
    const item = s.items[i]!;
    if (dash === undefined || !node?.range) {
      s.state = 'rewrite';
      return s;
    }
    const ls = lineStart(text, dash);
    const indent = text.slice(ls, dash);
    if (!/^[ ]*$/.test(indent) || (s.indent !== null && s.indent !== indent)) {
      s.state = 'rewrite';
      return s;
    }
    s.indent = indent;
    item.start = ls;
    item.end = contentEnd(text, node.range[1]);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// writing

interface Edit {
  start: number;
  end: number;
  text: string;
}

function applyEdits(text: string, edits: Edit[]): string {
  // from the end backwards; of two insertions at the same place, the one listed first ends up first
  const sorted = edits.map((e, i) => ({ ...e, i })).sort((a, b) => b.start - a.start || b.end - a.end || b.i - a.i);
  let out = text;
  let limit = Infinity;
  for (const e of sorted) {
    if (e.end > limit) throw new KubeconfigError('internal error: overlapping edits');
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    limit = e.start;
  }
  return out;
}

function itemText(js: unknown, indent: string, eol: string, indentSeq: boolean): string {
  const body = stringify(js, { lineWidth: 0, minContentWidth: 0, indent: 2, indentSeq }).replace(/\n$/, '');
  const pad = `${indent}  `;
  return `${body
    .split('\n')
    .map((l, i) => (i === 0 ? `${indent}- ${l}` : l === '' ? l : `${pad}${l}`))
    .join(eol)}${eol}`;
}

/** Inserting `block` (whole lines, each ending with eol) at `pos`: at the end of a text that has no
 *  final line break, the block goes after a new one and loses its own last one (so that removing
 *  it again gives the original bytes back). */
function insertion(text: string, pos: number, block: string, eol: string): Edit {
  if (pos === text.length && text.length > 0 && !text.endsWith('\n'))
    return { start: pos, end: pos, text: eol + block.slice(0, block.length - eol.length) };
  return { start: pos, end: pos, text: block };
}

/** Removing the lines [start, end); at the very end of a text without a final line break, the line
 *  break before them goes too. */
function removal(text: string, start: number, end: number): Edit {
  if (end === text.length && !text.endsWith('\n') && start > 0) {
    const before = text[start - 2] === '\r' ? 2 : 1;
    return { start: start - before, end, text: '' };
  }
  return { start, end, text: '' };
}

/** The new state of one section: its items' data, and which existing items are replaced / removed. */
interface SectionPlan {
  key: SectionKey;
  /** final items' data, in order */
  result: unknown[];
  /** existing item index -> new data (replace in place) or null (remove) */
  changes: Map<number, unknown>;
  /** new items appended after the existing ones */
  appended: unknown[];
}

function spliceEdits(p: Parsed, plans: SectionPlan[], forceRewrite: boolean): Edit[] {
  const { text, eol } = p;
  const edits: Edit[] = [];
  const eofAppends: string[] = [];
  for (const plan of plans) {
    const s = p.sections[plan.key];
    if (plan.changes.size === 0 && plan.appended.length === 0) continue;
    const state = forceRewrite && s.state !== 'missing' ? 'rewrite' : s.state;
    const indent = s.indent ?? ' '.repeat(s.keyCol);
    const indentSeq = p.indentedSeqs;
    const block = (items: unknown[], ind: string) => items.map((js) => itemText(js, ind, eol, indentSeq)).join('');
    if (state === 'missing') {
      eofAppends.push(`${plan.key}: # PIM Agent: added${eol}${block(plan.result, '')}`);
    } else if (state === 'empty') {
      if (plan.appended.length === 0) continue;
      if (s.emptyValue)
        edits.push({
          start: s.emptyValue.start,
          end: s.emptyValue.end,
          text: `# PIM Agent: was ${s.emptyValue.source}`,
        });
      edits.push(insertion(text, s.keyLineEnd, block(plan.appended, indent), eol));
    } else if (state === 'block') {
      let remaining = s.items.length;
      for (const [i, js] of plan.changes) {
        const it = s.items[i]!;
        if (js === null) {
          edits.push(removal(text, it.start, it.end));
          remaining--;
        } else {
          const t = itemText(js, indent, eol, indentSeq);
          edits.push({
            start: it.start,
            end: it.end,
            text: text.slice(it.end - eol.length, it.end) === eol ? t : t.slice(0, t.length - eol.length),
          });
        }
      }
      if (plan.appended.length > 0)
        edits.push(insertion(text, s.items[s.items.length - 1]!.end, block(plan.appended, indent), eol));
      else if (remaining === 0 && s.marker) {
        // the last items went: the value we replaced by our marker comes back (or the key we added goes)
        if (s.marker.restore !== null) edits.push({ start: s.marker.start, end: s.marker.end, text: s.marker.restore });
        else edits.push(removal(text, lineStart(text, s.keyStart), s.keyLineEnd));
      }
    } else {
      // rewrite: the whole key as a block sequence of its items
      const start = lineStart(text, s.keyStart) + s.keyCol;
      const items = plan.result.length > 0 ? block(plan.result, ' '.repeat(s.keyCol)) : '';
      edits.push({ start, end: s.pairEnd, text: `${s.keySource}:${eol}${items}` });
    }
  }
  if (eofAppends.length > 0) {
    const at = p.appendAt;
    const sep = at > 0 && text[at - 1] !== '\n' ? eol : '';
    edits.push({ start: at, end: at, text: sep + eofAppends.join('') });
  }
  return edits;
}

function normalise(js: Js): Js {
  const out: Js = { ...js };
  for (const k of SECTIONS) out[k] = out[k] ?? [];
  return out;
}

/** Applies the plans to the text, checks the result, falls back to rewriting, or throws. */
function render(p: Parsed, plans: SectionPlan[]): string {
  const expected: Js = { ...p.js };
  for (const plan of plans) expected[plan.key] = plan.result;
  let lastError: unknown = null;
  for (const forceRewrite of [false, true]) {
    let out: string;
    try {
      out = applyEdits(p.text, spliceEdits(p, plans, forceRewrite));
    } catch (e) {
      lastError = e;
      continue;
    }
    const doc = parseDocument(out, { uniqueKeys: true });
    if (doc.errors.length > 0) {
      lastError = doc.errors[0];
      continue;
    }
    const got = obj(doc.toJS({ maxAliasCount: 1000 }));
    if (got && util.isDeepStrictEqual(normalise(got), normalise(expected))) return out;
    lastError = new Error('the edited text does not hold the expected entries');
  }
  throw new KubeconfigError(
    `PIM Agent cannot edit this file without risking your own entries (${lastError instanceof Error ? lastError.message : String(lastError)}); add the pim- entries by hand or point $KUBECONFIG at another file`,
  );
}

// ---------------------------------------------------------------------------------------------
// our entries

function checkEntry(e: KubeEntry): void {
  checkName(e.name, 'kubeconfig entry name');
  if (!e.name.startsWith('pim-')) throw new KubeconfigError(`kubeconfig entry name ${e.name} must start with "pim-"`);
  checkName(e.cluster, 'cluster name');
  checkName(e.role, 'role name');
  let url: URL;
  try {
    url = new URL(e.server);
  } catch {
    throw new KubeconfigError(`the API server address ${JSON.stringify(e.server)} is not a URL`);
  }
  if (url.protocol !== 'https:' || CONTROL.test(e.server) || /\s/.test(e.server))
    throw new KubeconfigError(`the API server address ${JSON.stringify(e.server)} must be an https URL`);
  if (e.certificateAuthorityData !== null && !/^[A-Za-z0-9+/]+={0,2}$/.test(e.certificateAuthorityData))
    throw new KubeconfigError('certificateAuthorityData must be base64 (of PEM certificates)');
  if (
    typeof e.command !== 'string' ||
    !(path.posix.isAbsolute(e.command) || path.win32.isAbsolute(e.command)) ||
    CONTROL.test(e.command)
  )
    throw new KubeconfigError(`the credential helper ${JSON.stringify(e.command)} must be an absolute path`);
  if (!HELPER_BASENAMES.has(basename(e.command)))
    throw new KubeconfigError(
      `the credential helper must be PIM Agent's pim-cred, not ${JSON.stringify(basename(e.command))}`,
    );
  if (!Array.isArray(e.args) || e.args.some((a) => typeof a !== 'string' || CONTROL.test(a)))
    throw new KubeconfigError('the credential helper arguments must be printable strings');
}

function entryItems(e: KubeEntry): Record<SectionKey, unknown> {
  const cluster: Js = { server: e.server };
  if (e.certificateAuthorityData !== null) cluster['certificate-authority-data'] = e.certificateAuthorityData;
  return {
    clusters: { name: e.name, cluster },
    contexts: { name: e.name, context: { cluster: e.name, user: e.name } },
    users: {
      name: e.name,
      user: {
        exec: {
          apiVersion: EXEC_API_VERSION,
          command: e.command,
          args: [...e.args],
          installHint: `pim-cred is PIM Agent's credential helper for role ${e.role} on cluster ${e.cluster}: install and start PIM Agent, then run: pim activate ${e.role}`,
          interactiveMode: 'Never',
          provideClusterInfo: false,
        },
      },
    },
  };
}

/**
 * Adds (or replaces) our entries: for each KubeEntry a cluster, a context and a user named
 * `entry.name`, the user running `entry.command entry.args…` as an exec credential plugin. `text`
 * null or '' means there is no file yet (the result is SKELETON plus the entries). Throws
 * UnsafePathError/KubeconfigError, before producing anything, for a bad name or a same-named entry
 * that is not ours.
 */
export function addKubeEntries(text: string | null, entries: KubeEntry[]): string {
  const seen = new Set<string>();
  for (const e of entries) {
    checkEntry(e);
    if (seen.has(e.name)) throw new KubeconfigError(`entry ${e.name} is listed twice`);
    seen.add(e.name);
  }
  const p = parseText(text === null || text === '' ? SKELETON : text);

  for (const e of entries) {
    for (const key of SECTIONS) {
      const foreign = p.sections[key].items.find((it) => it.name === e.name && !it.ours);
      if (foreign)
        throw new KubeconfigError(
          `there is already a ${key.slice(0, -1)} named ${e.name} that PIM Agent did not write; rename or remove that entry, then activate again`,
        );
    }
  }

  const plans: SectionPlan[] = SECTIONS.map((key) => ({ key, result: [], changes: new Map(), appended: [] }));
  const byKey = (key: SectionKey) => plans.find((x) => x.key === key)!;
  const newItems = new Map<string, Record<SectionKey, unknown>>();
  for (const e of entries) newItems.set(e.name, entryItems(e));
  for (const key of SECTIONS) {
    const plan = byKey(key);
    const s = p.sections[key];
    const placed = new Set<string>();
    s.items.forEach((it, i) => {
      const fresh = it.ours && it.name !== null ? newItems.get(it.name) : undefined;
      if (!fresh) {
        plan.result.push(it.js);
      } else if (placed.has(it.name!)) {
        plan.changes.set(i, null); // a duplicate of ours: dropped
      } else {
        placed.add(it.name!);
        plan.changes.set(i, fresh[key]);
        plan.result.push(fresh[key]);
      }
    });
    for (const e of entries) {
      if (placed.has(e.name)) continue;
      const js = newItems.get(e.name)![key];
      plan.appended.push(js);
      plan.result.push(js);
    }
  }
  return render(p, plans);
}

/** Removes our entries whose name `which` accepts (anything not ours is never touched). */
export function removeKubeEntries(text: string, which: (name: string) => boolean): string {
  if (text === '') return text;
  const p = parseText(text);
  const gone = new Set([...p.oursUsers].filter((n) => which(n)));
  if (gone.size === 0) return text;
  const plans: SectionPlan[] = SECTIONS.map((key) => {
    const plan: SectionPlan = { key, result: [], changes: new Map(), appended: [] };
    p.sections[key].items.forEach((it, i) => {
      if (it.ours && it.name !== null && gone.has(it.name)) plan.changes.set(i, null);
      else plan.result.push(it.js);
    });
    return plan;
  });
  return render(p, plans);
}

/** Names of the entries that are ours (see the header), sorted. */
export function listPimEntries(text: string): string[] {
  if (text === '') return [];
  return [...parseText(text).oursUsers].sort();
}
