// pim-agent:// links are parsed strictly and only ever prefill a dialog.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { deepLinkFragment, deepLinkInArgv, parseDeepLink } from '../../electron/main/deep-links';

test('activate and approve links are understood', () => {
  assert.deepEqual(parseDeepLink('pim-agent://activate?role=gpu-admin&duration=90m'), {
    ok: true,
    link: { kind: 'activate', role: 'gpu-admin', duration: 5400 },
  });
  assert.deepEqual(parseDeepLink('pim-agent://activate?role=readonly'), {
    ok: true,
    link: { kind: 'activate', role: 'readonly', duration: null },
  });
  assert.deepEqual(parseDeepLink('pim-agent://activate/?role=readonly&duration=1h30m'), {
    ok: true,
    link: { kind: 'activate', role: 'readonly', duration: 5400 },
  });
  assert.deepEqual(parseDeepLink('pim-agent://activate?role=readonly&duration=3600'), {
    ok: true,
    link: { kind: 'activate', role: 'readonly', duration: 3600 },
  });
  assert.deepEqual(parseDeepLink('pim-agent://approve?id=act_0123-AB'), {
    ok: true,
    link: { kind: 'approve', id: 'act_0123-AB' },
  });
});

test('anything unknown or malformed is refused with a reason', () => {
  const refused = (url: string, why: RegExp) => {
    const r = parseDeepLink(url);
    assert.equal(r.ok, false, url);
    assert.match(!r.ok ? r.reason : '', why, url);
  };
  refused('https://evil.example/activate?role=x', /not a PIM Agent link/);
  refused('pim-agent://deactivate?role=x', /unknown action "deactivate"/);
  refused('pim-agent://activate?role=x&justification=hi', /unknown parameter "justification"/);
  refused('pim-agent://activate?role=x&approve=1', /unknown parameter/);
  refused('pim-agent://approve?id=a1&decision=approve', /unknown parameter "decision"/);
  refused('pim-agent://activate?role=x&role=y', /appears twice/);
  refused('pim-agent://activate?role=Bad_Name', /needs role/);
  refused('pim-agent://activate?duration=1h', /needs role/);
  refused('pim-agent://activate?role=x&duration=forever', /duration must be/);
  refused('pim-agent://activate?role=x&duration=30', /duration must be/);
  refused('pim-agent://activate?role=x&duration=200h', /duration must be/);
  refused('pim-agent://activate?role=x&duration=', /duration must be/);
  refused('pim-agent://approve?id=../../etc', /approve needs id/);
  refused('pim-agent://approve', /approve needs id/);
  refused('pim-agent://user:pw@activate?role=x', /parts PIM Agent does not use/);
  refused('pim-agent://activate/more?role=x', /parts PIM Agent does not use/);
  refused('pim-agent://activate?role=x#frag', /parts PIM Agent does not use/);
  refused(`pim-agent://activate?role=x&pad=${'a'.repeat(3000)}`, /not a PIM Agent link/);
  refused('not a url', /not a PIM Agent link/);
});

test('a link arrives in argv (second instance) and becomes a prefill fragment, never an action', () => {
  assert.equal(
    deepLinkInArgv(['/opt/PIM Agent/pim-agent', '--flag', 'pim-agent://approve?id=a1']),
    'pim-agent://approve?id=a1',
  );
  assert.equal(deepLinkInArgv(['/opt/pim', 'https://x']), null);
  assert.equal(
    deepLinkFragment({ kind: 'activate', role: 'gpu-admin', duration: 5400 }),
    '#activate=gpu-admin&duration=5400',
  );
  assert.equal(deepLinkFragment({ kind: 'activate', role: 'gpu-admin', duration: null }), '#activate=gpu-admin');
  assert.equal(deepLinkFragment({ kind: 'approve', id: 'a1' }), '#approve=a1');
});
