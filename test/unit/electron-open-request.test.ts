// The popover's fragment (from a tray item, a notification click or a pim-agent:// link) opens a
// view or prefills the activate dialog — nothing else.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { deepLinkFragment, parseDeepLink } from '../../electron/main/deep-links';
import { noticeFragment } from '../../shared/desktop-notices';
import { parseOpenRequest } from '../../renderer/open-request';

test('what main.ts sends is what the popover opens', () => {
  const link = parseDeepLink('pim-agent://activate?role=gpu-admin&duration=2h');
  assert.ok(link.ok);
  assert.deepEqual(parseOpenRequest(deepLinkFragment(link.link)), {
    tab: 'roles',
    activate: { role: 'gpu-admin', duration: 7200 },
  });
  assert.deepEqual(parseOpenRequest(deepLinkFragment({ kind: 'approve', id: 'a1' })), {
    tab: 'approvals',
    activate: null,
  });
  assert.deepEqual(parseOpenRequest(noticeFragment({ view: 'approvals' })), { tab: 'approvals', activate: null });
  assert.deepEqual(parseOpenRequest(noticeFragment({ view: 'extend', role: 'gpu-admin' })), {
    tab: 'roles',
    activate: null,
  });
  assert.deepEqual(parseOpenRequest(noticeFragment({ view: 'audit' })), { tab: 'audit', activate: null });
});

test('anything else opens nothing', () => {
  assert.equal(parseOpenRequest(''), null);
  assert.equal(parseOpenRequest('#token=abc'), null, "the web shell's session token is not a request");
  assert.equal(parseOpenRequest('#activate=Bad_Role'), null);
  assert.equal(parseOpenRequest('#view=settings'), null);
  assert.equal(parseOpenRequest('#view=__proto__'), null);
  assert.deepEqual(parseOpenRequest('#activate=x&duration=abc'), {
    tab: 'roles',
    activate: { role: 'x', duration: null },
  });
});
