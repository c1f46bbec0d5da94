// Audit sync under faults, with real processes: a served repository (`pim-server serve`, behind a
// loopback TcpProxy that the agent was enrolled through), an enrolled agent home (PIM_KEYSTORE=file),
// children that append to its journal and can be kill -9'd mid-append, `pim audit sync` runs, the
// server killed mid-batch and restarted on the same port, and a checker comparing agent.db with
// `pim-server audit export`. Used by test/integration/audit-faults.test.ts and stress/audit.ts.
//
// Run as a script it is the child those use (node --import tsx test/helpers/audit-fixture.ts …):
//   append HOME K [--per-tx N]     append K records, N per transaction; prints "committed SEQ"
//                                  after each commit (so whatever was printed is in agent.db)
//   sync HOME [--timeout-ms MS]    one syncOnce with the client timeout MS (the CLI has 15 s)
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { errorMessage } from '../../shared/errors';
import { touch } from './ceremony';
import { SoftAuthenticator } from './soft-authenticator';
import { PIM, PIM_SERVER, ROOT, run as runBin, type RunResult } from './bins';
import { http200, TcpProxy, type ProxiedRequest, type ProxyMode } from './tcp-proxy';
import { READONLY_POLICY } from './eng-policy';

const SELF = __filename;
const ENV = { PIM_KEYSTORE: 'file' };

// ---------------------------------------------------------------------------------------------
// processes

/** A child process with its output collected; wait on what it prints or on its exit. */
export class Proc {
  out = '';
  err = '';
  code: number | null = null;
  signal: NodeJS.Signals | null = null;
  readonly exited: Promise<number | null>;
  private watchers = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (d) => {
      this.out += d;
      this.poke();
    });
    child.stderr!.on('data', (d) => {
      this.err += d;
      this.poke();
    });
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.code = code;
        this.signal = signal;
        this.poke();
        resolve(code);
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private poke(): void {
    for (const w of [...this.watchers]) w();
  }

  /** Resolves when stdout+stderr matches `re`; rejects when the process ends first, or after `ms`. */
  waitFor(re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.watchers.delete(check);
        f();
      };
      const check = () => {
        const m = this.out.match(re) ?? this.err.match(re);
        if (m) return done(() => resolve(m));
        if (!this.running && this.code !== null)
          return done(() =>
            reject(new Error(`${this.name} exited (${this.code}) before printing ${re}\n${this.out}${this.err}`)),
          );
        if (this.signal)
          return done(() => reject(new Error(`${this.name} was killed (${this.signal}) before printing ${re}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out waiting for ${re} from ${this.name}\n${this.out}${this.err}`))),
        ms,
      );
      this.watchers.add(check);
      check();
    });
  }

  /** kill -9, and wait until it is gone. */
  async kill9(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}

