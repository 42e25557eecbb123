// The connector's view of AWS's API quotas, by family. Client-side rate limiting keeps
// each family, per account (and per region for regional services), at `AWS_QUOTA_SHARE`
// of these rates, so the connector never uses the whole quota that the customer's own
// console and automation also draw on.
//
// Sources: the AWS service quota pages of each service. Where AWS
// publishes no figure (Organizations, IAM, most SSM APIs) the value is a conservative
// stand-in; adaptive retry absorbs the difference when AWS is stricter.

export type QuotaFamily =
  | 'sts'
  | 'organizations'
  | 'iam'
  | 'identitycenter'
  | 'resource-explorer-search'
  | 'resource-explorer'
  | 'ssm'
  | 'cloudtrail-lookup'
  | 'cloudtrail'
  | 'dynamodb'
  | 'ec2';

export const AWS_RATES: Readonly<Record<QuotaFamily, number>> = {
  sts: 600,
  organizations: 4,
  iam: 20,
  identitycenter: 20,
  'resource-explorer-search': 5,
  'resource-explorer': 3,
  ssm: 20,
  'cloudtrail-lookup': 2,
  cloudtrail: 10,
  dynamodb: 1000,
  // EC2 throttles Describe* calls as "non-mutating actions": a bucket of 100 refilled at 20 per second.
  ec2: 20,
};

/** Global services are throttled per account; the others per account and region. */
export const GLOBAL_FAMILIES: ReadonlySet<QuotaFamily> = new Set(['organizations', 'iam']);

/** Which family an SDK call belongs to. `service` is the SDK's service id (e.g. "SSO Admin"). */
export function familyOf(service: string, operation: string): QuotaFamily {
  const s = service.toLowerCase().replace(/[\s_-]/g, '');
  if (s === 'sts') return 'sts';
  // The Account API (ListRegions) is paced with Organizations, its sibling management API.
  if (s === 'organizations' || s === 'account') return 'organizations';
  if (s === 'iam') return 'iam';
  if (s === 'ssoadmin' || s === 'identitystore') return 'identitycenter';
  if (s === 'resourceexplorer2') return operation === 'Search' ? 'resource-explorer-search' : 'resource-explorer';
  if (s === 'ssm') return 'ssm';
  if (s === 'cloudtrail') return operation === 'LookupEvents' ? 'cloudtrail-lookup' : 'cloudtrail';
  if (s === 'dynamodb') return 'dynamodb';
  if (s === 'ec2') return 'ec2';
  return 'sts';
}

/** Largest page sizes AWS documents, per list operation we page through. */
export const MAX_PAGE = {
  organizations: 20,
  ssoAdmin: 100,
  identityStore: 100,
  iamAuthorizationDetails: 1000,
  iam: 1000,
  ssmInstanceInformation: 50,
  resourceExplorer: 1000,
  cloudTrailLookup: 50,
  ec2DescribeInstances: 1000,
} as const;
