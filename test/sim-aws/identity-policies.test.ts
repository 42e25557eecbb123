// The simulator's evaluation of identity-policy statements (test/sim/aws/auth.ts): what the
// least-privilege test relies on to prove the templates' resource and tag conditions.
import { checkAction, type IdentityStatement, type RequestContext, type Session } from '../sim/aws/auth.js';
import { demoWorld } from '../sim/aws/worlds/demo.js';
import { MEMBER_ROLE } from '../sim/aws/worlds/builder.js';

const ACCT = '333333333301';
const world = demoWorld();
const roleArn = `arn:aws:iam::${ACCT}:role/${MEMBER_ROLE}`;
const session = { roleArn } as Session;

function decide(statements: IdentityStatement[], action: string, req: RequestContext = {}): string {
  world.accounts.get(ACCT)!.iam.roles.get(MEMBER_ROLE)!.sim = { allow: [], statements };
  const d = checkAction(world, session, action, req);
  return d.allowed ? 'allow' : d.explicitDeny ? 'explicit-deny' : 'implicit-deny';
}

const role = (name: string, tags: Record<string, string> = {}) => ({ arn: `arn:aws:iam::${ACCT}:role/${name}`, tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) });
const tagged = { StringEquals: { 'aws:ResourceTag/access-connector-jit': 'enabled' } };

