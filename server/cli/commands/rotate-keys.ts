// `pim-server rotate-keys`: replace an online role's key after a compromise.
import { parseArgs } from 'node:util';
import { RepoError, rotateKeys } from '../../repo/repository';
import { one, type ServerCommand } from '../command';

export const rotateKeysCommand: ServerCommand = {
  name: 'rotate-keys',
  usage: `  pim-server rotate-keys DIR --role timestamp|snapshot|targets
      Replace the role's key after a compromise: a new root (signed by the root keys) lists a
      fresh key (0600 in DIR/keys) and drops the old one (moved to DIR/keys/retired), and the
      role's metadata is re-signed. Agents drop what the old key signed — including a
      fast-forwarded huge version — and accept the new, lower versions (TUF §5.3.11).`,
  run(rest) {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { role: { type: 'string' } },
    });
    const dir = one(positionals, 'DIR');
    const role = values.role;
    if (role !== 'timestamp' && role !== 'snapshot' && role !== 'targets')
      throw new RepoError('usage: pim-server rotate-keys DIR --role timestamp|snapshot|targets');
    const r = rotateKeys(dir, role);
    process.stdout.write(
      `${role} key rotated: root version ${r.rootVersion} lists the new key ${r.keyid.slice(0, 16)}…; old key ${r.retired.map((k) => k.slice(0, 16) + '…').join(', ') || '(none)'} retired\n`,
    );
    return 0;
  },
};
