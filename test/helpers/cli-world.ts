// A control plane served by a real `pim-server serve`, with people enrolled through the real `pim
// enroll` — each with a software security key touching the ceremony the CLI printed. The setup the
// CLI-level tests share.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { touch } from './ceremony';
import { PIM, PIM_SERVER, run, start } from './procs';
import { tmpDir } from './repo';
import { SoftAuthenticator } from './soft-authenticator';

/** Two roles of an engineering team: `readonly` (auto-approved) and `admin` (1 of leads approves). */
export const ENG_POLICY = `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: optional }
  - name: admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      approval: { approvers: { groups: [leads] }, count: 1 }
users:
  - { email: alice@acme.example, groups: [eng] }
`;

export interface CliPerson {
  home: string;
  key: SoftAuthenticator;
  pim: (...a: string[]) => ReturnType<typeof run>;
}

/** Serves `policy`, then adds and enrols each [email, comma-separated groups] person. */
export async function cliWorld(
  policy: string,
  users: [string, string][],
  env: NodeJS.ProcessEnv = { PIM_KEYSTORE: 'file' },
) {
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  fs.writeFileSync(path.join(dir, 'policy.yaml'), policy);
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  assert.equal(run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']).code, 0); // people join (user add) after this first publish
  const server = await start(PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /people open (http:\/\/\S+)\)/);
  const people: Record<string, CliPerson> = {};
  for (const [email, groups] of users) {
    const add = run(PIM_SERVER, ['user', 'add', repo, email, ...(groups ? ['--groups', groups] : [])]);
    assert.equal(add.code, 0, add.stderr);
    const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
    const home = path.join(dir, email);
    const key = new SoftAuthenticator({ name: email });
    const enrol = await start(
      PIM,
      ['--home', home, 'enroll', link, '--no-open'],
      /Register your security key: (\S+)/,
      env,
    );
    assert.equal((await touch(key, enrol.match[1]!)).ok, true);
    assert.equal(await enrol.exited(), 0, enrol.output());
    assert.match(enrol.output(), new RegExp(`enrolled ${email.replace(/\./g, '\\.')}`));
    people[email] = { home, key, pim: (...a: string[]) => run(PIM, ['--home', home, ...a], env) };
  }
  return { dir, repo, server, people };
}
