// What the three IAM access kinds share: strict IAM ARN parsing (a request's ARNs end up
// in API parameters and in policy documents, so nothing loose may pass), the roles the
// connector never edits, policy-document parse/serialize, and the IAM client of the
// account an ARN lives in.
import { createHash } from 'node:crypto';
import { IAMClient } from '@aws-sdk/client-iam';
import { refuseProtectedAccounts } from './accounts.js';
import { ConnectorError } from '../errors.js';
import type { AccessContext, Principal } from './types.js';

/** Partitions the connector accepts ARNs of (docs/protocol.md, "Integration"). */
export const IAM_PARTITIONS = ['aws', 'aws-us-gov', 'aws-cn'] as const;

export type IamResourceType = 'user' | 'role' | 'group' | 'policy';

export interface IamArn {
  arn: string;
  partition: string;
  /** 12 digits, or `aws` for an AWS-managed policy. */
  accountId: string;
  type: IamResourceType;
  /** `/` or `/a/b/`. */
  path: string;
  name: string;
}

// Name and path characters as the IAM User Guide states them (reference_iam-quotas, "IAM
// name requirements": alphanumeric plus + = , . @ _ -). The API's own pattern lets paths
// hold any printable ASCII; the connector does not, so quotes, spaces and `*` never reach
// a policy document or a command line.
const NAME = /^[\w+=,.@-]+$/;
/** IAM's documented maxima (reference_iam-quotas, "IAM and STS character quotas"). */
const MAX_NAME: Record<IamResourceType, number> = { user: 64, role: 64, group: 128, policy: 128 };
const MAX_PATH = 512;
const ARN = /^arn:([a-z-]+):iam::(\d{12}|aws):(user|role|group|policy)(\/.*)$/;

function okSegment(s: string): boolean {
  // `.` and `..` are legal name characters, but as a whole segment they read as path
  // traversal to any tool downstream: refused.
  return NAME.test(s) && !/^\.+$/.test(s);
}

/** Parses an IAM ARN of one of `types`; returns a message saying what is wrong instead when it is not one. */
export function parseIamArn(value: string, types: readonly IamResourceType[]): IamArn | string {
  const want = types.join(' or ');
  if (value.length > 2048) return `must be an IAM ${want} ARN (at most 2048 characters)`;
  const m = ARN.exec(value);
  if (!m) return `must be an IAM ${want} ARN (arn:<partition>:iam::<12-digit account>:${types[0]}/<name>)`;
  const [, partition, accountId, type, rest] = m as unknown as [string, string, string, IamResourceType, string];
  if (!(IAM_PARTITIONS as readonly string[]).includes(partition)) return `partition ${JSON.stringify(partition)} is not one of ${IAM_PARTITIONS.join(', ')}`;
  if (!types.includes(type)) return `must be an IAM ${want} ARN, not a ${type}`;
  if (accountId === 'aws' && type !== 'policy') return `must name a 12-digit account`;
  const segments = rest.slice(1).split('/');
  const name = segments.pop()!;
  const path = segments.length === 0 ? '/' : `/${segments.join('/')}/`;
  if (!okSegment(name) || name.length > MAX_NAME[type]) return `the ${type} name must be 1–${MAX_NAME[type]} characters of [A-Za-z0-9+=,.@_-]`;
  if (path.length > MAX_PATH || !segments.every(okSegment)) return `the path must be at most ${MAX_PATH} characters of /-separated [A-Za-z0-9+=,.@_-] segments`;
  return { arn: value, partition, accountId, type, path, name };
}

/** An IAM name (group name) as a target field: `[\w+=,.@-]`, not all dots. */
export function isIamName(value: string, max: number): boolean {
  return value.length >= 1 && value.length <= max && okSegment(value);
}

/** The principal of an IAM kind: its type must match the ARN's (`user` ↔ user ARN, `role` ↔ role ARN). */
export function checkIamPrincipal(p: Principal, types: readonly ('user' | 'role')[]): string | undefined {
  if (!(types as readonly string[]).includes(p.type)) return `principal.type must be ${types.join(' or ')}`;
  const a = parseIamArn(p.id, [p.type as 'user' | 'role']);
  return typeof a === 'string' ? `principal.id ${a}` : undefined;
}

/** Parses the principal or throws JOB_PARAMS_INVALID: every kind entry point calls this before any AWS call. */
export function principalArn(p: Principal, types: readonly ('user' | 'role')[]): IamArn {
  const bad = checkIamPrincipal(p, types);
  if (bad) throw new ConnectorError('JOB_PARAMS_INVALID', bad);
  return parseIamArn(p.id, [p.type as 'user' | 'role']) as IamArn;
}

/** Parses an ARN field of the target or throws JOB_PARAMS_INVALID. */
export function targetArn(field: string, value: unknown, types: readonly IamResourceType[]): IamArn {
  const a = typeof value === 'string' ? parseIamArn(value, types) : `must be a string`;
  if (typeof a === 'string') throw new ConnectorError('JOB_PARAMS_INVALID', `target.${field} ${a}`);
  return a;
}

