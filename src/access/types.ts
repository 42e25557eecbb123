// The contract between the grant/revoke runner (run-access.ts) and an access kind. A kind
// is one file in src/access/kinds/ and one line in src/access/registry.ts. It knows how to
// read, create and remove one shape of access in AWS; the runner owns the ledger, the
// policy, locking, idempotency and cancellation, so a kind never has to.
import * as z from 'zod';
import type { ZodType } from 'zod';
import type { IntegrationSession } from '../aws/session.js';
import type { Logger } from '../log.js';
import type { AccessKind as AccessKindName, Integration } from '../protocol/messages.js';
import { isRefusal } from '../aws/errors.js';

export type { AccessKindName };
export type PrincipalType = 'user' | 'group' | 'role';

export const GRANT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export const principalSchema = z.strictObject({
  type: z.enum(['user', 'group', 'role']),
  // Identity Store ids, IAM ARNs: bounded and free of control characters. Each kind
  // checks the exact shape it needs in its own target/principal validation.
  id: z.string().min(1).max(2048).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  userName: z.string().min(1).max(128).optional(),
  email: z.string().min(3).max(320).optional(),
});
export type Principal = z.infer<typeof principalSchema>;

/** One grant or revoke request, after the common params (docs/protocol.md, "grant and revoke") and the kind's target were parsed. */
export interface AccessRequest<T = Record<string, unknown>> {
  grantId: string;
  accessKind: AccessKindName;
  principal: Principal;
  target: T;
  /** RFC 3339; absent = no automatic expiry. */
  expiresAt?: string;
}

/**
 * What the customer's policy is checked against, read from AWS before any write. A kind
 * lists every account, permission set, role, group, boundary and managed policy the
 * access would reach, including indirectly (a group membership reaches whatever the
 * group is assigned).
 */
export interface PolicyFacts {
  /** Accounts the access lands in. */
  accountIds: string[];
  /** Permission sets reached (by name and ARN), with the managed policy ARNs each carries. */
  permissionSets?: { arn: string; name: string; managedPolicies: string[] }[];
  /** IAM role ARNs the access is on (assumed role, restricted role, SSM role principal). */
  roles?: string[];
  /** Groups joined, as `sso:<DisplayName>` / `iam:<GroupName>` plus their ids/ARNs. */
  groups?: { id: string; name: string }[];
  /** Boundary policy ARNs applied. */
  boundaries?: string[];
  /** Managed policy ARNs the access carries, however reached (for deniedManagedPolicies). */
  managedPolicies?: string[];
  /** Instances the access reaches (EC2 kinds): id, tags, instance profile and its role. */
  instances?: { id: string; tags: Record<string, string>; instanceProfileArn?: string; roleArn?: string }[];
  /**
   * Roles whose credentials the access gives indirectly: a shell on an instance reads its
   * instance profile role's credentials from the metadata service. Checked like `roles`
   * and `managedPolicies`; the boundary is reported, not matched (`boundaries` governs the
   * boundaries a grant applies).
   */
  instanceRoles?: { arn: string; managedPolicies: string[]; boundary?: string }[];
}

/** How the requester uses the access. Never holds a secret. */
export interface AccessDetails {
  /** One or two sentences for a person. */
  instructions: string;
  /** Sign-in link (SSO portal), when there is one. */
  url?: string;
  /** Role ARN to assume, when there is one. */
  roleArn?: string;
  /** A command to run (aws cli / ssh), when there is one. */
  command?: string;
  /** What revoke cannot end (for example console sessions already open). */
  revokeLimits?: string[];
  /** The integration's customAccessDetails, verbatim. */
  custom?: string;
}

/** What describe() found in AWS. */
export interface Presence {
  /** The access named by the request is in place right now. */
  present: boolean;
  /**
   * Facts the kind wants kept in the ledger with the access, taken before the first
   * change (for example the boundary the principal had). Plain JSON, no secrets.
   */
  observed?: Record<string, unknown>;
}

/** The context a kind works in: one job, one integration. */
export interface AccessContext {
  session: IntegrationSession;
  integration: Integration;
  log: Logger;
  /** Fires on job.cancel / shutdown. The runner decides when a kind may still be interrupted. */
  signal: AbortSignal;
  now(): number;
  /** Runs `fn` while holding the process-wide semaphore `name` (at most `max` holders). */
  limit<T>(name: string, max: number, fn: () => Promise<T>): Promise<T>;
  /** Settings a kind may need. */
  settings: {
    ssoMaxOutstandingAssignments: number;
    /** Role names the connector itself uses: never edited by a grant. */
    connectorRoleNames: readonly string[];
    /** Policy file opt-in: Identity Store group writes even when users come from an external IdP or AD. */
    allowExternalIdentityWrites: boolean;
    /** Policy file opt-in: OrganizationAccountAccessRole may be edited like any other role. */
    allowOrganizationAccountAccessRole: boolean;
    /** JIT_ROLES: `tagged` = only roles tagged access-connector-jit=enabled may be changed (src/access/opt-in.ts). */
    jitRoles: 'tagged' | 'any';
  };
  /** Sleeps (honouring `signal` only when asked); tests shrink poll intervals through the simulator's time scale, not this. */
  sleep(ms: number): Promise<void>;
}

