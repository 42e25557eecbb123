// The simulated estate: one organization, its accounts and, per account, the state of each
// service. Plain objects and arrays (no class instances) so a 1,000-account world stays
// small; times are epoch milliseconds.

export interface Tag { Key: string; Value: string }

/**
 * What a role's sessions may call: IAM-style action globs (`iam:Get*`), deny winning; or,
 * when `statements` is set, those identity-policy statements evaluated as IAM does, with
 * their resources and conditions (auth.ts).
 */
export interface SimPermissions { allow: string[]; deny?: string[]; statements?: import('./auth.js').IdentityStatement[] }

export interface IamUser {
  name: string; id: string; path: string; created: number; tags?: Tag[];
  inline?: Record<string, string>; attached?: string[]; boundary?: string;
  accessKeys?: AccessKey[]; passwordLastUsed?: number;
}
export interface AccessKey {
  id: string; status: 'Active' | 'Inactive'; created: number; lastUsed?: number; lastService?: string; lastRegion?: string;
  /** The secret AWS shows once at creation; no read API returns it (tests scan output for it). */
  secret: string;
}
export interface IamGroup { name: string; id: string; path: string; created: number; inline?: Record<string, string>; attached?: string[]; members: string[] }
export interface IamRole {
  name: string; id: string; path: string; created: number; trust: string; description?: string;
  maxSession: number; tags?: Tag[]; inline?: Record<string, string>; attached?: string[]; boundary?: string;
  lastUsed?: number; lastUsedRegion?: string;
  /** Simulator-only: what sessions of this role may do. Absent → only sts:GetCallerIdentity. */
  sim?: SimPermissions;
}
export interface ManagedPolicy {
  arn: string; name: string; id: string; path: string; created: number; updated: number;
  description?: string; document: string; tags?: Tag[];
}
export interface IamState {
  users: Map<string, IamUser>; groups: Map<string, IamGroup>; roles: Map<string, IamRole>;
  /** Customer-managed policies by ARN. */
  policies: Map<string, ManagedPolicy>;
  aliases: string[];
  /** Managed policies per user and per role, when raised from AWS's default of 10 (groups stay at 10). */
  managedPoliciesQuota?: number;
}

export interface ManagedInstance {
  id: string; name?: string; platform: 'Linux' | 'Windows'; platformName: string; platformVersion: string;
  ip: string; computerName: string; ping: 'Online' | 'ConnectionLost' | 'Inactive'; registered: number;
  iamRole?: string; tags?: Tag[];
  /** Every command run on it: document, parameters (tests read this through the admin API). */
  commands: { commandId: string; document: string; parameters: Record<string, string[]>; at: number }[];
  /** OS users touched by commands whose parameters name a user and an action. */
  osUsers: Record<string, OsUser>;
  /** The next `count` commands on this instance end Failed with `output` (admin.failNextCommands with instanceId). */
  failNext?: { count: number; output: string };
  /** The next `count` commands on this instance never finish: InProgress for ever (admin.hangNextCommands). */
  hangNext?: number;
}
/**
 * An OS user. Generic documents only record `state` (their last action); the connector's own
 * AccessConnector-LocalUser document is modelled in full (services/ssm.ts): there an entry is
 * a user that exists on the instance, and the optional fields describe it.
 */
export interface OsUser {
  state: string; parameters: Record<string, string[]>; at: number;
  uid?: number; gecos?: string; shell?: string;
  /** access-connector's root-only marker file: the owner digest and the uid it was written for. */
  marker?: { owner: string; uid: number };
  /** access-connector's root-only record of the key it installed per grant (accessTag → key), outside the home. */
  granted?: Record<string, string>;
  /** Password locked and account expired. */
  locked?: boolean;
  /** ~/.ssh/authorized_keys, one entry a line (the user may change it: tests do). */
  authorizedKeys?: string[];
  /** Processes the user runs (open SSH sessions); revoke's lock ends them. */
  processes?: number;
}
export interface SsmDocument {
  name: string; type: string; format: 'JSON' | 'YAML'; content: string; owner: string; created: number;
  params: Record<string, { type: string; allowedPattern?: string; default?: unknown; allowedValues?: string[]; description?: string }>;
}
export interface SsmCommand {
  commandId: string; document: string; parameters: Record<string, string[]>; instanceIds: string[];
  requested: number; completesAt: number; comment?: string; requestedBy: string;
  /** Set when a failure was injected: the command ends Failed with this stderr. */
  failed?: string;
  /** Per-instance outcome, when the command was modelled (or failed) instance by instance. */
  results?: Record<string, { status: 'Success' | 'Failed' | 'InProgress'; code: number; stdout: string; stderr: string }>;
}
export interface SsmSession { id: string; target: string; owner: string; started: number; ended?: number; status: 'Connected' | 'Terminated' }
export interface SsmRegionState {
  instances: Map<string, ManagedInstance>; documents: Map<string, SsmDocument>;
  commands: Map<string, SsmCommand>; sessions: Map<string, SsmSession>;
}

