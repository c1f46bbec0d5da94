// PIM Agent's profiles in ~/.aws/config: managed blocks between marker comments, and not one byte of
// the user's file changed around them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'vitest';
import { after } from '../helpers/cleanup';
import {
  AwsConfigError,
  CREATED_HEADER,
  addAwsProfile,
  awsConfigPath,
  credentialProcessCommand,
  listPimProfiles,
  removeAwsProfiles,
  updateAwsConfig,
  type AwsProfile,
} from '../../agent/credentials/aws-config';
import { UnsafePathError } from '../../platform/fs-safe';
import { cannotRun, findProgram, requireProgram } from '../helpers/system';

const HELPER = '/home/alice/.config/pim-agent/creds/bin/pim-cred';
const profile = (role: string, over: Partial<AwsProfile> = {}): AwsProfile => ({
  name: `pim-${role}`,
  role,
  credentialProcess: credentialProcessCommand(HELPER, `pim-${role}`),
  region: 'eu-west-1',
  ...over,
});
const all = () => true;
const only = (name: string) => (n: string) => n === name;

/** What users' config files look like, the awkward ones included. */
const ORIGINALS: Record<string, string> = {
  'an empty file': '',
  'a default profile': '[default]\nregion = us-east-1\noutput = json\n',
  'no newline at the end': '[default]\nregion = us-east-1\noutput = json',
  'CRLF line breaks': '[default]\r\nregion = us-east-1\r\n\r\n[profile dev]\r\nsource_profile = default\r\n',
  'CRLF without a final line break': '[default]\r\nregion = us-east-1',
  'comments, blank lines and nested values':
    '# my settings\n; old style comment\n\n[profile dev]\nregion = eu-central-1\ns3 =\n    max_concurrent_requests = 20\n\n\n',
  'other profiles, one of them named pim-like':
    '[profile pim-notours-x]\nregion = us-west-2\n[sso-session corp]\nsso_region = us-east-1\n',
  'a byte order mark and non-ASCII comments': '\uFEFF# Zugangsdaten für José — ü\n[default]\nregion = eu-west-3\n',
  'only blank lines': '\n\n',
};

/** botocore reads the file with Python's configparser.RawConfigParser (strict: a duplicate section is an error). */
function pythonReads(text: string): Record<string, Record<string, string>> | null {
  if (!findProgram('python3')) return null;
  const script =
    'import configparser,json,sys\n' +
    'cp=configparser.RawConfigParser()\n' +
    'cp.read_string(sys.stdin.read())\n' +
    'print(json.dumps({s: dict(cp.items(s)) for s in cp.sections()}))\n';
  const r = spawnSync('python3', ['-c', script], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `configparser refused the file:\n${r.stderr}\n---\n${text}`);
  return JSON.parse(r.stdout) as Record<string, Record<string, string>>;
}

