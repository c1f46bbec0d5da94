// What getState says about activations (from agent.db, offline) and when the tracker looks again.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { ActivationView } from '../../shared/activation';
import { ActivationTracker } from '../../agent/activation/tracker';
import { newAgent } from '../helpers/agent';
import { activationView } from '../helpers/activation-view';

const NOW = new Date('2025-06-02T10:00:00.000Z');

function view(id: string, state: ActivationView['state'], over: Partial<ActivationView> = {}): ActivationView {
  return activationView({ id, state, request: { role: 'readonly' }, ...over });
}

function setup(now = NOW) {
  let clock = now;
  const agent = newAgent(undefined, () => clock);
  agent.store.setConnection({
    server: 'https://pim.acme.example',
    user: 'alice@acme.example',
    unenrolled: false,
    demo: false,
  });
  const tracker = new ActivationTracker(agent, undefined, { pollMs: 3000 });
  return { agent, tracker, setClock: (d: Date) => (clock = d) };
}

test('getState lists live activations and those that ended within the hour, newest first, for this user only', () => {
  const { agent } = setup();
  agent.store.saveActivation(
    view('a', 'active', { createdAt: '2025-06-02T09:30:00.000Z', expiresAt: '2025-06-02T10:30:00.000Z' }),
    NOW,
  );
  agent.store.saveActivation(
    view('b', 'denied', { createdAt: '2025-06-02T09:40:00.000Z', endReason: 'denied by bob: no' }),
    NOW,
  );
  agent.store.saveActivation(
    view('c', 'expired', { createdAt: '2025-06-02T07:00:00.000Z' }),
    new Date(NOW.getTime() - 2 * 3600_000),
  );
  agent.store.saveActivation(
    view('d', 'active', { user: 'mallory@acme.example', createdAt: '2025-06-02T09:50:00.000Z' }),
    NOW,
  );
  const s = agent.state();
  assert.equal(s.enrolled, true);
  assert.deepEqual(
    s.activations.map((a) => [a.id, a.state]),
    [
      ['b', 'denied'],
      ['a', 'active'],
    ],
  );
  assert.equal(s.activations[0]!.endReason, 'denied by bob: no');
});

test('an active activation past its end reads expired even before the control plane says so', () => {
  const { agent, setClock } = setup();
  agent.store.saveActivation(view('a', 'active', { expiresAt: '2025-06-02T10:30:00.000Z' }), NOW);
  setClock(new Date('2025-06-02T10:30:01.000Z'));
  const [a] = agent.state().activations;
  assert.equal(a!.state, 'expired');
  assert.equal(a!.endReason, 'the activation window ended');
});

test('an ended activation keeps the time it was first seen ending; a live one has none', () => {
  const { agent } = setup();
  agent.store.saveActivation(view('a', 'denied'), new Date(NOW.getTime() - 30 * 60_000));
  agent.store.saveActivation(view('a', 'denied'), NOW); // seen again later: still "ended 30 min ago"
  assert.equal(agent.state().activations.length, 1);
  agent.store.pruneActivations(new Date(NOW.getTime() - 31 * 60_000));
  assert.equal(agent.state().activations.length, 1);
  agent.store.pruneActivations(new Date(NOW.getTime() - 29 * 60_000));
  assert.equal(agent.state().activations.length, 0, 'pruned by when it ended');
});

test('the tracker polls every few seconds while something waits, often enough for revocations while a role is active, and looks at agent.db when idle', () => {
  const { agent, tracker } = setup();
  assert.equal(tracker.nextDelay(NOW), 5000, 'idle: agent.db is looked at every 5 s (the control plane once a minute)');
  agent.store.saveActivation(view('a', 'active', { expiresAt: '2025-06-02T10:10:00.000Z' }), NOW);
  agent.store.saveActivation(view('b', 'active', { expiresAt: '2025-06-02T10:00:10.000Z' }), NOW);
  assert.equal(tracker.nextDelay(NOW), 10_000 + 1500, 'just after the first one ends, when that is soon');
  agent.store.saveActivation(view('b', 'deactivated'), NOW);
  assert.equal(
    tracker.nextDelay(NOW),
    tracker.revocationPollMs,
    'while a role is active: often enough that a revocation is seen within 30 s',
  );
  assert.ok(tracker.revocationPollMs <= 30_000);
  agent.store.saveActivation(view('c', 'pending-approval'), NOW);
  assert.equal(tracker.nextDelay(NOW), 3000);
  agent.store.saveActivation(view('c', 'denied'), NOW);
  agent.store.saveActivation(view('a', 'deactivated'), NOW);
  assert.equal(tracker.nextDelay(NOW), 5000);
  agent.store.setConnection({
    server: 'https://pim.acme.example',
    user: 'alice@acme.example',
    unenrolled: true,
    demo: true,
  });
  assert.equal(tracker.nextDelay(NOW), null, 'an unenrolled agent cannot ask the control plane');
});
