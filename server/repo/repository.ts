// The control plane's TUF repository: init, publish a policy, rotate the root, keep the timestamp fresh.
//
// Layout of DIR:
//   trust-root.json            the root agents pin (latest root; older agents walk the chain)
//   repo.json                  versions and role → key mapping (no secrets)
//   keys/                      0700; one 0600 file per private key
//   repo/metadata/             N.root.json, N.targets.json, N.bin-XX.json, N.snapshot.json, timestamp.json
//   repo/targets/              policy/<sha256>.roles.json, members/<sha256>.<hash-of-email>.json
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MetadataKind } from '@tufjs/models';
import { PimError } from '../../shared/errors';
import { compilePolicy, type CompiledPolicy } from '../../shared/policy/compile';
import { formatPolicyErrors, parsePolicyYaml } from '../../shared/policy/parse-yaml';
import { memberTargetPath, ROLES_TARGET } from '../../shared/policy/targets';
import type { MemberFile, RolesFile } from '../../shared/policy/types';
import { ensureDir, ensurePrivateDir, readJson, syncAll, withLock, writeAtomic } from '../../platform/fs-safe';
import { generateKey, loadKeys, saveKey, type RepoKey, type RoleName } from './keys';
import {
  rootSigned,
  signedEnvelope,
  snapshotSigned,
  targetsSigned,
  timestampSigned,
  type TargetEntry,
} from './metadata';

type TopRole = 'root' | 'targets' | 'snapshot' | 'timestamp';

export interface RepoState {
  rootVersion: number;
  targetsVersion: number;
  snapshotVersion: number;
  timestampVersion: number;
  /** seconds a timestamp stays valid; `serve` re-signs at half-life */
  timestampTtl: number;
  rootTtl: number;
  policyExpires: string | null;
  snapshot: { version: number; length: number; sha256: string } | null;
  roles: Record<TopRole, { keyids: string[]; threshold: number }>;
  binsKeyids: string[];
}

/** The repository folder or a command's arguments are unusable (pim-server prints the message). */
export type RepoErrorCode = 'repo';

export class RepoError extends PimError<RepoErrorCode> {
  constructor(
    message: string,
    readonly details: string[] = [],
  ) {
    super('repo', message);
  }
}

const DAY = 86400;

export const paths = (dir: string) => ({
  state: path.join(dir, 'repo.json'),
  /** the compiled policy as last published: what the server itself decides with */
  current: path.join(dir, 'current-policy.json'),
  /** the YAML it came from, so adding a user can republish it */
  source: path.join(dir, 'policy-source.yaml'),
  trustRoot: path.join(dir, 'trust-root.json'),
  metadata: path.join(dir, 'repo', 'metadata'),
  targets: path.join(dir, 'repo', 'targets'),
});

export function readState(dir: string): RepoState {
  const p = paths(dir).state;
  if (!fs.existsSync(p))
    throw new RepoError(`${dir} is not a pim-server repository (no repo.json); run: pim-server init ${dir}`);
  return readJson<RepoState>(p);
}

function writeState(dir: string, s: RepoState): void {
  writeAtomic(paths(dir).state, JSON.stringify(s, null, 2) + '\n', 0o644);
}

function sha256(b: Buffer | string): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

function keysFor(dir: string, keyids: string[]): RepoKey[] {
  const all = loadKeys(dir);
  return keyids.map((id) => {
    const k = all.get(id);
    if (!k) throw new RepoError(`private key ${id.slice(0, 16)}… is missing from ${path.join(dir, 'keys')}`);
    return k;
  });
}

export function writeMetadata(dir: string, file: string, envelope: unknown, fsync = true): number {
  const bytes = Buffer.from(JSON.stringify(envelope));
  writeAtomic(path.join(paths(dir).metadata, file), bytes, 0o644, { fsync });
  return bytes.length;
}

export interface InitOptions {
  rootTtlDays?: number;
  timestampTtlSeconds?: number;
  now?: Date;
}

