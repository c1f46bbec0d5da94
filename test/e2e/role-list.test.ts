// The popover's role list for someone with many roles, through a real `pim ui` in Debian's Chromium:
// a filter box that narrows the list as one types, the ticket field explained by the policy's
// `ticket.hint` (never its regular expression), an active role listed first, and an SSH certificate
// that could not be added (no ssh-agent where SSH_AUTH_SOCK points) shown on the role's card with
// why. The key touch is a software key on the ceremony page the popover opens.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from './fixtures';
import { after } from '../helpers/cleanup';
import type { Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { touch } from '../helpers/ceremony';
import { cliWorld } from '../helpers/cli-world';
import { PIM, start, stop } from '../helpers/procs';

const HINT = 'an incident ID like INC-1234';

const POLICY = `
roles:
  - name: gpu-cluster-readonly
    description: Read-only view of the GPU training cluster
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, justification: optional }
  - name: gpu-cluster-admin
    description: Cluster-admin on the GPU training cluster
    eligible: { groups: [ml] }
    activation:
      maxDuration: 2h
      justification: optional
      ticket: { required: true, pattern: '^INC-[0-9]+$', hint: '${HINT}' }
  - name: inference-readonly
    description: Read-only view of the inference cluster
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, justification: optional }
  - name: inference-admin
    description: Admin on the inference cluster
    eligible: { groups: [ml] }
    activation: { maxDuration: 1h, justification: optional }
  - name: billing-viewer
    description: Cloud billing reports
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, justification: optional }
  - name: storage-admin
    description: Admin on the dataset buckets
    eligible: { groups: [ml] }
    activation: { maxDuration: 1h, justification: optional }
  - name: network-readonly
    description: Read-only view of the VPC and firewalls
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, justification: optional }
  - name: vm-ssh
    description: SSH to the bastion hosts as ops
    eligible: { groups: [ml] }
    activation: { maxDuration: 1h, justification: optional }
    grants:
      ssh: [{ principals: [ops], hosts: ['127.0.0.1'] }]
users:
  - { email: alice@acme.example, groups: [ml] }
`;
/** as the popover lists them while none is active: by name */
const ROLES = [
  'billing-viewer',
  'gpu-cluster-admin',
  'gpu-cluster-readonly',
  'inference-admin',
  'inference-readonly',
  'network-readonly',
  'storage-admin',
  'vm-ssh',
];

/** The role cards in the order the popover lists them. */
async function listed(page: Page): Promise<string[]> {
  const ids = await page
    .locator('[data-testid^="role-card-"]')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!));
  return ids.map((id) => id.replace(/^role-card-/, ''));
}

/** Waits until the listed roles are exactly `roles` (the list re-renders as one types). */
async function waitListed(page: Page, roles: string[]): Promise<void> {
  await page.waitForFunction(
    (want) =>
      JSON.stringify(
        [...document.querySelectorAll('[data-testid^="role-card-"]')].map((e) =>
          e.getAttribute('data-testid')!.replace(/^role-card-/, ''),
        ),
      ) === want,
    JSON.stringify(roles),
    { timeout: 10_000 },
  );
}

