// A role about to end, its one-click extension, what it put into the user's world, and this
// device's audit journal — through the popover, as people use it: a real `pim-server serve`, a
// real `pim ui` (temporary HOME and KUBECONFIG), Debian's Chromium and a virtual security key.
// Alice activates a 5-minute role: the banner says it ends in 5 minutes, the card lists the kube
// context it injected; one click on Extend and a key touch later the card shows the new end. The
// Audit tab lists the journal newest first, narrows it to a role, and shows the control plane
// acknowledging every record.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from './fixtures';
import type { Page } from 'playwright-core';
import { confirmEnrolment, launchChromium } from '../helpers/browser';
import { PIM, PIM_SERVER, run, start, stop } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';
import { SecurityKey } from '../helpers/virtual-key';

const ROLE = 'gpu-admin';
const CONTEXT = `pim-gpu-train--${ROLE}`;
// a CA the kubeconfig entry names (nothing connects to the cluster in this test)
const CA_DATA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n').toString('base64');

const POLICY = `
roles:
  - name: ${ROLE}
    description: Admin on the GPU training cluster
    eligible: { groups: [ml] }
    activation: { maxDuration: 5m, defaultDuration: 5m, justification: optional }
    grants:
      kubernetes: [{ cluster: gpu-train, groups: ['pim:${ROLE}'] }]
  - name: readonly
    description: Read-only access
    eligible: { groups: [ml] }
    activation: { maxDuration: 8h, defaultDuration: 1h, justification: optional }
clusters:
  - { name: gpu-train, server: 'https://127.0.0.1:6443', certificateAuthorityData: '${CA_DATA}' }
users:
  - { email: alice@acme.example, groups: [ml] }
`;

/** Click what opens a ceremony, touch the key on the page that opens; its outcome and the page. */
async function touchKey(
  page: Page,
  key: SecurityKey,
  opener: string,
): Promise<{ state: string | null; text: string; summary: string; popup: Page }> {
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByTestId(opener).click()]);
  const at = await key.attach(popup);
  const summary = popup.getByTestId('ceremony-summary');
  await summary.waitFor();
  const summaryText = await summary.innerText();
  await popup.getByTestId('ceremony-sign').click();
  const result = popup.getByTestId('ceremony-result');
  await result.waitFor({ timeout: 15_000 });
  await key.keep(at);
  return {
    state: await result.getAttribute('data-state'),
    text: await result.innerText(),
    summary: summaryText,
    popup,
  };
}

/** "4:59 left" / "1:02:03 left" → seconds */
function seconds(countdown: string): number {
  const parts = countdown
    .replace(/\s*left$/, '')
    .split(':')
    .map(Number);
  return parts.reduce((acc, n) => acc * 60 + n, 0);
}

