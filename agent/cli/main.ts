// `pim`: the agent's command line. One-shot commands answer from agent.db (offline-capable);
// `pim agent` and `pim ui` keep running.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PimError } from '../../shared/errors';
import { formatDuration, parseDuration } from '../../shared/policy/duration';
import { nearest } from '../../shared/policy/review';
import type { ActivationService } from '../activation/service';
import { Agent, AgentError } from '../agent';
import { resolveHome } from '../home';
import { RefreshError } from '../policy/errors';
import { reportLines } from '../credentials/scheduler';
import { exportLines, shellInit, SHELLS, type Shell } from '../credentials/shell';
import { activationsText, checkText, clean, neverSigned, utc } from './format';
import { rolesOutput, statusOutput } from './fast-commands';

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
  pim enroll LINK [--no-open]     Enrol this device with the link from your admin: creates the
                                  device key and registers your security key in the browser
  pim activate ROLE [--duration 1h] [--reason TEXT] [--ticket ID] [--wait] [--timeout D] [--no-open] [--json]
                                  Ask for ROLE; touch your key on the page it opens. --wait waits
                                  for the approval too, as long as it takes (progress on stderr;
                                  retries if the control plane is away). Ctrl-C stops waiting and
                                  leaves the request pending (exit 4, also when the control plane
                                  cannot be reached). Exit 0 active; 3 refused by policy before
                                  anything was signed; 4 still waiting; 5 ended without becoming
                                  active: denied by an approver, refused by the policy in force
                                  when it was signed or approved ("not granted when …"), or
                                  expired; 1 error. An active role is not requested again (use
                                  pim extend)
  pim wait ID [--timeout D] [--json]
                                  Pick a request up again (after Ctrl-C, or exit 4): wait until it
                                  is decided, then put its credentials in place; same exit codes
  pim extend ROLE [--duration 1h] [--reason TEXT] [--ticket ID] [--wait] [--no-open]
                                  More time on an active role: a new signed request chained to it
  pim deactivate ROLE             Give an active role back early (its credentials go at once)
  pim credentials [sweep] [--json]
                                  What is injected where (kube contexts, AWS profiles, SSH
                                  certificates); \`sweep\` removes anything of ours past its end
  pim env ROLE [--shell bash|zsh|fish|sh]
                                  Print the exports that select ROLE's credentials in this shell
                                  (AWS_PROFILE, KUBECONFIG with the role's context): eval "$(pim env ROLE)"
  pim exec ROLE -- COMMAND [ARG…] Run one command with ROLE's environment; exits with its code
  pim shell-init bash|zsh|fish|sh Prompt segment with your active roles and minutes left:
                                  eval "$(pim shell-init bash)" in ~/.bashrc
  pim activations [--all] [--json]
                                  Your recent activations, their states and who approved them
                                  (--all: also requests nobody signed, which lapse after 5 min)
  pim approvals [--json]          Requests waiting for your approval
  pim approve ID [--reason TEXT] [--no-open]
  pim deny ID --reason TEXT [--no-open]
                                  Decide on a request; your key signs the decision
  pim audit list [--json] [--role ROLE] [--type TYPE] [--limit N]
                                  This device's audit journal (the last N records, default 100)
  pim audit verify                Check the journal's hash chain: exit 0 intact, 1 broken (names
                                  the record) or not verifiable; online, also against the
                                  control plane's signed head
  pim audit sync                  Send the records the control plane does not hold yet
  pim agent                       Run the agent headless (periodic refresh with backoff). It has no
                                  screen-lock signal: roles with onLock: deactivate end on lock only
                                  in the tray app
  pim ui [--no-open] [--port N]   Serve the UI on 127.0.0.1 and open it in the browser
  pim start                       What \`npm start\` runs: the embedded demo control plane when
                                  nothing is configured, then the tray app or the web shell

Global options:
  --home DIR      state folder (default: $PIM_HOME, else the OS's per-user app data folder)
  --json          one JSON object on stdout, also when the command fails ({ ok: false, error })
  -h, --help      this help; \`pim COMMAND --help\` (or \`pim help COMMAND\`): that command only
  -V, --version   the version of pim

Exit codes: 0 done, 1 error, 2 usage, 3 refused by policy, 4 waiting (approval or key touch),
5 ended without becoming active (denied, refused by the policy once signed, or expired).
`;

