// The web shell's session never appears on a command line: the browser `pim ui` starts gets a
// one-time code, which the page trades once for the session. Replaying the code — what any local
// user reading the browser's argv in /proc could do — is refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from './fixtures';
import { launchChromium, webShellSession } from '../helpers/browser';
import { PIM, start, stop } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';

/** A stand-in for xdg-open that records its command line, as /proc/PID/cmdline shows it. */
function fakeOpener(dir: string): { bin: string; argv: () => string[] | null } {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const out = path.join(dir, 'opened');
  fs.writeFileSync(
    path.join(bin, 'xdg-open'),
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "${out}.tmp" && mv "${out}.tmp" "${out}"\n`,
    { mode: 0o755 },
  );
  return { bin, argv: () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n') : null) };
}

async function until<T>(f: () => T | null, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = f();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const post = (origin: string, p: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${origin}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

test("web shell session: the opened browser's command line holds only a one-time code; the page trades it, a replay is refused", async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const dir = tmpDir();
  const opener = fakeOpener(dir);
  const ui = await start(PIM, ['--home', path.join(dir, 'home'), 'ui'], /PIM Agent UI: (http:\/\/\S+)/, {
    PATH: `${opener.bin}:${process.env.PATH}`,
    DISPLAY: ':0',
    PIM_KEYSTORE: 'file',
  });
  const argv = await until(opener.argv, 'the browser to be started');
  assert.equal(argv.length, 1);
  const opened = new URL(argv[0]!);
  assert.match(opened.hash, /^#code=[A-Za-z0-9_-]{20,}$/, 'the browser gets a one-time code');
  assert.notEqual(argv[0], ui.match[1], 'the browser has a code of its own, not the printed one');

  // the person's browser loads it: the UI works, and the code is gone from the address bar
  const page = await browser.newPage();
  await page.goto(argv[0]!);
  await page.getByTestId('enrol-screen').waitFor();
  assert.doesNotMatch(page.url(), /code=/);
  const state = await page.evaluate(async () => {
    const token = sessionStorage.getItem('pim.token');
    const r = await fetch('/api/getState', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{}',
    });
    return r.status;
  });
  assert.equal(state, 200, 'the page holds a working session');

  // another local user read the command line: the code is spent, and is no session token itself
  const replay = await post(opened.origin, '/session', { code: opened.hash.slice('#code='.length) });
  assert.equal(replay.status, 401);
  assert.match(((await replay.json()) as { error: { message: string } }).error.message, /already used/);
  const asToken = await post(
    opened.origin,
    '/api/getState',
    {},
    { authorization: `Bearer ${opened.hash.slice('#code='.length)}` },
  );
  assert.equal(asToken.status, 401);
  // a reload keeps the session (this tab only)
  await page.reload();
  await page.getByTestId('enrol-screen').waitFor();
  await stop(ui.child);
});

test('web shell session: the printed link works once; a wrong code or a second exchange gets no session', async () => {
  const dir = tmpDir();
  const ui = await start(PIM, ['--home', path.join(dir, 'home'), 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/);
  const url = ui.match[1]!;
  const { origin } = new URL(url);
  assert.equal((await post(origin, '/session', { code: 'guessed' })).status, 401);
  assert.equal((await post(origin, '/session', { code: 'x' }, { origin: 'http://evil.example' })).status, 403);
  const { token } = await webShellSession(url);
  assert.equal((await post(origin, '/api/getState', {}, { authorization: `Bearer ${token}` })).status, 200);
  await assert.rejects(webShellSession(url), /already used/);
  await stop(ui.child);
});

test('web shell session: a session alone cannot point the agent at another control plane — it needs the code shown on the terminal of `pim ui`', async () => {
  const dir = tmpDir();
  const ui = await start(PIM, ['--home', path.join(dir, 'home'), 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/);
  const { origin, token } = await webShellSession(ui.match[1]!);
  const api = async (method: string, input: unknown) =>
    (await (await post(origin, `/api/${method}`, input, { authorization: `Bearer ${token}` })).json()) as {
      ok: boolean;
      value?: { connection: string };
      error?: { code: string; message: string };
    };
  const evil = 'http://127.0.0.1:9/enrol#code=attacker-link-0123456789';
  const codes = () => [...ui.output().matchAll(/Confirmation code to enrol with (\S+): ([A-Z0-9]{4}-[A-Z0-9]{4})/g)];

  const first = await api('enroll', { link: evil });
  assert.equal(first.ok, false);
  assert.equal(first.error?.code, 'confirm-switch');
  assert.match(first.error.message, /control plane http:\/\/127\.0\.0\.1:9/);
  await until(() => (codes().length === 1 ? true : null), 'the code on the terminal');
  assert.equal(codes()[0]![1], 'http://127.0.0.1:9', 'the terminal names the control plane');
  // the session holder does not see the terminal: guesses are refused, five void the code
  for (let i = 0; i < 5; i++)
    assert.equal((await api('enroll', { link: evil, confirmCode: `GUES-S00${i}` })).error?.code, 'confirm-code-wrong');
  const spent = codes()[0]![2]!;
  assert.equal(
    (await api('enroll', { link: evil, confirmCode: spent })).error?.code,
    'confirm-switch',
    'the voided code no longer works',
  );
  assert.equal((await api('getState', {})).value?.connection, 'unconfigured', 'the agent was not re-pointed');

  // the person, who sees the terminal, confirms: the enrolment itself starts (and here fails: nothing listens)
  await until(() => (codes().length === 2 ? true : null), 'a new code');
  const r = await api('enroll', { link: evil, confirmCode: codes()[1]![2]! });
  assert.ok(!r.ok && !/^confirm-/.test(r.error!.code), `past the confirmation: ${JSON.stringify(r)}`);
  await stop(ui.child);
});