function spawnNode(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return new Proc(
    name,
    spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

function run(bin: string, args: string[]): RunResult {
  return runBin(bin, args, ENV, 60_000);
}

async function runAsync(bin: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnNode(path.basename(bin), [bin, ...args]);
  const code = await p.exited;
  return { code, stdout: p.out, stderr: p.err };
}

// ---------------------------------------------------------------------------------------------
// the fixture

export interface CheckResult {
  /** records in agent.db (all committed) */
  committed: number;
  /** rows the server exports for this device */
  onServer: number;
  /** committed records the server does not hold (with the same hash) */
  lost: number;
  /** rows exported more than once for one (device, seq) */
  duplicates: number;
  /** rows the server holds with another hash than agent.db's, or that agent.db does not hold */
  mismatched: number;
  /** seqs a child printed as committed that agent.db does not hold */
  vanished: number;
  agentVerify: boolean;
  serverVerify: boolean;
  agentAcked: number;
  agentHead: number;
  serverHead: number;
  ok: boolean;
  problems: string[];
}

export class AuditFixture {
  server: Proc | null = null;
  device = '';
  /** the highest seq a child printed as committed */
  printedCommitted = 0;
  private readonly procs = new Set<Proc>();

  private constructor(
    readonly dir: string,
    readonly repo: string,
    readonly home: string,
    readonly proxy: TcpProxy,
    public serverPort: number,
  ) {}

  /** Initialises and serves a repository behind a proxy, and enrols alice's agent through it. */
  static async create(): Promise<AuditFixture> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-audit-faults-'));
    const repo = path.join(dir, 'repo');
    fs.writeFileSync(path.join(dir, 'policy.yaml'), READONLY_POLICY);
    for (const args of [
      ['init', repo],
      ['publish', repo, path.join(dir, 'policy.yaml'), '--force'],
    ]) {
      const r = run(PIM_SERVER, args);
      if (r.code !== 0) throw new Error(`pim-server ${args[0]} failed: ${r.stderr}`);
    }
    const proxy = await TcpProxy.start();
    const fx = new AuditFixture(dir, repo, path.join(dir, 'alice'), proxy, 0);
    try {
      await fx.startServer();
      const add = run(PIM_SERVER, ['user', 'add', repo, 'alice@acme.example']);
      if (add.code !== 0) throw new Error(`pim-server user add failed: ${add.stderr}`);
      const link = /(http:\/\/\S+\/enrol#code=\S+)/.exec(add.stdout)![1]!;
      const key = new SoftAuthenticator({ name: 'alice' });
      const enrol = fx.track(spawnNode('pim enroll', [PIM, '--home', fx.home, 'enroll', link, '--no-open']));
      const m = await enrol.waitFor(/Register your security key: (\S+)/);
      const touched = await touch(key, m[1]!);
      if (!touched.ok) throw new Error(`enrolment ceremony failed: ${JSON.stringify(touched)}`);
      if ((await enrol.exited) !== 0) throw new Error(`pim enroll failed: ${enrol.out}${enrol.err}`);
      fx.device = fx.agentDb(
        (db) => (db.prepare("SELECT value FROM meta WHERE key = 'audit_device'").get() as { value: string }).value,
      );
      return fx;
    } catch (e) {
      await fx.close();
      throw e;
    }
  }

  private track(p: Proc): Proc {
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** `pim-server serve` on serverPort (the first time: any free port), its public URL the proxy's. */
  async startServer(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const p = this.track(
        spawnNode('pim-server serve', [
          PIM_SERVER,
          'serve',
          this.repo,
          '--listen',
          `127.0.0.1:${this.serverPort}`,
          '--public-url',
          this.proxy.url,
        ]),
      );
      try {
        const m = await p.waitFor(/serving \S+ at http:\/\/127\.0\.0\.1:(\d+)/);
        this.serverPort = Number(m[1]);
        this.proxy.target = this.serverPort;
        this.server = p;
        return;
      } catch (e) {
        // the port may linger for a moment after a kill -9: try again, a few times
        if (attempt >= 20 || !/EADDRINUSE/.test(p.err)) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async killServer(): Promise<void> {
    await this.server?.kill9();
    this.server = null;
  }

  async restartServer(): Promise<void> {
    await this.killServer();
    await this.startServer();
  }

  /** A child appending `k` records (`perTx` a transaction), printing "committed SEQ" after each commit. */
  appendChild(k: number, perTx = 1): Proc {
    const p = this.track(
      spawnNode('append', ['--import', 'tsx', SELF, 'append', this.home, String(k), '--per-tx', String(perTx)]),
    );
    void p.exited.then(() => this.notePrinted(p));
    return p;
  }

  notePrinted(p: Proc): void {
    for (const m of p.out.matchAll(/^committed (\d+)$/gm))
      this.printedCommitted = Math.max(this.printedCommitted, Number(m[1]));
  }

  /** Appends k records here, in this process (faster than a child when nothing is killed). */
  async append(k: number, perTx = 1): Promise<void> {
    const { Agent } = await import('../../agent/agent');
    const agent = new Agent(this.home);
    try {
      this.printedCommitted = Math.max(this.printedCommitted, await appendRecords(agent, k, perTx, () => {}));
    } finally {
      agent.close();
    }
  }

  /** `pim audit sync` (through the proxy) as a child, to kill or to wait for. */
  syncCli(): Proc {
    return this.track(spawnNode('pim audit sync', [PIM, '--home', this.home, 'audit', 'sync']));
  }

  /** syncOnce with a short client timeout, as a child. */
  syncChild(timeoutMs: number): Proc {
    return this.track(
      spawnNode('sync child', ['--import', 'tsx', SELF, 'sync', this.home, '--timeout-ms', String(timeoutMs)]),
    );
  }

  /** `pim audit sync` to completion. */
  async sync(): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const p = this.syncCli();
    const code = await p.exited;
    return { code, stdout: p.out, stderr: p.err };
  }

  /** Resolves with the first proxied request matching `pred` (e.g. a POST /api/v1/audit). */
  nextRequest(pred: (r: ProxiedRequest) => boolean = () => true): Promise<ProxiedRequest> {
    return new Promise((resolve) => {
      const on = (r: ProxiedRequest) => {
        if (!pred(r)) return;
        this.proxy.off('request', on);
        resolve(r);
      };
      this.proxy.on('request', on);
    });
  }

  /** Resolves on the next proxy event of `name` ('response', 'fault'). */
  nextEvent(name: 'response' | 'fault'): Promise<{ conn: number }> {
    return new Promise((resolve) => this.proxy.once(name, resolve));
  }

  agentDb<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(path.join(this.home, 'agent.db'), { readonly: true, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  }

  agentHead(): number {
    return this.agentDb((db) => (db.prepare('SELECT coalesce(max(seq), 0) AS n FROM audit').get() as { n: number }).n);
  }

  /** After a final clean sync (proxy in pass mode, server up): is every committed record on the
   *  server exactly once, do both chains verify, and do the cursors agree? */
  async check(): Promise<CheckResult> {
    const problems: string[] = [];
    const agent = this.agentDb((db) => ({
      rows: db.prepare('SELECT seq, hash FROM audit ORDER BY seq').all() as { seq: number; hash: string }[],
      acked: Number(
        (db.prepare("SELECT value FROM meta WHERE key = 'audit_acked'").get() as { value: string } | undefined)
          ?.value ?? 0,
      ),
    }));
    const [exp, av, sv] = await Promise.all([
      runAsync(PIM_SERVER, ['audit', 'export', this.repo, '--device', this.device, '--format', 'jsonl']),
      runAsync(PIM, ['--home', this.home, 'audit', 'verify']),
      runAsync(PIM_SERVER, ['audit', 'verify', this.repo]),
    ]);
    if (exp.code !== 0) problems.push(`pim-server audit export exited ${exp.code}: ${exp.stderr}`);
    const lines = exp.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { device: string; seq: number; hash: string });
    const held = new Map<string, string>();
    let duplicates = 0;
    for (const l of lines) {
      const k = `${l.device}:${l.seq}`;
      if (held.has(k)) duplicates++;
      else held.set(k, l.hash);
    }
    const mine = new Map(agent.rows.map((r) => [r.seq, r.hash]));
    let lost = 0;
    let mismatched = 0;
    for (const r of agent.rows) {
      const h = held.get(`${this.device}:${r.seq}`);
      if (h === undefined) lost++;
      else if (h !== r.hash) mismatched++;
    }
    for (const l of lines) if (l.device === this.device && !mine.has(l.seq)) mismatched++;
    let vanished = 0;
    for (let s = 1; s <= this.printedCommitted; s++) if (!mine.has(s)) vanished++;
    const serverHead = this.serverHead();
    const agentHead = agent.rows.at(-1)?.seq ?? 0;
    if (lost) problems.push(`${lost} committed record(s) are not on the server`);
    if (duplicates) problems.push(`${duplicates} duplicate row(s) on the server`);
    if (mismatched) problems.push(`${mismatched} row(s) on the server differ from agent.db`);
    if (vanished) problems.push(`${vanished} record(s) printed as committed are not in agent.db`);
    if (av.code !== 0) problems.push(`pim audit verify exited ${av.code}: ${av.stderr.trim()}`);
    if (sv.code !== 0) problems.push(`pim-server audit verify exited ${sv.code}: ${sv.stdout.trim()}`);
    if (agent.acked !== serverHead || serverHead !== agentHead)
      problems.push(`cursors disagree: agent acked ${agent.acked}, server head ${serverHead}, agent head ${agentHead}`);
    return {
      committed: agent.rows.length,
      onServer: lines.length,
      lost,
      duplicates,
      mismatched,
      vanished,
      agentVerify: av.code === 0,
      serverVerify: sv.code === 0,
      agentAcked: agent.acked,
      agentHead,
      serverHead,
      ok: problems.length === 0,
      problems,
    };
  }

  serverHead(): number {
    const db = new Database(path.join(this.repo, 'server.db'), { readonly: true, fileMustExist: true });
    try {
      return (
        (db.prepare('SELECT seq FROM audit_heads WHERE device = ?').get(this.device) as { seq: number } | undefined)
          ?.seq ?? 0
      );
    } finally {
      db.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.kill9()));
    await this.proxy.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// faults

export const FAULTS = ['kill-append', 'kill-sync', 'kill-server', 'http-500', 'garbage', 'timeout', 'cut'] as const;
export type FaultKind = (typeof FAULTS)[number];

/** A seeded PRNG (mulberry32): [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (rnd: () => number, lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const isBatch = (r: ProxiedRequest) => r.method === 'POST' && r.path === '/api/v1/audit';

/** Injects one fault of `kind` (choices drawn from `rnd`); returns what was done, in words. The
 *  proxy is back in pass mode and the server running when it returns. */
export async function injectFault(
  fx: AuditFixture,
  kind: FaultKind,
  rnd: () => number,
  opts: { small?: boolean } = {},
): Promise<string> {
  try {
    switch (kind) {
      case 'kill-append': {
        // kill -9 after the m-th commit: the kill lands somewhere in the appends that follow
        const k = between(rnd, 20, 60);
        const perTx = pick(rnd, [1, 1, 3, 10]);
        const m = between(rnd, 1, Math.max(1, Math.floor(k / perTx) - 1));
        const withSync = rnd() < 0.5;
        const p = fx.appendChild(k, perTx);
        const sync = withSync ? fx.syncCli() : null; // a sync racing the appends (not killed)
        await p.waitFor(new RegExp(`^(committed \\d+\\n){${m}}`), 60_000);
        await p.kill9();
        fx.notePrinted(p);
        await sync?.exited;
        return `append ${k} (${perTx}/tx${withSync ? ', sync racing' : ''}) killed after commit ${m}`;
      }
      case 'kill-sync': {
        await fx.append(between(rnd, 5, 40), pick(rnd, [1, 5]));
        const when = pick(rnd, ['request', 'committed', 'response'] as const);
        if (when === 'committed') fx.proxy.setMode('swallow-response');
        const event =
          when === 'request' ? fx.nextRequest(isBatch) : fx.nextEvent(when === 'committed' ? 'fault' : 'response');
        const p = fx.syncCli();
        await Promise.race([event, p.exited]);
        await p.kill9();
        return `pim audit sync killed -9 ${when === 'request' ? 'once its batch reached the server' : when === 'committed' ? 'after the server committed, before it saw the answer' : 'as the answer arrived'} (${p.signal ? 'killed' : `it had exited ${p.code}`})`;
      }
      case 'kill-server': {
        // more than one batch (1000 records), so the kill can land between batches too
        const n = opts.small ? between(rnd, 1100, 1300) : between(rnd, 1200, 2600);
        await fx.append(n, 400);
        const batches = Math.ceil(
          (fx.agentHead() -
            fx.agentDb((db) =>
              Number((db.prepare("SELECT value FROM meta WHERE key = 'audit_acked'").get() as { value: string }).value),
            )) /
            1000,
        );
        const nth = between(rnd, 1, Math.max(1, batches));
        const after = pick(rnd, ['request', 'response'] as const);
        let seen = 0;
        const hit = new Promise<void>((resolve) => {
          const on = (r: ProxiedRequest) => {
            if (!isBatch(r) || ++seen < nth) return;
            fx.proxy.off('request', on);
            if (after === 'request') resolve();
            else fx.proxy.once('response', () => resolve());
          };
          fx.proxy.on('request', on);
        });
        const p = fx.syncCli();
        await Promise.race([hit, p.exited]);
        await fx.killServer();
        const code = await p.exited;
        await fx.startServer();
        return `${n} records; server killed -9 ${after === 'request' ? 'with' : 'answering'} batch ${nth} of ${batches} in hand (sync exited ${code})`;
      }
      case 'http-500': {
        await fx.append(between(rnd, 3, 30));
        const mode = pick(rnd, ['answer-500', 'forward-then-500'] as const);
        fx.proxy.setMode(mode);
        const r = await fx.sync();
        return `${mode}: sync exited ${r.code}`;
      }
      case 'garbage': {
        await fx.append(between(rnd, 3, 30));
        const head = fx.agentHead();
        const bodies: [string, string][] = [
          [
            'random bytes',
            Buffer.from(Array.from({ length: between(rnd, 1, 300) }, () => between(rnd, 0, 255))).toString('latin1'),
          ],
          ['200 not JSON', http200('<html>proxy error</html>')],
          ['200 truncated JSON', http200('{"ok":true,"value":{"acked":')],
          [
            '200 acked beyond the journal',
            http200(JSON.stringify({ ok: true, value: { acked: head + 1000, problem: null } })),
          ],
          ['200 negative acked', http200(JSON.stringify({ ok: true, value: { acked: -1, problem: null } }))],
          ['200 acked 0', http200(JSON.stringify({ ok: true, value: { acked: 0, problem: null } }))],
          [
            '200 acked = the agent head (a lie when not forwarded)',
            http200(JSON.stringify({ ok: true, value: { acked: head, problem: null } })),
          ],
          [
            '200 a made-up problem',
            http200(JSON.stringify({ ok: true, value: { acked: 1, problem: { kind: 'fork', seq: 2 } } })),
          ],
        ];
        const [what, body] = pick(rnd, bodies);
        const mode = pick(rnd, ['answer-garbage', 'forward-then-garbage'] as const);
        fx.proxy.setMode(mode, { body, times: between(rnd, 1, 3) });
        const r = await fx.sync();
        return `${mode} (${what}): sync exited ${r.code}`;
      }
      case 'timeout': {
        await fx.append(between(rnd, 3, 30));
        const mode: ProxyMode = pick(rnd, ['black-hole', 'swallow-response'] as const);
        fx.proxy.setMode(mode);
        const p = fx.syncChild(between(rnd, 300, 1000));
        const code = await p.exited;
        fx.proxy.dropAll();
        return `${mode}: client timed out (exit ${code}${/unreachable|TimeoutError/i.test(p.err) ? ', timeout' : ''})`;
      }
      case 'cut': {
        await fx.append(between(rnd, 3, 30));
        const f = rnd();
        fx.proxy.setMode('cut-mid-response', { cutFraction: f });
        const r = await fx.sync();
        return `connection cut after ${Math.round(f * 100)}% of the answer: sync exited ${r.code}`;
      }
      default:
        throw new Error(`unknown fault ${String(kind)}`);
    }
  } finally {
    fx.proxy.setMode('pass');
    if (!fx.server?.running) await fx.startServer();
  }
}

/** The final clean sync after a fault, then the check. */
export async function settle(fx: AuditFixture): Promise<CheckResult & { sync: string }> {
  fx.proxy.setMode('pass');
  const r = await fx.sync();
  const c = await fx.check();
  if (r.code !== 0) {
    c.ok = false;
    c.problems.unshift(`the clean sync failed (${r.code}): ${r.stderr.trim()}`);
  }
  return { ...c, sync: (r.stdout || r.stderr).trim() };
}

// ---------------------------------------------------------------------------------------------
// the child (run as a script)

/** Appends k shell-command records, perTx a transaction, calling `committed` after each commit;
 *  returns the last seq. */
async function appendRecords(
  agent: import('../../agent/agent').Agent,
  k: number,
  perTx: number,
  committed: (seq: number) => void,
): Promise<number> {
  const j = await agent.journal();
  const user = agent.store.connection()?.user ?? null;
  const step = Math.max(1, perTx);
  let last = 0;
  for (let i = 0; i < k; i += step) {
    const n = Math.min(step, k - i);
    last = j.write(() => {
      let seq = 0;
      for (let x = 0; x < n; x++)
        seq = j.append('shell-command', user, { command: `fault-test ${i + x}`, pid: process.pid }).seq;
      return seq;
    });
    committed(last);
  }
  return last;
}

async function child(argv: string[]): Promise<number> {
  const [cmd, home, ...rest] = argv;
  const opt = (name: string, dflt: number) => {
    const i = rest.indexOf(name);
    return i >= 0 ? Number(rest[i + 1]) : dflt;
  };
  process.env.PIM_KEYSTORE ??= 'file';
  const { Agent } = await import('../../agent/agent');
  const agent = new Agent(home!);
  try {
    if (cmd === 'append') {
      // pipes are synchronous on Linux: once "committed N" is printed, the record is committed
      await appendRecords(agent, Number(rest[0]), opt('--per-tx', 1), (seq) =>
        process.stdout.write(`committed ${seq}\n`),
      );
      return 0;
    }
    if (cmd === 'sync') {
      const { syncOnce } = await import('../../agent/audit/sync');
      const r = await syncOnce(agent, { timeoutMs: opt('--timeout-ms', 15_000) });
      process.stdout.write(`synced ${r.sent} records; server holds up to seq ${r.acked}\n`);
      return 0;
    }
    process.stderr.write('usage: audit-fixture.ts append HOME K [--per-tx N] | sync HOME [--timeout-ms MS]\n');
    return 2;
  } catch (e) {
    process.stderr.write(`${(e as { code?: string }).code ?? 'error'}: ${errorMessage(e)}\n`);
    return 1;
  } finally {
    agent.close();
  }
}

if (require.main === module) {
  void child(process.argv.slice(2)).then((code) => process.exit(code));
}
