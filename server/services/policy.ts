// The policy the control plane decides with: the one last published in the repository.
import fs from 'node:fs';
import { subjectFromMember } from '../../shared/policy/compile';
import type { Subject } from '../../shared/policy/types';
import { refuse } from '../api/errors';
import { paths, readCurrentPolicy, type CurrentPolicy } from '../repo/repository';

export class PolicySource {
  private cache: { stamp: string; policy: CurrentPolicy } | null = null;

  constructor(private readonly dir: string) {}

  /** The policy as last published (re-read only when `publish` replaced the file). */
  current(): CurrentPolicy {
    let stamp = '';
    try {
      const st = fs.statSync(paths(this.dir).current);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      throw refuse('no-policy', 'no policy has been published yet (pim-server publish)');
    }
    if (this.cache?.stamp !== stamp) {
      const p = readCurrentPolicy(this.dir);
      if (!p) throw refuse('no-policy', 'no policy has been published yet (pim-server publish)');
      this.cache = { stamp, policy: p };
    }
    return this.cache.policy;
  }

  /** Who the policy says this person is (groups, assignments); nobody in particular when absent. */
  subject(email: string): Subject {
    const m = this.current().members.find((x) => x.email === email);
    return m ? subjectFromMember(m) : { email, groups: [], assignments: [] };
  }
}
