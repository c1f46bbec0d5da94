// The argv forms the fast path of `pim roles` / `pim status` takes; everything else is the full CLI's.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { fastCommand } from '../../agent/cli/fast-main';

test('the fast path takes roles [--all] [--json] and status [--json], with --home in either form', () => {
  assert.deepEqual(fastCommand(['roles']), { cmd: 'roles', home: undefined, json: false, all: false });
  assert.deepEqual(fastCommand(['roles', '--json']), { cmd: 'roles', home: undefined, json: true, all: false });
  assert.deepEqual(fastCommand(['--json', 'roles', '--all']), { cmd: 'roles', home: undefined, json: true, all: true });
  assert.deepEqual(fastCommand(['--home', '/h', 'status']), { cmd: 'status', home: '/h', json: false, all: false });
  assert.deepEqual(fastCommand(['status', '--home=/h', '--json']), {
    cmd: 'status',
    home: '/h',
    json: true,
    all: false,
  });
});

test('anything else is left to the full CLI (usage errors, help, other commands, doubtful values)', () => {
  for (const argv of [
    [],
    ['check', 'roles'],
    ['roles', 'extra'],
    ['roles', 'status'],
    ['status', '--all'],
    ['roles', '--help'],
    ['roles', '-h'],
    ['roles', '--bogus'],
    ['roles', '--json=true'],
    ['roles', '--home'],
    ['roles', '--home', '--json'],
    ['roles', '--home='],
    ['roles', '--home', 'a', '--home', 'b'],
    ['roles', '--'],
    ['activate', 'roles'],
  ]) {
    assert.equal(fastCommand(argv), null, argv.join(' '));
  }
});