export function initRepo(dir: string, opts: InitOptions = {}): { trustRoot: string; rootSha256: string } {
  if (fs.existsSync(paths(dir).state))
    throw new RepoError(`${dir} already holds a repository; refusing to overwrite its keys`);
  ensureDir(dir, 0o755);
  const now = opts.now ?? new Date();
  const k: Record<RoleName, RepoKey> = {
    root: generateKey(),
    targets: generateKey(),
    snapshot: generateKey(),
    timestamp: generateKey(),
    bins: generateKey(),
  };
  for (const [role, key] of Object.entries(k)) saveKey(dir, role as RoleName, key);
  const state: RepoState = {
    rootVersion: 1,
    targetsVersion: 0,
    snapshotVersion: 0,
    timestampVersion: 0,
    timestampTtl: opts.timestampTtlSeconds ?? DAY,
    rootTtl: (opts.rootTtlDays ?? 365) * DAY,
    policyExpires: null,
    snapshot: null,
    roles: {
      root: { keyids: [k.root.keyid], threshold: 1 },
      targets: { keyids: [k.targets.keyid], threshold: 1 },
      snapshot: { keyids: [k.snapshot.keyid], threshold: 1 },
      timestamp: { keyids: [k.timestamp.keyid], threshold: 1 },
    },
    binsKeyids: [k.bins.keyid],
  };
  const root = signedEnvelope(
    MetadataKind.Root,
    rootSigned({
      version: 1,
      expires: new Date(now.getTime() + state.rootTtl * 1000),
      keys: [k.root, k.targets, k.snapshot, k.timestamp],
      roles: state.roles,
    }),
    [k.root],
  );
  writeMetadata(dir, '1.root.json', root);
  const rootBytes = JSON.stringify(root, null, 2) + '\n';
  writeAtomic(paths(dir).trustRoot, rootBytes);
  ensureDir(paths(dir).targets);
  writeState(dir, state);
  return { trustRoot: paths(dir).trustRoot, rootSha256: sha256(rootBytes) };
}

/** Users added with `pim-server user add --groups`: their groups join those the policy gives them. */
export interface ExtraMember {
  email: string;
  groups: string[];
}

export function mergeExtraMembers(
  compiled: { roles: RolesFile; members: MemberFile[] },
  extra: ExtraMember[],
): { roles: RolesFile; members: MemberFile[] } {
  if (extra.length === 0) return compiled;
  const byEmail = new Map(compiled.members.map((m) => [m.email, { ...m, groups: [...m.groups] }]));
  for (const x of extra) {
    const m = byEmail.get(x.email) ?? { schema: 'pim-member/v1' as const, email: x.email, groups: [], assignments: [] };
    for (const g of x.groups) if (!m.groups.includes(g)) m.groups.push(g);
    byEmail.set(x.email, m);
  }
  return {
    roles: compiled.roles,
    members: [...byEmail.values()].sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0)),
  };
}

export interface PublishOptions {
  /** registry users whose groups are merged in (see ExtraMember) */
  extraMembers?: ExtraMember[];
  /** how long agents may use this policy offline, seconds (default 7 days) */
  expiresSeconds?: number;
  now?: Date;
  /** file name shown in error messages */
  sourceName?: string;
}

export interface PublishResult {
  version: number;
  roles: number;
  users: number;
  bins: number;
  expires: string;
}

export interface CurrentPolicy {
  version: number;
  expires: string;
  roles: RolesFile;
  members: MemberFile[];
}

export function readCurrentPolicy(dir: string): CurrentPolicy | null {
  return fs.existsSync(paths(dir).current) ? readJson<CurrentPolicy>(paths(dir).current) : null;
}

/** `yamlText` compiled as a publish would sign it (with the control plane's extra members), or a
 *  RepoError listing what is wrong in it. Nothing is written. */
export function compileForPublish(
  yamlText: string,
  opts: Pick<PublishOptions, 'extraMembers' | 'sourceName'> = {},
): CompiledPolicy {
  const parsed = parsePolicyYaml(yamlText);
  if (!parsed.ok)
    throw new RepoError(
      `policy rejected: ${parsed.errors.length} error(s)`,
      formatPolicyErrors(parsed.errors, opts.sourceName).split('\n'),
    );
  return mergeExtraMembers(compilePolicy(parsed.policy), opts.extraMembers ?? []);
}

/** What is published now (its source as compiled again), or null before the first publish. */
export function publishedPolicy(dir: string, extraMembers: ExtraMember[] = []): CompiledPolicy | null {
  let text: string;
  try {
    text = fs.readFileSync(paths(dir).source, 'utf8');
  } catch {
    return null;
  }
  try {
    return compileForPublish(text, { extraMembers });
  } catch {
    return null;
  }
}

