// Identifiers and digests the services mint.
import crypto from 'node:crypto';

/** 128 random bits, base64url, never starting with '-' or '_': people paste ids into command
 *  lines (`pim deny ID`), where a leading '-' reads as an option. */
export const newId = (): string => {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
};

export const sha256hex = (s: string | Buffer) => crypto.createHash('sha256').update(s).digest('hex');

/** Who calls: the user and the device whose key signed the request (api/routes.ts authenticates). */
export interface Caller {
  email: string;
  device: string;
}

/** The clock every decision reads (tests move it). */
export type { Clock } from '../../shared/clock';
