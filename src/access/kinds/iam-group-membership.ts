// iam.groupMembership: an IAM user joins an IAM group of its own account. IAM evaluates a
// user's groups on every request, so removal also takes effect for sessions the user
// already holds (console, GetSessionToken), after IAM's propagation delay.
import {
  AddUserToGroupCommand,
  GetGroupCommand,
  GetUserCommand,
  ListAttachedGroupPoliciesCommand,
  ListGroupsForUserCommand,
  RemoveUserFromGroupCommand,
} from '@aws-sdk/client-iam';
import * as z from 'zod';
import { collect, paginate, pageSize } from '../../aws/paginate.js';
import { ConnectorError } from '../../errors.js';
import { checkIamPrincipal, iamClientFor, isIamName, principalArn, type IamArn } from '../iam-common.js';
import { beforeChange, sendChange, type AccessContext, type AccessKindDef, type AccessRequest } from '../types.js';

// Group names: 1–128 characters (reference_iam-quotas).
const target = z.strictObject({
  groupName: z.string().refine((s) => isIamName(s, 128), 'must be an IAM group name: 1–128 characters of [A-Za-z0-9+=,.@_-]'),
});
type Target = z.infer<typeof target>;

function parsed(req: AccessRequest<Target>): { user: IamArn; groupName: string } {
  const user = principalArn(req.principal, ['user']);
  const t = target.safeParse(req.target);
  if (!t.success) throw new ConnectorError('JOB_PARAMS_INVALID', `target.groupName ${t.error.issues[0]?.message ?? 'is invalid'}`);
  return { user, groupName: t.data.groupName };
}

async function inGroup(ctx: AccessContext, user: IamArn, groupName: string): Promise<boolean> {
  const iam = await iamClientFor(ctx, user);
  const groups = await collect(paginate(async (t) => {
    const o = await iam.send(new ListGroupsForUserCommand({ UserName: user.name, Marker: t, MaxItems: pageSize('iam') }));
    return { items: o.Groups, next: o.IsTruncated ? o.Marker : undefined };
  }));
  // Group names are unique regardless of case in IAM.
  return groups.some((g) => g.GroupName?.toLowerCase() === groupName.toLowerCase());
}

export const iamGroupMembership: AccessKindDef<Target> = {
  name: 'iam.groupMembership',
  summary: "Adds an IAM user to an IAM group of the user's account; revoke removes it.",
  principalTypes: ['user'],
  target,
  checkPrincipal: (p) => checkIamPrincipal(p, ['user']),
  requiredActions: [
    'iam:GetUser', 'iam:GetGroup', 'iam:ListAttachedGroupPolicies', 'iam:ListGroupsForUser', 'iam:AddUserToGroup', 'iam:RemoveUserFromGroup',
    'organizations:DescribeOrganization',
  ],

  accessKey: (req) => `${req.principal.id}|group/${req.target.groupName}`,

  async facts(ctx, req) {
    const { user, groupName } = parsed(req);
    const iam = await iamClientFor(ctx, user);
    // The ARN must be the user's real one (path included): a made-up path is not this user.
    const u = (await iam.send(new GetUserCommand({ UserName: user.name }))).User;
    if (u?.Arn !== user.arn) throw new ConnectorError('AWS_NOT_FOUND', `iam.GetUser in ${user.accountId}: no user with ARN ${user.arn} (found ${u?.Arn ?? 'none'})`);
    const g = (await iam.send(new GetGroupCommand({ GroupName: groupName, MaxItems: 1 }))).Group;
    const policies = await collect(paginate(async (t) => {
      const o = await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: groupName, Marker: t, MaxItems: pageSize('iam') }));
      return { items: o.AttachedPolicies, next: o.IsTruncated ? o.Marker : undefined };
    }));
    return {
      accountIds: [user.accountId],
      groups: [{ id: g?.Arn ?? groupName, name: `iam:${g?.GroupName ?? groupName}` }],
      managedPolicies: policies.flatMap((p) => (p.PolicyArn ? [p.PolicyArn] : [])),
    };
  },

  async describe(ctx, req) {
    const { user, groupName } = parsed(req);
    return { present: await inGroup(ctx, user, groupName) };
  },

  async grant(ctx, req) {
    const { user, groupName } = parsed(req);
    const iam = await beforeChange(() => iamClientFor(ctx, user));
    await sendChange(() => iam.send(new AddUserToGroupCommand({ UserName: user.name, GroupName: groupName })));
  },

  async revoke(ctx, req) {
    const { user, groupName } = parsed(req);
    const iam = await iamClientFor(ctx, user);
    try {
      await iam.send(new RemoveUserFromGroupCommand({ UserName: user.name, GroupName: groupName }));
    } catch (err) {
      // NoSuchEntity: the user, the group or the membership is gone already.
      if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') return { notes: [`${user.name} was no longer in ${groupName}`] };
      throw err;
    }
  },

  accessDetails: (_ctx, req) => ({
    instructions: `Your IAM user ${req.principal.id} is a member of IAM group ${req.target.groupName}; the group's permissions apply to your next request.`,
    revokeLimits: ['IAM is eventually consistent: removal from the group takes effect within seconds, for sessions already open too.'],
  }),
};
