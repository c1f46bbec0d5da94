// The audit chain: each record's hash covers the previous hash and its own canonical bytes, so any
// edit, deletion, reordering or insertion shows.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { chainHash, GENESIS_HASH, verifyChain, type AuditRecord, type ChainedRecord } from '../../shared/audit';

const DEVICE = 'd'.repeat(43);

function chain(n: number): ChainedRecord[] {
  const out: ChainedRecord[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const record: AuditRecord = {
      v: 1,
      device: DEVICE,
      seq,
      at: new Date(Date.UTC(2026, 10, 22, 10, 0, seq)).toISOString(),
      type: 'activation-requested',
      user: 'alice@acme.example',
      data: { role: 'admin', n: seq },
    };
    prev = chainHash(prev, record);
    out.push({ record, hash: prev });
  }
  return out;
}

test('an intact chain verifies, from the start and from any acknowledged point', () => {
  const c = chain(5);
  assert.equal(verifyChain(DEVICE, 0, GENESIS_HASH, c), null);
  assert.equal(verifyChain(DEVICE, 2, c[1]!.hash, c.slice(2)), null);
});

test('editing a record breaks its link', () => {
  const c = chain(5);
  c[2] = { ...c[2]!, record: { ...c[2]!.record, data: { role: 'root' } } };
  assert.deepEqual(verifyChain(DEVICE, 0, GENESIS_HASH, c), { kind: 'broken-link', seq: 3 });
});

test('deleting a record shows as a gap', () => {
  const c = chain(5);
  c.splice(1, 1);
  assert.deepEqual(verifyChain(DEVICE, 0, GENESIS_HASH, c), { kind: 'gap', seq: 3, expected: 2 });
});

test('reordering records is detected', () => {
  const c = chain(5);
  [c[1], c[2]] = [c[2]!, c[1]!];
  assert.equal(verifyChain(DEVICE, 0, GENESIS_HASH, c)?.kind, 'gap');
});

test('inserting a forged record, even with a recomputed hash, breaks the next link', () => {
  const c = chain(4);
  const forged: AuditRecord = { ...c[1]!.record, seq: 3, data: { role: 'forged' } };
  const renumbered = c.slice(2).map((r) => ({ ...r, record: { ...r.record, seq: r.record.seq + 1 } }));
  const tampered = [c[0]!, c[1]!, { record: forged, hash: chainHash(c[1]!.hash, forged) }, ...renumbered];
  assert.deepEqual(verifyChain(DEVICE, 0, GENESIS_HASH, tampered), { kind: 'broken-link', seq: 4 });
});

test("another device's records cannot be passed off as this device's", () => {
  assert.deepEqual(verifyChain('e'.repeat(43), 0, GENESIS_HASH, chain(2)), { kind: 'wrong-device', seq: 1 });
});
