import { formatDuration } from '../../shared/policy/duration';
import { clean } from './format';

/** One journal record on one line: seq, time, type and what it is about. */
export function auditLine(r: {
  seq: number;
  at: string;
  type: string;
  user: string | null;
  data: Record<string, unknown>;
}): string {
  const d = r.data;
  // a journal field as text: objects as JSON, never "[object Object]"
  const s = (v: unknown) =>
    clean(
      v !== null && typeof v === 'object'
        ? JSON.stringify(v)
        : String((v as string | number | boolean | undefined) ?? '-'),
    );
  let what: string;
  switch (r.type) {
    case 'enrolled':
      what = `${s(d.user)} with ${s(d.server)} (device ${s(d.device).slice(0, 16)}…)`;
      break;
    case 'keystore-changed':
      what = `${s(d.kind)} in the ${s(d.keystore)} keystore${d.chosen ? ` — chosen because ${s((d.chosen as { why?: string }).why)}` : ''}`;
      break;
    case 'policy-refreshed':
      what = `v${s(d.version)}${d.changed ? '' : ' (unchanged)'}, usable until ${s(d.expires)}`;
      break;
    case 'policy-rejected':
      what = `${s(d.code)}: ${s(d.message)}`;
      break;
    case 'approval-given':
      what = `${s(d.decision)} ${s(d.role)} for ${s(d.requester)} (${s(d.activation)})${d.reason ? ` — ${s(d.reason)}` : ''}`;
      break;
    case 'sync-failed':
      what = `${s(d.code)}: ${s(d.message)}`;
      break;
    default:
      if (r.type.startsWith('activation-')) {
        const extra =
          r.type === 'activation-requested'
            ? ` for ${formatDuration(Number(d.duration) || 0)}`
            : d.expiresAt && (r.type === 'activation-active' || r.type === 'activation-extended')
              ? ` until ${s(d.expiresAt)}`
              : d.endReason
                ? ` — ${s(d.endReason)}`
                : '';
        // the audit trail names who approved (their signed decisions are in the record's evidence)
        const approvers = Array.isArray(d.approvals)
          ? (d.approvals as { approver?: unknown; decision?: unknown }[])
              .filter((x) => x.decision === 'approve' && typeof x.approver === 'string')
              .map((x) => s(x.approver))
          : [];
        what = `${s(d.role)} (${s(d.activation)})${extra}${approvers.length ? `, approved by ${approvers.join(', ')}` : ''}${'assertion' in d ? (d.assertion ? ' [key touch recorded]' : ' [evidence not fetched]') : ''}`;
      } else what = clean(JSON.stringify(d)).slice(0, 200);
  }
  return `${String(r.seq).padStart(5)}  ${r.at}  ${r.type.padEnd(28)} ${what}`;
}