const EXIT = { ok: 0, error: 1, usage: 2, denied: 3, pending: 4, ended: 5 } as const;

class UsageError extends PimError<'usage'> {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Error codes that mean "the policy says no" (offline or on the control plane): exit 3. */
const REFUSALS: ReadonlySet<string> = new Set(['not-allowed']);

/** What only an entry point can provide: `pim start` embeds the demo control plane (app/start.ts),
 * which the agent must not import itself (the agent never imports server/). */
export interface EntryHooks {
  start?: (home: string, opts: { open: boolean }) => Promise<number>;
}

export async function main(argv: string[], hooks: EntryHooks = {}): Promise<number> {
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
        reason: { type: 'string' },
        ticket: { type: 'string' },
        wait: { type: 'boolean' },
        timeout: { type: 'string' },
        role: { type: 'string' },
        type: { type: 'string' },
        limit: { type: 'string' },
        shell: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (e) {
    process.stderr.write(`pim: ${(e as Error).message}\n(see pim --help)\n`);
    return EXIT.usage;
  }
  const { values: o, positionals: pos } = parsed;
  const cmd = pos[0];
  if (o.version || cmd === 'version') {
    const { packageRoot } = await import('../package-root');
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`pim ${pkg.version} (Node ${process.versions.node})\n`);
    return EXIT.ok;
  }
  const topic = cmd === 'help' ? pos[1] : o.help ? cmd : undefined;
  if (topic) {
    const text = commandHelp(topic);
    if (text) {
      process.stdout.write(text);
      return EXIT.ok;
    }
  }
  if (o.help || !cmd || cmd === 'help') {
    process.stdout.write(HELP);
    return o.help || cmd === 'help' ? EXIT.ok : EXIT.usage;
  }
  const home = resolveHome(o.home);
  // what to do next (open this page, touch the key) goes to stderr, so stdout stays the answer
  const prompt = (s: string) => process.stderr.write(`${s}\n`);
  let answered = false;
  const out = (s: string) => {
    answered = true;
    process.stdout.write(s);
  };
  const json = (v: unknown) => out(JSON.stringify(v, null, 2) + '\n');

