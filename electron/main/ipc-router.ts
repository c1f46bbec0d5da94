// Every `pim:<method>` IPC call passes through here before reaching the agent: the sender must be
// the app's own renderer page, the channel must name a method of the contract. Pure — the event is
// a plain object, so this is tested without Electron.
import { CHANNEL_PREFIX, isMethod, type Reply } from '../../shared/api';
import { errorMessage } from '../../shared/errors';
import { isSameDocument } from './urls';

export type Dispatch = (method: string, input: unknown) => Promise<Reply<unknown>>;

/** The part of Electron's IpcMainInvokeEvent the router looks at. */
export interface IpcEventLike {
  senderFrame: { url: string } | null;
}

export interface IpcRouter {
  handle(channel: string, event: IpcEventLike, input: unknown): Promise<Reply<unknown>>;
}

/** True only for the exact renderer document (`rendererUrl`), whatever its query or fragment. */
export function isTrustedSender(senderUrl: string, rendererUrl: string): boolean {
  return isSameDocument(senderUrl, rendererUrl);
}

function fail(code: string, message: string): Reply<unknown> {
  return { ok: false, error: { code, message } };
}

function senderUrl(event: IpcEventLike | null | undefined): string | null {
  try {
    const url = event?.senderFrame?.url;
    return typeof url === 'string' ? url : null;
  } catch {
    // a destroyed frame may throw on access
    return null;
  }
}

export function createIpcRouter(deps: { dispatch: Dispatch; isTrustedSender: (url: string) => boolean }): IpcRouter {
  return {
    async handle(channel, event, input) {
      const url = senderUrl(event);
      if (url === null || !deps.isTrustedSender(url)) {
        return fail('forbidden-sender', 'this call did not come from the PIM Agent window');
      }
      if (
        typeof channel !== 'string' ||
        !channel.startsWith(CHANNEL_PREFIX) ||
        !isMethod(channel.slice(CHANNEL_PREFIX.length))
      ) {
        return fail('unknown-method', `unknown channel ${JSON.stringify(String(channel)).slice(0, 80)}`);
      }
      const method = channel.slice(CHANNEL_PREFIX.length);
      try {
        return await deps.dispatch(method, input);
      } catch (e) {
        return fail('internal-error', errorMessage(e));
      }
    },
  };
}
