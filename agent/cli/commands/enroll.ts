import { waitMs } from '../args';
import { EXIT, UsageError, type Command } from '../command';
import { utc } from '../format';
import { syncSoon } from '../sync-soon';
import { errorMessage } from '../../../shared/errors';

export const enroll: Command = {
  name: 'enroll',
  aliases: ['enrol'],
  summary: 'Enrol this device with the link from your admin',
  usage: `  pim enroll LINK [--no-open]     Enrol this device with the link from your admin: creates the
                                  device key and registers your security key in the browser`,
  async run({ operands, options: o }, { io, withActivation, openUrl }) {
    if (operands.length !== 1) throw new UsageError('usage: pim enroll LINK');
    return withActivation(async (svc, agent) => {
      const r = await svc.enroll(operands[0]!, {
        onKeystoreChosen: (s) => io.prompt(s),
        onCeremony: (url) => {
          io.prompt(`Register your security key: ${url}`);
          if (!o['no-open']) openUrl(url);
        },
        timeoutMs: waitMs(o.timeout, 15 * 60_000),
      });
      io.out(`enrolled ${r.user} with ${r.server}; this device's requests are now signed by its device key\n`);
      try {
        const p = await agent.refresh();
        io.out(`policy v${p.version} verified; usable offline until ${utc(p.expires)}\n`);
      } catch (e) {
        io.err(`pim: enrolled, but the first policy refresh failed: ${errorMessage(e)}\n`);
      }
      await syncSoon(agent);
      return EXIT.ok;
    });
  },
};