export function publishPolicy(dir: string, yamlText: string, opts: PublishOptions = {}): PublishResult {
  const parsed = parsePolicyYaml(yamlText);
  if (!parsed.ok) {
    throw new RepoError(
      `policy rejected: ${parsed.errors.length} error(s)`,
      formatPolicyErrors(parsed.errors, opts.sourceName).split('\n'),
    );
  }
  const compiled = mergeExtraMembers(compilePolicy(parsed.policy), opts.extraMembers ?? []);
  return withLock(dir, () => {
    const state = readState(dir);
    const now = opts.now ?? new Date();
    const expires = new Date(now.getTime() + (opts.expiresSeconds ?? 7 * DAY) * 1000);
    const version = state.targetsVersion + 1;
    const targetsDir = paths(dir).targets;

    // Target files are content-addressed and named by no metadata until the sync below, so they are
    // written in place (a rename each costs more than the write on some filesystems). A file torn by
    // a crash is caught by re-hashing existing files here, and by every client's hash check.
    const madeDirs = new Set<string>();
    const putTarget = (targetPath: string, bytes: Buffer): TargetEntry => {
      const hash = sha256(bytes);
      const { dir: d, base } = path.posix.parse(targetPath);
      const folder = path.join(targetsDir, d);
      const file = path.join(folder, `${hash}.${base}`);
      const intact = fs.existsSync(file) && sha256(fs.readFileSync(file)) === hash;
      if (!intact) {
        if (!madeDirs.has(folder)) ensureDir(folder);
        madeDirs.add(folder);
        fs.writeFileSync(file, bytes, { mode: 0o644 });
      }
      return { length: bytes.length, hashes: { sha256: hash } };
    };

    const rolesEntry = putTarget(ROLES_TARGET, Buffer.from(JSON.stringify(compiled.roles)));
    // Hash-bin delegation (TUF spec §5.6 path_hash_prefixes): a laptop downloads one small bin,
    // not a targets file listing every user.
    const prefixLen = compiled.members.length > 4096 ? 2 : 1;
    const binNames = Array.from({ length: 16 ** prefixLen }, (_, i) => i.toString(16).padStart(prefixLen, '0'));
    const bins = new Map<string, Record<string, TargetEntry>>(binNames.map((b) => [b, {}]));
    for (const m of compiled.members) {
      const tp = memberTargetPath(m.email);
      const entry = putTarget(tp, Buffer.from(JSON.stringify(m)));
      bins.get(sha256(tp).slice(0, prefixLen))![tp] = entry;
    }
    syncAll();
    const binsKeys = keysFor(dir, state.binsKeyids);
    const snapshotMeta: Record<string, number> = { 'targets.json': version };
    for (const [b, targets] of bins) {
      writeMetadata(
        dir,
        `${version}.bin-${b}.json`,
        signedEnvelope(MetadataKind.Targets, targetsSigned({ version, expires, targets }), binsKeys),
        false,
      );
      snapshotMeta[`bin-${b}.json`] = version;
    }
    const top = targetsSigned({
      version,
      expires,
      targets: { [ROLES_TARGET]: rolesEntry },
      delegations: { keys: binsKeys, roles: binNames.map((b) => ({ name: `bin-${b}`, prefixes: [b] })) },
    });
    syncAll(); // the bins, before the targets metadata that delegates to them
    writeMetadata(
      dir,
      `${version}.targets.json`,
      signedEnvelope(MetadataKind.Targets, top, keysFor(dir, state.roles.targets.keyids)),
    );

    const snapVersion = state.snapshotVersion + 1;
    const snap = signedEnvelope(
      MetadataKind.Snapshot,
      snapshotSigned(snapVersion, expires, snapshotMeta),
      keysFor(dir, state.roles.snapshot.keyids),
    );
    const snapBytes = Buffer.from(JSON.stringify(snap));
    writeAtomic(path.join(paths(dir).metadata, `${snapVersion}.snapshot.json`), snapBytes);

    const next: RepoState = {
      ...state,
      targetsVersion: version,
      snapshotVersion: snapVersion,
      policyExpires: expires.toISOString(),
      snapshot: { version: snapVersion, length: snapBytes.length, sha256: sha256(snapBytes) },
    };
    signTimestamp(dir, next, now);
    writeState(dir, next);
    const current: CurrentPolicy = {
      version,
      expires: expires.toISOString(),
      roles: compiled.roles,
      members: compiled.members,
    };
    writeAtomic(paths(dir).current, JSON.stringify(current));
    writeAtomic(paths(dir).source, yamlText);
    return {
      version,
      roles: compiled.roles.roles.length,
      users: compiled.members.length,
      bins: binNames.length,
      expires: expires.toISOString(),
    };
  });
}

/** Signs a new timestamp (mutates state's version; caller persists state). Written last: it is what
 *  makes a new snapshot visible to clients. */
