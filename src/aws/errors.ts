// One place that turns an AWS SDK error into a ConnectorError with a stable code.
// Messages name the call that failed ("iam.GetRole in 222222222222: …") so an operator
// knows where to look; they never hold credentials (the log scrubber is the backstop).
import { ConnectorError, isAbortError, type ErrorCode } from '../errors.js';

export interface AwsCallContext {
  service: string;
  operation: string;
  accountId?: string;
  region?: string;
  roleArn?: string;
}

const THROTTLE = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException_Throttle',
]);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError', 'UnauthorizedException', 'AuthorizationErrorException']);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'InvalidClientTokenId', 'UnrecognizedClientException']);
const NOT_FOUND = new Set(['NoSuchEntity', 'NoSuchEntityException', 'ResourceNotFoundException', 'NotFoundException', 'InvalidInstanceId', 'InvalidDocument', 'AccountNotFoundException', 'ParentNotFoundException', 'TargetNotFoundException', 'OrganizationalUnitNotFoundException']);
const CONFLICT = new Set(['ConflictException', 'ConcurrentModification', 'ConcurrentModificationException', 'TransactionConflictException']);
const ORG_UNAVAILABLE = new Set(['AWSOrganizationsNotInUseException']);
const INVALID = new Set(['ValidationException', 'ValidationError', 'InvalidInput', 'InvalidInputException', 'MalformedPolicyDocument', 'MalformedPolicyDocumentException', 'LimitExceeded', 'LimitExceededException', 'InvalidParameterValue', 'InvalidParameterException', 'ServiceQuotaExceededException', 'ConditionalCheckFailedException']);

export interface AwsErrorLike {
  name?: string;
  message?: string;
  Code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** The AWS error code of a thrown SDK error ("AccessDeniedException", "Throttling", …), also when it is the cause of one of our ConnectorErrors. */
export function awsErrorCode(err: unknown): string {
  if (err instanceof ConnectorError && err.cause !== undefined) return awsErrorCode(err.cause);
  if (typeof err !== 'object' || err === null) return 'Unknown';
  const e = err as AwsErrorLike;
  return e.Code ?? e.name ?? 'Unknown';
}

export function isThrottle(err: unknown): boolean {
  const status = (err as AwsErrorLike | null)?.$metadata?.httpStatusCode;
  return THROTTLE.has(awsErrorCode(err)) || status === 429;
}

export function isExpiredCredentials(err: unknown): boolean {
  const code = awsErrorCode(err);
  return code === 'ExpiredToken' || code === 'ExpiredTokenException' || code === 'RequestExpired';
}

export function isNotFound(err: unknown): boolean {
  if (err instanceof ConnectorError) return err.code === 'AWS_NOT_FOUND';
  return NOT_FOUND.has(awsErrorCode(err));
}

/**
 * AWS answered the request with a refusal (a 4xx status) on its only attempt, so it was
 * not applied. A server error, a network failure or an answer after SDK retries (an
 * earlier attempt may have been applied) is not a refusal.
 */
export function isRefusal(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof ConnectorError && e.cause !== undefined) e = e.cause;
  const meta = (e as AwsErrorLike | null)?.$metadata as { httpStatusCode?: number; attempts?: number } | undefined;
  const status = meta?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && (meta?.attempts ?? 1) <= 1;
}

export function isConflict(err: unknown): boolean {
  return CONFLICT.has(awsErrorCode(err));
}

/** SDK client names → the service names operators know from the AWS CLI. */
const CLI_NAMES: Record<string, string> = { SSOAdmin: 'sso-admin', ResourceExplorer2: 'resource-explorer-2', Identitystore: 'identitystore', CloudTrail: 'cloudtrail', DynamoDB: 'dynamodb' };

function where(ctx: AwsCallContext): string {
  const svc = CLI_NAMES[ctx.service] ?? ctx.service.toLowerCase().replace(/\s+/g, '-');
  const scope = [ctx.accountId, ctx.region].filter(Boolean).join('/');
  return `${svc}.${ctx.operation}${scope ? ` in ${scope}` : ''}`;
}

/** Classifies any error thrown by an AWS call. Abort errors pass through unchanged. */
export function classifyAwsError(err: unknown, ctx: AwsCallContext): unknown {
  if (err instanceof ConnectorError || isAbortError(err)) return err;
  const code = awsErrorCode(err);
  const awsMessage = ((err as AwsErrorLike | null)?.message ?? '').slice(0, 500);
  const status = (err as AwsErrorLike | null)?.$metadata?.httpStatusCode;
  const call = where(ctx);
  const make = (c: ErrorCode, msg: string) => new ConnectorError(c, msg, { cause: err });

  if (code === 'CredentialsProviderError' || (err as Error | null)?.name === 'CredentialsProviderError') {
    return make('BASE_CREDENTIALS_MISSING', `no AWS credentials for the connector's own identity (${awsMessage || code})`);
  }
  if (isThrottle(err)) return make('AWS_THROTTLED', `${call}: throttled by AWS (${code}) after retries`);
  if (ORG_UNAVAILABLE.has(code)) {
    return make('AWS_ORGANIZATION_UNAVAILABLE', `${call}: ${awsMessage || code}; the role must be in the organization's management account or a delegated administrator`);
  }
  if (DENIED.has(code) || status === 403) {
    const role = ctx.roleArn ? ` as ${ctx.roleArn}` : '';
    return make('AWS_ACCESS_DENIED', `${call}${role}: access denied (${awsMessage || code}); allow the action in the role's policy (roles stack) and check SCPs`);
  }
  if (EXPIRED.has(code)) return make('AWS_CREDENTIALS_EXPIRED', `${call}: ${code}: ${awsMessage}`);
  if (NOT_FOUND.has(code) || status === 404) return make('AWS_NOT_FOUND', `${call}: ${code}: ${awsMessage}`);
  if (CONFLICT.has(code)) return make('AWS_CONFLICT', `${call}: ${code}: ${awsMessage}`);
  if (INVALID.has(code)) return make('AWS_INVALID_REQUEST', `${call}: ${code}: ${awsMessage}`);
  const fault = (err as AwsErrorLike | null)?.$fault;
  const netCode = (err as NodeJS.ErrnoException | null)?.code;
  if (fault === 'server' || (status !== undefined && status >= 500) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'TimeoutError'].includes(netCode ?? code)) {
    return make('AWS_UNAVAILABLE', `${call}: ${code}${awsMessage ? `: ${awsMessage}` : ''}`);
  }
  return make('AWS_ERROR', `${call}: ${code}${awsMessage ? `: ${awsMessage}` : ''}`);
}