test('many roles: filter as you type, the ticket hint, an active role first, and an SSH certificate not added shown on its card', async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const { dir, people } = await cliWorld(POLICY, [['alice@acme.example', 'ml']]);
  const alice = people['alice@acme.example']!;
  // alice's own files stay in the temporary folder; her SSH_AUTH_SOCK points at no ssh-agent
  const userHome = path.join(dir, 'user-home');
  fs.mkdirSync(path.join(userHome, '.kube'), { recursive: true, mode: 0o700 });
  const nowhere = path.join(userHome, 'no-ssh-agent.sock');
  const env = {
    PIM_KEYSTORE: 'file',
    HOME: userHome,
    KUBECONFIG: path.join(userHome, '.kube', 'config'),
    SSH_AUTH_SOCK: nowhere,
    PIM_ACTIVATION_POLL_MS: '400',
  };
  const ui = await start(PIM, ['--home', alice.home, 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/, env);
  after(() => stop(ui.child));
  const context = await browser.newContext({ viewport: { width: 420, height: 760 } });
  const page = await context.newPage();
  await page.goto(ui.match[1]!);
  await page.getByTestId('role-card-vm-ssh').waitFor({ timeout: 20_000 });
  assert.deepEqual(await listed(page), ROLES, 'by name while none is active');

  await test.step('more than a handful of roles: the filter box narrows the list as one types', async () => {
    const filter = page.getByTestId('role-filter');
    assert.equal(await filter.getAttribute('placeholder'), `Filter ${ROLES.length} roles`);
    assert.equal(await filter.getAttribute('aria-label'), 'Filter roles');
    await filter.pressSequentially('gpu');
    await waitListed(page, ['gpu-cluster-admin', 'gpu-cluster-readonly']);
    // every word must match, in the name or the description
    await filter.pressSequentially(' admin');
    await waitListed(page, ['gpu-cluster-admin']);
    await filter.fill('read-only view');
    await waitListed(page, ['gpu-cluster-readonly', 'inference-readonly', 'network-readonly']);
    await filter.fill('no such role');
    await waitListed(page, []);
    assert.match(await page.locator('.roles .empty').innerText(), /No available role matches “no such role”/);
    await filter.fill('');
    await waitListed(page, ROLES);
  });

  await test.step("an invalid ticket is explained with the policy's hint, not its regular expression", async () => {
    await page.getByTestId('activate-gpu-cluster-admin').click();
    const dialog = page.getByTestId('activate-dialog');
    await dialog.waitFor();
    const ticket = dialog.getByTestId('ticket-input');
    assert.equal(await ticket.getAttribute('placeholder'), HINT);
    await ticket.fill('CHG-77');
    const hint = dialog.locator('[data-testid="ticket-hint"][data-state="invalid"]');
    await hint.waitFor();
    assert.equal(await hint.innerText(), `✗ Expected ${HINT}`);
    assert.equal(await ticket.getAttribute('aria-invalid'), 'true');
    assert.doesNotMatch(await dialog.innerText(), /\^INC|\[0-9\]|\+\$/, 'no regular expression anywhere in the dialog');
    assert.equal(await dialog.getByTestId('activate-submit').isDisabled(), true, 'an invalid ticket cannot be sent');
    await ticket.fill('INC-1234');
    await dialog.locator('[data-testid="ticket-hint"][data-state="valid"]').waitFor();
    assert.equal(await dialog.getByTestId('activate-submit').isDisabled(), false);
    await dialog.getByTestId('activate-cancel').click();
    await dialog.waitFor({ state: 'detached' });
  });

  await test.step('activated with no ssh-agent: the card says the certificate was not added and why; the active role comes first', async () => {
    await page.getByTestId('activate-vm-ssh').click();
    const dialog = page.getByTestId('activate-dialog');
    await dialog.waitFor();
    await dialog.getByTestId('activate-submit').click();
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByTestId('open-ceremony-vm-ssh').click()]);
    await popup.waitForURL((u) => u.protocol === 'http:', { waitUntil: 'commit' });
    const ceremony = popup.url();
    await popup.close();
    assert.equal((await touch(alice.key, ceremony)).value?.state, 'active');

    await page.locator('[data-testid="activation-state-vm-ssh"][data-state="active"]').waitFor({ timeout: 20_000 });
    const ssh = page.getByTestId('credentials-vm-ssh').locator('[data-testid="credential-item"][data-kind="ssh"]');
    await ssh.waitFor({ timeout: 20_000 });
    assert.equal(await ssh.getAttribute('data-problem'), 'true');
    const text = await ssh.innerText();
    assert.match(text, /^SSH certificate not added — /);
    assert.match(
      text,
      new RegExp(
        `cannot reach the ssh-agent at ${nowhere.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(it does not exist\\)`,
      ),
    );
    assert.match(await page.getByTestId('credentials-vm-ssh').innerText(), /Not in place yet/);

    await waitListed(page, ['vm-ssh', ...ROLES.filter((r) => r !== 'vm-ssh')]);
    // and while filtering, still first among the matches
    await page.getByTestId('role-filter').fill('the');
    await waitListed(page, ['vm-ssh', ...ROLES.filter((r) => r !== 'vm-ssh' && r !== 'billing-viewer')]);
    await page.getByTestId('role-filter').fill('');
  });
  await context.close();
});
