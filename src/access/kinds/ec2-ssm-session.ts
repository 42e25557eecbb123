// ec2.ssmSession: Session Manager access to named instances, for an IAM role (an inline
// policy on the role) or an Identity Center user or group (a permission set of its own,
// assigned in the instances' account). The policy names each instance by ARN; tag-based
// scoping is not offered. With an expiry the policy carries `DateLessThan aws:CurrentTime`,
// so AWS itself stops the access at expiry even if the revoke never comes. Revoke removes
// the policy and then ends the principal's live sessions on those instances.
//
// Policy shape: AWS's Session Manager end-user samples (docs.aws.amazon.com/systems-manager/
// latest/userguide/getting-started-restrict-access-quickstart.html and
// …/getting-started-restrict-access-examples.html, "Method 2"): ssm:StartSession on the
// instance ARNs and the session documents (with ssm:SessionDocumentAccessCheck, so no other
// document may be used), Terminate/ResumeSession only on sessions AWS tagged with the caller's
// ${aws:userid} (the `${aws:username}-*` ARN pattern does not work for assumed roles, which is
// what both principal forms are), and the read-only calls the CLI and console make.
import { DeleteRolePolicyCommand, GetRoleCommand, GetRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreatePermissionSetCommand,
  DeletePermissionSetCommand,
  DescribePermissionSetCommand,
  DescribePermissionSetProvisioningStatusCommand,
  GetInlinePolicyForPermissionSetCommand,
  ListAccountAssignmentsForPrincipalCommand,
  ListPermissionSetsCommand,
  ListPermissionSetsProvisionedToAccountCommand,
  ProvisionPermissionSetCommand,
  PutInlinePolicyToPermissionSetCommand,
  type PermissionSetProvisioningStatus,
  type SSOAdminClient,
} from '@aws-sdk/client-sso-admin';
import { DescribeSessionsCommand, SSMClient, TerminateSessionCommand } from '@aws-sdk/client-ssm';
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { awsErrorCode, isConflict, isNotFound, isThrottle } from '../../aws/errors.js';
import { paginate, pageSize } from '../../aws/paginate.js';
import { ConnectorError } from '../../errors.js';
import { checkIamPrincipal, iamClientFor, parsePolicy, principalArn, refuseProtectedRole, type IamArn } from '../iam-common.js';
import { ACCOUNT_ID, IDENTITY_STORE_ID, createAssignment, deleteAssignment, formatDuration, portalLink, slowDownRetry, ssoAdminClient, ssoInstance, type AssignmentRef, type SsoInstanceInfo } from '../identity-center.js';
import { refuseProtectedAccounts } from '../accounts.js';
import { INSTANCE_FACT_ACTIONS, instanceFacts } from '../instance-roles.js';
import { MANAGED_PERMISSION_SET_TAG, refuseRoleNotOptedIn } from '../opt-in.js';
import { beforeChange, isUnchanged, sendChange, type AccessContext, type AccessKindDef, type AccessRequest, type Principal } from '../types.js';

// EC2 instance ids (8 or 17 hex digits; 8–17 accepted) and hybrid managed nodes (mi-, 17).
const INSTANCE_ID = /^(i-[0-9a-f]{8,17}|mi-[0-9a-f]{17})$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** Keeps the policy well inside a role's inline-policy quota (10,240 characters, all inline policies together). */
const MAX_INSTANCES = 50;

const target = z.strictObject({
  accountId: z.string().regex(ACCOUNT_ID, 'must be a 12-digit AWS account id'),
  region: z.string().max(32).regex(REGION, 'must be an AWS region name such as us-east-1'),
  instanceIds: z
    .array(z.string().max(20).regex(INSTANCE_ID, 'must be an instance id (i- followed by 8–17 hex digits, or mi- followed by 17)'))
    .min(1, 'must name at least one instance')
    .max(MAX_INSTANCES, `must name at most ${MAX_INSTANCES} instances`)
    .refine((ids) => new Set(ids).size === ids.length, 'must not name an instance twice'),
});
type Target = z.infer<typeof target>;

