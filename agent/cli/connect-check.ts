// `pim connect` must not report success when the control plane could not be verified. This turns
// the first refresh's failure into one sentence naming the cause and the fix, probing the server
// only to tell a wrong address from a wrong trust root.
import crypto from 'node:crypto';
import type { RefreshError } from '../policy/errors';

export interface ConnectContext {
  server: string;
  user: string;
  rootFile: string;
  root: Buffer;
}

/** What a person can do about a failed first refresh. `probe` fetches a path of the server
 *  (status and body, or null when nothing answers). */
export async function connectFailure(
  e: RefreshError,
  c: ConnectContext,
  probe: (path: string) => Promise<{ status: number; body: Buffer } | null>,
): Promise<string> {
  const again = 'then run `pim connect` again';
  if (e.code === 'unreachable' || (e.kind === 'offline' && e.code !== 'http-error')) {
    return `cannot reach a control plane at ${c.server} (${e.message.replace(/^.*\(([^)]+)\)$/, '$1')}): is \`pim-server serve\` running there, and is the address the one it prints? ${again}`;
  }
  const health = await probe('/healthz');
  if (!health || health.status !== 200) {
    return `${c.server} does not answer like a PIM control plane (${health ? `HTTP ${health.status}` : 'no answer'} at /healthz): use the address \`pim-server serve\` prints, without a path; ${again}`;
  }
  if (e.code === 'bad-signature') {
    const mine = sha(c.root);
    const served = await probe('/trust-root.json');
    const theirs = served?.status === 200 ? sha(served.body) : null;
    return `the policy at ${c.server} is not signed by the trust root in ${c.rootFile} (sha256 ${mine.slice(0, 16)}…${theirs ? `; that server's root is ${theirs.slice(0, 16)}…` : ''}): it is another control plane's root — get trust-root.json from this control plane's admin (\`pim-server init\` printed its sha256), ${again}`;
  }
  if (e.code === 'no-policy')
    return `the control plane at ${c.server} has not published a policy yet: its admin runs \`pim-server publish DIR policy.yaml\`; ${again}`;
  return `the first policy refresh from ${c.server} failed: ${e.message}`;
}

export function unknownUserText(c: Pick<ConnectContext, 'server' | 'user'>): string {
  return `the control plane at ${c.server} does not know ${c.user}: check the spelling, or ask its admin to add you (\`pim-server user add DIR ${c.user}\` or the policy's users:), then run \`pim connect\` again`;
}

function sha(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}
