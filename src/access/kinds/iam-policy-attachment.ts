// iam.policyAttachment: attaches a managed policy to an IAM user, role or group for the
// time of the grant; revoke detaches it. IAM evaluates attached policies on every request,
// so the detach also ends the permissions for sessions already open, after IAM's
// propagation delay. The policy is an AWS-managed one or a customer-managed policy of the
// principal's own account (IAM attaches no other). AWS caps the managed policies of one
// principal (10 by default, quota PoliciesPerUser/Role/Group): a grant past the cap fails
// with POLICY_ATTACHMENT_LIMIT, once, and is never retried by the connector.
import {
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetGroupCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetUserCommand,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import * as z from 'zod';
import { awsErrorCode, isRefusal } from '../../aws/errors.js';
import { collect, paginate, pageSize } from '../../aws/paginate.js';
import { ConnectorError } from '../../errors.js';
import { awsMessage, iamClientFor, parseIamArn, refuseProtectedRole, targetArn, type IamArn } from '../iam-common.js';
import { refuseRoleNotOptedIn } from '../opt-in.js';
import { beforeChange, unchanged, type AccessContext, type AccessKindDef, type AccessRequest, type Principal } from '../types.js';

const PRINCIPAL_TYPES = ['user', 'role', 'group'] as const;
type PrincipalKind = (typeof PRINCIPAL_TYPES)[number];

const target = z.strictObject({
  policyArn: z.string().superRefine((s, c) => {
    const a = parseIamArn(s, ['policy']);
    if (typeof a === 'string') c.addIssue({ code: 'custom', message: a });
  }),
});
type Target = z.infer<typeof target>;

function checkPrincipal(p: Principal): string | undefined {
  if (!(PRINCIPAL_TYPES as readonly string[]).includes(p.type)) return `principal.type must be ${PRINCIPAL_TYPES.join(', ')}`;
  const a = parseIamArn(p.id, [p.type as PrincipalKind]);
  return typeof a === 'string' ? `principal.id ${a}` : undefined;
}

/** Both ARNs, checked before any AWS call; protected roles refused by name and path. */
function parsed(ctx: AccessContext, req: AccessRequest<Target>): { principal: IamArn; policy: IamArn } {
  const bad = checkPrincipal(req.principal);
  if (bad) throw new ConnectorError('JOB_PARAMS_INVALID', bad);
  const principal = parseIamArn(req.principal.id, [req.principal.type as PrincipalKind]) as IamArn;
  const policy = targetArn('policyArn', req.target?.policyArn, ['policy']);
  // IAM attaches only AWS-managed policies and the principal's own account's policies.
  if (policy.partition !== principal.partition || (policy.accountId !== 'aws' && policy.accountId !== principal.accountId)) {
    throw new ConnectorError('JOB_PARAMS_INVALID', `target.policyArn must be an AWS-managed policy (arn:${principal.partition}:iam::aws:policy/…) or a policy of account ${principal.accountId} in partition ${principal.partition}`);
  }
  if (principal.type === 'role') refuseProtectedRole(ctx, principal);
  return { principal, policy };
}

const notFound = (p: IamArn, found: string | undefined) =>
  new ConnectorError('AWS_NOT_FOUND', `iam.Get${p.type[0]!.toUpperCase()}${p.type.slice(1)} in ${p.accountId}: no ${p.type} with ARN ${p.arn} (found ${found ?? 'none'})`);

/**
 * Checks the ARN is the principal's real one (a made-up path is not this principal), and a
 * role's real name and path are not protected. Returns a role's tags (its opt-in).
 */
async function checkExists(ctx: AccessContext, iam: IAMClient, p: IamArn): Promise<{ tags?: Array<{ Key?: string; Value?: string }> }> {
  if (p.type === 'role') {
    const r = (await iam.send(new GetRoleCommand({ RoleName: p.name }))).Role;
    if (r?.Arn !== p.arn) throw notFound(p, r?.Arn);
    refuseProtectedRole(ctx, { name: r.RoleName ?? p.name, path: r.Path ?? '/' });
    return { ...(r.Tags && { tags: r.Tags }) };
  } else if (p.type === 'user') {
    const u = (await iam.send(new GetUserCommand({ UserName: p.name }))).User;
    if (u?.Arn !== p.arn) throw notFound(p, u?.Arn);
  } else {
    const g = (await iam.send(new GetGroupCommand({ GroupName: p.name, MaxItems: 1 }))).Group;
    if (g?.Arn !== p.arn) throw notFound(p, g?.Arn);
  }
  return {};
}

/** The managed policy ARNs attached to the principal now. */
async function attached(iam: IAMClient, p: IamArn): Promise<string[]> {
  const items = await collect(paginate(async (t) => {
    const page = { Marker: t, MaxItems: pageSize('iam') };
    const o = p.type === 'role' ? await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: p.name, ...page }))
      : p.type === 'user' ? await iam.send(new ListAttachedUserPoliciesCommand({ UserName: p.name, ...page }))
        : await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: p.name, ...page }));
    return { items: o.AttachedPolicies, next: o.IsTruncated ? o.Marker : undefined };
  }));
  return items.flatMap((x) => (x.PolicyArn ? [x.PolicyArn] : []));
}

