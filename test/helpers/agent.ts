import { after } from './cleanup';
import { Agent } from '../../agent/agent';
import { tmpDir } from './repo';

export function newAgent(home = tmpDir('pim-home-'), clock?: () => Date): Agent {
  const a = new Agent(home, clock);
  after(() => {
    try {
      a.close();
    } catch {
      /* already closed */
    }
  });
  return a;
}

export async function connectedAgent(server: string, trustRoot: Buffer, user = 'alice@acme.example'): Promise<Agent> {
  const a = newAgent();
  a.connect({ server, user, root: trustRoot, unenrolled: true });
  return a;
}
