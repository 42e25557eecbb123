// IAM Identity Center administration (sso-admin, awsJson1_1). Assignment create/delete and
// ProvisionPermissionSet are asynchronous: the operation stays IN_PROGRESS for a configurable
// (time-scaled) delay and is settled lazily on the next call that looks at it, so no timers
// outlive a test. A permission set's policies reach an account only when it is provisioned
// there (by its first assignment, or ProvisionPermissionSet); the last assignment's deletion
// deprovisions it.
import { SimError, validation } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { Assignment, AssignmentOp, PermissionSet, SsoInstance } from '../world.js';
import { addAssignment, assignmentKey, removeAssignment } from '../world.js';
import type { SimRuntime } from '../runtime.js';
import { list, num, paginate, randomId, str, uuid } from '../util.js';

const notFound = (m: string) => new SimError('ResourceNotFoundException', m, 400);

/** The instance named by InstanceArn, reachable only from its owner account and region. */
export function instance(ctx: Ctx, arnField = 'InstanceArn'): SsoInstance {
  const sso = ctx.world.sso;
  const a = str(ctx.input[arnField]);
  if (!sso || a !== sso.arn || ctx.region !== sso.region) throw notFound(`Could not find Identity Center instance with InstanceArn ${a}`);
  if (ctx.account.id !== sso.ownerAccountId) throw new SimError('AccessDeniedException', `User: ${ctx.session.arn} is not authorized to perform: sso:${ctx.op} on resource: ${a}`, 400);
  settle(ctx.sim, sso, ctx.now);
  return sso;
}

function page<T>(ctx: Ctx, items: T[], scope: string) {
  return paginate(items, {
    max: num(ctx.input.MaxResults), token: str(ctx.input.NextToken), cap: 100, scope: `${ctx.op}|${scope}`,
    invalidToken: () => validation('sso-admin', 'Invalid NextToken'),
    tooLarge: (n) => validation('sso-admin', `1 validation error detected: Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100`),
  });
}

function permissionSet(ctx: Ctx, sso: SsoInstance) {
  const a = str(ctx.input.PermissionSetArn) ?? '';
  const ps = sso.permissionSets.get(a);
  if (!ps) throw notFound(`Could not find PermissionSet with PermissionSetArn ${a}`);
  return ps;
}

/**
 * Apply every operation whose delay has passed by `now`. A request passes its own instant
 * (ctx.now), the one its new operation is stamped with: reading the clock again here would
 * let an operation that completed while the request was being handled (a busy host) free a
 * slot for one whose lifetime overlaps it, and the outstanding limit would not hold.
 */
export function settle(sim: SimRuntime, sso: SsoInstance, now = sim.now()): void {
  for (const op of sso.ops.values()) {
    if (op.status !== 'IN_PROGRESS' || op.completesAt > now) continue;
    if (op.failureReason) { op.status = 'FAILED'; continue; }
    const a = op.a;
    if (op.kind === 'create') {
      const acct = sim.world.accounts.get(a.accountId);
      const principalOk = a.principalType === 'USER' ? sso.users.has(a.principalId) : sso.groups.has(a.principalId);
      if (!principalOk) {
        op.status = 'FAILED';
        op.failureReason = `Received a 404 status error: No ${a.principalType === 'USER' ? 'user' : 'group'} with id ${a.principalId} found.`;
      } else if (!acct || !acct.inOrg || acct.state !== 'ACTIVE') {
        op.status = 'FAILED';
        op.failureReason = `Account ${a.accountId} is not an active member of the organization.`;
      } else if (!sso.permissionSets.has(a.permissionSetArn)) {
        op.status = 'FAILED';
        op.failureReason = `Permission set ${a.permissionSetArn} no longer exists.`;
      } else {
        // The first assignment in an account provisions the permission set there (its
        // AWSReservedSSO_ role with the policies as they are now).
        const ps = sso.permissionSets.get(a.permissionSetArn)!;
        if (!sso.provisioned.get(a.accountId)?.has(ps.arn)) (ps.provisionedInline ??= {})[a.accountId] = ps.inline ?? '';
        addAssignment(sso, a);
        op.status = 'SUCCEEDED';
      }
    } else {
      removeAssignment(sso, a);
      // Removing the last assignment of a permission set in an account deprovisions it there.
      if ((sso.byTarget.get(`${a.permissionSetArn}|${a.accountId}`)?.size ?? 0) === 0) {
        sso.provisioned.get(a.accountId)?.delete(a.permissionSetArn);
        delete sso.permissionSets.get(a.permissionSetArn)?.provisionedInline?.[a.accountId];
      }
      op.status = 'SUCCEEDED';
    }
  }
  settleProvisioning(sim, sso, now);
}

