// Who may decide on a request, under the policy in force now.
import type { ActivationRow } from '../store/activations-store';
import type { PolicySource } from './policy';

export class ApproverRules {
  constructor(private readonly policy: PolicySource) {}

  /** Named by the role's approval rule, in person or through a group. */
  canApprove(approver: string, row: ActivationRow): boolean {
    const role = this.policy.current().roles.roles.find((r) => r.name === row.role);
    const rule = role?.activation.approval;
    if (!rule) return false;
    const subj = this.policy.subject(approver);
    return rule.approvers.users.includes(approver) || subj.groups.some((g) => rule.approvers.groups.includes(g));
  }

  /** Not the requester, unless the role allows approving one's own request. */
  selfApprovalOk(approver: string, row: ActivationRow): boolean {
    const rule = this.policy.current().roles.roles.find((r) => r.name === row.role)?.activation.approval;
    return approver !== row.email || rule?.selfApproval === true;
  }
}
