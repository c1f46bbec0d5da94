// The session command trail: shells of roles whose policy asks for it append lines to
// `creds/trail.spool` (shell.ts); each reconcile moves them into the audit journal as shell-command
// records. The spool is renamed first, so lines shells write meanwhile go to a new one; the taken
// file is removed only once the journal has the records (a crash before that imports it again).
import fs from 'node:fs';
import path from 'node:path';
import { removeFile } from '../../platform/fs-safe';

const MAX_TRAIL_COMMAND = 4096;

/** "epoch TAB role TAB encoding TAB command" (shell.ts); null for anything else. */
export function parseTrailLine(line: string): { at: Date; role: string; command: string } | null {
  const m = /^(\d{9,11})\t([a-z0-9][a-z0-9-]{0,62})\t([bu])\t(.*)$/.exec(line);
  if (!m) return null;
  let command: string;
  if (m[3] === 'u') {
    try {
      command = decodeURIComponent(m[4]!);
    } catch {
      return null;
    }
  } else
    command = m[4]!.replace(/\\([\\ntr])/g, (_, c: string) =>
      c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : '\\',
    );
  if (command.trim() === '') return null;
  return {
    at: new Date(Number(m[1]) * 1000),
    role: m[2]!,
    command: command.length > MAX_TRAIL_COMMAND ? `${command.slice(0, MAX_TRAIL_COMMAND)}… (truncated)` : command,
  };
}

export interface TrailRecord {
  type: 'shell-command';
  data: Record<string, unknown>;
}

export class SessionTrail {
  private taken: string | null = null;

  constructor(
    private readonly credsDir: string,
    /** this device's activation of the role in force at that time, if any */
    private readonly activationAt: (role: string, at: Date) => string | null,
    /** whether the role's policy asks for a trail */
    private readonly sessionTrail: (role: string) => boolean,
  ) {}

  /** The spool's commands of roles with sessionTrail that were active at their time. Throws when
   *  the spool cannot be read (the caller warns). */
  take(): TrailRecord[] {
    const spool = path.join(this.credsDir, 'trail.spool');
    const taking = path.join(this.credsDir, 'trail.importing');
    const records: TrailRecord[] = [];
    if (!fs.existsSync(taking)) {
      if (!fs.existsSync(spool)) return records;
      fs.renameSync(spool, taking);
    }
    const text = fs.readFileSync(taking, 'utf8');
    for (const line of text.split('\n')) {
      const c = parseTrailLine(line);
      if (!c) continue;
      const a = this.activationAt(c.role, c.at);
      if (!a || !this.sessionTrail(c.role)) continue;
      records.push({
        type: 'shell-command',
        data: { activation: a, role: c.role, at: c.at.toISOString(), command: c.command },
      });
    }
    this.taken = taking;
    return records;
  }

  /** The journal has them (or there was nothing to journal): the taken spool goes. */
  done(): void {
    if (this.taken) removeFile(this.taken);
  }

  /** End of a run, journaled or not: the next run starts afresh (a kept file is imported again). */
  reset(): void {
    this.taken = null;
  }
}
