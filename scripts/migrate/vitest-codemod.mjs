#!/usr/bin/env node
// One-off migration, kept until it has been applied on main (then delete this folder).
// Codemod (issue 12, part 7): node:test -> Vitest (test/unit, test/integration), Playwright Test
// (test/e2e), runner-neutral helpers (test/helpers). Idempotent: a file without a node:test import
// (or a node:test-typed context) is left alone, so it is safe to re-run on a tree where some files
// are converted and new node:test files were merged in.
//
// Usage (from the repository root):  node scripts/migrate/vitest-codemod.mjs [--dry] [files...]
//   no files: every *.ts under test/unit, test/integration, test/e2e, test/helpers.
// Prints each file it rewrote, then "NOT CONVERTED" file:line entries for what it cannot convert
// (exit code 2 when there are any), then runs prettier on the rewritten files.
//
// What it does:
//   import { test, it, describe, before, after, beforeEach, afterEach, mock, type TestContext } from 'node:test'
//     vitest:     test/it/describe/beforeEach/afterEach as is, before -> beforeAll, mock -> vi,
//                 `after(fn)` as a statement of the file or of a describe body -> afterAll(fn);
//                 any other after(fn) (in a test, a before hook, a helper) -> after from
//                 test/helpers/cleanup (runs when the test ends, or the file when not in a test).
//     playwright: test from test/e2e/fixtures; describe -> test.describe, before -> test.beforeAll, ...
//     helpers:    after -> ./cleanup, TestContext -> ./test-context (skip(condition, note) in both runners)
//   test(name, { skip: c, timeout: n, todo, only }, fn)
//     vitest:     test.skipIf(c)(name, { timeout: n }, fn) (test.skip / test.todo / test.only)
//     playwright: test(name, async ({}, t) => { test.skip(c, ...); test.setTimeout(n); ... })
//   the test's context t (first parameter of a test callback, or a parameter typed TestContext):
//     t.test(name, fn)   vitest: step(name, fn) (test/helpers/step)   playwright: test.step(name, fn)
//     t.after(fn)        vitest: t.onTestFinished(fn)                  playwright/helpers: after(fn)
//     t.skip(msg)        vitest: as is (ctx.skip(note))                playwright/helpers: t.skip(true, msg)
//     t.diagnostic(x)    vitest: await t.annotate(x)                   playwright: t.annotations.push(...)
//     t.name             vitest: t.task.name                           playwright: t.title
//     t.signal           vitest: as is
//   mock.method(o, k, f) -> vi.spyOn(o, k).mockImplementation(f); mock.fn(f) -> vi.fn(f);
//   X.mock.restore() -> X.mockRestore(); mock.restoreAll()/reset() -> vi.restoreAllMocks()
//   node:assert is left alone (it works under both runners).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';

const root = process.cwd();
const require = createRequire(path.join(root, 'package.json'));
const ts = require('typescript');

const args = process.argv.slice(2);
const dry = args.includes('--dry');
const given = args.filter((a) => !a.startsWith('--'));
const DIRS = ['test/unit', 'test/integration', 'test/e2e', 'test/helpers'];

function listFiles() {
  if (given.length) return given.map((f) => path.relative(root, path.resolve(f)));
  return DIRS.flatMap((d) => {
    const abs = path.join(root, d);
    if (!fs.existsSync(abs)) return [];
    return fs
      .readdirSync(abs, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => path.join(d, f));
  }).sort();
}

function kindOf(rel) {
  if (rel.startsWith('test/e2e/')) return 'playwright';
  if (rel.startsWith('test/helpers/')) return 'helper';
  return 'vitest';
}

function relImport(fromFile, target) {
  let r = path.relative(path.dirname(fromFile), target).split(path.sep).join('/');
  if (!r.startsWith('.')) r = `./${r}`;
  return r;
}

const problems = [];
const changed = [];

