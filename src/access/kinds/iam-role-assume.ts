// iam.roleAssume: time-bound permission for an IAM user or role to assume a role, as one
// statement in the role's trust policy. The statement's conditions do the work even if no
// revoke ever comes:
//   - DateLessThan aws:CurrentTime = expiresAt: no new AssumeRole after expiry.
//   - StringEquals aws:PrincipalOrgID: only while the principal is in the organization.
//   - StringEquals sts:RoleSessionName = ac-<hash>: every session issued under the grant
//     carries that name, so revoke can end exactly those sessions. sts:RoleSessionName is
//     a trust-policy condition key for AssumeRole (IAM User Guide,
//     reference_policies_iam-condition-keys, "sts:RoleSessionName"; STS API reference,
//     AssumeRole: "Your administrator might require that you specify your user name as
//     the session name").
// Revoke removes only that statement, then denies sessions already issued under the grant
// with AWS's "revoke older sessions" pattern (Deny * when aws:TokenIssueTime is before the
// revoke; IAM User Guide, id_credentials_temp_control-access_disable-perms), narrowed to
// this principal's sessions by aws:userid, which for an assumed role is
// `<role-id>:<role session name>` (IAM User Guide, reference_policies_variables,
// "Principal key values").
//
// UpdateAssumeRolePolicy replaces the whole document with no condition, so every write to
// one role's trust is serialized by the runner's ledger lock (lockKey = the role ARN).
import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
  type Role,
} from '@aws-sdk/client-iam';
import * as z from 'zod';
import { awsErrorCode } from '../../aws/errors.js';
import { collect, paginate, pageSize } from '../../aws/paginate.js';
import { ConnectorError } from '../../errors.js';
import { asList, awsMessage, checkIamPrincipal, iamClientFor, parseIamArn, parsePolicy, principalArn, principalHash, refuseProtectedRole, roleSessionNameFor, serializePolicy, targetArn, type IamArn, type PolicyDocument, type PolicyStatement } from '../iam-common.js';
import { organizationOf } from '../accounts.js';
import { refuseRoleNotOptedIn } from '../opt-in.js';
import { beforeChange, sendChange, unchanged, type AccessContext, type AccessKindDef, type AccessRequest } from '../types.js';

/** The inline role policy holding the denies on sessions issued under revoked grants. */
export const REVOKED_SESSIONS_POLICY = 'AccessConnectorRevokedSessions';

const target = z.strictObject({
  roleArn: z.string().superRefine((s, c) => {
    const a = parseIamArn(s, ['role']);
    if (typeof a === 'string') c.addIssue({ code: 'custom', message: a });
  }),
});
type Target = z.infer<typeof target>;

interface Parsed {
  principal: IamArn;
  role: IamArn;
  /** Sid of the grant's trust statement (IAM Sids are [A-Za-z0-9] only). */
  sid: string;
  /** Sid of the principal's entry in the revoked-sessions policy. */
  revokedSid: string;
  sessionName: string;
}

function parsed(ctx: AccessContext, req: AccessRequest<Target>): Parsed {
  const principal = principalArn(req.principal, ['user', 'role']);
  const role = targetArn('roleArn', req.target?.roleArn, ['role']);
  if (principal.partition !== role.partition) throw new ConnectorError('JOB_PARAMS_INVALID', `principal.id and target.roleArn are in different partitions`);
  refuseProtectedRole(ctx, role);
  const hash = principalHash(principal.arn);
  return { principal, role, sid: `AccessConnector${hash}`, revokedSid: `Revoked${hash}`, sessionName: roleSessionNameFor(principal.arn) };
}

