// Driving the BUILT main process (dist/electron-main.cjs) under the Electron stand-in: start it for
// an agent home, read and click its tray menu, call its IPC handlers as the popover does, quit it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { createStandIn, flatMenu, loadMain, until, type StandIn } from './electron-stand-in';
import { ROOT } from './repo';

export const MAIN = path.join(ROOT, 'dist', 'electron-main.cjs');
export const APP_URL = 'app://pim/index.html';
/** an IPC event from the popover's own page */
export const TRUSTED = { senderFrame: { url: APP_URL } };

/** Starts the built main process for the agent home `home`; resolves once the tray has its menu. */
export async function startMain(home: string): Promise<StandIn> {
  process.env.PIM_HOME = home;
  const s = createStandIn(ROOT);
  loadMain(MAIN, s);
  await until('the tray and its first menu', () => s.trays[0]?.menu);
  return s;
}

export function labels(s: StandIn): string[] {
  return flatMenu(s.trays[0]!.menu).map((i) => i.label ?? `(${i.type})`);
}

export function item(s: StandIn, id: string) {
  return flatMenu(s.trays[0]!.menu).find((i) => i.id === id);
}

export type IpcResult = { ok: boolean; value?: never; error?: { code: string; message: string } };

export async function call(s: StandIn, method: string, input: unknown, event: unknown = TRUSTED): Promise<IpcResult> {
  const h = s.ipc.get(`pim:${method}`);
  assert.ok(h, `a handler for ${method}`);
  return (await h(event, input)) as IpcResult;
}

/** Requests `role` over IPC as the popover does; returns the ceremony page the key must sign on. */
export async function request(s: StandIn, role: string, duration: number): Promise<string> {
  const r = await call(s, 'activate', { role, duration });
  assert.equal(r.ok, true, JSON.stringify(r.error));
  return (r.value as unknown as { ceremonyUrl: string }).ceremonyUrl;
}

/** Clicks "Refresh policy" and waits for the menu rebuilt after it. */
export async function refresh(s: StandIn): Promise<void> {
  const sets = s.trays[0]!.menuSets;
  item(s, 'refresh')!.click!();
  await until('the menu rebuilt after a refresh', () => s.trays[0]!.menuSets > sets);
}

/** Quit from the tray menu; resolves when the agent has stopped and the app quit. */
export async function quit(s: StandIn): Promise<void> {
  item(s, 'quit')!.click!();
  await until('the app to quit after stopping the agent', () => s.app.quitCount === 1);
}
