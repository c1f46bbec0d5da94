// What `pim roles` and `pim status` print. The full CLI (main.ts) and the fast path (fast-run.ts)
// both call these, so the two cannot drift apart byte for byte.
import type { Agent } from '../agent';
import { clean, rolesText, statusLine, utc } from './format';

export function rolesOutput(agent: Agent, o: { all?: boolean; json?: boolean }): string {
  const s = agent.state();
  const roles = o.all ? agent.listAllRoles() : s.roles;
  return o.json ? JSON.stringify({ ...s, roles }, null, 2) + '\n' : rolesText(s, roles, !o.all);
}

export function statusOutput(agent: Agent, home: string, o: { json?: boolean }): string {
  const s = agent.state();
  const conn = agent.store.connection();
  const { roles: _r, ...rest } = s;
  if (o.json)
    return (
      JSON.stringify({ ...rest, home, unenrolled: conn?.unenrolled ?? null, demo: conn?.demo ?? null }, null, 2) + '\n'
    );
  let t = `home:    ${home}\n`;
  t += `server:  ${s.server ?? '(not connected)'}${conn?.unenrolled ? '  [connected with --user: demo/test path, not enrolled]' : ''}\n`;
  t += `user:    ${s.user?.email ?? '-'}${s.user?.groups.length ? ` (groups: ${s.user.groups.map(clean).join(', ')})` : ''}\n`;
  t += `status:  ${statusLine(s)}\n`;
  if (s.lastAttemptAt) t += `last refresh attempt: ${utc(s.lastAttemptAt)}\n`;
  return t;
}
