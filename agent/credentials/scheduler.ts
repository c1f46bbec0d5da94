// Runs the credential manager in a long-running host (Electron, `pim agent`, `pim ui`): the
// start-up sweep first (offline: what a crash left past its end goes before anything else), then
// a reconcile after every change the agent sees (an activation became active, ended, was
// revoked) and at the next renewal, end or grace deadline — and at least every minute.
import type { Agent } from '../agent';
import type { CredentialManager, ReconcileReport } from './manager';
import { errorMessage } from '../../shared/errors';

const MAX_SLEEP_MS = 60_000;

export class CredentialScheduler {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly agent: Agent,
    readonly manager: CredentialManager,
    private readonly onReport: (r: ReconcileReport) => void = () => undefined,
  ) {
    manager.journalTargets = true;
  }

  async start(): Promise<void> {
    await this.run(() => this.manager.sweep());
    this.unsubscribe = this.agent.onChange(() => this.kick(100));
    this.agent.onClose(() => this.stop());
    this.kick(0);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  kick(delayMs = 0): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run(() => this.manager.reconcile()).then(() => this.schedule());
    }, delayMs);
    this.timer.unref?.();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const next = this.manager.nextWakeAt();
    const wait = next
      ? Math.max(250, Math.min(MAX_SLEEP_MS, next.getTime() - this.agent.now().getTime() + 50))
      : MAX_SLEEP_MS;
    this.kick(wait);
  }

  private async run(fn: () => Promise<ReconcileReport>): Promise<void> {
    try {
      const r = await fn();
      if (r.injected.length || r.removed.length || r.warnings.length) {
        this.onReport(r);
        this.agent.emitChange();
      }
    } catch (e) {
      this.onReport({ injected: [], renewed: [], removed: [], warnings: [errorMessage(e)] });
    }
  }
}

/** One line per thing done, for `pim agent`'s log and the CLI: names and places, never secrets. */
export function reportLines(r: ReconcileReport): string[] {
  const lines: string[] = [];
  for (const i of r.injected) for (const it of i.items) lines.push(`${i.role}: ${describe(it)} ready`);
  for (const x of r.removed)
    for (const it of x.items) {
      // kube contexts and AWS profiles stay a few minutes, answering "role X was deactivated" to
      // whoever still uses them, instead of vanishing under an open terminal
      if (it.until)
        lines.push(
          `${x.role}: ${describe(it)} no longer works (${x.reason}): its commands now say why; the entry itself is removed at ${it.until.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC')} (by a running pim agent or the app, else by the next pim credentials)`,
        );
      else lines.push(`${x.role}: ${describe(it)} removed (${x.reason})`);
    }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines;
}

function describe(it: { kind: string; name: string; where: string; until?: string }): string {
  if (it.kind === 'kube') return `kube context ${it.name} (in ${it.where})`;
  if (it.kind === 'aws') return `AWS profile ${it.name} (in ${it.where})`;
  if (it.kind === 'gcp') return `gcloud configuration ${it.name} (in ${it.where})`;
  if (it.kind === 'azure') return `Azure federated token ${it.name} (${it.where})`;
  return `SSH certificate ${it.name} (in the ssh-agent)`;
}