  try {
    switch (cmd) {
      case 'connect': {
        const url = pos[1];
        if (!url || pos.length !== 2 || !o.user || !o.root)
          throw new UsageError('usage: pim connect URL --user EMAIL --root FILE');
        let root: Buffer;
        try {
          root = fs.readFileSync(o.root);
        } catch (e) {
          throw new AgentError(
            'bad-input',
            `cannot read the trust root ${o.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          );
        }
        const agent = new Agent(home);
        try {
          // an enrolled agent switching to the --user path: its journal records the change first
          const journal = await agent.activeJournal();
          const prev = agent.store.connection();
          if (journal && prev) {
            journal.append('config-changed', prev.user, {
              what: 'connection',
              from: { server: prev.server, user: prev.user, enrolled: true },
              to: { server: url, user: o.user.trim().toLowerCase(), enrolled: false },
            });
          }
          agent.connect({ server: url, user: o.user, root, unenrolled: true });
          const c = agent.store.connection()!;
          const ctx = { server: c.server, user: c.user, rootFile: o.root, root };
          let r;
          try {
            r = await agent.refresh();
          } catch (e) {
            const { connectFailure } = await import('./connect-check');
            throw new AgentError(
              (e as RefreshError).code ?? 'error',
              await connectFailure(e as RefreshError, ctx, probe(c.server)),
            );
          }
          if (!agent.store.policy()?.memberJson && agent.state().roles.length === 0) {
            const { unknownUserText } = await import('./connect-check');
            throw new AgentError('unknown-user', unknownUserText(ctx));
          }
          out(`connected to ${c.server} as ${c.user}\n(demo/test path: --user without security-key enrolment)\n`);
          out(`policy v${r.version} verified; usable offline until ${utc(r.expires)}\n`);
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
            else
              out(
                `policy v${r.version} verified${r.changed ? '' : ' (unchanged)'}; usable offline until ${utc(r.expires)}\n`,
              );
            return EXIT.ok;
          } catch (e) {
            const err = e as RefreshError;
            const cached = agent.store.policy();
            if (o.json)
              json({
                ok: false,
                code: err.code,
                kind: err.kind,
                message: err.message,
                cachedVersion: cached?.version ?? null,
              });
            else
              process.stderr.write(
                `pim: ${err.message}\n${cached ? `keeping the cached policy v${cached.version}\n` : ''}`,
              );
            return EXIT.error;
          }
        });
      }
      case 'roles':
        return await withAgent(home, async (agent) => {
          out(rolesOutput(agent, o));
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
          requireRole(agent, role);
          const d = agent.check(role, duration);
          if (o.json) json(d);
          else out(checkText(d));
          return d.allowed ? EXIT.ok : EXIT.denied;
        });
      }
      case 'status':
        return await withAgent(home, async (agent) => {
          out(statusOutput(agent, home, o));
          return EXIT.ok;
        });
      case 'enroll':
      case 'enrol': {
        if (pos.length !== 2) throw new UsageError('usage: pim enroll LINK');
        return await withActivation(home, async (svc, agent) => {
          const r = await svc.enroll(pos[1]!, {
            onKeystoreChosen: (s) => prompt(s),
            onCeremony: (url) => {
              prompt(`Register your security key: ${url}`);
              if (!o['no-open']) void openUrl(url);
            },
            timeoutMs: waitMs(o.timeout, 15 * 60_000),
          });
          out(`enrolled ${r.user} with ${r.server}; this device's requests are now signed by its device key\n`);
          try {
            const p = await agent.refresh();
            out(`policy v${p.version} verified; usable offline until ${utc(p.expires)}\n`);
          } catch (e) {
            process.stderr.write(`pim: enrolled, but the first policy refresh failed: ${(e as Error).message}\n`);
          }
          await syncSoon(agent);
          return EXIT.ok;
        });
      }
      case 'activate':
      case 'extend': {
        const role = pos[1];
        if (!role || pos.length !== 2)
          throw new UsageError(`usage: pim ${cmd} ROLE [--duration 1h] [--reason TEXT] [--ticket ID] [--wait]`);
        const duration = o.duration === undefined ? undefined : durationOf(o.duration);
        return await withActivation(home, async (svc, agent) => {
          requireRole(agent, role);
          const ask = { duration, justification: o.reason, ticket: o.ticket };
          if (cmd === 'activate') {
            // unreachable or not enrolled: the request below says so (after the offline policy check)
            const live = await svc.activeOn(role).catch(() => null);
            if (live) {
              // activating twice would only start a second signed request for what is already there
              prompt(
                `${clean(role)} is already active until ${live.expiresAt ? utc(live.expiresAt) : '?'}; nothing new was requested. For more time: pim extend ${clean(role)}`,
              );
              const creds = await (await svc.credentials()).reconcile();
              if (o.json) json({ ...live, alreadyActive: true, credentials: creds });
              else out(outcomeText(live));
              return EXIT.ok;
            }
          }
          const a = cmd === 'extend' ? await svc.extend(role, ask) : await svc.request(role, ask);
          prompt(`Touch your security key to sign this request: ${a.ceremonyUrl}`);
          if (!o['no-open'] && a.ceremonyUrl) void openUrl(a.ceremonyUrl);
          return await waitAndReport(svc, agent, a.id, {
            untilDecided: !!o.wait,
            timeoutMs: o.timeout === undefined ? undefined : waitMs(o.timeout, 0),
            json: o.json ? json : null,
            out,
            prompt,
          });
        });
      }
      case 'wait': {
        const id = pos[1];
        if (!id || pos.length !== 2) throw new UsageError('usage: pim wait ID [--timeout 2h] [--json]');
        return await withActivation(home, async (svc, agent) =>
          waitAndReport(svc, agent, id, {
            untilDecided: true,
            timeoutMs: o.timeout === undefined ? undefined : waitMs(o.timeout, 0),
            json: o.json ? json : null,
            out,
            prompt,
          }),
        );
      }
      case 'deactivate': {
        const role = pos[1];
        if (!role || pos.length !== 2) throw new UsageError('usage: pim deactivate ROLE');
        return await withActivation(home, async (svc, agent) => {
          requireRole(agent, role);
          for (const a of await svc.deactivate(role)) out(`${clean(a.role)} (${a.id}): ${a.state}\n`);
          const creds = await (await svc.credentials()).reconcile();
          for (const l of reportLines(creds)) out(`  ${clean(l)}\n`);
          await syncSoon(agent);
          return EXIT.ok;
        });
      }
      case 'activations':
        return await withActivation(home, async (svc) => {
          const all = await svc.list();
          if (o.json) json(o.all ? all : all.filter((a) => !neverSigned(a)));
          else out(activationsText(all, { all: o.all }));
          return EXIT.ok;
        });
      case 'approvals':
        return await withActivation(home, async (svc) => {
          const list = await svc.approvals();
          if (o.json) json(list);
          else if (list.length === 0) out('No requests are waiting for your approval.\n');
          else
            for (const a of list) {
              const r = a.request;
              out(
                `${a.id}  ${clean(a.user)} asks for ${clean(a.role)} for ${formatDuration(r.duration)}\n    reason: ${clean(r.justification ?? '-')}${r.ticket ? `   ticket: ${clean(r.ticket)}` : ''}\n    approve: pim approve ${a.id}    deny: pim deny ${a.id} --reason "…"\n`,
              );
            }
          return EXIT.ok;
        });
      case 'approve':
      case 'deny': {
        const id = pos[1];
        if (!id || pos.length !== 2)
          throw new UsageError(`usage: pim ${cmd} ID${cmd === 'deny' ? ' --reason TEXT' : ' [--reason TEXT]'}`);
        if (cmd === 'deny' && !o.reason?.trim())
          throw new UsageError('a denial needs --reason: the requester will see it');
        return await withActivation(home, async (svc, agent) => {
          const c = await svc.decide(id, cmd, o.reason ?? null);
          prompt(`Touch your security key to sign your decision: ${c.ceremonyUrl}`);
          if (!o['no-open']) void openUrl(c.ceremonyUrl);
          const a = await svc.waitForDecision(id, agent.store.connection()!.user, waitMs(o.timeout, 10 * 60_000));
          await syncSoon(agent);
          out(`${clean(a.role)} for ${clean(a.user)}: ${a.state}\n`);
          return a.approvals.some((x) => x.approver === agent.store.connection()!.user) ? EXIT.ok : EXIT.pending;
        });
      }
      case 'audit': {
        const sub = pos[1];
        if (pos.length !== 2 || !['list', 'verify', 'sync'].includes(sub ?? ''))
          throw new UsageError(
            'usage: pim audit list [--json] [--role ROLE] [--type TYPE] [--limit N] | pim audit verify | pim audit sync',
          );
        if (sub === 'list') {
          let limit: number | undefined;
          if (o.limit !== undefined) {
            limit = Number(o.limit);
            if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a whole number ≥ 1');
          }
          return await withAgent(home, async (agent) => {
            const records = (await agent.journal()).list({ limit, role: o.role, type: o.type });
            if (o.json) json(records);
            else if (records.length === 0)
              out('The audit journal has no records yet (it starts when this device is enrolled).\n');
            else for (const r of records) out(`${auditLine(r.record)}\n`);
            return EXIT.ok;
          });
        }
        if (sub === 'verify') {
          return await withAgent(home, async (agent) => {
            const j = await agent.journal();
            const v = j.verify();
            if (!v.ok && v.problem?.kind !== 'unverifiable') {
              process.stderr.write(`pim: the audit journal is broken: ${v.message}\n`);
              return EXIT.error;
            }
            if (v.device === null) {
              out('The audit journal is empty: it starts when this device is enrolled.\n');
              return EXIT.ok;
            }
            // online, the control plane's signed head also catches records deleted together with
            // the signed ack kept here (and the cursor reset)
            const { checkAgainstServerHead } = await import('../audit/head-check');
            const head = await checkAgainstServerHead(agent, j);
            if (head.kind === 'truncated') {
              process.stderr.write(`pim: the audit journal is broken: ${head.message}\n`);
              return EXIT.error;
            }
            if (!v.ok && !(head.kind === 'consistent' && head.seq >= j.acked())) {
              const offline = head.kind === 'unknown' ? ` (${head.why})` : '';
              process.stderr.write(`pim: the audit journal cannot be verified: ${v.message}${offline}\n`);
              return EXIT.error;
            }
            const against =
              head.kind === 'consistent'
                ? `the control plane's signed head (seq ${head.seq}) matches`
                : `not compared with the control plane: ${head.why}`;
            out(
              `audit journal intact: ${v.count} record(s), device ${v.device.slice(0, 16)}…; the control plane holds up to seq ${j.acked()}; ${against}\n`,
            );
            return EXIT.ok;
          });
        }
        return await withAgent(home, async (agent) => {
          const { syncOnce } = await import('../audit/sync');
          const r = await syncOnce(agent);
          out(`synced ${r.sent} records; server holds up to seq ${r.acked}\n`);
          return EXIT.ok;
        });
      }
      case 'credentials': {
        const sub = pos[1] ?? 'list';
        if (!['list', 'sweep'].includes(sub) || pos.length > 2)
          throw new UsageError('usage: pim credentials [list|sweep] [--json]');
        return await withActivation(home, async (svc) => {
          const mgr = await svc.credentials();
          if (sub === 'sweep') {
            const r = await mgr.sweep();
            if (o.json) json(r);
            else for (const l of reportLines(r).length ? reportLines(r) : ['nothing to remove']) out(`${clean(l)}\n`);
            return EXIT.ok;
          }
          // a certificate that found no ssh-agent is added now if this shell has one
          if (mgr.injected().some((v) => v.items.some((it) => it.problem))) {
            for (const l of reportLines(await mgr.reconcile()).filter((x) => !x.startsWith('warning:')))
              process.stderr.write(`${clean(l)}\n`);
          }
          const list = mgr.injected();
          if (o.json) json(list);
          else if (list.length === 0) out('No credentials are injected.\n');
          else
            for (const v of list) {
              out(
                `${clean(v.role)} (${v.activation}) ${v.endedAt ? `ENDED at ${utc(v.endedAt)}; its helpers explain why until they are removed` : `until ${utc(v.expiresAt)}`}\n`,
              );
              for (const it of v.items)
                out(
                  it.problem
                    ? `  ${it.kind.padEnd(4)} ${clean(it.name)}  NOT ADDED: ${clean(it.problem)}\n`
                    : `  ${it.kind.padEnd(4)} ${clean(it.name)}  ${clean(it.where)}\n`,
                );
            }
          return EXIT.ok;
        });
      }
      case 'env':
      case 'exec': {
        const role = pos[1];
        const shell = (o.shell ?? 'sh') as Shell;
        if (!role || (cmd === 'env' && pos.length !== 2) || (cmd === 'exec' && pos.length < 3)) {
          throw new UsageError(
            cmd === 'env' ? 'usage: pim env ROLE [--shell bash|zsh|fish|sh]' : 'usage: pim exec ROLE -- COMMAND [ARG…]',
          );
        }
        if (!SHELLS.includes(shell)) throw new UsageError(`--shell must be one of ${SHELLS.join(', ')}`);
        const vars = await withActivation(home, async (svc, agent) => {
          requireRole(agent, role);
          return (await svc.credentials()).envFor(role);
        });
        if (!vars) {
          process.stderr.write(
            `pim: role ${clean(role)} has no credentials on this machine (not active, or it ended): pim activate ${clean(role)}\n`,
          );
          return EXIT.ended;
        }
        if (cmd === 'env') {
          out(exportLines(vars, shell));
          return EXIT.ok;
        }
        return await runWith(pos.slice(2), vars);
      }
      case 'shell-init': {
        const shell = pos[1] as Shell | undefined;
        if (!shell || pos.length !== 2 || !SHELLS.includes(shell))
          throw new UsageError(`usage: pim shell-init ${SHELLS.join('|')}`);
        // connected to the embedded demo: terminals use the demo's own kubeconfig and AWS config
        const demo = await withAgent(home, async (agent) => agent.store.connection()?.demo === true);
        if (demo) {
          const { demoTargets } = await import('../credentials/manager');
          out(exportLines(demoTargets(home), shell));
        }
        out(shellInit(shell, path.join(home, 'creds')));
        return EXIT.ok;
      }
      case 'agent': {
        const { runHeadless } = await import('./long-running');
        return await runHeadless(home);
      }
      case 'ui': {
        const { runUi } = await import('./long-running');
        const port = o.port !== undefined ? Number(o.port) : undefined;
        if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
          throw new UsageError('--port must be 0..65535');
        return await runUi(home, { open: !o['no-open'], port });
      }
      case 'start': {
        if (!hooks.start)
          throw new UsageError('"pim start" runs from the pim command (bin/pim.cjs), not from this entry point');
        return await hooks.start(home, { open: !o['no-open'] });
      }
      default:
        throw new UsageError(`unknown command "${clean(cmd)}" (see pim --help)`);
    }
  } catch (e) {
    const code =
      e instanceof UsageError
        ? EXIT.usage
        : REFUSALS.has(String((e as { code?: unknown }).code))
          ? EXIT.denied
          : EXIT.error;
    // our errors (agent, refresh, control plane, keystore) carry messages meant for people and no secrets
    process.stderr.write(`pim: ${(e as Error).message}\n`);
    // --json: scripts get one object on stdout whatever happened
    if (o.json && !answered)
      json({
        ok: false,
        exitCode: code,
        error: {
          code: e instanceof UsageError ? 'usage' : String((e as { code?: unknown }).code ?? 'error'),
          message: (e as Error).message,
        },
      });
    return code;
  }
}

