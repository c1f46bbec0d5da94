// One of many processes editing the same AWS config file at once (test/integration/aws-sts.test.ts):
//   node --import tsx test/helpers/aws-config-worker.ts <file> <role> <keep|drop> <rounds>
// Adds and removes its own profile `rounds` times, then leaves it in (keep) or out (drop).
import { addAwsProfile, removeAwsProfiles, updateAwsConfig } from '../../agent/credentials/aws-config';

const [file, role, final, rounds] = process.argv.slice(2);
if (!file || !role || (final !== 'keep' && final !== 'drop') || !rounds) {
  process.stderr.write('usage: aws-config-worker.ts <file> <role> <keep|drop> <rounds>\n');
  process.exit(2);
}
const name = `pim-${role}`;
const add = () =>
  updateAwsConfig(file, (text) =>
    addAwsProfile(text, { name, role, credentialProcess: `/opt/pim/pim-cred aws ${name}`, region: 'eu-west-1' }),
  );
const remove = () =>
  updateAwsConfig(file, (text) => (text === null ? null : removeAwsProfiles(text, (n) => n === name)));

for (let i = 0; i < Number(rounds); i++) {
  add();
  remove();
}
if (final === 'keep') add();
