import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { ActivationView, AgentState, RoleView } from '../../shared/api';
import {
  activateTarget,
  buildTrayMenu,
  deactivateTarget,
  menuAction,
  safeLabel,
  timeLeft,
  trayIconState,
  MAX_ROLES_LISTED,
  type MenuItemTemplate,
} from '../../electron/main/tray-menu';
import { activationView } from '../helpers/activation-view';

const requirements: RoleView['decision']['requirements'] = {
  maxDuration: 7200,
  defaultDuration: 3600,
  justification: 'required',
  ticket: { required: false, pattern: null },
  approval: null,
  userVerification: 'preferred',
  windows: [],
  nextWindowOpens: null,
  maxActive: null,
  eligibleUntil: null,
};

function role(
  name: string,
  allowed: boolean,
  reasons: RoleView['decision']['reasons'] = [],
  maxDuration = 7200,
): RoleView {
  return {
    name,
    description: `${name} description`,
    decision: { role: name, allowed, reasons, requirements: { ...requirements, maxDuration } },
  };
}

function state(over: Partial<AgentState> = {}): AgentState {
  return {
    now: '2025-11-24T10:00:00.000Z',
    server: 'https://pim.acme.example',
    user: { email: 'alice@acme.example', groups: ['ml-platform'] },
    connection: 'online',
    lastAttemptAt: '2025-11-24T09:59:00.000Z',
    lastError: null,
    policy: { version: 7, expires: '2025-12-01T00:00:00.000Z', verifiedAt: '2025-11-24T09:57:00.000Z' },
    roles: [],
    otherRoles: 0,
    enrolled: true,
    enrolment: null,
    activations: [],
    notices: [],
    credentials: [],
    ...over,
  };
}

function byId(items: MenuItemTemplate[], id: string): MenuItemTemplate | undefined {
  for (const it of items) {
    if (it.id === id) return it;
    const inner = it.submenu && byId(it.submenu, id);
    if (inner) return inner;
  }
  return undefined;
}

const outside = {
  code: 'outside-window',
  blocking: true,
  message: 'outside the activation window; next opens Mon 08:00 Europe/Berlin',
};
const approval = { code: 'approval-required', blocking: false, message: 'needs approval from 1 of ml-leads' };

test('eligible roles are listed by name with their maximum duration, and clicking one opens the popover', () => {
  const menu = buildTrayMenu(
    state({ roles: [role('ai-cluster-admin', true, [], 7200), role('db-reader', true, [approval], 5400)] }),
  );
  const admin = byId(menu, 'role:ai-cluster-admin');
  const reader = byId(menu, 'role:db-reader');
  assert.equal(admin?.label, 'Activate ai-cluster-admin… (max 2h)');
  assert.equal(admin?.enabled, true);
  assert.equal(reader?.label, 'Activate db-reader… (max 1h30m)', 'a non-blocking notice keeps the role eligible');
  assert.equal(menuAction(admin?.id), 'activate', 'Activate… opens the dialog prefilled for the role');
  const header = menu.findIndex((i) => i.label === 'Eligible roles');
  assert.ok(header >= 0 && menu.indexOf(admin) > header, 'roles follow the "Eligible roles" header');
});

test('blocked roles sit in a "Not available (N)" submenu, each with its first blocking reason', () => {
  const menu = buildTrayMenu(
    state({
      roles: [
        role('ok-role', true),
        role('night-ops', false, [
          approval,
          outside,
          { code: 'policy-expired', blocking: true, message: 'the policy copy expired' },
        ]),
        role('old-role', false, [
          { code: 'eligibility-expired', blocking: true, message: 'eligibility ended 2025-06-30' },
        ]),
      ],
    }),
  );
  const sub = menu.find((i) => i.type === 'submenu');
  assert.ok(sub, 'there is a submenu');
  assert.equal(sub.label, 'Not available (2)');
  assert.deepEqual(
    sub.submenu?.map((i) => i.label),
    [
      'night-ops — outside the activation window; next opens Mon 08:00 Europe/Berlin',
      'old-role — eligibility ended 2025-06-30',
    ],
  );
  assert.equal(byId(menu, 'role:night-ops'), undefined, 'a blocked role is not offered as eligible');
});

