import assert from 'node:assert/strict';
import { test } from 'vitest';
import { activationsText, neverSigned } from '../../agent/cli/format';

const base = { expiresAt: null, endReason: null, approvals: [] as { approver: string; decision: string }[] };

test('pim activations: a header row, who approved, and lapsed unsigned requests hidden but counted', () => {
  const list = [
    {
      ...base,
      id: 'a1',
      role: 'admin',
      state: 'active',
      expiresAt: '2026-12-01T10:00:00.000Z',
      approvals: [{ approver: 'bob@acme.example', decision: 'approve' }],
    },
    { ...base, id: 'a2', role: 'readonly', state: 'request-expired', endReason: 'not signed within 5 minutes' },
    { ...base, id: 'a3', role: 'admin', state: 'request-expired', endReason: 'not approved within 24 hours' },
  ];
  const text = activationsText(list);
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+ROLE\s+STATE\s+UNTIL\s+APPROVED BY$/);
  assert.match(lines[1]!, /^a1\s+admin\s+active\s+2026-12-01 10:00 UTC\s+bob@acme\.example$/);
  assert.match(
    lines[2]!,
    /^a3\s+admin\s+request-expired\s+-\s+-$/,
    'an unapproved request that lapsed stays: it was signed',
  );
  assert.equal(lines[3], '(1 unsigned request(s) that lapsed are hidden; --all shows them)');
  assert.doesNotMatch(text, /a2/);
  assert.match(activationsText(list, { all: true }), /a2\s+readonly\s+request-expired/);
  // columns line up under the header
  assert.equal(lines[1]!.indexOf('active'), lines[0]!.indexOf('STATE'));
});

test('pim activations with nothing to show says what to do', () => {
  assert.match(activationsText([]), /No activations yet: `pim roles` lists what you may activate/);
  assert.match(
    activationsText([
      { ...base, id: 'x', role: 'r', state: 'request-expired', endReason: 'not signed within 5 minutes' },
    ]),
    /1 unsigned request\(s\) that lapsed are hidden/,
  );
  assert.equal(neverSigned({ state: 'denied', endReason: 'not signed' }), false);
});
