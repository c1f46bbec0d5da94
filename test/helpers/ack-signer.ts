// For stand-in control planes: a TUF timestamp key the agent at `home` trusts (a minimal verified
// root in its tuf/metadata), and acknowledgements signed with it as the real control plane signs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GENESIS_HASH, type ChainedRecord } from '../../shared/audit';
import { ackPayload, type SignedAuditAck } from '../../shared/audit-ack';
import { generateKey } from '../../server/repo/keys';

export function trustedAckSigner(home: string) {
  const key = generateKey();
  const dir = path.join(home, 'tuf', 'metadata');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const root = {
    signed: {
      _type: 'root',
      version: 1,
      keys: { [key.keyid]: key.tuf },
      roles: { timestamp: { keyids: [key.keyid], threshold: 1 } },
    },
    signatures: [],
  };
  fs.writeFileSync(path.join(dir, 'root.json'), JSON.stringify(root), { mode: 0o600 });
  return (device: string, seq: number, hash: string): SignedAuditAck => {
    const ack = { device, seq, hash, at: new Date().toISOString() };
    return {
      ack,
      signatures: [
        { keyid: key.keyid, sig: crypto.sign(null, Buffer.from(ackPayload(ack)), key.privateKey).toString('hex') },
      ],
    };
  };
}

/** What a stand-in remembers of the records it was sent, to sign acknowledgements of them. */
export class HeldHashes {
  device = '';
  private readonly hashes = new Map<number, string>([[0, GENESIS_HASH]]);
  see(records: ChainedRecord[]): void {
    for (const r of records) {
      this.device = r.record.device;
      this.hashes.set(r.record.seq, r.hash);
    }
  }
  hash(seq: number): string {
    return this.hashes.get(seq) ?? GENESIS_HASH;
  }
}
