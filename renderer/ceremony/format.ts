// Words for the ceremony page: durations, times, shortened keys and fingerprints, outcomes.
// Pure (no DOM, no React), so every sentence a person reads before touching the key is
// computed here from the exact values being signed.
import { sha256 } from '@noble/hashes/sha256';
import { wordsDuration } from '../../shared/duration';
import { errorMessage } from '../../shared/errors';
import type { ActivationOutcome } from './model';

/** 5400 → "1 h 30 min", 3600 → "1 h", 90 → "1 min 30 s", 93600 → "1 day 2 h". */
export const humanDuration = (seconds: number): string => wordsDuration(seconds);

export interface TimeOpts {
  locale?: string;
  timeZone?: string;
  /** "now", for deciding whether the date must be shown too */
  now?: Date;
}

/** "15:42" when the instant is today (in the viewer's zone), "Tue 3 Jun, 15:42" otherwise. */
export function clockTime(iso: string, opts: TimeOpts = {}): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const zone = opts.timeZone ? { timeZone: opts.timeZone } : {};
  const time = new Intl.DateTimeFormat(opts.locale, {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    ...zone,
  }).format(new Date(t));
  const day = (d: Date) =>
    new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', ...zone }).format(d);
  if (day(new Date(t)) === day(opts.now ?? new Date())) return time;
  const date = new Intl.DateTimeFormat(opts.locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    ...zone,
  }).format(new Date(t));
  return `${date}, ${time}`;
}

/** The first 16 hex digits of a SHA-256, in groups of four: "3f2a 91bc 0d4e 77a1". */
export function requestFingerprint(sha256hex: string): string {
  return (sha256hex.slice(0, 16).match(/.{1,4}/g) ?? []).join(' ');
}

/** A device key thumbprint (base64url, 43 chars), shortened to its first 16 characters in fours. */
export function deviceFingerprint(thumbprint: string): string {
  return (thumbprint.slice(0, 16).match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * "ssh-ed25519 AAAAC3Nz…Qk9xYz1w": the type, the (constant) start and the distinguishing end of the
 * key; the full key belongs in a tooltip.
 */
export function shortSshKey(key: string): string {
  const [type, blob] = key.split(' ');
  if (!type || !blob) return key;
  if (blob.length <= 24) return key;
  return `${type} ${blob.slice(0, 8)}…${blob.slice(-12)}`;
}

/** OpenSSH's fingerprint of a public key line ("SHA256:…", as `ssh-add -l` prints it); null if unreadable. */
export function sshFingerprint(key: string): string | null {
  const blob = key.split(' ')[1];
  if (!blob) return null;
  let bytes: Uint8Array;
  try {
    const bin = atob(blob);
    bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
  let s = '';
  for (const b of sha256(bytes)) s += String.fromCharCode(b);
  return `SHA256:${btoa(s).replace(/=+$/, '')}`;
}

/** "alice@acme.example" → "alice" (how a person is addressed in a sentence). */
export function firstName(email: string): string {
  return email.split('@')[0] || email;
}

export type Tone = 'ok' | 'waiting' | 'bad';

export interface OutcomeText {
  tone: Tone;
  title: string;
  detail: string;
}

/** What a requester reads after their key touch was accepted. */
export function activationOutcome(v: ActivationOutcome, opts: TimeOpts = {}): OutcomeText {
  switch (v.state) {
    case 'active':
      return {
        tone: 'ok',
        title: v.expiresAt ? `Active until ${clockTime(v.expiresAt, opts)}` : 'Active',
        detail: `${v.role} is active. You can close this window — PIM Agent sets up your access.`,
      };
    case 'approved':
      return {
        tone: 'ok',
        title: 'Approved',
        detail: `${v.role} is approved and starting. You can close this window.`,
      };
    case 'pending-approval':
      return {
        tone: 'waiting',
        title: waitingTitle(v),
        detail: 'Your request is signed. PIM Agent tells you as soon as it is decided; you can close this window.',
      };
    case 'denied':
      return { tone: 'bad', title: 'Denied', detail: deniedDetail(v) };
    default:
      return { tone: 'bad', title: `The request is ${v.state.replace(/-/g, ' ')}`, detail: v.endReason ?? '' };
  }
}

/** What an approver reads after their decision was accepted. */
export function approvalOutcome(
  v: ActivationOutcome,
  decision: 'approve' | 'deny',
  requester: string,
  opts: TimeOpts = {},
): OutcomeText {
  const who = firstName(requester);
  // approved, yet refused by the policy in force when it was to start (server/admission.ts)
  if (decision === 'approve' && v.state === 'denied') {
    return {
      tone: 'bad',
      title: 'Approved, but not granted',
      detail: `Your approval is recorded, but ${who}'s ${v.role} cannot start: ${v.endReason ?? 'the policy no longer allows it'}`,
    };
  }
  if (decision === 'deny' || v.state === 'denied') {
    const mine = [...v.approvals].reverse().find((a) => a.decision === 'deny');
    return {
      tone: 'ok',
      title: 'Denied — your decision is recorded',
      detail: `You denied ${who}'s request for ${v.role}. ${who} sees your reason: ${mine?.reason ?? v.endReason ?? '(none)'}`,
    };
  }
  if (v.state === 'active')
    return {
      tone: 'ok',
      title: 'Approved',
      detail: `${who}'s ${v.role} is now active${v.expiresAt ? ` until ${clockTime(v.expiresAt, opts)}` : ''}. You can close this window.`,
    };
  if (v.state === 'pending-approval') {
    const more = Math.max(0, v.approvalsNeeded - v.approvals.filter((a) => a.decision === 'approve').length);
    return {
      tone: 'waiting',
      title: 'Approval recorded',
      detail: `Your approval is recorded; ${more} more ${more === 1 ? 'approval is' : 'approvals are'} needed before ${who}'s ${v.role} starts.`,
    };
  }
  return { tone: 'ok', title: 'Decision recorded', detail: `${who}'s request is now ${v.state.replace(/-/g, ' ')}.` };
}

function waitingTitle(v: ActivationOutcome): string {
  const approved = v.approvals.filter((a) => a.decision === 'approve').length;
  const more = Math.max(1, v.approvalsNeeded - approved);
  return `Waiting for approval (${more} ${more === 1 ? 'approver' : 'approvers'} needed)`;
}

function deniedDetail(v: ActivationOutcome): string {
  const d = [...v.approvals].reverse().find((a) => a.decision === 'deny');
  if (d) return `Reason given by ${d.approver}: ${d.reason ?? '(none)'}`;
  return v.endReason ?? '';
}

/** Browser errors from the WebAuthn prompt, in words. */
export function webauthnErrorText(e: unknown): { cancelled: boolean; message: string } {
  const name = (e as { name?: string })?.name ?? '';
  const code = (e as { code?: string })?.code ?? '';
  if (name === 'NotAllowedError' || name === 'AbortError')
    return { cancelled: true, message: 'Cancelled — nothing was signed. Try again.' };
  if (name === 'InvalidStateError' || code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED')
    return {
      cancelled: false,
      message:
        'This security key is already registered for you. Use another key, or ask your admin to remove the old one.',
    };
  if (name === 'SecurityError')
    return {
      cancelled: false,
      message: `The browser refused to use a security key for this site (${errorMessage(e)}). Open the link exactly as PIM Agent gave it.`,
    };
  if (name === 'NotSupportedError')
    return {
      cancelled: false,
      message: 'This security key does not support what this control plane asks for (algorithm or user verification).',
    };
  return { cancelled: false, message: `The security key could not sign: ${errorMessage(e)}` };
}
