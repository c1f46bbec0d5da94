// One policy refresh, following the TUF client workflow through tuf-js: root chain, timestamp,
// snapshot, targets, the user's hash bin, then the two target files. Only when everything
// verifies is the new copy written to agent.db, in one transaction; on any failure the cached
// copy stays exactly as it was.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TargetFile, Updater } from 'tuf-js';
import { memberTargetPath, ROLES_TARGET } from '../../shared/policy/targets';
import { MemberFileSchema, RolesFileSchema } from '../../shared/policy/compiled-schema';
import { subjectFromMember } from '../../shared/policy/compile';
import { indexRoles, relevantRoles } from '../../shared/policy/engine';
import { buildZoneTable } from '../../shared/policy/windows';
import { errorMessage } from '../../shared/errors';
import type { CompiledRole, MemberFile, RolesFile } from '../../shared/policy/types';
import type { AgentStore, StoredPolicy } from '../store/agent-store';
import { ensurePrivateDir } from '../../platform/fs-safe';
import { RefreshError, type RefreshErrorCode } from './errors';
import { GuardedFetcher } from './fetcher';

export { tufDirs } from './tuf-dirs';
import { tufDirs } from './tuf-dirs';

export interface RefreshResult {
  version: number;
  expires: string;
  changed: boolean;
}

const LIMITS = {
  rootMaxLength: 512 * 1024,
  timestampMaxLength: 16 * 1024,
  snapshotMaxLength: 4 * 1024 * 1024,
  targetsMaxLength: 16 * 1024 * 1024,
  maxRootRotations: 64,
};

export async function refreshPolicy(
  home: string,
  store: AgentStore,
  opts: { timeoutMs?: number; now?: () => Date } = {},
): Promise<RefreshResult> {
  const conn = store.connection();
  if (!conn)
    throw new RefreshError(
      'not-connected',
      'not connected to a control plane: run `pim connect URL --user EMAIL --root trust-root.json`',
      'rejected',
    );
  const now = opts.now ?? (() => new Date());
  const dirs = tufDirs(home);
  ensurePrivateDir(dirs.metadata);
  ensurePrivateDir(dirs.targets);
  const at = now().toISOString();
  const fetcher = new GuardedFetcher(opts.timeoutMs ?? 10_000);
  try {
    const { Updater } = await import('tuf-js'); // loaded only when refreshing: keeps `pim roles` fast
    const updater: Updater = new Updater({
      metadataDir: dirs.metadata,
      metadataBaseUrl: `${conn.server}/tuf/metadata`,
      targetBaseUrl: `${conn.server}/tuf/targets`,
      targetDir: dirs.targets,
      fetcher,
      config: LIMITS,
    });
    await updater.refresh();
    const before = store.policySummary();
    const rolesInfo = await updater.getTargetInfo(ROLES_TARGET);
    if (!rolesInfo) throw new RefreshError('no-policy', `the signed repository has no ${ROLES_TARGET}`, 'rejected');
    const memberBytes = await downloadVerified(updater, dirs.targets, memberTargetPath(conn.user));
    let memberJson: string | null = null;
    if (memberBytes) {
      const member = MemberFileSchema.safeParse(parseJson(memberBytes, 'member file'));
      if (!member.success)
        throw new RefreshError(
          'invalid-policy',
          `signed member file does not match the schema: ${member.error.issues[0]?.message ?? ''}`,
          'rejected',
        );
      if (member.data.email.toLowerCase() !== conn.user.toLowerCase())
        throw new RefreshError('invalid-policy', 'signed member file is for another user', 'rejected');
      memberJson = JSON.stringify(member.data);
    }
    const { version, expires } = signedValidity(dirs.metadata, memberTargetPath(conn.user));
    const previous = store.policyVersion();
    const signers = targetsSigners(dirs.metadata);
    const rotated = previous !== null && signersRotated(dirs.signers, signers);
    if (previous !== null && version < previous && !rotated) {
      // tuf-js already refuses this; a second, independent check guards the database copy
      throw new RefreshError(
        'rollback',
        `control plane offered policy v${version}, older than the cached v${previous}`,
        'rejected',
      );
    }
    const outcome = { at, status: 'online', error: null, code: null } as const;

    // The signed hash says whether the (possibly large) roles file changed since the copy we hold,
    // which was validated when stored: then only versions, expiry and the user's slice move.
    const rolesHash = rolesInfo.hashes.sha256 ?? '';
    if (before && before.rolesSha256 === rolesHash && !rotated) {
      const relevantJson =
        memberJson === before.memberJson
          ? before.relevantJson
          : relevantSlice(JSON.parse(store.rolesJson()!) as RolesFile, memberJson, conn.user);
      const zonesJson = zoneTablesFor(JSON.parse(relevantJson) as CompiledRole[], now(), expires);
      store.updatePolicy({ version, expires, verifiedAt: at, memberJson, relevantJson, zonesJson }, outcome);
      recordSigners(dirs.signers, signers);
      return { version, expires, changed: memberJson !== before.memberJson || version !== before.version };
    }
    const rolesBytes = await downloadTarget(updater, dirs.targets, rolesInfo);
    const roles = RolesFileSchema.safeParse(parseJson(rolesBytes, ROLES_TARGET));
    if (!roles.success)
      throw new RefreshError(
        'invalid-policy',
        `signed roles file does not match the schema: ${roles.error.issues[0]?.message ?? ''}`,
        'rejected',
      );
    const relevantJson = relevantSlice(roles.data, memberJson, conn.user);
    const p: StoredPolicy = {
      version,
      expires,
      verifiedAt: at,
      rolesSha256: rolesHash,
      rolesJson: JSON.stringify(roles.data),
      memberJson,
      relevantJson,
      roleCount: roles.data.roles.length,
      zonesJson: zoneTablesFor(JSON.parse(relevantJson) as CompiledRole[], now(), expires),
    };
    store.savePolicy(p, outcome, { keysRotated: rotated });
    recordSigners(dirs.signers, signers);
    return { version, expires, changed: true };
  } catch (e) {
    const err = classify(e, fetcher.lastError);
    store.setLastRefresh({ at, status: err.kind, error: err.message, code: err.code });
    throw err;
  }
}

