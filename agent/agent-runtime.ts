// What a long-running host (Electron's main process, `pim agent`, `pim ui`) starts: the agent, its
// refresh loop, and the dispatch for the UI contract.
import type { AgentState, Reply } from '../shared/api';
import { ActivationTracker } from './activation/tracker';
import { Agent } from './agent';
import { createDispatch } from './api/dispatch';
import { AuditSyncer } from './audit/sync';
import { CredentialScheduler, reportLines } from './credentials/scheduler';
import { resolveHome } from './home';
import { numberSetting } from '../shared/settings';

export interface AgentRuntime {
  agent: Agent;
  tracker: ActivationTracker;
  /** sends the audit journal to the control plane in the background */
  auditSyncer: AuditSyncer;
  /** injects, renews and removes the active roles' kube, AWS and SSH credentials */
  credentials: CredentialScheduler;
  dispatch: (method: string, input: unknown) => Promise<Reply<unknown>>;
  getState: () => Promise<AgentState>;
  onChange: (cb: () => void) => () => void;
  stop: () => Promise<void>;
}

export async function startAgent(
  opts: { home?: string; intervalMs?: number; loop?: boolean; log?: (line: string) => void } = {},
): Promise<AgentRuntime> {
  const agent = new Agent(resolveHome(opts.home));
  // first of all: whatever a crash left in kubeconfig, ~/.aws/config or the ssh-agent past its end
  const tracker = new ActivationTracker(agent);
  const credentials = new CredentialScheduler(agent, await tracker.svc.credentials(), (r) => {
    if (opts.log) for (const l of reportLines(r)) opts.log(l);
  });
  await credentials.start();
  if (opts.loop !== false) agent.startLoop({ intervalMs: opts.intervalMs ?? intervalFromEnv() });
  // activations are followed in the background so the UI's getState stays local and cheap
  tracker.start();
  // the journal's sync cursor is in agent.db: whatever a previous run left unsent goes now
  const auditSyncer = new AuditSyncer(agent);
  auditSyncer.start();
  return {
    agent,
    tracker,
    auditSyncer,
    credentials,
    dispatch: createDispatch(agent, { tracker }),
    getState: async () => agent.state(),
    onChange: (cb) => agent.onChange(cb),
    stop: async () => agent.close(),
  };
}

function intervalFromEnv(): number | undefined {
  return numberSetting(process.env, 'PIM_REFRESH_INTERVAL_MS') ?? undefined;
}
