// The popover's main views with real data, for the screenshots (scripts/screenshots.ts) and the
// accessibility test (test/e2e/accessibility.test.ts): a real `pim-server serve`, alice and bob
// enrolled with software security keys through the real `pim enroll`, alice holding an active
// role and waiting for bob's approval of another, and one `pim ui` (web shell) per person.
// It does not use node:test hooks (the screenshot script runs outside the test runner): whoever
// starts the world passes `defer` and runs the cleanups.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { webShellSession } from './browser';
import { touch } from './ceremony';
import { PIM, PIM_SERVER, run } from './procs';
import { SoftAuthenticator } from './soft-authenticator';

export const POPOVER = { width: 400, height: 560 }; // electron/main/window-options.ts POPOVER_WIDTH/HEIGHT

export const VIEWS = ['roles', 'activate-dialog', 'active-countdown', 'approvals', 'audit'] as const;
export type View = (typeof VIEWS)[number];

export const WORLD_POLICY = `
roles:
  - name: gpu-cluster-readonly
    description: Read-only view of the GPU training cluster (jobs, nodes, logs)
    eligible: { groups: [ml-platform] }
    activation: { maxDuration: 8h, defaultDuration: 4h, justification: optional }
  - name: ai-cluster-admin
    description: Cluster-admin on the GPU training cluster
    eligible: { groups: [ml-platform] }
    activation:
      maxDuration: 2h
      defaultDuration: 1h
      mfa: { userVerification: required }
      justification: required
      ticket: { required: true, pattern: '^INC-[0-9]+$' }
      approval: { approvers: { groups: [ml-leads] }, count: 1, selfApproval: false }
  - name: inference-prod-admin
    description: Admin on the production inference cluster
    eligible: { groups: [ml-platform] }
    activation:
      maxDuration: 1h
      defaultDuration: 30m
      justification: required
      ticket: { required: true, pattern: '^(INC|CHG)-[0-9]+$' }
      approval: { approvers: { groups: [ml-leads] }, count: 1, selfApproval: false }
  - name: contractor-gpu-debug
    description: Debug access to the GPU nodes for the external CUDA contractor
    eligible: { users: [carol@contractor.example] }
    activation: { maxDuration: 4h }
users:
  - { email: alice@acme.example, groups: [ml-platform] }
  - { email: bob@acme.example, groups: [ml-leads, ml-platform] }
  - { email: carol@contractor.example, groups: [] }
`;

export interface Person {
  email: string;
  home: string;
  key: SoftAuthenticator;
  /** the web shell's URL with its session token */
  ui: string;
  /** the web shell's session token, traded once from the code in `pim ui`'s URL (the code works once) */
  token: string;
}

export interface PopoverWorld {
  alice: Person;
  bob: Person;
}

type Defer = (cleanup: () => void | Promise<void>) => void;

/** Start a long-running command; resolves with the first match of `ready` in its output. */
async function startProc(
  defer: Defer,
  bin: string,
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; exited: Promise<number | null>; output: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  let out = '';
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${ready} from ${path.basename(bin)} ${args.join(' ')}\n${out}`)),
      30_000,
    );
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(bin)} ${args[0]} exited (${code}) before it was ready\n${out}`));
    });
  });
  return { child, match, exited, output: () => out };
}

