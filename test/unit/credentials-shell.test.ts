// `pim env`, `pim exec` and `pim shell-init`: what they print is safely quoted, selects the role's
// profile and context, and the prompt segment and session trail run in a real bash without Node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { parseTrailLine } from '../../agent/credentials/manager';
import { exportLines, quoteFish, quoteSh, roleEnv, shellInit } from '../../agent/credentials/shell';
import { expiryNotices, noticeText, unseenNotices } from '../../shared/notices';
import { tmpDir } from '../helpers/repo';
import { requireProgram } from '../helpers/system';

test('values are single-quoted so that no shell expands anything in them', () => {
  const nasty = `it's $(rm -rf ~) \`x\` "q" \\ ; & | \n end`;
  const r = spawnSync('sh', ['-c', `printf %s ${quoteSh(nasty)}`], { encoding: 'utf8' });
  assert.equal(r.stdout, nasty);
  assert.equal(quoteFish(`a'b\\c`), `'a\\'b\\\\c'`);
});

test('pim env exports AWS_PROFILE and a KUBECONFIG whose first file selects the role context', () => {
  const env = roleEnv({
    awsProfile: 'pim-gpu-admin',
    contextFile: '/h/creds/env/pim-gpu-train--gpu-admin.yaml',
    kubeconfig: '/u/a:/u/b',
    defaultKubeconfig: '/u/.kube/config',
  });
  assert.deepEqual(env, {
    AWS_PROFILE: 'pim-gpu-admin',
    KUBECONFIG: `/h/creds/env/pim-gpu-train--gpu-admin.yaml${path.delimiter}/u/a${path.delimiter}/u/b`,
  });
  assert.equal(
    roleEnv({ awsProfile: null, contextFile: '/c.yaml', kubeconfig: undefined, defaultKubeconfig: '/u/.kube/config' })
      .KUBECONFIG,
    `/c.yaml${path.delimiter}/u/.kube/config`,
  );
  assert.equal(
    exportLines(env, 'bash'),
    `export AWS_PROFILE='pim-gpu-admin';\nexport KUBECONFIG='/h/creds/env/pim-gpu-train--gpu-admin.yaml:/u/a:/u/b';\n`,
  );
  assert.match(exportLines(env, 'fish'), /^set -gx AWS_PROFILE 'pim-gpu-admin';$/m);
  assert.throws(() => exportLines({ 'BAD NAME': 'x' }, 'sh'), /not an environment variable name/);
});

test('shell-init refuses a state folder it could not quote safely', () => {
  assert.throws(() => shellInit('bash', "/tmp/it's"), /cannot be used/);
  assert.throws(() => shellInit('bash', 'relative/creds'), /cannot be used/);
});

test('the bash prompt segment shows active roles and minutes left, and nothing once they ended', () => {
  const creds = path.join(tmpDir(), 'creds');
  fs.mkdirSync(creds, { recursive: true });
  const now = Math.floor(Date.now() / 1000);
  fs.writeFileSync(path.join(creds, 'active'), `gpu-admin ${now + 42 * 60}\nold-role ${now - 5}\ngarbage line\n`);
  const script = `${shellInit('bash', creds)}\n__pim_prompt`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\[pim gpu-admin:4[23]m\] $/);
  fs.rmSync(path.join(creds, 'active'));
  assert.equal(spawnSync('bash', ['-c', script], { encoding: 'utf8' }).stdout, '');
});

