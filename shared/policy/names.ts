// The names PIM Agent gives what it injects. Built so that two different (cluster, role) or
// (role, grant) pairs can never produce the same name: policy names may not contain "--" nor end
// with "-" (schema.ts), so "--" is an unambiguous separator — the first "--" in a kube context name
// ends the cluster, and a grant number after "--" can never be part of a role name.
// (Before, `pim-<cluster>-<role>` made cluster gpu + role train-admin and cluster gpu-train + role
// admin both `pim-gpu-train-admin`, and AWS grant 1 of role ops collided with role ops-1.)

/** Policy role and cluster names: 1-63 of [a-z0-9-], starting and ending with a letter or digit,
 *  no "--" inside. */
export const NAME_RE = /^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function part(value: string, what: string): string {
  // The control plane refuses such names at publish; an agent given one anyway (an older control
  // plane) refuses to build a name that could be shared.
  if (!NAME_RE.test(value))
    throw new Error(
      `${what} name ${JSON.stringify(value).slice(0, 80)} cannot be used in an injected name: it must not contain '--' or end with '-'`,
    );
  return value;
}

/** `pim-<cluster>--<role>`: kube cluster, context and user entry name. */
export function kubeContextName(cluster: string, role: string): string {
  return `pim-${part(cluster, 'cluster')}--${part(role, 'role')}`;
}

/** `pim-<role>` for a role's only AWS grant, `pim-<role>--<n>` (1-based) when it has several. */
export function awsProfileName(role: string, index: number, count: number): string {
  return count === 1 ? `pim-${part(role, 'role')}` : `pim-${part(role, 'role')}--${index + 1}`;
}
