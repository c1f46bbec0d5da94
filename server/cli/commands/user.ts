// `pim-server user`: add users (with their enrolment link), list them, revoke a security key or a device.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../../shared/policy/duration';
import { configFor, loadConfig } from '../../config';
import { paths, publishPolicy, RepoError } from '../../repo/repository';
import { one, withControlPlane, type ServerCommand } from '../command';

export const user: ServerCommand = {
  name: 'user',
  usage: `  pim-server user add DIR EMAIL [--groups a,b] [--url URL] [--expires 24h]
      Add a user (groups join those the policy gives them; republishes) and print a one-time
      enrolment link for \`pim enroll\`.
  pim-server user list DIR
  pim-server user revoke-key DIR EMAIL KEY-ID
  pim-server user revoke-device DIR DEVICE-THUMBPRINT
      Refuse the device's signed calls from now on, and revoke its live activations
      (reason "device revoked").`,
  run: userCommand,
};

function userCommand(rest: string[]): number {
  const [sub, ...args] = rest;
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { groups: { type: 'string' }, url: { type: 'string' }, expires: { type: 'string' } },
  });
  switch (sub) {
    case 'add': {
      if (positionals.length !== 2)
        throw new RepoError('usage: pim-server user add DIR EMAIL [--groups a,b] [--url URL] [--expires 24h]');
      const [dir, email] = positionals as [string, string];
      const groups = (values.groups ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      for (const g of groups)
        if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/.test(g)) throw new RepoError(`"${g}" is not a valid group name`);
      const url = values.url ?? loadConfig(dir)?.publicUrl;
      if (!url)
        throw new RepoError(
          'which URL will people use to reach this control plane? pass --url (or run `pim-server serve` once, which records it)',
        );
      const ttl = values.expires ? parseDuration(values.expires) * 1000 : undefined;
      const { code, expiresAt, extra } = withControlPlane(dir, url, (cp) => ({
        ...cp.users.add(email, groups, ttl),
        extra: cp.users.extraMembers(),
      }));
      if (groups.length && fs.existsSync(paths(dir).source)) {
        const r = publishPolicy(dir, fs.readFileSync(paths(dir).source, 'utf8'), {
          extraMembers: extra,
          sourceName: 'policy-source.yaml',
        });
        process.stdout.write(`republished policy version ${r.version} with ${email}'s groups\n`);
      }
      const rootSha = crypto
        .createHash('sha256')
        .update(fs.readFileSync(paths(dir).trustRoot))
        .digest('hex');
      process.stdout.write(
        `enrolment link for ${email} (one use, expires ${expiresAt}):\n${configFor(url).publicUrl}/enrol#code=${code}&root=${rootSha}\n`,
      );
      return 0;
    }
    case 'list': {
      const dir = one(positionals, 'DIR');
      for (const u of withControlPlane(dir, null, (cp) => cp.users.list())) {
        process.stdout.write(
          `${u.email}\n  devices: ${u.devices.join(', ') || '-'}\n  keys: ${u.keys.map((k) => `${k.id}${k.revoked ? ' (revoked)' : ''}${k.flagged ? ' (FLAGGED: counter went backwards)' : ''}`).join(', ') || '-'}\n`,
        );
      }
      return 0;
    }
    case 'revoke-key': {
      if (positionals.length !== 3) throw new RepoError('usage: pim-server user revoke-key DIR EMAIL KEY-ID');
      const [dir, email, id] = positionals as [string, string, string];
      if (!withControlPlane(dir, null, (cp) => cp.users.revokeKey(email, id)))
        throw new RepoError(`no active key ${id} for ${email}`);
      process.stdout.write(`revoked key ${id} of ${email}\n`);
      return 0;
    }
    case 'revoke-device': {
      if (positionals.length !== 2) throw new RepoError('usage: pim-server user revoke-device DIR DEVICE-THUMBPRINT');
      const [dir, tp] = positionals as [string, string];
      const r = withControlPlane(dir, null, (cp) => cp.users.revokeDeviceAccess(tp));
      if (!r.device && r.activations.length === 0 && r.requests.length === 0)
        throw new RepoError(`no active device ${tp}`);
      const acts = r.activations.length
        ? ` and ${r.activations.length} live activation${r.activations.length === 1 ? '' : 's'} (${r.activations.join(', ')})`
        : '';
      const waiting = r.requests.length
        ? `; ${r.requests.length} waiting request${r.requests.length === 1 ? '' : 's'} ended`
        : '';
      process.stdout.write(`revoked device ${tp}${acts}${waiting}\n`);
      return 0;
    }
    default:
      throw new RepoError('usage: pim-server user add|list|revoke-key|revoke-device …');
  }
}
