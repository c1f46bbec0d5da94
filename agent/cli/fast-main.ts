// dist/pim-fast.cjs: the everyday read-only commands — `pim roles [--all] [--json]` and
// `pim status [--json]` — without loading the full CLI (issue 11, item 11: within 25 ms of a bare
// `node`). bin/pim.cjs asks this first; `null` means "not mine", and the full CLI (dist/pim.cjs)
// then runs the command as it always has. Anything unusual in argv is not ours: the full CLI
// owns usage errors, help and every other command.

export interface FastCommand {
  cmd: 'roles' | 'status';
  /** --home as given (resolved like the full CLI's, by resolveHome) */
  home?: string;
  json: boolean;
  all: boolean;
}

/** The argv forms the fast path answers, parsed as the full CLI's parseArgs would; else null. */
export function fastCommand(argv: readonly string[]): FastCommand | null {
  let cmd: FastCommand['cmd'] | undefined;
  let home: string | undefined;
  let json = false;
  let all = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--all') all = true;
    else if (a === '--home' || a.startsWith('--home=')) {
      const v = a === '--home' ? argv[++i] : a.slice('--home='.length);
      // parseArgs refuses a missing or dash-led value, and takes the last of two: leave both to it
      if (!v || v.startsWith('-') || home !== undefined) return null;
      home = v;
    } else if ((a === 'roles' || a === 'status') && !cmd) cmd = a;
    else return null;
  }
  if (!cmd || (all && cmd !== 'roles')) return null;
  return { cmd, home, json, all };
}

/** Exit code when the fast path answered, null when the full CLI must. */
export async function run(argv: readonly string[]): Promise<number | null> {
  const c = fastCommand(argv);
  if (!c) return null;
  // better-sqlite3, the agent and the policy engine load only for a command that is ours
  const { runFast } = await import('./fast-run');
  return runFast(c);
}
