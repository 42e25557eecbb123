// The customer's policy file: loading (strict, JSON and YAML), every rule at admission and
// after facts, the sidesteps docs/policy.md lists, and OU paths read from the simulator.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { accountOuPath, admitAccess, admitIntegration, checkFacts, globMatch, type Verdict } from '../../src/access/policy.js';
import type { AccessRequest, PolicyFacts } from '../../src/access/types.js';
import { ConnectorError } from '../../src/errors.js';
import { loadPolicyFile, policySchema, type Policy } from '../../src/policy/schema.js';
import { integrationSchema, type AccessKind, type Integration } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { layerFor } from '../helpers/sync.js';

const MGMT = '111111111111';
const MGMT_ROLE = `arn:aws:iam::${MGMT}:role/AccessConnectorManagement`;
const EXTERNAL_ID = 'ext-Secret-4242';
const ADMIN_POLICY = 'arn:aws:iam::aws:policy/AdministratorAccess';
const READONLY_POLICY = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
const PS = (id: string) => `arn:aws:sso:::permissionSet/ssoins-7223aaaaaaaaaaaa/ps-${id}`;
const NOW = Date.parse('2026-03-01T12:00:00Z');

const policy = (p: Record<string, unknown>): Policy => policySchema.parse({ version: 1, ...p });
const integ = (over: Record<string, unknown> = {}): Integration =>
  integrationSchema.parse({ id: 'prod-org', name: 'prod', type: 'aws-organization', region: 'us-east-1', roleArn: MGMT_ROLE, externalId: EXTERNAL_ID, ...over });

function request(accessKind: AccessKind, principal: AccessRequest['principal'], target: Record<string, unknown>, expiresAt?: string): AccessRequest {
  return { grantId: 'g-1', accessKind, principal, target, ...(expiresAt !== undefined && { expiresAt }) };
}
const USER = { type: 'user' as const, id: '9067d2a4b1-1111-2222-3333-444455556666' };
const assignment = (accountId: string, ps = PS('readonly0001')) => request('sso.accountAssignment', USER, { accountId, permissionSetArn: ps });
const roleAssume = (roleArn: string) => request('iam.roleAssume', { type: 'user', id: 'arn:aws:iam::333333333301:user/alice' }, { roleArn });

function grant(p: Policy | undefined, req: AccessRequest, integration = integ()): Verdict {
  return admitAccess(p, { jobType: 'grant', integration, request: req, now: NOW });
}
function revoke(p: Policy | undefined, req: AccessRequest, integration = integ()): Verdict {
  return admitAccess(p, { jobType: 'revoke', integration, request: req, now: NOW });
}
const noOus = async (): Promise<string[]> => {
  throw new Error('no OU lookup expected');
};
const facts = (f: Partial<PolicyFacts>): PolicyFacts => ({ accountIds: [], ...f });
const refused = (rule: string) => expect.objectContaining({ ok: false, rule });
const OK = { ok: true };

