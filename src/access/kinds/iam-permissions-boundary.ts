// iam.permissionsBoundary: restricts an IAM user or role with a permissions boundary, and
// revoke puts back exactly what was there before (the previous boundary, or none). The
// previous boundary is read before the change and kept in the ledger, not in a tag the
// principal might edit. IAM allows one boundary per principal (reference_iam-quotas), so
// one connector boundary per principal: accessKey is the principal.
import {
  DeleteRolePermissionsBoundaryCommand,
  DeleteUserPermissionsBoundaryCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetUserCommand,
  PutRolePermissionsBoundaryCommand,
  PutUserPermissionsBoundaryCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import { checkIamPrincipal, iamClientFor, parseIamArn, principalArn, refuseProtectedRole, targetArn, type IamArn } from '../iam-common.js';
import { beforeChange, sendChange, type AccessContext, type AccessKindDef, type AccessRequest } from '../types.js';

const target = z.strictObject({
  boundaryPolicyArn: z.string().superRefine((s, c) => {
    const a = parseIamArn(s, ['policy']);
    if (typeof a === 'string') c.addIssue({ code: 'custom', message: a });
  }),
});
type Target = z.infer<typeof target>;

function parsed(ctx: AccessContext, req: AccessRequest<Target>): { principal: IamArn; boundary: IamArn } {
  const principal = principalArn(req.principal, ['user', 'role']);
  const boundary = targetArn('boundaryPolicyArn', req.target?.boundaryPolicyArn, ['policy']);
  // A boundary is an AWS-managed policy or a customer-managed one of the principal's own account.
  if (boundary.partition !== principal.partition || (boundary.accountId !== 'aws' && boundary.accountId !== principal.accountId)) {
    throw new ConnectorError('JOB_PARAMS_INVALID', `target.boundaryPolicyArn must be an AWS-managed policy or a policy of account ${principal.accountId} in partition ${principal.partition}`);
  }
  if (principal.type === 'role') refuseProtectedRole(ctx, principal);
  return { principal, boundary };
}

/** The principal's current boundary ARN, or null; checks the ARN is the principal's real one. */
async function currentBoundary(ctx: AccessContext, iam: IAMClient, p: IamArn): Promise<string | null> {
  if (p.type === 'role') {
    const r = (await iam.send(new GetRoleCommand({ RoleName: p.name }))).Role;
    if (!r || r.Arn !== p.arn) throw new ConnectorError('AWS_NOT_FOUND', `iam.GetRole in ${p.accountId}: no role with ARN ${p.arn} (found ${r?.Arn ?? 'none'})`);
    refuseProtectedRole(ctx, { name: r.RoleName ?? p.name, path: r.Path ?? '/' });
    return r.PermissionsBoundary?.PermissionsBoundaryArn ?? null;
  }
  const u = (await iam.send(new GetUserCommand({ UserName: p.name }))).User;
  if (!u || u.Arn !== p.arn) throw new ConnectorError('AWS_NOT_FOUND', `iam.GetUser in ${p.accountId}: no user with ARN ${p.arn} (found ${u?.Arn ?? 'none'})`);
  return u.PermissionsBoundary?.PermissionsBoundaryArn ?? null;
}

async function putBoundary(iam: IAMClient, p: IamArn, policyArn: string): Promise<void> {
  if (p.type === 'role') await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: p.name, PermissionsBoundary: policyArn }));
  else await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: p.name, PermissionsBoundary: policyArn }));
}

