// Audit sync under faults, one deterministic round per kind (stress/audit.ts runs many random
// ones): kill -9 of the agent mid-append and mid-sync, the server killed mid-batch, HTTP 500,
// garbage answers, a client timeout against a black hole, and a connection cut mid-response.
// After each, a clean sync: every record the agent committed is on the server exactly once, both
// chains verify (`pim audit verify`, `pim-server audit verify`) and the agent's cursor is the
// server's head. Real processes throughout; waits are on printed output, proxy events and exits.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from 'vitest';
import { AuditFixture, injectFault, prng, settle, type FaultKind } from '../helpers/audit-fixture';

let fx: AuditFixture;
beforeAll(async () => {
  fx = await AuditFixture.create();
});
afterAll(async () => {
  await fx?.close();
});

/** seeds chosen so each round takes the variant named (the PRNG is mulberry32) */
const ROUNDS: [FaultKind, number, string][] = [
  ['kill-append', 1, 'kill -9 of the agent during appends'],
  ['kill-sync', 3, 'kill -9 of `pim audit sync` during a sync'],
  ['kill-server', 2, 'the server killed -9 mid-batch, then restarted on the same port'],
  ['http-500', 4, 'the server answering 500'],
  ['garbage', 5, 'the server answering garbage'],
  ['timeout', 6, 'the server never answering: the client times out'],
  ['cut', 7, 'the proxy cutting the connection mid-response'],
];

for (const [kind, seed, title] of ROUNDS) {
  test(`${title}: nothing lost, nothing duplicated, chains verify, cursor = server head`, async (t) => {
    const before = fx.agentHead();
    const what = await injectFault(fx, kind, prng(seed), { small: true });
    await t.annotate(what);
    const c = await settle(fx);
    assert.deepEqual(c.problems, [], `${what}\n${c.sync}`);
    assert.equal(c.lost, 0);
    assert.equal(c.duplicates, 0);
    assert.equal(c.mismatched, 0);
    assert.equal(c.vanished, 0);
    assert.ok(c.agentVerify && c.serverVerify, 'both chains verify');
    assert.equal(c.agentAcked, c.serverHead);
    assert.equal(c.serverHead, c.agentHead);
    assert.ok(c.agentHead > before, 'the round added records');
    assert.equal(c.onServer, c.committed);
  });
}
