// Building and signing TUF metadata with @tufjs/models (the same models the client verifies with),
// so we never hand-roll the signed format.
import { Metadata, MetadataKind } from '@tufjs/models';
import type { RepoKey } from './keys';
import { signerFor } from './keys';

export const SPEC_VERSION = '1.0.31';

/** TUF wants "YYYY-MM-DDTHH:MM:SSZ" */
export function tufTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

type Json = Record<string, unknown>;

export function signedEnvelope(kind: MetadataKind, signed: Json, signers: RepoKey[]): Json {
  // fromJSON validates the structure exactly as the client will
  const md = Metadata.fromJSON(kind as MetadataKind.Root, { signed, signatures: [] } as never) as Metadata<never>;
  for (const k of signers) md.sign(signerFor(k), true);
  return md.toJSON();
}

export function rootSigned(opts: {
  version: number;
  expires: Date;
  keys: RepoKey[];
  roles: Record<'root' | 'targets' | 'snapshot' | 'timestamp', { keyids: string[]; threshold: number }>;
}): Json {
  const keys: Json = {};
  for (const k of opts.keys) keys[k.keyid] = k.tuf;
  return {
    _type: 'root',
    spec_version: SPEC_VERSION,
    version: opts.version,
    expires: tufTime(opts.expires),
    consistent_snapshot: true,
    keys,
    roles: opts.roles,
  };
}

export interface TargetEntry {
  length: number;
  hashes: { sha256: string };
}

export function targetsSigned(opts: {
  version: number;
  expires: Date;
  targets: Record<string, TargetEntry>;
  delegations?: { keys: RepoKey[]; roles: { name: string; prefixes: string[] }[] };
}): Json {
  const signed: Json = {
    _type: 'targets',
    spec_version: SPEC_VERSION,
    version: opts.version,
    expires: tufTime(opts.expires),
    targets: opts.targets,
  };
  if (opts.delegations) {
    const keys: Json = {};
    for (const k of opts.delegations.keys) keys[k.keyid] = k.tuf;
    signed.delegations = {
      keys,
      roles: opts.delegations.roles.map((r) => ({
        name: r.name,
        keyids: opts.delegations!.keys.map((k) => k.keyid),
        threshold: 1,
        terminating: true,
        path_hash_prefixes: r.prefixes,
      })),
    };
  }
  return signed;
}

export function snapshotSigned(version: number, expires: Date, meta: Record<string, number>): Json {
  const m: Json = {};
  for (const [name, v] of Object.entries(meta)) m[name] = { version: v };
  return { _type: 'snapshot', spec_version: SPEC_VERSION, version, expires: tufTime(expires), meta: m };
}

export function timestampSigned(
  version: number,
  expires: Date,
  snapshot: { version: number; length: number; sha256: string },
): Json {
  return {
    _type: 'timestamp',
    spec_version: SPEC_VERSION,
    version,
    expires: tufTime(expires),
    meta: {
      'snapshot.json': { version: snapshot.version, length: snapshot.length, hashes: { sha256: snapshot.sha256 } },
    },
  };
}
