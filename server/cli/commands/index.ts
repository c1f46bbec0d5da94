// Every `pim-server` command, in the order `pim-server --help` lists them.
import type { ServerCommand } from '../command';
import { activation } from './activation';
import { audit } from './audit';
import { init } from './init';
import { publish } from './publish';
import { rotateIssuerKey } from './rotate-issuer-key';
import { rotateKeysCommand } from './rotate-keys';
import { rotateRootCommand } from './rotate-root';
import { serve } from './serve';
import { sshCa } from './ssh-ca';
import { user } from './user';

export const COMMANDS: readonly ServerCommand[] = [
  init,
  publish,
  rotateRootCommand,
  rotateKeysCommand,
  rotateIssuerKey,
  sshCa,
  serve,
  user,
  activation,
  audit,
];

/** The command `name` runs, if any. */
export function findCommand(name: string | undefined): ServerCommand | undefined {
  return name === undefined ? undefined : COMMANDS.find((c) => c.name === name);
}
