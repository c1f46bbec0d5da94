// `npm run screenshots`: the popover's main views, light and dark, at the popover's real size
// (400 x 560), regenerated from a real control plane and real agents (test/helpers/popover-views.ts)
// in Debian's Chromium → docs/screenshots/<view>-<light|dark>.png.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { openView, startPopoverWorld, VIEWS } from '../test/helpers/popover-views';

const OUT = path.resolve(__dirname, '..', 'docs', 'screenshots');

async function main(): Promise<void> {
  const executablePath = process.env.PIM_CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(executablePath))
    throw new Error(`no Chromium at ${executablePath}: install chromium (apt) or set PIM_CHROMIUM`);
  const cleanups: (() => void | Promise<void>)[] = [];
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  cleanups.push(() => browser.close());
  try {
    const world = await startPopoverWorld((fn) => cleanups.push(fn));
    fs.mkdirSync(OUT, { recursive: true });
    for (const scheme of ['light', 'dark'] as const) {
      for (const view of VIEWS) {
        const { page, close } = await openView(browser, world, view, scheme);
        const file = path.join(OUT, `${view}-${scheme}.png`);
        await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
        process.stderr.write(`screenshots: ${path.relative(process.cwd(), file)}\n`);
        await close();
      }
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`screenshots: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
