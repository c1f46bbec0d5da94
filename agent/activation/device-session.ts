// The device's standing with its control plane: the device key (from the OS keychain), a client
// whose every call that key signs, and the audit journal's chain for this device.
import type { Journal } from '../audit/journal';
import { AgentError } from '../agent';
import { loadDeviceKey, openKeystore, type DeviceKey } from '../keystore';
import type { AgentStore } from '../store/agent-store';
import { ControlPlaneClient } from './cp-client';

export class DeviceSession {
  private key: DeviceKey | null | undefined;

  constructor(
    private readonly deps: {
      store: AgentStore;
      /** the agent's home, where its keystore is */
      home: string;
      journal: () => Promise<Journal>;
    },
  ) {}

  async deviceKey(): Promise<DeviceKey | null> {
    if (this.key === undefined) this.key = await loadDeviceKey(openKeystore(this.deps.home));
    return this.key;
  }

  /** The key enrolment just created or confirmed: used from now on. */
  useKey(key: DeviceKey): void {
    this.key = key;
  }

  async client(): Promise<ControlPlaneClient> {
    const conn = this.deps.store.connection();
    if (!conn) throw new AgentError('not-connected', 'not enrolled: run `pim enroll LINK`');
    const key = await this.deviceKey();
    if (!key || conn.unenrolled)
      throw new AgentError(
        'not-enrolled',
        'this agent is connected without enrolment (demo/test path): run `pim enroll LINK` to activate roles',
      );
    return new ControlPlaneClient(conn.server, key);
  }

  /**
   * The journal of this enrolled agent, its chain started — for an agent enrolled before it kept
   * one, or whose device key changed, the chain starts (or restarts) here. Null when nothing is
   * journaled (the `--user` demo path).
   */
  async chain(key?: DeviceKey | null): Promise<Journal | null> {
    const conn = this.deps.store.connection();
    if (!conn || conn.unenrolled) return null;
    const journal = await this.deps.journal();
    const k = key ?? (await this.deviceKey());
    if (!k) return journal.device() ? journal : null;
    if (journal.device() !== k.thumbprint)
      journal.begin(k.thumbprint, conn.user, [
        {
          type: 'enrolled',
          data: {
            server: conn.server,
            device: k.thumbprint,
            user: conn.user,
            note: 'journal started for an existing enrolment',
          },
        },
      ]);
    return journal;
  }
}
