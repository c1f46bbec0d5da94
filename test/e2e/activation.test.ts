// Activating roles through the popover, as people do it: real `pim-server` and `pim ui` processes (one per person,
// separate homes), Debian's Chromium (one browser context per person), and a virtual security key (CDP WebAuthn domain,
// docs/architecture.md, Platform facts) on every ceremony page the popover opens. Alice enrols on the first-run screen,
// activates an auto-approved role, asks for one that needs approval (the ticket is checked as she types), Bob approves
// it from his Approvals view, denies another with a reason, and Alice gives a role back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from './fixtures';
import type { Page } from 'playwright-core';
import { confirmEnrolment, launchChromium } from '../helpers/browser';
import { PIM, PIM_SERVER, run, start } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';
import { SecurityKey } from '../helpers/virtual-key';

const POLICY = `
roles:
  - name: readonly
    description: Read-only access to the GPU cluster
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, defaultDuration: 1h, justification: optional }
  - name: admin
    description: Cluster admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      defaultDuration: 1h
      justification: required
      mfa: { userVerification: required }
      ticket: { required: true, pattern: '^INC-[0-9]+$' }
      approval: { approvers: { groups: [leads] }, count: 1, selfApproval: false }
  - name: db-admin
    description: Database admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 1h
      justification: required
      approval: { approvers: { groups: [leads] }, count: 1 }
users:
  - { email: alice@acme.example, groups: [eng] }
`;

const ENV = { PIM_KEYSTORE: 'file', PIM_ACTIVATION_POLL_MS: '400' };

interface Person {
  email: string;
  page: Page;
  key: SecurityKey;
  /** what its `pim ui` printed (the enrolment confirmation code) */
  uiOutput: () => string;
}

/** Click what opens a ceremony, touch the key on the page that opens, return its outcome. */
async function touchKey(p: Person, opener: string): Promise<{ state: string | null; text: string; page: Page }> {
  const [popup] = await Promise.all([p.page.waitForEvent('popup'), p.page.getByTestId(opener).click()]);
  const at = await p.key.attach(popup);
  await popup.getByTestId('ceremony-summary').waitFor();
  await popup.getByTestId('ceremony-sign').click();
  const result = popup.getByTestId('ceremony-result');
  await result.waitFor({ timeout: 15_000 });
  await p.key.keep(at);
  const out = { state: await result.getAttribute('data-state'), text: await result.innerText(), page: popup };
  return out;
}

async function cardState(page: Page, role: string, state: string, timeout = 10_000): Promise<void> {
  await page.locator(`[data-testid="activation-state-${role}"][data-state="${state}"]`).waitFor({ timeout });
}

