// Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work here).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from './test-context';
import { after } from './cleanup';
import { chromium, type Browser, type Page } from 'playwright-core';
import { requireProgram } from './system';

/** Debian's Chromium (.ci/run installs it); Playwright never downloads a browser of its own. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless, no sandbox (containers), nothing that talks to the network by itself. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export async function launchChromium(t: TestContext): Promise<Browser | null> {
  const exe = requireProgram(t, 'chromium', "the UI tests drive Debian's Chromium headless");
  if (!exe) return null;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-chromium-'));
  const browser = await chromium.launch({
    executablePath: exe,
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
  });
  after(async () => {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return browser;
}

/** What a page does with the one-time code in `pim ui`'s URL: trades it, once, for the session token. */
export async function webShellSession(uiUrl: string): Promise<{ origin: string; token: string }> {
  const u = new URL(uiUrl);
  const code = new URLSearchParams(u.hash.replace(/^#/, '')).get('code');
  if (!code) throw new Error(`no one-time code in ${uiUrl}`);
  const res = await fetch(`${u.origin}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  const body = (await res.json()) as { ok: boolean; value?: { token: string }; error?: { message: string } };
  if (!body.ok || !body.value)
    throw new Error(`the code was refused (HTTP ${res.status}): ${body.error?.message ?? ''}`);
  return { origin: u.origin, token: body.value.token };
}

/** The web shell asks for the code `pim ui` printed on its terminal before it enrols (switches
 *  control planes): read it from that output, as the person reads their terminal, and confirm. */
export async function confirmEnrolment(page: Page, output: () => string): Promise<string> {
  await page.getByTestId('enrol-confirm-input').waitFor();
  let code: string | undefined;
  for (let i = 0; i < 200 && !code; i++) {
    code = [...output().matchAll(/Confirmation code to enrol with \S+: ([A-Z0-9]{4}-[A-Z0-9]{4})/g)].pop()?.[1];
    if (!code) await new Promise((r) => setTimeout(r, 50));
  }
  if (!code) throw new Error(`pim ui printed no confirmation code:\n${output()}`);
  await page.getByTestId('enrol-confirm-input').fill(code);
  await page.getByTestId('enrol-submit').click();
  return code;
}
