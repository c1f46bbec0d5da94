// `window.pim` is put there by electron/preload/preload.ts; absent in the web shell.
import type { PimApi } from '../shared/api';

declare global {
  interface Window {
    pim?: PimApi;
  }
}

export {};