function opOut(op: AssignmentOp): Record<string, unknown> {
  return {
    Status: op.status, RequestId: op.requestId, ...(op.failureReason && op.status === 'FAILED' ? { FailureReason: op.failureReason } : {}),
    TargetId: op.a.accountId, TargetType: 'AWS_ACCOUNT', PermissionSetArn: op.a.permissionSetArn,
    PrincipalType: op.a.principalType, PrincipalId: op.a.principalId, CreatedDate: new Date(op.created),
  };
}

function startOp(ctx: Ctx, kind: 'create' | 'delete'): AssignmentOp {
  const sso = instance(ctx);
  const ps = permissionSet(ctx, sso);
  const accountId = str(ctx.input.TargetId) ?? '';
  if (!/^\d{12}$/.test(accountId)) throw validation('sso-admin', `1 validation error detected: Value '${accountId}' at 'targetId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d{12}`);
  if (str(ctx.input.TargetType) !== 'AWS_ACCOUNT') throw validation('sso-admin', 'TargetType must be AWS_ACCOUNT');
  const principalType = str(ctx.input.PrincipalType);
  if (principalType !== 'USER' && principalType !== 'GROUP') throw validation('sso-admin', 'PrincipalType must be USER or GROUP');
  const a: Assignment = { accountId, permissionSetArn: ps.arn, principalType, principalId: str(ctx.input.PrincipalId) ?? '' };
  const key = assignmentKey(a);
  const opts = ctx.sim.options.sso ?? {};
  const inProgress = [...sso.ops.values()].filter((o) => o.status === 'IN_PROGRESS');
  if (inProgress.some((o) => assignmentKey(o.a) === key)) {
    throw new SimError('ConflictException', 'An operation on this account assignment is already in progress. Try again later.', 400);
  }
  if (inProgress.length >= (opts.maxOutstanding ?? 10)) {
    const code = opts.outstandingError ?? 'ConflictException';
    throw new SimError(code, code === 'ThrottlingException' ? 'Rate exceeded' : 'Too many concurrent account assignment operations. Try again later.', 400);
  }
  if (kind === 'delete' && !sso.assignments.has(key)) {
    throw notFound(`Could not find account assignment for PrincipalId ${a.principalId} on account ${accountId} with PermissionSetArn ${ps.arn}`);
  }
  const fail = ctx.sim.ssoFailures[0];
  const op: AssignmentOp = {
    kind, requestId: uuid(), created: ctx.now, completesAt: ctx.now + ctx.sim.scaled(fail?.afterMs ?? opts.assignmentDelayMs ?? 2000),
    status: 'IN_PROGRESS', a, ...(fail ? { failureReason: fail.reason } : {}),
  };
  if (fail && --fail.count <= 0) ctx.sim.ssoFailures.shift();
  sso.ops.set(op.requestId, op);
  settle(ctx.sim, sso, ctx.now); // a zero delay completes at once
  return op;
}

function describeOp(ctx: Ctx, kind: 'create' | 'delete', field: string): AssignmentOp {
  const sso = instance(ctx);
  const id = str(ctx.input[field]) ?? '';
  const op = sso.ops.get(id);
  if (!op || op.kind !== kind) throw notFound(`Could not find request with id ${id}`);
  return op;
}

function listOps(ctx: Ctx, kind: 'create' | 'delete') {
  const sso = instance(ctx);
  const status = str((ctx.input.Filter as { Status?: string } | undefined)?.Status);
  const ops = [...sso.ops.values()].filter((o) => o.kind === kind && (!status || o.status === status)).sort((x, y) => x.created - y.created);
  const p = page(ctx, ops, status ?? '');
  return { items: p.items.map((o) => ({ Status: o.status, RequestId: o.requestId, CreatedDate: new Date(o.created) })), NextToken: p.next };
}

