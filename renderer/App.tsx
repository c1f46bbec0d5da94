// The tray popover: who and where, how fresh the policy is, roles ending soon (one-click extend),
// which roles can be activated (and their activations and credentials), requests waiting for this
// user's approval, this device's audit journal — or, on first run, enrolment.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { ActivationView, ApiError, PimApi, RoleView } from '../shared/api';
import { ActivateDialog } from './ActivateDialog';
import { activationFor, extensionFor, LIVE } from './activation-format';
import { ActivationStatus } from './ActivationStatus';
import { ApprovalsView } from './ApprovalsView';
import { AuditView } from './AuditView';
import { isElectronHost } from './client';
import { ConnectionBadge } from './ConnectionBadge';
import { credentialsFor } from './credentials-format';
import { EnrolPanel } from './EnrolPanel';
import { ErrorBanner, type ActionError } from './ErrorBanner';
import { ExpiryBanner } from './ExpiryBanner';
import { openCeremony } from './open-ceremony';
import { PolicyStatus } from './PolicyStatus';
import type { RoleActions } from './RoleCard';
import { RoleSections } from './RoleSections';
import { serverLabel } from './format';
import { useAgentState } from './useAgentState';
import { useNow } from './useNow';
import { parseOpenRequest, type OpenRequest } from './open-request';
import { useBrowserNotices } from './useBrowserNotices';

type Tab = 'roles' | 'approvals' | 'audit';

const unreachable = (x: unknown): { ok: false; error: ApiError } => ({
  ok: false,
  error: { code: 'agent-unreachable', message: String(x) },
});

