// `npm test`: typecheck, lint, build, then every test: Vitest for unit and integration (with real
// programs; vitest.config.mts), Playwright Test for end-to-end in Chromium (playwright.config.ts).
// Ends with one plain summary line, summed over both runners:
//   N passed, N failed, N skipped
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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
const vitestFiles = files.filter((f) => !f.startsWith('test/e2e/'));
const e2eFiles = files.filter((f) => f.startsWith('test/e2e/'));

// Each runner writes its counts to a JSON report; the console gets its usual output.
const reports = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-test-'));
const totals = { passed: 0, failed: 0, skipped: 0 };

function run(cmd, cmdArgs, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, cmd), ...cmdArgs], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function readReport(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

let exitFailures = 0;

if (vitestFiles.length) {
  // Vitest matches its arguments as substrings of file paths: whole paths select exactly these files
  const out = path.join(reports, 'vitest.json');
  const code = await run('node_modules/vitest/vitest.mjs', [
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${out}`,
    ...vitestFiles,
  ]);
  const r = readReport(out);
  if (r) {
    totals.passed += r.numPassedTests;
    // a file that cannot even load fails as a suite, with no failed test in it
    totals.failed += r.numFailedTests || r.numFailedTestSuites;
    totals.skipped += r.numPendingTests + r.numTodoTests;
  }
  if (code !== 0 && (!r || (r.numFailedTests || r.numFailedTestSuites) === 0)) exitFailures++;
}

if (e2eFiles.length) {
  const out = path.join(reports, 'playwright.json');
  const code = await run('node_modules/@playwright/test/cli.js', ['test', '--reporter=list,json', ...e2eFiles], {
    PLAYWRIGHT_JSON_OUTPUT_NAME: out,
  });
  const r = readReport(out);
  if (r) {
    totals.passed += r.stats.expected + r.stats.flaky;
    totals.failed += r.stats.unexpected;
    totals.skipped += r.stats.skipped;
  }
  if (code !== 0 && (!r || r.stats.unexpected === 0)) exitFailures++;
}

fs.rmSync(reports, { recursive: true, force: true });
const failed = totals.failed + exitFailures;
console.log(`\n${totals.passed} passed, ${failed} failed, ${totals.skipped} skipped`);
process.exit(failed === 0 && totals.passed > 0 ? 0 : 1);
