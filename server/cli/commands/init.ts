// `pim-server init`: create a policy repository, its signing keys and the trust root agents pin.
import { parseArgs } from 'node:util';
import { parseDuration } from '../../../shared/policy/duration';
import { IssuerKeys } from '../../credentials/issuer-keys';
import { SshCa } from '../../credentials/ssh-ca';
import { initRepo } from '../../repo/repository';
import { one, type ServerCommand } from '../command';

export const init: ServerCommand = {
  name: 'init',
  usage: `  pim-server init DIR [--root-expires 365d] [--timestamp-expires 1d]
      Create a policy repository and its signing keys (0600) in DIR, and DIR/trust-root.json,
      the TUF root that agents pin.`,
  async run(rest) {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { 'root-expires': { type: 'string' }, 'timestamp-expires': { type: 'string' } },
    });
    const dir = one(positionals, 'DIR');
    const r = initRepo(dir, {
      rootTtlDays: values['root-expires'] ? parseDuration(values['root-expires']) / 86400 : undefined,
      timestampTtlSeconds: values['timestamp-expires'] ? parseDuration(values['timestamp-expires']) : undefined,
    });
    // the credential issuers' keys, so sshd and OIDC consumers can be set up before `serve`
    await new IssuerKeys(dir).ensure();
    const caLine = new SshCa(dir).publicKeyLine();
    process.stdout.write(
      `initialised repository in ${dir}\ntrust root: ${r.trustRoot}\ntrust root sha256: ${r.rootSha256}\nSSH CA (for sshd's TrustedUserCAKeys): ${caLine}\n`,
    );
    return 0;
  },
};