/** expiresAt as an IAM date value, whole seconds (truncated: never later than asked). */
function expiryOf(req: AccessRequest<Target>): string {
  if (req.expiresAt === undefined) {
    throw new ConnectorError('JOB_PARAMS_INVALID', 'iam.roleAssume needs expiresAt: its trust statement stops new sessions at that time even if no revoke comes');
  }
  const t = Date.parse(req.expiresAt);
  if (!Number.isFinite(t)) throw new ConnectorError('JOB_PARAMS_INVALID', 'expiresAt must be an RFC 3339 date-time');
  return new Date(Math.floor(t / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

async function readRole(ctx: AccessContext, iam: IAMClient, role: IamArn): Promise<{ role: Role; trust: PolicyDocument }> {
  const r = (await iam.send(new GetRoleCommand({ RoleName: role.name }))).Role;
  // The ARN must be the role's real one, path included; and the real path may make it a role we never edit.
  if (!r || r.Arn !== role.arn) throw new ConnectorError('AWS_NOT_FOUND', `iam.GetRole in ${role.accountId}: no role with ARN ${role.arn} (found ${r?.Arn ?? 'none'})`);
  refuseProtectedRole(ctx, { name: r.RoleName ?? role.name, path: r.Path ?? '/' });
  return { role: r, trust: parsePolicy(r.AssumeRolePolicyDocument, `the trust policy of ${role.arn}`) };
}

function grantStatement(p: Parsed, expiresAt: string, organizationId: string): PolicyStatement {
  return {
    Sid: p.sid,
    Effect: 'Allow',
    Principal: { AWS: p.principal.arn },
    Action: 'sts:AssumeRole',
    Condition: {
      DateLessThan: { 'aws:CurrentTime': expiresAt },
      StringEquals: { 'aws:PrincipalOrgID': organizationId, 'sts:RoleSessionName': p.sessionName },
    },
  };
}

const ASSUME = new Set(['sts:assumerole', 'sts:*', '*']);

/** Another statement already lets exactly this principal assume the role, with no condition. */
function trustedElsewhere(trust: PolicyDocument, p: Parsed): boolean {
  return trust.Statement.some((s) =>
    s.Sid !== p.sid && s.Effect === 'Allow' && s.NotPrincipal === undefined && s.NotAction === undefined &&
    (s.Condition === undefined || Object.keys(s.Condition).length === 0) &&
    asList(s.Action).some((a) => typeof a === 'string' && ASSUME.has(a.toLowerCase())) &&
    typeof s.Principal === 'object' && s.Principal !== null && asList((s.Principal as { AWS?: unknown }).AWS).includes(p.principal.arn));
}

const expiryIn = (s: PolicyStatement): string | undefined => {
  const v = s.Condition?.DateLessThan?.['aws:CurrentTime'];
  return typeof v === 'string' ? v : undefined;
};

async function writeTrust(iam: IAMClient, p: Parsed, before: PolicyDocument, after: PolicyDocument): Promise<void> {
  const doc = serializePolicy(after);
  try {
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: p.role.name, PolicyDocument: doc }));
  } catch (err) {
    // AWS: 409 LimitExceeded "Cannot exceed quota for ACLSizePerRole: 2048" (the quota
    // "Role trust policy length", 2,048 characters by default, adjustable; reference_iam-quotas).
    // The guide says IAM counts inline and managed policies without white space; the
    // connector writes minified JSON and reports sizes the same way.
    if (awsErrorCode(err) === 'LimitExceeded' || awsErrorCode(err) === 'LimitExceededException') {
      const quota = /ACLSizePerRole:\s*(\d+)/.exec(awsMessage(err))?.[1];
      throw new ConnectorError('TRUST_POLICY_TOO_LARGE',
        `the trust policy of ${p.role.arn} would grow from ${serializePolicy(before).length} to ${doc.length} characters (white space not counted), ` +
        `over its quota${quota ? ` of ${quota}` : ''} (AWS: ${awsMessage(err) || 'LimitExceeded'}); revoke other time-bound grants on this role, or raise the IAM quota "Role trust policy length"`,
        { cause: err });
    }
    // AWS checks that the principals of a trust policy exist: `Invalid principal in policy: "AWS":"<arn>"`.
    if (awsErrorCode(err) === 'MalformedPolicyDocument' && awsMessage(err).includes('Invalid principal')) {
      throw new ConnectorError('AWS_NOT_FOUND', `${p.principal.arn} does not exist, so the trust policy of ${p.role.arn} cannot name it (AWS: ${awsMessage(err)})`, { cause: err });
    }
    throw err;
  }
}

