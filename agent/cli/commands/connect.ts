import fs from 'node:fs';
import { AgentError } from '../../agent';
import { asRefreshError } from '../../policy/errors';
import { EXIT, UsageError, type Command } from '../command';
import { utc } from '../format';
import { errorCode, errorMessage } from '../../../shared/errors';

export const connect: Command = {
  name: 'connect',
  summary: 'Pin the control plane’s trust root and remember who you are (demo/test path)',
  usage: `  pim connect URL --user EMAIL --root FILE
      Pin the control plane's TUF trust root and remember who you are. (--user without
      enrolment is the demo/test path; enrolment with a security key replaces it.)`,
  async run({ operands, options: o }, { io, withAgent }) {
    const url = operands[0];
    if (!url || operands.length !== 1 || !o.user || !o.root)
      throw new UsageError('usage: pim connect URL --user EMAIL --root FILE');
    const user = o.user;
    const rootFile = o.root;
    let root: Buffer;
    try {
      root = fs.readFileSync(rootFile);
    } catch (e) {
      throw new AgentError('bad-input', `cannot read the trust root ${rootFile}: ${errorCode(e) ?? errorMessage(e)}`);
    }
    return withAgent(async (agent) => {
      // an enrolled agent switching to the --user path: its journal records the change first
      const journal = await agent.activeJournal();
      const prev = agent.store.connection();
      if (journal && prev) {
        journal.append('config-changed', prev.user, {
          what: 'connection',
          from: { server: prev.server, user: prev.user, enrolled: true },
          to: { server: url, user: user.trim().toLowerCase(), enrolled: false },
        });
      }
      agent.connect({ server: url, user, root, unenrolled: true });
      const c = agent.store.connection()!;
      const ctx = { server: c.server, user: c.user, rootFile, root };
      let r;
      try {
        r = await agent.refresh();
      } catch (e) {
        const { connectFailure } = await import('../connect-check');
        const err = asRefreshError(e);
        throw new AgentError(err.code, await connectFailure(err, ctx, probe(c.server)));
      }
      if (!agent.store.policy()?.memberJson && agent.state().roles.length === 0) {
        const { unknownUserText } = await import('../connect-check');
        throw new AgentError('unknown-user', unknownUserText(ctx));
      }
      io.out(`connected to ${c.server} as ${c.user}\n(demo/test path: --user without security-key enrolment)\n`);
      io.out(`policy v${r.version} verified; usable offline until ${utc(r.expires)}\n`);
      return EXIT.ok;
    });
  },
};

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
