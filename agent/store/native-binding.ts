// Which better-sqlite3 binding this process loads. better-sqlite3 is built against a runtime's V8
// ABI (node.h, not N-API): the build `npm install` makes serves Node (the CLI, `pim agent`), and
// Electron's main process needs one built for Electron's ABI. `npm start` prepares that one with
// scripts/electron-native.mjs into a folder of its own, so the CLI's build is never touched; a
// packaged app has its node_modules rebuilt for Electron by electron-builder. Pure.
import path from 'node:path';
import { PimError, errorMessage } from '../../shared/errors';

export interface RuntimeInfo {
  /** process.versions.electron; undefined under Node */
  electron?: string;
  /** process.versions.modules: the ABI (NODE_MODULE_VERSION) this runtime loads */
  modules: string;
  /** process.versions.node */
  node: string;
  platform: string;
  arch: string;
}

export type BindingChoice =
  /** better-sqlite3's own build/Release binding (Node; or a packaged app, rebuilt by electron-builder) */
  | { kind: 'default'; runtime: string }
  /** the Electron-ABI build prepared for `npm start` */
  | { kind: 'electron'; runtime: string; path: string };

/** Folder of the Electron-ABI builds, under the package root (git-ignored; scripts/electron-native.mjs). */
export const NATIVE_DIR = 'native';

export function electronBindingDir(root: string, rt: Pick<RuntimeInfo, 'modules' | 'platform' | 'arch'>): string {
  return path.join(root, NATIVE_DIR, `electron-abi${rt.modules}-${rt.platform}-${rt.arch}`);
}

export function runtimeName(rt: Pick<RuntimeInfo, 'electron' | 'node' | 'modules'>): string {
  return rt.electron ? `Electron ${rt.electron} (ABI ${rt.modules})` : `Node ${rt.node} (ABI ${rt.modules})`;
}

/** A path inside an asar archive: the app is packaged. */
export function isPackaged(root: string): boolean {
  return root.split(/[\\/]/).some((p) => p === 'app.asar');
}

export function chooseBinding(rt: RuntimeInfo, root: string): BindingChoice {
  const runtime = runtimeName(rt);
  if (!rt.electron || isPackaged(root)) return { kind: 'default', runtime };
  return { kind: 'electron', runtime, path: path.join(electronBindingDir(root, rt), 'better_sqlite3.node') };
}

export function currentRuntime(): RuntimeInfo {
  return {
    electron: process.versions.electron,
    modules: process.versions.modules,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
  };
}

/** The one command that fixes a binding that cannot load, for this choice. */
export function fixCommand(choice: BindingChoice, root: string): string {
  if (choice.kind === 'electron') return 'npm run electron:native';
  return isPackaged(root)
    ? 'reinstall PIM Agent (its native modules are rebuilt when it is packaged)'
    : 'npm rebuild better-sqlite3';
}

/**
 * What the user reads when agent.db's SQLite binding cannot be loaded: the runtime, the module and
 * the one command that fixes it, plus the cause in a few words — never a stack trace.
 */
export function bindingFailureMessage(choice: BindingChoice, root: string, error: unknown): string {
  const raw = errorMessage(error);
  const abi = /NODE_MODULE_VERSION (\d+)[\s\S]*?NODE_MODULE_VERSION (\d+)/.exec(raw);
  let cause: string;
  if (abi) cause = `it was compiled for ABI ${abi[1]}, this runtime needs ABI ${abi[2]}`;
  else if (/cannot find|no such file|ENOENT|could not locate/i.test(raw))
    cause =
      choice.kind === 'electron' ? `there is no Electron build at ${choice.path}` : 'its compiled binding is missing';
  else cause = (raw.split('\n')[0] ?? '').slice(0, 200);
  return `PIM Agent cannot load better-sqlite3 (the SQLite module for agent.db) under ${choice.runtime}: ${cause}. Fix: ${fixCommand(choice, root)}`;
}

/** better-sqlite3's compiled addon cannot be loaded under this runtime (the message says the fix). */
export type NativeBindingErrorCode = 'native-binding';

export class NativeBindingError extends PimError<NativeBindingErrorCode> {
  constructor(message: string, options?: ErrorOptions) {
    super('native-binding', message, options);
  }
}
