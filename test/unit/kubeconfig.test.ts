// Kubeconfig injection as text splicing: our pim- entries go in and out, and every byte of the user's
// own file stays as it was (comments, order, quoting, indentation, line endings).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'vitest';
import { parse } from 'yaml';
import { UnsafePathError } from '../../platform/fs-safe';
import {
  EXEC_API_VERSION,
  KubeconfigError,
  SKELETON,
  addKubeEntries,
  isEmptySkeleton,
  kubeconfigPath,
  listPimEntries,
  removeKubeEntries,
  type KubeEntry,
} from '../../agent/credentials/kubeconfig';

const HELPER = '/home/alice/.local/share/pim/creds/bin/pim-cred';

function entry(cluster: string, role: string, over: Partial<KubeEntry> = {}): KubeEntry {
  const name = `pim-${cluster}-${role}`;
  return {
    name,
    cluster,
    role,
    server: `https://${cluster}.k8s.example:6443`,
    certificateAuthorityData: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUI=',
    command: HELPER,
    args: ['kube', name],
    ...over,
  };
}

const PROD = entry('prod', 'ops-admin');
const DEV = entry('dev', 'reader');
const all = () => true;

type Kc = {
  clusters?: { name: string; cluster: Record<string, unknown> }[] | null;
  contexts?: { name: string; context: Record<string, unknown> }[] | null;
  users?: { name: string; user: Record<string, unknown> }[] | null;
  'current-context'?: string | null;
};
const data = (text: string) => parse(text) as Kc;
const names = (list: { name: string }[] | null | undefined) => (list ?? []).map((x) => x.name);

/** `kubectl config set-cluster/set-credentials/set-context/use-context` output (kubectl 1.32). */
const KUBECTL_WRITTEN = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkakNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmh5YXpOekxYTmwKY25abGNpMWpZVUF4TnpBd01EQXdNREF3TUI0WERUSXpNVEV4TkRFM01qUTFNMW9YRFRNek1URXhNVEUzTWpRMQpNMW93SXpFaE1COEdBMVVFQXd3WWNtc3pjeTF6WlhKMlpYSXRZMkZBTVRjd01EQXdNREF3TURCWk1CTUdCeXFHClNNNDlBZ0VHQ0NxR1NNNDlBd0VIQTBJQUJPCg==
    server: https://127.0.0.1:6443
  name: kind-kind
- cluster:
    server: https://staging.k8s.example
  name: staging
contexts:
- context:
    cluster: kind-kind
    user: kind-kind
  name: kind-kind
- context:
    cluster: staging
    namespace: web
    user: bob
  name: staging
current-context: kind-kind
kind: Config
preferences: {}
users:
- name: bob
  user:
    token: abc
- name: kind-kind
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t
`;

/** What `kubectl config set-cluster foo --server=…` writes into a fresh file: `null` lists. */
const KUBECTL_FRESH = `apiVersion: v1
clusters:
- cluster:
    server: https://1.2.3.4
  name: foo
contexts: null
current-context: ""
kind: Config
preferences: {}
users: null
`;

/** Hand-written: comments everywhere, indented sequences, quotes, flow maps, blank lines, a
 *  user entry of the user's own that happens to be called pim-…, and no final line break. */
const HAND_WRITTEN = `# ~/.kube/config — edited by hand, keep the comments!
apiVersion: v1
kind: Config

clusters:
  # production (EU)
  - name: prod-eu
    cluster:
      server: "https://prod-eu.example.com:6443"   # behind the VPN
      insecure-skip-tls-verify: false
  - name: pim-legacy       # our old bastion, not PIM Agent's
    cluster: { server: 'https://legacy.example.com' }

contexts:
  - name: prod-eu
    context: {cluster: prod-eu, user: me, namespace: "payments"}
  - name: pim-legacy
    context:
      cluster: pim-legacy
      user: pim-legacy

users:
  - name: me
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: aws
        args: ["eks", "get-token", "--cluster-name", "prod-eu"]
  - name: pim-legacy
    user:
      token: "s3cr3t" # rotated monthly

current-context: 'prod-eu'
# trailing note: do not sort this file`;

const EKS_STYLE = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    server: https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com
  name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
contexts:
- context:
    cluster: arn:aws:eks:eu-west-1:111122223333:cluster/prod
    user: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