test('session trail: an interactive bash journals each command line typed while a trailed role is active', (t) => {
  if (!requireProgram(t, 'bash', 'the session trail hook is run in a real interactive bash')) return;
  const dir = tmpDir();
  const creds = path.join(dir, 'creds');
  fs.mkdirSync(creds, { recursive: true, mode: 0o700 });
  const now = Math.floor(Date.now() / 1000);
  fs.writeFileSync(path.join(creds, 'trail'), `gpu-admin ${now + 600}\n`);
  fs.writeFileSync(path.join(dir, 'init.bash'), shellInit('bash', creds));
  const typed = `source ${quoteSh(path.join(dir, 'init.bash'))}\necho one | tr a-z A-Z\nprintf '%s' back\\\\slash\necho "two\nlines"\nexit\n`;
  const r = spawnSync('bash', ['--norc', '-i'], {
    input: typed,
    encoding: 'utf8',
    env: { ...process.env, HOME: dir, HISTFILE: path.join(dir, 'hist') },
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = fs.readFileSync(path.join(creds, 'trail.spool'), 'utf8').trim().split('\n').map(parseTrailLine);
  assert.deepEqual(
    lines.map((l) => [l?.role, l?.command]),
    [
      ['gpu-admin', 'echo one | tr a-z A-Z'],
      ['gpu-admin', "printf '%s' back\\\\slash"],
      ['gpu-admin', 'echo "two\nlines"'],
      ['gpu-admin', 'exit'],
    ],
  );
  assert.ok(lines.every((l) => l && Math.abs(l.at.getTime() / 1000 - now) < 120));
});

test('session trail: no trailed role active, nothing is written', () => {
  const dir = tmpDir();
  const creds = path.join(dir, 'creds');
  fs.mkdirSync(creds, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(creds, 'trail'), `gpu-admin ${Math.floor(Date.now() / 1000) - 60}\n`);
  fs.writeFileSync(path.join(dir, 'init.bash'), shellInit('bash', creds));
  spawnSync('bash', ['--norc', '-i'], {
    input: `source ${quoteSh(path.join(dir, 'init.bash'))}\necho hi\nexit\n`,
    encoding: 'utf8',
    env: { ...process.env, HOME: dir, HISTFILE: path.join(dir, 'hist') },
  });
  assert.equal(fs.existsSync(path.join(creds, 'trail.spool')), false);
});

test('trail lines: both encodings decode, anything malformed is dropped, long commands are cut', () => {
  assert.deepEqual(parseTrailLine('1795386291\tgpu-admin\tb\ta\\tb\\nc\\\\d'), {
    at: new Date(1795386291000),
    role: 'gpu-admin',
    command: 'a\tb\nc\\d',
  });
  assert.equal(parseTrailLine('1795386291\tgpu-admin\tu\tls%20-la%0Apwd')?.command, 'ls -la\npwd');
  for (const bad of [
    '',
    'x\tgpu-admin\tb\tls',
    '1795386291\tGPU ADMIN\tb\tls',
    '1795386291\tgpu-admin\tz\tls',
    '1795386291\tgpu-admin\tu\t%E0%A4%A',
    '1795386291\tgpu-admin\tb\t   ',
  ]) {
    assert.equal(parseTrailLine(bad), null, JSON.stringify(bad));
  }
  assert.match(parseTrailLine(`1795386291\tgpu-admin\tb\t${'x'.repeat(10_000)}`)!.command, /… \(truncated\)$/);
});

test('expiry notices: 10 minutes, then 2 minutes before the end; an extension supersedes', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');
  const at = (min: number) => new Date(now + min * 60_000).toISOString();
  const acts = [
    { id: 'a1', role: 'gpu-admin', state: 'active', expiresAt: at(9.5) },
    { id: 'b1', role: 'aws-admin', state: 'active', expiresAt: at(1.2) },
    { id: 'c1', role: 'far', state: 'active', expiresAt: at(11) },
    { id: 'd1', role: 'ext', state: 'active', expiresAt: at(3) },
    { id: 'd2', role: 'ext', state: 'active', expiresAt: at(63) },
    { id: 'e1', role: 'done', state: 'expired', expiresAt: at(1) },
  ];
  const n = expiryNotices(acts, now);
  assert.deepEqual(
    n.map((x) => [x.key, x.minutesLeft]),
    [
      ['b1:2', 2],
      ['a1:10', 10],
    ],
  );
  assert.equal(noticeText(n[0]!), 'aws-admin ends in 2 minutes');
  assert.deepEqual(
    unseenNotices(n, new Set(['b1:2'])).map((x) => x.key),
    ['a1:10'],
  );
  assert.equal(noticeText({ ...n[0]!, minutesLeft: 1 }), 'aws-admin ends in 1 minute');
});
