// Native notifications before a role ends (electron/main/notifications): once per notice key — at
// T-10 and again at T-2 min — never twice for the same one, with safe words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentState } from '../../shared/api';
import { noticesToShow } from '../../electron/main/notifications';

type Notice = AgentState['notices'][number];

function notice(activation: string, threshold: number, minutesLeft: number, role = 'gpu-admin'): Notice {
  return { key: `${activation}:${threshold}`, activation, role, expiresAt: '2025-11-24T10:10:00.000Z', threshold, minutesLeft };
}

test('each notice pops up once: at 10 minutes, then again at 2', () => {
  let seen: ReadonlySet<string> = new Set();
  const step = (notices: Notice[]) => {
    const r = noticesToShow({ notices }, seen);
    seen = r.seen;
    return r.show.map((n) => n.title);
  };
  assert.deepEqual(step([]), []);
  assert.deepEqual(step([notice('a1', 10, 10)]), ['gpu-admin ends in 10 minutes']);
  assert.deepEqual(step([notice('a1', 10, 9)]), [], 'the same notice a poll later: nothing new');
  assert.deepEqual(step([notice('a1', 10, 8)]), []);
  assert.deepEqual(step([notice('a1', 2, 2)]), ['gpu-admin ends in 2 minutes'], 'the 2-minute threshold is a new notice');
  assert.deepEqual(step([notice('a1', 2, 1)]), []);
  // extended: a new activation, its own notices
  assert.deepEqual(step([notice('a2', 10, 7)]), ['gpu-admin ends in 7 minutes']);
  assert.deepEqual([...seen], ['a2:10'], 'only current keys are remembered');
});

test('several roles ending at once each get one; without a state nothing changes', () => {
  const seen = new Set(['a1:10']);
  const r = noticesToShow({ notices: [notice('a1', 10, 5), notice('b1', 2, 1, 'db-admin')] }, seen);
  assert.deepEqual(r.show.map((n) => [n.key, n.title]), [['b1:2', 'db-admin ends in 1 minute']]);
  assert.match(r.show[0]!.body, /extend/i);
  const none = noticesToShow(null, seen);
  assert.deepEqual(none.show, []);
  assert.equal(none.seen, seen, 'an agent that could not answer forgets nothing');
});

test('a notice title shows what it says: no control or bidi characters, capped', () => {
  const [n] = noticesToShow({ notices: [notice('a1', 2, 2, 'x\u202Eevil\n\u0007name')] }, new Set()).show;
  assert.equal(n!.title, 'x evil name ends in 2 minutes');
  const [long] = noticesToShow({ notices: [notice('a1', 2, 2, 'r'.repeat(200))] }, new Set()).show;
  assert.equal(Array.from(long!.title).length, 80);
  assert.match(long!.title, /…$/);
});
