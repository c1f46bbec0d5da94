import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { Reply } from '../../shared/api';
import { createIpcRouter, isTrustedSender } from '../../electron/main/ipc-router';
import { APP_URL } from '../../electron/main/urls';

function setup() {
  const calls: { method: string; input: unknown }[] = [];
  const reply: Reply<unknown> = { ok: true, value: { answer: 42 } };
  const router = createIpcRouter({
    dispatch: async (method, input) => {
      calls.push({ method, input });
      return reply;
    },
    isTrustedSender: (url) => isTrustedSender(url, APP_URL),
  });
  return { router, calls, reply };
}

const fromApp = { senderFrame: { url: APP_URL } };

test('a call from the app renderer on a contract channel reaches dispatch with its input unchanged, and its reply comes back', async () => {
  const { router, calls, reply } = setup();
  const input = { role: 'ai-cluster-admin', duration: 3600, nested: { list: [1, 2] } };
  const result = await router.handle('pim:checkRole', fromApp, input);
  assert.equal(result, reply, 'the dispatch reply is returned as is');
  assert.equal(calls.length, 1);
  assert.equal(calls[0]!.method, 'checkRole');
  assert.equal(calls[0]!.input, input, 'the very same input object is passed on');
  assert.deepEqual(
    input,
    { role: 'ai-cluster-admin', duration: 3600, nested: { list: [1, 2] } },
    'and it is not modified',
  );
});

test('the renderer URL may carry a fragment or query and still be trusted', async () => {
  const { router, calls } = setup();
  const r = await router.handle('pim:getState', { senderFrame: { url: `${APP_URL}#/roles?x=1` } }, {});
  assert.equal(r.ok, true);
  assert.equal(calls.length, 1);
});

test('an unknown channel is refused without reaching dispatch', async () => {
  const { router, calls } = setup();
  for (const channel of [
    'pim:deleteEverything',
    'pim:',
    'pim:constructor',
    'pim:__proto__',
    'getState',
    'other:getState',
  ]) {
    const r = await router.handle(channel, fromApp, {});
    assert.equal(r.ok, false, channel);
    assert.equal(!r.ok && r.error.code, 'unknown-method', channel);
  }
  assert.equal(calls.length, 0);
});

test('a sender frame from another origin or page is refused as forbidden-sender', async () => {
  const { router, calls } = setup();
  for (const url of [
    'https://evil.example/index.html',
    'app://pim/other.html',
    'app://pim.evil/index.html',
    'file:///tmp/index.html',
    'about:blank',
    '',
  ]) {
    const r = await router.handle('pim:getState', { senderFrame: { url } }, {});
    assert.deepEqual(r.ok ? null : r.error.code, 'forbidden-sender', url);
  }
  assert.equal(calls.length, 0);
});

test('a call whose sender frame is gone (null) is refused as forbidden-sender', async () => {
  const { router, calls } = setup();
  const r = await router.handle('pim:getState', { senderFrame: null }, {});
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, 'forbidden-sender');
  assert.equal(calls.length, 0);
});

test('a foreign sender learns nothing about channels: it gets forbidden-sender even for unknown ones', async () => {
  const { router } = setup();
  const r = await router.handle('pim:nope', { senderFrame: { url: 'https://evil.example/' } }, {});
  assert.equal(!r.ok && r.error.code, 'forbidden-sender');
});

test('a dispatch that throws becomes an error reply instead of a rejected IPC call', async () => {
  const router = createIpcRouter({
    dispatch: async () => {
      throw new Error('database is locked');
    },
    isTrustedSender: () => true,
  });
  const r = await router.handle('pim:getState', fromApp, {});
  assert.deepEqual(r, { ok: false, error: { code: 'internal-error', message: 'database is locked' } });
});

test('isTrustedSender compares the exact renderer document, ignoring only query and fragment', () => {
  assert.equal(isTrustedSender('app://pim/index.html', 'app://pim/index.html'), true);
  assert.equal(isTrustedSender('app://pim/index.html?a#b', 'app://pim/index.html'), true);
  assert.equal(isTrustedSender('app://pim/index.htm', 'app://pim/index.html'), false);
  assert.equal(isTrustedSender('app://pim:80/index.html', 'app://pim/index.html'), false);
  assert.equal(
    isTrustedSender('file:///opt/pim/dist/renderer/index.html', 'file:///opt/pim/dist/renderer/index.html'),
    true,
  );
  assert.equal(isTrustedSender('file:///opt/pim/dist/renderer/index.html', 'app://pim/index.html'), false);
});
