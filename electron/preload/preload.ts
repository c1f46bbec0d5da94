// Runs in the sandboxed renderer before the page. Exposes `window.pim` with exactly one function
// per contract method, each a fixed `pim:<method>` IPC call — no ipcRenderer, no generic invoke,
// no way to pick a channel from the page. The main process still checks the sender and the input.
import { contextBridge, ipcRenderer } from 'electron';
// The contract comes bundled in (zod with it): a sandboxed preload can require only 'electron'.
import { channelFor, methods } from '../../shared/api';

const api = {} as Record<string, (input: unknown) => Promise<unknown>>;
for (const method of methods) {
  const channel = channelFor(method);
  api[method] = (input: unknown) => ipcRenderer.invoke(channel, input);
}

contextBridge.exposeInMainWorld('pim', Object.freeze(api));
