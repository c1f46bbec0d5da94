// Every `pim` command, in the order `pim help` lists them.
import type { Command } from '../command';
import { activate } from './activate';
import { activations } from './activations';
import { agent } from './agent';
import { approvals } from './approvals';
import { approve } from './approve';
import { audit } from './audit';
import { check } from './check';
import { connect } from './connect';
import { credentials } from './credentials';
import { deactivate } from './deactivate';
import { deny } from './deny';
import { enroll } from './enroll';
import { env } from './env';
import { exec } from './exec';
import { extend } from './extend';
import { policy } from './policy';
import { roles } from './roles';
import { shellInitCommand } from './shell-init';
import { start } from './start';
import { status } from './status';
import { ui } from './ui';
import { wait } from './wait';

export const COMMANDS: readonly Command[] = [
  connect,
  policy,
  roles,
  check,
  status,
  enroll,
  activate,
  wait,
  extend,
  deactivate,
  credentials,
  env,
  exec,
  shellInitCommand,
  activations,
  approvals,
  approve,
  deny,
  audit,
  agent,
  ui,
  start,
];

/** The command `name` runs (its name or an alias), if any. */
export function findCommand(name: string | undefined): Command | undefined {
  return name === undefined ? undefined : COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}