current-context: arn:aws:eks:eu-west-1:111122223333:cluster/prod
kind: Config
preferences: {}
users:
- name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - --region
      - eu-west-1
      - eks
      - get-token
      - --cluster-name
      - prod
      - --output
      - json
      command: aws
      env:
      - name: AWS_PROFILE
        value: prod
      interactiveMode: IfAvailable
      provideClusterInfo: false
`;

function isSubsequence(small: string[], big: string[]): boolean {
  let i = 0;
  for (const line of big) if (i < small.length && line === small[i]) i++;
  return i === small.length;
}

const REALISTIC: [string, string][] = [
  ['kubectl-written', KUBECTL_WRITTEN],
  ['kubectl-written fresh file (null lists)', KUBECTL_FRESH],
  ['hand-written with comments, indented sequences, no final newline', HAND_WRITTEN],
  ['aws eks update-kubeconfig style', EKS_STYLE],
  ['hand-written with CRLF line endings', HAND_WRITTEN.replace(/\n/g, '\r\n')],
  ['kubectl-written with CRLF line endings', KUBECTL_FRESH.replace(/\n/g, '\r\n')],
];

for (const [label, original] of REALISTIC) {
  test(`${label}: adding our entries then removing them gives back the original bytes`, () => {
    const added = addKubeEntries(original, [PROD, DEV]);
    assert.deepEqual(listPimEntries(added), ['pim-dev-reader', 'pim-prod-ops-admin']);
    const before = data(original);
    const after = data(added);
    for (const key of ['clusters', 'contexts', 'users'] as const)
      assert.deepEqual(names(after[key]), [...names(before[key]), PROD.name, DEV.name], key);
    assert.equal(after['current-context'], before['current-context'], 'current-context untouched');
    assert.equal(removeKubeEntries(added, all), original);
    // one at a time, in the other order, too
    assert.equal(
      removeKubeEntries(
        removeKubeEntries(added, (n) => n === DEV.name),
        (n) => n === PROD.name,
      ),
      original,
    );
  });
}

test('unusual but valid layouts round-trip too: document markers, BOM, anchors, kept block scalars, comments between items, 4-space sequences', () => {
  const layouts = [
    '---\napiVersion: v1\nusers:\n- name: me\n  user: {token: x}\n',
    'apiVersion: v1\nusers:\n- name: me\n  user: {token: x}\n...\n',
    '\ufeffapiVersion: v1\nusers:\n- name: me\n  user: {token: x}\n',
    'users:\n- name: me\n  user:\n    token: |+\n      abc\n\n\nclusters: []\n',
    'x: &u {token: t}\nusers:\n- name: me\n  user: *u\n',
    'users:\n- name: me\n  user: {token: x}\n  # c1\n# c2\n- name: you\n  user: {token: y}\n# tail\n',
    'users:\t# c\n- name: me\n  user: {token: x}\n',
    'users:\n    -   name: me\n        user: {token: x}\n',
  ];
  for (const original of layouts) {
    const added = addKubeEntries(original, [PROD]);
    assert.deepEqual(listPimEntries(added), [PROD.name], JSON.stringify(original));
    assert.equal(removeKubeEntries(added, all), original, JSON.stringify(original));
  }
});

test('our items are inserted after the last item, in the style of the sequence they join', () => {
  const kubectl = addKubeEntries(KUBECTL_WRITTEN, [PROD]);
  // kubectl style: '- ' at the key's column, nested lists not indented
  assert.ok(
    kubectl.includes(
      `  name: staging\n- name: pim-prod-ops-admin\n  cluster:\n    server: https://prod.k8s.example:6443\n`,
    ),
    kubectl,
  );
  assert.ok(kubectl.includes(`      args:\n      - kube\n      - pim-prod-ops-admin\n`), kubectl);
  // the added text is the original with whole lines inserted: every original line is there, in order
  assert.ok(isSubsequence(KUBECTL_WRITTEN.split('\n'), kubectl.split('\n')));

  // hand-written style: '  - ' under the key, nested lists indented too; the blank line and the
  // comments after the sequence stay where they were
  const hand = addKubeEntries(HAND_WRITTEN, [PROD]);
  assert.ok(
    hand.includes(
      `    cluster: { server: 'https://legacy.example.com' }\n  - name: pim-prod-ops-admin\n    cluster:\n`,
    ),
    hand,
  );
  assert.ok(hand.includes(`        args:\n          - kube\n          - pim-prod-ops-admin\n`), hand);
  assert.ok(hand.includes(`      token: "s3cr3t" # rotated monthly\n  - name: pim-prod-ops-admin\n`), hand);
  assert.ok(
    hand.endsWith(`\n\ncurrent-context: 'prod-eu'\n# trailing note: do not sort this file`),
    'no line break added at the end',
  );
});

