// `pim-server publish`: review a policy against the published one and publish it as signed TUF targets.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { errorCode, errorMessage } from '../../../shared/errors';
import { parseDuration } from '../../../shared/policy/duration';
import { reviewPolicy } from '../../../shared/policy/review';
import { compileForPublish, publishedPolicy, publishPolicy, readState, RepoError } from '../../repo/repository';
import { withControlPlane, type ServerCommand } from '../command';

export const publish: ServerCommand = {
  name: 'publish',
  usage: `  pim-server publish DIR POLICY.yaml [--expires 7d] [--dry-run] [--force]
      Validate the policy, compile it into signed TUF targets (roles + one file per user), bump
      versions and print the new policy version. --expires is how long agents may use it offline.
      Prints what changes for whom (roles added/removed, users gaining or losing eligibility,
      approvers). Warnings stop the publish unless --force: no roles, a group used but empty, a
      role nobody is eligible for, an approval nobody but the requester can give.
      --dry-run: validate and print all that, publish nothing.`,
  run(rest) {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { expires: { type: 'string' }, 'dry-run': { type: 'boolean' }, force: { type: 'boolean' } },
    });
    if (positionals.length !== 2)
      throw new RepoError('usage: pim-server publish DIR POLICY.yaml [--expires 7d] [--dry-run] [--force]');
    const [dir, file] = positionals as [string, string];
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new RepoError(`cannot read ${file}: ${errorCode(e) ?? errorMessage(e)}`);
    }
    const t0 = performance.now();
    readState(dir);
    const extraMembers = withControlPlane(dir, null, (cp) => cp.users.extraMembers());
    // validated and compiled first: what changes for whom, and what is probably a mistake
    const review = reviewPolicy(
      publishedPolicy(dir, extraMembers),
      compileForPublish(text, { extraMembers, sourceName: file }),
    );
    const say = (l: string) => process.stdout.write(`${l}\n`);
    if (values['dry-run'] || review.changes.length)
      say(review.changes.length ? `changes:\n${review.changes.map((c) => `  ${c}`).join('\n')}` : 'changes: none');
    for (const w of review.warnings) process.stderr.write(`warning: ${w.message}\n`);
    if (values['dry-run']) {
      say(
        `dry run: valid${review.warnings.length ? `, with ${review.warnings.length} warning(s) that would stop a publish without --force` : ''}; nothing was published`,
      );
      return 0;
    }
    if (review.warnings.length && !values.force) {
      process.stderr.write(
        `pim-server: not published: ${review.warnings.length} warning(s) above. Fix the policy, or publish it as it is with --force\n`,
      );
      return 1;
    }
    const r = publishPolicy(dir, text, {
      expiresSeconds: values.expires ? parseDuration(values.expires) : undefined,
      sourceName: file,
      extraMembers,
    });
    process.stdout.write(
      `published policy version ${r.version}: ${r.roles} roles, ${r.users} users, ${r.bins} bins; agents may use it offline until ${r.expires} (${Math.round(performance.now() - t0)} ms)\n`,
    );
    return 0;
  },
};