/** Adds the grant's statement (replacing an older one of ours) and writes the trust policy. */
async function putStatement(ctx: AccessContext, p: Parsed, expiresAt: string): Promise<Record<string, unknown>> {
  const org = await beforeChange(() => organizationOf(ctx));
  if (!org) {
    throw unchanged(new ConnectorError('ACCESS_REFUSED', `iam.roleAssume trusts principals only inside an organization (aws:PrincipalOrgID), and the integration's account is in none`));
  }
  const iam = await beforeChange(() => iamClientFor(ctx, p.role));
  const { role, trust } = await beforeChange(() => readRole(ctx, iam, p.role));
  const after = { ...trust, Statement: [...trust.Statement.filter((s) => s.Sid !== p.sid), grantStatement(p, expiresAt, org.id)] };
  await sendChange(() => writeTrust(iam, p, trust, after));
  return { roleId: role.RoleId, sessionName: p.sessionName, organizationId: org.id, expiresAt };
}

/**
 * Denies the principal's sessions issued under the grant before now, merged into the
 * role's revoked-sessions policy. Entries older than the role's maximum session duration
 * are dropped: every session they could match has expired. An empty policy is deleted.
 */
async function denyIssuedSessions(ctx: AccessContext, iam: IAMClient, p: Parsed, role: Role, add: boolean): Promise<string | undefined> {
  let current: PolicyDocument = { Version: '2012-10-17', Statement: [] };
  let existed = true;
  try {
    const o = await iam.send(new GetRolePolicyCommand({ RoleName: p.role.name, PolicyName: REVOKED_SESSIONS_POLICY }));
    current = parsePolicy(o.PolicyDocument, `inline policy ${REVOKED_SESSIONS_POLICY} of ${p.role.arn}`);
  } catch (err) {
    if (!(err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND')) throw err;
    existed = false;
  }
  const now = ctx.now();
  const oldest = now - (role.MaxSessionDuration ?? 43_200) * 1000;
  const live = (s: PolicyStatement) => {
    const t = s.Condition?.DateLessThan?.['aws:TokenIssueTime'];
    return typeof t !== 'string' || !/^Revoked[0-9a-f]{16}$/.test(s.Sid ?? '') || Date.parse(t) >= oldest;
  };
  const revokedAt = new Date(Math.ceil(now / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const statements = current.Statement.filter((s) => live(s) && !(add && s.Sid === p.revokedSid));
  if (add) {
    statements.push({
      Sid: p.revokedSid, Effect: 'Deny', Action: '*', Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': revokedAt }, StringLike: { 'aws:userid': `${role.RoleId}:${p.sessionName}` } },
    });
  }
  if (statements.length > 0) {
    await iam.send(new PutRolePolicyCommand({ RoleName: p.role.name, PolicyName: REVOKED_SESSIONS_POLICY, PolicyDocument: serializePolicy({ ...current, Statement: statements }) }));
  } else if (existed) {
    try {
      await iam.send(new DeleteRolePolicyCommand({ RoleName: p.role.name, PolicyName: REVOKED_SESSIONS_POLICY }));
    } catch (err) {
      if (!(err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND')) throw err;
    }
  }
  return add ? revokedAt : undefined;
}

export const iamRoleAssume: AccessKindDef<Target> = {
  name: 'iam.roleAssume',
  summary: 'Lets an IAM user or role assume a role until expiresAt, through one statement in the role\'s trust policy; revoke removes it and ends sessions issued under it.',
  principalTypes: ['user', 'role'],
  target,
  checkPrincipal: (p) => checkIamPrincipal(p, ['user', 'role']),
  requiredActions: [
    'iam:GetRole', 'iam:ListAttachedRolePolicies', 'iam:UpdateAssumeRolePolicy', 'iam:GetRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy',
    'organizations:DescribeOrganization',
  ],

  accessKey: (req) => `${req.target.roleArn}|${req.principal.id}`,
  lockKey: (req) => req.target.roleArn,

  async facts(ctx, req) {
    const p = parsed(ctx, req);
    expiryOf(req);
    const iam = await iamClientFor(ctx, p.role);
    const { role } = await readRole(ctx, iam, p.role);
    // Read before any write: the member role may change only roles opted in by their tag.
    refuseRoleNotOptedIn(ctx, { arn: p.role.arn, name: p.role.name, tags: role.Tags });
    // Assuming the role carries its managed policies (deniedManagedPolicies applies to them).
    const attached = await collect(paginate(async (t) => {
      const o = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: p.role.name, Marker: t, MaxItems: pageSize('iam') }));
      return { items: o.AttachedPolicies, next: o.IsTruncated ? o.Marker : undefined };
    }));
    return { accountIds: [p.role.accountId], roles: [p.role.arn], managedPolicies: attached.flatMap((a) => (a.PolicyArn ? [a.PolicyArn] : [])) };
  },

  async describe(ctx, req) {
    const p = parsed(ctx, req);
    const iam = await iamClientFor(ctx, p.role);
    const { role, trust } = await readRole(ctx, iam, p.role);
    const ours = trust.Statement.find((s) => s.Sid === p.sid);
    const expiresAt = ours && expiryIn(ours);
    return {
      present: ours !== undefined,
      observed: { roleId: role.RoleId, preExistingTrust: trustedElsewhere(trust, p), ...(expiresAt !== undefined && { expiresAt }) },
    };
  },

  async grant(ctx, req) {
    const p = parsed(ctx, req);
    return putStatement(ctx, p, expiryOf(req));
  },

  async extend(ctx, req) {
    const p = parsed(ctx, req);
    const wanted = expiryOf(req);
    const iam = await iamClientFor(ctx, p.role);
    const { trust } = await readRole(ctx, iam, p.role);
    const ours = trust.Statement.find((s) => s.Sid === p.sid);
    if (!ours) return putStatement(ctx, p, wanted);
    const current = expiryIn(ours);
    if (current !== undefined && Date.parse(current) >= Date.parse(wanted)) return { expiresAt: current };
    const after = {
      ...trust,
      Statement: trust.Statement.map((s) => (s === ours ? { ...s, Condition: { ...s.Condition, DateLessThan: { ...s.Condition?.DateLessThan, 'aws:CurrentTime': wanted } } } : s)),
    };
    await writeTrust(iam, p, trust, after);
    return { expiresAt: wanted };
  },

  async revoke(ctx, req, kept) {
    const p = parsed(ctx, req);
    const iam = await iamClientFor(ctx, p.role);
    let read;
    try {
      read = await readRole(ctx, iam, p.role);
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') return { notes: [`role ${p.role.arn} no longer exists; nothing to remove`] };
      throw err;
    }
    const notes: string[] = [];
    const { role, trust } = read;
    if (trust.Statement.some((s) => s.Sid === p.sid)) {
      await writeTrust(iam, p, trust, { ...trust, Statement: trust.Statement.filter((s) => s.Sid !== p.sid) });
    } else {
      notes.push('the trust statement was already gone');
    }
    // With trust the principal had before the grant, it can assume the role again at
    // will: denying its sessions would only break access it keeps.
    const keep = kept.preExistingTrust === true;
    const at = await denyIssuedSessions(ctx, iam, p, role, !keep);
    notes.push(at
      ? `sessions issued under the grant before ${at} are denied (inline policy ${REVOKED_SESSIONS_POLICY})`
      : 'sessions were left alone: the principal was trusted by the role before the grant');
    return { notes };
  },

  accessDetails: (_ctx, req) => {
    const sessionName = roleSessionNameFor(req.principal.id);
    // Shown to a person as a command: only ever built from ARNs that passed validation.
    const valid = typeof parseIamArn(req.target.roleArn, ['role']) !== 'string' && typeof parseIamArn(req.principal.id, ['user', 'role']) !== 'string';
    return {
      instructions: `Assume the role with the role session name ${sessionName}: the role trusts you only under that name${req.expiresAt ? `, until ${req.expiresAt}` : ''}.`,
      ...(valid && { roleArn: req.target.roleArn, command: `aws sts assume-role --role-arn ${req.target.roleArn} --role-session-name ${sessionName}` }),
      revokeLimits: [
        'IAM is eventually consistent: the trust change and the deny on sessions issued under the grant take effect within seconds; a session issued while the trust change propagates can last until it expires (at most the role\'s maximum session duration).',
        'Sessions of other roles assumed from a session of this role (role chaining) are not ended; they last at most one hour.',
      ],
    };
  },
};
