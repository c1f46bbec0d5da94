import { asRefreshError } from '../../policy/errors';
import { EXIT, UsageError, type Command } from '../command';
import { utc } from '../format';

export const policy: Command = {
  name: 'policy',
  summary: 'Fetch, verify and cache the signed policy',
  usage: `  pim policy refresh [--json]     Fetch, verify and cache the signed policy`,
  async run({ operands, options: o }, { io, withAgent }) {
    if (operands[0] !== 'refresh' || operands.length !== 1) throw new UsageError('usage: pim policy refresh [--json]');
    return withAgent(async (agent) => {
      try {
        const r = await agent.refresh();
        if (o.json) io.json({ ok: true, ...r });
        else
          io.out(
            `policy v${r.version} verified${r.changed ? '' : ' (unchanged)'}; usable offline until ${utc(r.expires)}\n`,
          );
        return EXIT.ok;
      } catch (e) {
        const err = asRefreshError(e);
        const cached = agent.store.policy();
        if (o.json)
          io.json({
            ok: false,
            code: err.code,
            kind: err.kind,
            message: err.message,
            cachedVersion: cached?.version ?? null,
          });
        else io.err(`pim: ${err.message}\n${cached ? `keeping the cached policy v${cached.version}\n` : ''}`);
        return EXIT.error;
      }
    });
  },
};
