// `pim-server ssh-ca`: print the SSH CA's public key line for sshd.
import { parseArgs } from 'node:util';
import { SshCa } from '../../credentials/ssh-ca';
import { readState } from '../../repo/repository';
import { one, type ServerCommand } from '../command';

export const sshCa: ServerCommand = {
  name: 'ssh-ca',
  usage: `  pim-server ssh-ca DIR
      Print the SSH CA's public key line, for sshd's TrustedUserCAKeys (also served at /ssh-ca.pub).`,
  run(rest) {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
    const dir = one(positionals, 'DIR');
    readState(dir);
    process.stdout.write(`${new SshCa(dir).publicKeyLine()}\n`);
    return 0;
  },
};