test('our user entry runs pim-cred as a v1 exec plugin, never interactively; the context ties cluster and user', () => {
  const kc = data(addKubeEntries(null, [PROD]));
  assert.deepEqual(kc.clusters, [
    { name: PROD.name, cluster: { server: PROD.server, 'certificate-authority-data': PROD.certificateAuthorityData } },
  ]);
  assert.deepEqual(kc.contexts, [{ name: PROD.name, context: { cluster: PROD.name, user: PROD.name } }]);
  const exec = (kc.users![0]!.user as { exec: Record<string, unknown> }).exec;
  assert.equal(kc.users![0]!.name, PROD.name);
  assert.equal(exec.apiVersion, EXEC_API_VERSION);
  assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(exec.command, HELPER);
  assert.deepEqual(exec.args, ['kube', PROD.name]);
  assert.equal(exec.interactiveMode, 'Never');
  assert.equal(exec.provideClusterInfo, false);
  assert.match(String(exec.installHint), /pim activate ops-admin/);
  // no CA data: the system's roots are used, and the key is left out
  const sys = data(addKubeEntries(null, [entry('gke', 'dev', { certificateAuthorityData: null })]));
  assert.deepEqual(sys.clusters![0]!.cluster, { server: 'https://gke.k8s.example:6443' });
});

test('adding an entry that is already there replaces it in place, leaving everything else as it was', () => {
  const once = addKubeEntries(HAND_WRITTEN, [PROD, DEV]);
  const moved = { ...PROD, server: 'https://prod-2.k8s.example:6443' };
  const twice = addKubeEntries(once, [moved]);
  const kc = data(twice);
  assert.deepEqual(names(kc.clusters), ['prod-eu', 'pim-legacy', PROD.name, DEV.name], 'same position, no duplicate');
  assert.equal(kc.clusters![2]!.cluster.server, 'https://prod-2.k8s.example:6443');
  assert.equal(twice, once.replace('server: https://prod.k8s.example:6443', 'server: https://prod-2.k8s.example:6443'));
  assert.equal(addKubeEntries(twice, [moved]), twice, 'the same entry again changes nothing');
  assert.equal(removeKubeEntries(twice, all), HAND_WRITTEN);
});

test("only our entries are removed: the user's own pim-… entries and other names stay", () => {
  const added = addKubeEntries(HAND_WRITTEN, [PROD, DEV]);
  assert.deepEqual(
    listPimEntries(added),
    [DEV.name, PROD.name],
    'pim-legacy is not ours: its user has no pim-cred exec',
  );
  const seen: string[] = [];
  const onlyProd = removeKubeEntries(added, (n) => {
    seen.push(n);
    return n === PROD.name;
  });
  assert.deepEqual(seen.sort(), [DEV.name, PROD.name], 'the predicate is only asked about our entries');
  assert.deepEqual(listPimEntries(onlyProd), [DEV.name]);
  assert.deepEqual(names(data(onlyProd).users), ['me', 'pim-legacy', DEV.name]);
  assert.equal(removeKubeEntries(HAND_WRITTEN, all), HAND_WRITTEN, 'nothing of ours: the text is returned as it is');
});