test('no submenu appears when nothing is blocked', () => {
  const menu = buildTrayMenu(state({ roles: [role('ok-role', true)] }));
  assert.equal(
    menu.some((i) => i.type === 'submenu'),
    false,
  );
});

test('the status line shows who is signed in and that the agent is offline', () => {
  const menu = buildTrayMenu(state({ connection: 'offline' }));
  const status = menu[0]!;
  assert.equal(status.label, 'alice@acme.example — offline');
  assert.equal(status.enabled, false, 'the status line is information, not an action');
});

test('a rejected policy update and an unconfigured agent say so in the status line', () => {
  assert.equal(
    buildTrayMenu(state({ connection: 'rejected', lastError: 'bad signature' }))[0]!.label,
    'alice@acme.example — policy update rejected',
  );
  const unconfigured = buildTrayMenu(state({ connection: 'unconfigured', user: null, server: null }));
  assert.equal(unconfigured[0]!.label, 'Not signed in — not connected');
  assert.ok(
    unconfigured.some((i) => i.label === 'Open PIM Agent to enrol this device'),
    'it tells how to get started',
  );
  const enrolling = buildTrayMenu(
    state({
      connection: 'unconfigured',
      user: null,
      server: null,
      enrolment: {
        state: 'waiting',
        server: 'https://pim.acme.example',
        user: 'alice@acme.example',
        ceremonyUrl: 'https://pim.acme.example/ceremony/enrol/abc',
        deviceFingerprint: 'AbCdEfGhIjKlMnOp',
        error: null,
      },
    }),
  );
  assert.ok(enrolling.some((i) => i.label === 'Enrolling: register your security key'));
  assert.equal(byId(unconfigured, 'refresh')?.enabled, false, 'there is nothing to refresh from');
});

test('the menu ends with Refresh policy, Open PIM Agent and Quit, which map to their actions', () => {
  const menu = buildTrayMenu(state());
  const actions = menu.filter((i) => i.type === 'normal' && i.id && ['refresh', 'open', 'quit'].includes(i.id));
  assert.deepEqual(
    actions.map((i) => [i.id, i.label]),
    [
      ['refresh', 'Refresh policy'],
      ['open', 'Open PIM Agent'],
      ['quit', 'Quit'],
    ],
  );
  assert.equal(menu[menu.length - 1]!.id, 'quit');
  assert.equal(menuAction('refresh'), 'refresh');
  assert.equal(menuAction('quit'), 'quit');
  assert.equal(menuAction('status'), null);
});

