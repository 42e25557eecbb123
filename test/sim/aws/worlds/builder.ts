// Helpers shared by the demo world and the generator. Ids follow AWS's formats (AROA…, ou-…,
// ssoins-…, d-…) and are drawn from a seeded PRNG so a world is reproducible.
import type {
  Account, AccountState, IamRole, IamUser, ManagedInstance, PermissionSet, SimPermissions, SsmDocument, SsoInstance, Tag, World,
} from '../world.js';
import { addAssignment, arn, emptyAccount, ssmRegion } from '../world.js';
import { randomId, rng, sha256 } from '../util.js';

export interface BuilderOptions {
  name: string; seed: number; partition?: string; regions: string[];
  managementAccountId: string; baseAccountId?: string; externalId: string;
  created?: number;
}

export const MANAGEMENT_ROLE = 'AccessConnectorManagement';
export const MEMBER_ROLE = 'AccessConnectorMember';
export const BASE_ROLE = 'ConnectorTaskRole';

/** What the connector's roles may call (the simulator's stand-in for their IAM policies). */
export const PERMISSIONS: Record<string, SimPermissions> = {
  base: { allow: ['sts:AssumeRole', 'dynamodb:*'] },
  management: { allow: ['organizations:Describe*', 'organizations:List*', 'sso:*', 'identitystore:*', 'sts:AssumeRole', 'iam:*', 'ssm:*', 'ec2:Describe*', 'resource-explorer-2:*', 'cloudtrail:LookupEvents', 'account:ListRegions'] },
  member: { allow: ['iam:*', 'ssm:*', 'ec2:Describe*', 'resource-explorer-2:*', 'cloudtrail:LookupEvents'] },
  admin: { allow: ['*'] },
};

export class Builder {
  readonly w: World;
  readonly rand: () => number;
  readonly t0: number;
  private seq = 0;

  constructor(o: BuilderOptions) {
    this.rand = rng(o.seed);
    this.t0 = o.created ?? Date.UTC(2022, 0, 1);
    const p = o.partition ?? 'aws';
    const baseAccount = o.baseAccountId ?? '999999999999';
    const orgId = 'o-' + randomId(10, 'lower', this.rand);
    const rootId = 'r-' + randomId(4, 'lower', this.rand);
    this.w = {
      name: o.name, partition: p, regions: o.regions,
      organization: { id: orgId, managementAccountId: o.managementAccountId, rootId, rootName: 'Root', featureSet: 'ALL' },
      ous: new Map(), accounts: new Map(), awsPolicies: new Map(), resources: [],
      base: { accessKeyId: 'AKIASIMULATORBASE001', secretAccessKey: 'simulator-secret-key', roleArn: `arn:${p}:iam::${baseAccount}:role/${BASE_ROLE}`, sessionName: 'connector-task' },
      connector: { managementRoleName: MANAGEMENT_ROLE, memberRoleName: MEMBER_ROLE, externalId: o.externalId },
    };
    // The connector's own account (where its container runs): outside the organization.
    const base = emptyAccount(baseAccount, 'connector-host', 'connector-host@example.com', this.t0, false);
    this.w.accounts.set(baseAccount, base);
    this.role(base, BASE_ROLE, { trust: trust({ Service: 'ecs-tasks.amazonaws.com' }), sim: PERMISSIONS.base! });
    for (const [name, path] of [['AdministratorAccess', '/'], ['ReadOnlyAccess', '/'], ['SecurityAudit', '/'], ['ViewOnlyAccess', '/job-function/'],
      ['AmazonSSMManagedInstanceCore', '/'], ['PowerUserAccess', '/'], ['AWSBillingReadOnlyAccess', '/'], ['IAMReadOnlyAccess', '/'],
      ['AmazonS3ReadOnlyAccess', '/'], ['AWSLambdaBasicExecutionRole', '/service-role/']] as const) {
      this.awsPolicy(name, path);
    }
  }

  id(prefix: string, len = 17): string { return prefix + randomId(len, 'upper', this.rand); }
  time(): number { return this.t0 + (++this.seq) * 60_000; }

