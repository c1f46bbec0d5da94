// tuf-js counts signature thresholds by key id; the TUF spec counts distinct keys. So metadata in
// which one role lists the same public key under two key ids is refused before tuf-js sees it.
import { RefreshError } from './errors';

interface KeyJson {
  keytype?: string;
  keyval?: { public?: string };
}
interface RoleJson {
  name?: string;
  keyids?: string[];
}

export function checkDistinctKeys(source: string, bytes: Buffer): void {
  let doc: {
    signed?: {
      keys?: Record<string, KeyJson>;
      roles?: Record<string, RoleJson>;
      delegations?: { keys?: Record<string, KeyJson>; roles?: RoleJson[] };
    };
  };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc; // every field is checked before use
  } catch {
    throw new RefreshError('garbage', `${source} is not JSON: the control plane answered garbage`, 'rejected');
  }
  const signed = doc?.signed;
  if (!signed || typeof signed !== 'object') return; // tuf-js rejects the shape itself
  const check = (keys: Record<string, KeyJson> | undefined, roles: RoleJson[]) => {
    if (!keys) return;
    for (const role of roles) {
      const seen = new Set<string>();
      for (const id of role?.keyids ?? []) {
        const k = keys[id];
        if (!k) continue;
        const pub = `${k.keytype}:${String(k.keyval?.public ?? '').toLowerCase()}`;
        if (seen.has(pub)) {
          throw new RefreshError(
            'duplicate-keys',
            `${source}: role "${role.name ?? '?'}" lists one public key under several key ids (a threshold could be met by one key)`,
            'rejected',
          );
        }
        seen.add(pub);
      }
    }
  };
  if (signed.roles && typeof signed.roles === 'object')
    check(
      signed.keys,
      Object.entries(signed.roles).map(([name, r]) => ({ ...r, name })),
    );
  if (Array.isArray(signed.delegations?.roles)) check(signed.delegations.keys, signed.delegations.roles);
}