async function attach(iam: IAMClient, p: IamArn, policyArn: string): Promise<void> {
  if (p.type === 'role') await iam.send(new AttachRolePolicyCommand({ RoleName: p.name, PolicyArn: policyArn }));
  else if (p.type === 'user') await iam.send(new AttachUserPolicyCommand({ UserName: p.name, PolicyArn: policyArn }));
  else await iam.send(new AttachGroupPolicyCommand({ GroupName: p.name, PolicyArn: policyArn }));
}

async function detach(iam: IAMClient, p: IamArn, policyArn: string): Promise<void> {
  if (p.type === 'role') await iam.send(new DetachRolePolicyCommand({ RoleName: p.name, PolicyArn: policyArn }));
  else if (p.type === 'user') await iam.send(new DetachUserPolicyCommand({ UserName: p.name, PolicyArn: policyArn }));
  else await iam.send(new DetachGroupPolicyCommand({ GroupName: p.name, PolicyArn: policyArn }));
}

export const iamPolicyAttachment: AccessKindDef<Target> = {
  name: 'iam.policyAttachment',
  summary: 'Attaches a managed policy (AWS-managed, or of the principal\'s account) to an IAM user, role or group; revoke detaches it.',
  principalTypes: PRINCIPAL_TYPES,
  target,
  checkPrincipal,
  requiredActions: [
    'iam:GetUser', 'iam:GetRole', 'iam:GetGroup', 'iam:GetPolicy',
    'iam:ListAttachedUserPolicies', 'iam:ListAttachedRolePolicies', 'iam:ListAttachedGroupPolicies',
    'iam:AttachUserPolicy', 'iam:AttachRolePolicy', 'iam:AttachGroupPolicy',
    'iam:DetachUserPolicy', 'iam:DetachRolePolicy', 'iam:DetachGroupPolicy',
    'organizations:DescribeOrganization',
  ],

  accessKey: (req) => `${req.principal.id}|policy/${req.target.policyArn}`,

  async facts(ctx, req) {
    const { principal, policy } = parsed(ctx, req);
    const iam = await iamClientFor(ctx, principal);
    const { tags } = await checkExists(ctx, iam, principal);
    // Read before any write: the member role may attach policies only to roles opted in by their tag.
    if (principal.type === 'role') refuseRoleNotOptedIn(ctx, { arn: principal.arn, name: principal.name, tags });
    try {
      await iam.send(new GetPolicyCommand({ PolicyArn: policy.arn }));
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') {
        throw new ConnectorError('AWS_NOT_FOUND', `managed policy ${policy.arn} does not exist (for account ${principal.accountId})`, { cause: err });
      }
      throw err;
    }
    return {
      accountIds: [principal.accountId],
      // The policy file's roles/groups rules apply to the principal the policy lands on.
      ...(principal.type === 'role' && { roles: [principal.arn] }),
      ...(principal.type === 'group' && { groups: [{ id: principal.arn, name: `iam:${principal.name}` }] }),
      managedPolicies: [policy.arn],
    };
  },

  async describe(ctx, req) {
    const { principal, policy } = parsed(ctx, req);
    const iam = await iamClientFor(ctx, principal);
    await checkExists(ctx, iam, principal);
    return { present: (await attached(iam, principal)).includes(policy.arn) };
  },

  async grant(ctx, req) {
    const { principal, policy } = parsed(ctx, req);
    const iam = await beforeChange(() => iamClientFor(ctx, principal));
    try {
      await attach(iam, principal, policy.arn);
    } catch (err) {
      // Only AWS refusing the first attempt proves nothing was attached (sendChange's rule).
      const mark = <E>(e: E): E => (isRefusal(err) ? unchanged(e) : e);
      if (!['LimitExceeded', 'LimitExceededException'].includes(awsErrorCode(err))) throw mark(err);
      // AWS names the quota (PoliciesPerRole: 10); the count is read back for the message.
      const quota = /quota for (\w+): (\d+)/.exec(awsMessage(err));
      const count = await attached(iam, principal).then((a) => `${a.length}`, () => 'the maximum number of');
      throw mark(new ConnectorError('POLICY_ATTACHMENT_LIMIT',
        `${principal.type} ${principal.arn} already has ${count} managed policies attached${quota ? `, the most AWS allows (quota ${quota[1]}: ${quota[2]})` : ', the most AWS allows'}; ${policy.arn} was not attached`,
        { cause: err }));
    }
  },

  async revoke(ctx, req) {
    const { principal, policy } = parsed(ctx, req);
    const iam = await iamClientFor(ctx, principal);
    try {
      await detach(iam, principal, policy.arn);
    } catch (err) {
      // NoSuchEntity: the principal, the policy or the attachment is gone already.
      if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') return { notes: [`${policy.arn} was no longer attached to ${principal.arn}`] };
      throw err;
    }
  },

  accessDetails: (_ctx, req) => ({
    instructions: `The managed policy ${req.target.policyArn} is attached to IAM ${req.principal.type} ${req.principal.id}; its permissions apply to the ${req.principal.type === 'group' ? "group members'" : "principal's"} next request.`,
    revokeLimits: ['IAM is eventually consistent: the detach takes effect within seconds, for sessions already open too.'],
  }),
};
