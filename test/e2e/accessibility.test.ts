// Accessibility of the popover's main views (roles, activate dialog, active countdown, approvals,
// audit), light and dark, with real data (test/helpers/popover-views.ts) in Debian's Chromium:
//  - axe-core finds no serious or critical violation (WCAG 2.1 A/AA and best practices);
//  - the keyboard reaches every control: pressing Tab from the top focuses each visible, enabled
//    button, field and link (inside the dialog when it is open, and nothing behind it);
//  - each control names what it acts on: a button on a role's card carries the role's name, a
//    button on a request carries the role and the requester ("Activate gpu-cluster-readonly").
import AxeBuilder from '@axe-core/playwright';
import assert from 'node:assert/strict';
import { test } from './fixtures';
import { after } from '../helpers/cleanup';
import type { Locator, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { openView, startPopoverWorld, VIEWS, type View } from '../helpers/popover-views';

const CONTROLS = 'button, select, input, textarea, a[href], summary, [tabindex]:not([tabindex="-1"])';

async function axe(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.map((n) => `${n.target.join(' ')} — ${n.failureSummary?.replace(/\n/g, ' ')}`).join('\n    ')}`,
    );
}

/** Tabs from the top of the page; returns the controls in `scope` that focus never reached. */
async function unreachable(page: Page, scope: Locator): Promise<string[]> {
  // number every focusable control that a user can see and use
  const count = await scope.evaluate((root, sel) => {
    const els = [...root.querySelectorAll<HTMLElement>(sel)].filter(
      (el) =>
        !(el as HTMLButtonElement).disabled &&
        el.getClientRects().length > 0 &&
        getComputedStyle(el).visibility !== 'hidden',
    );
    els.forEach((el, i) => el.setAttribute('data-a11y-idx', String(i)));
    return els.length;
  }, CONTROLS);
  assert.ok(count > 0, 'the view has controls');
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const reached = new Set<string>();
  const outside: string[] = [];
  for (let i = 0; i < count * 2 + 10; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el && el !== document.body
        ? {
            idx: el.getAttribute('data-a11y-idx'),
            text: `${el.tagName.toLowerCase()} ${el.getAttribute('data-testid') ?? el.textContent?.trim().slice(0, 30)}`,
          }
        : null;
    });
    if (!focused) continue;
    if (focused.idx === null) outside.push(focused.text);
    else reached.add(focused.idx);
  }
  const missed = await scope.evaluate(
    (root, seen) =>
      [...root.querySelectorAll<HTMLElement>('[data-a11y-idx]')]
        .filter((el) => !seen.includes(el.getAttribute('data-a11y-idx')!))
        .map(
          (el) =>
            `${el.tagName.toLowerCase()} ${el.getAttribute('data-testid') ?? el.textContent?.trim().slice(0, 40)}`,
        ),
    [...reached],
  );
  const where = (await scope.getAttribute('data-testid')) ?? 'view';
  return [
    ...missed.map((m) => `never focused: ${m}`),
    ...[...new Set(outside)].map((o) => `focus left the ${where}: ${o}`),
  ];
}

/** The accessible names of the buttons in `scope`, as assistive technology gets them. */
async function buttonNames(scope: Locator): Promise<string[]> {
  const snapshot = await scope.ariaSnapshot();
  return [...snapshot.matchAll(/- button "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
}

/** Every button on a card names the card's subject (its role, and for a request its requester). */
async function unnamed(page: Page, view: View): Promise<string[]> {
  const problems: string[] = [];
  if (view === 'approvals') {
    const cards = page.locator('li[data-testid^="approval-"]');
    for (const card of await cards.all()) {
      const role = await card.getByTestId('approval-role').innerText();
      const who = await card.getByTestId('approval-requester').innerText();
      for (const name of await buttonNames(card))
        if (!name.includes(role) || !name.includes(who))
          problems.push(`approval button "${name}" does not name ${who} and ${role}`);
    }
    assert.ok((await cards.count()) > 0);
    return problems;
  }
  if (view === 'activate-dialog') {
    const dialog = page.getByRole('dialog', { name: 'Activate ai-cluster-admin' });
    assert.equal(await dialog.count(), 1, 'the dialog is named after the role');
    const names = await buttonNames(dialog);
    if (!names.some((n) => /^Request\b.*ai-cluster-admin/.test(n)))
      problems.push(`the submit button does not name the role: ${names.join(', ')}`);
    for (const field of await dialog.locator('select, textarea, input').all()) {
      const label = await field.evaluate(
        (el) => (el as HTMLInputElement).labels?.[0]?.textContent?.trim() ?? el.getAttribute('aria-label') ?? '',
      );
      if (!label) problems.push(`unlabelled field ${await field.getAttribute('data-testid')}`);
    }
    return problems;
  }
  if (view === 'audit') {
    assert.equal(await page.getByRole('combobox', { name: /Role/ }).count(), 1, 'the role filter is labelled');
  }
  const cards = page.locator('li[data-testid^="role-card-"]');
  for (const card of await cards.all()) {
    const role = (await card.getAttribute('data-testid'))!.replace(/^role-card-/, '');
    for (const name of await buttonNames(card))
      if (!name.includes(role)) problems.push(`button "${name}" on ${role}'s card does not name the role`);
  }
  return problems;
}

test('the popover views: no serious axe violation, every control reachable by Tab and named for what it acts on', async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  // cleanups run last-registered first: the processes stop before their folder is removed
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const world = await startPopoverWorld((fn) => cleanups.push(fn));
  for (const scheme of ['light', 'dark'] as const) {
    for (const view of VIEWS) {
      await test.step(`${view}, ${scheme}`, async () => {
        const { page, close } = await openView(browser, world, view, scheme);
        try {
          const found = { axe: await axe(page), keyboard: [] as string[], names: [] as string[] };
          // keyboard and names do not depend on the colours: check them once
          if (scheme === 'light') {
            const scope = view === 'activate-dialog' ? page.getByTestId('activate-dialog') : page.locator('body');
            found.keyboard = await unreachable(page, scope);
            found.names = await unnamed(page, view);
          }
          assert.deepEqual(found, { axe: [], keyboard: [], names: [] });
        } finally {
          await close();
        }
      });
    }
  }
  // the names the issue asks for, as a user of a screen reader finds them
  const { page, close } = await openView(browser, world, 'roles', 'light');
  await page.getByRole('button', { name: 'Activate ai-cluster-admin', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Deactivate gpu-cluster-readonly', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Extend gpu-cluster-readonly', exact: true }).waitFor();
  await close();
});
