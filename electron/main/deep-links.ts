// pim-agent:// links (from chat notifications, e-mails, the approval page). Parsed strictly: one of
// two actions, only known parameters, each once and well-formed. A link only opens the prefilled
// dialog — activating or approving always takes the user's key touch. Pure.
import { ROLE_NAME_RE as ROLE } from '../../shared/role-name';
export const DEEP_LINK_SCHEME = 'pim-agent';

export type DeepLink = { kind: 'activate'; role: string; duration: number | null } | { kind: 'approve'; id: string };
export type DeepLinkResult = { ok: true; link: DeepLink } | { ok: false; reason: string };

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_LINK = 2048;
/** a duration: whole seconds, or 90m / 2h / 1h30m; at most 7 days (the policy caps it further) */
const DURATION = /^(?:(\d{1,6})|(?:(\d{1,3})h)?(?:(\d{1,5})m)?)$/;

function parseDuration(text: string): number | null {
  const m = DURATION.exec(text);
  if (!m || text === '') return null;
  const s = m[1] !== undefined ? Number(m[1]) : Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60;
  return s >= 60 && s <= 7 * 86400 ? s : null;
}

export function parseDeepLink(raw: string): DeepLinkResult {
  const fail = (reason: string): DeepLinkResult => ({ ok: false, reason });
  if (typeof raw !== 'string' || raw.length > MAX_LINK) return fail('not a PIM Agent link');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail('not a PIM Agent link');
  }
  if (u.protocol !== `${DEEP_LINK_SCHEME}:`) return fail('not a PIM Agent link');
  if (u.username || u.password || u.port || u.hash) return fail('the link carries parts PIM Agent does not use');
  // pim-agent://activate?… : the action is the host; nothing may follow it as a path
  const action = u.host;
  if (u.pathname !== '' && u.pathname !== '/') return fail('the link carries parts PIM Agent does not use');
  const params = new Map<string, string>();
  for (const [k, v] of u.searchParams) {
    if (params.has(k)) return fail(`the parameter ${JSON.stringify(k.slice(0, 40))} appears twice`);
    params.set(k, v);
  }
  const allowed = action === 'activate' ? ['role', 'duration'] : action === 'approve' ? ['id'] : null;
  if (!allowed) return fail(`unknown action ${JSON.stringify(action.slice(0, 40))} (expected activate or approve)`);
  for (const k of params.keys())
    if (!allowed.includes(k)) return fail(`unknown parameter ${JSON.stringify(k.slice(0, 40))} for ${action}`);
  if (action === 'approve') {
    const id = params.get('id');
    if (id === undefined || !ID.test(id)) return fail('approve needs id=<activation id>');
    return { ok: true, link: { kind: 'approve', id } };
  }
  const role = params.get('role');
  if (role === undefined || !ROLE.test(role)) return fail('activate needs role=<role name>');
  const d = params.get('duration');
  if (d === undefined) return { ok: true, link: { kind: 'activate', role, duration: null } };
  const duration = parseDuration(d);
  if (duration === null) return fail('duration must be like 90m, 2h or 1h30m (1 minute to 7 days)');
  return { ok: true, link: { kind: 'activate', role, duration } };
}

/** A deep link from the command line of a (second) instance: Windows and Linux pass it in argv. */
export function deepLinkInArgv(argv: readonly string[]): string | null {
  return argv.find((a) => a.startsWith(`${DEEP_LINK_SCHEME}:`)) ?? null;
}

/** The popover's URL fragment that opens the prefilled dialog (read by the renderer, which only
 *  prefills: nothing is sent until the user submits and touches the key). */
export function deepLinkFragment(link: DeepLink): string {
  if (link.kind === 'approve') return `#approve=${encodeURIComponent(link.id)}`;
  return `#activate=${encodeURIComponent(link.role)}${link.duration !== null ? `&duration=${link.duration}` : ''}`;
}