/**
 * Why the connector refuses to edit this role (the rule's name and why), or undefined.
 * Every kind that writes to an IAM role (trust policy, permissions boundary, inline policy)
 * checks it on the ARN before any call and again on what GetRole returns. IAM role names
 * are unique regardless of case, so names compare case-insensitively. Only the
 * organization's access role can be allowed, by the customer's policy file; the connector's
 * own role names come from its configuration (CONNECTOR_ROLE_NAMES) as well as from the
 * integration, so a control plane cannot take them off the list.
 */
export function protectedRoleReason(ctx: AccessContext, role: { name: string; path: string }): { rule: string; why: string } | undefined {
  const name = role.name.toLowerCase();
  if (ctx.settings.connectorRoleNames.some((n) => n.toLowerCase() === name)) return { rule: 'connector-role', why: 'one of the connector\'s own roles' };
  if (name.startsWith('awsreservedsso_')) return { rule: 'identity-center-role', why: 'an IAM Identity Center role (AWSReservedSSO_*): Identity Center owns it' };
  if (role.path.startsWith('/aws-service-role/') || role.path.startsWith('/aws-reserved/')) return { rule: 'service-linked-role', why: `a service-linked or AWS-reserved role (path ${role.path}): only AWS may change it` };
  if (name === 'awscontroltowerexecution') return { rule: 'control-tower-role', why: 'the role AWS Control Tower manages accounts through' };
  if (name === 'awscloudformationstacksetexecutionrole' || name.startsWith('stacksets-exec-')) return { rule: 'stackset-execution-role', why: 'a role CloudFormation StackSets deploy through (AWSCloudFormationStackSetExecutionRole, stacksets-exec-*)' };
  if (name === 'organizationaccountaccessrole' && !ctx.settings.allowOrganizationAccountAccessRole) {
    return { rule: 'organization-access-role', why: 'the organization\'s administrative access role (the customer may allow it with accessKinds.allowOrganizationAccountAccessRole in the policy file)' };
  }
  return undefined;
}

export function refuseProtectedRole(ctx: AccessContext, role: { name: string; path: string }): void {
  const p = protectedRoleReason(ctx, role);
  if (p) throw new ConnectorError('ROLE_PROTECTED', `the connector never edits role ${role.name} (rule ${p.rule}): it is ${p.why}`);
}

/**
 * The IAM client acting in the account of `target`, after the connector's own account
 * rules: never an excluded account; in an aws-account integration only its one account
 * (there member() is the management identity, which would otherwise act on a same-named
 * entity in the wrong account); the organization's management account only with
 * allowManagementAccount (refuseProtectedAccounts, shared by every kind).
 */
export async function iamClientFor(ctx: AccessContext, target: IamArn): Promise<IAMClient> {
  const accountId = target.accountId;
  const mgmt = await ctx.session.managementIdentity();
  if (target.partition !== mgmt.partition) {
    throw new ConnectorError('JOB_PARAMS_INVALID', `${target.arn} is in partition ${target.partition}, the integration in ${mgmt.partition}`);
  }
  if (ctx.integration.type === 'aws-account' && accountId !== mgmt.accountId) {
    throw new ConnectorError('ACCESS_REFUSED', `account ${accountId} is outside this aws-account integration (account ${mgmt.accountId})`);
  }
  await refuseProtectedAccounts(ctx, [accountId], `${target.arn}`);
  return ctx.session.memberClient(IAMClient, accountId);
}

// ---- policy documents ----

export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
  [k: string]: unknown;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
  [k: string]: unknown;
}

/**
 * A policy document as IAM returns it (URL-encoded JSON). `Statement` may be one object or
 * an array in IAM's grammar: it becomes an array, which means the same, and every
 * statement object is kept exactly as read.
 */
export function parsePolicy(raw: string | undefined, what: string): PolicyDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(decodeURIComponent(raw ?? ''));
  } catch {
    throw new ConnectorError('ACCESS_FAILED', `${what} is not readable JSON; it was left unchanged`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConnectorError('ACCESS_FAILED', `${what} is not a JSON object; it was left unchanged`);
  const d = doc as Record<string, unknown>;
  const st = d.Statement;
  const statements = st === undefined ? [] : Array.isArray(st) ? st : [st];
  if (!statements.every((s) => typeof s === 'object' && s !== null && !Array.isArray(s))) {
    throw new ConnectorError('ACCESS_FAILED', `${what} has a statement that is not an object; it was left unchanged`);
  }
  return { ...d, Statement: statements as PolicyStatement[] };
}

/** Minified: IAM counts a policy's size without white space, and so do our messages. */
export function serializePolicy(doc: PolicyDocument): string {
  return JSON.stringify(doc);
}

export const asList = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** 16 hex characters of sha256(principal ARN): names the connector's trust statement and session name for that principal. */
export function principalHash(arn: string): string {
  return createHash('sha256').update(arn).digest('hex').slice(0, 16);
}

/** The role session name iam.roleAssume requires of sessions under a grant (trust condition sts:RoleSessionName). */
export function roleSessionNameFor(principalArn: string): string {
  return `ac-${principalHash(principalArn)}`;
}


/** The text of an AWS error message (from the ConnectorError's cause), for messages that quote AWS. */
export function awsMessage(err: unknown): string {
  const cause = err instanceof ConnectorError ? err.cause : err;
  return String((cause as { message?: unknown } | null)?.message ?? '');
}
