// `pim env` and `pim exec`: the variables that select an active role's credentials.
import { SHELLS, type Shell } from '../credentials/shell';
import { UsageError, type CliServices } from './command';
import { clean } from './format';
import { requireRole } from './require-role';

/** --shell, checked (sh when not given). */
export function shellOption(shell: string | undefined): Shell {
  const s = shell ?? 'sh';
  if (!isShell(s)) throw new UsageError(`--shell must be one of ${SHELLS.join(', ')}`);
  return s;
}

export function isShell(s: string | undefined): s is Shell {
  return (SHELLS as readonly (string | undefined)[]).includes(s);
}

/** ROLE's variables, or null after saying on stderr that it has no credentials here. */
export async function roleEnv(
  role: string,
  { io, withActivation }: CliServices,
): Promise<Record<string, string> | null> {
  const vars = await withActivation(async (svc, agent) => {
    requireRole(agent, role);
    return (await svc.credentials()).envFor(role);
  });
  if (!vars)
    io.err(
      `pim: role ${clean(role)} has no credentials on this machine (not active, or it ended): pim activate ${clean(role)}\n`,
    );
  return vars ?? null;
}
