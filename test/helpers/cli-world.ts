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

export { ENG_POLICY, TICKET, engPolicy } from './eng-policy';

export interface CliPerson {
  home: string;
  key: SoftAuthenticator;
  pim: (...a: string[]) => ReturnType<typeof run>;
  /** a long-running `pim` of this person's (activate, approve, wait…), once its output matches
   *  `ready` (match[1]: the ceremony URL it printed, for the usual prompts) */
  start: (args: string[], ready: RegExp, env?: NodeJS.ProcessEnv) => ReturnType<typeof start>;
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
    people[email] = {
      home,
      key,
      pim: (...a: string[]) => run(PIM, ['--home', home, ...a], env),
      start: (args, ready, e = env) => start(PIM, ['--home', home, ...args], ready, e),
    };
  }
  return { dir, repo, server, people };
}

/** `person` approves or denies activation `id` with `pim approve|deny`, touching their key on the
 *  ceremony it prints; resolves with what the touch returned and how the CLI ended. */
export async function decideWithKey(
  person: CliPerson,
  id: string,
  decision: 'approve' | 'deny',
  reason?: string,
): Promise<{ touched: Awaited<ReturnType<typeof touch>>; code: number | null; output: string }> {
  const args = [decision, id, ...(reason === undefined ? [] : ['--reason', reason]), '--no-open'];
  const cli = await person.start(args, /sign your decision: (\S+)/);
  const touched = await touch(person.key, cli.match[1]!);
  return { touched, code: await cli.exited(), output: cli.output() };
}
