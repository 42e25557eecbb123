// The access kinds this build ships. Adding one is one file in kinds/ and one line here.
import { ConnectorError } from '../errors.js';
import type { AccessKindName } from './types.js';
import type { AccessKindDef } from './types.js';
import { ssoAccountAssignment } from './kinds/sso-account-assignment.js';
import { ssoGroupMembership } from './kinds/sso-group-membership.js';
import { ssoUser } from './kinds/sso-user.js';
import { iamGroupMembership } from './kinds/iam-group-membership.js';
import { iamRoleAssume } from './kinds/iam-role-assume.js';
import { iamPermissionsBoundary } from './kinds/iam-permissions-boundary.js';
import { iamPolicyAttachment } from './kinds/iam-policy-attachment.js';
import { ec2SsmSession } from './kinds/ec2-ssm-session.js';
import { ec2LocalUser } from './kinds/ec2-local-user.js';

export const KINDS: readonly AccessKindDef[] = [
  ssoAccountAssignment,
  ssoGroupMembership,
  ssoUser,
  iamGroupMembership,
  iamRoleAssume,
  iamPermissionsBoundary,
  iamPolicyAttachment,
  ec2SsmSession,
  ec2LocalUser,
] as unknown as AccessKindDef[];

const byName = new Map<string, AccessKindDef>(KINDS.map((k) => [k.name, k]));

export function kindOf(name: AccessKindName | string): AccessKindDef {
  const k = byName.get(name);
  if (!k) throw new ConnectorError('JOB_PARAMS_INVALID', `access kind "${String(name).slice(0, 64)}" is not supported by this connector`);
  return k;
}
