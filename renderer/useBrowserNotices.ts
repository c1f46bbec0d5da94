// The web shell's desktop notifications, through the browser's Notification API: the same notices,
// once each, as the tray app shows (shared/desktop-notices). Electron's main process shows them
// there, so this does nothing inside Electron.
import { useEffect, useRef } from 'react';
import type { AgentState } from '../shared/api';
import { desktopNoticesToShow, noticeFragment } from '../shared/desktop-notices';
import { isElectronHost } from './client';

export function useBrowserNotices(state: AgentState | null, onOpen: (fragment: string) => void): void {
  const seen = useRef<ReadonlySet<string> | null>(null);
  useEffect(() => {
    if (!state || isElectronHost() || typeof Notification === 'undefined') return;
    if (Notification.permission === 'default') void Notification.requestPermission().catch(() => undefined);
    const prime = seen.current === null;
    const r = desktopNoticesToShow({ state, approvals: [], auditFailingSince: null }, seen.current ?? new Set(), { prime });
    seen.current = r.seen;
    if (Notification.permission !== 'granted') return;
    for (const n of r.show) {
      const note = new Notification(n.title, { body: n.body, tag: n.key });
      note.onclick = () => {
        window.focus();
        onOpen(noticeFragment(n));
      };
    }
  }, [state, onOpen]);
}
