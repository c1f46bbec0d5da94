// The WebAuthn ceremony page as people use it: a real control plane over HTTP, Debian's Chromium with a virtual
// security key (CDP WebAuthn domain, docs/architecture.md, Platform facts), clicks on "Touch your security key".
// Enrolment registers the key; an auto-approved role becomes active; a role that needs approval waits, then another
// person approves (or denies, with a reason) on their own ceremony page.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from './fixtures';
import { after } from '../helpers/cleanup';
import type { Browser, Page } from 'playwright-core';
import type { ActivationRequest } from '../../shared/activation';
import { ControlPlaneClient } from '../../agent/activation/cp-client';
import { FileKeystore, createDeviceKey, type DeviceKey } from '../../agent/keystore';
import { serve, type RunningServer } from '../../server/http';
import { launchChromium } from '../helpers/browser';
import { makeRepo, tmpDir } from '../helpers/repo';

/** a time the page shows, with the date when it falls on another day (a run just before midnight) */
const AT_TIME = String.raw`(?:[A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}, )?\d\d:\d\d`;

const POLICY = `
roles:
  - name: readonly
    eligible: { groups: [eng] }
    activation: { maxDuration: 8h, justification: required }
  - name: prod-admin
    eligible: { groups: [eng] }
    activation:
      maxDuration: 2h
      mfa: { userVerification: required }
      approval: { approvers: { groups: [leads] }, count: 1, selfApproval: false }
users:
  - { email: alice@acme.example, groups: [eng] }
  - { email: bob@acme.example, groups: [eng, leads] }
`;

interface User {
  email: string;
  key: DeviceKey;
  client: ControlPlaneClient;
  page: Page;
}

interface ActivationCreated {
  activation: { id: string; state: string; ceremonyUrl: string | null };
}

