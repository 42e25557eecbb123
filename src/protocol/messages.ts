// Protocol v1 frames (docs/protocol.md, "Frames"; the JSON Schemas in
// docs/protocol/ are generated from them). These schemas are the single source
// of the frame types: everything else imports the inferred types from here.
//
// Unknown fields are ignored (zod strips them from the parsed value); the raw object is
// kept where it matters (job signatures are computed over the frame as received).
import * as z from 'zod';

export const PROTOCOL = 'access-connector.v1';
export const PROTOCOL_VERSION = 1;
/** docs/protocol.md, "General rules": one JSON object per UTF-8 text frame, at most 1 MiB. */
export const MAX_FRAME_BYTES = 1024 * 1024;
export const MAX_BATCH_ENTITIES = 500;

export const JOB_TYPES = ['sync', 'grant', 'revoke', 'check'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const ACCESS_KINDS = [
  'sso.accountAssignment',
  'sso.groupMembership',
  'sso.user',
  'iam.roleAssume',
  'iam.groupMembership',
  'iam.permissionsBoundary',
  'iam.policyAttachment',
  'ec2.ssmSession',
  'ec2.localUser',
] as const;
export type AccessKind = (typeof ACCESS_KINDS)[number];

export const ENTITY_KINDS = [
  'aws.organization',
  'aws.root',
  'aws.organizationalUnit',
  'aws.account',
  'sso.instance',
  'sso.permissionSet',
  'sso.user',
  'sso.group',
  'sso.groupMembership',
  'sso.accountAssignment',
  'iam.user',
  'iam.accessKey',
  'iam.group',
  'iam.role',
  'iam.policy',
  'ec2.managedInstance',
  'resource',
  // Derived entities (sync params `expand: true`, docs/sync.md "Effective access (expand)"):
  // inferences from the facts above, each marked `derived: true`.
  'sso.effectiveAccess',
  'sso.permissionSetPolicy',
  'iam.groupPolicy',
] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];

