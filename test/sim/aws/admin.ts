// Out-of-band view and control of the world, for test assertions and set-up. Every method
// takes one plain object, so the same methods serve in-process callers and the HTTP admin
// API (POST /__sim/admin/<method> with a JSON body, or GET with query parameters).
import type { SimRuntime } from './runtime.js';
import type { Account, AccountState, Assignment, IdentitySource, TrailEvent } from './world.js';
import { addAssignment, assignmentKey, globalRegion, removeAssignment, ssmRegion } from './world.js';
import { settle } from './services/sso-admin.js';
import type { Family } from './quotas.js';
import type { IdentityStatement } from './auth.js';
import { randomId, uuid } from './util.js';
import { signInEvents } from './sign-ins.js';

export class AdminError extends Error {}

export class SimAdmin {
  constructor(private readonly rt: SimRuntime) {}

  private account(accountId: string): Account {
    const a = this.rt.world.accounts.get(accountId);
    if (!a) throw new AdminError(`no account ${accountId}`);
    return a;
  }
  private sso() {
    const s = this.rt.world.sso;
    if (!s) throw new AdminError('the world has no Identity Center instance');
    settle(this.rt, s);
    return s;
  }

  summary(): Record<string, unknown> {
    const w = this.rt.world;
    return {
      name: w.name, partition: w.partition, regions: w.regions, organizationId: w.organization?.id,
      managementAccountId: w.organization?.managementAccountId, accounts: w.accounts.size, ous: w.ous.size,
      resources: w.resources.length, base: { accessKeyId: w.base.accessKeyId, roleArn: w.base.roleArn }, connector: w.connector,
    };
  }

  /** Identity Center exposes no API for the identity source: it is readable (and settable) here. */
  ssoInstance(): Record<string, unknown> {
    const s = this.sso();
    return { instanceArn: s.arn, identityStoreId: s.identityStoreId, region: s.region, ownerAccountId: s.ownerAccountId, identitySource: s.identitySource };
  }
  setIdentitySource(a: { source: IdentitySource }): void { this.sso().identitySource = a.source; }
  /** ExternalIds on a user or group, as SCIM provisioning or AD sync leaves them (how an external identity source shows in the API). */
  setExternalIds(a: { userId?: string; groupId?: string; externalIds: { Issuer: string; Id: string }[] }): void {
    const s = this.sso();
    const entity = a.userId ? s.users.get(a.userId) : a.groupId ? s.groups.get(a.groupId) : undefined;
    if (!entity) throw new AdminError(`no Identity Store ${a.userId ? `user ${a.userId}` : `group ${a.groupId}`}`);
    if (a.externalIds.length > 0) entity.ExternalIds = a.externalIds;
    else delete entity.ExternalIds;
  }

  listAssignments(f: { accountId?: string; principalId?: string; permissionSetArn?: string } = {}): Assignment[] {
    return [...this.sso().assignments.values()].filter((a) =>
      (!f.accountId || a.accountId === f.accountId) && (!f.principalId || a.principalId === f.principalId) &&
      (!f.permissionSetArn || a.permissionSetArn === f.permissionSetArn));
  }
  hasAssignment(a: Assignment): boolean { return this.sso().assignments.has(assignmentKey(a)); }
  addAssignment(a: Assignment): void { addAssignment(this.sso(), a); }
  removeAssignment(a: Assignment): boolean { return removeAssignment(this.sso(), a); }
  listAssignmentOperations(): unknown[] { return [...this.sso().ops.values()]; }
  /** The next `count` create/delete operations end FAILED with `reason`, after `afterMs` (default: as long as any operation). */
  failNextAssignments(a: { count?: number; reason?: string; afterMs?: number }): void {
    this.rt.ssoFailures.push({ count: a.count ?? 1, reason: a.reason ?? 'Injected failure', ...(a.afterMs !== undefined ? { afterMs: a.afterMs } : {}) });
  }

