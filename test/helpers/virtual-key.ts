// A person's security key in the browser tests. CDP's virtual authenticators live per page, and
// every ceremony opens in a new one: the key's credentials move from page to page (with their
// signature counter).
import type { CDPSession, Page } from 'playwright-core';

type Credential = Record<string, unknown>;

export class SecurityKey {
  private credentials: Credential[] = [];

  async attach(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'usb',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });
    for (const credential of this.credentials)
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: credential as never });
    return { cdp, authenticatorId };
  }

  async keep(at: { cdp: CDPSession; authenticatorId: string }): Promise<void> {
    this.credentials = (await at.cdp.send('WebAuthn.getCredentials', { authenticatorId: at.authenticatorId }))
      .credentials as unknown as Credential[];
  }
}