function signTimestamp(dir: string, state: RepoState, now: Date): void {
  if (!state.snapshot) return;
  const ttlEnd = now.getTime() + state.timestampTtl * 1000;
  const policyEnd = state.policyExpires ? Date.parse(state.policyExpires) : ttlEnd;
  const expires = new Date(Math.min(ttlEnd, policyEnd));
  state.timestampVersion += 1;
  const ts = signedEnvelope(
    MetadataKind.Timestamp,
    timestampSigned(state.timestampVersion, expires, state.snapshot),
    keysFor(dir, state.roles.timestamp.keyids),
  );
  writeMetadata(dir, 'timestamp.json', ts);
}

/** Re-sign the timestamp when past half its life (or when forced). Returns true when it re-signed. */
export function refreshTimestamp(dir: string, opts: { now?: Date; force?: boolean } = {}): boolean {
  return withLock(dir, () => {
    const state = readState(dir);
    if (!state.snapshot) return false;
    const now = opts.now ?? new Date();
    const file = path.join(paths(dir).metadata, 'timestamp.json');
    if (!opts.force && fs.existsSync(file)) {
      const cur = readJson<{ signed: { expires: string } }>(file);
      const left = Date.parse(cur.signed.expires) - now.getTime();
      const policyLeft = state.policyExpires ? Date.parse(state.policyExpires) - now.getTime() : Infinity;
      // nothing to gain once the timestamp already reaches the policy's own expiry
      if (left > (state.timestampTtl * 1000) / 2 || left >= policyLeft) return false;
    }
    signTimestamp(dir, state, now);
    writeState(dir, state);
    return true;
  });
}

export interface RotateOptions {
  threshold?: number;
  keys?: number;
  now?: Date;
}

/** New root version with fresh root keys, signed by the old root keys (so existing agents accept
 *  it) and by the new ones (so it proves itself, TUF spec §5.3.4). */
export function rotateRoot(
  dir: string,
  opts: RotateOptions = {},
): { version: number; keyids: string[]; threshold: number } {
  const n = opts.keys ?? 1;
  const threshold = opts.threshold ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new RepoError('--keys must be an integer between 1 and 16');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > n)
    throw new RepoError(`--threshold must be between 1 and --keys (${n})`);
  return withLock(dir, () => {
    const state = readState(dir);
    const now = opts.now ?? new Date();
    const oldKeys = keysFor(dir, state.roles.root.keyids);
    const newKeys = Array.from({ length: n }, generateKey);
    for (const k of newKeys) saveKey(dir, 'root', k);
    const roles = { ...state.roles, root: { keyids: newKeys.map((k) => k.keyid), threshold } };
    const others = keysFor(dir, [
      ...new Set([...roles.targets.keyids, ...roles.snapshot.keyids, ...roles.timestamp.keyids]),
    ]);
    const version = state.rootVersion + 1;
    const root = signedEnvelope(
      MetadataKind.Root,
      rootSigned({
        version,
        expires: new Date(now.getTime() + state.rootTtl * 1000),
        keys: [...newKeys, ...others],
        roles,
      }),
      [...oldKeys, ...newKeys],
    );
    writeMetadata(dir, `${version}.root.json`, root);
    writeAtomic(paths(dir).trustRoot, JSON.stringify(root, null, 2) + '\n');
    // retire the old root keys: an attacker who later steals them can no longer sign a root
    const retired = path.join(dir, 'keys', 'retired');
    ensurePrivateDir(retired);
    for (const name of fs.readdirSync(path.join(dir, 'keys'))) {
      if (oldKeys.some((k) => name === `root-${k.keyid.slice(0, 16)}.json`))
        fs.renameSync(path.join(dir, 'keys', name), path.join(retired, name));
    }
    writeState(dir, { ...state, rootVersion: version, roles });
    return { version, keyids: roles.root.keyids, threshold };
  });
}

export type OnlineRole = 'timestamp' | 'snapshot' | 'targets';

/** Which metadata a rotation must re-sign: everything from the rotated role down to the timestamp,
 *  since each level names the hash/version of the one below it. */
const RESIGN: Record<OnlineRole, OnlineRole[]> = {
  timestamp: ['timestamp'],
  snapshot: ['snapshot', 'timestamp'],
  targets: ['targets', 'snapshot', 'timestamp'],
};

/** Recovery from a compromised timestamp, snapshot or targets key (TUF spec §5.3.11, "fast-forward
 *  attack recovery"): a new root lists a fresh key for the role and drops the old one, and the
 *  role's metadata (and what hangs below it) is re-signed under the new key at the repository's
 *  own, honest versions. Agents that trusted an attacker's huge version discard it because it no
 *  longer verifies under the new root, and accept these lower versions. */