  listGroupMemberships(f: { groupId?: string; userId?: string } = {}): { MembershipId: string; GroupId: string; UserId: string }[] {
    return [...this.sso().memberships.values()].filter((m) => (!f.groupId || m.GroupId === f.groupId) && (!f.userId || m.UserId === f.userId));
  }
  addGroupMembership(a: { groupId: string; userId: string }): string {
    const m = { MembershipId: uuid(), GroupId: a.groupId, UserId: a.userId };
    this.sso().memberships.set(m.MembershipId, m);
    return m.MembershipId;
  }
  removeGroupMembership(a: { groupId: string; userId: string }): boolean {
    const s = this.sso();
    for (const m of s.memberships.values()) if (m.GroupId === a.groupId && m.UserId === a.userId) return s.memberships.delete(m.MembershipId);
    return false;
  }

  getRole(a: { accountId: string; roleName: string }): Record<string, unknown> | undefined {
    const r = this.account(a.accountId).iam.roles.get(a.roleName);
    return r && { trustPolicy: r.trust, boundary: r.boundary ?? null, tags: r.tags ?? [], inline: r.inline ?? {}, attached: r.attached ?? [], permissions: r.sim ?? null, maxSessionDuration: r.maxSession };
  }
  setTrustPolicy(a: { accountId: string; roleName: string; document: string | object }): void {
    const r = this.account(a.accountId).iam.roles.get(a.roleName);
    if (!r) throw new AdminError(`no role ${a.roleName}`);
    r.trust = typeof a.document === 'string' ? a.document : JSON.stringify(a.document);
  }
  /** What sessions of the role may call (IAM action globs). This is how tests take a permission away. */
  setRolePermissions(a: { accountId: string; roleName: string; allow: string[]; deny?: string[] }): void {
    const r = this.account(a.accountId).iam.roles.get(a.roleName);
    if (!r) throw new AdminError(`no role ${a.roleName}`);
    r.sim = { allow: a.allow, ...(a.deny ? { deny: a.deny } : {}) };
  }
  /** Identity-policy statements for the role, evaluated with their resources and conditions (a template's policy, as CloudFormation would give it). */
  setRoleStatements(a: { accountId: string; roleName: string; statements: IdentityStatement[] }): void {
    const r = this.account(a.accountId).iam.roles.get(a.roleName);
    if (!r) throw new AdminError(`no role ${a.roleName}`);
    r.sim = { allow: [], statements: a.statements };
  }
  /** Adds or replaces tags of a role (as iam:TagRole would). */
  tagRole(a: { accountId: string; roleName: string; tags: Record<string, string> }): void {
    const r = this.account(a.accountId).iam.roles.get(a.roleName);
    if (!r) throw new AdminError(`no role ${a.roleName}`);
    const keep = (r.tags ?? []).filter((t) => !Object.keys(a.tags).some((k) => k.toLowerCase() === t.Key.toLowerCase()));
    r.tags = [...keep, ...Object.entries(a.tags).map(([Key, Value]) => ({ Key, Value }))];
  }
  /** The same permissions for the role of that name in every account (the connector's roles, as a template grants them). */
  setPermissionsOfRole(a: { roleName: string; allow: string[]; deny?: string[] }): number {
    let n = 0;
    for (const acct of this.rt.world.accounts.values()) {
      const r = acct.iam.roles.get(a.roleName);
      if (r) { r.sim = { allow: a.allow, ...(a.deny ? { deny: a.deny } : {}) }; n++; }
    }
    return n;
  }
  /** Which role called which action, allowed or refused by its permissions, since the start or the last reset. */
  actionsUsed(a: { reset?: boolean } = {}): { role: string; action: string; allowed: boolean }[] {
    const pairs = (set: Set<string>, allowed: boolean) => [...set].map((k) => { const [role, action] = k.split('|') as [string, string]; return { role, action, allowed }; });
    const out = [...pairs(this.rt.actionsUsed, true), ...pairs(this.rt.actionsDenied, false)];
    if (a.reset) { this.rt.actionsUsed.clear(); this.rt.actionsDenied.clear(); }
    return out;
  }
  deleteRole(a: { accountId: string; roleName: string }): boolean { return this.account(a.accountId).iam.roles.delete(a.roleName); }
  getUser(a: { accountId: string; userName: string }): Record<string, unknown> | undefined {
    const acct = this.account(a.accountId);
    const u = acct.iam.users.get(a.userName);
    return u && { boundary: u.boundary ?? null, tags: u.tags ?? [], groups: [...acct.iam.groups.values()].filter((g) => g.members.includes(u.name)).map((g) => g.name), accessKeys: u.accessKeys ?? [] };
  }
  getGroupMembers(a: { accountId: string; groupName: string }): string[] | undefined { return this.account(a.accountId).iam.groups.get(a.groupName)?.members; }
  /** A role made out of band (a path or name the demo world lacks); trusts its own account by default. Returns the RoleId. */
  createRole(a: { accountId: string; roleName: string; path?: string; trust?: string | object; maxSessionDuration?: number; tags?: Record<string, string> }): string {
    const acct = this.account(a.accountId);
    const trust = a.trust ?? { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:${this.rt.world.partition}:iam::${acct.id}:root` }, Action: 'sts:AssumeRole' }] };
    const id = 'AROA' + randomId(17, 'upper');
    acct.iam.roles.set(a.roleName, { name: a.roleName, id, path: a.path ?? '/', created: this.rt.now(), trust: typeof trust === 'string' ? trust : JSON.stringify(trust), maxSession: a.maxSessionDuration ?? 3600,
      ...(a.tags ? { tags: Object.entries(a.tags).map(([Key, Value]) => ({ Key, Value })) } : {}) });
    return id;
  }
  /** A user made out of band. Returns the UserId. */
  createUser(a: { accountId: string; userName: string; path?: string }): string {
    const id = 'AIDA' + randomId(17, 'upper');
    this.account(a.accountId).iam.users.set(a.userName, { name: a.userName, id, path: a.path ?? '/', created: this.rt.now() });
    return id;
  }
  setAccountState(a: { accountId: string; state: AccountState }): void { this.account(a.accountId).state = a.state; }

  ddbItems(a: { accountId: string; region: string; table: string }): unknown[] {
    const t = this.account(a.accountId).dynamodb.get(a.region)?.get(a.table);
    if (!t) throw new AdminError(`no table ${a.table}`);
    return [...t.items.values()];
  }

  ssmCommands(a: { accountId: string; region: string }): unknown[] { return [...ssmRegion(this.account(a.accountId), a.region).commands.values()]; }
  ssmInstance(a: { accountId: string; region: string; instanceId: string }): unknown {
    return ssmRegion(this.account(a.accountId), a.region).instances.get(a.instanceId);
  }
  /**
   * An instance appears (or changes), Linux and online unless told otherwise: an EC2
   * instance (`i-`) or a hybrid node (`mi-`). `iamRole` names its instance profile and the
   * role in it (EC2), or its service role (hybrid); `null` removes it.
   */
  putInstance(a: { accountId: string; region: string; instanceId: string; iamRole?: string | null; tags?: Record<string, string>; platform?: 'Linux' | 'Windows' }): void {
    const r = ssmRegion(this.account(a.accountId), a.region);
    const i = r.instances.get(a.instanceId) ?? {
      id: a.instanceId, platform: a.platform ?? 'Linux', platformName: a.platform === 'Windows' ? 'Microsoft Windows Server 2022 Datacenter' : 'Amazon Linux',
      platformVersion: a.platform === 'Windows' ? '10.0.20348' : '2023', ip: '10.0.0.10', computerName: `host-${a.instanceId}`, ping: 'Online' as const,
      registered: this.rt.now(), commands: [], osUsers: {},
    };
    if (a.iamRole === null) delete i.iamRole;
    else if (a.iamRole !== undefined) i.iamRole = a.iamRole;
    if (a.tags) i.tags = Object.entries(a.tags).map(([Key, Value]) => ({ Key, Value }));
    r.instances.set(a.instanceId, i);
  }
  /** A live Session Manager session appears, as if a user had started one. */
  startSsmSession(a: { accountId: string; region: string; target: string; owner: string }): string {
    const id = `${a.owner.split('/').pop()}-${uuid().slice(0, 17)}`;
    ssmRegion(this.account(a.accountId), a.region).sessions.set(id, { id, target: a.target, owner: a.owner, started: this.rt.now(), status: 'Connected' });
    return id;
  }
  ssmSessions(a: { accountId: string; region: string }): unknown[] { return [...ssmRegion(this.account(a.accountId), a.region).sessions.values()]; }
  /** The next `count` commands end Failed with `output`: every instance, or only `instanceId` (with accountId and region). */
  failNextCommands(a: { count?: number; output?: string; accountId?: string; region?: string; instanceId?: string }): void {
    if (!a.instanceId) { this.rt.ssmFailures.push({ count: a.count ?? 1, output: a.output ?? 'injected failure' }); return; }
    const inst = ssmRegion(this.account(a.accountId ?? ''), a.region ?? '').instances.get(a.instanceId);
    if (!inst) throw new AdminError(`no instance ${a.instanceId} in ${a.accountId} / ${a.region}`);
    inst.failNext = { count: a.count ?? 1, output: a.output ?? 'injected failure' };
  }
  /** The next `count` commands on the instance never finish (a hung agent or script): InProgress for ever. */
  hangNextCommands(a: { accountId: string; region: string; instanceId: string; count?: number }): void {
    const inst = ssmRegion(this.account(a.accountId), a.region).instances.get(a.instanceId);
    if (!inst) throw new AdminError(`no instance ${a.instanceId} in ${a.accountId} / ${a.region}`);
    inst.hangNext = a.count ?? 1;
  }
  /** An instance's SSM agent goes offline (ConnectionLost) or comes back (Online). */
  setInstancePing(a: { accountId: string; region: string; instanceId: string; ping: 'Online' | 'ConnectionLost' | 'Inactive' }): void {
    const inst = ssmRegion(this.account(a.accountId), a.region).instances.get(a.instanceId);
    if (!inst) throw new AdminError(`no instance ${a.instanceId} in ${a.accountId} / ${a.region}`);
    inst.ping = a.ping;
  }

  trailEvents(a: { accountId: string; region?: string }): TrailEvent[] {
    return this.account(a.accountId).trail.filter((e) => !a.region || e.region === a.region);
  }
  /** A write event as CloudTrail would log it for a change made out of band; `requestParameters` as AWS logs them (camelCase). */
  addTrailEvent(a: { accountId: string; region?: string; eventName: string; username: string; resourceName?: string; eventSource?: string; eventTime?: number; requestParameters?: Record<string, unknown> }): void {
    this.account(a.accountId).trail.push({
      EventId: uuid(), EventName: a.eventName, EventSource: a.eventSource ?? 'signin.amazonaws.com', EventTime: a.eventTime ?? this.rt.now(),
      Username: a.username, AccessKeyId: '', ReadOnly: 'false', Resources: a.resourceName ? [{ ResourceName: a.resourceName }] : [],
      region: a.region ?? globalRegion(this.rt.world), detail: a.requestParameters ? { requestParameters: a.requestParameters } : {},
    });
  }
  /**
   * organizations:TagResource on the root, an OU or an account, as the management account
   * would call it: the tags change and the event is logged in the management account, in
   * the partition's home region (Organizations is global).
   */
  tagOrganizationResource(a: { resourceId: string; tags: Record<string, string>; username?: string }): void {
    const w = this.rt.world;
    const org = w.organization;
    if (!org) throw new AdminError('the world has no organization');
    const add = (old: { Key: string; Value: string }[] | undefined) => [
      ...(old ?? []).filter((t) => !(t.Key in a.tags)), ...Object.entries(a.tags).map(([Key, Value]) => ({ Key, Value })),
    ];
    if (a.resourceId === org.rootId) org.rootTags = add(org.rootTags);
    else if (w.ous.has(a.resourceId)) w.ous.get(a.resourceId)!.tags = add(w.ous.get(a.resourceId)!.tags);
    else if (w.accounts.get(a.resourceId)?.inOrg) w.accounts.get(a.resourceId)!.tags = add(w.accounts.get(a.resourceId)!.tags);
    else throw new AdminError(`no root, OU or account ${a.resourceId}`);
    this.addTrailEvent({
      accountId: org.managementAccountId, eventSource: 'organizations.amazonaws.com', eventName: 'TagResource', username: a.username ?? 'admin',
      resourceName: a.resourceId, requestParameters: { resourceId: a.resourceId, tags: Object.entries(a.tags).map(([key, value]) => ({ key, value })) },
    });
  }
  /**
   * organizations:MoveAccount as the management account would call it: the account changes
   * parent and the event is logged in the management account's trail only, in the
   * partition's home region (the moved account's own trail sees nothing).
   */
  moveAccount(a: { accountId: string; destinationParentId: string; username?: string }): void {
    const w = this.rt.world;
    const org = w.organization;
    if (!org) throw new AdminError('the world has no organization');
    const acct = w.accounts.get(a.accountId);
    if (!acct?.inOrg) throw new AdminError(`no account ${a.accountId} in the organization`);
    if (a.destinationParentId !== org.rootId && !w.ous.has(a.destinationParentId)) throw new AdminError(`no root or OU ${a.destinationParentId}`);
    const from = acct.parentId;
    acct.parentId = a.destinationParentId;
    this.addTrailEvent({
      accountId: org.managementAccountId, eventSource: 'organizations.amazonaws.com', eventName: 'MoveAccount', username: a.username ?? 'admin',
      resourceName: a.accountId, requestParameters: { accountId: a.accountId, sourceParentId: from, destinationParentId: a.destinationParentId },
    });
  }
  /**
   * The organization's resource-based delegation policy (organizations:PutResourcePolicy, or
   * DeleteResourcePolicy for none) as the management account would set it: these member
   * accounts become delegated administrators that may read the organization. Logged in the
   * management account's trail at `eventTime` (default now): a test that wants a quiet feed
   * puts it further back than the window it reads.
   */
  setOrganizationDelegates(a: { accountIds: string[]; eventTime?: number }): void {
    const w = this.rt.world;
    const org = w.organization;
    if (!org) throw new AdminError('the world has no organization');
    for (const id of a.accountIds) {
      if (!w.accounts.get(id)?.inOrg || id === org.managementAccountId) throw new AdminError(`${id} is not a member account of the organization`);
    }
    org.delegatedAdministrators = [...a.accountIds];
    this.addTrailEvent({
      accountId: org.managementAccountId, eventSource: 'organizations.amazonaws.com', username: 'admin',
      eventName: a.accountIds.length > 0 ? 'PutResourcePolicy' : 'DeleteResourcePolicy', ...(a.eventTime !== undefined && { eventTime: a.eventTime }),
      ...(a.accountIds.length > 0 && { requestParameters: { content: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: a.accountIds.map((id) => `arn:${w.partition}:iam::${id}:root`) }, Action: ['organizations:Describe*', 'organizations:List*'], Resource: '*' }] }) } }),
    });
  }
  /** An IAM user deleted out of band (with its keys and group memberships); no event is logged: add it with addTrailEvent. */
  deleteUser(a: { accountId: string; userName: string }): boolean {
    const iam = this.account(a.accountId).iam;
    for (const g of iam.groups.values()) g.members = g.members.filter((m) => m !== a.userName);
    return iam.users.delete(a.userName);
  }

  /** An Identity Center user signs in to the AWS access portal (its CloudTrail events; default: now). */
  signIn(a: { userId: string; eventTime?: number }): void {
    const s = this.sso();
    const u = s.users.get(a.userId);
    if (!u) throw new AdminError(`no Identity Center user ${a.userId}`);
    this.account(s.ownerAccountId).trail.push(...signInEvents(this.rt.world, s, u, a.eventTime ?? this.rt.now()));
  }

  /** Turn an account's Resource Explorer index in `region` into an aggregator or a local one (AWS's UpdateIndexType, out of band). */
  setIndexType(a: { accountId: string; region: string; type: 'LOCAL' | 'AGGREGATOR' }): void {
    const idx = this.account(a.accountId).re.indexes.find((i) => i.region === a.region);
    if (!idx) throw new AdminError(`no Resource Explorer index in ${a.accountId} / ${a.region}`);
    idx.type = a.type;
  }
  /** Opt-in regions the account has not enabled (see world.regionEnabled). */
  setDisabledRegions(a: { accountId: string; regions: string[] }): void { this.account(a.accountId).disabledRegions = [...a.regions]; }
  advanceClock(a: { ms: number }): void { this.rt.advanceClock(a.ms); }
  setQuotas(a: { enabled?: boolean; timeScale?: number; rates?: Partial<Record<Family, number>>; refill?: boolean }): void {
    if (a.enabled !== undefined) this.rt.quotas.enabled = a.enabled;
    if (a.refill !== undefined) this.rt.quotas.refill = a.refill;
    if (a.timeScale !== undefined) this.rt.quotas.timeScale = a.timeScale;
    if (a.rates) Object.assign(this.rt.quotas.rates, a.rates);
    this.rt.quotas.reset();
  }
}

export const ADMIN_METHODS = Object.getOwnPropertyNames(SimAdmin.prototype).filter((m) => m !== 'constructor' && m !== 'account' && m !== 'sso');
