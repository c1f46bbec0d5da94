// The demo stays the demo through enrolment (review S2): Agent.connect keeps `demo` only when the
// control plane and trust root are the demo's own; any other control plane is real.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { newAgent } from '../helpers/agent';
import { makeRepo } from '../helpers/repo';

const USER = 'alice@acme.example';

test('enrolling with the demo link keeps demo; another server or another root is not the demo', () => {
  const demo = makeRepo({ publish: false });
  const other = makeRepo({ publish: false });
  const a = newAgent();
  a.connect({ server: 'http://localhost:4100', user: USER, root: demo.trustRoot, unenrolled: true, demo: true });
  assert.equal(a.store.connection()?.demo, true);
  // what enrolment does: the same server and root, now enrolled, demo not said
  a.connect({ server: 'http://localhost:4100/', user: USER, root: demo.trustRoot, unenrolled: false });
  assert.deepEqual([a.store.connection()?.demo, a.store.connection()?.unenrolled], [true, false]);
  // same root at another address, or another root at the same address: a real control plane
  a.connect({ server: 'https://pim.acme.example', user: USER, root: demo.trustRoot, unenrolled: false });
  assert.equal(a.store.connection()?.demo, false);
  a.connect({ server: 'http://localhost:4100', user: USER, root: demo.trustRoot, unenrolled: true, demo: true });
  a.connect({ server: 'http://localhost:4100', user: USER, root: other.trustRoot, unenrolled: false });
  assert.equal(a.store.connection()?.demo, false);
  // and once real, it stays real
  a.connect({ server: 'http://localhost:4100', user: USER, root: other.trustRoot, unenrolled: false });
  assert.equal(a.store.connection()?.demo, false);
});
