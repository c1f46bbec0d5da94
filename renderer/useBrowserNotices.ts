// The web shell's desktop notifications, through the browser's Notification API: the same notices,
// once each, as the tray app shows (shared/desktop-notices). Electron's main process shows them
// there, so this does nothing inside Electron.
import { useEffect, useRef, useState } from 'react';
import type { ActivationView, AgentState, PimApi } from '../shared/api';
import { desktopNoticesToShow, noticeFragment } from '../shared/desktop-notices';
import { isElectronHost } from './client';

/** requests waiting for this user and the audit sync's health: asked once a minute */
const EXTRAS_MS = 60_000;

export function useBrowserNotices(client: PimApi, state: AgentState | null, onOpen: (fragment: string) => void): void {
  const seen = useRef<ReadonlySet<string> | null>(null);
  const [extras, setExtras] = useState<{ approvals: ActivationView[]; auditFailingSince: string | null }>({
    approvals: [],
    auditFailingSince: null,
  });
  const active = !isElectronHost() && typeof Notification !== 'undefined';
  const enrolled = state?.enrolled === true;

  useEffect(() => {
    if (!active || !enrolled) return;
    let stopped = false;
    const ask = async () => {
      const [approvals, audit] = await Promise.all([client.approvals({}), client.auditView({ limit: 1 })]);
      if (stopped) return;
      setExtras((prev) => ({
        approvals: approvals.ok ? approvals.value : prev.approvals,
        auditFailingSince: audit.ok ? audit.value.sync.failingSince : prev.auditFailingSince,
      }));
    };
    void ask();
    const timer = setInterval(() => void ask(), EXTRAS_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [active, enrolled, client]);

  useEffect(() => {
    if (!state || !active) return;
    if (Notification.permission === 'default') void Notification.requestPermission().catch(() => undefined);
    const prime = seen.current === null;
    const r = desktopNoticesToShow({ state, ...extras }, seen.current ?? new Set(), { prime });
    seen.current = r.seen;
    if (Notification.permission !== 'granted') return;
    for (const n of r.show) {
      const note = new Notification(n.title, { body: n.body, tag: n.key });
      note.onclick = () => {
        window.focus();
        onOpen(noticeFragment(n));
      };
    }
  }, [state, extras, active, onOpen]);
}
