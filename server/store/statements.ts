// Prepared statements over server.db, shared by the store modules. Preparing costs more than
// running these small queries, so each SQL text is prepared once per connection.
import type { Statement } from 'better-sqlite3';
import type { ServerDb } from './db';

export class Statements {
  private cache = new Map<string, Statement<unknown[]>>();

  constructor(
    readonly db: ServerDb,
    /** a connection without fsync on commit (see openLightDb), for writes an OS crash may lose
     *  without harm: the replay cache and requests not signed yet; db when absent */
    private readonly lightDb: ServerDb | null = null,
  ) {}

  /** `light` runs it on the no-fsync connection (see lightDb). */
  sql(text: string, light = false): Statement<unknown[]> {
    const conn = light && this.lightDb ? this.lightDb : this.db;
    const key = conn === this.db ? text : `light:${text}`;
    let st = this.cache.get(key);
    if (!st) {
      st = conn.prepare<unknown[]>(text);
      this.cache.set(key, st);
    }
    return st;
  }
}