for (const rel of listFiles()) {
  const abs = path.join(root, rel);
  if (rel === 'test/e2e/fixtures.ts') continue;
  const text = fs.readFileSync(abs, 'utf8');
  const out = convert(rel, text);
  if (out !== null && out !== text) {
    changed.push(rel);
    if (!dry) fs.writeFileSync(abs, out);
    console.log(`converted ${rel}`);
  }
}

if (changed.length && !dry) {
  const r = spawnSync(
    process.execPath,
    [require.resolve('prettier/bin/prettier.cjs'), '--write', '--log-level=warn', ...changed],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) problems.push({ where: '(prettier)', what: 'prettier --write failed on the rewritten files' });
}

console.log(`\n${changed.length} file(s) rewritten${dry ? ' (dry run)' : ''}`);
if (problems.length) {
  console.log(`\nNOT CONVERTED (${problems.length}) — convert these by hand:`);
  for (const p of problems) console.log(`  ${p.where}: ${p.what}`);
  process.exitCode = 2;
} else {
  console.log('nothing left unconverted');
}

function convert(rel, text) {
  const kind = kindOf(rel);
  const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const line = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const report = (node, what) => problems.push({ where: `${rel}:${line(node.getStart(sf))}`, what });

  // --- the node:test import(s)
  const imports = sf.statements.filter(
    (s) => ts.isImportDeclaration(s) && ts.isStringLiteral(s.moduleSpecifier) && s.moduleSpecifier.text === 'node:test',
  );
  // TestContext may also come in through a type-only import; a file with neither is already converted
  // import('node:test').TestContext in a type position: the TestContext import below
  const importTypes = [];
  (function findImportTypes(n) {
    if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && n.argument.literal.text === 'node:test')
      importTypes.push(n);
    ts.forEachChild(n, findImportTypes);
  })(sf);
  const hasNodeTestRequire = /require\(['"]node:test['"]\)/.test(text);
  if (hasNodeTestRequire) {
    const i = text.search(/(require|import)\(['"]node:test['"]\)/);
    problems.push({ where: `${rel}:${line(i)}`, what: "require/import('node:test') is not converted" });
  }
  if (imports.length === 0 && importTypes.length === 0) return null;

  const local = new Map(); // local name -> node:test export name
  for (const imp of imports) {
    const clause = imp.importClause;
    if (!clause || clause.name || !clause.namedBindings || !ts.isNamedImports(clause.namedBindings)) {
      report(imp, "default or namespace import of 'node:test'");
      continue;
    }
    for (const el of clause.namedBindings.elements) {
      const exported = (el.propertyName ?? el.name).text;
      local.set(el.name.text, exported);
    }
  }
  for (const it of importTypes) {
    if (!it.qualifier || !ts.isIdentifier(it.qualifier) || it.qualifier.text !== 'TestContext' || it.typeArguments) {
      report(it, `import('node:test')${it.qualifier ? '.' + it.qualifier.getText(sf) : ''} in a type`);
      continue;
    }
    if (![...local.values()].includes('TestContext')) local.set('TestContext', 'TestContext');
  }
  const nameOf = (exported) => [...local].find(([, e]) => e === exported)?.[0];
  const isNode = (id, ...exported) =>
    ts.isIdentifier(id) && local.has(id.text) && exported.includes(local.get(id.text));

  const edits = []; // { start, end, text }
  const edit = (start, end, t) => edits.push({ start, end, text: t });
  const replaceNode = (node, t) => edit(node.getStart(sf), node.getEnd(), t);
  const tcName = () => [...local].find(([, e]) => e === 'TestContext')?.[0] ?? 'TestContext';
  for (const it of importTypes) if (it.qualifier?.text === 'TestContext') replaceNode(it, tcName());

  const need = {
    vitest: new Set(),
    vitestTypes: new Set(),
    cleanupAfter: false,
    step: false,
    neutralContext: false,
    fixturesTest: false,
  };

  // identifiers standing for a test's context: first param of a test callback, or typed TestContext
  const contextParams = new Set(); // ts.ParameterDeclaration
  const testCallbacks = new Set(); // function nodes that are test bodies

  const isTestCallee = (callee) => {
    // test(...), it(...), test.skip(...), test.only(...), test.todo(...)
    if (isNode(callee, 'test', 'it')) return { base: callee, modifier: null };
    if (
      ts.isPropertyAccessExpression(callee) &&
      isNode(callee.expression, 'test', 'it') &&
      ['skip', 'only', 'todo'].includes(callee.name.text)
    )
      return { base: callee.expression, modifier: callee.name.text };
    return null;
  };
  const isDescribeCallee = (callee) => {
    if (isNode(callee, 'describe', 'suite')) return { base: callee, modifier: null };
    if (
      ts.isPropertyAccessExpression(callee) &&
      isNode(callee.expression, 'describe', 'suite') &&
      ['skip', 'only', 'todo'].includes(callee.name.text)
    )
      return { base: callee.expression, modifier: callee.name.text };
    return null;
  };
  const isFn = (n) => n && (ts.isArrowFunction(n) || ts.isFunctionExpression(n));

  const describeBodies = new Set();

  // pass 1: test / describe calls, their options and callbacks
  function visitCalls(node) {
    if (ts.isCallExpression(node)) {
      const t = isTestCallee(node.expression);
      const d = !t && isDescribeCallee(node.expression);
      if (t || d) handleTestOrDescribe(node, t || d, Boolean(d));
    }
    if (ts.isParameter(node) && node.type && importTypes.includes(node.type) && ts.isIdentifier(node.name))
      contextParams.add(node);
    if (ts.isParameter(node) && node.type && ts.isIdentifier(node.name)) {
      // t: TestContext, or t: TestContext | null | undefined
      const types = ts.isUnionTypeNode(node.type) ? node.type.types : [node.type];
      const isCtx = (ty) =>
        ts.isTypeReferenceNode(ty) && ts.isIdentifier(ty.typeName) && local.get(ty.typeName.text) === 'TestContext';
      if (types.some(isCtx)) contextParams.add(node);
    }
    ts.forEachChild(node, visitCalls);
  }

  function handleTestOrDescribe(call, { base, modifier }, isDescribe) {
    const a = call.arguments;
    const fnArg = a.length > 0 && isFn(a[a.length - 1]) ? a[a.length - 1] : null;
    const optArg = a.length >= 2 && ts.isObjectLiteralExpression(a[1]) ? a[1] : null;
    if (!fnArg && a.length > 0 && !(modifier === 'todo' || (optArg && a.length === 2))) {
      const last = a[a.length - 1];
      if (!ts.isStringLiteralLike(last) && !ts.isTemplateExpression(last))
        report(call, 'test/describe whose body is not an inline function (its context cannot be followed)');
    }
    if (fnArg && isDescribe) describeBodies.add(fnArg);
    if (fnArg && !isDescribe) {
      testCallbacks.add(fnArg);
      const p = fnArg.parameters[0];
      if (p) {
        if (ts.isIdentifier(p.name)) contextParams.add(p);
        else if (kind !== 'playwright' || !ts.isObjectBindingPattern(p.name))
          report(p, "a test callback's first parameter that is not a plain name");
      }
      if (kind === 'playwright') {
        if (p && ts.isIdentifier(p.name)) edit(p.getStart(sf), p.getStart(sf), '{}, ');
      }
    }

    // options
    let skipCond = null; // expression text, or 'true'
    let skipMsg = null;
    let timeout = null;
    let other = [];
    let flag = modifier; // skip/only/todo as modifier
    if (optArg) {
      for (const prop of optArg.properties) {
        if (!ts.isPropertyAssignment(prop) || !ts.isIdentifier(prop.name)) {
          report(prop, 'test option that is not a plain `name: value`');
          other.push(prop.getText(sf));
          continue;
        }
        const k = prop.name.text;
        const v = prop.initializer;
        if (k === 'timeout') timeout = v.getText(sf);
        else if (k === 'skip' || k === 'todo') {
          let cond = v;
          let msg = null;
          if (
            ts.isBinaryExpression(v) &&
            v.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken &&
            ts.isStringLiteralLike(v.right)
          ) {
            cond = v.left;
            msg = v.right.text;
          }
          if (ts.isStringLiteralLike(cond)) {
            msg = cond.text;
            cond = null;
          } else if (cond.kind === ts.SyntaxKind.TrueKeyword) cond = null;
          else if (cond.kind === ts.SyntaxKind.FalseKeyword) continue;
          if (k === 'todo') {
            if (cond) report(prop, 'a conditional todo option');
            flag = 'todo';
          } else if (cond) {
            skipCond = cond.getText(sf);
            skipMsg = msg;
          } else {
            flag = 'skip';
            skipMsg = msg;
          }
        } else if (k === 'only') {
          if (v.kind === ts.SyntaxKind.TrueKeyword) flag = 'only';
          else if (v.kind !== ts.SyntaxKind.FalseKeyword) report(prop, 'a conditional only option');
        } else {
          report(prop, `test option '${k}' has no conversion`);
          other.push(prop.getText(sf));
        }
      }
    }

    const baseName = kind === 'playwright' ? (isDescribe ? 'test.describe' : 'test') : base.getText(sf);
    if (kind === 'playwright') {
      if (isDescribe && local.get(base.text) !== 'test') edit(base.getStart(sf), base.getEnd(), 'test.describe');
      if (optArg) {
        // options become calls at the top of the body
        edit(a[0].getEnd(), optArg.getEnd(), '');
        const lines = [];
        if (skipCond) lines.push(`test.skip(Boolean(${skipCond}), ${JSON.stringify(skipMsg ?? 'skipped')});`);
        if (timeout) lines.push(`test.setTimeout(${timeout});`);
        if (lines.length && fnArg && ts.isBlock(fnArg.body))
          edit(fnArg.body.getStart(sf) + 1, fnArg.body.getStart(sf) + 1, `\n${lines.join('\n')}\n`);
        else if (lines.length) report(call, 'options on a test without a block body');
        if (flag && flag !== modifier) {
          if (modifier) report(call, 'test with both a modifier and an option');
          else edit(base.getEnd(), base.getEnd(), `.${flag === 'todo' ? 'fixme' : flag}`);
        }
      }
      return;
    }
    // vitest
    if (!optArg) return;
    if (skipCond && flag) report(call, 'conditional skip together with skip/only/todo');
    let callee = baseName;
    if (flag) callee = `${baseName}.${flag}`;
    else if (skipCond)
      callee = `${baseName}.skipIf(${skipCond}${skipMsg ? ` /* ${skipMsg.replace(/\*\//g, '')} */` : ''})`;
    if (callee !== baseName || modifier) replaceNode(call.expression, callee);
    const keep = [...(timeout ? [`timeout: ${timeout}`] : []), ...other];
    if (keep.length) replaceNode(optArg, `{ ${keep.join(', ')} }`);
    else edit(a[0].getEnd(), optArg.getEnd(), '');
  }

  visitCalls(sf);

  // pass 2: hooks and mock, by the imported names
  const isStatementOf = (call, containers) => {
    const stmt = call.parent;
    if (!stmt || !ts.isExpressionStatement(stmt)) return false;
    const block = stmt.parent;
    if (ts.isSourceFile(block)) return true;
    return ts.isBlock(block) && containers.has(block.parent);
  };

  function visitHooks(node) {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && local.has(node.expression.text)) {
      const exported = local.get(node.expression.text);
      const id = node.expression;
      if (exported === 'before') {
        if (kind === 'vitest') {
          replaceNode(id, 'beforeAll');
          need.vitest.add('beforeAll');
        } else if (kind === 'playwright') replaceNode(id, 'test.beforeAll');
        else report(node, 'before() in a helper');
      } else if (exported === 'beforeEach' || exported === 'afterEach') {
        if (kind === 'vitest') need.vitest.add(exported);
        else if (kind === 'playwright') replaceNode(id, `test.${exported}`);
        else report(node, `${exported}() in a helper`);
      } else if (exported === 'after') {
        if (kind !== 'helper' && isStatementOf(node, describeBodies)) {
          if (kind === 'vitest') {
            replaceNode(id, 'afterAll');
            need.vitest.add('afterAll');
          } else replaceNode(id, 'test.afterAll');
        } else {
          if (id.text !== 'after') replaceNode(id, 'after');
          need.cleanupAfter = true;
        }
      }
    }
    // mock.*
    if (ts.isPropertyAccessExpression(node) && isNode(node.expression, 'mock')) {
      const m = node.name.text;
      const call = ts.isCallExpression(node.parent) && node.parent.expression === node ? node.parent : null;
      if (kind !== 'vitest') report(node, 'node:test mock outside unit/integration tests');
      else if (m === 'method' && call && call.arguments.length >= 2) {
        const [o, k, f] = call.arguments;
        replaceNode(
          call,
          `vi.spyOn(${o.getText(sf)}, ${k.getText(sf)})${f ? `.mockImplementation(${f.getText(sf)})` : ''}`,
        );
        need.vitest.add('vi');
      } else if (m === 'fn' && call) {
        replaceNode(node, 'vi.fn');
        need.vitest.add('vi');
      } else if ((m === 'restoreAll' || m === 'reset') && call) {
        replaceNode(call, 'vi.restoreAllMocks()');
        need.vitest.add('vi');
      } else report(node, `mock.${m} has no conversion (mock.timers: use vi.useFakeTimers by hand)`);
    }
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'mock' &&
      local.has('mock') !== false &&
      nameOf('mock')
    ) {
      const m = node.name.text;
      const call = ts.isCallExpression(node.parent) && node.parent.expression === node ? node.parent : null;
      if (m === 'restore' && call) replaceNode(call, `${node.expression.expression.getText(sf)}.mockRestore()`);
      else if (m === 'resetCalls' && call) replaceNode(call, `${node.expression.expression.getText(sf)}.mockClear()`);
      else report(node, `.mock.${m} (node:test mock state differs from vi's: convert by hand)`);
    }
    ts.forEachChild(node, visitHooks);
  }
  visitHooks(sf);

  // pass 3: uses of the contexts
  const enclosingFn = (n) => {
    let p = n.parent;
    while (p && !ts.isFunctionLike(p)) p = p.parent;
    return p;
  };
  const isAsync = (fn) => fn && (ts.getCombinedModifierFlags(fn) & ts.ModifierFlags.Async) !== 0;

  const stepParams = [];
  const work = [...contextParams];
  while (work.length || stepParams.length) {
    const isStep = work.length === 0;
    const param = isStep ? stepParams.shift() : work.shift();
    convertUses(param, isStep);
  }
  function convertUses(param, isStep) {
    const name = param.name.text;
    const fn = param.parent;
    const isTestBody = testCallbacks.has(fn);
    // a step's context is the neutral one (test/helpers/test-context), whatever the runner
    const kind_ = isStep ? 'helper' : kind;
    function visit(node) {
      // a nested function that declares the same name shadows it
      if (
        node !== fn &&
        ts.isFunctionLike(node) &&
        node.parameters?.some((p) => ts.isIdentifier(p.name) && p.name.text === name)
      )
        return;
      if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === name) {
        useOf(node);
      }
      ts.forEachChild(node, visit);
    }
    function useOf(pa) {
      const m = pa.name.text;
      const call = ts.isCallExpression(pa.parent) && pa.parent.expression === pa ? pa.parent : null;
      if (m === 'test' && call) {
        const sub = call.arguments[call.arguments.length - 1];
        // the step's own context can skip the step: skip(condition, note) under both runners
        if (isFn(sub) && sub.parameters.length > 0) {
          const sp = sub.parameters[0];
          if (ts.isIdentifier(sp.name)) stepParams.push(sp);
          else report(sp, "a subtest callback's parameter that is not a plain name");
          if (sub.parameters.length > 1) report(sp, 'a subtest callback with more than one parameter');
        }
        if (call.arguments.length > 2) report(call, 'a subtest with options');
        if (kind === 'vitest') {
          replaceNode(pa, 'step');
          need.step = true;
        } else if (kind === 'playwright') replaceNode(pa, 'test.step');
        else report(call, 'subtest in a helper');
      } else if (m === 'after' && call) {
        if (kind_ === 'vitest' && isTestBody) replaceNode(pa, `${name}.onTestFinished`);
        else {
          replaceNode(pa, 'after');
          need.cleanupAfter = true;
          // t?.after(fn): registered only when there is a test
          if (pa.questionDotToken) {
            if (ts.isExpressionStatement(call.parent)) edit(call.getStart(sf), call.getStart(sf), `if (${name}) `);
            else report(call, `${name}?.after(...) not as a statement`);
          }
          if (kind === 'helper') need.cleanupAfter = true;
        }
      } else if (pa.questionDotToken && m !== 'after') {
        report(pa, `${name}?.${m} (optional context) has no conversion`);
      } else if (m === 'skip' && call) {
        if (kind_ !== 'vitest') {
          const first = call.arguments[0];
          if (first && !ts.isStringLiteralLike(first) && !ts.isTemplateExpression(first) && !ts.isIdentifier(first))
            report(call, 't.skip(...) with an argument that may not be the message');
          if (first) edit(first.getStart(sf), first.getStart(sf), 'true, ');
        }
      } else if (m === 'diagnostic' && call) {
        if (kind_ === 'vitest') {
          replaceNode(pa, `${name}.annotate`);
          const f = enclosingFn(call);
          if (ts.isExpressionStatement(call.parent)) {
            if (isAsync(f)) edit(call.getStart(sf), call.getStart(sf), 'await ');
            else edit(call.getStart(sf), call.getStart(sf), 'void ');
          }
        } else if (kind_ === 'playwright') {
          replaceNode(
            call,
            `${name}.annotations.push({ type: 'diagnostic', description: String(${call.arguments[0]?.getText(sf) ?? "''"}) })`,
          );
        } else report(call, 't.diagnostic in a helper');
      } else if (m === 'name' && !call) {
        replaceNode(
          pa,
          kind_ === 'playwright' ? `${name}.title` : kind_ === 'vitest' ? `${name}.task.name` : pa.getText(sf),
        );
        if (kind_ === 'helper') report(pa, 't.name in a helper');
      } else if (m === 'signal' && kind_ === 'vitest') {
        // the same in vitest
      } else report(pa, `t.${m} has no conversion`);
    }
    visit(fn);
  }

  // remaining names imported from node:test that are used but not handled
  for (const [ln, exported] of local) {
    if (
      ![
        'test',
        'it',
        'describe',
        'suite',
        'before',
        'after',
        'beforeEach',
        'afterEach',
        'mock',
        'TestContext',
      ].includes(exported)
    ) {
      const imp = imports[0];
      report(imp, `'${exported}' from node:test has no conversion`);
    }
    void ln;
  }

  // --- imports
  const lines = [];
  const dir = path.dirname(rel);
  const helpers = (f) => relImport(rel, path.join('test/helpers', f));
  if (kind === 'vitest') {
    for (const [ln, exported] of local) {
      if (['test', 'it', 'describe', 'beforeEach', 'afterEach'].includes(exported))
        need.vitest.add(exported === 'suite' ? 'describe' : exported);
      if (exported === 'TestContext') need.vitestTypes.add('TestContext');
      if (exported !== ln && ['test', 'it', 'describe'].includes(exported))
        report(imports[0], `node:test's ${exported} imported as ${ln}`);
    }
    const names = [...need.vitest].sort();
    const types = [...need.vitestTypes].map((t) => `type ${t}`);
    if (names.length || types.length) lines.push(mergeImport(sf, 'vitest', [...names, ...types], edits));
  } else if (kind === 'playwright') {
    if (
      [...local.values()].some((e) =>
        ['test', 'it', 'describe', 'suite', 'before', 'beforeEach', 'afterEach'].includes(e),
      ) ||
      ([...local.values()].includes('after') && !need.cleanupAfter)
    )
      lines.push(mergeImport(sf, relImport(rel, 'test/e2e/fixtures'), ['test'], edits));
    else if (edits.some((e) => e.text.includes('test.')))
      lines.push(mergeImport(sf, relImport(rel, 'test/e2e/fixtures'), ['test'], edits));
    if ([...local.values()].includes('TestContext'))
      lines.push(mergeImport(sf, helpers('test-context'), ['type TestContext'], edits));
  } else {
    if ([...local.values()].includes('TestContext'))
      lines.push(mergeImport(sf, './test-context', ['type TestContext'], edits));
  }
  if (need.cleanupAfter)
    lines.push(mergeImport(sf, kind === 'helper' ? './cleanup' : helpers('cleanup'), ['after'], edits));
  if (need.step) lines.push(mergeImport(sf, helpers('step'), ['step'], edits));
  void dir;

  // replace the node:test import(s) with the new lines
  const newImports = lines.filter(Boolean).join('\n');
  if (imports.length) {
    edit(imports[0].getStart(sf), imports[0].getEnd(), newImports);
    for (const imp of imports.slice(1)) edit(imp.getFullStart(), imp.getEnd(), '');
  } else if (newImports) {
    const lastImport = [...sf.statements].reverse().find((s) => ts.isImportDeclaration(s));
    const at = lastImport ? lastImport.getEnd() : 0;
    edit(at, at, `${lastImport ? '\n' : ''}${newImports}${lastImport ? '' : '\n'}`);
  }

  return apply(text, edits, rel);
}

/** An existing `import { ... } from spec` gets the names (returns ''), else the new import line. */
function mergeImport(sf, spec, names, edits) {
  const existing = sf.statements.find(
    (s) =>
      ts.isImportDeclaration(s) &&
      ts.isStringLiteral(s.moduleSpecifier) &&
      s.moduleSpecifier.text === spec &&
      s.importClause?.namedBindings &&
      ts.isNamedImports(s.importClause.namedBindings) &&
      !s.importClause.isTypeOnly,
  );
  if (existing) {
    const nb = existing.importClause.namedBindings;
    const have = new Set(nb.elements.map((e) => (e.isTypeOnly ? `type ${e.name.text}` : e.name.text)));
    const add = names.filter((n) => !have.has(n) && !have.has(n.replace(/^type /, '')));
    if (add.length) {
      const all = [...nb.elements.map((e) => e.getText(sf)), ...add];
      edits.push({ start: nb.getStart(sf), end: nb.getEnd(), text: `{ ${all.join(', ')} }` });
    }
    return '';
  }
  const allTypes = names.every((n) => n.startsWith('type '));
  return allTypes
    ? `import type { ${names.map((n) => n.slice(5)).join(', ')} } from '${spec}';`
    : `import { ${names.join(', ')} } from '${spec}';`;
}

function apply(text, edits, rel) {
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let lastStart = Infinity;
  for (const e of sorted) {
    if (e.end > lastStart && e.start !== e.end) {
      problems.push({ where: rel, what: `overlapping edits at offset ${e.start}: the file was left unchanged` });
      return null;
    }
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    lastStart = e.start;
  }
  return out;
}