/** The principal and target, checked again at every entry point so nothing unchecked reaches AWS. */
interface Parsed {
  t: Target;
  /** Sorted, so the policy and the key do not depend on the order of the request. */
  ids: string[];
  role?: IamArn;
  sso?: { principalType: 'USER' | 'GROUP'; principalId: string };
  /** 16 hex characters of sha256(accessKey): names the role policy and the permission set. */
  hash: string;
}

function accessKeyOf(req: AccessRequest<Target>): string {
  const t = req.target;
  return `ec2.ssmSession:${req.principal.type}:${req.principal.id}|${t.accountId}|${t.region}|${[...t.instanceIds].sort().join(',')}`;
}

const hashOf = (req: AccessRequest<Target>) => createHash('sha256').update(accessKeyOf(req)).digest('hex').slice(0, 16);

function parsed(req: AccessRequest<Target>): Parsed {
  const r = target.safeParse(req.target);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConnectorError('JOB_PARAMS_INVALID', `target.${issue?.path.join('.') ?? ''} ${issue?.message ?? 'is invalid'}`);
  }
  const t = r.data;
  const base = { t, ids: [...t.instanceIds].sort(), hash: hashOf(req) };
  if (req.principal.type === 'role') {
    const role = principalArn(req.principal, ['role']);
    if (role.accountId !== t.accountId) {
      throw new ConnectorError('JOB_PARAMS_INVALID', `principal role ${role.arn} is in account ${role.accountId}, the instances in ${t.accountId}: Session Manager access is given to a role of the instances' own account`);
    }
    return { ...base, role };
  }
  if (!IDENTITY_STORE_ID.test(req.principal.id)) throw new ConnectorError('JOB_PARAMS_INVALID', 'principal.id must be an Identity Store user or group id');
  return { ...base, sso: { principalType: req.principal.type === 'group' ? 'GROUP' : 'USER', principalId: req.principal.id } };
}

const rolePolicyName = (p: Parsed) => `AccessConnector-SSM-${p.hash}`;
// Permission set names are at most 32 characters of [\w+=,.@-] (API reference, PermissionSet).
const permissionSetName = (p: Parsed) => `ACSSM-${p.hash}`;

// ---- the policy ----

function nodeArn(partition: string, t: Target, id: string): string {
  return id.startsWith('mi-') ? `arn:${partition}:ssm:${t.region}:${t.accountId}:managed-instance/${id}` : `arn:${partition}:ec2:${t.region}:${t.accountId}:instance/${id}`;
}

/** The one policy both principal forms get. `expiresAt` null: no expiry. */
function sessionPolicy(partition: string, p: Parsed, expiresAt: string | null): string {
  const { t } = p;
  const until = expiresAt === null ? {} : { DateLessThan: { 'aws:CurrentTime': expiresAt } };
  const when = expiresAt === null ? {} : { Condition: until };
  const ssm = `arn:${partition}:ssm:${t.region}:${t.accountId}`;
  // SSM-SessionManagerRunShell is the account's own preferences document (the default shell);
  // the SSH and port-forwarding documents are AWS's, whose ARNs have no account.
  const documents = [`${ssm}:document/SSM-SessionManagerRunShell`, `arn:${partition}:ssm:${t.region}::document/AWS-StartSSHSession`, `arn:${partition}:ssm:${t.region}::document/AWS-StartPortForwardingSession`];
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'StartSessionOnNamedInstances', Effect: 'Allow', Action: 'ssm:StartSession',
        Resource: [...p.ids.map((id) => nodeArn(partition, t, id)), ...documents],
        Condition: { BoolIfExists: { 'ssm:SessionDocumentAccessCheck': 'true' }, ...until },
      },
      {
        Sid: 'OwnSessionsOnly', Effect: 'Allow', Action: ['ssm:TerminateSession', 'ssm:ResumeSession'], Resource: `${ssm}:session/*`,
        Condition: { StringLike: { 'ssm:resourceTag/aws:ssmmessages:session-id': '${aws:userid}' }, ...until },
      },
      // The data channel of a session needs the token StartSession returned to its caller.
      { Sid: 'SessionDataChannel', Effect: 'Allow', Action: 'ssmmessages:OpenDataChannel', Resource: `${ssm}:session/*`, ...when },
      // These take no resource-level scoping in IAM.
      { Sid: 'SessionStatus', Effect: 'Allow', Action: ['ssm:DescribeSessions', 'ssm:GetConnectionStatus', 'ssm:DescribeInstanceProperties', 'ssm:DescribeInstanceInformation'], Resource: '*', ...when },
    ],
  });
}