export function rotateKeys(
  dir: string,
  role: OnlineRole,
  opts: { now?: Date } = {},
): { rootVersion: number; keyid: string; retired: string[] } {
  if (!(role in RESIGN)) throw new RepoError(`--role must be timestamp, snapshot or targets, got "${String(role)}"`);
  return withLock(dir, () => {
    const state = readState(dir);
    const now = opts.now ?? new Date();
    const rootKeys = keysFor(dir, state.roles.root.keyids);
    const oldIds = state.roles[role].keyids;
    const key = generateKey();
    saveKey(dir, role, key);
    const roles = { ...state.roles, [role]: { keyids: [key.keyid], threshold: 1 } };
    const listed = keysFor(dir, [
      ...new Set(
        [...roles.targets.keyids, ...roles.snapshot.keyids, ...roles.timestamp.keyids].filter((id) => id !== key.keyid),
      ),
    ]);
    const rootVersion = state.rootVersion + 1;
    const root = signedEnvelope(
      MetadataKind.Root,
      rootSigned({
        version: rootVersion,
        expires: new Date(now.getTime() + state.rootTtl * 1000),
        keys: [...rootKeys, ...listed, key],
        roles,
      }),
      rootKeys,
    );
    writeMetadata(dir, `${rootVersion}.root.json`, root);
    writeAtomic(paths(dir).trustRoot, JSON.stringify(root, null, 2) + '\n');
    const next: RepoState = { ...state, rootVersion, roles };
    if (state.snapshot) resignBelow(dir, next, RESIGN[role], now);
    writeState(dir, next);
    // the old key signs nothing any more; kept aside (0700 dir), not deleted, for forensics
    const retired = retireKeys(
      dir,
      role,
      oldIds.filter((id) => !roles.root.keyids.includes(id)),
    );
    return { rootVersion, keyid: key.keyid, retired };
  });
}

function retireKeys(dir: string, role: RoleName, keyids: string[]): string[] {
  const keysDir = path.join(dir, 'keys');
  const retiredDir = path.join(keysDir, 'retired');
  ensurePrivateDir(retiredDir);
  const moved: string[] = [];
  for (const id of keyids) {
    const name = `${role}-${id.slice(0, 16)}.json`;
    if (fs.existsSync(path.join(keysDir, name))) {
      fs.renameSync(path.join(keysDir, name), path.join(retiredDir, name));
      moved.push(id);
    }
  }
  return moved;
}

/** Re-sign targets and/or snapshot with the same content at the next version, then the timestamp. */
function resignBelow(dir: string, state: RepoState, which: OnlineRole[], now: Date): void {
  const md = paths(dir).metadata;
  const expires = state.policyExpires ? new Date(state.policyExpires) : new Date(now.getTime() + 7 * DAY * 1000);
  type Envelope = { signed: Record<string, unknown> & { meta?: Record<string, { version: number }> } };
  let targetsVersion = state.targetsVersion;
  if (which.includes('targets')) {
    const cur = readJson<Envelope>(path.join(md, `${state.targetsVersion}.targets.json`));
    targetsVersion = state.targetsVersion + 1;
    const signed = { ...cur.signed, version: targetsVersion };
    writeMetadata(
      dir,
      `${targetsVersion}.targets.json`,
      signedEnvelope(MetadataKind.Targets, signed, keysFor(dir, state.roles.targets.keyids)),
    );
    state.targetsVersion = targetsVersion;
    // the server decides with the version agents now hold
    const current = readCurrentPolicy(dir);
    if (current) writeAtomic(paths(dir).current, JSON.stringify({ ...current, version: targetsVersion }));
  }
  if (which.includes('snapshot')) {
    const cur = readJson<Envelope>(path.join(md, `${state.snapshotVersion}.snapshot.json`));
    const meta: Record<string, number> = {};
    for (const [name, m] of Object.entries(cur.signed.meta ?? {})) meta[name] = m.version;
    meta['targets.json'] = targetsVersion;
    const snapVersion = state.snapshotVersion + 1;
    const snap = signedEnvelope(
      MetadataKind.Snapshot,
      snapshotSigned(snapVersion, expires, meta),
      keysFor(dir, state.roles.snapshot.keyids),
    );
    const snapBytes = Buffer.from(JSON.stringify(snap));
    writeAtomic(path.join(md, `${snapVersion}.snapshot.json`), snapBytes);
    state.snapshotVersion = snapVersion;
    state.snapshot = { version: snapVersion, length: snapBytes.length, sha256: sha256(snapBytes) };
  }
  signTimestamp(dir, state, now);
}
