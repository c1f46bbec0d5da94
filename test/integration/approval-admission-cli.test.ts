// Issue 10 at the level people meet it: `pim activate --wait` learns that its request was refused
// when it was to take effect (exit 5, the reason printed), and `pim-server publish` refuses line
// breaks and control characters in the fields that end up in kubeconfig and AWS config lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { touch } from '../helpers/ceremony';
import { cliWorld } from '../helpers/cli-world';
import { PIM, PIM_SERVER, run, start } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';

const env = { PIM_KEYSTORE: 'file' };

const POLICY = `
roles:
  - name: admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      maxActive: 1
      approval: { approvers: { groups: [leads] }, count: 1 }
users:
  - { email: alice@acme.example, groups: [eng] }
`;

test('pim activate --wait: a request refused at its approval (maxActive reached meanwhile) ends DENIED with the reason, exit 5', async () => {
  const { people } = await cliWorld(POLICY, [
    ['alice@acme.example', ''],
    ['bob@acme.example', 'eng,leads'],
  ]);
  const alice = people['alice@acme.example']!;
  const bob = people['bob@acme.example']!;
  // two requests waiting for bob at once
  const first = await start(
    PIM,
    ['--home', alice.home, 'activate', 'admin', '--reason', 'first', '--no-open'],
    /sign this request: (\S+)/,
    env,
  );
  assert.equal((await touch(alice.key, first.match[1]!)).value?.state, 'pending-approval');
  assert.equal(await first.exited(), 4, first.output());
  const second = await start(
    PIM,
    ['--home', alice.home, 'activate', 'admin', '--reason', 'second', '--wait', '--no-open'],
    /sign this request: (\S+)/,
    env,
  );
  assert.equal((await touch(alice.key, second.match[1]!)).value?.state, 'pending-approval');

  const pending = JSON.parse(bob.pim('approvals', '--json').stdout) as {
    id: string;
    request: { justification: string };
  }[];
  assert.equal(pending.length, 2);
  const inOrder = [
    ...pending.filter((p) => p.request.justification === 'first'),
    ...pending.filter((p) => p.request.justification !== 'first'),
  ];
  for (const p of inOrder) {
    const approve = await start(
      PIM,
      ['--home', bob.home, 'approve', p.id, '--no-open'],
      /sign your decision: (\S+)/,
      env,
    );
    assert.equal((await touch(bob.key, approve.match[1]!)).ok, true);
    await approve.exited();
  }
  assert.equal(await second.exited(), 5, second.output());
  assert.match(second.output(), /admin: DENIED — not granted when approved: .*max-active-reached/);
  const list = JSON.parse(alice.pim('activations', '--json').stdout) as { state: string }[];
  assert.deepEqual(list.map((a) => a.state).sort(), ['active', 'denied']);
});

test('pim-server publish refuses newlines and control characters in server, certificateAuthorityData and stsEndpoint', () => {
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  const role = (sts: string) => `roles:
  - name: ops
    eligible: { groups: [eng] }
    activation: { maxDuration: 1h }
    grants:
      aws: [{ roleArn: 'arn:aws:iam::123456789012:role/ops', stsEndpoint: ${sts} }]
`;
  const cases: [string, RegExp][] = [
    [
      `roles: []\nclusters:\n  - { name: gpu, server: "https://k8s.example:6443\\n    token: stolen" }\n`,
      /policy\.yaml:3:\d+ clusters\[0\]\.server: server must not contain spaces, newlines or control characters/,
    ],
    [
      `roles: []\nclusters:\n  - { name: gpu, server: 'https://k8s.example:6443', certificateAuthorityData: "Q0E=\\n- x" }\n`,
      /policy\.yaml:3:\d+ clusters\[0\]\.certificateAuthorityData: certificateAuthorityData must not contain/,
    ],
    [
      role('"https://sts.example.com/\\r\\n[profile evil]"'),
      /policy\.yaml:6:\d+ roles\[0\]\.grants\.aws\[0\]\.stsEndpoint: stsEndpoint must not contain/,
    ],
    [role('"https://sts.example.com/\\u0007"'), /stsEndpoint must not contain/],
  ];
  for (const [yaml, expected] of cases) {
    const file = path.join(dir, 'policy.yaml');
    fs.writeFileSync(file, yaml);
    const r = run(PIM_SERVER, ['publish', repo, file]);
    assert.notEqual(r.code, 0, yaml);
    assert.match(r.stderr, expected, r.stderr);
  }
});