test('a same-named entry that is not ours is never overwritten', () => {
  const legacy = entry('x', 'y', { name: 'pim-legacy', args: ['kube', 'pim-legacy'] });
  assert.throws(
    () => addKubeEntries(HAND_WRITTEN, [legacy]),
    (e: Error) =>
      e instanceof KubeconfigError && /already a cluster named pim-legacy that PIM Agent did not write/.test(e.message),
  );
  // only a cluster of that name (no user of ours with it): still not ours
  const clusterOnly = `apiVersion: v1\nclusters:\n- cluster:\n    server: https://x\n  name: ${PROD.name}\ncontexts: null\nusers: null\n`;
  assert.throws(() => addKubeEntries(clusterOnly, [PROD]), /already a cluster named pim-prod-ops-admin/);
  // a user of that name running another program
  const otherExec = addKubeEntries(null, [PROD]).replace(HELPER, '/usr/local/bin/other-helper');
  assert.deepEqual(listPimEntries(otherExec), []);
  assert.throws(() => addKubeEntries(otherExec, [PROD]), KubeconfigError);
  assert.equal(removeKubeEntries(otherExec, all), otherExec, 'not ours: not removed either');
  // a context of ours the user re-pointed to another user is theirs now
  const repointed = addKubeEntries(null, [PROD]).replace(`    user: ${PROD.name}`, '    user: me');
  assert.throws(() => addKubeEntries(repointed, [PROD]), /already a context named/);
});

test('names with newlines or control characters, and helpers that are not pim-cred, are refused before any text is produced', () => {
  const bad: [string, Partial<KubeEntry>][] = [
    ['newline in the name', { name: 'pim-prod\n- name: evil' }],
    ['control character in the name', { name: 'pim-prod\u0007' }],
    ['upper case', { name: 'pim-Prod' }],
    ['not pim-', { name: 'prod-ops' }],
    ['cluster name', { cluster: 'prod\nx' }],
    ['role name', { role: 'ops admin' }],
    ['server with a newline', { server: 'https://x.example\n  evil: 1' }],
    ['plain http', { server: 'http://x.example' }],
    ['not base64', { certificateAuthorityData: 'abc\n- x' }],
    ['relative helper', { command: 'pim-cred' }],
    ['another program', { command: '/usr/bin/curl' }],
    ['newline in the helper path', { command: '/tmp/x\n/pim-cred' }],
    ['control character in an argument', { args: ['kube', 'a\u0000'] }],
  ];
  for (const [what, over] of bad) {
    assert.throws(
      () => addKubeEntries(KUBECTL_WRITTEN, [{ ...PROD, ...over }]),
      (e: Error) => e instanceof UnsafePathError || e instanceof KubeconfigError,
      what,
    );
  }
  assert.throws(() => addKubeEntries(null, [PROD, PROD]), /listed twice/);
});

test('empty lists in any spelling come back exactly: null, ~, [], bare key', () => {
  for (const empty of ['null', '~', '[]', '[ ]', '']) {
    const original = `apiVersion: v1\nkind: Config\nclusters: ${empty}\ncontexts:${empty ? ` ${empty}` : ''}\nusers: ${empty} # none yet\n`;
    const added = addKubeEntries(original, [PROD]);
    assert.deepEqual(listPimEntries(added), [PROD.name], empty);
    assert.equal(removeKubeEntries(added, all), original, JSON.stringify(empty));
  }
  const added = addKubeEntries(KUBECTL_FRESH, [PROD]);
  assert.ok(
    added.includes('contexts: # PIM Agent: was null\n- name: pim-prod-ops-admin\n'),
    'the empty value is kept in a marker comment while our entries are there',
  );
});

test('a missing key is added at the end, marked, and goes away with our last entry', () => {
  const original = `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://c"}\n`;
  const added = addKubeEntries(original, [PROD]);
  assert.ok(added.includes('\ncontexts: # PIM Agent: added\n- name: pim-prod-ops-admin\n'), added);
  assert.deepEqual(names(data(added).users), [PROD.name]);
  assert.equal(removeKubeEntries(added, all), original);
});