// ---- Permission sets: create, inline policy, provisioning, delete ----

interface ProvisionOp {
  requestId: string; created: number; completesAt: number; status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  failureReason?: string; permissionSetArn: string; accountId?: string;
}
/** Provisioning operations per instance (kept beside the world, which only models assignments). */
const provisionOps = new WeakMap<SsoInstance, Map<string, ProvisionOp>>();
function provisioningOf(sso: SsoInstance): Map<string, ProvisionOp> {
  let m = provisionOps.get(sso);
  if (!m) provisionOps.set(sso, (m = new Map()));
  return m;
}

/** Apply every provisioning operation whose delay has passed. */
function settleProvisioning(sim: SimRuntime, sso: SsoInstance, now = sim.now()): void {
  for (const op of provisioningOf(sso).values()) {
    if (op.status !== 'IN_PROGRESS' || op.completesAt > now) continue;
    const ps = sso.permissionSets.get(op.permissionSetArn);
    const accounts = op.accountId ? [op.accountId]
      : [...sso.provisioned.entries()].filter(([, set]) => set.has(op.permissionSetArn)).map(([acct]) => acct);
    if (!ps) {
      op.status = 'FAILED';
      op.failureReason = `Permission set ${op.permissionSetArn} no longer exists.`;
    } else if (op.accountId && !sso.provisioned.get(op.accountId)?.has(ps.arn)) {
      // What AWS answers when the permission set is not (or no longer) in the account.
      op.status = 'FAILED';
      op.failureReason = `Received a 404 status error: Permission set provision not found in AWS account ${op.accountId}.`;
    } else {
      for (const acct of accounts) (ps.provisionedInline ??= {})[acct] = ps.inline ?? '';
      op.status = 'SUCCEEDED';
    }
  }
}

function provisionOut(op: ProvisionOp): Record<string, unknown> {
  return {
    Status: op.status, RequestId: op.requestId, PermissionSetArn: op.permissionSetArn, CreatedDate: new Date(op.created),
    ...(op.accountId ? { AccountId: op.accountId } : {}), ...(op.failureReason && op.status === 'FAILED' ? { FailureReason: op.failureReason } : {}),
  };
}

const PS_NAME = /^[\w+=,.@-]{1,32}$/;
const PS_DESCRIPTION = /^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]{1,700}$/;
const MAX_PERMISSION_SETS = 2000;
const MAX_INLINE_POLICY = 32_768;

