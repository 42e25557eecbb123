// Every error the connector reports carries a stable `code`. Operators and control
// planes match on the code, never on the message. docs/operations.md is checked against
// this catalogue by scripts/check-docs.mjs, so a new code cannot ship undocumented.

export interface ErrorCodeInfo {
  /** Whether repeating the same job later may succeed without anyone changing anything. */
  retryable: boolean;
  /** What happened, in an operator's words. */
  meaning: string;
  /** What to do about it. */
  fix: string;
}

export const ERROR_CODES = {
  CONFIG_INVALID: {
    retryable: false,
    meaning: 'A setting is missing or has a value that is not allowed. The process exits with code 78.',
    fix: 'Read the one-line message: it names the variable and what it accepts. See docs/configuration.md.',
  },
  POLICY_FILE_INVALID: {
    retryable: false,
    meaning: 'CONNECTOR_POLICY_FILE could not be read or does not match the policy schema. The process exits with code 78.',
    fix: 'Fix the file at the path and field named in the message; docs/policy.md describes every key.',
  },
  CONTROL_PLANE_TOKEN_REJECTED: {
    retryable: true,
    meaning: 'The control plane answered 401/403 to the upgrade or closed with 4401: the token is wrong, expired or revoked.',
    fix: 'Put a valid token in CONNECTOR_TOKEN_FILE (re-read before every attempt; attempts are 5 minutes apart; SIGHUP tries at once) or CONNECTOR_TOKEN (needs a restart).',
  },
  CONTROL_PLANE_UNREACHABLE: {
    retryable: true,
    meaning: 'The control plane could not be reached (DNS, TCP, proxy or TLS failure, or an unexpected HTTP answer to the upgrade).',
    fix: 'Check egress to the control plane host on 443 (security group, NetworkPolicy, proxy). The connector keeps retrying with backoff.',
  },
  CONTROL_PLANE_PIN_MISMATCH: {
    retryable: true,
    meaning: 'No certificate on the server\'s verified chain (each signature checked from the leaf up to a trusted certificate) carries one of the public keys in CONTROL_PLANE_PINS. Nothing was sent to it.',
    fix: 'If the control plane rotated its key, add the new pin next to the old one. If not, something is intercepting TLS: investigate.',
  },
  CONTROL_PLANE_REDIRECT: {
    retryable: true,
    meaning: 'The control plane answered the upgrade with a redirect. Redirects are never followed because they would carry the token elsewhere.',
    fix: 'Set CONTROL_PLANE_URL to the final wss:// address.',
  },
  PROTOCOL_ERROR: {
    retryable: true,
    meaning: 'The peer sent something that breaks protocol v1 (or closed with 4400).',
    fix: 'Usually a control-plane bug or a version mismatch; the connector reconnects. Report it with the logged frame type and code.',
  },
  HEARTBEAT_TIMEOUT: {
    retryable: true,
    meaning: 'No byte arrived on the socket for twice the heartbeat interval: the connection was dead and has been replaced.',
    fix: 'Nothing if it is rare. If frequent, look for a proxy or load balancer that cuts idle or long-lived connections.',
  },
  JOB_EXPIRED: {
    retryable: false,
    meaning: "The job's notAfter passed while it waited in the queue.",
    fix: 'The control plane should send a new job; if it happens often, raise MAX_CONCURRENT_JOBS or add replicas.',
  },
  JOB_CANCELLED: {
    retryable: true,
    meaning: 'The job was cancelled (job.cancel or shutdown). AWS is as it was before the job.',
    fix: 'Nothing; the control plane may send the job again.',
  },
  SHUTDOWN_INTERRUPTED: {
    retryable: true,
    meaning: 'The connector stopped while a job was still undoing its work after cancellation; its AWS state must be checked.',
    fix: 'Send the job again (same grantId): jobs are idempotent. Raise SHUTDOWN_GRACE_SECONDS if jobs need longer to finish.',
  },
  JOB_PARAMS_INVALID: {
    retryable: false,
    meaning: "The job's params do not match what its job type accepts.",
    fix: 'A control-plane bug: the message names the field.',
  },
  JOB_HANDLER_FAILED: {
    retryable: true,
    meaning: 'The job failed with an error the connector did not classify.',
    fix: 'Read the job end log line (same jobId) for the cause; report it if it persists.',
  },
  INTEGRATION_INVALID: {
    retryable: false,
    meaning: 'The integration sent with the job is inconsistent (for example an aws-organization without a management role, or a field the connector cannot use).',
    fix: 'Correct the integration settings in the control plane; the message names the field.',
  },
  BASE_CREDENTIALS_MISSING: {
    retryable: false,
    meaning: "The connector's own AWS identity could not be found: no task role (ECS), no IRSA web identity or Pod Identity association (EKS), no environment credentials.",
    fix: 'ECS: set the task role (TaskRoleArn). EKS: annotate the service account with eks.amazonaws.com/role-arn (IRSA) or create a Pod Identity association. Never use long-lived access keys.',
  },
  ASSUME_ROLE_DENIED: {
    retryable: false,
    meaning: "sts:AssumeRole into the management or member role was denied. AWS gives the same answer for a trust policy that does not trust the caller and for a wrong ExternalId, so both are named.",
    fix: "Check the role's trust policy trusts the connector's identity (the message names both ARNs) and that the integration's externalId equals the ExternalId parameter of the roles stack; for a member account, that the member role exists there (member-role StackSet).",
  },
  AWS_ACCESS_DENIED: {
    retryable: false,
    meaning: 'AWS refused an API call: the role lacks the permission, or a service control policy or permissions boundary denies it.',
    fix: 'The message names the action and the role. Update the roles stack (or its feature switches) so the role is allowed that action; check SCPs on the account.',
  },
  AWS_ORGANIZATION_UNAVAILABLE: {
    retryable: false,
    meaning: 'The management role is not in the management account (or a delegated administrator) of an organization, or the account is not in an organization.',
    fix: 'Deploy the management-roles stack in the management account, or register the account as a delegated administrator; use an aws-account integration for a single account.',
  },
  POLICY_DENIED: {
    retryable: false,
    meaning: "The customer's policy file (CONNECTOR_POLICY_FILE) forbids this access. Rules that can be decided from the job alone reject it on receipt (job.rejected policy); rules that need to read AWS first (an account's OU, what a group or permission set grants) fail it before any write.",
    fix: 'The message names the rule. Change the request, or have the customer change the policy file (docs/policy.md).',
  },
  ROLE_PROTECTED: {
    retryable: false,
    meaning: 'The job would write to an IAM role the connector never edits, whatever the integration or the policy says: its own roles (CONNECTOR_ROLE_NAMES, the integration\'s management and member roles), OrganizationAccountAccessRole, AWSControlTowerExecution, AWSCloudFormationStackSetExecutionRole, stacksets-exec-*, AWSReservedSSO_* or a service-linked role. Refused before any AWS write.',
    fix: 'The message names the rule. Grant through another role. Only OrganizationAccountAccessRole can be allowed, by the customer, with accessKinds.allowOrganizationAccountAccessRole in the policy file.',
  },
  ACCESS_REFUSED: {
    retryable: false,
    meaning: 'The connector refuses this access on its own, whatever the policy: for example the management account without allowManagementAccount, or group writes to an externally managed identity source.',
    fix: 'The message says why. Most refusals protect the organization and have no override; allowManagementAccount is set on the integration.',
  },
  ACCESS_FAILED: {
    retryable: false,
    meaning: 'AWS accepted the change but reported that it failed (for example an Identity Center assignment whose status became FAILED, or an SSM command that failed on an instance). Nothing was left half-done.',
    fix: "The message carries AWS's reason. Fix the cause (deleted permission set, instance offline, ...) and grant again.",
  },
  ACCESS_TIMEOUT: {
    retryable: true,
    meaning: 'AWS did not finish an asynchronous change (assignment status, SSM command) in the time the connector waits. The grant stays pending in the ledger and keeps holding the access, so a retry finishes it and a revoke (or the sweeper, at expiry) removes it.',
    fix: 'Retry with the same grantId; it is idempotent. If it persists, check the AWS service health.',
  },
  ROLE_NOT_OPTED_IN: {
    retryable: false,
    meaning: 'The role is not opted in for just-in-time access: it lacks the tag access-connector-jit=enabled, and the member role may change the trust policy and inline policies only of roles with that tag (JitRoles=tagged, the default). Refused before any write.',
    fix: "Have the role's owner tag it: `aws iam tag-role --role-name ROLE --tags Key=access-connector-jit,Value=enabled` in its account, then grant again. `access-connector doctor --role ARN` checks a role (docs/permissions.md).",
  },
  TRUST_POLICY_TOO_LARGE: {
    retryable: false,
    meaning: "Adding the grant's statement would take the role's trust policy past its size quota (2,048 characters by default).",
    fix: 'Revoke other time-bound grants on this role, or raise the "Role trust policy length" quota of the account in Service Quotas.',
  },
  GRANT_CONFLICT: {
    retryable: false,
    meaning: 'The grantId is already recorded in the ledger for different access, or the same AWS object is held by another active grant of a different shape (for example a second boundary on one principal).',
    fix: 'Use a new grantId for new access; revoke the other grant first.',
  },
  LEDGER_UNAVAILABLE: {
    retryable: true,
    meaning: 'The grant ledger (LEDGER_TABLE) is not configured, does not exist, or could not be read or written. No access is changed without a ledger entry.',
    fix: 'Set LEDGER_TABLE to the table the templates created (or run `access-connector ledger init` for local use) and allow the connector role dynamodb:DescribeTable, GetItem, PutItem, UpdateItem, DeleteItem, Query and Scan on it.',
  },
  UNDECLARED_AWS_ACTION: {
    retryable: false,
    meaning: 'The connector was about to call an AWS action that no part of it declares, so no template grants it. This is a defect of the connector, never of the install.',
    fix: 'Report it with the log line; the action is named in the message. Nothing was sent to AWS.',
  },
  LEDGER_BUSY: {
    retryable: true,
    meaning: 'Another job or replica held the ledger lock on the same AWS object for longer than the connector waits.',
    fix: 'Retry; locks expire on their own after 2 minutes if their holder died.',
  },
  LEDGER_LEASE_LOST: {
    retryable: true,
    meaning: 'A job held the ledger lock on an AWS object but could not renew it for most of its 2-minute lifetime (the ledger unreachable, or the process paused), so another replica may have taken it over. The job stopped before its next change to AWS; what it had already changed is in the ledger.',
    fix: 'Retry the job (the grant id makes it safe). If it recurs, check that the connector reaches its ledger table (network, DynamoDB throttling, permissions).',
  },
  AWS_THROTTLED: {
    retryable: true,
    meaning: 'AWS kept throttling a call after the SDK\'s adaptive retries and, in the daemon, 3 more minutes of backoff.',
    fix: 'Usually transient; lower AWS_QUOTA_SHARE if the customer\'s own tools are throttled too, or spread jobs over time.',
  },
  AWS_CONFLICT: {
    retryable: true,
    meaning: 'AWS reported a conflicting operation in progress (ConflictException).',
    fix: 'Retry; the connector already retried for a while.',
  },
  AWS_NOT_FOUND: {
    retryable: false,
    meaning: 'An AWS resource named by the job does not exist.',
    fix: 'Check the ids in the job; the message names the resource.',
  },
  AWS_CREDENTIALS_EXPIRED: {
    retryable: true,
    meaning: 'AWS rejected expired temporary credentials, and refreshing them did not help.',
    fix: 'Check the clock of the node (NTP) and the maximum session duration of the roles.',
  },
  AWS_UNAVAILABLE: {
    retryable: true,
    meaning: 'AWS answered with a server error or did not answer in time.',
    fix: 'Transient; see the AWS Health Dashboard if it persists. Without NAT: check the VPC endpoints, or HTTPS_PROXY / NO_PROXY when egress goes through a proxy (docs/install-ecs.md, docs/install-eks.md).',
  },
  AWS_INVALID_REQUEST: {
    retryable: false,
    meaning: 'AWS rejected a request as invalid (validation error, malformed policy, limit exceeded).',
    fix: 'The message holds AWS\'s explanation; report it if the request came from the connector itself.',
  },
  AWS_REGION_DISABLED: {
    retryable: false,
    meaning: 'The region is not enabled for the account (an opt-in region), so there is nothing to read there. The unit is reported as skipped.',
    fix: 'Nothing, or list the regions to sync in the integration so disabled ones are not tried.',
  },
  AWS_ERROR: {
    retryable: true,
    meaning: 'An AWS error the connector does not classify.',
    fix: 'The message holds the AWS error code and call; report it.',
  },
  INTERNAL_ERROR: {
    retryable: true,
    meaning: 'A bug in the connector.',
    fix: 'Report it with the log lines around it.',
  },
  ACCESS_UNCONFIRMED: {
    retryable: true,
    meaning: 'A change was sent to AWS but its outcome could not be learnt (a server error or lost answer on the call, or the status of an asynchronous change could not be read), and reading the access back did not find it in place. AWS may have applied it, or may still. The grant stays pending in the ledger and keeps holding the access.',
    fix: 'Send the grant again with the same grantId: it finds the access in place or applies it. A revoke, or the sweeper at expiry, removes whatever was applied.',
  },
  POLICY_ATTACHMENT_LIMIT: {
    retryable: false,
    meaning: 'AWS refused to attach the managed policy (iam.policyAttachment): the IAM user, role or group already has as many managed policies attached as its quota allows (10 by default, up to 20 with a quota increase). Nothing was attached; the connector does not retry.',
    fix: 'Detach a managed policy the principal no longer needs, or revoke another time-bound attachment on it, or raise the "Managed policies per role/user" quota of the account in Service Quotas (groups are capped at 10); then send the grant again.',
  },
  GRANT_REVOKING: {
    retryable: false,
    meaning: 'A grant job arrived for a grantId whose revoke started and did not finish (state revoking). A revoke is never undone by a grant.',
    fix: 'Send the revoke again, or let the sweeper finish it; use a new grantId for new access.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class of the connector: thrown when an operation fails for a reason we can name. */
export class ConnectorError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
  }
}

/** True when the error means an AbortSignal fired. */
export function isAbortError(err: unknown, depth = 0): boolean {
  // Duck-typed: DOMException and errors from other realms fail `instanceof Error`.
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
  if (e.name === 'AbortError' || e.code === 'ABORT_ERR') return true;
  // The AWS SDK may wrap an abort it did not raise itself ("AWS SDK error wrapper for AbortError").
  if (typeof e.message === 'string' && e.message.startsWith('AWS SDK error wrapper for AbortError')) return true;
  return isAbortError(e.cause, depth + 1);
}

/** The job-result form of any thrown value. Messages of unknown errors are kept short. */
export function toJobError(err: unknown): { code: string; message: string; retryable: boolean } {
  if (err instanceof ConnectorError) return { code: err.code, message: err.message, retryable: err.retryable };
  if (isAbortError(err)) return { code: 'JOB_CANCELLED', message: ERROR_CODES.JOB_CANCELLED.meaning, retryable: true };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'JOB_HANDLER_FAILED', message: message.slice(0, 1000), retryable: true };
}
