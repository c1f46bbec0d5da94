import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPolicyErrors, parsePolicyYaml, type PolicyError } from '../../shared/policy/parse-yaml';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'policy.yaml');

/** A valid one-role policy; `activation` lines are spliced in so tests can break one field. */
function policy(activation = 'maxDuration: 2h', extra = ''): string {
  return [
    'roles:',
    '  - name: ai-cluster-admin',
    '    eligible: { groups: [ml-platform] }',
    '    activation:',
    ...activation.split('\n').map((l) => `      ${l}`),
    extra,
  ].join('\n');
}

function errorsOf(text: string, opts?: { maxBytes?: number }): PolicyError[] {
  const r = parsePolicyYaml(text, opts);
  assert.equal(r.ok, false, 'expected the policy to be rejected');
  return r.ok ? [] : r.errors;
}

function only(errors: PolicyError[], path: string): PolicyError {
  const found = errors.filter((e) => e.path === path);
  assert.equal(found.length, 1, `one error at ${path}; got ${JSON.stringify(errors)}`);
  return found[0]!;
}

test('the example policy parses', () => {
  const r = parsePolicyYaml(readFileSync(EXAMPLE, 'utf8'));
  assert.ok(r.ok, r.ok ? '' : formatPolicyErrors(r.errors, 'examples/policy.yaml'));
  assert.ok(r.policy.roles.length >= 5);
  assert.ok(r.policy.roles.some((x) => x.name === 'ai-cluster-admin'));
});

test('a minimal policy parses and gets its defaults', () => {
  const r = parsePolicyYaml(policy());
  assert.ok(r.ok);
  const a = r.policy.roles[0]!.activation;
  assert.equal(a.maxDuration, 7200);
  assert.equal(a.defaultDuration, 3600);
  assert.equal(a.mfa.userVerification, 'required');
  assert.equal(a.justification, 'required');
  assert.deepEqual(a.windows, []);
  assert.equal(r.policy.roles[0]!.description, '');
});

test('malformed YAML is reported with its line and column', () => {
  const errors = errorsOf('roles:\n  - name: a\n    eligible: groups: [x]\n');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.line, 3);
  assert.equal(errors[0]!.column, 15);
  assert.match(errors[0]!.message, /^YAML: Nested mappings are not allowed/);
  assert.equal(errors[0]!.path, 'roles[0].eligible.groups');
});

test('an unclosed flow mapping is reported where the parser gives up', () => {
  const errors = errorsOf('roles:\n  - name: a\n    eligible: { groups: [x]\n    activation: { maxDuration: 2h }\n');
  assert.equal(errors[0]!.line, 4);
  assert.match(errors[0]!.message, /end with a \}/);
});

