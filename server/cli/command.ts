// What every `pim-server` command is: its name, its lines in the help, and a handler that gets the
// arguments after its name. The table of them is commands/index.ts; server/cli.ts only dispatches.
import { configFor, loadConfig } from '../config';
import { ControlPlane } from '../control-plane';
import { readState, RepoError } from '../repo/repository';
import { openServerDb, type ServerDb } from '../store/db';

export interface ServerCommand {
  name: string;
  /** its lines in `pim-server --help`, exactly as printed there and by `pim-server NAME --help` */
  usage: string;
  /** `args`: what follows the command's name (a group's subcommand first: `user add DIR EMAIL`) */
  run: (args: string[]) => Promise<number> | number;
}

/** The only positional, named `name` in the error when there is not exactly one. */
export function one(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new RepoError(`expected exactly one ${name}`);
  return positionals[0]!;
}

/** Runs fn against DIR's server.db (created on first use), with the recorded or given public URL. */
export function withControlPlane<T>(dir: string, url: string | null, fn: (cp: ControlPlane) => T): T {
  readState(dir);
  const db = openServerDb(dir);
  try {
    const cfg = url ? configFor(url) : (loadConfig(dir) ?? configFor('http://localhost:7443'));
    return fn(new ControlPlane(dir, db, cfg));
  } finally {
    db.close();
  }
}

/** Runs fn against DIR's server.db (created on first use), closed afterwards. */
export function withServerDb<T>(dir: string, fn: (db: ServerDb) => T): T {
  readState(dir);
  const db = openServerDb(dir);
  let async = false;
  try {
    const r = fn(db);
    if (r instanceof Promise) {
      async = true;
      return r.finally(() => db.close()) as T;
    }
    return r;
  } finally {
    if (!async) db.close();
  }
}

/** Writes to stdout, waiting when the pipe is full (large exports). */
export function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text)) return resolve();
    const done = (e?: Error) => {
      process.stdout.off('drain', done);
      process.stdout.off('error', done);
      if (e) reject(e);
      else resolve();
    };
    process.stdout.on('drain', done);
    process.stdout.on('error', done);
  });
}
