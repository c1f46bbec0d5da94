// Unique names by construction: policy names that could make two (cluster, role) or (role, grant)
// pairs share a kube context or AWS profile are refused at publish, with the field and the line.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { PIM_SERVER, run } from '../helpers/procs';
import { tmpDir } from '../helpers/repo';

function publish(policy: string) {
  const dir = tmpDir();
  const repo = path.join(dir, 'repo');
  assert.equal(run(PIM_SERVER, ['init', repo]).code, 0);
  const file = path.join(dir, 'policy.yaml');
  fs.writeFileSync(file, policy);
  return run(PIM_SERVER, ['publish', repo, file, '--force']);
}

test("unique names: a role or cluster name with '--' or a trailing '-' is refused at publish, naming the field and line", () => {
  const cases: [string, RegExp][] = [
    [
      `clusters:\n  - { name: gpu, server: "https://k.example" }\nroles:\n  - name: train--admin\n    eligible: { groups: [ops] }\n    activation: { maxDuration: 1h }\n`,
      /policy\.yaml:4.*roles\[0\]\.name.*without '--'/,
    ],
    [
      `clusters:\n  - { name: gpu--train, server: "https://k.example" }\nroles:\n  - name: admin\n    eligible: { groups: [ops] }\n    activation: { maxDuration: 1h }\n`,
      /policy\.yaml:2.*clusters\[0\]\.name.*without '--'/,
    ],
    [
      `roles:\n  - name: ops-\n    eligible: { groups: [ops] }\n    activation: { maxDuration: 1h }\n`,
      /policy\.yaml:2.*roles\[0\]\.name.*ending with a letter or digit/,
    ],
  ];
  for (const [policy, expected] of cases) {
    const r = publish(policy);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, expected);
  }
});

test('unique names: role train-admin on cluster gpu and role admin on cluster gpu-train publish side by side', () => {
  const r = publish(
    `clusters:\n  - { name: gpu, server: "https://k.example" }\n  - { name: gpu-train, server: "https://t.example" }\nroles:\n` +
      `  - name: train-admin\n    eligible: { groups: [ops] }\n    activation: { maxDuration: 1h }\n    grants: { kubernetes: [{ cluster: gpu, groups: [a] }] }\n` +
      `  - name: admin\n    eligible: { groups: [ops] }\n    activation: { maxDuration: 1h }\n    grants: { kubernetes: [{ cluster: gpu-train, groups: [a] }] }\n`,
  );
  assert.equal(r.code, 0, r.stderr);
});

test('unique names: a role granted the same cluster twice (one kube context for both) is refused at publish, naming the grant and line', () => {
  const r = publish(
    `clusters:\n  - { name: gpu, server: "https://k.example" }\nroles:\n` +
      `  - name: admin\n    eligible: { groups: [ops] }\n    activation: { maxDuration: 1h }\n    grants:\n      kubernetes:\n        - { cluster: gpu, groups: [a] }\n        - { cluster: gpu, groups: [b] }\n`,
  );
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stderr,
    /policy\.yaml:10.*roles\[0\]\.grants\.kubernetes\[1\]\.cluster: cluster "gpu" is already granted to this role \(kubernetes\[0\]\); both would be the kube context pim-gpu--admin/,
  );
});