/** An ssh-ed25519 public key line, as the agent puts in a request. */
function sshPublicKey(): string {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length, 0);
    return Buffer.concat([len, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')}`;
}

/** A page in its own browser context with its own virtual security key (one per person). */
async function pageWithKey(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return page;
}

async function result(page: Page): Promise<{ state: string | null; text: string }> {
  const r = page.getByTestId('ceremony-result');
  await r.waitFor({ timeout: 15_000 });
  return { state: await r.getAttribute('data-state'), text: await r.innerText() };
}

/** Enrols a user through the ceremony page; the agent side is the real ControlPlaneClient. */
async function enrolThroughPage(browser: Browser, srv: RunningServer, email: string): Promise<User> {
  const key = await createDeviceKey(new FileKeystore(tmpDir()));
  const client = new ControlPlaneClient(srv.url, key);
  const { code } = srv.controlPlane.users.add(email, []);
  const started = await client.call<{ id: string; ceremonyUrl: string }>('POST', '/api/v1/enrol/start', {
    code,
    deviceJwk: key.publicJwk,
  });
  assert.equal(started.ceremonyUrl, `${srv.publicUrl}/ceremony/enrol/${started.id}`);
  const page = await pageWithKey(browser);
  await page.goto(started.ceremonyUrl);
  const summary = await page.getByTestId('ceremony-summary').innerText();
  assert.match(summary, new RegExp(`Register a security key for ${email.replace('.', '\\.')} on this device`));
  assert.equal(await page.getByTestId('device-fingerprint').getAttribute('title'), key.thumbprint);
  await page.getByTestId('ceremony-sign').click();
  const r = await result(page);
  assert.equal(r.state, 'registered', r.text);
  assert.equal((await client.call<{ state: string }>('GET', `/api/v1/enrol/${started.id}`)).state, 'complete');
  return { email, key, client, page };
}

function request(u: User, role: string, over: Partial<ActivationRequest> = {}): ActivationRequest {
  return {
    v: 1,
    kind: 'activate',
    user: u.email,
    device: u.key.thumbprint,
    role,
    duration: 5400,
    justification: 'investigating INC-4711: disk pressure on the GPU nodes',
    ticket: 'INC-4711',
    sshPublicKey: null,
    policyVersion: 1,
    requestedAt: new Date().toISOString(),
    extends: null,
    ...over,
  };
}

test('the ceremony page enrols a key, activates a role, and carries approvals and denials', async ({}, t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const { dir } = makeRepo({ policy: POLICY });
  const srv = await serve(dir, { host: '127.0.0.1', port: 0, keepTimestampFresh: false });
  after(() => srv.close());
  assert.match(srv.publicUrl, /^http:\/\/localhost:\d+$/);

  let alice!: User;
  let bob!: User;

  await test.step('the page is served with strict headers, and only for ceremony paths', async () => {
    const res = await fetch(`${srv.publicUrl}/ceremony/activation/abc`);
    assert.equal(res.status, 200, 'the ceremony page is served by the control plane (server/http.ts wiring)');
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(
      res.headers.get('content-security-policy') ?? '',
      /default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'/,
    );
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(await res.text(), /<script src="\/ceremony\/app\.js"><\/script>/);
    assert.equal(
      (await fetch(`${srv.publicUrl}/ceremony/app.js`)).headers.get('content-type'),
      'text/javascript; charset=utf-8',
    );
    assert.equal((await fetch(`${srv.publicUrl}/ceremony/styles.css`)).status, 200);
    for (const p of [
      '/ceremony/approval/not-a-nonce',
      '/ceremony/../trust-root.json',
      '/ceremony/index.html',
      '/ceremony/other/abc',
    ]) {
      assert.notEqual((await fetch(`${srv.publicUrl}${p}`)).headers.get('content-type'), 'text/html; charset=utf-8', p);
    }
  });

  await test.step('enrolment: the user registers a security key on the page', async () => {
    alice = await enrolThroughPage(browser, srv, 'alice@acme.example');
    bob = await enrolThroughPage(browser, srv, 'bob@acme.example');
  });

  await test.step('an auto-approved role: the summary says what is signed, and the touch activates it', async () => {
    const ssh = sshPublicKey();
    const created = await alice.client.call<ActivationCreated>('POST', '/api/v1/activations', {
      request: request(alice, 'readonly', { sshPublicKey: ssh }),
    });
    assert.equal(created.activation.state, 'requested');
    await alice.page.goto(created.activation.ceremonyUrl!);
    const summary = alice.page.getByTestId('ceremony-summary');
    await summary.waitFor();
    const text = await summary.innerText();
    assert.match(text, /You are about to activate readonly for 1 h 30 min as alice@acme\.example/);
    assert.match(text, /investigating INC-4711: disk pressure on the GPU nodes/);
    assert.match(text, /Ticket\s+INC-4711/);
    assert.match(text, /Policy\s+v1/);
    assert.match(text, new RegExp(`This request expires at ${AT_TIME}`));
    assert.match(text, /no one else needs to approve/);
    assert.equal(await alice.page.getByTestId('ssh-key').getAttribute('title'), ssh);
    assert.match(await alice.page.getByTestId('ssh-key').innerText(), /^ssh-ed25519 AAAAC3Nz…/);
    const ev = srv.controlPlane.activations.evidence(created.activation.id);
    assert.equal(
      (await alice.page.getByTestId('request-fingerprint').innerText()).replace(/\s/g, ''),
      ev.requestSha256.slice(0, 16),
    );
    assert.match(await alice.page.title(), /Activate readonly/);
    await alice.page.screenshot({ path: '/tmp/ceremony.png', fullPage: true });

    await alice.page.getByTestId('ceremony-sign').click();
    const r = await result(alice.page);
    assert.equal(r.state, 'active', r.text);
    assert.match(r.text, new RegExp(`Active until ${AT_TIME}`));
    assert.equal(await alice.page.getByTestId('ceremony-sign').count(), 0, 'nothing left to sign');
    const view = await alice.client.call<{ state: string }>('GET', `/api/v1/activations/${created.activation.id}`);
    assert.equal(view.state, 'active');
    assert.ok(
      srv.controlPlane.activations.evidence(created.activation.id).assertion,
      'the assertion is kept as evidence',
    );

    // the link is single-use: opening it again says so instead of offering a second signature
    await alice.page.goto(created.activation.ceremonyUrl!);
    const again = await result(alice.page);
    assert.equal(again.state, 'error');
    assert.match(again.text, /already active/);
    assert.equal(await alice.page.getByTestId('ceremony-sign').count(), 0);
  });

  await test.step('a role that needs approval waits, then another person approves it on their page', async () => {
    const created = await alice.client.call<ActivationCreated>('POST', '/api/v1/activations', {
      request: request(alice, 'prod-admin', { duration: 3600 }),
    });
    await alice.page.goto(created.activation.ceremonyUrl!);
    assert.match(await alice.page.getByTestId('approval-note').innerText(), /still needs approval/);
    await alice.page.getByTestId('ceremony-sign').click();
    const waiting = await result(alice.page);
    assert.equal(waiting.state, 'pending-approval', waiting.text);
    assert.match(waiting.text, /Waiting for approval/);

    const challenge = await bob.client.call<{ ceremonyUrl: string; ceremonyId: string }>(
      'POST',
      `/api/v1/approvals/${created.activation.id}`,
      { decision: 'approve', reason: 'looks right' },
    );
    assert.equal(challenge.ceremonyUrl, `${srv.publicUrl}/ceremony/approval/${challenge.ceremonyId}`);
    await bob.page.goto(challenge.ceremonyUrl);
    const summary = await bob.page.getByTestId('ceremony-summary').innerText();
    assert.match(summary, /bob, you are about to APPROVE alice's request to activate prod-admin for 1 h/);
    assert.match(summary, /investigating INC-4711/);
    assert.match(summary, /looks right/);
    await bob.page.getByTestId('ceremony-sign').click();
    const approved = await result(bob.page);
    assert.equal(approved.state, 'active', approved.text);
    assert.equal(
      (await alice.client.call<{ state: string }>('GET', `/api/v1/activations/${created.activation.id}`)).state,
      'active',
    );
  });

  await test.step('a denial is signed with its reason, and the requester sees it', async () => {
    const created = await alice.client.call<ActivationCreated>('POST', '/api/v1/activations', {
      request: request(alice, 'prod-admin', { duration: 1800 }),
    });
    await alice.page.goto(created.activation.ceremonyUrl!);
    await alice.page.getByTestId('ceremony-sign').click();
    assert.equal((await result(alice.page)).state, 'pending-approval');

    const challenge = await bob.client.call<{ ceremonyUrl: string }>(
      'POST',
      `/api/v1/approvals/${created.activation.id}`,
      { decision: 'deny', reason: 'change freeze until Monday' },
    );
    await bob.page.goto(challenge.ceremonyUrl);
    const summary = await bob.page.getByTestId('ceremony-summary').innerText();
    assert.match(summary, /bob, you are about to DENY alice's request to activate prod-admin for 30 min/);
    assert.match(summary, /Your reason\s+“?change freeze until Monday/);
    await bob.page.getByTestId('ceremony-sign').click();
    const denied = await result(bob.page);
    assert.equal(denied.state, 'denied', denied.text);
    assert.match(denied.text, /change freeze until Monday/);
    const view = await alice.client.call<{ state: string; endReason: string }>(
      'GET',
      `/api/v1/activations/${created.activation.id}`,
    );
    assert.equal(view.state, 'denied');
    assert.match(view.endReason, /change freeze until Monday/);
  });

  await test.step('cancelling the key prompt signs nothing and offers to try again', async () => {
    const created = await alice.client.call<ActivationCreated>('POST', '/api/v1/activations', {
      request: request(alice, 'readonly', { duration: 600 }),
    });
    const page = await pageWithKey(browser); // a key that was never enrolled: the browser finds no credential and refuses
    await page.goto(created.activation.ceremonyUrl!);
    await page.getByTestId('ceremony-sign').click();
    const r = await result(page);
    assert.equal(r.state, 'cancelled', r.text);
    assert.match(r.text, /Cancelled — nothing was signed/);
    assert.match(await page.getByTestId('ceremony-sign').innerText(), /Try again/);
    assert.equal(
      (await alice.client.call<{ state: string }>('GET', `/api/v1/activations/${created.activation.id}`)).state,
      'requested',
    );
    // the right key, on the same page: the retry goes through
    await alice.page.goto(created.activation.ceremonyUrl!);
    await alice.page.getByTestId('ceremony-sign').click();
    assert.equal((await result(alice.page)).state, 'active');
    await page.context().close();
  });

  await test.step('unknown links and browsers without WebAuthn get a clear message', async () => {
    const page = await browser.newPage();
    await page.goto(`${srv.publicUrl}/ceremony/activation/doesnotexist`);
    const missing = await result(page);
    assert.equal(missing.state, 'error');
    assert.match(missing.text, /not found/i);
    assert.equal(await page.getByTestId('ceremony-sign').count(), 0);

    const created = await alice.client.call<ActivationCreated>('POST', '/api/v1/activations', {
      request: request(alice, 'readonly', { duration: 600 }),
    });
    await page.addInitScript(() => {
      delete (window as { PublicKeyCredential?: unknown }).PublicKeyCredential;
    });
    await page.goto(created.activation.ceremonyUrl!);
    await page.getByTestId('ceremony-summary').waitFor();
    const r = await result(page);
    assert.equal(r.state, 'error');
    assert.match(r.text, /cannot use a security key/);
    assert.equal(await page.getByTestId('ceremony-sign').count(), 0);
    await page.close();
  });
});
