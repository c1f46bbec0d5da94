// `pim`: the agent's command line. One-shot commands answer from agent.db (offline-capable);
// `pim agent` and `pim ui` keep running.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../../shared/policy/duration';
import { Agent, AgentError } from '../agent';
import { resolveHome } from '../home';
import { RefreshError } from '../policy/errors';
import { checkText, clean, rolesText, statusLine, utc } from './format';

const HELP = `pim — PIM Agent command line (just-in-time privileged access)

Usage:
  pim connect URL --user EMAIL --root FILE
      Pin the control plane's TUF trust root and remember who you are. (--user without
      enrolment is the demo/test path; enrolment with a security key replaces it.)
  pim policy refresh [--json]     Fetch, verify and cache the signed policy
  pim roles [--all] [--json]      Roles you may activate, and why not the others (works offline)
  pim check ROLE [--duration 2h] [--json]
                                  Could you activate ROLE now? Exit 0 yes, 3 no
  pim status [--json]             Server, user, policy version, expiry, online/offline
  pim agent                       Run the agent headless (periodic refresh with backoff)
  pim ui [--no-open] [--port N]   Serve the UI on 127.0.0.1 and open it in the browser
  pim start                       What \`npm start\` runs: the embedded demo control plane when
                                  nothing is configured, then the tray app or the web shell

Global options:
  --home DIR      state folder (default: $PIM_HOME, else the OS's per-user app data folder)
  -h, --help      this help
`;

const EXIT = { ok: 0, error: 1, usage: 2, denied: 3 } as const;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        home: { type: 'string' },
        json: { type: 'boolean' },
        all: { type: 'boolean' },
        user: { type: 'string' },
        root: { type: 'string' },
        duration: { type: 'string' },
        port: { type: 'string' },
        'no-open': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`pim: ${(e as Error).message}\n(see pim --help)\n`);
    return EXIT.usage;
  }
  const { values: o, positionals: pos } = parsed;
  const cmd = pos[0];
  if (o.help || !cmd || cmd === 'help') {
    process.stdout.write(HELP);
    return o.help || cmd === 'help' ? EXIT.ok : EXIT.usage;
  }
  const home = resolveHome(o.home);
  const out = (s: string) => process.stdout.write(s);
  const json = (v: unknown) => out(JSON.stringify(v, null, 2) + '\n');

  try {
    switch (cmd) {
      case 'connect': {
        const url = pos[1];
        if (!url || pos.length !== 2 || !o.user || !o.root) throw new UsageError('usage: pim connect URL --user EMAIL --root FILE');
        let root: Buffer;
        try {
          root = fs.readFileSync(o.root);
        } catch (e) {
          throw new AgentError('bad-input', `cannot read the trust root ${o.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const agent = new Agent(home);
        try {
          agent.connect({ server: url, user: o.user, root, unenrolled: true });
          const c = agent.store.connection()!;
          out(`connected to ${c.server} as ${c.user}\n(demo/test path: --user without security-key enrolment)\n`);
          try {
            const r = await agent.refresh();
            out(`policy v${r.version} verified; usable offline until ${utc(r.expires)}\n`);
          } catch (e) {
            process.stderr.write(`pim: connected, but the first policy refresh failed: ${(e as Error).message}\n`);
          }
        } finally {
          agent.close();
        }
        return EXIT.ok;
      }
      case 'policy': {
        if (pos[1] !== 'refresh' || pos.length !== 2) throw new UsageError('usage: pim policy refresh [--json]');
        return await withAgent(home, async (agent) => {
          try {
            const r = await agent.refresh();
            if (o.json) json({ ok: true, ...r });
            else out(`policy v${r.version} verified${r.changed ? '' : ' (unchanged)'}; usable offline until ${utc(r.expires)}\n`);
            return EXIT.ok;
          } catch (e) {
            const err = e as RefreshError;
            const cached = agent.store.policy();
            if (o.json) json({ ok: false, code: err.code, kind: err.kind, message: err.message, cachedVersion: cached?.version ?? null });
            else process.stderr.write(`pim: ${err.message}\n${cached ? `keeping the cached policy v${cached.version}\n` : ''}`);
            return EXIT.error;
          }
        });
      }
      case 'roles':
        return await withAgent(home, async (agent) => {
          const s = agent.state();
          const roles = o.all ? agent.listAllRoles() : s.roles;
          if (o.json) json({ ...s, roles });
          else out(rolesText(s, roles, !o.all));
          return EXIT.ok;
        });
      case 'check': {
        const role = pos[1];
        if (!role || pos.length !== 2) throw new UsageError('usage: pim check ROLE [--duration 2h] [--json]');
        let duration: number | undefined;
        if (o.duration !== undefined) {
          try {
            duration = parseDuration(o.duration);
          } catch (e) {
            throw new UsageError(`--duration: ${(e as Error).message}`);
          }
        }
        return await withAgent(home, async (agent) => {
          const d = agent.check(role, duration);
          if (o.json) json(d);
          else out(checkText(d));
          return d.allowed ? EXIT.ok : EXIT.denied;
        });
      }
      case 'status':
        return await withAgent(home, async (agent) => {
          const s = agent.state();
          const conn = agent.store.connection();
          const { roles: _r, ...rest } = s;
          if (o.json) json({ ...rest, home, unenrolled: conn?.unenrolled ?? null, demo: conn?.demo ?? null });
          else {
            out(`home:    ${home}\n`);
            out(`server:  ${s.server ?? '(not connected)'}${conn?.unenrolled ? '  [connected with --user: demo/test path, not enrolled]' : ''}\n`);
            out(`user:    ${s.user?.email ?? '-'}${s.user?.groups.length ? ` (groups: ${s.user.groups.map(clean).join(', ')})` : ''}\n`);
            out(`status:  ${statusLine(s)}\n`);
            if (s.lastAttemptAt) out(`last refresh attempt: ${utc(s.lastAttemptAt)}\n`);
          }
          return EXIT.ok;
        });
      case 'agent': {
        const { runHeadless } = await import('./long-running');
        return await runHeadless(home);
      }
      case 'ui': {
        const { runUi } = await import('./long-running');
        const port = o.port !== undefined ? Number(o.port) : undefined;
        if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError('--port must be 0..65535');
        return await runUi(home, { open: !o['no-open'], port });
      }
      case 'start': {
        const { runStart } = await import('./start');
        return await runStart(home, { open: !o['no-open'] });
      }
      default:
        throw new UsageError(`unknown command "${clean(cmd)}" (see pim --help)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`pim: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof AgentError || e instanceof RefreshError) {
      process.stderr.write(`pim: ${e.message}\n`);
      return EXIT.error;
    }
    process.stderr.write(`pim: ${(e as Error).message}\n`);
    return EXIT.error;
  }
}

async function withAgent<T>(home: string, fn: (a: Agent) => Promise<T>): Promise<T> {
  const agent = new Agent(home);
  try {
    return await fn(agent);
  } finally {
    agent.close();
  }
}
