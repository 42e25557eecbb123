// IAM Identity Center administration (sso-admin, awsJson1_1). Assignment create/delete are
// asynchronous: the operation stays IN_PROGRESS for a configurable (time-scaled) delay and is
// settled lazily on the next call that looks at it, so no timers outlive a test.
import { SimError, validation } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { Assignment, AssignmentOp, SsoInstance } from '../world.js';
import { addAssignment, assignmentKey, removeAssignment } from '../world.js';
import type { SimRuntime } from '../runtime.js';
import { num, paginate, str, uuid } from '../util.js';

const notFound = (m: string) => new SimError('ResourceNotFoundException', m, 400);

/** The instance named by InstanceArn, reachable only from its owner account and region. */
export function instance(ctx: Ctx, arnField = 'InstanceArn'): SsoInstance {
  const sso = ctx.world.sso;
  const a = str(ctx.input[arnField]);
  if (!sso || a !== sso.arn || ctx.region !== sso.region) throw notFound(`Could not find Identity Center instance with InstanceArn ${a}`);
  if (ctx.account.id !== sso.ownerAccountId) throw new SimError('AccessDeniedException', `User: ${ctx.session.arn} is not authorized to perform: sso:${ctx.op} on resource: ${a}`, 400);
  settle(ctx.sim, sso);
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

/** Apply every operation whose delay has passed. */
export function settle(sim: SimRuntime, sso: SsoInstance): void {
  const now = sim.now();
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
        addAssignment(sso, a);
        op.status = 'SUCCEEDED';
      }
    } else {
      removeAssignment(sso, a);
      op.status = 'SUCCEEDED';
    }
  }
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
    kind, requestId: uuid(), created: ctx.now, completesAt: ctx.now + ctx.sim.scaled(opts.assignmentDelayMs ?? 2000),
    status: 'IN_PROGRESS', a, ...(fail ? { failureReason: fail.reason } : {}),
  };
  if (fail && --fail.count <= 0) ctx.sim.ssoFailures.shift();
  sso.ops.set(op.requestId, op);
  settle(ctx.sim, sso); // a zero delay completes at once
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

export const ssoAdminService: ServiceDef = {
  name: 'sso-admin',
  protocol: 'json1.1',
  iamPrefix: 'sso',
  eventSource: 'sso.amazonaws.com',
  family: () => 'identitycenter',
  mutating: new Set(['CreateAccountAssignment', 'DeleteAccountAssignment']),
  resource: (ctx) => str(ctx.input.PermissionSetArn) ?? str(ctx.input.InstanceArn) ?? '*',
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
  },
};