async function deleteBoundary(iam: IAMClient, p: IamArn): Promise<void> {
  try {
    if (p.type === 'role') await iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: p.name }));
    else await iam.send(new DeleteUserPermissionsBoundaryCommand({ UserName: p.name }));
  } catch (err) {
    if (!(err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND')) throw err;
  }
}

export const iamPermissionsBoundary: AccessKindDef<Target> = {
  name: 'iam.permissionsBoundary',
  summary: 'Restricts an IAM user or role with a permissions boundary; revoke restores the boundary it had before (or none).',
  principalTypes: ['user', 'role'],
  target,
  checkPrincipal: (p) => checkIamPrincipal(p, ['user', 'role']),
  requiredActions: [
    'iam:GetUser', 'iam:GetRole', 'iam:GetPolicy',
    'iam:PutUserPermissionsBoundary', 'iam:PutRolePermissionsBoundary', 'iam:DeleteUserPermissionsBoundary', 'iam:DeleteRolePermissionsBoundary',
    'organizations:DescribeOrganization',
  ],

  accessKey: (req) => req.principal.id,

  async facts(ctx, req) {
    const { principal, boundary } = parsed(ctx, req);
    const iam = await iamClientFor(ctx, principal);
    await currentBoundary(ctx, iam, principal);
    try {
      await iam.send(new GetPolicyCommand({ PolicyArn: boundary.arn }));
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') {
        throw new ConnectorError('AWS_NOT_FOUND', `boundary policy ${boundary.arn} does not exist in account ${principal.accountId}`, { cause: err });
      }
      throw err;
    }
    return { accountIds: [principal.accountId], ...(principal.type === 'role' && { roles: [principal.arn] }), boundaries: [boundary.arn] };
  },

  async describe(ctx, req) {
    const { principal, boundary } = parsed(ctx, req);
    const current = await currentBoundary(ctx, await iamClientFor(ctx, principal), principal);
    return { present: current === boundary.arn, observed: { previousBoundary: current } };
  },

  async grant(ctx, req, before) {
    const { principal, boundary } = parsed(ctx, req);
    const iam = await beforeChange(() => iamClientFor(ctx, principal));
    const previous = before.observed && 'previousBoundary' in before.observed ? before.observed.previousBoundary : await beforeChange(() => currentBoundary(ctx, iam, principal));
    await sendChange(() => putBoundary(iam, principal, boundary.arn));
    return { previousBoundary: previous ?? null };
  },

  async revoke(ctx, req, kept) {
    const { principal, boundary } = parsed(ctx, req);
    const previous = kept.previousBoundary;
    // Read from the ledger, and sent to AWS: validated like any request field.
    if (!(previous === null || (typeof previous === 'string' && typeof parseIamArn(previous, ['policy']) !== 'string'))) {
      throw new ConnectorError('ACCESS_FAILED', `the ledger holds no valid previous boundary for ${principal.arn}; its boundary was left unchanged`);
    }
    const iam = await iamClientFor(ctx, principal);
    let current: string | null;
    try {
      current = await currentBoundary(ctx, iam, principal);
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') return { notes: [`${principal.arn} no longer exists; nothing to restore`] };
      throw err;
    }
    if (current !== boundary.arn) {
      if (current === previous) return { notes: ['the previous boundary was already in place'] };
      // Someone changed the boundary after the grant: theirs wins, ours is already gone.
      return { notes: [`the boundary of ${principal.arn} is now ${current ?? 'none'}, not ${boundary.arn} that the grant set; left unchanged`] };
    }
    if (previous === null) {
      await deleteBoundary(iam, principal);
      return { notes: ['boundary removed: there was none before the grant'] };
    }
    try {
      await putBoundary(iam, principal, previous);
    } catch (err) {
      // Deleting ours instead would leave the principal less restricted than before the grant.
      if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') {
        throw new ConnectorError('ACCESS_FAILED', `the previous boundary ${previous} of ${principal.arn} no longer exists, so it cannot be restored; ${boundary.arn} was left in place: set the boundary by hand`, { cause: err });
      }
      throw err;
    }
    return { notes: [`previous boundary ${previous} restored`] };
  },

  accessDetails: (_ctx, req) => ({
    instructions: `${req.principal.id} is limited by the permissions boundary ${req.target.boundaryPolicyArn}: it may do only what both its own policies and the boundary allow.`,
    revokeLimits: ['Revoke restores the previous boundary only while the boundary is still the one this grant set; IAM applies the change within seconds.'],
  }),
};
