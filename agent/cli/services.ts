// The services a command gets (command.ts, CliServices): agent.db opened only by the commands that
// need it, and only for as long as they run.
import type { ActivationService } from '../activation/service';
import { Agent } from '../agent';
import type { CliIo, CliServices, EntryHooks } from './command';

export function cliServices(home: string, io: CliIo, hooks: EntryHooks): CliServices {
  return {
    home,
    io,
    hooks,
    withAgent: (fn) => withAgent(home, fn),
    withActivation: async <T>(fn: (svc: ActivationService, agent: Agent) => Promise<T>) => {
      const { ActivationService } = await import('../activation/service');
      return withAgent(home, (agent) => fn(new ActivationService(agent), agent));
    },
    openUrl: (url) => void openUrl(url),
  };
}

async function withAgent<T>(home: string, fn: (a: Agent) => Promise<T>): Promise<T> {
  const agent = new Agent(home);
  try {
    return await fn(agent);
  } finally {
    agent.close();
  }
}

async function openUrl(url: string): Promise<void> {
  const { openInBrowser } = await import('./long-running');
  openInBrowser(url);
}
