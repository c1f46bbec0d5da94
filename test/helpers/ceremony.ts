// Plays the browser's part in a ceremony: fetch what the page at `url` would show, let the
// software key sign it, and post the answer as the page would.
import type { SoftAuthenticator } from './soft-authenticator';

export async function touch(
  key: SoftAuthenticator,
  url: string,
): Promise<{ ok: boolean; value?: { state?: string }; error?: { code: string } }> {
  const u = new URL(url);
  const api = `${u.origin}/api/v1${u.pathname}`;
  const info = (await (await fetch(api)).json()) as { value: { kind: string; options: never } };
  const response =
    info.value.kind === 'enrolment'
      ? key.register(info.value.options, u.origin)
      : key.authenticate(info.value.options, u.origin);
  return (await (
    await fetch(api, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response }),
    })
  ).json()) as never;
}