/** `pim COMMAND --help`: the lines of HELP about COMMAND, then the global options and exit codes. */
export function commandHelp(cmd: string): string | null {
  const lines = HELP.split('\n');
  const out: string[] = [];
  let inside = false;
  for (const l of lines) {
    if (/^ {2}pim /.test(l))
      inside =
        l.startsWith(`  pim ${cmd} `) ||
        l === `  pim ${cmd}` ||
        (cmd === 'deny' && l.startsWith('  pim approve ')) ||
        (cmd === 'approve' && l.startsWith('  pim deny '));
    else if (!/^ {4,}/.test(l)) inside = false;
    if (inside) out.push(l);
  }
  if (out.length === 0) return null;
  const tail = HELP.slice(HELP.indexOf('Global options:'));
  return `Usage:\n${out.join('\n')}\n\n${tail}`;
}

/** A role name this policy does not have: say so, with the nearest real one (a typo is the usual cause). */
function requireRole(agent: Agent, role: string): void {
  if (!agent.store.policySummary() || agent.role(role)) return;
  const guess = nearest(
    role,
    agent.listAllRoles().map((r) => r.name),
  );
  throw new AgentError(
    'unknown-role',
    `no role named "${clean(role)}" in policy v${agent.store.policyVersion()}${guess ? `; did you mean "${clean(guess)}"?` : ''} (\`pim roles --all\` lists them)`,
  );
}