describe('policy file: loading', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'policy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  test('the JSON and YAML forms of one policy load to the same value, with defaults filled', () => {
    const yaml = write('p.yaml', [
      'version: 1',
      'integrations:',
      '  - roleArns: ["arn:aws:iam::111111111111:role/AccessConnectorManagement"]',
      '    accounts: { deny: ["111111111111"] }',
      'permissionSets:',
      '  allow: [ReadOnly]',
      'deniedManagedPolicies: ["arn:*:iam::aws:policy/AdministratorAccess"]',
      'accessKinds:',
      '  disabled: [ec2.localUser]',
      '',
    ].join('\n'));
    const json = write('p.json', JSON.stringify({
      version: 1,
      integrations: [{ roleArns: ['arn:aws:iam::111111111111:role/AccessConnectorManagement'], accounts: { deny: ['111111111111'] } }],
      permissionSets: { allow: ['ReadOnly'] },
      deniedManagedPolicies: ['arn:*:iam::aws:policy/AdministratorAccess'],
      accessKinds: { disabled: ['ec2.localUser'] },
    }));
    const a = loadPolicyFile(yaml);
    expect(a).toEqual(loadPolicyFile(json));
    expect(a).toMatchObject({
      readOnly: false,
      integrations: [{ externalIdRequired: true, organizationalUnits: { deny: [] } }],
      accounts: { deny: [] },
      accessKinds: { disabled: ['ec2.localUser'], allowExternalIdentitySourceWrites: false },
    });
    expect(a.accounts.allow).toBeUndefined();
  });

  test('allowExternalIdentitySourceWrites defaults to false and can be turned on', () => {
    expect(policy({}).accessKinds.allowExternalIdentitySourceWrites).toBe(false);
    expect(policy({ accessKinds: { allowExternalIdentitySourceWrites: true } }).accessKinds).toEqual({ disabled: [], allowExternalIdentitySourceWrites: true });
  });

  test.each([
    ['top level', 'version: 1\nreadonly: true\n', /\(top level\): Unrecognized key.*readonly/],
    ['inside a list', 'version: 1\naccounts:\n  denny: ["111111111111"]\n', /accounts: Unrecognized key.*denny/],
    ['inside accessKinds', 'version: 1\naccessKinds:\n  disable: [ec2.localUser]\n', /accessKinds: Unrecognized key.*disable/],
    ['inside a pin', 'version: 1\nintegrations:\n  - roleArn: "arn:aws:iam::111111111111:role/X"\n', /integrations\.0: Unrecognized key.*roleArn/],
    ['an unknown access kind', 'version: 1\naccessKinds:\n  disabled: [iam.everything]\n', /accessKinds\.disabled\.0:/],
    ['a wrong version', 'version: 2\n', /version:/],
    ['an 11-digit account', 'version: 1\naccounts:\n  deny: ["33333333330"]\n', /accounts\.deny\.0: must be a 12-digit account id/],
    ['an account with letters', 'version: 1\naccounts:\n  deny: ["1111-1111-1111"]\n', /accounts\.deny\.0:/],
    ['an upper-case OU id', 'version: 1\norganizationalUnits:\n  deny: ["OU-AB12-PRODUCTS"]\n', /organizationalUnits\.deny\.0: must be an OU id/],
    ['a root id as an OU', 'version: 1\norganizationalUnits:\n  deny: ["r-ab12"]\n', /a root id is not an OU/],
    ['a root pattern as an OU', 'version: 1\norganizationalUnits:\n  deny: ["r-*"]\n', /a root id is not an OU/],
    ['a pattern with a space', 'version: 1\nroles:\n  deny: ["Admin Role"]\n', /roles\.deny\.0: must be printable ASCII/],
    ['an empty pattern', 'version: 1\nroles:\n  deny: [""]\n', /roles\.deny\.0:/],
    ['a zero duration', 'version: 1\nmaxDurationMinutes: 0\n', /maxDurationMinutes:/],
    ['an empty pin list', 'version: 1\nintegrations: []\n', /integrations:/],
  ])('%s is refused at load, naming the field', (_name, text, message) => {
    const f = write('bad.yaml', text);
    expect(() => loadPolicyFile(f)).toThrow(message);
  });

  test('every JSON and YAML example in docs/policy.md loads', () => {
    const doc = readFileSync(resolve(REPO_ROOT, 'docs/policy.md'), 'utf8');
    const blocks = [...doc.matchAll(/```(json|yaml)\n([\s\S]*?)```/g)];
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const [i, b] of blocks.entries()) {
      const f = write(`doc-${i}.${b[1]}`, b[2]!);
      expect(() => loadPolicyFile(f)).not.toThrow();
    }
  });
});