describe('adding and removing our profiles keeps every other byte', () => {
  for (const [what, original] of Object.entries(ORIGINALS)) {
    test(`${what}: add one then remove it gives back the exact bytes`, () => {
      const withOurs = addAwsProfile(original, profile('ml-admin'));
      assert.ok(withOurs.startsWith(original), 'the user text stays in front, unchanged');
      assert.deepEqual(listPimProfiles(withOurs), ['pim-ml-admin']);
      assert.equal(removeAwsProfiles(withOurs, all), original);
    });

    test(`${what}: add two, remove them in either order gives back the exact bytes`, () => {
      const two = addAwsProfile(addAwsProfile(original, profile('a')), profile('b'));
      assert.deepEqual(listPimProfiles(two), ['pim-a', 'pim-b']);
      assert.equal(removeAwsProfiles(removeAwsProfiles(two, only('pim-a')), only('pim-b')), original);
      assert.equal(removeAwsProfiles(removeAwsProfiles(two, only('pim-b')), only('pim-a')), original);
    });
  }

  test('the result is a file botocore reads: our profile with its credential_process and region, the user sections unchanged', (t) => {
    const original = ORIGINALS['no newline at the end']!;
    const text = addAwsProfile(original, profile('ml-admin'));
    if (!requireProgram(t, 'python3', "the written file is read back with Python's configparser, as botocore reads it"))
      return;
    const read = pythonReads(text)!;
    assert.deepEqual(read['default'], { region: 'us-east-1', output: 'json' });
    assert.deepEqual(read['profile pim-ml-admin'], {
      credential_process: `"${HELPER}" aws pim-ml-admin`,
      region: 'eu-west-1',
    });
  });

  test('a CRLF file gets a CRLF block; an LF file an LF block', () => {
    const crlf = addAwsProfile(ORIGINALS['CRLF line breaks']!, profile('x'));
    assert.equal(crlf.replace(/\r\n/g, '').includes('\n'), false, 'no bare LF in a CRLF file');
    const lf = addAwsProfile(ORIGINALS['a default profile']!, profile('x'));
    assert.equal(lf.includes('\r'), false);
  });

  test('the block format: markers around one [profile] section, after a blank line', () => {
    const text = addAwsProfile('[default]\nregion = us-east-1\n', profile('ml-admin'));
    assert.equal(
      text,
      '[default]\nregion = us-east-1\n' +
        '\n' +
        '# BEGIN PIM Agent managed profile pim-ml-admin -- do not edit\n' +
        '# role ml-admin: PIM Agent removes this profile when the activation ends\n' +
        '[profile pim-ml-admin]\n' +
        `credential_process = "${HELPER}" aws pim-ml-admin\n` +
        'region = eu-west-1\n' +
        '# END PIM Agent managed profile pim-ml-admin\n',
    );
  });

  test('a file without a final newline: our block starts on a line of its own', () => {
    const text = addAwsProfile('[default]\noutput = json', profile('x'));
    assert.ok(text.startsWith('[default]\noutput = json\n# BEGIN PIM Agent managed profile pim-x'));
  });

  test('no region: no region line', () => {
    const text = addAwsProfile('', profile('x', { region: null }));
    assert.equal(/^region/m.test(text), false);
  });

  test('a file that did not exist starts with our header and comes back empty (the caller deletes it)', () => {
    const text = addAwsProfile(null, profile('x'));
    assert.ok(text.startsWith(CREATED_HEADER));
    assert.equal(removeAwsProfiles(addAwsProfile(text, profile('y')), all), '');
  });

  test('text the user added after our block stays, on its own line, when our block goes', () => {
    const ours = addAwsProfile('[default]\noutput = json', profile('x'));
    const edited = `${ours}[profile later]\nregion = us-east-2\n`;
    assert.equal(removeAwsProfiles(edited, all), '[default]\noutput = json\n[profile later]\nregion = us-east-2\n');
  });
});