export interface AccessKindDef<T = Record<string, unknown>> {
  name: AccessKindName;
  /** One line for docs/access.md and `--help`. */
  summary: string;
  principalTypes: readonly PrincipalType[];
  /** The kind's `target` (required fields listed in docs/protocol.md, "Access kinds", plus its optional ones). Strict. */
  target: ZodType<T>;
  /** Extra checks of the principal's id shape (Identity Store id, IAM ARN); returns a message when invalid. */
  checkPrincipal?(principal: Principal): string | undefined;
  /** Every AWS action describe/grant/revoke/facts may call (least-privilege test, docs/permissions.md). */
  requiredActions: readonly string[];
  /**
   * Identity of the access in AWS. Grants with equal keys overlap: the ledger keeps the
   * set of grant ids holding the access, and it is removed only when the set empties.
   */
  accessKey(req: AccessRequest<T>): string;
  /** Scope of the ledger lock taken around describe+grant/revoke (default: accessKey). */
  lockKey?(req: AccessRequest<T>): string;
  /**
   * Reads what the policy needs and refuses what the connector never does (throw
   * ConnectorError ACCESS_REFUSED / AWS_NOT_FOUND). Read-only.
   */
  facts(ctx: AccessContext, req: AccessRequest<T>): Promise<PolicyFacts>;
  describe(ctx: AccessContext, req: AccessRequest<T>): Promise<Presence>;
  /**
   * Puts the access in place and waits until AWS says it is (never reports success
   * before AWS does). Called only when describe() said it is absent, or by `extend`.
   * Returns facts kept in the ledger with the access (merged over describe's `observed`).
   *
   * A failure leaves the outcome unknown (the grant stays `pending` and keeps holding the
   * access) unless the error is marked with unchanged(): a refusal before any change was
   * sent, an AWS refusal of the change (see sendChange), an explicit FAILED from AWS, or a
   * change the kind undid completely.
   */
  grant(ctx: AccessContext, req: AccessRequest<T>, before: Presence): Promise<Record<string, unknown> | void>;
  /**
   * Called instead of grant() when the access is present and held by the connector, so a
   * later expiry can be pushed out (trust-policy conditions). Optional.
   */
  extend?(ctx: AccessContext, req: AccessRequest<T>, kept: Record<string, unknown>): Promise<Record<string, unknown> | void>;
  /**
   * Removes the access the connector created, given what the ledger kept for it. Absent
   * access is success. Returns notes for the revoke output (sessions ended, limits).
   */
  revoke(ctx: AccessContext, req: AccessRequest<T>, kept: Record<string, unknown>): Promise<{ notes?: string[] } | void>;
  /**
   * Deletes what revoke deliberately left behind for a while (ec2.localUser: the locked
   * OS user, `userCleanupAfterDays` after revoke). The runner calls it from the sweeper
   * when that time comes, or right after revoke when the integration says 0 days.
   */
  cleanup?(ctx: AccessContext, req: AccessRequest<T>, kept: Record<string, unknown>): Promise<void>;
  /**
   * Credentials this kind creates for the requester (ec2.localUser: an authorized SSH
   * key). With `credentialRotationDays` > 0 the runner revokes the access that many days
   * after it was granted even when `expiresAt` is later, so a credential never outlives
   * the schedule. Kinds that create none leave this unset, and `check` says the setting
   * has no effect on them.
   */
  createsCredentials?: string;
  /** How the requester uses the access and what revoke cannot end. */
  accessDetails(ctx: AccessContext, req: AccessRequest<T>): AccessDetails;
}

/** Grant/revoke job output (docs/protocol.md, "grant and revoke"), plus optional fields the control plane may ignore. */
export interface AccessOutput {
  grantId: string;
  state: 'granted' | 'revoked';
  accessDetails: AccessDetails;
  preExisting: boolean;
  /** Why nothing was changed, when nothing was (already granted, already gone, still held by other grants). */
  note?: string;
  /** Other active grants still holding the same access after a revoke. */
  heldBy?: number;
  /** CloudTrail events done under the grant (enableAudit), newest first, bounded. */
  audit?: { events: { time: string; eventName: string; eventSource: string; accountId?: string; region?: string }[]; truncated: boolean; error?: string };
}

// ---- failures of grant(): unknown outcome unless marked ----

const UNCHANGED = new WeakSet<object>();

/** Marks an error of grant() as leaving AWS exactly as it was before the grant. */
export function unchanged<E>(err: E): E {
  if (typeof err === 'object' && err !== null) UNCHANGED.add(err);
  return err;
}

/** Whether grant() said its failure left AWS as it was. Anything else may have changed AWS. */
export function isUnchanged(err: unknown): boolean {
  return typeof err === 'object' && err !== null && UNCHANGED.has(err);
}

/** Work before the first change (reads, checks): whatever it throws changed nothing. */
export async function beforeChange<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw unchanged(err);
  }
}

/**
 * Sends one change to AWS. Only AWS refusing it on the first attempt proves it was not
 * applied; a server error, a lost answer or a retried attempt may have applied it. The
 * ledger's lease fence (LEDGER_LEASE_LOST) stops a call before it is sent, so it too
 * proves nothing was applied by this call.
 */
export async function sendChange<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isRefusal(err) || isFenced(err) ? unchanged(err) : err;
  }
}

function isFenced(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'LEDGER_LEASE_LOST';
}
