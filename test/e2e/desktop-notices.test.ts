// The web shell's side of the tray app's integration, in Chromium: desktop notifications through the
// browser's Notification API (recorded by a stand-in class installed before the page's scripts), once
// each, a click opening the right view; and a fragment (#activate=…, #view=…) that opens the
// prefilled dialog or a view — requesting nothing by itself.
import assert from 'node:assert/strict';
import { test } from './fixtures';
import { after } from '../helpers/cleanup';
import { touch } from '../helpers/ceremony';
import { cliWorld } from '../helpers/cli-world';
import { launchChromium } from '../helpers/browser';
import { PIM, start } from '../helpers/procs';

const POLICY = `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional }
  - name: admin
    eligible: { groups: [eng] }
    activation: { maxDuration: 2h, justification: optional, approval: { approvers: { groups: [leads] }, count: 1 } }
users:
  - { email: alice@acme.example, groups: [eng] }
`;
const ENV = { PIM_KEYSTORE: 'file', PIM_ACTIVATION_POLL_MS: '400' };

type Note = { title: string; body: string };

test('the web shell notifies once per event through the browser, and fragments only open views', async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const { people } = await cliWorld(POLICY, [
    ['alice@acme.example', ''],
    ['bob@acme.example', 'eng,leads'],
  ]);
  const alice = people['alice@acme.example']!;
  const bob = people['bob@acme.example']!;

  // alice asks for admin: bob's web shell shows that his approval is waiting
  const ask = await start(
    PIM,
    ['--home', alice.home, 'activate', 'admin', '--duration', '1h', '--no-open'],
    /sign this request: (\S+)/,
    ENV,
  );
  assert.equal((await touch(alice.key, ask.match[1]!)).value?.state, 'pending-approval');
  await ask.exited();

  const ui = await start(PIM, ['--home', bob.home, 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/, ENV);
  after(() => ui.child.kill('SIGTERM'));
  const page = await browser.newPage();
  // plain text: a function would be rewritten by the test's TypeScript loader (helpers the page lacks)
  await page.addInitScript({
    content: `
      window.__notes = [];
      function Recorded(title, opts) {
        const self = this;
        self.onclick = null;
        window.__notes.push({ title, body: opts.body, click: () => self.onclick && self.onclick() });
      }
      Recorded.permission = 'granted';
      Recorded.requestPermission = async () => 'granted';
      window.Notification = Recorded;
    `,
  });
  const consoleLines: string[] = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(String(e)));
  await page.goto(ui.match[1]!);
  const notes = () =>
    page.evaluate(() =>
      (window as unknown as { __notes: Note[] }).__notes.map((n) => ({ title: n.title, body: n.body })),
    );
  await page
    .waitForFunction(() =>
      (window as unknown as { __notes: Note[] }).__notes.some((n) => n.title === 'alice@acme.example asks for admin'),
    )
    .catch(async (e: Error) => {
      throw new Error(
        `${e.message}; notes: ${JSON.stringify(await notes())}; console: ${consoleLines.join(' | ')}; approvals: ${bob.pim('approvals', '--json').stdout}`,
      );
    });
  assert.deepEqual(await notes(), [{ title: 'alice@acme.example asks for admin', body: 'Waiting for your approval.' }]);
  // a click opens the approvals view
  await page.evaluate(() => (window as unknown as { __notes: { click: () => void }[] }).__notes[0]!.click());
  await page.getByTestId('approvals-tab').and(page.locator('[aria-selected="true"]')).waitFor();

  // bob activates readonly and gives it back: one "was deactivated", however often the page polls
  await page.getByTestId('roles-tab').click();
  const act = await start(
    PIM,
    ['--home', bob.home, 'activate', 'readonly', '--duration', '1h', '--no-open'],
    /sign this request: (\S+)/,
    ENV,
  );
  assert.equal((await touch(bob.key, act.match[1]!)).value?.state, 'active');
  await act.exited();
  assert.equal(bob.pim('deactivate', 'readonly').code, 0);
  await page.waitForFunction(
    () => (window as unknown as { __notes: Note[] }).__notes.some((n) => n.title === 'readonly was deactivated'),
    undefined,
    { timeout: 30_000 },
  );
  // several polls later (2 s each), still one
  const polls = await page.evaluate(() => performance.getEntriesByType('resource').length);
  await page.waitForFunction((n) => performance.getEntriesByType('resource').length > n + 3, polls, {
    timeout: 30_000,
  });
  assert.equal((await notes()).filter((n) => n.title === 'readonly was deactivated').length, 1);

  // a fragment opens the activate dialog prefilled, and nothing is requested
  const before = (JSON.parse(bob.pim('activations', '--json').stdout) as unknown[]).length;
  await page.evaluate(() => (location.hash = '#activate=readonly&duration=7200'));
  await page.getByTestId('activate-dialog').waitFor();
  assert.equal(await page.getByTestId('duration-select').inputValue(), '7200');
  assert.equal(
    (JSON.parse(bob.pim('activations', '--json').stdout) as unknown[]).length,
    before,
    'nothing was requested',
  );
});
