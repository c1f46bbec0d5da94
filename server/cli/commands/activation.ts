// `pim-server activation`: list activations, revoke one.
import { parseArgs } from 'node:util';
import { ApiError } from '../../api/errors';
import { RepoError } from '../../repo/repository';
import { one, withControlPlane, type ServerCommand } from '../command';

export const activation: ServerCommand = {
  name: 'activation',
  usage: `  pim-server activation list DIR [--live] [--json]
      List activations, newest first (--live: only those not ended yet).
  pim-server activation revoke DIR ID [--reason TEXT]
      End an active or approved activation now: no more credentials are issued for it, and the
      agent removes what it injected. Works while \`serve\` runs on DIR.`,
  run: activationCommand,
};

function activationCommand(rest: string[]): number {
  const [sub, ...args] = rest;
  switch (sub) {
    case 'list': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { json: { type: 'boolean' }, live: { type: 'boolean' } },
      });
      const dir = one(positionals, 'DIR');
      const list = withControlPlane(dir, null, (cp) => cp.activations.all({ live: values.live }));
      if (values.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return 0;
      }
      if (!list.length) {
        process.stdout.write(values.live ? 'no live activations\n' : 'no activations\n');
        return 0;
      }
      const rows = [
        ['ID', 'STATE', 'ROLE', 'USER', 'STARTED', 'ENDS', 'REASON'],
        ...list.map((a) => [a.id, a.state, a.role, a.user, a.startsAt ?? '-', a.expiresAt ?? '-', a.endReason ?? '']),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      process.stdout.write(
        rows
          .map((r) =>
            r
              .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
              .join('  ')
              .trimEnd(),
          )
          .join('\n') + '\n',
      );
      return 0;
    }
    case 'revoke': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { reason: { type: 'string' } },
      });
      if (positionals.length !== 2) throw new RepoError('usage: pim-server activation revoke DIR ID [--reason TEXT]');
      const [dir, id] = positionals as [string, string];
      const reason = values.reason?.trim() || 'revoked by an administrator';
      if (/[\u0000-\u001f\u007f]/.test(reason) || reason.length > 1000)
        throw new RepoError('--reason must be one line of at most 1000 characters');
      const view = withControlPlane(dir, null, (cp) => {
        try {
          return cp.activations.revoke(id, reason);
        } catch (e) {
          if (e instanceof ApiError) throw new RepoError(`cannot revoke activation ${id}: ${e.message}`);
          throw e;
        }
      });
      process.stdout.write(`revoked activation ${view.id} (${view.role} for ${view.user}): ${reason}\n`);
      return 0;
    }
    default:
      throw new RepoError('usage: pim-server activation list|revoke …');
  }
}