  ou(name: string, parentId: string, tags?: Tag[]): string {
    const id = `ou-${this.w.organization!.rootId.slice(2)}-${randomId(8, 'lower', this.rand)}`;
    this.w.ous.set(id, { id, name, parentId, ...(tags ? { tags } : {}) });
    return id;
  }

  account(id: string, name: string, parentId: string, state: AccountState = 'ACTIVE', tags?: Tag[]): Account {
    const a = emptyAccount(id, name, `aws+${name}@example.com`, this.time(), true, parentId);
    a.state = state;
    if (tags) a.tags = tags;
    this.w.accounts.set(id, a);
    return a;
  }

  awsPolicy(name: string, path = '/'): string {
    const a = arn.awsPolicy(this.w, path, name);
    this.w.awsPolicies.set(a, { arn: a, name, id: this.id('ANPA'), path, created: Date.UTC(2015, 1, 6), updated: Date.UTC(2023, 0, 1),
      document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) });
    return a;
  }

  policy(a: Account, name: string, actions: string[] = ['s3:GetObject'], path = '/', tags?: Tag[]): string {
    const p = arn.policy(this.w, a.id, path, name);
    const t = this.time();
    a.iam.policies.set(p, { arn: p, name, id: this.id('ANPA'), path, created: t, updated: t, ...(tags ? { tags } : {}),
      document: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] }) });
    return p;
  }

  role(a: Account, name: string, o: { trust: string; path?: string; sim?: SimPermissions; attached?: string[]; inline?: Record<string, string>;
    tags?: Tag[]; boundary?: string; description?: string; maxSession?: number }): IamRole {
    const r: IamRole = { name, id: this.id('AROA'), path: o.path ?? '/', created: this.time(), trust: o.trust, maxSession: o.maxSession ?? 3600,
      ...(o.sim ? { sim: o.sim } : {}), ...(o.attached ? { attached: o.attached } : {}), ...(o.inline ? { inline: o.inline } : {}),
      ...(o.tags ? { tags: o.tags } : {}), ...(o.boundary ? { boundary: o.boundary } : {}), ...(o.description ? { description: o.description } : {}) };
    a.iam.roles.set(name, r);
    return r;
  }

  user(a: Account, name: string, o: { keys?: number; tags?: Tag[]; attached?: string[]; inline?: Record<string, string>; boundary?: string; path?: string } = {}): IamUser {
    const u: IamUser = { name, id: this.id('AIDA'), path: o.path ?? '/', created: this.time(),
      ...(o.tags ? { tags: o.tags } : {}), ...(o.attached ? { attached: o.attached } : {}), ...(o.inline ? { inline: o.inline } : {}),
      ...(o.boundary ? { boundary: o.boundary } : {}) };
    if (o.keys) {
      u.accessKeys = [];
      for (let i = 0; i < o.keys; i++) {
        const used = this.rand() < 0.7;
        const id = this.id('AKIA', 16);
        // Derived from the id, not drawn from the PRNG, so generated worlds stay as they were.
        u.accessKeys.push({ id, secret: sha256(`secret:${id}`).slice(0, 40), status: i === 0 ? 'Active' : 'Inactive', created: this.time(),
          ...(used ? { lastUsed: this.time(), lastService: 's3', lastRegion: this.w.regions[0] ?? 'us-east-1' } : {}) });
      }
    }
    a.iam.users.set(name, u);
    return u;
  }

  group(a: Account, name: string, members: string[], attached?: string[], inline?: Record<string, string>): void {
    a.iam.groups.set(name, { name, id: this.id('AGPA'), path: '/', created: this.time(), members, ...(attached ? { attached } : {}), ...(inline ? { inline } : {}) });
  }

  /** Roles every organization account has: the org access role, service-linked roles, and the connector's member role. */
  standardRoles(a: Account): void {
    const mgmt = this.w.organization!.managementAccountId;
    this.role(a, 'OrganizationAccountAccessRole', { trust: trust({ AWS: `arn:${this.w.partition}:iam::${mgmt}:root` }), attached: [arn.awsPolicy(this.w, '/', 'AdministratorAccess')], sim: PERMISSIONS.admin! });
    this.role(a, 'AWSServiceRoleForSSO', { path: '/aws-service-role/sso.amazonaws.com/', trust: trust({ Service: 'sso.amazonaws.com' }), description: 'Service-linked role used by AWS SSO' });
    this.role(a, MEMBER_ROLE, { trust: trust({ AWS: `arn:${this.w.partition}:iam::${mgmt}:role/${MANAGEMENT_ROLE}` }), sim: PERMISSIONS.member!,
      tags: [{ Key: 'managed-by', Value: 'access-connector' }] });
  }

  managementRole(a: Account, externalId: string): void {
    this.role(a, MANAGEMENT_ROLE, {
      trust: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: this.w.base.roleArn }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': externalId } } }] }),
      sim: PERMISSIONS.management!, tags: [{ Key: 'managed-by', Value: 'access-connector' }],
    });
  }

  sso(ownerAccountId: string, region: string): SsoInstance {
    const id = randomId(16, 'hex', this.rand);
    const s: SsoInstance = {
      arn: `arn:${this.w.partition}:sso:::instance/ssoins-${id}`, identityStoreId: 'd-' + randomId(10, 'digits', this.rand),
      ownerAccountId, region, name: 'sso', created: this.t0, identitySource: 'IDENTITY_CENTER',
      permissionSets: new Map(), assignments: new Map(), byTarget: new Map(), provisioned: new Map(), ops: new Map(),
      users: new Map(), groups: new Map(), memberships: new Map(),
    };
    this.w.sso = s;
    return s;
  }

  permissionSet(name: string, o: Partial<Omit<PermissionSet, 'arn' | 'name'>> = {}): PermissionSet {
    const s = this.w.sso!;
    const ps: PermissionSet = { arn: `${s.arn.replace(':instance/', ':permissionSet/')}/ps-${randomId(16, 'hex', this.rand)}`, name,
      created: this.time(), sessionDuration: 'PT1H', managed: [], customerManaged: [], ...o };
    s.permissionSets.set(ps.arn, ps);
    return ps;
  }

  ssoUser(userName: string, given: string, family: string): string {
    const s = this.w.sso!;
    const id = `${s.identityStoreId.slice(2, 12)}-${randomId(8, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(12, 'hex', this.rand)}`;
    s.users.set(id, { UserId: id, UserName: userName, DisplayName: `${given} ${family}`, Name: { GivenName: given, FamilyName: family, Formatted: `${given} ${family}` },
      Emails: [{ Value: `${userName.split('@')[0]}@example.com`, Type: 'work', Primary: true }] });
    return id;
  }
  ssoGroup(name: string, description?: string): string {
    const s = this.w.sso!;
    const id = `${s.identityStoreId.slice(2, 12)}-${randomId(8, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(12, 'hex', this.rand)}`;
    s.groups.set(id, { GroupId: id, DisplayName: name, ...(description ? { Description: description } : {}) });
    return id;
  }
  membership(groupId: string, userId: string): void {
    const id = `${randomId(8, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-${randomId(12, 'hex', this.rand)}`;
    this.w.sso!.memberships.set(id, { MembershipId: id, GroupId: groupId, UserId: userId });
  }

  /** An assignment, and the AWSReservedSSO_ role Identity Center provisions for it in the account. */
  assign(ps: PermissionSet, a: Account, principalType: 'USER' | 'GROUP', principalId: string): void {
    addAssignment(this.w.sso!, { accountId: a.id, permissionSetArn: ps.arn, principalType, principalId });
    const prefix = `AWSReservedSSO_${ps.name}_`;
    if (![...a.iam.roles.keys()].some((n) => n.startsWith(prefix))) {
      this.role(a, prefix + randomId(16, 'hex', this.rand), {
        path: '/aws-reserved/sso.amazonaws.com/',
        trust: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:${this.w.partition}:iam::${a.id}:saml-provider/AWSSSO_${randomId(16, 'hex', this.rand)}_DO_NOT_DELETE` }, Action: ['sts:AssumeRoleWithSAML', 'sts:TagSession'], Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } } }] }),
        maxSession: 43200, attached: ps.managed,
      });
    }
  }

  instance(a: Account, region: string, o: { name?: string; platform?: 'Linux' | 'Windows'; tags?: Tag[]; ping?: ManagedInstance['ping'] } = {}): ManagedInstance {
    const id = 'i-' + randomId(17, 'hex', this.rand);
    const linux = (o.platform ?? 'Linux') === 'Linux';
    const i: ManagedInstance = {
      id, ...(o.name ? { name: o.name } : {}), platform: o.platform ?? 'Linux', platformName: linux ? 'Amazon Linux' : 'Microsoft Windows Server 2022 Datacenter',
      platformVersion: linux ? '2023' : '10.0.20348', ip: `10.${Math.floor(this.rand() * 255)}.${Math.floor(this.rand() * 255)}.${1 + Math.floor(this.rand() * 250)}`,
      computerName: `ip-${id.slice(2, 10)}.ec2.internal`, ping: o.ping ?? 'Online', registered: this.time(),
      iamRole: 'AmazonSSMRoleForInstancesQuickSetup', ...(o.tags ? { tags: o.tags } : {}), commands: [], osUsers: {},
    };
    ssmRegion(a, region).instances.set(id, i);
    this.resource(a, region, 'ec2:instance', `instance/${id}`, o.tags);
    return i;
  }

  /** A Command document the customer deployed (JSON content, as CreateDocument would store it). */
  commandDocument(a: Account, region: string, name: string, content: string): void {
    const params = (JSON.parse(content) as { parameters?: SsmDocument['params'] }).parameters ?? {};
    ssmRegion(a, region).documents.set(name, { name, type: 'Command', format: 'JSON', content, owner: a.id, created: this.t0, params });
  }

  resource(a: Account, region: string, type: string, resource: string, tags?: Tag[]): void {
    const service = type.split(':')[0]!;
    const arnStr = service === 's3' ? `arn:${this.w.partition}:s3:::${resource}` : `arn:${this.w.partition}:${service}:${region}:${a.id}:${resource}`;
    this.w.resources.push({ arn: arnStr, account: a.id, region, type, service, reported: this.t0 + 86_400_000, ...(tags ? { tags } : {}) });
  }

  /** An aggregator index in `aggregatorRegion`, local indexes elsewhere, and a default view there. */
  resourceExplorer(a: Account, aggregatorRegion: string, orgWide = false): void {
    for (const r of this.w.regions) {
      a.re.indexes.push({ region: r, type: r === aggregatorRegion ? 'AGGREGATOR' : 'LOCAL', arn: `arn:${this.w.partition}:resource-explorer-2:${r}:${a.id}:index/${randomId(8, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-4${randomId(3, 'hex', this.rand)}-a${randomId(3, 'hex', this.rand)}-${randomId(12, 'hex', this.rand)}` });
    }
    const name = orgWide ? 'organization-view' : 'all-resources';
    const v = { arn: `arn:${this.w.partition}:resource-explorer-2:${aggregatorRegion}:${a.id}:view/${name}/${randomId(8, 'hex', this.rand)}-${randomId(4, 'hex', this.rand)}-4${randomId(3, 'hex', this.rand)}-a${randomId(3, 'hex', this.rand)}-${randomId(12, 'hex', this.rand)}`,
      name, region: aggregatorRegion, scope: orgWide ? arn.org(this.w) : `arn:${this.w.partition}:iam::${a.id}:root`, updated: this.t0 };
    a.re.views.push(v);
    a.re.defaultView[aggregatorRegion] = v.arn;
  }
}

/** A one-statement trust policy. */
export function trust(principal: Record<string, string | string[]>, condition?: Record<string, unknown>): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) }] });
}
