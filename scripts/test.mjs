// `npm test`: typecheck, lint, build, then every test with Node's test runner (unit, integration
// with real programs, end-to-end in Chromium). Ends with one plain summary line:
//   N passed, N failed, N skipped
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick'); // skip typecheck + lint (local iteration)
const filters = args.filter((a) => !a.startsWith('--'));

function step(name, cmd, cmdArgs) {
  const t0 = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\n${name} failed`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  console.error(`${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

if (!quick) {
  step('typecheck', process.execPath, [
    path.join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    'tsconfig.json',
    '--noEmit',
  ]);
  step('lint', process.execPath, [path.join(root, 'node_modules/eslint/bin/eslint.js'), '.']);
  step('format', process.execPath, [
    path.join(root, 'node_modules/prettier/bin/prettier.cjs'),
    '--check',
    '--log-level=warn',
    '.',
  ]);
}
step('build', process.execPath, [path.join(root, 'scripts/build.mjs')]);

const files = ['test/unit', 'test/integration', 'test/e2e']
  .flatMap((d) =>
    fs.existsSync(path.join(root, d))
      ? fs
          .readdirSync(path.join(root, d))
          .filter((f) => f.endsWith('.test.ts'))
          .map((f) => `${d}/${f}`)
      : [],
  )
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let out = '';
child.stdout.on('data', (d) => {
  out += d;
  process.stdout.write(d);
});
child.on('exit', (code) => {
  const count = (label) => Number((out.match(new RegExp(`^ℹ ${label} (\\d+)`, 'm')) ?? [])[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  const skipped = count('skipped') + count('todo');
  const failedRun = code !== 0 && failed === 0 ? 1 : failed;
  console.log(`\n${passed} passed, ${failedRun} failed, ${skipped} skipped`);
  process.exit(code === 0 && failedRun === 0 && passed > 0 ? 0 : 1);
});