export async function startPopoverWorld(defer: Defer): Promise<PopoverWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-views-'));
  defer(() => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const repo = path.join(dir, 'repo');
  // the people's own files (kubeconfig, ~/.aws, ssh-agent) stay inside the temporary folder
  const userHome = path.join(dir, 'user-home');
  fs.mkdirSync(path.join(userHome, '.kube'), { recursive: true, mode: 0o700 });
  const env = {
    PIM_KEYSTORE: 'file',
    HOME: userHome,
    KUBECONFIG: path.join(userHome, '.kube', 'config'),
    SSH_AUTH_SOCK: '',
  };
  fs.writeFileSync(path.join(dir, 'policy.yaml'), WORLD_POLICY);
  const init = run(PIM_SERVER, ['init', repo]);
  assert.equal(init.code, 0, init.stderr);
  const pub = run(PIM_SERVER, ['publish', repo, path.join(dir, 'policy.yaml'), '--force']);
  assert.equal(pub.code, 0, pub.stderr);
  await startProc(defer, PIM_SERVER, ['serve', repo, '--listen', '127.0.0.1:0'], /people open (http:\/\/\S+)\)/, {});

  const enrol = async (email: string, groups: string): Promise<Omit<Person, 'ui' | 'token'>> => {
    const add = run(PIM_SERVER, ['user', 'add', repo, email, '--groups', groups]);
    assert.equal(add.code, 0, add.stderr);
    const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
    const home = path.join(dir, email);
    const key = new SoftAuthenticator({ name: email });
    const p = await startProc(
      defer,
      PIM,
      ['--home', home, 'enroll', link, '--no-open'],
      /Register your security key: (\S+)/,
      env,
    );
    assert.equal((await touch(key, p.match[1]!)).ok, true);
    assert.equal(await p.exited, 0, p.output());
    return { email, home, key };
  };
  const alice = await enrol('alice@acme.example', 'ml-platform');
  const bob = await enrol('bob@acme.example', 'ml-leads,ml-platform');

  // alice: one role active, one waiting for bob
  const activate = async (args: string[], state: string) => {
    const p = await startProc(
      defer,
      PIM,
      ['--home', alice.home, 'activate', ...args, '--no-open'],
      /sign this request: (\S+)/,
      env,
    );
    const r = await touch(alice.key, p.match[1]!);
    assert.equal(r.value?.state, state, JSON.stringify(r));
    await p.exited;
  };
  await activate(
    ['gpu-cluster-readonly', '--duration', '2h', '--reason', 'checking the nightly training job'],
    'active',
  );
  await activate(
    [
      'inference-prod-admin',
      '--duration',
      '30m',
      '--reason',
      'Roll back model v42: p99 latency doubled',
      '--ticket',
      'INC-4711',
    ],
    'pending-approval',
  );

  const ui = async (p: Omit<Person, 'ui' | 'token'>): Promise<Person> => {
    const s = await startProc(defer, PIM, ['--home', p.home, 'ui', '--no-open'], /PIM Agent UI: (http:\/\/\S+)/, env);
    const { origin, token } = await webShellSession(s.match[1]!);
    return { ...p, ui: `${origin}/`, token };
  };
  return { alice: await ui(alice), bob: await ui(bob) };
}

/** A page at the popover's size, in `colorScheme`, showing `view`; the element to look at. */
export async function openView(
  browser: Browser,
  world: PopoverWorld,
  view: View,
  colorScheme: 'light' | 'dark',
): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await browser.newContext({ viewport: POPOVER, colorScheme, reducedMotion: 'reduce' });
  const person = view === 'approvals' ? world.bob : world.alice;
  // each view gets a fresh context (its own colour scheme); the one-time code was spent already, so
  // the tab starts with the session token where the page keeps it after its own exchange
  await context.addInitScript(([key, token]) => window.sessionStorage.setItem(key, token), [
    'pim.token',
    person.token,
  ] as const);
  const page = await context.newPage();
  await page.goto(person.ui);
  await page.getByTestId('role-card-gpu-cluster-readonly').waitFor({ timeout: 20_000 });
  switch (view) {
    case 'roles':
      await page
        .locator('[data-testid="activation-state-inference-prod-admin"][data-state="pending-approval"]')
        .waitFor();
      break;
    case 'activate-dialog':
      await page.getByTestId('activate-ai-cluster-admin').click();
      await page.getByTestId('activate-dialog').waitFor();
      await page.getByTestId('justification-input').fill('GPU node 17 hangs, need to cordon it');
      await page.getByTestId('ticket-input').fill('INC-4711');
      await page.locator('[data-testid="ticket-hint"][data-valid="true"]').waitFor();
      break;
    case 'active-countdown': {
      const card = page.getByTestId('role-card-gpu-cluster-readonly');
      await page.locator('[data-testid="activation-state-gpu-cluster-readonly"][data-state="active"]').waitFor();
      await page.getByTestId('countdown-gpu-cluster-readonly').waitFor();
      // the active card at the top, the request waiting for approval under it
      await card.evaluate((el) => el.scrollIntoView({ block: 'start' }));
      break;
    }
    case 'approvals':
      await page.getByTestId('approvals-tab').click();
      await page.locator('li[data-testid^="approval-"]').first().waitFor({ timeout: 20_000 });
      break;
    case 'audit':
      await page.getByTestId('audit-tab').click();
      await page.getByTestId('audit-view').waitFor();
      await page
        .locator('[data-testid="audit-record"][data-type="activation-active"]')
        .first()
        .waitFor({ timeout: 20_000 });
      break;
  }
  return { page, close: () => context.close() };
}
