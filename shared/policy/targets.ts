// Names of the signed policy files (TUF target paths), shared by the server that writes them and
// the agent that fetches them. Member files are named by a hash of the e-mail so a target path
// never carries a raw address.
import { sha256Hex } from '../sha256';

export const ROLES_TARGET = 'policy/roles.json';

export function memberTargetPath(email: string): string {
  return `members/${sha256Hex(email.trim().toLowerCase()).slice(0, 32)}.json`;
}
