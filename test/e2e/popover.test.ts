// The popover as a user sees it: a real `pim-server serve`, a real `pim ui`, Debian's Chromium.
// Roles appear; when the control plane goes away and the user presses Refresh, the offline badge
// appears and the roles stay.
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { test } from './fixtures';
import { launchChromium, webShellSession } from '../helpers/browser';
import { PIM, PIM_SERVER, run, start, stop } from '../helpers/procs';
import { ROOT, tmpDir } from '../helpers/repo';

test('the popover lists roles online, and keeps them with an offline badge when the server stops', async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  const home = path.join(dir, 'home');
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  // The example policy, plus a role whose direct assignment to alice has ended: whether the example's
  // office-hours role is open depends on when the test runs, this one is unavailable at any hour.
  const policy = path.join(dir, 'policy.yaml');
  const ended = `
  - name: migration-2025-admin
    description: Admin for last year's storage migration
    eligible:
      groups: [ml-research]
      users: [{ email: alice@acme.example, until: 2025-12-31 }]
    activation: { maxDuration: 1h }
`;
  fs.writeFileSync(
    policy,
    fs.readFileSync(path.join(ROOT, 'examples', 'policy.yaml'), 'utf8').trimEnd() + '\n' + ended,
  );
  const publish = run(PIM_SERVER, ['publish', repo, policy]);
  assert.equal(publish.code, 0, publish.stderr);
  const server = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /serving .* at (http:\/\/\S+)/);
  const serverUrl = server.match[1]!;
  const connect = run(PIM, [
    '--home',
    home,
    'connect',
    serverUrl,
    '--user',
    'alice@acme.example',
    '--root',
    path.join(repo, 'trust-root.json'),
  ]);
  assert.equal(connect.code, 0, connect.stderr);
  const ui = await start(PIM, ['--home', home, 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/);

  const page = await browser.newPage();
  await page.goto(ui.match[1]!);
  await page.getByTestId('role-card-gpu-cluster-readonly').waitFor();
  await page.getByTestId('role-card-ai-cluster-admin').waitFor();
  assert.equal(await page.getByTestId('connection-badge').getAttribute('data-connection'), 'online');
  assert.match(await page.getByTestId('policy-version').innerText(), /v1\b/);
  assert.equal(await page.getByTestId('user-email').innerText(), 'alice@acme.example');
  assert.doesNotMatch(page.url(), /code=|token=/, 'the one-time code does not linger in the address bar');
  // the roles alice is not eligible for at all can be opened and read
  assert.match(await page.getByTestId('other-roles-count').innerText(), /\d+ other roles? you are not eligible for/);
  await page.getByTestId('other-roles-count').click();
  await page.getByTestId('other-role-inference-night-oncall').waitFor();
  assert.equal(await page.getByTestId('role-filter').count(), 0, 'no filter box for a handful of roles');
  // a role limited to business hours, or a contractor's, is shown with its reason, folded
  await page.getByTestId('ineligible-section').click();
  const reasons = await page.locator('[data-testid^="role-reason-"]').allInnerTexts();
  assert.ok(reasons.length > 0 && reasons.every((r) => r.trim().length > 0), 'each unavailable role says why');
  assert.match(await page.getByTestId('role-reason-migration-2025-admin').innerText(), /2025-12-31|ended|expired/i);

  await stop(server.child);
  await page.getByTestId('refresh-button').click();
  await page.locator('[data-testid="connection-badge"][data-connection="offline"]').waitFor({ timeout: 10_000 });
  assert.match(await page.getByTestId('connection-badge').innerText(), /offline/i);
  assert.ok(await page.getByTestId('role-card-gpu-cluster-readonly').isVisible(), 'roles stay while offline');
  assert.ok(await page.getByTestId('role-card-ai-cluster-admin').isVisible());
  if (process.env.PIM_SCREENSHOT) await page.screenshot({ path: process.env.PIM_SCREENSHOT, fullPage: true });
  await stop(ui.child);
});

test('the web shell refuses API calls without the session token or from another origin', async () => {
  const dir = tmpDir();
  const ui = await start(PIM, ['--home', path.join(dir, 'home'), 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/);
  const { origin, token } = await webShellSession(ui.match[1]!);
  const call = (headers: Record<string, string>) =>
    fetch(`${origin}/api/getState`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: '{}',
    });
  assert.equal((await call({})).status, 401);
  assert.equal((await call({ authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await call({ authorization: `Bearer ${token}`, origin: 'http://evil.example' })).status, 403);
  const ok = await call({ authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as { ok: boolean; value: { connection: string } };
  assert.equal(body.ok, true);
  assert.equal(body.value.connection, 'unconfigured');
  const bad: unknown = await (
    await fetch(`${origin}/api/checkRole`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"role":5}',
    })
  ).json();
  assert.deepEqual(Object.keys(bad as object).sort(), ['error', 'ok']);
  assert.equal((bad as { error: { code: string } }).error.code, 'bad-input');
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host header
  const port = new URL(origin).port;
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/getState',
        method: 'POST',
        headers: { host: `evil.example:${port}`, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
  assert.equal(status, 421);
  await stop(ui.child);
});