test('a role ending soon: banner, one-click extend with a key touch, credentials on the card, and the audit journal', async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  const userHome = path.join(dir, 'user-home');
  fs.mkdirSync(path.join(userHome, '.kube'), { recursive: true, mode: 0o700 });
  const kubeconfig = path.join(userHome, '.kube', 'config');
  fs.writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  const pub = run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml')]);
  assert.equal(pub.code, 0, pub.stderr);
  await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /people open (http:\/\/\S+)\)/);
  const add = run(PIM_SERVER, ['user', 'add', repo, 'alice@acme.example']);
  assert.equal(add.code, 0, add.stderr);
  const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;

  const env = {
    PIM_KEYSTORE: 'file',
    PIM_ACTIVATION_POLL_MS: '400',
    PIM_AUDIT_SYNC_MS: '500',
    HOME: userHome,
    KUBECONFIG: kubeconfig,
    SSH_AUTH_SOCK: '',
  };
  const startUi = () =>
    start(PIM, ['--home', path.join(dir, 'pim-home'), 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/, env);
  let ui = await startUi();
  const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
  const page = await context.newPage();
  await page.goto(ui.match[1]!);
  const key = new SecurityKey();

  // enrol on the first-run screen (here, not in a subtest: a subtest's after-hooks would stop the
  // `pim ui` started below when it ends)
  {
    await page.getByTestId('enrol-screen').waitFor();
    await page.getByTestId('enrol-link-input').fill(link);
    await page.getByTestId('enrol-submit').click();
    await confirmEnrolment(page, ui.output);
    await page.locator('[data-testid="enrol-screen"][data-state="waiting"]').waitFor();
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByTestId('enrol-open-ceremony').click()]);
    const at = await key.attach(popup);
    await popup.getByTestId('ceremony-sign').click();
    const result = popup.getByTestId('ceremony-result');
    await result.waitFor({ timeout: 15_000 });
    assert.equal(await result.getAttribute('data-state'), 'registered', await result.innerText());
    await key.keep(at);
    await popup.close();
    await page.getByTestId(`role-card-${ROLE}`).waitFor({ timeout: 15_000 });
    // The credential manager reads the device key once, at start-up: an agent enrolled while it
    // runs injects nothing until it restarts (agent/credentials/manager.ts deviceKey()).
    // Restart `pim ui` as a user would after enrolling, then carry on in the new session.
    await stop(ui.child);
    ui = await startUi();
    await page.goto(ui.match[1]!);
    await page.getByTestId(`role-card-${ROLE}`).waitFor({ timeout: 15_000 });
  }

  let firstEnd = 0;
  await test.step('a 5-minute activation: the banner says it ends in 5 minutes; the card lists its kube context', async () => {
    assert.equal(await page.getByTestId('expiry-banner').count(), 0, 'nothing ends yet');
    await page.getByTestId(`activate-${ROLE}`).click();
    await page.getByTestId('activate-dialog').waitFor();
    assert.deepEqual(await page.getByTestId('duration-select').locator('option').allInnerTexts(), ['5 min (default)']);
    await page.getByTestId('activate-submit').click();
    await page
      .locator(`[data-testid="activation-state-${ROLE}"][data-state="requested"]`)
      .waitFor({ timeout: 10_000 })
      .catch(async (e: Error) =>
        assert.fail(
          `${e.message}\n--- dialog: ${await page
            .getByTestId('activate-dialog')
            .innerText()
            .catch(() => '(gone)')}\n--- pim ui said:\n${ui.output().slice(-3000)}`,
        ),
      );
    const r = await touchKey(page, key, `open-ceremony-${ROLE}`);
    assert.equal(r.state, 'active', r.text);
    await r.popup.close();
    await page.locator(`[data-testid="activation-state-${ROLE}"][data-state="active"]`).waitFor({ timeout: 10_000 });

    const notice = page.getByTestId(`expiry-notice-${ROLE}`);
    await notice.waitFor({ timeout: 10_000 });
    assert.match(
      await notice.getByTestId('expiry-notice-text').innerText(),
      new RegExp(`^${ROLE} ends in [45] minutes$`),
    );
    assert.equal(await notice.getAttribute('data-threshold'), '10');
    firstEnd = seconds(await page.getByTestId(`countdown-${ROLE}`).innerText());
    assert.ok(firstEnd <= 300 && firstEnd > 200, `a 5-minute window: ${firstEnd} s left`);

    // the agent injects the kube context in the background: wait for the card to list it
    const creds = page.getByTestId(`credentials-${ROLE}`);
    await creds
      .waitFor({ timeout: 15_000 })
      .catch((e: Error) => assert.fail(`${e.message}\n--- pim ui said:\n${ui.output().slice(-3000)}`));
    assert.deepEqual(await creds.getByTestId('credential-item').allInnerTexts(), [`kube context ${CONTEXT}`]);
    assert.equal(
      await page.getByTestId(`credentials-hint-${ROLE}`).innerText(),
      `use it: kubectl --context ${CONTEXT}`,
    );
    assert.match(
      fs.readFileSync(kubeconfig, 'utf8'),
      new RegExp(`name: ${CONTEXT}`),
      'the context is really in the kubeconfig',
    );
    await page.screenshot({ path: '/tmp/pim-expiry-banner.png', fullPage: true });
  });

  await test.step('one click on Extend, a key touch on the ceremony page, and the card shows the new end', async () => {
    const notice = page.getByTestId(`expiry-notice-${ROLE}`);
    const before = await notice.getAttribute('data-activation');
    await page.getByTestId(`notice-extend-${ROLE}`).click();
    // a browser opens the ceremony on the user's click: the banner asks for it
    await page.locator(`[data-testid="notice-extension-${ROLE}"][data-state="requested"]`).waitFor({ timeout: 10_000 });
    assert.match(
      await page.getByTestId(`notice-extension-${ROLE}`).innerText(),
      /Extend by 5 min: touch your security key/,
    );
    assert.equal(
      await page.locator(`[data-testid="activation-state-${ROLE}"]`).getAttribute('data-state'),
      'active',
      'the role stays active meanwhile',
    );
    await page.locator(`[data-testid="extension-state-${ROLE}"][data-state="requested"]`).waitFor();

    const r = await touchKey(page, key, `notice-open-ceremony-${ROLE}`);
    assert.equal(r.state, 'active', r.text);
    assert.match(r.summary, new RegExp(`extend ${ROLE} by 5 min`));
    await r.popup.close();

    // the extension continues the window: about five more minutes than before
    await page.waitForFunction(
      ({ role, min }) => {
        const text = document.querySelector(`[data-testid="countdown-${role}"]`)?.textContent ?? '';
        const parts = text
          .replace(/\s*left$/, '')
          .split(':')
          .map(Number);
        return parts.length >= 2 && parts.reduce((a, n) => a * 60 + n, 0) > min;
      },
      { role: ROLE, min: firstEnd + 200 },
      { timeout: 15_000 },
    );
    const after = seconds(await page.getByTestId(`countdown-${ROLE}`).innerText());
    assert.ok(after > 480 && after <= 600, `about 10 minutes after the start: ${after} s left`);
    await page
      .locator(`[data-testid="expiry-notice-${ROLE}"]:not([data-activation="${before}"])`)
      .waitFor({ timeout: 10_000 });
    assert.equal(await page.getByTestId(`extension-state-${ROLE}`).count(), 0, 'no extension waiting any more');
    assert.ok(
      await page.getByTestId(`notice-extend-${ROLE}`).isVisible(),
      'the new end is within 10 minutes: Extend is offered again',
    );
    await page.getByTestId(`credentials-${ROLE}`).waitFor({ timeout: 15_000 });
  });

  await test.step("the card's Extend starts an extension, which can be cancelled", async () => {
    await page.getByTestId(`extend-${ROLE}`).click();
    await page.locator(`[data-testid="extension-state-${ROLE}"][data-state="requested"]`).waitFor({ timeout: 10_000 });
    await page.getByTestId(`open-extension-ceremony-${ROLE}`).waitFor();
    await page.getByTestId(`withdraw-extension-${ROLE}`).click();
    await page.getByTestId(`extension-state-${ROLE}`).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await page.locator(`[data-testid="activation-state-${ROLE}"]`).getAttribute('data-state'), 'active');
    assert.equal(await page.getByTestId('error-banner').count(), 0);
  });

  await test.step('the audit view: the journal newest first, a role filter, and every record acknowledged', async () => {
    await page.getByTestId('audit-tab').click();
    await page.getByTestId('audit-view').waitFor();
    const records = page.getByTestId('audit-record');
    await page.locator('[data-testid="audit-record"][data-type="activation-extended"]').waitFor({ timeout: 10_000 });
    await page
      .locator('[data-testid="audit-record"][data-type="credentials-injected"]')
      .first()
      .waitFor({ timeout: 10_000 });
    const seqs = await records.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
    assert.ok(seqs.length >= 6, `records: ${seqs.join(',')}`);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      'newest first',
    );
    const types = await records.evaluateAll((els) => els.map((e) => e.getAttribute('data-type')));
    assert.equal(
      types[types.length - 1] === 'keystore-changed' || types[types.length - 1] === 'enrolled',
      true,
      'it starts at enrolment',
    );
    for (const t of [
      'enrolled',
      'activation-requested',
      'activation-active',
      'activation-extended',
      'credentials-injected',
    ])
      assert.ok(types.includes(t), `a ${t} record`);
    const extended = page.locator('[data-testid="audit-record"][data-type="activation-extended"]').first();
    assert.equal(await extended.getByTestId('audit-record-type').innerText(), 'Extended');
    assert.equal(await extended.getByTestId('audit-record-role').innerText(), ROLE);
    assert.match(await extended.getByTestId('audit-record-description').innerText(), /^until .+ · key touch recorded/);

    // the role filter narrows the timeline to the role's records
    await page.getByTestId('audit-role-filter').selectOption(ROLE);
    await page.waitForFunction(
      () => {
        const els = [...document.querySelectorAll('[data-testid="audit-record"]')];
        return els.length > 0 && !els.some((e) => e.getAttribute('data-type') === 'enrolled');
      },
      undefined,
      { timeout: 10_000 },
    );
    const roles = await records.evaluateAll((els) => els.map((e) => e.getAttribute('data-role')));
    assert.ok(roles.length >= 4 && roles.length < seqs.length, `narrowed: ${roles.length} of ${seqs.length}`);
    assert.ok(
      roles.every((r) => r === ROLE),
      roles.join(','),
    );
    await page.getByTestId('audit-role-filter').selectOption('readonly');
    await page.getByTestId('audit-empty').waitFor({ timeout: 10_000 });
    await page.getByTestId('audit-role-filter').selectOption('');
    await page.locator('[data-testid="audit-record"][data-type="enrolled"]').waitFor({ timeout: 10_000 });

    // the background sync sends everything: nothing pending, a last sync time, no warning
    await page.locator('[data-testid="audit-pending"][data-pending="0"]').waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId('audit-pending').innerText(), /Every record is with the control plane/);
    assert.match(await page.getByTestId('audit-last-sync').innerText(), /^Last sync (just now|\d+ min ago)$/);
    await page
      .locator('[data-testid="audit-record"][data-synced="false"]')
      .first()
      .waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await page.getByTestId('audit-sync-warning').count(), 0);
    await page.screenshot({ path: '/tmp/pim-audit.png', fullPage: true });
  });
});
