// A service error as the simulator raises it. The codec of the service's wire protocol
// turns it into the exact shape AWS sends (XML <ErrorResponse> or JSON `__type`), so the
// SDK raises the same exception class it raises against AWS.
export class SimError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Extra modelled members of the error shape (e.g. CancellationReasons, Reason). */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type ServiceName =
  | 'sts' | 'iam' | 'organizations' | 'sso-admin' | 'identitystore'
  | 'ssm' | 'cloudtrail' | 'dynamodb' | 'resource-explorer-2' | 'account' | 'ec2';

type Kind = 'throttling' | 'accessDenied' | 'invalidToken' | 'expiredToken' | 'missingAuth';

// Each service's real code and HTTP status for the errors every service can raise.
// Query services (STS, IAM) use the short codes of the common AWS error list;
// JSON services their modelled exception names. RE2 (restJson) uses 4xx statuses.
const COMMON: Record<ServiceName, Record<Kind, [string, number]>> = {
  sts: q(), iam: q(),
  // EC2 (API reference, "Common client error codes"): RequestLimitExceeded is its throttle.
  ec2: {
    throttling: ['RequestLimitExceeded', 503],
    accessDenied: ['UnauthorizedOperation', 403],
    invalidToken: ['AuthFailure', 401],
    expiredToken: ['RequestExpired', 400],
    missingAuth: ['MissingAuthenticationToken', 401],
  },
  organizations: j('TooManyRequestsException'),
  'sso-admin': j('ThrottlingException'),
  identitystore: j('ThrottlingException'),
  ssm: j('ThrottlingException'),
  cloudtrail: j('ThrottlingException'),
  dynamodb: j('ThrottlingException'),
  'resource-explorer-2': {
    throttling: ['ThrottlingException', 429],
    accessDenied: ['AccessDeniedException', 403],
    invalidToken: ['UnrecognizedClientException', 403],
    expiredToken: ['ExpiredTokenException', 403],
    missingAuth: ['MissingAuthenticationTokenException', 403],
  },
  // Account Management (restJson1): its model's throttling error is TooManyRequestsException (429).
  account: {
    throttling: ['TooManyRequestsException', 429],
    accessDenied: ['AccessDeniedException', 403],
    invalidToken: ['UnrecognizedClientException', 403],
    expiredToken: ['ExpiredTokenException', 403],
    missingAuth: ['MissingAuthenticationTokenException', 403],
  },
};
function q(): Record<Kind, [string, number]> {
  return {
    throttling: ['Throttling', 400],
    accessDenied: ['AccessDenied', 403],
    invalidToken: ['InvalidClientTokenId', 403],
    expiredToken: ['ExpiredToken', 400],
    missingAuth: ['MissingAuthenticationToken', 403],
  };
}
function j(throttle: string): Record<Kind, [string, number]> {
  return {
    throttling: [throttle, 400],
    accessDenied: ['AccessDeniedException', 400],
    invalidToken: ['UnrecognizedClientException', 400],
    expiredToken: ['ExpiredTokenException', 400],
    missingAuth: ['MissingAuthenticationTokenException', 400],
  };
}

const MESSAGES: Record<Kind, string> = {
  throttling: 'Rate exceeded',
  accessDenied: 'Access denied',
  invalidToken: 'The security token included in the request is invalid.',
  expiredToken: 'The security token included in the request is expired',
  missingAuth: 'Missing Authentication Token',
};

export function commonError(service: ServiceName, kind: Kind, message?: string): SimError {
  const [code, status] = COMMON[service][kind];
  let msg = message ?? MESSAGES[kind];
  if (service === 'organizations' && kind === 'throttling' && !message) {
    msg = 'You have sent too many requests in too short a period of time. The quota helps protect against denial-of-service attacks. Try again later.';
  }
  const fields: Record<string, unknown> = {};
  if (service === 'organizations' && kind === 'throttling') fields.Type = 'AccountThrottle';
  return new SimError(code, msg, status, fields);
}

/** 5xx faults: the generic codes every AWS endpoint can answer with. */
export function serverError(code: 'InternalFailure' | 'ServiceUnavailable'): SimError {
  return code === 'InternalFailure'
    ? new SimError('InternalFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500)
    : new SimError('ServiceUnavailable', 'The request has failed due to a temporary failure of the server.', 503);
}

/** The "1 validation error detected" style used by JSON services (and ValidationError in query). */
export function validation(service: ServiceName, message: string): SimError {
  if (service === 'sts' || service === 'iam') return new SimError('ValidationError', message, 400);
  return new SimError('ValidationException', message, 400);
}
