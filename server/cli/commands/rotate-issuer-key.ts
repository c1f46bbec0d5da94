// `pim-server rotate-issuer-key`: a new key signs the issued tokens; the previous ones stay in the JWKS for an hour.
import { parseArgs } from 'node:util';
import { IssuerKeys } from '../../credentials/issuer-keys';
import { readState } from '../../repo/repository';
import { one, type ServerCommand } from '../command';

export const rotateIssuerKey: ServerCommand = {
  name: 'rotate-issuer-key',
  usage: `  pim-server rotate-issuer-key DIR
      A new ES256 key signs kube and AWS tokens from now on. The previous keys stay in
      /.well-known/jwks.json for another hour, so tokens they signed (15 minutes at most) keep
      verifying; keys past that are removed. A running \`serve\` picks the new key up at once.`,
  async run(rest) {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
    const dir = one(positionals, 'DIR');
    readState(dir);
    const r = await new IssuerKeys(dir).rotate();
    const lines = [`new issuer signing key ${r.kid}`];
    for (const k of r.retiring) lines.push(`  previous key ${k.kid} stays in the JWKS until ${k.retiresAt}`);
    for (const kid of r.deleted) lines.push(`  retired key ${kid} removed`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