describe('replacing and removing', () => {
  test('adding a profile that is already ours replaces its block where it is', () => {
    const first = addAwsProfile('[default]\n', profile('x', { region: 'eu-west-1' }));
    const withAfter = addAwsProfile(first, profile('y'));
    const replaced = addAwsProfile(withAfter, profile('x', { region: 'us-east-2' }));
    assert.deepEqual(listPimProfiles(replaced), ['pim-x', 'pim-y'], 'same place, still one block each');
    assert.match(replaced, /\[profile pim-x\]\ncredential_process = .*\nregion = us-east-2\n/);
    assert.equal(replaced.match(/\[profile pim-x\]/g)!.length, 1);
    assert.equal(removeAwsProfiles(replaced, all), '[default]\n');
  });

  test('removing touches only our managed blocks, never a user section that looks like ours', () => {
    const user = '[profile pim-mine]\nregion = us-west-2\n';
    const text = addAwsProfile(user, profile('x'));
    assert.deepEqual(listPimProfiles(text), ['pim-x'], "the user's pim-mine is not listed as ours");
    assert.equal(removeAwsProfiles(text, all), user);
  });

  test('removing with a filter keeps the other blocks', () => {
    const text = addAwsProfile(addAwsProfile(addAwsProfile('', profile('a')), profile('b')), profile('c'));
    assert.deepEqual(listPimProfiles(removeAwsProfiles(text, only('pim-b'))), ['pim-a', 'pim-c']);
  });

  test('removing from a file without our blocks returns it unchanged', () => {
    for (const original of Object.values(ORIGINALS)) assert.equal(removeAwsProfiles(original, all), original);
  });

  for (const [what, header] of [
    ['[profile pim-x]', '[profile pim-x]'],
    ['[profile "pim-x"] (botocore shlex-splits section names)', '[profile "pim-x"]'],
    ['an indented [profile  pim-x ]', '  [profile  pim-x ]'],
  ]) {
    test(`a ${what} section the user wrote is refused, not touched`, () => {
      const user = `[default]\nregion = us-east-1\n${header}\nregion = eu-north-1\n`;
      assert.throws(
        () => addAwsProfile(user, profile('x')),
        (e: unknown) => e instanceof AwsConfigError && /already has its own \[profile pim-x\] section/.test(e.message),
      );
    });
  }

  test('a file with old Mac line breaks (a CR alone) is refused rather than guessed at', () => {
    assert.throws(
      () => addAwsProfile('[default]\rregion = us-east-1\r', profile('x')),
      /carriage returns without line feeds/,
    );
  });

  test('broken markers are reported with their line, never guessed around', () => {
    const block = addAwsProfile('', profile('x'));
    const noEnd = block.replace(/# END.*\n/, '');
    assert.throws(() => listPimProfiles(noEnd), /line 1 .*pim-x.* has no END line/);
    assert.throws(() => removeAwsProfiles(noEnd, all), AwsConfigError);
    const orphanEnd = `[default]\n${block.split('\n').slice(1).join('\n')}`;
    assert.throws(() => removeAwsProfiles(orphanEnd, all), /closes a PIM Agent block .* never opened/);
    const twice = block + block;
    assert.throws(() => addAwsProfile(twice, profile('x')), /a second PIM Agent block/);
  });
});

describe('values are checked before anything is written', () => {
  const bad: Array<[string, Partial<AwsProfile>, RegExp]> = [
    ['a name with a newline', { name: 'pim-x\n[profile evil]' }, /AWS profile name/],
    ['an upper-case name', { name: 'pim-X' }, /AWS profile name/],
    ['a name without the pim- prefix', { name: 'default' }, /named pim-<role>/],
    ['a role with a control character', { role: 'x\u0007' }, /role name/],
    ['a made-up region', { region: 'eu-west' }, /AWS region/],
    ['a region with a newline', { region: 'eu-west-1\nfoo = bar' }, /AWS region/],
    [
      'a command with a newline',
      { credentialProcess: '/bin/pim-cred aws pim-x\n[profile evil]' },
      /credential_process/,
    ],
    [
      'a command with a carriage return',
      { credentialProcess: '/bin/pim-cred aws pim-x\rregion = x' },
      /credential_process/,
    ],
    ['a command with a NUL', { credentialProcess: '/bin/pim-cred\u0000 aws pim-x' }, /credential_process/],
    [
      'a command with a Unicode line separator',
      { credentialProcess: '/bin/pim-cred\u2028aws pim-x' },
      /credential_process/,
    ],
    ['an empty command', { credentialProcess: '' }, /credential_process/],
  ];
  for (const [what, over, message] of bad) {
    test(`${what} is refused and the file stays as it was`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pim-awscfg-'));
      after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const file = path.join(dir, 'config');
      const original = '[default]\nregion = us-east-1\n';
      fs.writeFileSync(file, original);
      const p = profile('x', over);
      assert.throws(
        () => addAwsProfile(original, p),
        (e: unknown) => (e instanceof AwsConfigError || e instanceof UnsafePathError) && message.test(e.message),
      );
      assert.throws(() => updateAwsConfig(file, (text) => addAwsProfile(text, p)), message);
      assert.equal(fs.readFileSync(file, 'utf8'), original);
      assert.deepEqual(fs.readdirSync(dir), ['config'], 'no temp or lock file left behind');
      const fresh = path.join(dir, 'new', 'config');
      assert.throws(() => updateAwsConfig(fresh, (text) => addAwsProfile(text, p)), message);
      assert.equal(fs.existsSync(path.dirname(fresh)), false, 'not even its folder created');
    });
  }
});

/** Python's shlex.split (posix mode), which botocore uses for credential_process outside Windows. */
function shlexSplit(s: string): string[] {
  const out: string[] = [];
  let cur: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end === -1) throw new Error('No closing quotation');
      cur = (cur ?? '') + s.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      cur = cur ?? '';
      for (i++; ; i++) {
        if (i >= s.length) throw new Error('No closing quotation');
        const d = s[i]!;
        if (d === '"') break;
        if (d === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) cur += s[++i];
        else cur += d;
      }
    } else if (c === '\\') {
      cur = (cur ?? '') + (s[++i] ?? '');
    } else if (/\s/.test(c)) {
      if (cur !== null) out.push(cur);
      cur = null;
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== null) out.push(cur);
  return out;
}

