// The tags that bound what the connector's roles may change (cloudformation/*.yaml):
//   - a role is opted in for just-in-time access by its owner with access-connector-jit=
//     enabled; with JitRoles=tagged (the default) the member role may change the trust
//     policy and inline policies of those roles only, and cannot tag a role itself;
//   - every permission set the connector creates carries access-connector-managed=true;
//     the management role may change, provision and delete only permission sets with it.
// The connector checks the role tag itself before any write, so a grant to a role that is
// not opted in fails with ROLE_NOT_OPTED_IN instead of an AccessDenied half-way through.
import { ConnectorError } from '../errors.js';
import type { AccessContext } from './types.js';

export const JIT_ROLE_TAG = { key: 'access-connector-jit', value: 'enabled' } as const;
export const MANAGED_PERMISSION_SET_TAG = { key: 'access-connector-managed', value: 'true' } as const;

type Tags = ReadonlyArray<{ Key?: string | undefined; Value?: string | undefined }> | undefined;

/** The role carries access-connector-jit=enabled (IAM tag keys compare without case; values with). */
export function roleOptedIn(tags: Tags): boolean {
  return (tags ?? []).some((t) => t.Key?.toLowerCase() === JIT_ROLE_TAG.key && t.Value === JIT_ROLE_TAG.value);
}

/** The command that opts a role in, run with credentials of the role's account. */
export function optInCommand(roleName: string): string {
  return `aws iam tag-role --role-name ${roleName} --tags Key=${JIT_ROLE_TAG.key},Value=${JIT_ROLE_TAG.value}`;
}

/** Why a grant may not change this role, or undefined (always undefined with JIT_ROLES=any). */
export function notOptedInReason(ctx: Pick<AccessContext, 'settings'>, role: { arn: string; name: string; tags: Tags }): string | undefined {
  if (ctx.settings.jitRoles === 'any' || roleOptedIn(role.tags)) return undefined;
  return `role ${role.arn} is not opted in for just-in-time access: it has no tag ${JIT_ROLE_TAG.key}=${JIT_ROLE_TAG.value}, ` +
    `and the member role may change only roles with that tag. Tag it in its account (${optInCommand(role.name)}) and grant again`;
}

export function refuseRoleNotOptedIn(ctx: Pick<AccessContext, 'settings'>, role: { arn: string; name: string; tags: Tags }): void {
  const why = notOptedInReason(ctx, role);
  if (why) throw new ConnectorError('ROLE_NOT_OPTED_IN', why);
}