export function App({ client, pollMs = 2000 }: { client: PimApi; pollMs?: number }) {
  const { state, loadError, refreshing, refreshError, refresh, dismissRefreshError, reload, clockOffsetMs } =
    useAgentState(client, pollMs);
  const [tab, setTab] = useState<Tab>('roles');
  const [dialog, setDialog] = useState<RoleView | null>(null);
  const [dismissed, setDismissed] = useState<ReadonlySet<string>>(new Set());
  const [approvalCount, setApprovalCount] = useState<number | null>(null);
  const [extending, setExtending] = useState<ReadonlySet<string>>(new Set());
  const [actionError, setActionError] = useState<ActionError | null>(null);
  const [laterNotices, setLaterNotices] = useState<ReadonlySet<string>>(new Set());
  // what the popover was opened for (tray item, notification, pim-agent:// link): a view, or the
  // activate dialog prefilled — never a request by itself
  const [openRequest, setOpenRequest] = useState<OpenRequest | null>(() => parseOpenRequest(window.location.hash));
  const [dialogDuration, setDialogDuration] = useState<number | null>(null);
  useEffect(() => {
    const onHash = () => setOpenRequest(parseOpenRequest(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (!openRequest || !state) return;
    if (openRequest.tab) setTab(openRequest.tab);
    const want = openRequest.activate;
    const role = want ? state.roles.find((r) => r.name === want.role && r.decision.allowed) : undefined;
    if (role) {
      setDialogDuration(want?.duration ?? null);
      setDialog(role);
    }
    setOpenRequest(null);
  }, [openRequest, state]);
  useBrowserNotices(
    client,
    state,
    useCallback((fragment: string) => setOpenRequest(parseOpenRequest(fragment)), []),
  );
  const activations = useMemo(() => state?.activations ?? [], [state]);
  const anyActive = activations.some((a) => a.state === 'active');
  const activeRoles = useMemo(
    () => new Set(activations.filter((a) => a.state === 'active').map((a) => a.role)),
    [activations],
  );
  const loadOthers = useCallback(async () => {
    const r = await client.listAllRoles({}).catch(() => null);
    return r?.ok ? r.value : null;
  }, [client]);
  const nowMs = useNow(clockOffsetMs, anyActive);

  const onChanged = useCallback(() => void reload(), [reload]);
  const onDismiss = useCallback((id: string) => setDismissed((d) => new Set([...d, id])), []);
  const onRequested = useCallback(
    (a: ActivationView) => {
      setDialog(null);
      void reload();
      // Electron opens the ceremony window at once; a browser needs the user's click on the card
      if (isElectronHost() && a.ceremonyUrl) void openCeremony(client, a.ceremonyUrl, state?.server ?? null);
    },
    [reload, client, state?.server],
  );

  const server = state?.server ?? null;
  const roles = state?.roles;
  /** One click: a new signed request chained to the active one, for the policy's default duration;
   *  its ceremony opens as the activate flow's does (Electron at once, a browser on the user's click). */
  const onExtend = useCallback(
    async (role: string) => {
      setExtending((s) => new Set([...s, role]));
      setActionError(null);
      const duration = roles?.find((r) => r.name === role)?.decision.requirements.defaultDuration;
      const r = await client.extend({ role, ...(duration && duration >= 60 ? { duration } : {}) }).catch(unreachable);
      setExtending((s) => new Set([...s].filter((x) => x !== role)));
      if (!r.ok) {
        setActionError({ title: `Could not extend ${role}`, error: r.error });
        return;
      }
      void reload();
      if (isElectronHost() && r.value.ceremonyUrl) {
        void openCeremony(client, r.value.ceremonyUrl, server).then(
          (err) => err && setActionError({ title: 'Could not open the security key page', error: err }),
        );
      }
    },
    [client, reload, roles, server],
  );
  const onOpenCeremony = useCallback(
    (url: string, external: boolean) =>
      void openCeremony(client, url, server, { external }).then(
        (err) => err && setActionError({ title: 'Could not open the security key page', error: err }),
      ),
    [client, server],
  );
  const onLater = useCallback((key: string) => setLaterNotices((d) => new Set([...d, key])), []);

  const firstRun = !!state && !state.enrolled && state.connection === 'unconfigured';
  const actions: RoleActions | null = state
    ? {
        client,
        server: state.server,
        nowMs,
        cannotActivate: state.enrolled ? null : 'Enrol this device with a security key first',
        activationFor: (role) => activationFor(role, activations, dismissed),
        onActivate: setDialog,
        onChanged,
        onDismiss,
        extensionFor: (a) => extensionFor(a, activations, dismissed),
        credentialsFor: (a) => credentialsFor(a, state.credentials),
        onExtend: state.enrolled ? (role) => void onExtend(role) : null,
        extending,
      }
    : null;
  const notices = state && state.enrolled ? state.notices.filter((n) => !laterNotices.has(n.key)) : [];
  // activations of roles the policy no longer shows this user (e.g. a role removed while active)
  const orphans = state
    ? activations.filter((a) => LIVE.has(a.state) && !state.roles.some((r) => r.name === a.role))
    : [];

  return (
    <div className="app">
      <header className="app-header">
        <h1 className="app-title">PIM Agent</h1>
        {state?.user && (
          <p className="identity">
            <span className="identity__email" data-testid="user-email">
              {state.user.email}
            </span>
            {state.server && (
              <span className="identity__server" title={state.server}>
                {serverLabel(state.server)}
              </span>
            )}
          </p>
        )}
      </header>

      {state && !firstRun && <ConnectionBadge state={state} />}

      {state && !firstRun && (
        <div className="policy-row">
          <PolicyStatus state={state} />
          <button
            type="button"
            className="button"
            data-testid="refresh-button"
            onClick={() => void refresh()}
            disabled={refreshing}
            aria-busy={refreshing}
          >
            {refreshing ? 'Refreshing…' : 'Refresh'}
          </button>
        </div>
      )}

      <ErrorBanner
        loadError={loadError}
        refreshError={refreshError}
        onDismissRefreshError={dismissRefreshError}
        actionError={actionError}
        onDismissActionError={() => setActionError(null)}
      />

      {state && !firstRun && (
        <ExpiryBanner
          notices={notices}
          activations={activations}
          nowMs={nowMs}
          extending={extending}
          onExtend={(role) => void onExtend(role)}
          onOpenCeremony={onOpenCeremony}
          onDismiss={onLater}
        />
      )}

      <main className="content">
        {!state ? (
          !loadError && <p className="empty">Connecting to the agent…</p>
        ) : firstRun ? (
          <EnrolPanel client={client} state={state} onChanged={onChanged} firstRun />
        ) : (
          <>
            {!state.enrolled && (
              <details className="enrol-notice" data-testid="enrol-notice" open={state.enrolment?.state === 'waiting'}>
                <summary>Not enrolled: roles can be viewed, not activated. Enrol this device…</summary>
                <EnrolPanel client={client} state={state} onChanged={onChanged} firstRun={false} />
              </details>
            )}
            {state.enrolled && (
              <div className="tabs" role="tablist" aria-label="Views">
                <button
                  type="button"
                  role="tab"
                  id="tab-roles"
                  aria-selected={tab === 'roles'}
                  aria-controls="panel-roles"
                  className="tab"
                  data-testid="roles-tab"
                  onClick={() => setTab('roles')}
                >
                  Roles
                </button>
                <button
                  type="button"
                  role="tab"
                  id="tab-approvals"
                  aria-selected={tab === 'approvals'}
                  aria-controls="panel-approvals"
                  className="tab"
                  data-testid="approvals-tab"
                  onClick={() => setTab('approvals')}
                >
                  Approvals
                  {approvalCount ? (
                    <span className="tab__count" data-testid="approvals-count">
                      {approvalCount}
                    </span>
                  ) : null}
                </button>
                <button
                  type="button"
                  role="tab"
                  id="tab-audit"
                  aria-selected={tab === 'audit'}
                  aria-controls="panel-audit"
                  className="tab"
                  data-testid="audit-tab"
                  onClick={() => setTab('audit')}
                >
                  Audit
                </button>
              </div>
            )}
            {tab === 'approvals' && state.enrolled ? (
              <div role="tabpanel" id="panel-approvals" aria-labelledby="tab-approvals">
                <ApprovalsView
                  client={client}
                  server={state.server}
                  nowIso={new Date(nowMs).toISOString()}
                  onCount={setApprovalCount}
                />
              </div>
            ) : tab === 'audit' && state.enrolled ? (
              <div role="tabpanel" id="panel-audit" aria-labelledby="tab-audit">
                <AuditView client={client} policyRoles={state.roles.map((r) => r.name)} />
              </div>
            ) : (
              <div
                role={state.enrolled ? 'tabpanel' : undefined}
                id="panel-roles"
                aria-labelledby={state.enrolled ? 'tab-roles' : undefined}
                className="content"
              >
                <RoleSections
                  state={state}
                  actions={actions ?? undefined}
                  activeRoles={activeRoles}
                  loadOthers={loadOthers}
                />
                {orphans.length > 0 && actions && (
                  <section aria-labelledby="orphans-heading">
                    <h2 id="orphans-heading" className="section-title">
                      Other activations
                    </h2>
                    <ul className="role-list">
                      {orphans.map((a) => (
                        <li key={a.id} className="role-card" data-testid={`role-card-${a.role}`}>
                          <h3 className="role-card__name">{a.role}</h3>
                          <p className="muted">This role is no longer offered to you by the policy.</p>
                          <OrphanStatus activation={a} actions={actions} />
                        </li>
                      ))}
                    </ul>
                  </section>
                )}
              </div>
            )}
          </>
        )}
      </main>

      {dialog && (
        <ActivateDialog
          client={client}
          role={dialog}
          initialDuration={dialogDuration}
          onClose={() => setDialog(null)}
          onRequested={onRequested}
        />
      )}
    </div>
  );
}

function OrphanStatus({ activation, actions }: { activation: ActivationView; actions: RoleActions }) {
  return (
    <ActivationStatus
      client={actions.client}
      role={activation.role}
      activation={activation}
      requirements={null}
      server={actions.server}
      nowMs={actions.nowMs}
      onChanged={actions.onChanged}
      onDismiss={actions.onDismiss}
      credentials={actions.credentialsFor(activation)}
    />
  );
}
