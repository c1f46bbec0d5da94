// The real Electron app, for machines that have Electron's binary. These machines cannot download
// it (the electron npm package fetches it lazily from a host they cannot reach), so here this test
// says so and skips; everything the window shows is tested through the web shell (popover.test.ts)
// and every decision of the shell is a unit-tested pure function (tray-menu, window-options, ipc-router).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from './fixtures';
import { electronUnavailable } from '../../app/start';
import { methods } from '../../shared/api';
import { ROOT, tmpDir } from '../helpers/repo';

test('the Electron app starts, shows its popover, and exposes exactly the contract to it', async ({}, t) => {
  const why = electronUnavailable();
  if (why) {
    process.stderr.write(`\n*** SKIPPED electron.test.ts: ${why} ***\n\n`);
    t.skip(true, why);
    return;
  }
  const { _electron } = await import('playwright-core');
  const app = await _electron.launch({
    args: [path.join(ROOT, 'dist', 'electron-main.cjs')],
    env: { ...process.env, PIM_HOME: tmpDir() },
  });
  try {
    const win = await app.firstWindow();
    await win.getByTestId('connection-badge').waitFor();
    const exposed = await win.evaluate(() => Object.keys((window as unknown as { pim: object }).pim).sort());
    assert.deepEqual(exposed, [...methods].sort());
    assert.equal(await win.evaluate(() => typeof (window as unknown as { require?: unknown }).require), 'undefined');
  } finally {
    await app.close();
  }
});
