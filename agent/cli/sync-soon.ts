import type { Agent } from '../agent';

/** After a command that reached the control plane: send its journal records while it is
 *  reachable (a running agent does this in the background too). Quietly; a failure is journaled
 *  as sync-failed (at most hourly) and the next sync retries. */
export async function syncSoon(agent: Agent): Promise<void> {
  try {
    if (!(await agent.activeJournal())) return;
    const { syncOnce } = await import('../audit/sync');
    await syncOnce(agent, { timeoutMs: 3000 });
  } catch {
    /* at least once: it goes with the next sync */
  }
}
