// Opening a ceremony page (where the security key is touched), which the control plane serves at
// its own origin. Inside Electron the main process opens it in a locked-down window (or the system
// browser); in the web shell the page opens it in a new tab — from the click handler, so no popup
// blocker interferes, and with noopener so the ceremony page cannot reach back into this one.
import type { ApiError, PimApi } from '../shared/api';
import { isCeremonyUrl } from '../shared/ceremony-url';
import { isElectronHost } from './client';

export async function openCeremony(
  client: PimApi,
  url: string,
  server: string | null,
  opts: { external?: boolean } = {},
): Promise<ApiError | null> {
  if (!isCeremonyUrl(url, server))
    return { code: 'bad-ceremony-url', message: 'that is not a ceremony page of your control plane' };
  if (isElectronHost()) {
    const r = await client.openCeremony({ url, external: opts.external });
    return r.ok ? null : r.error;
  }
  window.open(url, '_blank', 'noopener');
  return null;
}