export const REJECT_REASONS = [
  'busy',
  'unsupported',
  'invalid',
  'expired',
  'signature',
  'policy',
  'draining',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Message ids: unique per sender. We send UUIDs; we accept any reasonable string. */
const messageId = z.string().min(1).max(128);
/** Job ids are echoed into logs, metrics and the dedupe table: keep them plain. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const jobIdSchema = z.string().regex(JOB_ID_PATTERN, 'jobId must match ^[A-Za-z0-9._:-]{1,128}$');
export const rfc3339 = z.iso.datetime({ offset: true });

// ---------------------------------------------------------------------------------
// Control plane → connector

export const welcomeFrame = z.object({
  type: z.literal('welcome'),
  id: messageId,
  sessionId: z.string().min(1).max(256),
  heartbeatSeconds: z.number().int().min(5).max(120).default(20),
  window: z.number().int().min(1).max(1024).default(16),
});

/** docs/protocol.md, "Integration". The integration never holds a secret; ARNs of every partition are accepted. */
const accountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');
const arnPartition = '(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc)';
/** `.` and `..` are legal IAM name characters, but as a whole path segment or name they read as path traversal downstream. */
const dotsOnly = /^\.+$/;
export const roleArnSchema = z
  .string()
  .regex(new RegExp(`^arn:${arnPartition}:iam::\\d{12}:role/[\\w+=,.@/-]{1,512}$`), 'must be an IAM role ARN')
  .refine((arn) => {
    const segments = arn.slice(arn.indexOf(':role/') + ':role/'.length).split('/');
    return segments.every((s) => s.length > 0 && !dotsOnly.test(s)) && segments[segments.length - 1]!.length <= 64;
  }, 'must be an IAM role ARN: a name of at most 64 characters, no empty, "." or ".." path segment');
const regionName = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region name such as us-east-1');

export const integrationSchema = z.object({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(256),
  type: z.enum(['aws-organization', 'aws-account']),
  region: regionName,
  roleArn: roleArnSchema.optional(),
  externalId: z
    .string()
    .min(2)
    .max(1224)
    .regex(/^[\w+=,.@:/-]+$/, 'must be 2–1224 characters of [A-Za-z0-9+=,.@:/_-]')
    .optional(),
  profile: z.string().min(1).max(128).regex(/^[\w.-]+$/).optional(),
  memberRoleName: z
    .string()
    .regex(/^[\w+=,.@-]{1,64}$/, 'must be an IAM role name')
    .refine((n) => !dotsOnly.test(n), 'must be an IAM role name, not "." or ".."')
    .default('AccessConnectorMember'),
  ssoRegion: regionName.optional(),
  ssoPortalUrl: z.string().max(512).optional(),
  excludeOrganizationalUnitIds: z.array(z.string().regex(/^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/, 'must be an OU id')).default([]),
  excludeAccountIds: z.array(accountId).default([]),
  regions: z.array(regionName).default([]),
  resourceTypes: z.array(z.enum(['sso', 'iam', 'ec2', 'resources'])).default(['sso', 'iam', 'ec2', 'resources']),
  resourceOwnerTagKey: z.string().min(1).max(128).optional(),
  userCleanupAfterDays: z.number().int().min(0).max(3650).default(0),
  credentialRotationDays: z.number().int().min(0).max(3650).default(0),
  customAccessDetails: z.string().max(400, 'must be at most 400 characters').optional(),
  enableAudit: z.boolean().default(false),
  allowManagementAccount: z.boolean().default(false),
});
export type Integration = z.infer<typeof integrationSchema>;

/**
 * The `job` frame. `params` is validated by the job type's own schema (docs/protocol.md, "Job params") once the
 * frame itself is known to be well formed; `integration` is checked here.
 */
export const jobFrame = z.object({
  type: z.literal('job'),
  id: messageId,
  jobId: jobIdSchema,
  jobType: z.string().min(1).max(64),
  attempt: z.number().int().min(0).max(1_000_000).default(1),
  notAfter: rfc3339,
  connectorId: z.string().min(1).max(128).optional(),
  integration: integrationSchema,
  params: z.record(z.string(), z.unknown()),
  keyId: z.string().min(1).max(128).optional(),
  signature: z.string().min(1).max(256).optional(),
});
export type JobFrame = z.infer<typeof jobFrame>;

export const jobCancelFrame = z.object({ type: z.literal('job.cancel'), id: messageId, jobId: jobIdSchema });
export const ackFrame = z.object({ type: z.literal('ack'), id: messageId, ids: z.array(messageId).max(100_000) });
export const errorFrame = z.object({
  type: z.literal('error'),
  id: messageId,
  code: z.string().min(1).max(128),
  message: z.string().max(4096),
  refId: messageId.optional(),
});

export const inboundSchemas = {
  welcome: welcomeFrame,
  job: jobFrame,
  'job.cancel': jobCancelFrame,
  ack: ackFrame,
  error: errorFrame,
} as const;
export type InboundType = keyof typeof inboundSchemas;
export type WelcomeFrame = z.infer<typeof welcomeFrame>;
export type JobCancelFrame = z.infer<typeof jobCancelFrame>;
export type AckFrame = z.infer<typeof ackFrame>;
export type ErrorFrame = z.infer<typeof errorFrame>;

// ---------------------------------------------------------------------------------
// Connector → control plane

export const entitySchema = z.object({
  kind: z.enum(ENTITY_KINDS),
  id: z.string().min(1),
  name: z.string(),
  accountId: z.string().optional(),
  region: z.string().optional(),
  parentId: z.string().optional(),
  arn: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  owner: z.string().optional(),
  deleted: z.boolean().optional(),
  /** An inference from other entities (sync params `expand`), not a fact read from AWS; `attributes.derivedFrom` names the facts. */
  derived: z.boolean().optional(),
  attributes: z.record(z.string(), z.unknown()),
});
export type Entity = z.infer<typeof entitySchema>;

export const helloFrame = z.object({
  type: z.literal('hello'),
  id: messageId,
  connectorId: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  protocol: z.literal(PROTOCOL_VERSION),
  capabilities: z.object({
    jobTypes: z.array(z.string()),
    accessKinds: z.array(z.string()),
    entityKinds: z.array(z.string()),
  }),
  maxConcurrentJobs: z.number().int(),
  running: z.array(jobIdSchema),
});

export const jobAcceptedFrame = z.object({ type: z.literal('job.accepted'), id: messageId, jobId: jobIdSchema });
export const jobRejectedFrame = z.object({
  type: z.literal('job.rejected'),
  id: messageId,
  jobId: jobIdSchema,
  reason: z.enum(REJECT_REASONS),
  message: z.string(),
});
export const jobProgressFrame = z.object({
  type: z.literal('job.progress'),
  id: messageId,
  jobId: jobIdSchema,
  phase: z.string().min(1).max(128),
  done: z.number().int().min(0),
  total: z.number().int().min(0).optional(),
});
export const syncBatchFrame = z.object({
  type: z.literal('sync.batch'),
  id: messageId,
  jobId: jobIdSchema,
  seq: z.number().int().min(0),
  entities: z.array(entitySchema).max(MAX_BATCH_ENTITIES),
  cursor: z.string().max(16 * 1024).optional(),
});
export const jobErrorSchema = z.object({ code: z.string(), message: z.string(), retryable: z.boolean() });
export type JobError = z.infer<typeof jobErrorSchema>;
export const jobResultFrame = z.object({
  type: z.literal('job.result'),
  id: messageId,
  jobId: jobIdSchema,
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  output: z.unknown().optional(),
  error: jobErrorSchema.optional(),
  stats: z.record(z.string(), z.unknown()),
});

export const outboundSchemas = {
  hello: helloFrame,
  'job.accepted': jobAcceptedFrame,
  'job.rejected': jobRejectedFrame,
  'job.progress': jobProgressFrame,
  'sync.batch': syncBatchFrame,
  'job.result': jobResultFrame,
  error: errorFrame,
} as const;

export type HelloFrame = z.infer<typeof helloFrame>;
export type JobAcceptedFrame = z.infer<typeof jobAcceptedFrame>;
export type JobRejectedFrame = z.infer<typeof jobRejectedFrame>;
export type JobProgressFrame = z.infer<typeof jobProgressFrame>;
export type SyncBatchFrame = z.infer<typeof syncBatchFrame>;
export type JobResultFrame = z.infer<typeof jobResultFrame>;
export type OutboundFrame =
  | HelloFrame
  | JobAcceptedFrame
  | JobRejectedFrame
  | JobProgressFrame
  | SyncBatchFrame
  | JobResultFrame
  | ErrorFrame;

/** docs/protocol.md, "Connector → control plane", column "acked": these stay in the outbox until an `ack` names them. */
export const ACKED_TYPES: ReadonlySet<string> = new Set<OutboundFrame['type']>([
  'job.accepted',
  'job.rejected',
  'sync.batch',
  'job.result',
]);

/** Formats a zod error as one short line naming the failing fields (never their values). */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(frame)'}: ${i.message}`)
    .join('; ');
}