describe('identity-policy statements', () => {
  test('action, resource and aws:ResourceTag must all match; tag keys compare without case, values with', () => {
    const st: IdentityStatement[] = [{ Effect: 'Allow', Action: 'iam:PutRolePolicy', Resource: `arn:aws:iam::${ACCT}:role/*`, Condition: tagged }];
    expect(decide(st, 'iam:PutRolePolicy', { resources: [role('a', { 'access-connector-jit': 'enabled' })] })).toBe('allow');
    expect(decide(st, 'iam:PutRolePolicy', { resources: [role('a', { 'Access-Connector-JIT': 'enabled' })] })).toBe('allow');
    expect(decide(st, 'iam:PutRolePolicy', { resources: [role('a', { 'access-connector-jit': 'Enabled' })] })).toBe('implicit-deny');
    expect(decide(st, 'iam:PutRolePolicy', { resources: [role('a')] })).toBe('implicit-deny');
    expect(decide(st, 'iam:DeleteRolePolicy', { resources: [role('a', { 'access-connector-jit': 'enabled' })] })).toBe('implicit-deny');
    expect(decide(st, 'iam:PutRolePolicy', { resources: [{ arn: 'arn:aws:iam::444444444401:role/a', tags: [{ Key: 'access-connector-jit', Value: 'enabled' }] }] })).toBe('implicit-deny');
    // An operation whose resources the simulator does not model matches any Resource, but no resource tag.
    expect(decide(st, 'iam:PutRolePolicy')).toBe('implicit-deny');
    expect(decide([{ Effect: 'Allow', Action: 'iam:ListRoles', Resource: `arn:aws:iam::${ACCT}:role/*` }], 'iam:ListRoles')).toBe('allow');
  });

  test('a matching Deny wins; NotResource; every resource of a request must be allowed', () => {
    const allowAll: IdentityStatement = { Effect: 'Allow', Action: 'iam:PutRolePolicy', Resource: '*' };
    const deny: IdentityStatement = { Effect: 'Deny', Action: 'iam:PutRolePolicy', Resource: `arn:aws:iam::${ACCT}:role/Protected` };
    expect(decide([allowAll, deny], 'iam:PutRolePolicy', { resources: [role('Protected')] })).toBe('explicit-deny');
    expect(decide([allowAll, deny], 'iam:PutRolePolicy', { resources: [role('other')] })).toBe('allow');
    expect(decide([{ Effect: 'Allow', Action: 'iam:PutRolePolicy', NotResource: `arn:aws:iam::${ACCT}:role/Protected` }], 'iam:PutRolePolicy', { resources: [role('Protected')] })).toBe('implicit-deny');
    // Permission-set writes: the instance unconditioned, the permission set only when tagged.
    const inst = { arn: 'arn:aws:sso:::instance/ssoins-1111111111111111', tags: [] };
    const ps = (tags: Record<string, string>) => ({ arn: 'arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1', tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) });
    const sso: IdentityStatement[] = [
      { Effect: 'Allow', Action: 'sso:PutInlinePolicyToPermissionSet', Resource: 'arn:aws:sso:::instance/*' },
      { Effect: 'Allow', Action: 'sso:PutInlinePolicyToPermissionSet', Resource: 'arn:aws:sso:::permissionSet/*/*', Condition: { StringEquals: { 'aws:ResourceTag/access-connector-managed': 'true' } } },
    ];
    expect(decide(sso, 'sso:PutInlinePolicyToPermissionSet', { resources: [inst, ps({ 'access-connector-managed': 'true' })] })).toBe('allow');
    expect(decide(sso, 'sso:PutInlinePolicyToPermissionSet', { resources: [inst, ps({})] })).toBe('implicit-deny');
    expect(decide(sso.slice(1), 'sso:PutInlinePolicyToPermissionSet', { resources: [inst, ps({ 'access-connector-managed': 'true' })] })).toBe('implicit-deny');
  });

  test('aws:RequestTag, ForAllValues/ForAnyValue on aws:TagKeys, Null, IfExists, negated operators', () => {
    const create: IdentityStatement[] = [{
      Effect: 'Allow', Action: 'sso:CreatePermissionSet', Resource: '*',
      Condition: { StringEquals: { 'aws:RequestTag/access-connector-managed': 'true' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['access-connector-managed'] } },
    }];
    const tags = (t: Record<string, string>) => ({ requestTags: Object.entries(t).map(([Key, Value]) => ({ Key, Value })) });
    expect(decide(create, 'sso:CreatePermissionSet', tags({ 'access-connector-managed': 'true' }))).toBe('allow');
    expect(decide(create, 'sso:CreatePermissionSet', tags({ 'access-connector-managed': 'true', owner: 'x' }))).toBe('implicit-deny');
    expect(decide(create, 'sso:CreatePermissionSet', tags({ 'access-connector-managed': 'false' }))).toBe('implicit-deny');
    expect(decide(create, 'sso:CreatePermissionSet', {})).toBe('implicit-deny');
    const any: IdentityStatement[] = [{ Effect: 'Allow', Action: 'sso:CreatePermissionSet', Resource: '*', Condition: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a', 'b'] } } }];
    expect(decide(any, 'sso:CreatePermissionSet', tags({ b: '1', c: '2' }))).toBe('allow');
    expect(decide(any, 'sso:CreatePermissionSet', tags({ c: '2' }))).toBe('implicit-deny');
    expect(decide(any, 'sso:CreatePermissionSet', {})).toBe('implicit-deny');
    const noTags: IdentityStatement[] = [{ Effect: 'Allow', Action: 'sso:CreatePermissionSet', Resource: '*', Condition: { Null: { 'aws:TagKeys': 'true' } } }];
    expect(decide(noTags, 'sso:CreatePermissionSet', {})).toBe('allow');
    expect(decide(noTags, 'sso:CreatePermissionSet', tags({ a: '1' }))).toBe('implicit-deny');
    const ifExists: IdentityStatement[] = [{ Effect: 'Allow', Action: 'iam:PutRolePolicy', Resource: '*', Condition: { StringEqualsIfExists: { 'aws:ResourceTag/team': 'blue' } } }];
    expect(decide(ifExists, 'iam:PutRolePolicy', { resources: [role('a')] })).toBe('allow');
    expect(decide(ifExists, 'iam:PutRolePolicy', { resources: [role('a', { team: 'red' })] })).toBe('implicit-deny');
    // StringNotEquals with several values holds only when the value is none of them.
    const not: IdentityStatement[] = [{ Effect: 'Allow', Action: 'iam:PutRolePolicy', Resource: '*', Condition: { StringNotEquals: { 'aws:ResourceTag/team': ['blue', 'red'] } } }];
    expect(decide(not, 'iam:PutRolePolicy', { resources: [role('a', { team: 'red' })] })).toBe('implicit-deny');
    expect(decide(not, 'iam:PutRolePolicy', { resources: [role('a', { team: 'green' })] })).toBe('allow');
  });

  test('aws:ResourceOrgID comes with the request (sts:AssumeRole)', () => {
    const st: IdentityStatement[] = [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: 'arn:aws:iam::*:role/M', Condition: { StringEquals: { 'aws:ResourceOrgID': 'o-abc' } } }];
    expect(decide(st, 'sts:AssumeRole', { resources: [{ arn: 'arn:aws:iam::1:role/M' }], keys: { 'aws:resourceorgid': 'o-abc' } })).toBe('allow');
    expect(decide(st, 'sts:AssumeRole', { resources: [{ arn: 'arn:aws:iam::1:role/M' }], keys: { 'aws:resourceorgid': 'o-other' } })).toBe('implicit-deny');
    expect(decide(st, 'sts:AssumeRole', { resources: [{ arn: 'arn:aws:iam::1:role/M' }] })).toBe('implicit-deny');
  });
});
