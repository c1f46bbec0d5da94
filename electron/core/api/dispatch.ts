// The agent's side of the contract: validate the input with zod, run the handler, and always
// answer { ok, value } | { ok: false, error } — never throw across a transport.
import { contract, isMethod, type Method, type Reply } from '../../../shared/api';
import { Agent, AgentError } from '../agent';
import { RefreshError } from '../policy/errors';

export type Dispatch = (method: string, input: unknown) => Promise<Reply<unknown>>;

type Handlers = { [M in Method]: (input: never) => unknown | Promise<unknown> };

export function createDispatch(agent: Agent): Dispatch {
  const handlers: Handlers = {
    getState: () => agent.state(),
    refreshPolicy: async () => {
      // a failed refresh is still a useful answer: the state says offline/rejected and why
      await agent.refresh().catch(() => undefined);
      return agent.state();
    },
    checkRole: (input: { role: string; duration?: number }) => agent.check(input.role, input.duration),
    listAllRoles: () => agent.listAllRoles(),
  };
  return async (method, input) => {
    if (!isMethod(method)) return { ok: false, error: { code: 'unknown-method', message: `unknown method "${String(method).slice(0, 64)}"` } };
    const parsed = contract[method].input.safeParse(input ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, error: { code: 'bad-input', message: `${method}: ${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'invalid'}` } };
    }
    try {
      const value = await (handlers[method] as (i: unknown) => unknown)(parsed.data);
      return { ok: true, value };
    } catch (e) {
      if (e instanceof AgentError || e instanceof RefreshError) return { ok: false, error: { code: e.code, message: e.message } };
      return { ok: false, error: { code: 'internal', message: 'internal error in the agent' } };
    }
  };
}
