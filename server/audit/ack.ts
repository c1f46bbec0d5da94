// Signs audit sync acknowledgements with the repository's TUF timestamp key(s): see
// shared/audit-ack.ts for why that key and what is signed.
import crypto from 'node:crypto';
import { ackPayload, type AuditAck, type SignedAuditAck } from '../../shared/audit-ack';
import { loadKeys, type RepoKey } from '../repo/keys';
import { readState } from '../repo/repository';

// key files are read once per key id (a rotation brings new ids; repo.json is re-read each time)
const cache = new Map<string, Map<string, RepoKey>>();

function timestampKeys(dir: string): RepoKey[] {
  const ids = readState(dir).roles.timestamp.keyids;
  let keys = cache.get(dir);
  if (!keys || ids.some((id) => !keys!.has(id))) {
    keys = loadKeys(dir);
    cache.set(dir, keys);
  }
  return ids.map((id) => {
    const k = keys.get(id);
    if (!k) throw new Error(`the timestamp key ${id.slice(0, 16)}… is missing from the repository's keys`);
    return k;
  });
}

export function signAck(dir: string, ack: AuditAck): SignedAuditAck {
  const bytes = Buffer.from(ackPayload(ack), 'utf8');
  return {
    ack,
    signatures: timestampKeys(dir).map((k) => ({
      keyid: k.keyid,
      sig: crypto.sign(null, bytes, k.privateKey).toString('hex'),
    })),
  };
}
