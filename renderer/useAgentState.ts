// Keeps the agent's state fresh: polls getState every couple of seconds and when the window
// regains focus, and lets a refresh's reply replace it. Replies are applied in the order their
// requests started, so a slow poll can never overwrite a newer refresh.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AgentState, ApiError, PimApi, Reply } from '../shared/api';
import { errorMessage } from '../shared/errors';

export interface AgentStateHook {
  state: AgentState | null;
  /** the last getState failure; cleared by the next success */
  loadError: ApiError | null;
  refreshing: boolean;
  /** the last refreshPolicy failure; cleared when a refresh starts or on dismiss */
  refreshError: ApiError | null;
  refresh: () => Promise<void>;
  dismissRefreshError: () => void;
  /** fetch the state now (after an action that changed it) */
  reload: () => Promise<void>;
  /** the agent's clock minus this page's, measured at the last state: countdowns use the agent's time */
  clockOffsetMs: number;
}

async function safely<T>(call: () => Promise<Reply<T>>): Promise<Reply<T>> {
  try {
    return await call();
  } catch (e) {
    return {
      ok: false,
      error: {
        code: 'agent-unreachable',
        message: `Cannot reach the PIM agent (${errorMessage(e)})`,
      },
    };
  }
}

export function useAgentState(client: PimApi, intervalMs = 2000): AgentStateHook {
  const [state, setState] = useState<AgentState | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [refreshing, setRefreshing] = useState(false);
  const [refreshError, setRefreshError] = useState<ApiError | null>(null);
  const [clockOffsetMs, setClockOffsetMs] = useState(0);
  const seq = useRef(0);
  const applied = useRef(0);
  const polling = useRef(false);

  const apply = useCallback((mySeq: number, value: AgentState) => {
    if (mySeq < applied.current) return;
    applied.current = mySeq;
    setState(value);
    const agentNow = Date.parse(value.now);
    if (!Number.isNaN(agentNow)) setClockOffsetMs(agentNow - Date.now());
  }, []);

  const load = useCallback(async () => {
    if (polling.current) return;
    polling.current = true;
    const mySeq = ++seq.current;
    try {
      const r = await safely(() => client.getState({}));
      if (r.ok) {
        apply(mySeq, r.value);
        setLoadError(null);
      } else {
        setLoadError(r.error);
      }
    } finally {
      polling.current = false;
    }
  }, [client, apply]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), intervalMs);
    const onFocus = () => void load();
    const onVisible = () => {
      if (document.visibilityState === 'visible') void load();
    };
    window.addEventListener('focus', onFocus);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearInterval(timer);
      window.removeEventListener('focus', onFocus);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [load, intervalMs]);

  const refresh = useCallback(async () => {
    setRefreshing(true);
    setRefreshError(null);
    const mySeq = ++seq.current;
    try {
      const r = await safely(() => client.refreshPolicy({}));
      if (r.ok) apply(mySeq, r.value);
      else setRefreshError(r.error);
    } finally {
      setRefreshing(false);
    }
  }, [client, apply]);

  const dismissRefreshError = useCallback(() => setRefreshError(null), []);

  const reload = useCallback(async () => {
    const mySeq = ++seq.current;
    const r = await safely(() => client.getState({}));
    if (r.ok) {
      apply(mySeq, r.value);
      setLoadError(null);
    }
  }, [client, apply]);

  return { state, loadError, refreshing, refreshError, refresh, dismissRefreshError, reload, clockOffsetMs };
}