/** The DateLessThan of a policy we wrote: null when it has none, undefined when it is unreadable (edited by hand). */
function expiryIn(raw: string): string | null | undefined {
  try {
    const v = parsePolicy(raw, 'policy').Statement[0]?.Condition?.DateLessThan?.['aws:CurrentTime'];
    return typeof v === 'string' ? v : null;
  } catch {
    return undefined;
  }
}

/**
 * The expiry the access has now: what the ledger kept from our last write, else what the
 * policy in AWS says. The ledger wins: a hand-edited policy must not extend a grant.
 */
function currentExpiry(kept: Record<string, unknown>, raw: string | undefined): string | null | undefined {
  if (typeof kept.expiresAt === 'string' || kept.expiresAt === null) return kept.expiresAt;
  return raw ? expiryIn(raw) : undefined;
}

/** The later of two expiries; null (none) is later than any, undefined (unknown) counts for nothing. Overlapping grants never cut each other short. */
function laterExpiry(a: string | null | undefined, b: string | null): string | null {
  if (a === undefined) return b;
  if (a === null || b === null) return null;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

const sameDocument = (raw: string, wanted: string) => {
  try {
    return JSON.stringify(JSON.parse(decodeURIComponent(raw))) === wanted;
  } catch {
    return false;
  }
};

async function partitionOf(ctx: AccessContext): Promise<string> {
  return (await ctx.session.managementIdentity()).partition;
}

// ---- live sessions ----

/**
 * Ends the active sessions on the instances whose owner ARN starts with `ownerPrefix` (the
 * role's, or the Identity Center role of our permission set). Returns how many were ended.
 */
async function endSessions(ctx: AccessContext, p: Parsed, ownerPrefix: string): Promise<number> {
  const ssm = await ctx.session.memberClient(SSMClient, p.t.accountId, p.t.region);
  let ended = 0;
  for (const id of p.ids) {
    for await (const page of paginate(async (token) => {
      // DescribeSessions takes at most 200 results per page (API reference).
      const r = await ssm.send(new DescribeSessionsCommand({ State: 'Active', Filters: [{ key: 'Target', value: id }], MaxResults: 200, NextToken: token }));
      return { items: r.Sessions, next: r.NextToken };
    })) {
      for (const s of page) {
        if (!s.SessionId || !s.Owner?.startsWith(ownerPrefix)) continue;
        try {
          await ssm.send(new TerminateSessionCommand({ SessionId: s.SessionId }));
          ended++;
        } catch (err) {
          // Ended by itself between the listing and now.
          if (awsErrorCode(err) !== 'DoesNotExistException' && !isNotFound(err)) throw err;
        }
      }
    }
  }
  return ended;
}

const endedNote = (n: number) => `${n} live Session Manager session${n === 1 ? '' : 's'} of the principal on these instances ${n === 1 ? 'was' : 'were'} ended`;

// ---- role principal: an inline policy on the role ----

async function roleClient(ctx: AccessContext, p: Parsed): Promise<IAMClient> {
  refuseProtectedRole(ctx, p.role!);
  return iamClientFor(ctx, p.role!);
}

async function readRolePolicy(iam: IAMClient, p: Parsed): Promise<string | undefined> {
  try {
    return (await iam.send(new GetRolePolicyCommand({ RoleName: p.role!.name, PolicyName: rolePolicyName(p) }))).PolicyDocument ?? '';
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

// ---- Identity Center principal: a permission set of its own ----

interface SsoHandle {
  inst: SsoInstanceInfo;
  sso: SSOAdminClient;
}
async function ssoHandle(ctx: AccessContext): Promise<SsoHandle> {
  return { inst: await ssoInstance(ctx), sso: await ssoAdminClient(ctx) };
}

function assignmentOf(p: Parsed, permissionSetArn: string): AssignmentRef {
  return { accountId: p.t.accountId, permissionSetArn, ...p.sso! };
}

async function nameOf(h: SsoHandle, arn: string): Promise<string | undefined> {
  try {
    return (await h.sso.send(new DescribePermissionSetCommand({ InstanceArn: h.inst.instanceArn, PermissionSetArn: arn }))).PermissionSet?.Name;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Our permission set among those assigned to the principal in the account (present ⇔ found). */
async function assignedPermissionSet(h: SsoHandle, p: Parsed): Promise<string | undefined> {
  const name = permissionSetName(p);
  for await (const page of paginate(async (token) => {
    const r = await h.sso.send(new ListAccountAssignmentsForPrincipalCommand({
      InstanceArn: h.inst.instanceArn, PrincipalType: p.sso!.principalType, PrincipalId: p.sso!.principalId,
      Filter: { AccountId: p.t.accountId }, MaxResults: pageSize('ssoAdmin'), NextToken: token,
    }));
    return { items: r.AccountAssignments, next: r.NextToken };
  })) {
    for (const a of page) if (a.PermissionSetArn && (await nameOf(h, a.PermissionSetArn)) === name) return a.PermissionSetArn;
  }
  return undefined;
}

/** Our permission set by name among all of the instance's: for the rare paths (a create that found it existing). */
async function permissionSetByName(h: SsoHandle, name: string): Promise<string | undefined> {
  for await (const page of paginate(async (token) => {
    const r = await h.sso.send(new ListPermissionSetsCommand({ InstanceArn: h.inst.instanceArn, MaxResults: pageSize('ssoAdmin'), NextToken: token }));
    return { items: r.PermissionSets, next: r.NextToken };
  })) {
    for (const arn of page) if ((await nameOf(h, arn)) === name) return arn;
  }
  return undefined;
}

/** Console/CLI session length: at most the time left (AWS allows PT1H to PT12H). */
export function sessionDurationFor(now: number, expiresAt: string | undefined): string {
  if (expiresAt === undefined) return 'PT1H';
  const hours = Math.floor((Date.parse(expiresAt) - now) / 3_600_000);
  return `PT${Math.min(12, Math.max(1, hours))}H`;
}

const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 2_000;
const POLL_DEADLINE_MS = 5 * 60_000;

/**
 * Pushes the permission set's current policy to the account (an assignment provisions a set
 * only once; later edits reach the account's role only through ProvisionPermissionSet) and
 * waits until AWS says SUCCEEDED. Shares the outstanding-operation slots of assignments.
 */
async function provision(ctx: AccessContext, h: SsoHandle, permissionSetArn: string, accountId: string): Promise<void> {
  await ctx.limit(`sso-assignment-ops:${h.inst.instanceArn}`, ctx.settings.ssoMaxOutstandingAssignments, async () => {
    const r = await slowDownRetry(ctx, () => h.sso.send(new ProvisionPermissionSetCommand({
      InstanceArn: h.inst.instanceArn, PermissionSetArn: permissionSetArn, TargetType: 'AWS_ACCOUNT', TargetId: accountId,
    })));
    let status: PermissionSetProvisioningStatus | undefined = r.PermissionSetProvisioningStatus;
    const requestId = status?.RequestId;
    if (!requestId) throw new ConnectorError('AWS_ERROR', `sso-admin.ProvisionPermissionSet of ${permissionSetArn} to ${accountId} returned no request id`);
    const deadline = ctx.now() + POLL_DEADLINE_MS;
    let wait = POLL_FIRST_MS;
    for (;;) {
      if (status?.Status === 'SUCCEEDED') return;
      if (status?.Status === 'FAILED') {
        throw new ConnectorError('ACCESS_FAILED', `Identity Center could not provision permission set ${permissionSetArn} to account ${accountId}: ${(status.FailureReason ?? 'AWS gave no reason').slice(0, 500)}`);
      }
      if (ctx.now() >= deadline) {
        throw new ConnectorError('ACCESS_TIMEOUT', `Identity Center has not finished provisioning permission set ${permissionSetArn} to account ${accountId} after ${POLL_DEADLINE_MS / 60_000} minutes (request ${requestId}); retry the job`);
      }
      await ctx.sleep(wait);
      wait = Math.min(POLL_MAX_MS, wait * 2);
      try {
        status = (await h.sso.send(new DescribePermissionSetProvisioningStatusCommand({ InstanceArn: h.inst.instanceArn, ProvisionPermissionSetRequestId: requestId }))).PermissionSetProvisioningStatus;
      } catch (err) {
        if (!isThrottle(err) && !isNotFound(err)) throw err;
      }
    }
  });
}

async function putPermissionSetPolicy(ctx: AccessContext, h: SsoHandle, permissionSetArn: string, doc: string): Promise<void> {
  await slowDownRetry(ctx, () => h.sso.send(new PutInlinePolicyToPermissionSetCommand({ InstanceArn: h.inst.instanceArn, PermissionSetArn: permissionSetArn, InlinePolicy: doc })));
}

// Deleting a permission set is refused (ConflictException) while it is assigned or still
// provisioned in an account; deprovisioning after the last assignment's deletion takes a
// moment, so a short, bounded retry.
const DELETE_RETRY_MS = [500, 1_000, 2_000, 4_000];

/** Deletes the permission set; returns false when AWS kept refusing (still assigned or provisioned elsewhere). */
async function deletePermissionSet(ctx: AccessContext, h: SsoHandle, permissionSetArn: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      await h.sso.send(new DeletePermissionSetCommand({ InstanceArn: h.inst.instanceArn, PermissionSetArn: permissionSetArn }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return true;
      if (!isConflict(err) && !isThrottle(err)) throw err;
      const wait = DELETE_RETRY_MS[attempt];
      if (wait === undefined) return false;
      await ctx.sleep(wait);
    }
  }
}

// ---- the kind ----

export const ec2SsmSession: AccessKindDef<Target> = {
  name: 'ec2.ssmSession',
  summary: 'Session Manager access to named instances for an IAM role (inline policy) or an Identity Center user or group (a permission set of its own), scoped by instance ARN, with expiry; revoke also ends live sessions.',
  principalTypes: ['user', 'group', 'role'],
  target,
  checkPrincipal: (p: Principal) => (p.type === 'role'
    ? checkIamPrincipal(p, ['role'])
    : IDENTITY_STORE_ID.test(p.id) ? undefined : 'principal.id must be an Identity Store user or group id'),
  requiredActions: [
    'organizations:DescribeOrganization',
    'iam:GetRole', 'iam:GetRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy',
    'ssm:DescribeSessions', 'ssm:TerminateSession',
    'sso:ListInstances', 'sso:ListAccountAssignmentsForPrincipal', 'sso:ListPermissionSets', 'sso:DescribePermissionSet',
    'sso:CreatePermissionSet', 'sso:GetInlinePolicyForPermissionSet', 'sso:PutInlinePolicyToPermissionSet',
    'sso:ListPermissionSetsProvisionedToAccount', 'sso:ProvisionPermissionSet', 'sso:DescribePermissionSetProvisioningStatus', 'sso:DeletePermissionSet',
    'sso:CreateAccountAssignment', 'sso:DescribeAccountAssignmentCreationStatus', 'sso:DeleteAccountAssignment', 'sso:DescribeAccountAssignmentDeletionStatus',
    'sso:ListAccountAssignmentCreationStatus', 'sso:ListAccountAssignmentDeletionStatus',
    ...INSTANCE_FACT_ACTIONS,
  ],

  accessKey: accessKeyOf,

  async facts(ctx, req) {
    const p = parsed(req);
    if (p.role) {
      const iam = await roleClient(ctx, p);
      // The ARN must be the role's real one (path included): a made-up path is not this role.
      const r = (await iam.send(new GetRoleCommand({ RoleName: p.role.name }))).Role;
      refuseProtectedRole(ctx, { name: r?.RoleName ?? p.role.name, path: r?.Path ?? p.role.path });
      if (r?.Arn !== p.role.arn) throw new ConnectorError('AWS_NOT_FOUND', `iam.GetRole in ${p.role.accountId}: no role with ARN ${p.role.arn} (found ${r?.Arn ?? 'none'})`);
    } else {
      await refuseProtectedAccounts(ctx, [p.t.accountId], `Session Manager access in account ${p.t.accountId}`);
    }
    // A session on an instance can act as the instance's role: the policy sees that role too.
    const reached = await instanceFacts(ctx, p.t.accountId, p.t.region, p.ids);
    return { accountIds: [p.t.accountId], ...(p.role && { roles: [p.role.arn] }), ...reached };
  },

  async describe(ctx, req) {
    const p = parsed(req);
    if (p.role) {
      const iam = await roleClient(ctx, p);
      // Before any write (describe precedes grant and extend): the member role may put
      // policies only on roles opted in by their tag.
      const r = (await iam.send(new GetRoleCommand({ RoleName: p.role.name }))).Role;
      refuseRoleNotOptedIn(ctx, { arn: p.role.arn, name: p.role.name, tags: r?.Tags });
      const doc = await readRolePolicy(iam, p);
      if (doc === undefined) return { present: false };
      return { present: true, observed: { policyName: rolePolicyName(p), expiresAt: expiryIn(doc) ?? null } };
    }
    const h = await ssoHandle(ctx);
    const arn = await assignedPermissionSet(h, p);
    if (!arn) return { present: false };
    const doc = (await h.sso.send(new GetInlinePolicyForPermissionSetCommand({ InstanceArn: h.inst.instanceArn, PermissionSetArn: arn }))).InlinePolicy ?? '';
    return { present: true, observed: { permissionSetArn: arn, permissionSetName: permissionSetName(p), expiresAt: expiryIn(doc) ?? null } };
  },

  async grant(ctx, req) {
    const p = parsed(req);
    const expiresAt = req.expiresAt ?? null;
    const doc = sessionPolicy(await beforeChange(() => partitionOf(ctx)), p, expiresAt);
    if (p.role) {
      const iam = await beforeChange(() => roleClient(ctx, p));
      await sendChange(() => iam.send(new PutRolePolicyCommand({ RoleName: p.role!.name, PolicyName: rolePolicyName(p), PolicyDocument: doc })));
      return { policyName: rolePolicyName(p), expiresAt };
    }
    const h = await beforeChange(() => ssoHandle(ctx));
    const name = permissionSetName(p);
    let arn: string | undefined;
    let created = false;
    try {
      const r = await slowDownRetry(ctx, () => sendChange(() => h.sso.send(new CreatePermissionSetCommand({
        InstanceArn: h.inst.instanceArn, Name: name, SessionDuration: sessionDurationFor(ctx.now(), req.expiresAt),
        Description: `access-connector: Session Manager on ${p.ids.length} instance(s) in ${p.t.accountId} ${p.t.region}`,
        // The management role may change, provision and delete only permission sets with this tag.
        Tags: [{ Key: MANAGED_PERMISSION_SET_TAG.key, Value: MANAGED_PERMISSION_SET_TAG.value }],
      }))), isThrottle);
      arn = r.PermissionSet?.PermissionSetArn;
      created = true;
    } catch (err) {
      // "PermissionSet with name … already exists": ours, left by an earlier attempt.
      if (!isConflict(err)) throw err;
      arn = await permissionSetByName(h, name);
    }
    // Created but its ARN not returned: the permission set exists and revoke finds it by name.
    if (!arn) throw new ConnectorError('AWS_ERROR', `sso-admin.CreatePermissionSet: permission set ${name} was neither created nor found`);
    try {
      await putPermissionSetPolicy(ctx, h, arn, doc);
      if (!created) {
        // A leftover already provisioned in the account keeps its old policy until provisioned again.
        const inAccount = (await h.sso.send(new ListPermissionSetsProvisionedToAccountCommand({ InstanceArn: h.inst.instanceArn, AccountId: p.t.accountId, MaxResults: pageSize('ssoAdmin') }))).PermissionSets ?? [];
        if (inAccount.includes(arn)) await provision(ctx, h, arn, p.t.accountId);
      }
      // The first assignment provisions the set in the account, with the policy just put.
      await createAssignment(ctx, assignmentOf(p, arn));
    } catch (err) {
      // Only when the assignment was surely not made (refused, FAILED) is our permission set
      // removed again: one an assignment may still be made with stays for revoke to remove.
      if (!isUnchanged(err)) throw err;
      if (created && !(await deletePermissionSet(ctx, h, arn).catch(() => false))) {
        ctx.log.warn({ permissionSetArn: arn }, 'ec2.ssmSession: the permission set of a failed grant could not be deleted; a retry or revoke removes it');
      }
      throw err;
    }
    return { permissionSetArn: arn, permissionSetName: name, expiresAt };
  },

  async extend(ctx, req, kept) {
    const p = parsed(req);
    const partition = await partitionOf(ctx);
    if (p.role) {
      const iam = await roleClient(ctx, p);
      const current = await readRolePolicy(iam, p);
      const expiresAt = laterExpiry(currentExpiry(kept, current), req.expiresAt ?? null);
      const doc = sessionPolicy(partition, p, expiresAt);
      if (current === undefined || !sameDocument(current, doc)) {
        await iam.send(new PutRolePolicyCommand({ RoleName: p.role.name, PolicyName: rolePolicyName(p), PolicyDocument: doc }));
      }
      return { policyName: rolePolicyName(p), expiresAt };
    }
    const h = await ssoHandle(ctx);
    const arn = typeof kept.permissionSetArn === 'string' ? kept.permissionSetArn : await assignedPermissionSet(h, p);
    if (!arn) throw new ConnectorError('AWS_NOT_FOUND', `permission set ${permissionSetName(p)} of this access is not assigned in account ${p.t.accountId}; revoke and grant again`);
    const current = (await h.sso.send(new GetInlinePolicyForPermissionSetCommand({ InstanceArn: h.inst.instanceArn, PermissionSetArn: arn }))).InlinePolicy ?? '';
    const expiresAt = laterExpiry(currentExpiry(kept, current), req.expiresAt ?? null);
    const doc = sessionPolicy(partition, p, expiresAt);
    if (!sameDocument(current, doc)) {
      await putPermissionSetPolicy(ctx, h, arn, doc);
      await provision(ctx, h, arn, p.t.accountId);
    }
    return { permissionSetArn: arn, permissionSetName: permissionSetName(p), expiresAt };
  },

  async revoke(ctx, req, kept) {
    const p = parsed(req);
    const partition = await partitionOf(ctx);
    const notes: string[] = [];
    if (p.role) {
      // Not iamClientFor: a revoke must work even after the account was excluded since.
      const iam = await ctx.session.memberClient(IAMClient, p.t.accountId);
      try {
        await iam.send(new DeleteRolePolicyCommand({ RoleName: p.role.name, PolicyName: rolePolicyName(p) }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        notes.push(`the inline policy ${rolePolicyName(p)} was already gone`);
      }
      // Removed first, then the sessions: no new session can replace one just ended.
      notes.push(endedNote(await endSessions(ctx, p, `arn:${partition}:sts::${p.t.accountId}:assumed-role/${p.role.name}/`)));
      return { notes };
    }
    const h = await ssoHandle(ctx);
    const name = permissionSetName(p);
    const arn = (typeof kept.permissionSetArn === 'string' ? kept.permissionSetArn : undefined) ?? (await assignedPermissionSet(h, p)) ?? (await permissionSetByName(h, name));
    if (arn && (await deleteAssignment(ctx, assignmentOf(p, arn))) === 'absent') notes.push('the assignment was already gone');
    // Identity Center names the account's role AWSReservedSSO_<permission set>_<16 hex>.
    notes.push(endedNote(await endSessions(ctx, p, `arn:${partition}:sts::${p.t.accountId}:assumed-role/AWSReservedSSO_${name}_`)));
    let deleted = true;
    try {
      deleted = !arn || (await deletePermissionSet(ctx, h, arn));
    } catch (err) {
      // The roles may delete only permission sets tagged access-connector-managed=true; one
      // created before the tag existed is refused. The access is gone with the assignment.
      if (!(err instanceof ConnectorError && err.code === 'AWS_ACCESS_DENIED')) throw err;
      ctx.log.warn({ event: 'access.left_in_place', permissionSetArn: arn }, 'ec2.ssmSession: IAM refused to delete the permission set (not tagged access-connector-managed=true?); left in place');
      notes.push(`permission set ${name} (${arn}) was left in place: IAM refused its deletion (the management role may delete only permission sets tagged ${MANAGED_PERMISSION_SET_TAG.key}=${MANAGED_PERMISSION_SET_TAG.value}); its assignment is gone, so it grants nothing; delete it in IAM Identity Center`);
    }
    if (!deleted) {
      ctx.log.warn({ event: 'access.left_in_place', permissionSetArn: arn }, 'ec2.ssmSession: permission set still assigned or provisioned elsewhere; left in place');
      notes.push(`permission set ${name} (${arn}) is still assigned or provisioned elsewhere and was left in place; delete it in IAM Identity Center once unused`);
    }
    return { notes };
  },

  accessDetails(ctx, req) {
    // Only checked values are echoed: these words end up in front of a person.
    const r = target.safeParse(req.target);
    if (!r.success) return { instructions: 'Session Manager access to the requested instances.' };
    const t = r.data;
    const shown = t.instanceIds.slice(0, 3);
    const command = shown.map((id) => `aws ssm start-session --target ${id} --region ${t.region}`).join('\n');
    const which = `${shown.join(', ')}${t.instanceIds.length > shown.length ? ` and ${t.instanceIds.length - shown.length} more` : ''}`;
    const until = req.expiresAt ? ` The access ends at ${req.expiresAt}.` : '';
    const plugin = 'The AWS CLI needs the Session Manager plugin.';
    if (req.principal.type === 'role') {
      return {
        instructions: `Use a session of role ${req.principal.id} to start Session Manager sessions on ${which} in account ${t.accountId} (${t.region}). ${plugin}${until}`,
        roleArn: req.principal.id,
        command,
        revokeLimits: ["Revoke ends the role's live Session Manager sessions on these instances; IAM applies the policy removal within seconds."],
      };
    }
    const name = `ACSSM-${hashOf(req)}`;
    const link = portalLink(ctx, { accountId: t.accountId, roleName: name });
    return {
      instructions: [
        `Sign in to the AWS access portal, open account ${t.accountId} with the permission set ${name}, and use its CLI credentials to start Session Manager sessions on ${which} (${t.region}). ${plugin}${until}`,
        link.note,
      ].filter(Boolean).join(' '),
      ...(link.url && { url: link.url }),
      command,
      revokeLimits: [
        'Revoke ends the live Session Manager sessions opened through this permission set on these instances.',
        `Console and CLI sign-ins already made may keep the permission set until its session duration (${formatDuration(sessionDurationFor(ctx.now(), req.expiresAt))}) ends; its policy stops working at the expiry regardless.`,
      ],
    };
  },
};