/** ISO-8601 duration (the time part AWS uses for sessions) in ms, or undefined when malformed. */
function durationMs(d: string): number | undefined {
  const m = /^PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(d);
  if (!m) return undefined;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

function psOut(ps: PermissionSet): Record<string, unknown> {
  return { Name: ps.name, PermissionSetArn: ps.arn, Description: ps.description, CreatedDate: new Date(ps.created), SessionDuration: ps.sessionDuration, RelayState: ps.relayState };
}

export const ssoAdminService: ServiceDef = {
  name: 'sso-admin',
  protocol: 'json1.1',
  iamPrefix: 'sso',
  eventSource: 'sso.amazonaws.com',
  family: () => 'identitycenter',
  mutating: new Set(['CreateAccountAssignment', 'DeleteAccountAssignment', 'CreatePermissionSet', 'DeletePermissionSet',
    'PutInlinePolicyToPermissionSet', 'DeleteInlinePolicyFromPermissionSet', 'ProvisionPermissionSet']),
  resource: (ctx) => str(ctx.input.PermissionSetArn) ?? str(ctx.input.InstanceArn) ?? '*',
  // Resource types as the service authorization reference lists them: the instance, the
  // permission set (with its tags; for CreatePermissionSet the one being created, which
  // has none yet) and the account of assignment and provisioning operations.
  authContext: (ctx) => {
    const resources: Array<{ arn: string; tags?: Array<{ Key: string; Value: string }> }> = [];
    const inst = str(ctx.input.InstanceArn);
    if (inst) resources.push({ arn: inst, tags: [] });
    const psArn = str(ctx.input.PermissionSetArn);
    if (psArn) resources.push({ arn: psArn, tags: ctx.world.sso?.permissionSets.get(psArn)?.tags ?? [] });
    if (ctx.op === 'CreatePermissionSet' && inst) resources.push({ arn: `${inst.replace(':instance/', ':permissionSet/')}/ps-new`, tags: [] });
    const account = str(ctx.input.TargetId) ?? str(ctx.input.AccountId);
    if (account && /^\d{12}$/.test(account)) resources.push({ arn: `arn:${ctx.world.partition}:sso:::account/${account}` });
    return {
      ...(resources.length > 0 ? { resources } : {}),
      ...(ctx.input.Tags !== undefined ? { requestTags: list<{ Key: string; Value: string }>(ctx.input.Tags) } : {}),
    };
  },
  ops: {
    ListInstances: (ctx) => {
      const sso = ctx.world.sso;
      const visible = sso && sso.ownerAccountId === ctx.account.id && sso.region === ctx.region ? [sso] : [];
      const p = page(ctx, visible, '');
      return { Instances: p.items.map((i) => ({
        InstanceArn: i.arn, IdentityStoreId: i.identityStoreId, OwnerAccountId: i.ownerAccountId, Name: i.name,
        CreatedDate: new Date(i.created), Status: 'ACTIVE',
      })), NextToken: p.next };
    },
    DescribeInstance: (ctx) => {
      const i = instance(ctx);
      return { InstanceArn: i.arn, IdentityStoreId: i.identityStoreId, OwnerAccountId: i.ownerAccountId, Name: i.name, CreatedDate: new Date(i.created), Status: 'ACTIVE' };
    },
    ListPermissionSets: (ctx) => {
      const sso = instance(ctx);
      const p = page(ctx, [...sso.permissionSets.keys()].sort(), '');
      return { PermissionSets: p.items, NextToken: p.next };
    },
    DescribePermissionSet: (ctx) => {
      const ps = permissionSet(ctx, instance(ctx));
      return { PermissionSet: { Name: ps.name, PermissionSetArn: ps.arn, Description: ps.description, CreatedDate: new Date(ps.created), SessionDuration: ps.sessionDuration, RelayState: ps.relayState } };
    },
    ListPermissionSetsProvisionedToAccount: (ctx) => {
      const sso = instance(ctx);
      const acct = str(ctx.input.AccountId) ?? '';
      const p = page(ctx, [...(sso.provisioned.get(acct) ?? [])].sort(), acct);
      return { PermissionSets: p.items, NextToken: p.next };
    },
    ListAccountAssignments: (ctx) => {
      const sso = instance(ctx);
      const ps = permissionSet(ctx, sso);
      const acct = str(ctx.input.AccountId) ?? '';
      const keys = [...(sso.byTarget.get(`${ps.arn}|${acct}`) ?? [])].sort();
      const p = page(ctx, keys, `${ps.arn}|${acct}`);
      return { AccountAssignments: p.items.map((k) => {
        const a = sso.assignments.get(k)!;
        return { AccountId: a.accountId, PermissionSetArn: a.permissionSetArn, PrincipalType: a.principalType, PrincipalId: a.principalId };
      }), NextToken: p.next };
    },
    ListAccountAssignmentsForPrincipal: (ctx) => {
      const sso = instance(ctx);
      const pid = str(ctx.input.PrincipalId);
      const ptype = str(ctx.input.PrincipalType);
      const acct = str((ctx.input.Filter as { AccountId?: string } | undefined)?.AccountId);
      const all = [...sso.assignments.entries()].filter(([, a]) => a.principalId === pid && a.principalType === ptype && (!acct || a.accountId === acct))
        .sort(([x], [y]) => (x < y ? -1 : 1)).map(([, a]) => a);
      const p = page(ctx, all, `${ptype}|${pid}|${acct ?? ''}`);
      return { AccountAssignments: p.items.map((a) => ({ AccountId: a.accountId, PermissionSetArn: a.permissionSetArn, PrincipalId: a.principalId, PrincipalType: a.principalType })), NextToken: p.next };
    },
    ListManagedPoliciesInPermissionSet: (ctx) => {
      const ps = permissionSet(ctx, instance(ctx));
      const p = page(ctx, ps.managed, ps.arn);
      return { AttachedManagedPolicies: p.items.map((a) => ({ Arn: a, Name: a.split('/').pop() })), NextToken: p.next };
    },
    ListCustomerManagedPolicyReferencesInPermissionSet: (ctx) => {
      const ps = permissionSet(ctx, instance(ctx));
      const p = page(ctx, ps.customerManaged, ps.arn);
      return { CustomerManagedPolicyReferences: p.items, NextToken: p.next };
    },
    // Tags of a permission set (or of the instance). InstanceArn is optional in today's
    // API; without it the instance is the one the permission set ARN names.
    ListTagsForResource: (ctx) => {
      const resourceArn = str(ctx.input.ResourceArn) ?? '';
      ctx.input.InstanceArn ??= resourceArn.replace(/^(arn:[^:]+:sso:::)permissionSet\/(ssoins-[0-9a-f]+)\/.*$/, '$1instance/$2');
      const sso = instance(ctx);
      const ps = sso.permissionSets.get(resourceArn);
      if (!ps && resourceArn !== sso.arn) throw notFound(`Could not find resource with ResourceArn ${resourceArn}`);
      const p = page(ctx, ps?.tags ?? [], resourceArn);
      return { Tags: p.items, NextToken: p.next };
    },
    GetInlinePolicyForPermissionSet: (ctx) => ({ InlinePolicy: permissionSet(ctx, instance(ctx)).inline ?? '' }),
    GetPermissionsBoundaryForPermissionSet: (ctx) => {
      const ps = permissionSet(ctx, instance(ctx));
      if (!ps.boundary) throw notFound(`Could not find a permissions boundary for PermissionSet ${ps.arn}`);
      return { PermissionsBoundary: ps.boundary };
    },
    CreateAccountAssignment: (ctx) => ({ AccountAssignmentCreationStatus: opOut(startOp(ctx, 'create')) }),
    DeleteAccountAssignment: (ctx) => ({ AccountAssignmentDeletionStatus: opOut(startOp(ctx, 'delete')) }),
    DescribeAccountAssignmentCreationStatus: (ctx) => ({ AccountAssignmentCreationStatus: opOut(describeOp(ctx, 'create', 'AccountAssignmentCreationRequestId')) }),
    DescribeAccountAssignmentDeletionStatus: (ctx) => ({ AccountAssignmentDeletionStatus: opOut(describeOp(ctx, 'delete', 'AccountAssignmentDeletionRequestId')) }),
    ListAccountAssignmentCreationStatus: (ctx) => {
      const r = listOps(ctx, 'create');
      return { AccountAssignmentsCreationStatus: r.items, NextToken: r.NextToken };
    },
    ListAccountAssignmentDeletionStatus: (ctx) => {
      const r = listOps(ctx, 'delete');
      return { AccountAssignmentsDeletionStatus: r.items, NextToken: r.NextToken };
    },

    CreatePermissionSet: (ctx) => {
      const sso = instance(ctx);
      const name = str(ctx.input.Name) ?? '';
      if (!PS_NAME.test(name)) throw validation('sso-admin', `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and length between 1 and 32`);
      const description = str(ctx.input.Description);
      if (description !== undefined && !PS_DESCRIPTION.test(description)) throw validation('sso-admin', "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]* and length between 1 and 700");
      const sessionDuration = str(ctx.input.SessionDuration) ?? 'PT1H';
      const ms = durationMs(sessionDuration);
      if (ms === undefined) throw validation('sso-admin', `1 validation error detected: Value '${sessionDuration}' at 'sessionDuration' failed to satisfy constraint: Member must satisfy ISO-8601 duration pattern`);
      if (ms < 3_600_000 || ms > 12 * 3_600_000) throw validation('sso-admin', `Session duration ${sessionDuration} is not valid: it must be between PT1H and PT12H.`);
      if ([...sso.permissionSets.values()].some((p) => p.name === name)) throw new SimError('ConflictException', `PermissionSet with name ${name} already exists.`, 400);
      if (sso.permissionSets.size >= MAX_PERMISSION_SETS) throw new SimError('ServiceQuotaExceededException', 'The request failed because it would exceed one of the service quotas for your current account: permission sets per instance.', 400);
      const ps: PermissionSet = {
        arn: `${sso.arn.replace(':instance/', ':permissionSet/')}/ps-${randomId(16, 'hex')}`, name, created: ctx.now, sessionDuration,
        managed: [], customerManaged: [], ...(description !== undefined ? { description } : {}),
        ...(str(ctx.input.RelayState) !== undefined ? { relayState: str(ctx.input.RelayState)! } : {}),
        ...(ctx.input.Tags ? { tags: list<{ Key: string; Value: string }>(ctx.input.Tags) } : {}),
      };
      sso.permissionSets.set(ps.arn, ps);
      return { PermissionSet: psOut(ps) };
    },
    // AWS refuses to delete a permission set still assigned or provisioned in an account
    // (deprovisioning after the last assignment's deletion takes a while).
    DeletePermissionSet: (ctx) => {
      const sso = instance(ctx);
      const ps = permissionSet(ctx, sso);
      const assigned = [...sso.byTarget.entries()].some(([k, v]) => k.startsWith(`${ps.arn}|`) && v.size > 0);
      const provisioned = [...sso.provisioned.values()].some((set) => set.has(ps.arn));
      if (assigned || provisioned) throw new SimError('ConflictException', 'Could not delete because PermissionSet has ApplicationProfile associated with it', 400);
      sso.permissionSets.delete(ps.arn);
      return {};
    },
    PutInlinePolicyToPermissionSet: (ctx) => {
      const ps = permissionSet(ctx, instance(ctx));
      const doc = str(ctx.input.InlinePolicy) ?? '';
      if (doc.length < 1 || doc.length > MAX_INLINE_POLICY) throw validation('sso-admin', `1 validation error detected: Value at 'inlinePolicy' failed to satisfy constraint: Member must have length between 1 and ${MAX_INLINE_POLICY}`);
      try { JSON.parse(doc); } catch { throw validation('sso-admin', 'The inline policy is not a valid JSON policy document.'); }
      ps.inline = doc;
      return {};
    },
    DeleteInlinePolicyFromPermissionSet: (ctx) => {
      const ps = permissionSet(ctx, instance(ctx));
      delete ps.inline;
      return {};
    },
    ProvisionPermissionSet: (ctx) => {
      const sso = instance(ctx);
      const ps = permissionSet(ctx, sso);
      const targetType = str(ctx.input.TargetType);
      const accountId = str(ctx.input.TargetId);
      if (targetType !== 'AWS_ACCOUNT' && targetType !== 'ALL_PROVISIONED_ACCOUNTS') throw validation('sso-admin', 'TargetType must be AWS_ACCOUNT or ALL_PROVISIONED_ACCOUNTS');
      if (targetType === 'AWS_ACCOUNT' && !/^\d{12}$/.test(accountId ?? '')) throw validation('sso-admin', `1 validation error detected: Value '${accountId ?? ''}' at 'targetId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d{12}`);
      const ops = provisioningOf(sso);
      if ([...ops.values()].some((o) => o.status === 'IN_PROGRESS' && o.permissionSetArn === ps.arn)) {
        throw new SimError('ConflictException', 'A provisioning operation on this permission set is already in progress. Try again later.', 400);
      }
      const op: ProvisionOp = {
        requestId: uuid(), created: ctx.now, completesAt: ctx.now + ctx.sim.scaled(ctx.sim.options.sso?.assignmentDelayMs ?? 2000),
        status: 'IN_PROGRESS', permissionSetArn: ps.arn, ...(targetType === 'AWS_ACCOUNT' ? { accountId: accountId! } : {}),
      };
      ops.set(op.requestId, op);
      settleProvisioning(ctx.sim, sso, ctx.now);
      return { PermissionSetProvisioningStatus: provisionOut(op) };
    },
    DescribePermissionSetProvisioningStatus: (ctx) => {
      const sso = instance(ctx);
      const id = str(ctx.input.ProvisionPermissionSetRequestId) ?? '';
      const op = provisioningOf(sso).get(id);
      if (!op) throw notFound(`Could not find request with id ${id}`);
      return { PermissionSetProvisioningStatus: provisionOut(op) };
    },
    ListAccountsForProvisionedPermissionSet: (ctx) => {
      const sso = instance(ctx);
      const ps = permissionSet(ctx, sso);
      const accounts = [...sso.provisioned.entries()].filter(([, set]) => set.has(ps.arn)).map(([acct]) => acct).sort();
      const p = page(ctx, accounts, ps.arn);
      return { AccountIds: p.items, NextToken: p.next };
    },
  },
};