test('fallback: a flow sequence with items is rewritten as a block sequence; only that key changes form', () => {
  const original = `apiVersion: v1\nkind: Config # managed elsewhere\nclusters: [{name: c, cluster: {server: "https://c"}}]   # one\ncontexts: []\nusers:\n- name: me\n  user: {token: t}\n`;
  const added = addKubeEntries(original, [PROD]);
  const kc = data(added);
  assert.deepEqual(names(kc.clusters), ['c', PROD.name]);
  assert.deepEqual(kc.clusters![0], { name: 'c', cluster: { server: 'https://c' } }, 'their item keeps its data');
  assert.ok(
    added.startsWith(
      'apiVersion: v1\nkind: Config # managed elsewhere\nclusters:\n- name: c\n  cluster:\n    server: https://c\n- name: pim-prod-ops-admin\n',
    ),
    added,
  );
  assert.ok(
    added.includes('\nusers:\n- name: me\n  user: {token: t}\n- name: pim-prod-ops-admin\n'),
    'other keys untouched',
  );
  const removed = removeKubeEntries(added, all);
  assert.deepEqual(data(removed), data(original), 'same data as before');
  assert.equal(
    removed,
    'apiVersion: v1\nkind: Config # managed elsewhere\nclusters:\n- name: c\n  cluster:\n    server: https://c\ncontexts: []\nusers:\n- name: me\n  user: {token: t}\n',
  );
});

test('no file yet: a marked skeleton that is recognisably empty again once our entries are gone', () => {
  for (const none of [null, '']) {
    const created = addKubeEntries(none, [PROD, DEV]);
    assert.ok(created.startsWith('# Kubernetes client configuration written by PIM Agent'), created);
    assert.equal(isEmptySkeleton(created), false);
    const kc = data(created);
    assert.deepEqual(names(kc.users), [PROD.name, DEV.name]);
    const emptied = removeKubeEntries(
      removeKubeEntries(created, (n) => n === PROD.name),
      all,
    );
    assert.equal(emptied, SKELETON);
    assert.ok(isEmptySkeleton(emptied));
  }
  assert.ok(isEmptySkeleton(SKELETON.replace(/\n/g, '\r\n')));
  for (const [label, text] of REALISTIC) assert.equal(isEmptySkeleton(text), false, label);
  // a skeleton someone added to is not empty
  assert.equal(
    isEmptySkeleton(
      addKubeEntries(SKELETON, [PROD]).replace(
        /- name: pim-prod-ops-admin\n {2}user:[^]*$/,
        '- name: me\n  user: {token: x}\n',
      ),
    ),
    false,
  );
  assert.equal(isEmptySkeleton(`${SKELETON}# mine\n`), false);
});

test('a file with nothing but comments gets the kubeconfig keys after its comments', () => {
  const original = '# empty for now\n';
  const added = addKubeEntries(original, [PROD]);
  assert.ok(
    added.startsWith('# empty for now\napiVersion: v1\nkind: Config\nclusters:\n- name: pim-prod-ops-admin\n'),
    added,
  );
  assert.equal(
    removeKubeEntries(added, all),
    '# empty for now\napiVersion: v1\nkind: Config\nclusters:\ncontexts:\nusers:\n',
  );
});

test('current-context is never touched: one the user pointed at our entry stays when the entry goes', () => {
  const userChose = addKubeEntries(KUBECTL_WRITTEN, [PROD]).replace(
    'current-context: kind-kind',
    'current-context: pim-prod-ops-admin',
  );
  assert.equal(data(removeKubeEntries(userChose, all))['current-context'], PROD.name);
});

test('files that are not a single valid kubeconfig mapping are refused, not rewritten', () => {
  for (const [what, text] of [
    ['invalid YAML', 'apiVersion: v1\nclusters:\n- name: a\n  bad: [\n'],
    ['duplicate keys', 'users: []\nusers: []\n'],
    ['two documents', 'apiVersion: v1\n---\napiVersion: v1\n'],
    ['a list', '- a\n- b\n'],
    ['a scalar', 'hello\n'],
    ['users is a map', 'users: {a: 1}\n'],
  ]) {
    assert.throws(() => addKubeEntries(text!, [PROD]), KubeconfigError, what);
  }
});

test('kubeconfigPath: the first non-empty $KUBECONFIG entry, else ~/.kube/config', () => {
  const d = path.delimiter;
  assert.equal(kubeconfigPath({}, '/home/alice'), path.join('/home/alice', '.kube', 'config'));
  assert.equal(kubeconfigPath({ KUBECONFIG: '' }, '/home/alice'), path.join('/home/alice', '.kube', 'config'));
  assert.equal(kubeconfigPath({ KUBECONFIG: '/a/one' }, '/home/alice'), '/a/one');
  assert.equal(kubeconfigPath({ KUBECONFIG: `${d}${d}/a/two${d}/a/three` }, '/home/alice'), '/a/two');
});
