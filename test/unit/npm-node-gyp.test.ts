// scripts/electron-native.mjs compiles better-sqlite3 for Electron with npm's bundled node-gyp,
// never an unpinned one fetched at `npm start` (review S7).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'vitest';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/repo';

type Find = (
  env: NodeJS.ProcessEnv,
  execPath: string,
  platform: NodeJS.Platform,
  exists: (f: string) => boolean,
) => string | null;
const load = async (): Promise<Find> =>
  ((await import(pathToFileURL(path.join(ROOT, 'scripts', 'npm-node-gyp.mjs')).href)) as { npmNodeGyp: Find })
    .npmNodeGyp;

test("npm's node-gyp: from npm's script environment, else next to this Node (Unix and Windows), else none", async () => {
  const find = await load();
  const only = (file: string) => (f: string) => f === file;
  assert.equal(
    find(
      { npm_config_node_gyp: '/opt/npm/node-gyp/bin/node-gyp.js' },
      '/usr/bin/node',
      'linux',
      only('/opt/npm/node-gyp/bin/node-gyp.js'),
    ),
    '/opt/npm/node-gyp/bin/node-gyp.js',
  );
  assert.equal(
    find(
      {},
      '/usr/local/bin/node',
      'linux',
      only('/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    ),
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  );
  assert.equal(
    find(
      {},
      'C:\\Program Files\\nodejs\\node.exe',
      'win32',
      only('C:\\Program Files\\nodejs\\node_modules\\npm\\node_modules\\node-gyp\\bin\\node-gyp.js'),
    ),
    'C:\\Program Files\\nodejs\\node_modules\\npm\\node_modules\\node-gyp\\bin\\node-gyp.js',
  );
  assert.equal(
    find({ npm_config_node_gyp: '/gone.js' }, '/usr/bin/node', 'linux', () => false),
    null,
  );
});

test("on this machine it finds npm's node-gyp, and the script never calls npx", async () => {
  const gyp = (await load())(process.env, process.execPath, process.platform, (f) => fs.existsSync(f));
  assert.ok(gyp, 'npm ships node-gyp next to this Node');
  assert.match(fs.readFileSync(gyp, 'utf8'), /node-gyp/);
  assert.doesNotMatch(fs.readFileSync(path.join(ROOT, 'scripts', 'electron-native.mjs'), 'utf8'), /\bnpx\b/);
});