describe('the credential_process command', () => {
  const macHelper = '/Users/alice/Library/Application Support/PIM Agent/creds/bin/pim-cred';

  test('a helper path with spaces splits back into [helper, "aws", name]', () => {
    const cmd = credentialProcessCommand(macHelper, 'pim-ml-admin', 'darwin');
    assert.equal(cmd, `"${macHelper}" aws pim-ml-admin`);
    assert.deepEqual(shlexSplit(cmd), [macHelper, 'aws', 'pim-ml-admin']);
  });

  test('botocore itself (compat_shell_split, POSIX and Windows rules) reads it back the same', (t) => {
    const winHelper = 'C:\\Users\\Alice Smith\\AppData\\Roaming\\PIM Agent\\creds\\bin\\pim-cred.cmd';
    const cases = [
      {
        platform: 'linux',
        cmd: credentialProcessCommand(macHelper, 'pim-x', 'linux'),
        want: [macHelper, 'aws', 'pim-x'],
      },
      {
        platform: 'win32',
        cmd: credentialProcessCommand(winHelper, 'pim-x', 'win32'),
        want: [winHelper, 'aws', 'pim-x'],
      },
    ];
    const script =
      'import json,sys\nfrom botocore.compat import compat_shell_split\nprint(json.dumps([compat_shell_split(c["cmd"], c["platform"]) for c in json.load(sys.stdin)]))\n';
    const r = findProgram('python3')
      ? spawnSync('python3', ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' })
      : null;
    if (!r || r.status !== 0)
      return void cannotRun(
        t,
        `botocore is not importable from python3 (it comes with the aws CLI's Python; see .ci/run): ${r?.stderr.trim().split('\n').pop() ?? 'no python3'}`,
      );
    assert.deepEqual(
      JSON.parse(r.stdout),
      cases.map((c) => c.want),
    );
  });

  for (const [what, helper] of [
    ['a relative path', 'bin/pim-cred'],
    ['a double quote', '/home/a"b/pim-cred'],
    ['a single quote', "/home/o'brien/pim-cred"],
    ['a backslash', '/home/a\\b/pim-cred'],
    ['a dollar sign', '/home/$USER/pim-cred'],
    ['a newline', '/home/a\nb/pim-cred'],
  ]) {
    test(`a helper path with ${what} is refused`, () => {
      assert.throws(() => credentialProcessCommand(helper!, 'pim-x', 'linux'), UnsafePathError);
    });
  }

  test('a Windows helper path with a quote is refused', () => {
    assert.throws(() => credentialProcessCommand('C:\\a"b\\pim-cred.cmd', 'pim-x', 'win32'), UnsafePathError);
  });

  test('the profile name is checked too', () => {
    assert.throws(() => credentialProcessCommand(HELPER, 'pim-x; rm -rf ~', 'linux'), UnsafePathError);
  });
});

describe('where the file is', () => {
  test('$AWS_CONFIG_FILE when set, with ~ and $VARS expanded like botocore', () => {
    assert.equal(awsConfigPath({ AWS_CONFIG_FILE: '/etc/aws/config' }, '/home/a'), '/etc/aws/config');
    assert.equal(
      awsConfigPath({ AWS_CONFIG_FILE: '~/work/aws-config' }, '/home/a'),
      path.join('/home/a', 'work/aws-config'),
    );
    assert.equal(
      awsConfigPath({ AWS_CONFIG_FILE: '$XDG_CONFIG_HOME/aws/config', XDG_CONFIG_HOME: '/home/a/.cfg' }, '/home/a'),
      '/home/a/.cfg/aws/config',
    );
  });

  test('~/.aws/config otherwise (an empty variable counts as unset)', () => {
    assert.equal(awsConfigPath({}, '/home/a'), path.join('/home/a', '.aws', 'config'));
    assert.equal(awsConfigPath({ AWS_CONFIG_FILE: '' }, '/home/a'), path.join('/home/a', '.aws', 'config'));
  });
});
