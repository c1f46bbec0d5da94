// Policy YAML text -> validated PolicySource, or errors that name the field path
// (roles[2].activation.maxDuration) and the 1-based line/column the admin has to fix.
// YAML is read with the core schema (no YAML 1.1 surprises: `no` stays a string, dates stay
// strings) and unique keys; aliases are bounded so a small file cannot expand into a huge one.

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node, ParsedNode } from 'yaml';
import type { z } from 'zod';
import { errorMessage } from '../errors';
import { CLOUD_GRANT_FIELDS } from './cloud-grants';
import { PolicySchema, type PolicySource } from './schema';

export interface PolicyError {
  /** field path, e.g. "roles[2].activation.maxDuration"; "" for the document itself */
  path: string;
  /** 1-based; null when the position is unknown */
  line: number | null;
  column: number | null;
  message: string;
}

export type ParsePolicyResult = { ok: true; policy: PolicySource } | { ok: false; errors: PolicyError[] };

export const DEFAULT_MAX_POLICY_BYTES = 64 * 1024 * 1024;
const MAX_ALIAS_COUNT = 100;
/** more errors than this are summarised: past that point the admin fixes the first ones first */
const MAX_ERRORS = 50;

/** Every field name the schema knows, for "did you mean" hints on unknown fields. */
const KNOWN_FIELDS = [
  'roles',
  'clusters',
  'users',
  'name',
  'description',
  'eligible',
  'activation',
  'grants',
  'groups',
  'until',
  'email',
  'maxDuration',
  'defaultDuration',
  'mfa',
  'userVerification',
  'justification',
  'ticket',
  'required',
  'pattern',
  'approval',
  'approvers',
  'count',
  'selfApproval',
  'windows',
  'days',
  'from',
  'to',
  'tz',
  'maxActive',
  'sessionTrail',
  'onLock',
  'kubernetes',
  'aws',
  'ssh',
  'cluster',
  'roleArn',
  'audience',
  'stsEndpoint',
  'region',
  'principals',
  'hosts',
  'extensions',
  'server',
  'certificateAuthorityData',
  ...CLOUD_GRANT_FIELDS,
];

type Segment = string | number;

export function parsePolicyYaml(text: string, opts: { maxBytes?: number } = {}): ParsePolicyResult {
  const fail = (message: string, line: number | null = null, column: number | null = null): ParsePolicyResult => ({
    ok: false,
    errors: [{ path: '', line, column, message }],
  });
  if (typeof text !== 'string') return fail('the policy must be text');
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_POLICY_BYTES;
  if (utf8Length(text, maxBytes) > maxBytes) {
    return fail(`the policy is larger than ${maxBytes} bytes; refusing to parse it`);
  }

  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, schema: 'core' });
  } catch (e) {
    return fail(`could not read the YAML: ${errorMessage(e)}`);
  }
  const at = (offset: number | undefined) => {
    if (offset === undefined) return { line: null, column: null };
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };

  if (doc.errors.length > 0) {
    if (doc.errors.some((e) => /call stack/i.test(e.message))) {
      return fail('the YAML is nested too deeply; refusing to parse it');
    }
    const errors = doc.errors.map((e): PolicyError => {
      const offset = e.pos[0];
      const path = pathAtOffset(doc, offset);
      let message = e.message;
      if (e.code === 'DUPLICATE_KEY') {
        const key = path[path.length - 1];
        message = `duplicate key${typeof key === 'string' ? ` ${JSON.stringify(key)}` : ''} (each key may appear once)`;
      }
      return { path: formatPath(path), ...at(offset), message: `YAML: ${message}` };
    });
    return { ok: false, errors: limit(sortErrors(errors)) };
  }

  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    return fail('the policy is empty; it needs at least a `roles:` list');
  }
  if (!isMap(contents)) {
    const p = at(contents.range[0]);
    return fail(
      'the policy must be a mapping with `roles:` (and optionally `clusters:` and `users:`)',
      p.line,
      p.column,
    );
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const msg = errorMessage(e);
    return fail(
      /alias/i.test(msg)
        ? `too many alias expansions (limit ${MAX_ALIAS_COUNT}); refusing to expand: ${msg}`
        : `could not read the YAML: ${msg}`,
    );
  }

  const result = PolicySchema.safeParse(data, { reportInput: true });
  if (result.success) return { ok: true, policy: result.data };

  const errors: PolicyError[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...(issue.path as Segment[]), key];
        const loc = locate(doc, path);
        const hint = suggest(key);
        errors.push({
          path: formatPath(path),
          ...at(loc.key?.range?.[0] ?? loc.node?.range?.[0]),
          message: `unknown field ${JSON.stringify(key)}${hint ? ` (did you mean ${hint}?)` : ''}`,
        });
      }
      continue;
    }
    const path = issue.path as Segment[];
    const loc = locate(doc, path);
    const offset = loc.found ? loc.node?.range?.[0] : (loc.key?.range?.[0] ?? loc.node?.range?.[0]);
    errors.push({ path: formatPath(path), ...at(offset), message: describeIssue(issue) });
  }
  return { ok: false, errors: limit(sortErrors(dedupe(errors))) };
}