async function withActivation<T>(home: string, fn: (svc: ActivationService, agent: Agent) => Promise<T>): Promise<T> {
  const { ActivationService } = await import('../activation/service');
  return withAgent(home, (agent) => fn(new ActivationService(agent), agent));
}

/** After a command that reached the control plane: send its journal records while it is
 *  reachable (a running agent does this in the background too). Quietly; a failure is journaled
 *  as sync-failed (at most hourly) and the next sync retries. */
async function syncSoon(agent: Agent): Promise<void> {
  try {
    if (!(await agent.activeJournal())) return;
    const { syncOnce } = await import('../audit/sync');
    await syncOnce(agent, { timeoutMs: 3000 });
  } catch {
    /* at least once: it goes with the next sync */
  }
}

/** One journal record on one line: seq, time, type and what it is about. */
function auditLine(r: {
  seq: number;
  at: string;
  type: string;
  user: string | null;
  data: Record<string, unknown>;
}): string {
  const d = r.data;
  const s = (v: unknown) => clean(String(v ?? '-'));
  let what: string;
  switch (r.type) {
    case 'enrolled':
      what = `${s(d.user)} with ${s(d.server)} (device ${s(d.device).slice(0, 16)}…)`;
      break;
    case 'keystore-changed':
      what = `${s(d.kind)} in the ${s(d.keystore)} keystore${d.chosen ? ` — chosen because ${s((d.chosen as { why?: string }).why)}` : ''}`;
      break;
    case 'policy-refreshed':
      what = `v${s(d.version)}${d.changed ? '' : ' (unchanged)'}, usable until ${s(d.expires)}`;
      break;
    case 'policy-rejected':
      what = `${s(d.code)}: ${s(d.message)}`;
      break;
    case 'approval-given':
      what = `${s(d.decision)} ${s(d.role)} for ${s(d.requester)} (${s(d.activation)})${d.reason ? ` — ${s(d.reason)}` : ''}`;
      break;
    case 'sync-failed':
      what = `${s(d.code)}: ${s(d.message)}`;
      break;
    default:
      if (r.type.startsWith('activation-')) {
        const extra =
          r.type === 'activation-requested'
            ? ` for ${formatDuration(Number(d.duration) || 0)}`
            : d.expiresAt && (r.type === 'activation-active' || r.type === 'activation-extended')
              ? ` until ${s(d.expiresAt)}`
              : d.endReason
                ? ` — ${s(d.endReason)}`
                : '';
        // the audit trail names who approved (their signed decisions are in the record's evidence)
        const approvers = Array.isArray(d.approvals)
          ? (d.approvals as { approver?: unknown; decision?: unknown }[])
              .filter((x) => x.decision === 'approve' && typeof x.approver === 'string')
              .map((x) => s(x.approver))
          : [];
        what = `${s(d.role)} (${s(d.activation)})${extra}${approvers.length ? `, approved by ${approvers.join(', ')}` : ''}${'assertion' in d ? (d.assertion ? ' [key touch recorded]' : ' [evidence not fetched]') : ''}`;
      } else what = clean(JSON.stringify(d)).slice(0, 200);
  }
  return `${String(r.seq).padStart(5)}  ${r.at}  ${r.type.padEnd(28)} ${what}`;
}

