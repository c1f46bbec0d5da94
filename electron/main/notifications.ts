// Native notifications before an active role ends: one per notice key (activation × threshold,
// i.e. at T-10 and again at T-2 min), never repeated. Pure — main.ts shows what this returns with
// Electron's Notification, and a click opens the popover, whose banner has the one-click Extend.
import type { AgentState } from '../../shared/api';
import { noticeText, unseenNotices } from '../../shared/notices';
import { plainText } from './tray-menu';

export interface NativeNotice {
  key: string;
  title: string;
  body: string;
}

const MAX_TITLE = 80;

/**
 * What to pop up for this state, and the keys to remember: every notice not shown yet. The keys
 * kept are those of the current notices (a passed threshold never comes back, so the set stays
 * small); without a state (the agent could not answer) nothing changes.
 */
export function noticesToShow(state: Pick<AgentState, 'notices'> | null, seen: ReadonlySet<string>): { show: NativeNotice[]; seen: ReadonlySet<string> } {
  if (!state) return { show: [], seen };
  const show = unseenNotices(state.notices, seen).map((n) => {
    const title = plainText(noticeText(n));
    return {
      key: n.key,
      title: Array.from(title).length > MAX_TITLE ? `${Array.from(title).slice(0, MAX_TITLE - 1).join('')}…` : title,
      body: 'Click to extend it in PIM Agent (your security key signs the extension).',
    };
  });
  return { show, seen: new Set(state.notices.map((n) => n.key)) };
}