export interface ReIndex { region: string; type: 'LOCAL' | 'AGGREGATOR'; arn: string }
export interface ReView { arn: string; name: string; region: string; filter?: string; scope: string; updated: number }
export interface ReState { indexes: ReIndex[]; views: ReView[]; defaultView: Record<string, string> }
export interface Resource { arn: string; account: string; region: string; type: string; service: string; reported: number; tags?: Tag[] }

/** A DynamoDB item: attribute name → typed AttributeValue ({ S: "x" }).  */
export type Attr = Record<string, Record<string, unknown>>;
export interface DdbTable {
  name: string; arn: string; created: number; keySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  attributeDefinitions: { AttributeName: string; AttributeType: string }[];
  items: Map<string, Attr>;
}

export interface TrailEvent {
  EventId: string; EventName: string; EventSource: string; EventTime: number; Username: string;
  AccessKeyId: string; ReadOnly: 'true' | 'false'; Resources: { ResourceType?: string; ResourceName: string }[];
  region: string; detail: Record<string, unknown>;
}

export type AccountState = 'ACTIVE' | 'SUSPENDED' | 'PENDING_CLOSURE' | 'CLOSED';
export interface Account {
  id: string; name: string; email: string; state: AccountState; parentId?: string; joined: number;
  /** false for accounts outside the organization (e.g. the connector's hosting account). */
  inOrg: boolean; tags?: Tag[];
  /** Opt-in regions of World.regions this account has not enabled (calls there fail as in AWS). */
  disabledRegions?: string[];
  iam: IamState; ssm: Map<string, SsmRegionState>; re: ReState;
  dynamodb: Map<string, Map<string, DdbTable>>; trail: TrailEvent[];
}

export interface Ou { id: string; name: string; parentId: string; tags?: Tag[] }

export interface SsoUser {
  UserId: string; UserName: string; DisplayName: string; Name: { GivenName: string; FamilyName: string; Formatted?: string };
  Emails: { Value: string; Type: string; Primary: boolean }[]; ExternalIds?: { Issuer: string; Id: string }[];
}
export interface SsoGroup { GroupId: string; DisplayName: string; Description?: string; ExternalIds?: { Issuer: string; Id: string }[] }
export interface PermissionSet {
  arn: string; name: string; description?: string; created: number; sessionDuration: string; relayState?: string;
  managed: string[]; customerManaged: { Name: string; Path: string }[]; inline?: string;
  boundary?: { ManagedPolicyArn?: string; CustomerManagedPolicyReference?: { Name: string; Path: string } };
  tags?: Tag[];
  /** Inline policy as last provisioned to each account (accountId → document): what the account's role really has. */
  provisionedInline?: Record<string, string>;
}
export interface Assignment { accountId: string; permissionSetArn: string; principalType: 'USER' | 'GROUP'; principalId: string }
export interface AssignmentOp {
  kind: 'create' | 'delete'; requestId: string; created: number; completesAt: number;
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED'; failureReason?: string; a: Assignment;
}
export type IdentitySource = 'IDENTITY_CENTER' | 'EXTERNAL_IDP' | 'ACTIVE_DIRECTORY';
export interface SsoInstance {
  arn: string; identityStoreId: string; ownerAccountId: string; region: string; name: string; created: number;
  identitySource: IdentitySource;
  permissionSets: Map<string, PermissionSet>;
  assignments: Map<string, Assignment>;
  /** `${permissionSetArn}|${accountId}` → assignment keys, so per-account listings stay cheap. */
  byTarget: Map<string, Set<string>>;
  provisioned: Map<string, Set<string>>; // accountId → permission set ARNs
  ops: Map<string, AssignmentOp>;
  users: Map<string, SsoUser>; groups: Map<string, SsoGroup>;
  memberships: Map<string, { MembershipId: string; GroupId: string; UserId: string }>;
  /**
   * Successful sign-ins, as ages (ms before the simulator starts): the runtime logs them in
   * the management account's trail then (sign-ins.ts), so they fall inside CloudTrail's 90 days.
   */
  signIns?: { userId: string; agoMs: number }[];
}