function durationOf(s: string): number {
  try {
    return parseDuration(s);
  } catch (e) {
    throw new UsageError(`--duration: ${(e as Error).message}`);
  }
}

function waitMs(flag: string | undefined, dflt: number): number {
  return flag === undefined ? dflt : durationOf(flag) * 1000;
}

/** GET a path of the control plane, for telling a wrong address from a wrong trust root. */
function probe(server: string) {
  return async (p: string): Promise<{ status: number; body: Buffer } | null> => {
    try {
      const res = await fetch(`${server}${p}`, { signal: AbortSignal.timeout(5000), redirect: 'error' });
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    } catch {
      return null;
    }
  };
}

async function openUrl(url: string): Promise<void> {
  const { openInBrowser } = await import('./long-running');
  openInBrowser(url);
}

interface WaitIo {
  untilDecided: boolean;
  timeoutMs?: number;
  json: ((v: unknown) => void) | null;
  out: (s: string) => void;
  prompt: (s: string) => void;
}

/**
 * `pim activate`, `pim extend` and `pim wait`: wait for the request as long as it takes, saying
 * what happens on stderr; Ctrl-C stops waiting and leaves the request as it is. Once active, this
 * process puts the credentials in place (a running agent would too: the injection is idempotent).
 */
async function waitAndReport(svc: ActivationService, agent: Agent, id: string, io: WaitIo): Promise<number> {
  const stop = new AbortController();
  const onInt = () => {
    if (stop.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    stop.abort();
  };
  process.on('SIGINT', onInt);
  const tty = !!process.stderr.isTTY;
  let overwrite = false;
  const say = (s: string, transient = false) => {
    // on a terminal the "still waiting" line rewrites itself; in a log it is one line per poll
    if (tty) process.stderr.write(`${overwrite ? '\r\x1b[2K' : ''}${s}${transient ? '' : '\n'}`);
    else process.stderr.write(`${s}\n`);
    overwrite = tty && transient;
  };
  let done;
  try {
    done = await svc.wait(id, {
      untilDecided: io.untilDecided,
      timeoutMs: io.timeoutMs,
      signal: stop.signal,
      onState: (st) => say(`  … ${stateNote(st)}`),
      onProgress: (p) => {
        if (p.kind === 'waiting')
          say(`  … still ${stateNote(p.state)} (${minutes(p.sinceMs)}; Ctrl-C stops waiting, the request stays)`, true);
        else if (p.kind === 'retrying')
          say(
            `  … ${p.message}; retrying in ${Math.ceil(p.inMs / 1000)} s (attempt ${p.attempt}); the request is kept`,
          );
        else say(`  … reached the control plane again after ${minutes(p.afterMs)}`);
      },
    });
  } finally {
    process.off('SIGINT', onInt);
    if (overwrite) process.stderr.write('\n');
  }
  if (done.stopped) {
    const why = done.stopped === 'interrupted' ? 'Stopped waiting' : 'Gave up waiting (--timeout)';
    io.prompt(
      `${why}: ${clean(done.role)} (${done.id}) is still ${done.state}; nothing was withdrawn. Pick it up again with: pim wait ${done.id}`,
    );
    if (io.json) io.json({ ...done, resume: `pim wait ${done.id}` });
    else io.out(outcomeText(done));
    await syncSoon(agent);
    return EXIT.pending;
  }
  // active: its kube context, AWS profile and SSH certificate are put in place before we answer
  const creds = done.state === 'active' ? await (await svc.credentials()).reconcile() : null;
  await syncSoon(agent);
  if (io.json) io.json(creds ? { ...done, credentials: creds } : done);
  else {
    io.out(outcomeText(done));
    if (creds) for (const l of reportLines(creds)) io.out(`  ${clean(l)}\n`);
  }
  return exitFor(done.state);
}

function stateNote(state: string): string {
  switch (state) {
    case 'requested':
      return 'waiting for your key touch';
    case 'pending-approval':
      return 'waiting for approval';
    default:
      return state;
  }
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

function exitFor(state: string): number {
  if (state === 'active' || state === 'approved') return EXIT.ok;
  if (state === 'pending-approval' || state === 'requested') return EXIT.pending;
  return EXIT.ended;
}

function outcomeText(a: {
  id: string;
  role: string;
  state: string;
  expiresAt: string | null;
  endReason: string | null;
  approvalsNeeded: number;
}): string {
  switch (a.state) {
    case 'active':
      return `${clean(a.role)} is ACTIVE until ${a.expiresAt ? utc(a.expiresAt) : '?'}\n`;
    case 'pending-approval':
      return `${clean(a.role)} is WAITING FOR APPROVAL (${a.approvalsNeeded} needed); wait for it with \`pim wait ${a.id}\`, or check later with \`pim activations\`\n`;
    case 'requested':
      return `${clean(a.role)}: the request was not signed yet (it lapses 5 minutes after it was made); \`pim wait ${a.id}\` picks it up\n`;
    default:
      return `${clean(a.role)}: ${a.state.toUpperCase()}${a.endReason ? ` — ${clean(a.endReason)}` : ''}\n`;
  }
}

/** `pim exec`: the command inherits our terminal; its exit code (or 128+signal) is ours. */
function runWith(argv: string[], vars: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: { ...process.env, ...vars } });
    child.on('error', (e) => {
      process.stderr.write(`pim: cannot run ${clean(argv[0]!)}: ${(e as NodeJS.ErrnoException).code ?? e.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)));
  });
}

const osSignals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

async function withAgent<T>(home: string, fn: (a: Agent) => Promise<T>): Promise<T> {
  const agent = new Agent(home);
  try {
    return await fn(agent);
  } finally {
    agent.close();
  }
}