test('an unclosed quote is a YAML error, not a crash', () => {
  const errors = errorsOf('roles:\n  - name: "a\n');
  assert.match(errors[0]!.message, /^YAML: Missing closing "quote/);
});

test('an unknown field is named with its path, its line and a suggestion', () => {
  const errors = errorsOf(policy('maxDuration: 2h\nmaxDuraton: 3h'));
  const e = only(errors, 'roles[0].activation.maxDuraton');
  assert.equal(e.line, 6);
  assert.equal(e.column, 7);
  assert.match(e.message, /unknown field "maxDuraton" \(did you mean maxDuration\?\)/);
});

test('an unknown top-level field is an error', () => {
  const errors = errorsOf(policy() + '\nversion: 2\n');
  assert.match(only(errors, 'version').message, /unknown field "version"/);
});

test('a missing required field points at its parent key', () => {
  const errors = errorsOf(policy('justification: optional'));
  const e = only(errors, 'roles[0].activation.maxDuration');
  assert.equal(e.line, 4, 'the `activation:` line');
  assert.match(e.message, /required/);
});

test('duplicate role names are refused at the second definition', () => {
  const text =
    policy() + '\n  - name: ai-cluster-admin\n    eligible: { groups: [x] }\n    activation: { maxDuration: 1h }\n';
  const e = only(errorsOf(text), 'roles[1].name');
  assert.equal(e.line, 7);
  assert.match(e.message, /duplicate role name "ai-cluster-admin" \(first defined at roles\[0\]\)/);
});

test('duplicate user e-mails are refused regardless of case', () => {
  const text = policy() + '\nusers:\n  - { email: alice@acme.example }\n  - { email: Alice@ACME.example }\n';
  const e = only(errorsOf(text), 'users[1].email');
  assert.equal(e.line, 9);
  assert.match(e.message, /duplicate user "alice@acme.example"/);
});

test('a bad duration names the field, the line and the accepted forms', () => {
  const e = only(errorsOf(policy('maxDuration: 2x')), 'roles[0].activation.maxDuration');
  assert.equal(e.line, 5);
  assert.equal(e.column, 20);
  assert.equal(e.message, '"2x" is not a duration (use 30m, 2h, 1d)');
  assert.equal(
    formatPolicyErrors([e]),
    'policy.yaml:5:20 roles[0].activation.maxDuration: "2x" is not a duration (use 30m, 2h, 1d)',
  );
});

test('a bare number is not a duration', () => {
  assert.match(
    only(errorsOf(policy('maxDuration: 3600')), 'roles[0].activation.maxDuration').message,
    /3600 is not a duration/,
  );
});

test('a default duration longer than the maximum is refused', () => {
  const e = only(errorsOf(policy('maxDuration: 1h\ndefaultDuration: 2h')), 'roles[0].activation.defaultDuration');
  assert.equal(e.line, 6);
  assert.match(e.message, /longer than maxDuration/);
});

test('a ticket pattern that does not compile as a unicode regex is refused', () => {
  const e = only(
    errorsOf(policy("maxDuration: 2h\nticket: { required: true, pattern: '^INC-[0-9+$' }")),
    'roles[0].activation.ticket.pattern',
  );
  assert.equal(e.line, 6);
  assert.match(e.message, /not a valid regular expression/);
  // \q is valid without the u flag and invalid with it: the engine uses u, so the schema must too.
  assert.doesNotThrow(() => new RegExp('\\q'));
  assert.equal(
    only(
      errorsOf(policy("maxDuration: 2h\nticket: { required: true, pattern: '\\q' }")),
      'roles[0].activation.ticket.pattern',
    ).line,
    6,
  );
});

test('an unknown time zone is refused', () => {
  const text = policy("maxDuration: 2h\nwindows: [{ days: [mon], from: '08:00', to: '18:00', tz: Europe/Atlantis }]");
  const e = only(errorsOf(text), 'roles[0].activation.windows[0].tz');
  assert.equal(e.line, 6);
  assert.match(e.message, /"Europe\/Atlantis" is not an IANA time zone/);
});

test('bad window days and times are refused', () => {
  const text = policy("maxDuration: 2h\nwindows: [{ days: [mon, funday], from: '8:00', to: '24:00', tz: UTC }]");
  const errors = errorsOf(text);
  assert.match(only(errors, 'roles[0].activation.windows[0].days[1]').message, /"funday" is not a day/);
  assert.match(only(errors, 'roles[0].activation.windows[0].from').message, /not a time of day/);
  assert.match(only(errors, 'roles[0].activation.windows[0].to').message, /not a time of day/);
});

test('role names that would break kubeconfig, INI or ssh names are refused', () => {
  for (const bad of ['Admin', 'ai admin', '-admin', 'a_b', 'a'.repeat(64)]) {
    const text = `roles:\n  - name: '${bad}'\n    eligible: { groups: [x] }\n    activation: { maxDuration: 1h }\n`;
    assert.equal(only(errorsOf(text), 'roles[0].name').line, 2, bad);
  }
});

test('a grant for an undefined cluster is refused', () => {
  const text = policy('maxDuration: 2h', '    grants:\n      kubernetes: [{ cluster: gpu-train, groups: [admins] }]');
  const e = only(errorsOf(text), 'roles[0].grants.kubernetes[0].cluster');
  assert.equal(e.line, 7);
  assert.match(e.message, /unknown cluster "gpu-train"/);
});

test('an approval count above the number of named approvers is refused', () => {
  const text = policy('maxDuration: 2h\napproval: { approvers: { users: [bob@acme.example] }, count: 2 }');
  assert.match(only(errorsOf(text), 'roles[0].activation.approval.count').message, /needs 2 approvals but only 1/);
});

test('a role that nobody is eligible for is refused', () => {
  const text = 'roles:\n  - name: a\n    eligible: {}\n    activation: { maxDuration: 1h }\n';
  assert.match(only(errorsOf(text), 'roles[0].eligible').message, /at least one group or user/);
});

test('dates are read as the end of that UTC day, instants need a zone, impossible dates are refused', () => {
  const ok = parsePolicyYaml(
    'roles:\n  - name: a\n    eligible: { groups: [x], until: 2027-06-30 }\n    activation: { maxDuration: 1h }\n',
  );
  assert.ok(ok.ok);
  assert.equal(ok.policy.roles[0]!.eligible.until, '2027-06-30T23:59:59.999Z');
  const inst = parsePolicyYaml(
    "roles:\n  - name: a\n    eligible: { groups: [x], until: '2027-06-30T18:00:00+02:00' }\n    activation: { maxDuration: 1h }\n",
  );
  assert.ok(inst.ok);
  assert.equal(inst.policy.roles[0]!.eligible.until, '2027-06-30T16:00:00.000Z');
  for (const bad of ['2027-02-30', '2027-06-30T18:00:00', 'next year']) {
    const text = `roles:\n  - name: a\n    eligible: { groups: [x], until: '${bad}' }\n    activation: { maxDuration: 1h }\n`;
    assert.match(only(errorsOf(text), 'roles[0].eligible.until').message, /is not a date/, bad);
  }
});

test('e-mail addresses are lower-cased and invalid ones refused', () => {
  const ok = parsePolicyYaml(policy() + '\nusers:\n  - { email: Alice@Acme.Example, groups: [g] }\n');
  assert.ok(ok.ok);
  assert.equal(ok.policy.users[0]!.email, 'alice@acme.example');
  assert.match(
    only(errorsOf(policy() + '\nusers:\n  - { email: alice }\n'), 'users[0].email').message,
    /not an e-mail address/,
  );
});

test('input larger than maxBytes is refused before parsing', () => {
  const errors = errorsOf(policy(), { maxBytes: 16 });
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /larger than 16 bytes/);
  // Bytes, not characters: 10 euro signs are 30 bytes.
  assert.match(errorsOf('# ' + '€'.repeat(10), { maxBytes: 20 })[0]!.message, /larger than 20 bytes/);
});