/** "policy.yaml:14:7 roles[2].activation.maxDuration: …", one line per error. */
export function formatPolicyErrors(errors: readonly PolicyError[], file = 'policy.yaml'): string {
  return errors
    .map((e) => {
      const where = e.line === null ? file : `${file}:${e.line}:${e.column ?? 1}`;
      return e.path === '' ? `${where}: ${e.message}` : `${where} ${e.path}: ${e.message}`;
    })
    .join('\n');
}

// --- helpers ------------------------------------------------------------------------------------

/** UTF-8 byte length of `s`, stopping early once it passes `limit`. */
function utf8Length(s: string, limit: number): number {
  if (s.length > limit) return s.length; // every UTF-16 unit is at least one byte
  if (s.length * 3 <= limit) return s.length * 3; // an upper bound that is already fine
  let n = 0;
  for (let i = 0; i < s.length && n <= limit; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // surrogate pair: 4 bytes for both units
      i++;
    } else n += 3;
  }
  return n;
}

export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function keyText(k: unknown): string {
  return isScalar(k) ? String(k.value) : String(k);
}

/** Walk the YAML nodes along a zod path. `found` false: `node` is the deepest existing container
 *  and `key` the key that led to it (the line to point at for a missing field). */
function locate(
  doc: Document.Parsed,
  path: readonly Segment[],
): { found: boolean; node: Node | null; key: Node | null } {
  let cur: unknown = doc.contents;
  let key: Node | null = null;
  for (const seg of path) {
    if (isAlias(cur)) cur = cur.resolve(doc);
    if (isMap(cur)) {
      const pair = cur.items.find((p) => keyText(p.key) === String(seg));
      if (pair === undefined) return { found: false, node: cur, key };
      key = (pair.key as Node) ?? null;
      if (pair.value === null) return { found: false, node: cur, key };
      cur = pair.value;
    } else if (isSeq(cur) && typeof seg === 'number' && seg < cur.items.length) {
      key = null;
      cur = cur.items[seg];
    } else {
      return { found: false, node: (cur as Node) ?? null, key };
    }
  }
  return { found: true, node: (cur as Node) ?? null, key };
}

/** The path of the deepest node whose range contains `offset` (to name the field of a YAML error). */
function pathAtOffset(doc: Document.Parsed, offset: number): Segment[] {
  const path: Segment[] = [];
  const within = (n: unknown) => {
    const r = (n as ParsedNode | null)?.range;
    return r != null && r[0] <= offset && offset < r[2];
  };
  let cur: unknown = doc.contents;
  for (let depth = 0; depth < 32; depth++) {
    if (isMap(cur)) {
      const pair = cur.items.find((p) => within(p.key) || within(p.value));
      if (pair === undefined) break;
      path.push(keyText(pair.key));
      if (within(pair.key)) break;
      cur = pair.value;
    } else if (isSeq(cur)) {
      const i = cur.items.findIndex(within);
      if (i < 0) break;
      path.push(i);
      cur = cur.items[i];
    } else break;
  }
  return path;
}

function describeKind(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

/** Zod's generic messages ("Invalid input: …") rewritten for someone editing YAML; the schema's
 *  own messages are kept as they are. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  const generic = /^(Invalid input|Too small|Too big|Invalid option|Invalid)/.test(issue.message);
  if (issue.code === 'invalid_type' && input === undefined) {
    return `${String(issue.path[issue.path.length - 1] ?? 'this field')} is required`;
  }
  if (!generic) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeKind(input)}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `list at least ${String(issue.minimum)} item(s)`
        : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `list at most ${String(issue.maximum)} item(s)`
        : `must be at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `${describeKind(input)} is not one of ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

function suggest(key: string): string | null {
  let best: string | null = null;
  let bestDist = 3;
  for (const k of KNOWN_FIELDS) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(k, key, bestDist);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function limit(errors: PolicyError[]): PolicyError[] {
  if (errors.length <= MAX_ERRORS) return errors;
  const rest = errors.length - MAX_ERRORS;
  return [
    ...errors.slice(0, MAX_ERRORS),
    { path: '', line: null, column: null, message: `… and ${rest} more error(s)` },
  ];
}

function dedupe(errors: PolicyError[]): PolicyError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.path}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function sortErrors(errors: PolicyError[]): PolicyError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((x, y) => (x.e.line ?? 0) - (y.e.line ?? 0) || (x.e.column ?? 0) - (y.e.column ?? 0) || x.i - y.i)
    .map((x) => x.e);
}
