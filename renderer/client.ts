// The renderer's side of the contract. Inside Electron the preload has put `window.pim` there
// (IPC); in the web shell the same calls go over loopback HTTP with the per-run session token,
// which the page gets by trading the one-time code it was opened with (`#code=…`, POST /session).
import { methods, type ApiError, type Method, type PimApi, type Reply } from '../shared/api';
import { errorMessage } from '../shared/errors';

const TOKEN_KEY = 'pim.token';

export interface ClientEnv {
  fetch: typeof fetch;
  location: Pick<Location, 'hash' | 'pathname' | 'search'>;
  history: Pick<History, 'replaceState' | 'state'>;
  storage: Pick<Storage, 'getItem' | 'setItem'>;
}

/** Inside Electron (the preload put the contract on `window.pim`): ceremonies open through the
 *  main process; in a browser the page opens them itself. */
export function isElectronHost(): boolean {
  return typeof window !== 'undefined' && !!window.pim;
}

export function createClient(env?: Partial<ClientEnv>): PimApi {
  if (typeof window !== 'undefined' && window.pim && !env) return window.pim;
  return createHttpClient({
    fetch: env?.fetch ?? ((input, init) => fetch(input, init)),
    location: env?.location ?? window.location,
    history: env?.history ?? window.history,
    storage: env?.storage ?? window.sessionStorage,
  });
}

/**
 * The session token: on first load the one-time `#code=…` is taken from the address (and removed
 * from the address bar and history at once) and exchanged for the token, which is kept in
 * sessionStorage (this origin and tab only, gone with the tab) so a reload keeps working.
 */
export async function sessionToken(
  env: Pick<ClientEnv, 'fetch' | 'location' | 'history' | 'storage'>,
): Promise<string | null> {
  const hash = env.location.hash.replace(/^#/, '');
  const code = hash ? new URLSearchParams(hash).get('code') : null;
  if (code) {
    env.history.replaceState(env.history.state, '', env.location.pathname + env.location.search);
    try {
      const res = await env.fetch('/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ code }),
        cache: 'no-store',
        credentials: 'omit',
      });
      const body = (await res.json()) as { ok?: boolean; value?: { token?: unknown } };
      const token = body?.ok && typeof body.value?.token === 'string' ? body.value.token : null;
      if (token) {
        try {
          env.storage.setItem(TOKEN_KEY, token);
        } catch {
          // storage disabled: the token still works for this page's lifetime
        }
        return token;
      }
    } catch {
      // fall through: a token from an earlier exchange in this tab may still serve
    }
  }
  try {
    return env.storage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function failure(code: string, message: string): { ok: false; error: ApiError } {
  return { ok: false, error: { code, message } };
}

function isReply(x: unknown): x is Reply<unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  if (r.ok === true) return 'value' in r;
  if (r.ok === false) {
    const e = r.error as Record<string, unknown> | null | undefined;
    return typeof e === 'object' && e !== null && typeof e.code === 'string' && typeof e.message === 'string';
  }
  return false;
}

export function createHttpClient(env: ClientEnv): PimApi {
  const tokenP = sessionToken(env);

  async function call(method: Method, input: unknown): Promise<Reply<unknown>> {
    const token = await tokenP;
    let res: Response;
    try {
      res = await env.fetch(`/api/${method}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(input ?? {}),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      return failure('agent-unreachable', `Cannot reach the PIM agent (${errorMessage(e)})`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      return failure('bad-reply', `the agent answered HTTP ${res.status} without a JSON reply`);
    }
    if (!isReply(body)) return failure('bad-reply', `the agent answered HTTP ${res.status} with an unexpected reply`);
    return body;
  }

  const api: Record<string, (input: unknown) => Promise<Reply<unknown>>> = {};
  for (const m of methods) api[m] = (input) => call(m, input);
  return api as unknown as PimApi;
}
