// STS (awsQuery): AssumeRole with trust-policy evaluation, GetCallerIdentity.
import { SimError, commonError, validation } from '../errors.js';
import { checkAction, deniedMessage, trustAllows, type RequestContext } from '../auth.js';
import type { World } from '../world.js';
import type { ServiceDef } from '../service.js';
import { roleByArn } from '../world.js';
import { num, str } from '../util.js';

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

export const stsService: ServiceDef = {
  name: 'sts',
  global: true,
  protocol: 'query',
  iamPrefix: 'sts',
  eventSource: 'sts.amazonaws.com',
  family: () => 'sts',
  mutating: new Set(),
  resource: (ctx) => str(ctx.input.RoleArn) ?? '*',
  authContext: (ctx) => assumeRoleContext(ctx.world, str(ctx.input.RoleArn) ?? ''),
  ops: {
    GetCallerIdentity: ({ session }) => ({ UserId: session.userId, Account: session.accountId, Arn: session.arn }),

    AssumeRole: (ctx) => {
      const { world, session, input, sim } = ctx;
      const roleArn = str(input.RoleArn) ?? '';
      const sessionName = str(input.RoleSessionName) ?? '';
      const externalId = str(input.ExternalId);
      if (roleArn.length < 20) throw validation('sts', `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20`);
      if (!SESSION_NAME.test(sessionName)) {
        throw validation('sts', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: ` +
          (sessionName.length < 2 || sessionName.length > 64 ? 'Member must have length between 2 and 64' : 'Member must satisfy regular expression pattern: [\\w+=,.@-]*'));
      }
      if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) {
        throw validation('sts', `1 validation error detected: Value '${externalId}' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]* and have length between 2 and 1224`);
      }
      const duration = num(input.DurationSeconds) ?? 3600;
      if (duration < 900 || duration > 43200) throw validation('sts', `1 validation error detected: Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`);

      const denied = () => commonError('sts', 'accessDenied', deniedMessage(session, 'sts:AssumeRole', roleArn, { allowed: false, explicitDeny: false }));
      const found = roleByArn(world, roleArn);
      if (!found || sim.faults.deniedAccounts.has(found.account.id)) throw denied();
      // A role of an account that is not ACTIVE (suspended, closing, closed) cannot be
      // assumed: AWS answers AccessDenied without a reason, never naming the account's state.
      if (found.account.state !== 'ACTIVE') {
        throw commonError('sts', 'accessDenied', `User: ${session.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      }
      if (!checkAction(world, session, 'sts:AssumeRole', assumeRoleContext(world, roleArn)).allowed) throw denied();
      const callerAccount = world.accounts.get(session.accountId);
      const ok = trustAllows(world, found.role.trust, {
        callerRoleArn: session.roleArn, callerArn: session.arn, callerAccount: session.accountId,
        ...(externalId !== undefined ? { externalId } : {}), sessionName, now: ctx.now,
        ...(callerAccount?.inOrg && world.organization ? { principalOrgId: world.organization.id } : {}),
      });
      if (!ok) throw denied();
      // Every caller here is a role session, so this is role chaining: AWS caps it at 1 hour.
      const chained = true;
      if (duration > found.role.maxSession) throw validation('sts', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
      if (chained && duration > 3600) throw validation('sts', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
      const s = sim.sessions.issue(roleArn, found.role, found.account.id, sessionName, ctx.now, duration, chained);
      found.role.lastUsed = ctx.now;
      found.role.lastUsedRegion = ctx.region;
      // AWS logs AssumeRole in the role's account: that is where "who used this role" is read.
      found.account.trail.push({
        EventId: ctx.requestId, EventName: 'AssumeRole', EventSource: 'sts.amazonaws.com', EventTime: ctx.now,
        Username: session.sessionName, AccessKeyId: session.accessKeyId, ReadOnly: 'true',
        Resources: [{ ResourceType: 'AWS::IAM::Role', ResourceName: roleArn }], region: ctx.region,
        detail: { userIdentity: { type: 'AssumedRole', arn: session.arn, accountId: session.accountId }, requestParameters: { roleArn, roleSessionName: sessionName } },
      });
      return {
        Credentials: { AccessKeyId: s.accessKeyId, SecretAccessKey: s.secretAccessKey, SessionToken: s.sessionToken, Expiration: new Date(s.expiresAt!) },
        AssumedRoleUser: { AssumedRoleId: s.userId, Arn: s.arn },
      };
    },
  },
};

/** AssumeRole is authorized on the role, and aws:ResourceOrgID is the organization of the role's account. */
function assumeRoleContext(world: World, roleArn: string): RequestContext {
  const found = roleByArn(world, roleArn);
  const orgId = found?.account.inOrg ? world.organization?.id : undefined;
  return { resources: [{ arn: roleArn, tags: found?.role.tags ?? [] }], ...(orgId ? { keys: { 'aws:resourceorgid': orgId } } : {}) };
}

export { SimError };