test('duplicate keys are refused with their line', () => {
  const e = errorsOf(policy('maxDuration: 2h\nmaxDuration: 3h'))[0]!;
  assert.equal(e.line, 6);
  assert.equal(e.path, 'roles[0].activation.maxDuration');
  assert.match(e.message, /duplicate key "maxDuration"/);
});

test('a document that is not a mapping is refused', () => {
  for (const text of ['- roles\n', 'just text\n', '42\n']) {
    const errors = errorsOf(text);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /must be a mapping/);
    assert.equal(errors[0]!.line, 1);
  }
  assert.match(errorsOf('')[0]!.message, /empty/);
  assert.match(errorsOf('# only a comment\n')[0]!.message, /empty/);
});

test('an alias bomb is refused instead of expanded', () => {
  const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (const [name, prev] of [
    ['b', 'a'],
    ['c', 'b'],
    ['d', 'c'],
    ['e', 'd'],
  ] as const) {
    lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
  }
  const errors = errorsOf(lines.join('\n') + '\nroles: []\n');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /too many alias expansions/);
});

test('YAML 1.1 booleans are not applied: "no" stays a string', () => {
  // With the core schema `required: no` is the string "no", which must be refused rather than
  // silently read as false.
  const e = only(errorsOf(policy('maxDuration: 2h\nticket: { required: no }')), 'roles[0].activation.ticket.required');
  assert.match(e.message, /true or false/);
});

test('errors are sorted by line and formatted one per line', () => {
  const errors = errorsOf(policy('maxDuration: 2x\ndefaultDuration: soon\njustification: maybe'));
  const lines = errors.map((e) => e.line ?? 0);
  assert.deepEqual(
    lines,
    [...lines].sort((a, b) => a - b),
  );
  const text = formatPolicyErrors(errors, 'p.yaml');
  assert.equal(text.split('\n').length, errors.length);
  assert.match(text, /^p\.yaml:5:20 roles\[0\]\.activation\.maxDuration: /);
  assert.match(text, /p\.yaml:7:22 roles\[0\]\.activation\.justification: "maybe" is not one of required, optional/);
});
