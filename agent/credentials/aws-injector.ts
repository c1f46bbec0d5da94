// aws: a managed [profile pim-<role>] whose credential_process is the pim-cred helper, reading the
// result of STS AssumeRoleWithWebIdentity. STS first (nothing to write if it refuses), then the
// credential, then the profile.
import fs from 'node:fs';
import { awsProfileName } from '../../shared/policy/names';
import { checkName } from '../../platform/fs-safe';
import {
  addAwsProfile,
  credentialProcessCommand,
  listPimProfiles,
  removeAwsProfiles,
  updateAwsConfig,
} from './aws-config';
import { writeCredential } from './cred-helper';
import {
  emptyOutcome,
  ConfigFileInjector,
  type ConfigFileKind,
  renewAt,
  type CredentialInjector,
  type InjectJob,
  type InjectOutcome,
} from './injector';
import { assumeRoleWithWebIdentity, credentialProcessJson, sessionSeconds, stsEndpointFor } from './sts';
import { errorMessage } from '../../shared/errors';

export class AwsInjector extends ConfigFileInjector implements CredentialInjector {
  readonly kinds = ['aws'] as const;

  async inject(job: InjectJob): Promise<InjectOutcome> {
    const out = emptyOutcome();
    const { activation: a, issued, now, end } = job;
    const awsFile = this.targets.awsConfigFile();
    for (const [i, g] of issued.aws.entries()) {
      const name = checkName(awsProfileName(a.role, i, issued.aws.length), 'AWS profile name');
      try {
        const sts = await assumeRoleWithWebIdentity({
          endpoint: g.stsEndpoint ?? stsEndpointFor(g.region),
          roleArn: g.roleArn,
          sessionName: g.sessionName,
          webIdentityToken: g.webIdentityToken,
          durationSeconds: sessionSeconds(now, end),
        });
        const exp = new Date(Math.min(sts.expiration.getTime(), end.getTime()));
        job.record('aws', name, awsFile, { roleArn: g.roleArn, assumedRoleArn: sts.assumedRoleArn });
        writeCredential(this.targets.credsDir, 'aws', name, credentialProcessJson(sts, end), {
          role: a.role,
          activationEnd: end,
          credentialExpires: exp,
        });
        if (job.first || !profilePresent(awsFile, name)) {
          updateAwsConfig(awsFile, (text) =>
            addAwsProfile(text, {
              name,
              role: a.role,
              credentialProcess: credentialProcessCommand(job.helper, name),
              region: g.region,
            }),
          );
        }
        out.items.push({ kind: 'aws', name, where: awsFile });
        out.renewals.push(renewAt(now, exp));
      } catch (e) {
        job.report.warnings.push(`${a.role}: AWS role ${g.roleArn} not assumed: ${errorMessage(e)}`);
        out.renewals.push(now.getTime() + 60_000);
      }
    }
    return out;
  }

  /** our profiles in the AWS config file */
  protected readonly entries: ConfigFileKind = {
    kind: 'aws',
    file: () => this.targets.awsConfigFile(),
    list: listPimProfiles,
    runsHelper,
    remove: (file, names) =>
      updateAwsConfig(file, (t) => (t === null ? null : removeAwsProfiles(t, (n) => names.includes(n)))),
  };
}

function profilePresent(file: string, name: string): boolean {
  try {
    return listPimProfiles(fs.readFileSync(file, 'utf8')).includes(name);
  } catch {
    return false;
  }
}

/** Whether our profile `name` in that AWS config text runs `helper`. */
function runsHelper(text: string, name: string, helper: string): boolean {
  const begin = text.indexOf(`managed profile ${name} `);
  const block = begin < 0 ? '' : text.slice(begin, text.indexOf(`# END PIM Agent managed profile ${name}`, begin));
  return block.split(/\r?\n/).some((l) => /^\s*credential_process\s*=/.test(l) && l.includes(helper));
}