export interface Organization {
  id: string; managementAccountId: string; rootId: string; rootName: string; featureSet: 'ALL' | 'CONSOLIDATED_BILLING'; rootTags?: Tag[];
  /**
   * Member accounts the organization's resource-based delegation policy lets read it
   * (AWS's "delegated administrator for AWS Organizations"): they may call the read
   * operations the management account may; writes stay with the management account.
   */
  delegatedAdministrators?: string[];
}

export interface BaseIdentity {
  accessKeyId: string; secretAccessKey: string;
  /** The role whose session the base credentials are (an ECS task role, say). */
  roleArn: string; sessionName: string;
}

export interface World {
  name: string;
  partition: string;
  /** Enabled regions; `regions: []` in an integration means these. */
  regions: string[];
  organization?: Organization;
  ous: Map<string, Ou>;
  accounts: Map<string, Account>;
  sso?: SsoInstance;
  /** AWS-managed policies (account `aws`) by ARN. */
  awsPolicies: Map<string, ManagedPolicy>;
  resources: Resource[];
  base: BaseIdentity;
  /** Defaults used by the connector's integration against this world. */
  connector: { managementRoleName: string; memberRoleName: string; externalId: string; ledgerTable?: { account: string; region: string; name: string } };
}

export function emptyAccount(id: string, name: string, email: string, joined: number, inOrg: boolean, parentId?: string): Account {
  return {
    id, name, email, state: 'ACTIVE', joined, inOrg, ...(parentId ? { parentId } : {}),
    iam: { users: new Map(), groups: new Map(), roles: new Map(), policies: new Map(), aliases: [] },
    ssm: new Map(), re: { indexes: [], views: [], defaultView: {} }, dynamodb: new Map(), trail: [],
  };
}

export function ssmRegion(a: Account, region: string): SsmRegionState {
  let s = a.ssm.get(region);
  if (!s) {
    s = { instances: new Map(), documents: new Map(), commands: new Map(), sessions: new Map() };
    a.ssm.set(region, s);
  }
  return s;
}

// ARN builders: the partition always comes from the world.
export const arn = {
  org: (w: World) => `arn:${w.partition}:organizations::${w.organization!.managementAccountId}:organization/${w.organization!.id}`,
  root: (w: World) => `arn:${w.partition}:organizations::${w.organization!.managementAccountId}:root/${w.organization!.id}/${w.organization!.rootId}`,
  ou: (w: World, id: string) => `arn:${w.partition}:organizations::${w.organization!.managementAccountId}:ou/${w.organization!.id}/${id}`,
  account: (w: World, id: string) => w.organization && w.accounts.get(id)?.inOrg
    ? `arn:${w.partition}:organizations::${w.organization.managementAccountId}:account/${w.organization.id}/${id}`
    : `arn:${w.partition}:iam::${id}:root`,
  user: (w: World, acct: string, u: { path: string; name: string }) => `arn:${w.partition}:iam::${acct}:user${u.path}${u.name}`,
  group: (w: World, acct: string, g: { path: string; name: string }) => `arn:${w.partition}:iam::${acct}:group${g.path}${g.name}`,
  role: (w: World, acct: string, r: { path: string; name: string }) => `arn:${w.partition}:iam::${acct}:role${r.path}${r.name}`,
  policy: (w: World, acct: string, path: string, name: string) => `arn:${w.partition}:iam::${acct}:policy${path}${name}`,
  awsPolicy: (w: World, path: string, name: string) => `arn:${w.partition}:iam::aws:policy${path}${name}`,
};

/** The regions every `aws`-partition account has; every region launched since March 2019 is opt-in. */
export const ENABLED_BY_DEFAULT = new Set([
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'sa-east-1',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-north-1',
  'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-southeast-1', 'ap-southeast-2',
]);

/** Opt-in regions the Account API lists as DISABLED unless the world enables them. */
export const KNOWN_OPT_IN_REGIONS = ['af-south-1', 'ap-east-1', 'eu-south-1', 'me-south-1', 'il-central-1'];