describe('policy: patterns', () => {
  test.each([
    ['3333*', '333333333301', true],
    ['3333*', '444433333333', false],
    ['*', '', true],
    ['arn:aws:iam::*:role/Admin', 'arn:aws:iam::333333333301:role/Admin', true],
    ['arn:aws:iam::*:role/Admin', 'arn:aws:iam::333333333301:role/Admin2', false],
    ['arn:aws:iam::*:role/Admin', 'arn:aws:iam::333333333301:role/ADMIN', true],
    ['*Admin*', 'arn:aws:iam::aws:policy/AdministratorAccess', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYcZ', false],
    ['ou-ab12-*', 'ou-ab12-11111111', true],
    // Regular-expression characters are plain characters.
    ['role/.*', 'role/Admin', false],
    ['role/(a|b)', 'role/(a|b)', true],
  ])('%s against %s: %s', (p, v, expected) => {
    expect(globMatch(p, v)).toBe(expected);
  });

  test('a pattern with many stars against a long value answers quickly', () => {
    const started = Date.now();
    expect(globMatch(`${'*a'.repeat(40)}*b`, 'a'.repeat(2048))).toBe(false);
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe('policy: pinned integrations', () => {
  const pinned = policy({
    integrations: [
      { id: 'prod-org', roleArns: [MGMT_ROLE], memberRoleNames: ['AccessConnectorMember'] },
      { id: 'sandbox-*', roleArns: ['arn:aws:iam::555555555501:role/AccessConnector*'], externalIdRequired: false, accounts: { allow: ['5555*'] } },
    ],
  });

  test('no policy, or no pins, admits every integration', () => {
    expect(admitIntegration(undefined, integ({ roleArn: 'arn:aws:iam::999999999999:role/Anything' }))).toEqual(OK);
    expect(admitIntegration(policy({ readOnly: true }), integ())).toEqual(OK);
  });

  test('an integration matching an entry is admitted', () => {
    expect(admitIntegration(pinned, integ())).toEqual(OK);
    expect(admitIntegration(pinned, integ({ id: 'sandbox-1', roleArn: 'arn:aws:iam::555555555501:role/AccessConnectorSandbox', externalId: undefined }))).toEqual(OK);
  });

  test('another management role is refused, naming the entry and field', () => {
    const v = admitIntegration(pinned, integ({ roleArn: `arn:aws:iam::${MGMT}:role/OrganizationAccountAccessRole` }));
    expect(v).toEqual(refused('integrations[0].roleArns'));
    expect(!v.ok && v.message).toContain('role/OrganizationAccountAccessRole');
  });

  test("the connector's own identity (no roleArn) does not match pinned roleArns", () => {
    expect(admitIntegration(pinned, integ({ roleArn: undefined }))).toEqual(refused('integrations[0].roleArns'));
  });

  test('another member role name is refused', () => {
    expect(admitIntegration(pinned, integ({ memberRoleName: 'OrganizationAccountAccessRole' }))).toEqual(refused('integrations[0].memberRoleNames'));
  });

  test('a missing externalId is refused when required, without echoing any externalId', () => {
    expect(admitIntegration(pinned, integ({ externalId: undefined }))).toEqual(refused('integrations[0].externalIdRequired'));
    const other = admitIntegration(pinned, integ({ roleArn: 'arn:aws:iam::111111111111:role/Other' }));
    expect(JSON.stringify(other)).not.toContain(EXTERNAL_ID);
  });

  test('an id no entry names is refused as a whole, listing why each entry failed', () => {
    const v = admitIntegration(pinned, integ({ id: 'staging' }));
    expect(v).toEqual(refused('integrations'));
    expect(!v.ok && v.message).toContain('[0] id, [1] id');
  });

  test('the pins apply to every job type through admitAccess, grant and revoke alike', () => {
    const bad = integ({ memberRoleName: 'OrganizationAccountAccessRole' });
    expect(grant(pinned, assignment('333333333301'), bad)).toEqual(refused('integrations[0].memberRoleNames'));
    expect(revoke(pinned, assignment('333333333301'), bad)).toEqual(refused('integrations[0].memberRoleNames'));
  });

  test("the matching entry's account scope applies to grants, not to revokes", () => {
    const sandbox = integ({ id: 'sandbox-1', roleArn: 'arn:aws:iam::555555555501:role/AccessConnector', externalId: undefined });
    expect(grant(pinned, assignment('555555555502'), sandbox)).toEqual(OK);
    expect(grant(pinned, assignment('333333333301'), sandbox)).toEqual(refused('integrations[1].accounts.allow'));
    expect(revoke(pinned, assignment('333333333301'), sandbox)).toEqual(OK);
  });

  test("the matching entry's scope applies to accounts reached through facts", async () => {
    const sandbox = integ({ id: 'sandbox-1', roleArn: 'arn:aws:iam::555555555501:role/AccessConnector', externalId: undefined });
    expect(await checkFacts(pinned, sandbox, facts({ accountIds: ['555555555501', '333333333301'] }), noOus)).toEqual(refused('integrations[1].accounts.allow'));
    expect(await checkFacts(pinned, integ({ roleArn: 'arn:aws:iam::222222222222:role/x' }), facts({}), noOus)).toEqual(refused('integrations[0].roleArns'));
  });
});

describe('policy: admission of grant and revoke jobs', () => {
  test('no policy admits everything', () => {
    expect(grant(undefined, assignment(MGMT))).toEqual(OK);
  });

  test('readOnly refuses grants and revokes, and says the sweeper still runs', () => {
    const p = policy({ readOnly: true });
    const g = grant(p, assignment('333333333301'));
    expect(g).toEqual(refused('readOnly'));
    expect(!g.ok && g.message).toMatch(/^grant of sso\.accountAssignment: .*removes expired grants/);
    expect(revoke(p, assignment('333333333301'))).toEqual(refused('readOnly'));
    // Sync and check jobs only go through the pins.
    expect(admitIntegration(p, integ())).toEqual(OK);
  });

  test('a disabled access kind is refused for grant and revoke; other kinds pass', () => {
    const p = policy({ accessKinds: { disabled: ['iam.roleAssume'] } });
    expect(grant(p, roleAssume('arn:aws:iam::333333333301:role/support'))).toEqual(refused('accessKinds.disabled'));
    expect(revoke(p, roleAssume('arn:aws:iam::333333333301:role/support'))).toEqual(refused('accessKinds.disabled'));
    expect(grant(p, assignment('333333333301'))).toEqual(OK);
  });

  describe('maxDurationMinutes', () => {
    const p = policy({ maxDurationMinutes: 60 });
    const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();
    const withExpiry = (e?: string) => ({ ...assignment('333333333301'), ...(e !== undefined && { expiresAt: e }) });

    test('a grant without expiresAt is refused', () => {
      expect(grant(p, withExpiry())).toEqual(refused('maxDurationMinutes'));
    });
    test('a grant up to the cap passes; one minute more is refused, naming both', () => {
      expect(grant(p, withExpiry(at(60)))).toEqual(OK);
      const v = grant(p, withExpiry(at(61)));
      expect(v).toEqual(refused('maxDurationMinutes'));
      expect(!v.ok && v.message).toMatch(/61 minutes from now; the policy allows at most 60/);
    });
    test('an unreadable expiresAt is refused', () => {
      expect(grant(p, withExpiry('next tuesday'))).toEqual(refused('maxDurationMinutes'));
    });
    test('a revoke needs no expiresAt', () => {
      expect(revoke(p, withExpiry())).toEqual(OK);
    });
  });

  describe('accounts', () => {
    test('a denied account is refused, naming the pattern that matched', () => {
      const v = grant(policy({ accounts: { deny: ['222222222222', '3333*'] } }), assignment('333333333304'));
      expect(v).toEqual(refused('accounts.deny[1]'));
      expect(!v.ok && v.message).toContain('account 333333333304 matches accounts.deny[1] "3333*"');
    });
    test('allowlist mode refuses an account not listed', () => {
      const p = policy({ accounts: { allow: ['5555*'] } });
      expect(grant(p, assignment('555555555501'))).toEqual(OK);
      expect(grant(p, assignment('444444444401'))).toEqual(refused('accounts.allow'));
    });
    test('deny wins over allow', () => {
      expect(grant(policy({ accounts: { allow: ['*'], deny: ['555555555503'] } }), assignment('555555555503'))).toEqual(refused('accounts.deny[0]'));
    });
    test("the account of an assumed role's ARN is checked", () => {
      expect(grant(policy({ accounts: { deny: [MGMT] } }), roleAssume(`arn:aws:iam::${MGMT}:role/support`))).toEqual(refused('accounts.deny[0]'));
    });
    test("the user's account is checked for IAM group membership and boundaries", () => {
      const p = policy({ accounts: { deny: ['333333333302'] } });
      const user = { type: 'user' as const, id: 'arn:aws:iam::333333333302:user/ci-bot' };
      expect(grant(p, request('iam.groupMembership', user, { groupName: 'Operators' }))).toEqual(refused('accounts.deny[0]'));
      expect(grant(p, request('iam.permissionsBoundary', user, { boundaryPolicyArn: 'arn:aws:iam::333333333302:policy/B' }))).toEqual(refused('accounts.deny[0]'));
    });
    test('revokes ignore scope rules', () => {
      expect(revoke(policy({ accounts: { allow: [] } }), assignment('333333333301'))).toEqual(OK);
    });
  });

  describe('roles', () => {
    const p = policy({ roles: { deny: ['Admin', 'arn:aws:iam::*:role/breakglass/*'] } });
    test('a role name pattern matches at any path and in any case', () => {
      expect(grant(p, roleAssume('arn:aws:iam::333333333301:role/ops/ADMIN'))).toEqual(refused('roles.deny[0]'));
    });
    test('an ARN pattern matches the ARN', () => {
      expect(grant(p, roleAssume('arn:aws:iam::333333333301:role/breakglass/root-access'))).toEqual(refused('roles.deny[1]'));
      expect(grant(p, roleAssume('arn:aws:iam::333333333301:role/support'))).toEqual(OK);
    });
    test('the role a boundary restricts and an SSM role principal are roles the access is on', () => {
      const role = { type: 'role' as const, id: 'arn:aws:iam::333333333301:role/Admin' };
      expect(grant(p, request('iam.permissionsBoundary', role, { boundaryPolicyArn: 'arn:aws:iam::333333333301:policy/B' }))).toEqual(refused('roles.deny[0]'));
      expect(grant(p, request('ec2.ssmSession', role, { accountId: '333333333301', region: 'us-east-1', instanceIds: ['i-0123456789abcdef0'] }))).toEqual(refused('roles.deny[0]'));
    });
    test('allowlist mode refuses a role not listed, on receipt', () => {
      const allow = policy({ roles: { allow: ['support-*'] } });
      expect(grant(allow, roleAssume('arn:aws:iam::333333333301:role/support-l1'))).toEqual(OK);
      expect(grant(allow, roleAssume('arn:aws:iam::333333333301:role/app-deployer'))).toEqual(refused('roles.allow'));
    });
  });

  describe('permission sets', () => {
    test('a denied ARN is refused on receipt', () => {
      expect(grant(policy({ permissionSets: { deny: [PS('admin00000001')] } }), assignment('333333333301', PS('admin00000001')))).toEqual(refused('permissionSets.deny[0]'));
    });
    test('an allowlist of names waits for the facts (the name is not in the request)', async () => {
      const p = policy({ permissionSets: { allow: ['ReadOnly'] } });
      expect(grant(p, assignment('333333333301', PS('admin00000001')))).toEqual(OK);
      const f = facts({ accountIds: ['333333333301'], permissionSets: [{ arn: PS('admin00000001'), name: 'AdministratorAccess', managedPolicies: [ADMIN_POLICY] }] });
      expect(await checkFacts(p, integ(), f, noOus)).toEqual(refused('permissionSets.allow'));
      expect(await checkFacts(p, integ(), facts({ accountIds: ['333333333301'], permissionSets: [{ arn: PS('readonly0001'), name: 'ReadOnly', managedPolicies: [READONLY_POLICY] }] }), noOus)).toEqual(OK);
    });
  });

  describe('groups', () => {
    test('an IAM group name is checked on receipt, as iam:<name> or bare', () => {
      const user = { type: 'user' as const, id: 'arn:aws:iam::333333333301:user/alice' };
      expect(grant(policy({ groups: { deny: ['Operators'] } }), request('iam.groupMembership', user, { groupName: 'Operators' }))).toEqual(refused('groups.deny[0]'));
      expect(grant(policy({ groups: { deny: ['iam:Oper*'] } }), request('iam.groupMembership', user, { groupName: 'Operators' }))).toEqual(refused('groups.deny[0]'));
      expect(grant(policy({ groups: { deny: ['sso:Operators'] } }), request('iam.groupMembership', user, { groupName: 'Operators' }))).toEqual(OK);
    });
    test('an Identity Store group id is checked on receipt; its name after the facts', async () => {
      const groupId = '90670000aa-1111-2222-3333-444455556666';
      expect(grant(policy({ groups: { deny: [groupId] } }), request('sso.groupMembership', USER, { groupId }))).toEqual(refused('groups.deny[0]'));
      const p = policy({ groups: { deny: ['Admins'] } });
      expect(grant(p, request('sso.groupMembership', USER, { groupId }))).toEqual(OK);
      expect(await checkFacts(p, integ(), facts({ groups: [{ id: groupId, name: 'sso:Admins' }] }), noOus)).toEqual(refused('groups.deny[0]'));
    });
  });

  test('boundaries: a denied boundary is refused on receipt, by ARN or name', () => {
    const role = { type: 'role' as const, id: 'arn:aws:iam::333333333301:role/app-deployer' };
    const p = policy({ boundaries: { deny: ['AllowEverything', 'arn:aws:iam::aws:policy/*'] } });
    expect(grant(p, request('iam.permissionsBoundary', role, { boundaryPolicyArn: 'arn:aws:iam::333333333301:policy/AllowEverything' }))).toEqual(refused('boundaries.deny[0]'));
    expect(grant(p, request('iam.permissionsBoundary', role, { boundaryPolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' }))).toEqual(refused('boundaries.deny[1]'));
    expect(grant(p, request('iam.permissionsBoundary', role, { boundaryPolicyArn: 'arn:aws:iam::333333333301:policy/AccessConnectorBoundary' }))).toEqual(OK);
  });

  test('rules apply in the documented order: readOnly, pins, disabled kinds, duration, scope', () => {
    const p = policy({
      readOnly: true,
      integrations: [{ roleArns: [MGMT_ROLE] }],
      accessKinds: { disabled: ['sso.accountAssignment'] },
      maxDurationMinutes: 10,
      accounts: { deny: ['*'] },
    });
    const bad = integ({ roleArn: 'arn:aws:iam::111111111111:role/Other' });
    const req = assignment('333333333301');
    expect(grant(p, req, bad)).toEqual(refused('readOnly'));
    expect(grant({ ...p, readOnly: false }, req, bad)).toEqual(refused('integrations[0].roleArns'));
    expect(grant({ ...p, readOnly: false }, req)).toEqual(refused('accessKinds.disabled'));
    expect(grant({ ...p, readOnly: false, accessKinds: { disabled: [], allowExternalIdentitySourceWrites: false } }, req)).toEqual(refused('maxDurationMinutes'));
    expect(grant({ ...p, readOnly: false, accessKinds: { disabled: [], allowExternalIdentitySourceWrites: false }, maxDurationMinutes: undefined }, req)).toEqual(refused('accounts.deny[0]'));
  });

  describe('hostile values', () => {
    const p = policy({ roles: { allow: ['arn:aws:iam::333333333301:role/Dev*'] }, accounts: { deny: [MGMT] } });

    test('a path-traversal role ARN passes a path pattern on receipt, and the ARN AWS returns is checked after', async () => {
      // IAM finds roles by name: role/Dev/../Admin names the role Admin.
      expect(grant(p, roleAssume('arn:aws:iam::333333333301:role/Dev/../Admin'))).toEqual(OK);
      expect(await checkFacts(p, integ(), facts({ accountIds: ['333333333301'], roles: ['arn:aws:iam::333333333301:role/Admin'] }), noOus)).toEqual(refused('roles.allow'));
    });

    test('policy-document and shell characters are plain characters, and messages stay bounded and printable', () => {
      const nasty = `arn:aws:iam::333333333301:role/x"}]},{"Effect":"Allow";$(rm -rf /)\`id\`\u0000\u001b[2J${'A'.repeat(5000)}`;
      const v = grant(p, roleAssume(nasty));
      expect(v).toEqual(refused('roles.allow'));
      const msg = !v.ok ? v.message : '';
      expect(msg.length).toBeLessThan(600);
      expect(msg).not.toMatch(/[\u0000-\u001f]/);
    });

    test('a wildcard in a requested value is a literal character, not a pattern', () => {
      expect(grant(policy({ accounts: { allow: ['333333333301'] } }), assignment('3333333333*'))).toEqual(refused('accounts.allow'));
    });
  });
});

describe('policy: facts', () => {
  test('a revoke-safe no-op: no policy, no rules, anything passes', async () => {
    expect(await checkFacts(undefined, integ(), facts({ accountIds: [MGMT] }), noOus)).toEqual(OK);
    expect(await checkFacts(policy({}), integ(), facts({ accountIds: [MGMT], managedPolicies: [ADMIN_POLICY] }), noOus)).toEqual(OK);
  });

  test('OU paths are read only when an OU rule exists', async () => {
    const asked: string[] = [];
    const ous = async (a: string) => {
      asked.push(a);
      return ['ou-ab12-devel0pm'];
    };
    await checkFacts(policy({ accounts: { deny: [MGMT] } }), integ(), facts({ accountIds: ['444444444401'] }), ous);
    expect(asked).toEqual([]);
    await checkFacts(policy({ organizationalUnits: { deny: ['ou-ab12-pr0ducts'] } }), integ(), facts({ accountIds: ['444444444401', '444444444402', '444444444401'] }), ous);
    expect(asked).toEqual(['444444444401', '444444444402']);
  });

  test('OU deny: any ancestor that matches refuses the account', async () => {
    const p = policy({ organizationalUnits: { deny: ['ou-ab12-devel0pm'] } });
    const path = async () => ['ou-ab12-devel0pm', 'ou-ab12-5andb0x1'];
    const v = await checkFacts(p, integ(), facts({ accountIds: ['555555555501'] }), path);
    expect(v).toEqual(refused('organizationalUnits.deny[0]'));
    expect(!v.ok && v.message).toContain('ou-ab12-devel0pm / ou-ab12-5andb0x1');
  });

  test('OU allow: one matching ancestor is enough; none, or no OU at all, is refused', async () => {
    const p = policy({ organizationalUnits: { allow: ['ou-ab12-devel0pm'] } });
    expect(await checkFacts(p, integ(), facts({ accountIds: ['555555555501'] }), async () => ['ou-ab12-devel0pm', 'ou-ab12-5andb0x1'])).toEqual(OK);
    expect(await checkFacts(p, integ(), facts({ accountIds: ['333333333301'] }), async () => ['ou-ab12-pr0ducts'])).toEqual(refused('organizationalUnits.allow'));
    const v = await checkFacts(p, integ(), facts({ accountIds: [MGMT] }), async () => []);
    expect(v).toEqual(refused('organizationalUnits.allow'));
    expect(!v.ok && v.message).toContain('directly under the root');
  });

  test("the pin's OU scope applies, named with the entry", async () => {
    const p = policy({ integrations: [{ roleArns: [MGMT_ROLE], organizationalUnits: { deny: ['ou-ab12-*'] } }] });
    expect(await checkFacts(p, integ(), facts({ accountIds: ['333333333301'] }), async () => ['ou-ab12-pr0ducts'])).toEqual(refused('integrations[0].organizationalUnits.deny[0]'));
  });

  test('an OU lookup that fails fails the check (fail closed)', async () => {
    const p = policy({ organizationalUnits: { deny: ['ou-ab12-pr0ducts'] } });
    await expect(checkFacts(p, integ(), facts({ accountIds: ['333333333301'] }), async () => {
      throw new ConnectorError('AWS_ACCESS_DENIED', 'organizations.ListParents: access denied');
    })).rejects.toMatchObject({ code: 'AWS_ACCESS_DENIED' });
  });

  test('roles and boundaries from facts are checked by ARN and name', async () => {
    expect(await checkFacts(policy({ roles: { deny: ['breakglass'] } }), integ(), facts({ roles: ['arn:aws:iam::333333333301:role/emergency/BreakGlass'] }), noOus)).toEqual(refused('roles.deny[0]'));
    expect(await checkFacts(policy({ boundaries: { allow: ['AccessConnectorBoundary'] } }), integ(), facts({ boundaries: ['arn:aws:iam::333333333301:policy/Other'] }), noOus)).toEqual(refused('boundaries.allow'));
  });

  test('deniedManagedPolicies matches ARNs or names, and names the permission set that carries it', async () => {
    const f = facts({ accountIds: ['333333333301'], permissionSets: [{ arn: PS('helpdesk0001'), name: 'Helpdesk', managedPolicies: [READONLY_POLICY, ADMIN_POLICY] }] });
    const v = await checkFacts(policy({ deniedManagedPolicies: ['IAMFullAccess', 'AdministratorAccess'] }), integ(), f, noOus);
    expect(v).toEqual(refused('deniedManagedPolicies[1]'));
    expect(!v.ok && v.message).toContain('through permission set Helpdesk');
  });
});

// Each case: the deny list the customer wrote is sidestepped, with facts as a kind reports
// them, and the rule docs/policy.md recommends closes it.
describe('policy: deny-list sidesteps and what closes them', () => {
  test('a permission set with another name carrying AdministratorAccess', async () => {
    const req = assignment('333333333301', PS('helpdesk0001'));
    const f = facts({ accountIds: ['333333333301'], permissionSets: [{ arn: PS('helpdesk0001'), name: 'Helpdesk', managedPolicies: [ADMIN_POLICY] }], managedPolicies: [ADMIN_POLICY] });
    const naive = policy({ permissionSets: { deny: ['AdministratorAccess'] } });
    expect(grant(naive, req)).toEqual(OK);
    expect(await checkFacts(naive, integ(), f, noOus)).toEqual(OK);
    expect(await checkFacts(policy({ permissionSets: { deny: ['AdministratorAccess'] }, deniedManagedPolicies: ['arn:*:iam::aws:policy/AdministratorAccess'] }), integ(), f, noOus)).toEqual(refused('deniedManagedPolicies[0]'));
    expect(await checkFacts(policy({ permissionSets: { allow: ['ReadOnly', 'Developer'] } }), integ(), f, noOus)).toEqual(refused('permissionSets.allow'));
  });

  test('membership in an Identity Center group that is assigned admin', async () => {
    const groupId = '90670000aa-aaaa-bbbb-cccc-444455556666';
    const req = request('sso.groupMembership', USER, { groupId });
    // What the kind reports: the group, and everything it is assigned.
    const f = facts({
      accountIds: ['333333333301', '333333333302'],
      groups: [{ id: groupId, name: 'sso:Helpdesk' }],
      permissionSets: [{ arn: PS('admin00000001'), name: 'AdministratorAccess', managedPolicies: [ADMIN_POLICY] }],
      managedPolicies: [ADMIN_POLICY],
    });
    const p = policy({ permissionSets: { deny: ['AdministratorAccess'] } });
    expect(grant(p, req)).toEqual(OK);
    expect(await checkFacts(p, integ(), f, noOus)).toEqual(refused('permissionSets.deny[0]'));
    expect(await checkFacts(policy({ groups: { allow: ['sso:Developers'] } }), integ(), f, noOus)).toEqual(refused('groups.allow'));
  });

  test('membership in an IAM group with AdministratorAccess attached', async () => {
    const user = { type: 'user' as const, id: 'arn:aws:iam::333333333301:user/alice' };
    const req = request('iam.groupMembership', user, { groupName: 'Operators' });
    const f = facts({ accountIds: ['333333333301'], groups: [{ id: 'arn:aws:iam::333333333301:group/Operators', name: 'iam:Operators' }], managedPolicies: [ADMIN_POLICY] });
    const naive = policy({ groups: { deny: ['Admins'] } });
    expect(grant(naive, req)).toEqual(OK);
    expect(await checkFacts(naive, integ(), f, noOus)).toEqual(OK);
    expect(await checkFacts(policy({ deniedManagedPolicies: ['AdministratorAccess'] }), integ(), f, noOus)).toEqual(refused('deniedManagedPolicies[0]'));
  });

  test('assuming a role that has admin under another name', async () => {
    const role = 'arn:aws:iam::333333333301:role/platform-breakglass';
    const f = facts({ accountIds: ['333333333301'], roles: [role], managedPolicies: [ADMIN_POLICY] });
    const naive = policy({ roles: { deny: ['AdministratorAccess', 'OrganizationAccountAccessRole'] } });
    expect(grant(naive, roleAssume(role))).toEqual(OK);
    expect(await checkFacts(naive, integ(), f, noOus)).toEqual(OK);
    expect(await checkFacts(policy({ deniedManagedPolicies: ['arn:*:iam::aws:policy/AdministratorAccess'] }), integ(), f, noOus)).toEqual(refused('deniedManagedPolicies[0]'));
    expect(grant(policy({ roles: { allow: ['support-*'] } }), roleAssume(role))).toEqual(refused('roles.allow'));
  });

  test('a permissive boundary under another name', () => {
    const role = { type: 'role' as const, id: 'arn:aws:iam::333333333301:role/app-deployer' };
    const req = request('iam.permissionsBoundary', role, { boundaryPolicyArn: 'arn:aws:iam::333333333301:policy/AllowEverything' });
    expect(grant(policy({ boundaries: { deny: ['AdministratorAccess'] } }), req)).toEqual(OK);
    expect(grant(policy({ boundaries: { allow: ['arn:aws:iam::*:policy/AccessConnectorBoundary'] } }), req)).toEqual(refused('boundaries.allow'));
  });

  test('the management account, even when the control plane sets allowManagementAccount', async () => {
    const p = policy({ accounts: { deny: [MGMT] } });
    const flipped = integ({ allowManagementAccount: true });
    expect(grant(p, assignment(MGMT), flipped)).toEqual(refused('accounts.deny[0]'));
    // Reached through a group assigned in the management account.
    expect(await checkFacts(p, flipped, facts({ accountIds: ['333333333301', MGMT], groups: [{ id: 'g', name: 'sso:Admins' }] }), noOus)).toEqual(refused('accounts.deny[0]'));
  });

  test('another member role name or management role, closed by pins for every job type', () => {
    const p = policy({ integrations: [{ roleArns: [MGMT_ROLE], memberRoleNames: ['AccessConnectorMember'] }], roles: { deny: ['OrganizationAccountAccessRole'] } });
    const viaOaar = integ({ memberRoleName: 'OrganizationAccountAccessRole' });
    expect(admitIntegration(policy({ roles: { deny: ['OrganizationAccountAccessRole'] } }), viaOaar)).toEqual(OK);
    expect(admitIntegration(p, viaOaar)).toEqual(refused('integrations[0].memberRoleNames'));
    expect(admitIntegration(p, integ({ roleArn: `arn:aws:iam::${MGMT}:role/Admin` }))).toEqual(refused('integrations[0].roleArns'));
    expect(admitIntegration(p, integ({ externalId: undefined }))).toEqual(refused('integrations[0].externalIdRequired'));
  });

  test('a permission set whose power is in an inline policy', async () => {
    // The kind reports no managed policy: the power is inline.
    const f = facts({ accountIds: ['333333333301'], permissionSets: [{ arn: PS('helpdesk0001'), name: 'Helpdesk', managedPolicies: [] }] });
    expect(await checkFacts(policy({ deniedManagedPolicies: ['*AdministratorAccess', '*IAMFullAccess'] }), integ(), f, noOus)).toEqual(OK);
    expect(await checkFacts(policy({ permissionSets: { allow: ['ReadOnly'] } }), integ(), f, noOus)).toEqual(refused('permissionSets.allow'));
  });
});

describe('policy: OU paths from Organizations (simulator, demo world)', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let ouId: (name: string) => string;
  // Answered calls: an attempt the simulator throttled is retried by the SDK and counted twice.
  const listParentsCalls = () => {
    const c = sim.stats.snapshot().byOperation['organizations:ListParents'];
    return c ? c.calls - c.throttled : 0;
  };

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo' });
    restore = useAwsEnv(sim.env);
    ouId = (name) => [...sim.world.ous.values()].find((o) => o.name === name)!.id;
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('the path runs from below the root down to the parent; the root is not in it', async () => {
    const { session } = layerFor(sim);
    expect(await accountOuPath(session, '555555555501')).toEqual([ouId('Development'), ouId('Sandbox')]);
    expect(await accountOuPath(session, '333333333301')).toEqual([ouId('Production')]);
    expect(await accountOuPath(session, MGMT)).toEqual([]);
  });

  test('each parent is asked once per session: one chain per account, shared by siblings, and by concurrent callers', async () => {
    const { session } = layerFor(sim);
    sim.stats.reset();
    const [a, b] = await Promise.all([accountOuPath(session, '555555555502'), accountOuPath(session, '555555555502')]);
    expect(a).toEqual(b);
    expect(listParentsCalls()).toBe(3); // account → Sandbox → Development → root
    await accountOuPath(session, '555555555502');
    expect(listParentsCalls()).toBe(3);
    await accountOuPath(session, '555555555503'); // sibling: only its own parent is new
    expect(listParentsCalls()).toBe(4);
    // A new session (a new job) asks again.
    await accountOuPath(layerFor(sim).session, '555555555502');
    expect(listParentsCalls()).toBe(7);
  });

  test('an account outside the organization is AWS_NOT_FOUND; a malformed id is refused before any call', async () => {
    const { session } = layerFor(sim);
    await expect(accountOuPath(session, '999999999999')).rejects.toMatchObject({ code: 'AWS_NOT_FOUND' });
    sim.stats.reset();
    for (const bad of ['../../etc', '33333333330', '333333333301"}]', '$(id)']) {
      await expect(accountOuPath(session, bad)).rejects.toMatchObject({ code: 'JOB_PARAMS_INVALID' });
    }
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });

  test('a failed lookup is not cached: the next call asks again', async () => {
    const { session } = layerFor(sim);
    const role = { accountId: MGMT, roleName: sim.world.connector.managementRoleName };
    const perms = sim.admin.getRole(role)!['permissions'] as { allow: string[] };
    sim.admin.setRolePermissions({ ...role, allow: perms.allow, deny: ['organizations:ListParents'] });
    try {
      await expect(accountOuPath(session, '444444444401')).rejects.toMatchObject({ code: 'AWS_ACCESS_DENIED' });
    } finally {
      sim.admin.setRolePermissions({ ...role, allow: perms.allow });
    }
    expect(await accountOuPath(session, '444444444401')).toEqual([ouId('Development')]);
  });

  test('OU rules against real paths: deny by an ancestor, and a new account joining a denied OU', async () => {
    const p = policy({ accounts: { deny: ['333333333301', '333333333302', '333333333303'] }, organizationalUnits: { deny: [ouId('Production')] } });
    const layer = layerFor(sim);
    const ous = (a: string) => accountOuPath(layer.session, a);
    expect(await checkFacts(p, layer.integration, facts({ accountIds: ['444444444405'] }), ous)).toEqual(OK);
    expect(await checkFacts(p, layer.integration, facts({ accountIds: ['333333333306'] }), ous)).toEqual(refused('organizationalUnits.deny[0]'));
    // 444444444405 moves into Production; the account list never heard of it, the OU rule does.
    const acct = sim.world.accounts.get('444444444405')!;
    const before = acct.parentId;
    acct.parentId = ouId('Production');
    try {
      const next = layerFor(sim);
      const v = await checkFacts(p, next.integration, facts({ accountIds: ['444444444405'] }), (a) => accountOuPath(next.session, a));
      expect(v).toEqual(refused('organizationalUnits.deny[0]'));
    } finally {
      acct.parentId = before;
    }
    // Deeper ancestors count: Development covers Sandbox's accounts.
    const dev = policy({ organizationalUnits: { deny: [ouId('Development')] } });
    expect(await checkFacts(dev, layer.integration, facts({ accountIds: ['555555555504'] }), ous)).toEqual(refused('organizationalUnits.deny[0]'));
    const allowSandbox = policy({ organizationalUnits: { allow: [ouId('Sandbox')] } });
    expect(await checkFacts(allowSandbox, layer.integration, facts({ accountIds: ['555555555504'] }), ous)).toEqual(OK);
    expect(await checkFacts(allowSandbox, layer.integration, facts({ accountIds: ['444444444401'] }), ous)).toEqual(refused('organizationalUnits.allow'));
  });
});