test('enrol, activate, approve, deny and deactivate — all through the popover', async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  fs.writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  // the approvers (leads) join with `user add` after this first publish: --force
  assert.equal(run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']).code, 0);
  await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /people open (http:\/\/\S+)\)/);
  const links: Record<string, string> = {};
  for (const [email, groups] of [
    ['alice@acme.example', []],
    ['bob@acme.example', ['--groups', 'eng,leads']],
  ] as const) {
    const add = run(PIM_SERVER, ['user', 'add', repo, email, ...groups]);
    assert.equal(add.code, 0, add.stderr);
    links[email] = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
  }

  const people = await Promise.all(
    ['alice@acme.example', 'bob@acme.example'].map(async (email): Promise<Person> => {
      const ui = await start(
        PIM,
        ['--home', path.join(dir, email), 'ui', '--no-open'],
        /PIM Agent UI: (http:\/\/\S+)/,
        ENV,
      );
      const context = await browser.newContext({ viewport: { width: 420, height: 760 } });
      const page = await context.newPage();
      await page.goto(ui.match[1]!);
      return { email, page, key: new SecurityKey(), uiOutput: ui.output };
    }),
  );
  const [alice, bob] = people as [Person, Person];

  await test.step('(a) first run: paste the link, register the key on the ceremony page, see the roles', async () => {
    for (const p of [alice, bob]) {
      const screen = p.page.getByTestId('enrol-screen');
      await screen.waitFor();
      assert.equal(await screen.getAttribute('data-state'), 'form');
      await p.page.getByTestId('enrol-link-input').fill('https://not-a-link.example/');
      await p.page.getByTestId('enrol-submit').click();
      assert.match(await p.page.locator('#enrol-link-hint').innerText(), /not a complete enrolment link/);
      await p.page.getByTestId('enrol-link-input').fill(links[p.email]!);
      await p.page.getByTestId('enrol-submit').click();
      await confirmEnrolment(p.page, p.uiOutput);
      await p.page.locator('[data-testid="enrol-screen"][data-state="waiting"]').waitFor();
      assert.equal(await p.page.getByTestId('enrol-user').innerText(), p.email);
      const fingerprint = await p.page.getByTestId('enrol-fingerprint').innerText();
      if (p === alice) await p.page.screenshot({ path: '/tmp/pim-enrol.png', fullPage: true });
      assert.match(fingerprint, /^[A-Za-z0-9_-]{4}( [A-Za-z0-9_-]{4}){3}$/);

      const [popup] = await Promise.all([
        p.page.waitForEvent('popup'),
        p.page.getByTestId('enrol-open-ceremony').click(),
      ]);
      const at = await p.key.attach(popup);
      assert.equal(
        await popup.getByTestId('device-fingerprint').innerText(),
        fingerprint,
        'the popover and the ceremony page show the same device',
      );
      await popup.getByTestId('ceremony-sign').click();
      const result = popup.getByTestId('ceremony-result');
      await result.waitFor({ timeout: 15_000 });
      assert.equal(await result.getAttribute('data-state'), 'registered', await result.innerText());
      await p.key.keep(at);
      await popup.close();

      await p.page.getByTestId('role-card-readonly').waitFor({ timeout: 15_000 });
      assert.equal(await p.page.getByTestId('user-email').innerText(), p.email);
      assert.equal(await p.page.getByTestId('enrol-screen').count(), 0, 'the first-run screen is gone');
    }
  });

  await test.step('(b) an auto-approved role: dialog, key touch, active with a live countdown', async () => {
    const { page } = alice;
    await page.getByTestId('activate-readonly').click();
    const dialog = page.getByTestId('activate-dialog');
    await dialog.waitFor();
    const options = await page.getByTestId('duration-select').locator('option').allInnerTexts();
    assert.deepEqual(options, ['15 min', '30 min', '1 h (default)', '2 h', '4 h', '8 h']);
    assert.equal(await page.getByTestId('duration-select').inputValue(), '3600');
    assert.equal(await page.getByTestId('ticket-input').count(), 0, 'no ticket field for a role without one');
    await page.getByTestId('duration-select').selectOption('1800');
    await page.getByTestId('justification-input').fill('checking the\nnightly job');
    await page.locator('[data-testid="activate-submit"]:enabled').waitFor(); // justification is optional here
    await page.getByTestId('activate-submit').click();
    await dialog.waitFor({ state: 'detached' });
    await cardState(page, 'readonly', 'requested');
    assert.match(await page.getByTestId('activation-state-readonly').innerText(), /Touch your security key/);

    const r = await touchKey(alice, 'open-ceremony-readonly');
    assert.equal(r.state, 'active', r.text);
    assert.match(await r.page.getByTestId('ceremony-summary').innerText(), /activate readonly for 30 min/);
    assert.match(
      await r.page.getByTestId('ceremony-summary').innerText(),
      /checking the nightly job/,
      'newlines are folded into one line',
    );
    await r.page.close();

    await cardState(page, 'readonly', 'active');
    const countdown = page.getByTestId('countdown-readonly');
    const first = await countdown.innerText();
    assert.match(first, /^(2\d:[0-5]\d|30:00) left$/); // a 30-minute window, give or take a slow machine
    await page.waitForFunction(
      (before) => document.querySelector('[data-testid="countdown-readonly"]')?.textContent !== before,
      first,
      { timeout: 10_000 },
    );
    assert.ok(await page.getByTestId('deactivate-readonly').isVisible());
    assert.equal(await page.getByTestId('activate-readonly').count(), 0, 'an active role is not offered again');
  });

  let adminRequest = '';
  await test.step('(c) approval needed: the ticket is checked as she types; Bob approves from his Approvals view', async () => {
    const { page } = alice;
    await page.getByTestId('activate-admin').click();
    await page.getByTestId('activate-dialog').waitFor();
    assert.deepEqual(await page.getByTestId('duration-select').locator('option').allInnerTexts(), [
      '15 min',
      '30 min',
      '1 h (default)',
      '2 h',
    ]);
    assert.match(
      await page.getByTestId('approval-notice').innerText(),
      /Needs approval by 1 of leads \(not yourself\)/,
    );
    assert.match(await page.getByTestId('uv-notice').innerText(), /Key \+ PIN/);
    const submit = page.getByTestId('activate-submit');
    const hint = page.getByTestId('ticket-hint');
    // wait for the state AND its words: an empty field is invalid too ("A ticket is required")
    const validity = (v: 'true' | 'false') =>
      page
        .locator(`[data-testid="ticket-hint"][data-valid="${v}"]`, {
          hasText: v === 'true' ? /Matches/ : /Does not match/,
        })
        .waitFor();
    await page.locator('[data-testid="activate-submit"]:disabled').waitFor(); // justification and ticket are required
    await page.getByTestId('justification-input').fill('GPU node 17 hangs, need to cordon it');
    await page.getByTestId('ticket-input').pressSequentially('CHG-1');
    // the hint follows each keystroke: wait for what it must show, never read a stale frame
    await validity('false');
    assert.match(await hint.innerText(), /Does not match \^INC-\[0-9\]\+\$/);
    await page.locator('[data-testid="activate-submit"]:disabled').waitFor();
    await page.getByTestId('ticket-input').fill('');
    await page
      .locator('[data-testid="ticket-hint"][data-valid="false"]', { hasText: /A ticket is required/ })
      .waitFor();
    await page.getByTestId('ticket-input').pressSequentially('INC-');
    await validity('false'); // checked on every keystroke
    await page.getByTestId('ticket-input').pressSequentially('4711');
    await validity('true');
    assert.match(await hint.innerText(), /Matches/);
    await page.locator('[data-testid="activate-submit"]:enabled').waitFor();
    await page.getByTestId('activate-dialog').screenshot({ path: '/tmp/pim-activate-dialog.png' });
    await submit.click();
    await cardState(page, 'admin', 'requested');
    await page.getByTestId('role-card-admin').screenshot({ path: '/tmp/pim-touch-key.png' });

    const r = await touchKey(alice, 'open-ceremony-admin');
    assert.equal(r.state, 'pending-approval', r.text);
    await r.page.close();
    await cardState(page, 'admin', 'pending-approval');
    assert.match(await page.getByTestId('activation-state-admin').innerText(), /Waiting for 1 of leads/);

    await bob.page.getByTestId('approvals-tab').click();
    const item = bob.page.locator('li[data-testid^="approval-"]');
    await item.first().waitFor({ timeout: 10_000 });
    assert.equal(await item.count(), 1, 'one request waits for bob');
    adminRequest = ((await item.getAttribute('data-testid')) ?? '').replace(/^approval-/, '');
    const card = bob.page.getByTestId(`approval-${adminRequest}`);
    assert.equal(await card.getByTestId('approval-requester').innerText(), 'alice@acme.example');
    assert.equal(await card.getByTestId('approval-role').innerText(), 'admin');
    assert.equal(await card.getByTestId('approval-duration').innerText(), '1 h');
    assert.match(await card.getByTestId('approval-justification').innerText(), /GPU node 17 hangs, need to cordon it/);
    assert.equal(await card.getByTestId('approval-ticket').innerText(), 'INC-4711');
    await bob.page.screenshot({ path: '/tmp/pim-approvals.png', fullPage: true });

    await bob.page.getByTestId(`approve-${adminRequest}`).click();
    await bob.page.getByTestId(`approval-touch-${adminRequest}`).waitFor();
    const b = await touchKey(bob, `approval-open-ceremony-${adminRequest}`);
    assert.equal(b.state, 'active', b.text);
    await b.page.close();
    await bob.page.getByTestId(`decided-${adminRequest}`).waitFor({ timeout: 10_000 });

    await cardState(page, 'admin', 'active');
    assert.match(await page.getByTestId('countdown-admin').innerText(), /^(5\d:[0-5]\d|1:00:00) left$/);
  });

  await test.step('(d) a denial carries its reason to the requester', async () => {
    const { page } = alice;
    await page.getByTestId('activate-db-admin').click();
    await page.getByTestId('justification-input').fill('schema migration');
    await page.getByTestId('activate-submit').click();
    const r = await touchKey(alice, 'open-ceremony-db-admin');
    assert.equal(r.state, 'pending-approval', r.text);
    await r.page.close();

    const item = bob.page.locator('li[data-testid^="approval-"]').filter({ hasText: 'db-admin' });
    await item.waitFor({ timeout: 10_000 });
    const id = ((await item.getAttribute('data-testid')) ?? '').replace(/^approval-/, '');
    await bob.page.getByTestId(`deny-${id}`).click();
    await bob.page.locator(`[data-testid="deny-confirm-${id}"]:disabled`).waitFor(); // a denial needs a reason
    await bob.page.getByTestId('deny-reason').fill('change freeze until Monday');
    await bob.page.getByTestId(`deny-confirm-${id}`).click();
    const b = await touchKey(bob, `approval-open-ceremony-${id}`);
    assert.equal(b.state, 'denied', b.text);
    await b.page.close();

    await cardState(page, 'db-admin', 'denied');
    assert.match(
      await page.getByTestId('activation-state-db-admin').innerText(),
      /Denied by bob@acme\.example: change freeze until Monday/,
    );
    await page.screenshot({ path: '/tmp/pim-roles.png', fullPage: true });
  });

  await test.step('(e) deactivate gives the role back', async () => {
    const { page } = alice;
    await page.getByTestId('deactivate-readonly').click();
    await cardState(page, 'readonly', 'deactivated');
    assert.ok(await page.getByTestId('activate-readonly').isVisible(), 'it can be activated again');
    assert.equal(
      await page.locator('[data-testid="activation-state-admin"]').getAttribute('data-state'),
      'active',
      'the other role stays active',
    );
  });
});
