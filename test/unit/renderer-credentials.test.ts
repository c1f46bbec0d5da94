// What an active role's card says about its credentials: names only, in a fixed order, one line on
// how to use them — and names from the policy cannot disguise themselves or inject markup.
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import type { ActivationView, InjectionView, PimApi } from '../../shared/api';
import { ActivationStatus } from '../../renderer/ActivationStatus';
import { CredentialList } from '../../renderer/CredentialList';
import { activationView } from '../helpers/activation-view';
import {
  credentialHint,
  credentialLines,
  credentialsFor,
  credentialText,
  displayName,
} from '../../renderer/credentials-format';

const items: InjectionView['items'] = [
  { kind: 'ssh', name: 'pim:gpu-admin:act1', where: '/run/user/1000/ssh-agent.sock' },
  { kind: 'aws', name: 'pim-gpu-admin', where: '/home/alice/.aws/config' },
  { kind: 'kube', name: 'pim-gpu-train--gpu-admin', where: '/home/alice/.kube/config' },
];

function injection(over: Partial<InjectionView> = {}): InjectionView {
  return {
    role: 'gpu-admin',
    activation: 'act1',
    expiresAt: '2025-11-24T11:00:00.000Z',
    endedAt: null,
    items,
    ...over,
  };
}

test('credentials read as kube contexts, AWS profiles, then SSH certificates — names only', () => {
  assert.deepEqual(credentialLines(items).map(credentialText), [
    'kube context pim-gpu-train--gpu-admin',
    'AWS profile pim-gpu-admin',
    'SSH certificate in ssh-agent',
  ]);
  assert.equal(
    credentialHint(items),
    'use it: kubectl --context pim-gpu-train--gpu-admin  /  aws --profile pim-gpu-admin  /  ssh (ssh-agent offers the certificate)',
  );
  assert.equal(
    credentialHint(items.filter((i) => i.kind === 'kube')),
    'use it: kubectl --context pim-gpu-train--gpu-admin',
  );
  assert.equal(credentialHint([]), null);
  assert.ok(
    credentialLines(items).every((l) => !/\/home|\.sock/.test(credentialText(l))),
    'file paths and sockets are not shown',
  );
});

test('GCP and Azure read as a gcloud configuration and an Azure identity, after kube and AWS, with how to use them', () => {
  const cloud: InjectionView['items'] = [
    ...items,
    { kind: 'azure', name: 'pim-gpu-admin', where: '/home/alice/.pim/creds/azure/pim-gpu-admin.jwt' },
    { kind: 'gcp', name: 'pim-gpu-admin', where: '/home/alice/.config/gcloud' },
  ];
  assert.deepEqual(credentialLines(cloud).map(credentialText), [
    'kube context pim-gpu-train--gpu-admin',
    'AWS profile pim-gpu-admin',
    'gcloud configuration pim-gpu-admin',
    'Azure identity pim-gpu-admin',
    'SSH certificate in ssh-agent',
  ]);
  assert.equal(
    credentialHint(cloud.filter((i) => i.kind === 'gcp' || i.kind === 'azure')),
    'use it: gcloud --configuration pim-gpu-admin  /  Azure SDKs and az: pim env <role>',
  );
  assert.ok(
    credentialLines(cloud).every((l) => !/\/home/.test(credentialText(l))),
    'file paths are not shown',
  );
});

test('names lose control characters, bidi overrides and zero-width characters, and are capped', () => {
  assert.equal(displayName('pim-\u202Egnp.exe\u200b-admin\n'), 'pim-gnp.exe-admin');
  assert.equal(displayName('x'.repeat(200)).length, 80);
  assert.match(displayName('x'.repeat(200)), /…$/);
});

test('the card finds the credentials of its activation, or of the role just after an extension', () => {
  const a = { id: 'act1', role: 'gpu-admin', state: 'active' } as ActivationView;
  assert.equal(credentialsFor(a, [injection()])?.activation, 'act1');
  assert.equal(
    credentialsFor({ ...a, id: 'act2' }, [injection()])?.activation,
    'act1',
    'an extension keeps using what was injected',
  );
  assert.equal(
    credentialsFor(a, [injection({ endedAt: '2025-11-24T10:00:00.000Z' })]),
    null,
    'a tombstone is not usable',
  );
  assert.equal(credentialsFor({ ...a, id: 'x', state: 'requested' }, [injection()]), null);
  assert.equal(credentialsFor(a, [injection({ role: 'other', activation: 'o' })]), null);
});

test('the list renders names as text: markup from a policy name stays text', () => {
  const html = renderToStaticMarkup(
    createElement(CredentialList, {
      role: 'gpu-admin',
      injection: injection({ items: [{ kind: 'kube', name: 'pim-<script>alert(1)</script>', where: '/k' }] }),
    }),
  );
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  const ok = renderToStaticMarkup(createElement(CredentialList, { role: 'gpu-admin', injection: injection() }));
  assert.match(ok, /data-testid="credentials-gpu-admin"/);
  assert.equal((ok.match(/data-testid="credential-item"/g) ?? []).length, 3);
  assert.match(ok, /data-testid="credentials-hint-gpu-admin">use it: kubectl --context pim-gpu-train--gpu-admin/);
  assert.equal(
    renderToStaticMarkup(createElement(CredentialList, { role: 'gpu-admin', injection: injection({ items: [] }) })),
    '',
  );
});

test('an active card shows its credentials; an ended one does not', () => {
  const a = activationView({
    id: 'act1',
    role: 'gpu-admin',
    createdAt: '2025-11-24T10:00:00.000Z',
    startsAt: '2025-11-24T10:00:00.000Z',
    expiresAt: '2025-11-24T11:00:00.000Z',
  });
  const render = (activation: ActivationView) =>
    renderToStaticMarkup(
      createElement(ActivationStatus, {
        client: {} as PimApi,
        role: 'gpu-admin',
        activation,
        requirements: null,
        server: null,
        nowMs: Date.parse('2025-11-24T10:30:00.000Z'),
        onChanged: () => undefined,
        onDismiss: () => undefined,
        credentials: injection(),
      }),
    );
  assert.match(render(a), /kube context <code[^>]*>pim-gpu-train--gpu-admin<\/code>/);
  assert.doesNotMatch(render({ ...a, state: 'expired' }), /credentials-gpu-admin/);
});

test('an SSH certificate that found no ssh-agent reads as not added, with why, and is not offered in the hint', () => {
  const pending = [
    {
      kind: 'ssh' as const,
      name: 'pim:ops:a1',
      where: '(no ssh-agent)',
      problem: 'No ssh-agent is running for this session (SSH_AUTH_SOCK is not set)',
    },
  ];
  const [line] = credentialLines(pending);
  assert.equal(credentialText(line!), 'SSH certificate not added');
  assert.match(line!.problem!, /No ssh-agent is running/);
  assert.equal(credentialHint(pending), null);
});