// Fast-forward attack recovery (TUF spec §5.3.11): when a new root replaces the targets keys, the
// versions the old keys signed — possibly an attacker's huge one — stop counting, and the honest,
// lower version must be accepted. tuf-js does this for its own files (the old ones no longer verify
// and are re-fetched), but the copy in agent.db has its own rollback check, so the agent records
// under which targets keys its copy was verified and drops that check only when they changed.
function targetsSigners(metadataDir: string): string {
  const root = JSON.parse(fs.readFileSync(path.join(metadataDir, 'root.json'), 'utf8')) as {
    signed: { roles: { targets: { keyids: string[]; threshold: number } } };
  };
  const t = root.signed.roles.targets;
  return JSON.stringify({ keyids: [...t.keyids].sort(), threshold: t.threshold });
}

function signersRotated(file: string, current: string): boolean {
  if (!fs.existsSync(file)) return false; // nothing recorded: keep the check (fail closed)
  return fs.readFileSync(file, 'utf8') !== current;
}

function recordSigners(file: string, current: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, current, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Offset tables for the zones of these roles' windows, from 3 days ago until 10 days past the
 *  policy's expiry (windows look 8 days ahead, and a day either side), capped at 90 days. */
function zoneTablesFor(roles: CompiledRole[], now: Date, policyExpires: string): string {
  const zones = new Set(roles.flatMap((r) => r.activation.windows.map((w) => w.tz)));
  const from = now.getTime() - 3 * 86400_000;
  const to = Math.min(Date.parse(policyExpires), now.getTime() + 90 * 86400_000) + 10 * 86400_000;
  return JSON.stringify([...zones].sort().map((tz) => buildZoneTable(tz, from, to)));
}

/** The roles that name this user, as stored JSON (see Agent's 'relevant' view). */
function relevantSlice(roles: RolesFile, memberJson: string | null, email: string): string {
  const member: MemberFile = memberJson
    ? (JSON.parse(memberJson) as MemberFile)
    : { schema: 'pim-member/v1', email, groups: [], assignments: [] };
  return JSON.stringify(relevantRoles(subjectFromMember(member), indexRoles(roles)));
}

async function downloadVerified(updater: Updater, dir: string, target: string): Promise<Buffer | null> {
  const info = await updater.getTargetInfo(target);
  if (!info) return null;
  return downloadTarget(updater, dir, info);
}

async function downloadTarget(updater: Updater, dir: string, info: TargetFile): Promise<Buffer> {
  const target = info.path;
  const file = path.join(dir, target.replace(/\//g, '_'));
  await updater.downloadTarget(info, file); // checks length and sha256 against the signed targets
  try {
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RefreshError('invalid-policy', `${what} is not JSON`, 'rejected');
  }
}

/** The policy's offline validity is the soonest expiry among the signed pieces it came from.
 *  (The timestamp is excluded: it only proves freshness and is re-signed every few hours.) */
function signedValidity(metadataDir: string, memberPath: string): { version: number; expires: string } {
  const read = (name: string) =>
    JSON.parse(fs.readFileSync(path.join(metadataDir, name), 'utf8')) as {
      signed: {
        version: number;
        expires: string;
        delegations?: { roles?: { name: string; path_hash_prefixes?: string[] }[] };
      };
    };
  const targets = read('targets.json').signed;
  const snapshot = read('snapshot.json').signed;
  const expiries = [Date.parse(targets.expires), Date.parse(snapshot.expires)];
  const memberHash = crypto.createHash('sha256').update(memberPath).digest('hex');
  const bin = targets.delegations?.roles?.find((r) => r.path_hash_prefixes?.some((p) => memberHash.startsWith(p)));
  if (bin && fs.existsSync(path.join(metadataDir, `${encodeURIComponent(bin.name)}.json`))) {
    expiries.push(Date.parse(read(`${encodeURIComponent(bin.name)}.json`).signed.expires));
  }
  return { version: targets.version, expires: new Date(Math.min(...expiries)).toISOString() };
}

/** Turn whatever the TUF client threw into a reason a person (and the audit log) can use.
 *  tuf-js wraps snapshot/targets failures in a RuntimeError whose message embeds the cause as
 *  text, so the cause is recognised by the fetcher's own last error or by its wording. */
export function classify(e: unknown, fetcherError: Error | null = null): RefreshError {
  if (e instanceof RefreshError) return e;
  const msg = errorMessage(e);
  if (fetcherError && fetcherError !== e && msg.includes(fetcherError.message)) return classify(fetcherError);
  const name = (typeof e === 'object' && e !== null ? e.constructor?.name : undefined) ?? 'Error';
  if (name === 'DownloadHTTPError') {
    const statusCode =
      typeof e === 'object' && e !== null && 'statusCode' in e && typeof e.statusCode === 'number'
        ? e.statusCode
        : undefined;
    if (statusCode === 404 && /timestamp\.json/.test(msg))
      return new RefreshError(
        'no-policy',
        'the control plane has not published a policy yet (pim-server publish)',
        'rejected',
      );
    return new RefreshError('http-error', msg, (statusCode ?? 0) >= 500 ? 'offline' : 'rejected');
  }
  const rules: [RegExp | string[], RefreshErrorCode, string][] = [
    [['BadVersionError', 'EqualVersionError'], 'rollback', 'rollback refused'],
    [/is less than current version|is equal to current version/, 'rollback', 'rollback refused'],
    [
      /does not match snapshot version|doesn't match timestamp/,
      'mix-and-match',
      'inconsistent metadata refused (mix-and-match)',
    ],
    [['ExpiredMetadataError'], 'freeze', 'expired metadata refused (freeze attack or a stalled control plane)'],
    [/is expired/, 'freeze', 'expired metadata refused (freeze attack or a stalled control plane)'],
    [['LengthOrHashMismatchError', 'DownloadLengthMismatchError'], 'tampered', 'tampered data refused'],
    [/hash mismatch|length mismatch|Max length reached/i, 'tampered', 'tampered data refused'],
    [['UnsignedMetadataError'], 'bad-signature', 'signature check failed'],
    [
      /was signed by \d+\/\d+ keys|failed to verify|multiple signatures found/,
      'bad-signature',
      'signature check failed',
    ],
  ];
  for (const [match, code, label] of rules) {
    const hit = Array.isArray(match) ? match.includes(name) : match.test(msg);
    if (hit) return new RefreshError(code, `${label}: ${msg}`, 'rejected');
  }
  if (
    ['SyntaxError', 'ValueError', 'TypeError', 'RepositoryError'].includes(name) ||
    /Unexpected token|JSON|Expected '/.test(msg)
  ) {
    return new RefreshError(
      'garbage',
      `the control plane answered something that is not valid policy metadata: ${msg}`,
      'rejected',
    );
  }
  return new RefreshError('error', `policy refresh failed: ${msg}`, 'rejected');
}
