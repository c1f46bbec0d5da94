// The agent's check of a signed audit acknowledgement (agent/audit/ack.ts): exactly the
// acknowledged (device, seq, hash), signed over the domain-separated payload by at least the
// threshold of distinct trusted timestamp keys.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { canonicalJson } from '../../shared/canonical';
import { ackPayload, type SignedAuditAck } from '../../shared/audit-ack';
import { checkSignedAck } from '../../agent/audit/ack';
import { generateKey, type RepoKey } from '../../server/repo/keys';
import { tmpDir } from '../helpers/repo';

const DEVICE = 'D'.repeat(43);
const HASH = 'a'.repeat(64);

function home(keys: RepoKey[], threshold: number, listed: Record<string, RepoKey['tuf']> = {}): string {
  const h = tmpDir();
  const dir = path.join(h, 'tuf', 'metadata');
  fs.mkdirSync(dir, { recursive: true });
  const all = { ...Object.fromEntries(keys.map((k) => [k.keyid, k.tuf])), ...listed };
  fs.writeFileSync(
    path.join(dir, 'root.json'),
    JSON.stringify({ signed: { keys: all, roles: { timestamp: { keyids: Object.keys(all), threshold } } } }),
  );
  return h;
}

function sign(
  keys: { keyid: string; privateKey: crypto.KeyObject }[],
  ack = { device: DEVICE, seq: 7, hash: HASH, at: '2026-12-01T08:00:00.000Z' },
  payload = ackPayload,
): SignedAuditAck {
  return {
    ack,
    signatures: keys.map((k) => ({
      keyid: k.keyid,
      sig: crypto.sign(null, Buffer.from(payload(ack)), k.privateKey).toString('hex'),
    })),
  };
}

const expected = { device: DEVICE, seq: 7, hash: HASH };

test('a signed ack of exactly what was acknowledged, by the trusted timestamp key, is accepted', () => {
  const k = generateKey();
  const r = checkSignedAck(home([k], 1), sign([k]), expected);
  assert.equal(r.ok, true);
});

test('an ack for another seq, hash or device is refused even when validly signed', () => {
  const k = generateKey();
  const h = home([k], 1);
  for (const e of [
    { ...expected, seq: 8 },
    { ...expected, hash: 'b'.repeat(64) },
    { ...expected, device: 'E'.repeat(43) },
  ]) {
    const r = checkSignedAck(h, sign([k]), e);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.why : '', /does not match/);
  }
});

test('a signature by an untrusted key, or over the bare JSON (no domain separation), is refused', () => {
  const trusted = generateKey();
  const other = generateKey();
  const h = home([trusted], 1);
  const r1 = checkSignedAck(h, sign([{ keyid: trusted.keyid, privateKey: other.privateKey }]), expected);
  assert.equal(r1.ok, false);
  const r2 = checkSignedAck(
    h,
    sign([trusted], undefined, (a) => canonicalJson(a)),
    expected,
  );
  assert.equal(r2.ok, false);
  assert.match(!r2.ok ? r2.why : '', /0 of 1 valid signatures/);
});

test('threshold 2 is not met by one key listed under two key ids', () => {
  const k = generateKey();
  const alias = '0'.repeat(64);
  const h = home([k], 2, { [alias]: k.tuf });
  const s = sign([k, { keyid: alias, privateKey: k.privateKey }]);
  const r = checkSignedAck(h, s, expected);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.why : '', /1 of 2 valid signatures/);
  const k2 = generateKey();
  assert.equal(checkSignedAck(home([k, k2], 2), sign([k, k2]), expected).ok, true);
});