/**
 * Whether an account may call regional services in `region`. Only the `aws` partition has
 * opt-in regions; an opt-in region is enabled where the world lists it, unless the account
 * disabled it.
 */
export function regionEnabled(w: World, a: Account, region: string): boolean {
  if (w.partition !== 'aws' || ENABLED_BY_DEFAULT.has(region)) return true;
  return w.regions.includes(region) && !a.disabledRegions?.includes(region);
}

/** Where a partition's global services (IAM, Organizations) log to CloudTrail. */
export function globalRegion(w: World): string {
  return w.partition === 'aws-us-gov' ? 'us-gov-west-1' : w.partition === 'aws-cn' ? 'cn-north-1' : 'us-east-1';
}

/** Parse `arn:partition:service:region:account:resource`. */
export function parseArn(a: string): { partition: string; service: string; region: string; account: string; resource: string } | undefined {
  const p = a.split(':');
  if (p.length < 6 || p[0] !== 'arn') return undefined;
  return { partition: p[1]!, service: p[2]!, region: p[3]!, account: p[4]!, resource: p.slice(5).join(':') };
}

/** Find a role by ARN (`arn:…:iam::acct:role/path/name`). */
export function roleByArn(w: World, roleArn: string): { account: Account; role: IamRole } | undefined {
  const p = parseArn(roleArn);
  if (!p || p.service !== 'iam' || !p.resource.startsWith('role/')) return undefined;
  const account = w.accounts.get(p.account);
  const name = p.resource.split('/').pop()!;
  const role = account?.iam.roles.get(name);
  if (!account || !role || arn.role(w, account.id, role) !== roleArn) return undefined;
  return { account, role };
}

/** All customer and AWS managed policies visible in an account, by ARN. */
export function findPolicy(w: World, a: Account, policyArn: string): ManagedPolicy | undefined {
  return a.iam.policies.get(policyArn) ?? w.awsPolicies.get(policyArn);
}

/** Count of users, groups and roles in the account that attach the policy. */
export function attachmentCount(a: Account, policyArn: string): number {
  let n = 0;
  for (const u of a.iam.users.values()) if (u.attached?.includes(policyArn)) n++;
  for (const g of a.iam.groups.values()) if (g.attached?.includes(policyArn)) n++;
  for (const r of a.iam.roles.values()) if (r.attached?.includes(policyArn)) n++;
  return n;
}

/** Ancestors of an OU or account parent, nearest first, ending with the root id. */
export function ancestors(w: World, parentId: string | undefined): string[] {
  const out: string[] = [];
  let cur = parentId;
  while (cur) {
    out.push(cur);
    cur = w.ous.get(cur)?.parentId;
  }
  return out;
}

export function assignmentKey(a: Assignment): string {
  return `${a.permissionSetArn}|${a.accountId}|${a.principalType}|${a.principalId}`;
}

export function addAssignment(sso: SsoInstance, a: Assignment): void {
  const key = assignmentKey(a);
  if (sso.assignments.has(key)) return;
  sso.assignments.set(key, a);
  const t = `${a.permissionSetArn}|${a.accountId}`;
  let s = sso.byTarget.get(t);
  if (!s) sso.byTarget.set(t, (s = new Set()));
  s.add(key);
  let p = sso.provisioned.get(a.accountId);
  if (!p) sso.provisioned.set(a.accountId, (p = new Set()));
  p.add(a.permissionSetArn);
}

export function removeAssignment(sso: SsoInstance, a: Assignment): boolean {
  const key = assignmentKey(a);
  if (!sso.assignments.delete(key)) return false;
  sso.byTarget.get(`${a.permissionSetArn}|${a.accountId}`)?.delete(key);
  return true;
}

/** World resources grouped by account (cached: the generated world has ~150k). */
const byAccountCache = new WeakMap<World, { n: number; m: Map<string, World['resources']> }>();
export function resourcesOf(w: World, accountId: string): World['resources'] {
  let c = byAccountCache.get(w);
  if (!c || c.n !== w.resources.length) {
    const m = new Map<string, World['resources']>();
    for (const r of w.resources) { let l = m.get(r.account); if (!l) m.set(r.account, (l = [])); l.push(r); }
    byAccountCache.set(w, (c = { n: w.resources.length, m }));
  }
  return c.m.get(accountId) ?? [];
}
