// sso.accountAssignment: an Identity Center user or group gets a permission set in one
// account. Assignments are asynchronous in AWS: grant and revoke return only when AWS
// reports the operation SUCCEEDED (identity-center.ts).
import * as z from 'zod';
import { ACCOUNT_ID, IDENTITY_STORE_ID, PERMISSION_SET_ARN, createAssignment, deleteAssignment, formatDuration, hasAssignment, knownPermissionSet, permissionSetInfo, policiesIn, portalLink, type AssignmentRef } from '../identity-center.js';
import { refuseProtectedAccounts } from '../accounts.js';
import type { AccessContext, AccessKindDef, AccessRequest, Principal } from '../types.js';

const target = z.strictObject({
  accountId: z.string().regex(ACCOUNT_ID, 'must be a 12-digit AWS account id'),
  permissionSetArn: z.string().max(1224).regex(PERMISSION_SET_ARN, 'must be an IAM Identity Center permission set ARN'),
});
type Target = z.infer<typeof target>;

function ref(req: AccessRequest<Target>): AssignmentRef {
  return {
    accountId: req.target.accountId,
    permissionSetArn: req.target.permissionSetArn,
    principalType: req.principal.type === 'group' ? 'GROUP' : 'USER',
    principalId: req.principal.id,
  };
}

export const ssoAccountAssignment: AccessKindDef<Target> = {
  name: 'sso.accountAssignment',
  summary: 'Assigns an Identity Center user or group a permission set in one account.',
  principalTypes: ['user', 'group'],
  target,
  checkPrincipal: (p: Principal) => (IDENTITY_STORE_ID.test(p.id) ? undefined : 'principal.id must be an Identity Store user or group id'),
  requiredActions: [
    'sso:ListInstances',
    'organizations:DescribeOrganization',
    'sso:DescribePermissionSet',
    'sso:ListManagedPoliciesInPermissionSet',
    'sso:ListCustomerManagedPolicyReferencesInPermissionSet',
    'sso:ListAccountAssignments',
    'sso:CreateAccountAssignment',
    'sso:DescribeAccountAssignmentCreationStatus',
    'sso:DeleteAccountAssignment',
    'sso:DescribeAccountAssignmentDeletionStatus',
    // Shared status reads of operations that run long (src/access/identity-center.ts).
    'sso:ListAccountAssignmentCreationStatus',
    'sso:ListAccountAssignmentDeletionStatus',
  ],

  // Not the instance: a permission set ARN already names its instance.
  accessKey: (req) => {
    const a = ref(req);
    return `sso.accountAssignment:${a.accountId}|${a.permissionSetArn}|${a.principalType}|${a.principalId}`;
  },

  async facts(ctx, req) {
    const { accountId, permissionSetArn } = req.target;
    await refuseProtectedAccounts(ctx, [accountId], `An assignment in account ${accountId}`);
    const ps = await permissionSetInfo(ctx, permissionSetArn);
    const policies = policiesIn(ps, [accountId]);
    return {
      accountIds: [accountId],
      permissionSets: [{ arn: ps.arn, name: ps.name, managedPolicies: policies }],
      managedPolicies: policies,
    };
  },

  async describe(ctx, req) {
    return { present: await hasAssignment(ctx, ref(req)) };
  },

  async grant(ctx, req) {
    await createAssignment(ctx, ref(req));
  },

  async revoke(ctx, req) {
    const r = await deleteAssignment(ctx, ref(req));
    return r === 'absent' ? { notes: ['The assignment was already gone in AWS.'] } : {};
  },

  accessDetails(ctx: AccessContext, req) {
    const { accountId, permissionSetArn } = req.target;
    const ps = knownPermissionSet(ctx, permissionSetArn);
    const link = portalLink(ctx, ps && { accountId, roleName: ps.name });
    const what = ps ? `the permission set ${ps.name}` : 'the assigned permission set';
    const duration = formatDuration(ps?.sessionDuration);
    const instructions = [
      `Sign in to the AWS access portal and open account ${accountId} with ${what}${link.url ? ' (the link goes straight there)' : ''}; the portal also gives CLI credentials.`,
      link.note,
    ].filter(Boolean).join(' ');
    return {
      instructions,
      ...(link.url && { url: link.url }),
      revokeLimits: [
        `Console and CLI sessions opened before the revoke stay valid until they expire${duration ? ` (the permission set's session duration is ${duration})` : " (the permission set's session duration)"}; revoking only stops new ones.`,
      ],
      ...(ctx.integration.customAccessDetails && { custom: ctx.integration.customAccessDetails }),
    };
  },
};

