// `pim help` is made from the command table (agent/cli/commands): every command is listed, each
// one's own help is its usage lines with the global options, and a name that is no command is an
// error that says where the list is.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'vitest';
import { COMMANDS } from '../../agent/cli/commands';
import { PIM, run } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';

const home = path.join(tmpDir(), 'home');
const pim = (...args: string[]) => run(PIM, ['--home', home, ...args]);

test('`pim help` lists every command in the table with what it does, as `pim --help` does', () => {
  const help = pim('help');
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^pim — PIM Agent command line/);
  for (const c of COMMANDS) {
    assert.ok(help.stdout.includes(`\n  pim ${c.name} `) || help.stdout.includes(`\n  pim ${c.name}\n`), c.name);
    assert.ok(help.stdout.includes(c.usage), `${c.name}: its usage lines, as its file has them`);
    assert.ok(c.summary.length > 0 && !c.summary.includes('\n'), `${c.name}: a one-line summary`);
  }
  assert.match(help.stdout, /Global options:[\s\S]*Exit codes: 0 done, 1 error, 2 usage/);
  assert.equal(pim('--help').stdout, help.stdout);
  assert.equal(pim('-h').stdout, help.stdout);
  const bare = pim();
  assert.equal(bare.code, 2, 'no command: the help, as a usage error');
  assert.equal(bare.stdout, help.stdout);
});

test('`pim COMMAND --help` prints that command’s usage and exits 0, for every command', () => {
  for (const c of COMMANDS) {
    const h = pim(c.name, '--help');
    assert.equal(h.code, 0, `${c.name}: ${h.stderr}`);
    assert.ok(h.stdout.startsWith(`Usage:\n${c.usage}\n\nGlobal options:\n`), c.name);
    assert.match(h.stdout, /Exit codes: 0 done, 1 error, 2 usage, 3 refused by policy, 4 waiting/);
    assert.equal(h.stderr, '');
    for (const alias of c.aliases ?? []) assert.equal(pim(alias, '--help').stdout, h.stdout, alias);
  }
  // -h and `pim help COMMAND` say the same
  const wait = pim('wait', '--help').stdout;
  assert.equal(pim('wait', '-h').stdout, wait);
  assert.equal(pim('help', 'wait').stdout, wait);
  // approve and deny are learnt together: each one's help shows both
  assert.match(pim('deny', '--help').stdout, /pim approve ID[\s\S]*pim deny ID --reason TEXT/);
});

test('an unknown command fails with a usage error that names the help', () => {
  const r = pim('frobnicate');
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^pim: unknown command "frobnicate" \(see pim --help\)\n$/);
  const j = pim('frobnicate', '--json');
  assert.equal(j.code, 2);
  assert.deepEqual(JSON.parse(j.stdout), {
    ok: false,
    exitCode: 2,
    error: { code: 'usage', message: 'unknown command "frobnicate" (see pim --help)' },
  });
  // `pim help NAME` and `pim NAME --help` for a name that is no command: the whole help
  assert.equal(pim('help', 'frobnicate').stdout, pim('help').stdout);
});
