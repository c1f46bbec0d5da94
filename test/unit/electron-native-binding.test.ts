// Which better-sqlite3 binding a runtime loads, and what the user reads when it cannot be loaded.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'vitest';
import Database from 'better-sqlite3';
import {
  bindingFailureMessage,
  chooseBinding,
  electronBindingDir,
  type RuntimeInfo,
} from '../../agent/store/native-binding';

const ROOT = '/opt/pim-agent';
const node: RuntimeInfo = { modules: '115', node: '20.20.2', platform: 'linux', arch: 'x64' };
const electron: RuntimeInfo = { electron: '45.4.1', modules: '140', node: '22.20.0', platform: 'linux', arch: 'x64' };

test('Node (the CLI, pim agent) loads better-sqlite3 own build', () => {
  assert.deepEqual(chooseBinding(node, ROOT), { kind: 'default', runtime: 'Node 20.20.2 (ABI 115)' });
});

test('Electron from a checkout loads the Electron-ABI build of its own ABI, platform and arch', () => {
  const c = chooseBinding(electron, ROOT);
  assert.equal(c.kind, 'electron');
  assert.equal(
    c.kind === 'electron' && c.path,
    path.join(ROOT, 'native', 'electron-abi140-linux-x64', 'better_sqlite3.node'),
  );
  assert.equal(c.runtime, 'Electron 45.4.1 (ABI 140)');
  // another Electron (another ABI) never picks this build up
  const other = chooseBinding({ ...electron, modules: '139' }, ROOT);
  assert.notEqual(other.kind === 'electron' && other.path, c.kind === 'electron' && c.path);
  assert.equal(
    electronBindingDir(ROOT, { ...electron, arch: 'arm64' }),
    path.join(ROOT, 'native', 'electron-abi140-linux-arm64'),
  );
});

test('a packaged app (inside app.asar) loads node_modules, which electron-builder rebuilt for Electron', () => {
  assert.equal(chooseBinding(electron, '/opt/PIM Agent/resources/app.asar').kind, 'default');
  assert.equal(chooseBinding(electron, 'C:\\Program Files\\PIM Agent\\resources\\app.asar').kind, 'default');
});

test('a missing Electron build: runtime, module and the one command that fixes it, no stack trace', () => {
  const choice = chooseBinding(electron, ROOT);
  let err: unknown;
  try {
    // a real loader failure, as better-sqlite3 raises it
    new Database(':memory:', { nativeBinding: choice.kind === 'electron' ? choice.path : '' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Error);
  const msg = bindingFailureMessage(choice, ROOT, err);
  assert.match(msg, /under Electron 45\.4\.1 \(ABI 140\)/);
  assert.match(msg, /better-sqlite3/);
  assert.match(
    msg,
    /there is no Electron build at \/opt\/pim-agent\/native\/electron-abi140-linux-x64\/better_sqlite3\.node/,
  );
  assert.match(msg, /Fix: npm run electron:native$/);
  assert.doesNotMatch(msg, /\n|    at /);
});

test('a binding of another ABI names both ABIs', () => {
  // the text Node's loader gives for a module compiled for another runtime
  const e = new Error(
    "The module '/x/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 140. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).",
  );
  const fromDefault = bindingFailureMessage({ kind: 'default', runtime: 'Node 22.0.0 (ABI 140)' }, ROOT, e);
  assert.match(fromDefault, /compiled for ABI 115, this runtime needs ABI 140\. Fix: npm rebuild better-sqlite3$/);
  const packaged = bindingFailureMessage(chooseBinding(electron, '/o/resources/app.asar'), '/o/resources/app.asar', e);
  assert.match(packaged, /Fix: reinstall PIM Agent/);
});
