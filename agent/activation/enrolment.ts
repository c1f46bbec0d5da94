// The agent's side of enrolment (docs/architecture.md, Flows: Enrolment): pin the trust root from
// the link, create the device key, then wait while the user registers a security key on the
// ceremony page; the enrolment is journaled as the first record of this device's chain.
import { errorMessage } from '../../shared/errors';
import crypto from 'node:crypto';
import type { Clock } from '../../shared/clock';
import { AgentError } from '../agent';
import type { Journal } from '../audit/journal';
import {
  createDeviceKey,
  DEVICE_KEY_SECRET,
  loadDeviceKey,
  openKeystore,
  OsKeychain,
  settleKeystore,
} from '../keystore';
import { ControlPlaneClient } from './cp-client';
import type { DeviceSession } from './device-session';
import { pause } from './wait';

export interface PendingEnrolment {
  id: string;
  user: string;
  server: string;
  ceremonyUrl: string;
  /** RFC 7638 thumbprint of the device key being enrolled */
  deviceThumbprint: string;
  finish(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<{ user: string; server: string }>;
}

export interface EnrolmentLink {
  server: string;
  code: string;
  rootSha256: string;
}

/** `https://pim.example.com/enrol#code=…&root=<sha256 of trust-root.json>` */
export function parseEnrolmentLink(link: string): EnrolmentLink {
  let u: URL;
  try {
    u = new URL(link.trim());
  } catch {
    throw new AgentError('bad-input', 'that is not an enrolment link (expected https://…/enrol#code=…&root=…)');
  }
  const p = new URLSearchParams(u.hash.replace(/^#/, ''));
  const code = p.get('code') ?? '';
  const root = (p.get('root') ?? '').toLowerCase();
  if (u.pathname !== '/enrol' || !/^[A-Za-z0-9_-]{10,200}$/.test(code) || !/^[0-9a-f]{64}$/.test(root)) {
    throw new AgentError('bad-input', 'that is not a complete enrolment link (expected …/enrol#code=…&root=…)');
  }
  if (u.protocol !== 'https:' && u.hostname !== 'localhost')
    throw new AgentError('bad-input', 'enrolment links must be https (http only for localhost)');
  return { server: u.origin, code, rootSha256: root };
}

/** How to begin enrolling: replace this home's device key, and hear which keystore was chosen. */
export interface BeginOptions {
  replaceKey?: boolean;
  onKeystoreChosen?: (announce: string) => void;
}

/** How to enrol (Enrolment.enroll): `onCeremony` opens the page where the security key is registered. */
export interface EnrolOptions extends BeginOptions {
  onCeremony: (url: string) => void;
  timeoutMs?: number;
}

export class Enrolment {
  constructor(
    private readonly deps: {
      /** the agent's home, where its keystore is */
      home: string;
      clock: Clock;
      session: DeviceSession;
      journal: () => Promise<Journal>;
      /** connects the agent to the control plane once the key is registered */
      connect: (c: { server: string; user: string; root: Buffer; unenrolled: boolean }) => void;
    },
  ) {}

  private now(): number {
    return this.deps.clock().getTime();
  }

  /** Enrol this device: pin the trust root from the link, create the device key, then wait while
   *  the user registers a security key on the ceremony page (`onCeremony` opens it). */
  async enroll(link: string, opts: EnrolOptions): Promise<{ user: string; server: string }> {
    const started = await this.begin(link, {
      replaceKey: opts.replaceKey,
      onKeystoreChosen: opts.onKeystoreChosen,
    });
    opts.onCeremony(started.ceremonyUrl);
    return started.finish({ timeoutMs: opts.timeoutMs });
  }

  /** The first half of enrolment, which returns at once: trust root checked against the link,
   *  device key ready, ceremony started. `finish` waits for the key to be registered, then
   *  connects the agent (the UI runs it in the background; `pim enroll` awaits it). */
  async begin(link: string, opts: BeginOptions = {}): Promise<PendingEnrolment> {
    const { home } = this.deps;
    const l = parseEnrolmentLink(link);
    // before anything is fetched or created: which keystore this home uses, said once
    const settled = await settleKeystore(home, process.env, async () => {
      await new OsKeychain(home).get(DEVICE_KEY_SECRET);
    });
    if (settled?.announce) opts.onKeystoreChosen?.(settled.announce);
    let root: Buffer;
    try {
      const res = await fetch(`${l.server}/trust-root.json`, {
        signal: AbortSignal.timeout(15_000),
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      root = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      throw new AgentError('unreachable', `cannot fetch the trust root from ${l.server} (${errorMessage(e)})`);
    }
    const actual = crypto.createHash('sha256').update(root).digest('hex');
    if (actual !== l.rootSha256)
      throw new AgentError(
        'root-mismatch',
        `the control plane's trust root (sha256 ${actual.slice(0, 16)}…) is not the one in the link (${l.rootSha256.slice(0, 16)}…): refusing to enrol`,
      );
    const ks = openKeystore(home);
    const existing = await loadDeviceKey(ks);
    const key = existing && !opts.replaceKey ? existing : await createDeviceKey(ks, { replace: true });
    // journaled (keystore-changed) as the new chain's second record, when the enrolment completes
    if (key !== existing) (await this.deps.journal()).noteDeviceKeyCreated(key.thumbprint, ks.kind, settled?.choice);
    this.deps.session.useKey(key);
    const client = new ControlPlaneClient(l.server, key);
    const started = await client.request('startEnrolment', { body: { code: l.code, deviceJwk: key.publicJwk } });
    const finish = async (
      o: { timeoutMs?: number; signal?: AbortSignal } = {},
    ): Promise<{ user: string; server: string }> => {
      const deadline = this.now() + (o.timeoutMs ?? 15 * 60_000);
      for (;;) {
        if (o.signal?.aborted) throw new AgentError('enrolment-cancelled', 'another enrolment replaced this one');
        const s = await client.request('enrolmentStatus', { params: { id: started.id } });
        if (s.state === 'complete') break;
        if (s.state === 'expired' || this.now() > deadline)
          throw new AgentError(
            'enrolment-expired',
            'the security key was not registered in time; run `pim enroll` again with a new link',
          );
        await pause(1000);
      }
      if (o.signal?.aborted) throw new AgentError('enrolment-cancelled', 'another enrolment replaced this one');
      this.deps.connect({ server: l.server, user: started.user, root, unenrolled: false });
      // record 1 of this device's chain (or the next one, re-enrolling with the same key)
      (await this.deps.journal()).begin(key.thumbprint, started.user, [
        { type: 'enrolled', data: { server: l.server, device: key.thumbprint, user: started.user } },
      ]);
      return { user: started.user, server: l.server };
    };
    return {
      id: started.id,
      user: started.user,
      server: l.server,
      ceremonyUrl: started.ceremonyUrl,
      deviceThumbprint: key.thumbprint,
      finish,
    };
  }
}