test('control characters and bidi overrides are stripped from role names and reasons', () => {
  const evil = 'prod\u0007-admin\n\u202Egnp.exe\u0000';
  const menu = buildTrayMenu(
    state({
      roles: [role(evil, true), role('x\r\ny', false, [{ ...outside, message: 'line one\nline two\u001b[31m' }])],
    }),
  );
  const eligible = byId(menu, `role:${evil}`);
  assert.equal(eligible?.label, 'Activate prod -admin gnp.exe… (max 2h)');
  const blocked = menu.find((i) => i.type === 'submenu')!.submenu![0]!;
  assert.equal(blocked.label, 'x y — line one line two [31m');
  for (const label of [eligible.label, blocked.label])
    assert.doesNotMatch(label, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
});

test('long names are truncated with an ellipsis and ampersands are escaped for Electron', () => {
  const long = 'a'.repeat(200);
  const label = byId(buildTrayMenu(state({ roles: [role(long, true)] })), `role:${long}`)!.label;
  assert.ok(label.length < 60, `label is short: ${label.length}`);
  assert.match(label, /^Activate a+…… \(max 2h\)$/);
  assert.equal(safeLabel('R&D'), 'R&&D', 'a single & would become a mnemonic');
});

test('very long role lists are cut off with a "more" entry that opens the popover', () => {
  const roles = Array.from({ length: MAX_ROLES_LISTED + 5 }, (_, i) => role(`role-${i}`, true));
  const menu = buildTrayMenu(state({ roles }));
  assert.equal(menu.filter((i) => i.id?.startsWith('role:')).length, MAX_ROLES_LISTED);
  const more = menu.find((i) => i.label === '… 5 more');
  assert.ok(more);
  assert.equal(menuAction(more.id), 'open');
});

test('before the agent has a state the menu says "Starting…" and offers only Quit', () => {
  const menu = buildTrayMenu(null);
  assert.equal(menu[0]!.label, 'Starting…');
  assert.equal(menu[0]!.enabled, false);
  const actionable = menu.filter((i) => i.type !== 'separator' && i.enabled);
  assert.deepEqual(
    actionable.map((i) => i.id),
    ['quit'],
  );
});

function activation(role: string, st: ActivationView['state'], expiresAt: string | null = null): ActivationView {
  return activationView({
    id: `id-${role}-${st}`,
    role,
    state: st,
    request: { policyVersion: 7, requestedAt: '2025-11-24T09:00:00.000Z' },
    startsAt: expiresAt ? '2025-11-24T09:00:00.000Z' : null,
    expiresAt,
  });
}

test('active roles are listed with the minutes left, each with a Deactivate item', () => {
  // state().now is 10:00
  const menu = buildTrayMenu(
    state({
      roles: [role('ai-cluster-admin', true), role('db-reader', true)],
      activations: [
        activation('ai-cluster-admin', 'active', '2025-11-24T10:41:30.000Z'),
        activation('db-reader', 'active', '2025-11-24T11:35:00.000Z'),
        activation('old', 'active', '2025-11-24T09:59:00.000Z'),
      ],
    }),
  );
  const header = menu.findIndex((i) => i.id === 'active-header');
  assert.ok(header > 0, 'an "Active roles" section');
  assert.equal(menu[header]!.label, 'Active roles');
  assert.equal(menu[header]!.enabled, false);
  assert.equal(byId(menu, 'active:ai-cluster-admin')?.label, 'ai-cluster-admin — 42 min left');
  assert.equal(byId(menu, 'active:db-reader')?.label, 'db-reader — 1 h 35 min left');
  assert.equal(byId(menu, 'active:old'), undefined, 'an activation past its end is not shown as active');
  const off = byId(menu, 'deactivate:ai-cluster-admin');
  assert.equal(off?.label, 'Deactivate ai-cluster-admin');
  assert.equal(menuAction(off?.id), 'deactivate');
  assert.equal(deactivateTarget(off?.id), 'ai-cluster-admin');
  assert.equal(menuAction('active:ai-cluster-admin'), 'open', 'clicking the role itself opens the popover');
  assert.equal(menuAction('active-header'), null);
  assert.ok(header < menu.findIndex((i) => i.id === 'eligible-header'), 'active roles come before the eligible list');
});

test('requests in flight are listed with what they wait for; nothing active means no section', () => {
  const menu = buildTrayMenu(
    state({
      activations: [
        activation('admin', 'pending-approval'),
        activation('readonly', 'requested'),
        activation('gone', 'denied'),
      ],
    }),
  );
  assert.equal(byId(menu, 'active-header'), undefined);
  assert.equal(byId(menu, 'request:admin')?.label, 'admin — waiting for approval');
  assert.equal(byId(menu, 'request:readonly')?.label, 'readonly — touch your security key');
  assert.equal(byId(menu, 'request:gone'), undefined, 'ended ones are not requests');
  assert.equal(menuAction('request:admin'), 'open');
});

test('deactivate items only name a role; role names in them are made safe', () => {
  assert.equal(deactivateTarget('deactivate:'), null);
  assert.equal(menuAction('deactivate:'), 'open');
  assert.equal(deactivateTarget('role:x'), null);
  assert.equal(deactivateTarget(undefined), null);
  const evil = 'x\u202Eevil';
  const menu = buildTrayMenu(state({ activations: [activation(evil, 'active', '2025-11-24T10:30:00.000Z')] }));
  assert.equal(byId(menu, `deactivate:${evil}`)?.label, 'Deactivate x evil');
});

test('time left reads in minutes, rounded up, and in hours and minutes from an hour on', () => {
  assert.equal(timeLeft(20_000), 'less than a minute left');
  assert.equal(timeLeft(60_000), '1 min left');
  assert.equal(timeLeft(61_000), '2 min left');
  assert.equal(timeLeft(59 * 60_000), '59 min left');
  assert.equal(timeLeft(60 * 60_000), '1 h left');
  assert.equal(timeLeft(125 * 60_000), '2 h 5 min left');
});

test('an active role ending soon reads "ends in N min" and offers Extend…, which opens the popover', () => {
  // state().now is 10:00; the agent reports a notice for the activation ending at 10:01:30
  const ending = activation('gpu-admin', 'active', '2025-11-24T10:01:30.000Z');
  const later = activation('db-reader', 'active', '2025-11-24T11:35:00.000Z');
  const menu = buildTrayMenu(
    state({
      activations: [ending, later],
      notices: [
        {
          key: `${ending.id}:2`,
          activation: ending.id,
          role: 'gpu-admin',
          expiresAt: ending.expiresAt!,
          threshold: 2,
          minutesLeft: 2,
        },
      ],
    }),
  );
  assert.equal(byId(menu, 'active:gpu-admin')?.label, 'gpu-admin — ends in 2 min');
  const extend = byId(menu, 'extend:gpu-admin');
  assert.equal(extend?.label, 'Extend gpu-admin…');
  assert.equal(extend?.enabled, true);
  assert.equal(menuAction(extend?.id), 'open', 'extending needs the key touch: the popover does it');
  const ids = menu.map((i) => i.id);
  assert.ok(
    ids.indexOf('active:gpu-admin') < ids.indexOf('extend:gpu-admin') &&
      ids.indexOf('extend:gpu-admin') < ids.indexOf('deactivate:gpu-admin'),
    'Extend… sits between the role and Deactivate',
  );
  assert.equal(
    byId(menu, 'active:db-reader')?.label,
    'db-reader — 1 h 35 min left',
    'a role not ending soon keeps its time left',
  );
  assert.equal(byId(menu, 'extend:db-reader'), undefined);
  const evil = buildTrayMenu(
    state({
      activations: [{ ...ending, role: 'x\u202Eevil&co' }],
      notices: [
        { key: 'k', activation: ending.id, role: 'x', expiresAt: ending.expiresAt!, threshold: 10, minutesLeft: 9 },
      ],
    }),
  );
  assert.equal(byId(evil, 'extend:x\u202Eevil&co')?.label, 'Extend x evil&&co…');
});

test('the policy version, offline copy or expired policy is its own line', () => {
  assert.equal(byId(buildTrayMenu(state()), 'policy')?.label, 'Policy v7');
  assert.equal(byId(buildTrayMenu(state({ connection: 'offline' })), 'policy')?.label, 'Policy v7 — offline copy');
  assert.equal(
    byId(buildTrayMenu(state({ now: '2025-12-02T00:00:00.000Z' })), 'policy')?.label,
    'Policy v7 — expired, no role can be activated',
  );
  assert.equal(byId(buildTrayMenu(state({ policy: null })), 'policy'), undefined);
  assert.equal(menuAction('policy'), null);
});

test('requests waiting for my approval are counted and open the approvals view; Start at login is a checkbox', () => {
  const menu = buildTrayMenu(state(), { approvalsWaiting: 2, startAtLogin: false });
  assert.equal(byId(menu, 'approvals')?.label, 'Waiting for your approval (2)…');
  assert.equal(menuAction('approvals'), 'approvals');
  const login = byId(menu, 'start-at-login');
  assert.deepEqual([login?.type, login?.checked], ['checkbox', false]);
  assert.equal(menuAction('start-at-login'), 'start-at-login');
  assert.equal(byId(buildTrayMenu(state(), { approvalsWaiting: 0 }), 'approvals'), undefined);
  assert.equal(activateTarget('role:gpu-admin'), 'gpu-admin');
  assert.equal(activateTarget('role:'), null);
  assert.equal(activateTarget('blocked:gpu-admin'), null);
});

test('the tray icon follows the state: idle, active, pending, offline, error', () => {
  assert.equal(trayIconState(null), 'idle');
  assert.equal(trayIconState(state()), 'idle');
  assert.equal(
    trayIconState(state({ activations: [activation('admin', 'active', '2025-11-24T10:30:00.000Z')] })),
    'active',
  );
  assert.equal(trayIconState(state({ activations: [activation('admin', 'pending-approval')] })), 'pending');
  assert.equal(trayIconState(state(), { approvalsWaiting: 1 }), 'pending');
  assert.equal(trayIconState(state({ connection: 'offline' })), 'offline');
  assert.equal(trayIconState(state({ now: '2025-12-02T00:00:00.000Z' })), 'offline', 'an expired policy copy');
  assert.equal(trayIconState(state({ connection: 'rejected' })), 'error');
});
