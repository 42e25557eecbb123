// The AWS half of the integration check: each item makes the cheapest real call that
// proves a permission or a setting, and says "not tested" rather than guess. Items that
// depend on an earlier failure are skipped with the reason.
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetAccountAuthorizationDetailsCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { IdentitystoreClient, ListGroupsCommand, ListUsersCommand } from '@aws-sdk/client-identitystore';
import { DescribeOrganizationCommand, ListAccountsForParentCommand, ListAccountsCommand, ListRootsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { GetDefaultViewCommand, ListIndexesCommand, ResourceExplorer2Client } from '@aws-sdk/client-resource-explorer-2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ListInstancesCommand, ListPermissionSetsCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { ConnectorError, ERROR_CODES } from '../errors.js';
import { parseArn } from '../aws/credentials.js';
import type { IntegrationSession } from '../aws/session.js';
import type { CheckItem } from './report.js';
import { KINDS } from '../access/registry.js';
import { parseIamArn } from '../access/iam-common.js';
import { JIT_ROLE_TAG, optInCommand, roleOptedIn } from '../access/opt-in.js';

/** What the check calls, by identity (src/permissions.ts, docs/permissions.md). */
export const CHECK_ACTIONS = {
  management: [
    'organizations:DescribeOrganization', 'organizations:ListRoots', 'organizations:ListAccountsForParent', 'organizations:ListAccounts',
    'sso:ListInstances', 'sso:ListPermissionSets', 'identitystore:ListUsers', 'identitystore:ListGroups',
    'resource-explorer-2:ListIndexes', 'resource-explorer-2:GetDefaultView',
  ],
  member: ['iam:GetAccountAuthorizationDetails'],
  /** When resourceTypes holds "ec2" (member role). */
  ec2: ['ssm:DescribeInstanceInformation'],
  /** When LEDGER_TABLE is set (the connector's own role). */
  ledger: ['dynamodb:DescribeTable'],
  /** When the integration enables audit (management role). */
  audit: ['cloudtrail:LookupEvents'],
  /** `doctor --role ARN`: is the role opted in for just-in-time access (member role, manage). */
  roles: ['iam:GetRole'],
} as const;

/** Stacks named in fixes; every fix names the parameter (or setting) to change. */
const STACK = 'the management-roles stack (cloudformation/management-roles.yaml)';
const CONNECTOR_STACK = 'the connector stack (connector-ecs.yaml or eks-role.yaml)';

export interface AwsCheckOptions {
  ledgerTable?: string;
  /** Member accounts to try the member role in (the first N active, non-excluded). */
  sampleAccounts?: number;
  /** Role ARNs to check for the just-in-time opt-in tag (`doctor --role`), with JIT_ROLES. */
  roles?: readonly string[];
  jitRoles?: 'tagged' | 'any';
}

function failure(err: unknown, base: Pick<CheckItem, 'id' | 'title' | 'actions'>, fix?: string): CheckItem {
  const code = err instanceof ConnectorError ? err.code : 'AWS_ERROR';
  const message = err instanceof Error ? err.message : String(err);
  const known = (ERROR_CODES as Record<string, { fix: string }>)[code];
  // Never cut: the detail is the whole message, so the fix can be read against it.
  return { ...base, status: 'fail', code, detail: message, fix: fix ?? known?.fix ?? 'See docs/operations.md for this code.' };
}

export async function runAwsChecks(session: IntegrationSession, opts: AwsCheckOptions = {}): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  const integ = session.integration;
  const { broker } = session;

  // 1. The connector's own identity.
  const baseItem = { id: 'base-identity', title: 'connector identity', actions: ['sts:GetCallerIdentity'] };
  try {
    const me = await broker.whoAmI(broker.base(integ.profile));
    items.push({ ...baseItem, status: 'pass', detail: me.arn });
  } catch (err) {
    items.push(failure(err, baseItem));
    items.push({ id: 'rest', title: 'remaining checks', status: 'skip', detail: 'skipped: the connector has no AWS identity' });
    return items;
  }

  // 2. The management role.
  let mgmtAccount = '';
  if (integ.roleArn) {
    const roleItem = { id: 'management-role', title: 'management role', actions: ['sts:AssumeRole'] };
    try {
      const id = await broker.whoAmI(session.management());
      mgmtAccount = id.accountId;
      items.push({ ...roleItem, status: 'pass', detail: `assumed ${integ.roleArn}${integ.externalId ? ' with ExternalId' : ''}` });
    } catch (err) {
      items.push(failure(err, roleItem, `In ${STACK}: ConnectorRoleArn must be the connector's role (the identity above), and ExternalId must equal the integration's externalId${integ.externalId ? '' : ' (the integration sets none: set it in the control plane)'}; ManagementRoleName must match the role name in ${integ.roleArn}.`));
      items.push({ id: 'rest', title: 'remaining checks', status: 'skip', detail: 'skipped: the management role cannot be assumed' });
      return items;
    }
    if (!integ.externalId) {
      items.push({ id: 'external-id', title: 'ExternalId', status: 'warn', detail: 'the integration sets no externalId', fix: `Require an ExternalId in the role's trust policy (parameter ExternalId of ${STACK}) and set it on the integration: it prevents the confused-deputy problem.` });
    }
  } else {
    mgmtAccount = (await session.managementIdentity()).accountId;
  }

  // 3. Organization access and the accounts to sample.
  let sample: string[] = [];
  if (integ.type === 'aws-organization') {
    const orgItem = { id: 'organization', title: 'organization', actions: ['organizations:DescribeOrganization', 'organizations:ListRoots', 'organizations:ListAccountsForParent', 'organizations:ListAccounts'] };
    try {
      const org = await session.managementClient(OrganizationsClient);
      const o = (await org.send(new DescribeOrganizationCommand({}))).Organization;
      const roots = (await org.send(new ListRootsCommand({ MaxResults: 20 }))).Roots ?? [];
      if (roots[0]?.Id) await org.send(new ListAccountsForParentCommand({ ParentId: roots[0].Id, MaxResults: 1 }));
      const accounts = (await org.send(new ListAccountsCommand({ MaxResults: 20 }))).Accounts ?? [];
      if (o?.MasterAccountId && o.MasterAccountId !== mgmtAccount) {
        items.push({ ...orgItem, status: 'warn', detail: `${o.Id}: the role is in ${mgmtAccount}, a delegated administrator; the management account is ${o.MasterAccountId}`, fix: `Nothing to change for sync. Grants in the management account ${o.MasterAccountId ?? ''} itself need the member role there: deploy ${STACK} in that account too.` });
      } else {
        items.push({ ...orgItem, status: 'pass', detail: `${o?.Id ?? '?'} (management account ${o?.MasterAccountId ?? '?'}, ${roots.length} root${roots.length === 1 ? '' : 's'})` });
      }
      sample = accounts
        .filter((a) => a.Id && a.Id !== mgmtAccount && (a.State ?? a.Status) === 'ACTIVE' && !integ.excludeAccountIds.includes(a.Id))
        .slice(0, opts.sampleAccounts ?? 3)
        .map((a) => a.Id!);
    } catch (err) {
      items.push(failure(err, orgItem, `Deploy ${STACK} in the management account (or a delegated administrator) and set the integration's roleArn to its management role (parameter ManagementRoleName); its organizations:Describe*/List* permissions come with every install. If they are there, a service control policy denies them.`));
    }
  } else {
    sample = [mgmtAccount];
  }

  // 4. The member role (a second hop) and IAM reads in a few accounts.
  if (integ.resourceTypes.includes('iam') || integ.type === 'aws-organization') {
    const memberItem = { id: 'member-role', title: integ.type === 'aws-organization' ? `member role (${integ.memberRoleName})` : 'IAM read', actions: ['sts:AssumeRole', 'iam:GetAccountAuthorizationDetails'] };
    if (sample.length === 0) {
      items.push({ ...memberItem, status: 'skip', detail: 'no active member account to try' });
    } else {
      const failures: Array<{ account: string; code: string; message: string }> = [];
      for (const account of sample) {
        try {
          const iam = await session.memberClient(IAMClient, account);
          await iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1 }));
        } catch (err) {
          failures.push({ account, code: err instanceof ConnectorError ? err.code : 'AWS_ERROR', message: err instanceof Error ? err.message : String(err) });
        }
      }
      if (failures.length === 0) items.push({ ...memberItem, status: 'pass', detail: `works in ${sample.join(', ')}` });
      else {
        const denied = failures.some((f) => f.code === 'ASSUME_ROLE_DENIED');
        items.push({
          ...memberItem,
          status: 'fail',
          code: failures[0]!.code,
          // Each account once, with its whole cause.
          detail: `failed in ${failures.length} of ${sample.length} accounts tried: ${failures.map((f) => `${f.account}: ${f.code}: ${f.message}`).join(' | ')}`,
          fix: denied
            ? `The member hop uses no ExternalId. In ${STACK} set DeployMemberRoles=true and add the OUs of ${failures.map((f) => f.account).join(', ')} to MemberTargetOUs (the StackSet creates ${integ.memberRoleName} there, trusting ManagementRoleName); MemberRoleName must be ${integ.memberRoleName}. Or exclude the accounts in the integration (excludeAccountIds).`
            : `The member role ${integ.memberRoleName} needs iam:GetAccountAuthorizationDetails (every install of member-role.yaml grants it): re-deploy the StackSet of ${STACK}, and check service control policies on those accounts.`,
        });
      }
    }
  }

  // 5. IAM Identity Center.
  if (integ.resourceTypes.includes('sso')) {
    const ssoItem = { id: 'identity-center', title: 'IAM Identity Center', actions: ['sso:ListInstances', 'sso:ListPermissionSets', 'identitystore:ListUsers', 'identitystore:ListGroups'] };
    const region = integ.ssoRegion ?? integ.region;
    try {
      const sso = await session.managementClient(SSOAdminClient, region);
      const instances = (await sso.send(new ListInstancesCommand({ MaxResults: 100 }))).Instances ?? [];
      const inst = instances[0];
      if (!inst?.InstanceArn || !inst.IdentityStoreId) {
        items.push({ ...ssoItem, status: 'fail', code: 'AWS_NOT_FOUND', detail: `no Identity Center instance in ${region}`, fix: 'Set the integration\'s ssoRegion to the region where IAM Identity Center is enabled.' });
      } else {
        await sso.send(new ListPermissionSetsCommand({ InstanceArn: inst.InstanceArn, MaxResults: 1 }));
        const ids = await session.managementClient(IdentitystoreClient, region);
        await ids.send(new ListUsersCommand({ IdentityStoreId: inst.IdentityStoreId, MaxResults: 1 }));
        await ids.send(new ListGroupsCommand({ IdentityStoreId: inst.IdentityStoreId, MaxResults: 1 }));
        items.push({ ...ssoItem, status: 'pass', detail: `${inst.InstanceArn} (identity store ${inst.IdentityStoreId}) in ${region}` });
      }
    } catch (err) {
      items.push(failure(err, ssoItem, `Set the integration's ssoRegion to the region where IAM Identity Center is enabled (now ${region}). The management role's sso:List* and identitystore:List* permissions come with every install of ${STACK}: if it is deployed, a service control policy denies them.`));
    }
  }

  // 6. Resource Explorer.
  if (integ.resourceTypes.includes('resources')) {
    const reItem = { id: 'resource-explorer', title: 'Resource Explorer', actions: ['resource-explorer-2:ListIndexes', 'resource-explorer-2:GetDefaultView'] };
    try {
      const re = await session.managementClient(ResourceExplorer2Client);
      const aggs = (await re.send(new ListIndexesCommand({ Type: 'AGGREGATOR', MaxResults: 10 }))).Indexes ?? [];
      const agg = aggs[0];
      if (!agg?.Region) {
        items.push({ ...reItem, status: 'warn', detail: 'no aggregator index: sync falls back to each region\'s local index', fix: `Set EnableResourceExplorer=true in ${STACK}, and create an aggregator index with a default view (Resource Explorer → Settings), or remove "resources" from the integration's resourceTypes.` });
      } else {
        const reAgg = await session.managementClient(ResourceExplorer2Client, agg.Region);
        const view = (await reAgg.send(new GetDefaultViewCommand({}))).ViewArn;
        items.push(
          view
            ? { ...reItem, status: 'pass', detail: `aggregator index in ${agg.Region}, default view ${view}` }
            : { ...reItem, status: 'warn', detail: `aggregator index in ${agg.Region} but no default view`, fix: `Create a default view in ${agg.Region} (Resource Explorer → Views → Create view, then "Set as default").` },
        );
      }
    } catch (err) {
      items.push(failure(err, reItem, `Set EnableResourceExplorer=true in ${STACK} (grants resource-explorer-2:ListIndexes, GetDefaultView), or remove "resources" from the integration's resourceTypes.`));
    }
  }

  // 7. SSM-managed instances.
  if (integ.resourceTypes.includes('ec2')) {
    const ssmItem = { id: 'ssm', title: 'SSM (EC2 instances)', actions: ['ssm:DescribeInstanceInformation'] };
    const account = sample[0] ?? mgmtAccount;
    try {
      const ssm = account === mgmtAccount && integ.type === 'aws-account' ? await session.managementClient(SSMClient) : await session.memberClient(SSMClient, account);
      const n = (await ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 5 }))).InstanceInformationList?.length ?? 0;
      items.push({ ...ssmItem, status: 'pass', detail: `${account} ${integ.region}: ${n}${n === 5 ? '+' : ''} managed instance${n === 1 ? '' : 's'} visible` });
    } catch (err) {
      items.push(failure(err, ssmItem, `Set EnableEc2=true in ${STACK} (grants the member role ssm:DescribeInstanceInformation; the StackSet passes it to every account), or remove "ec2" from the integration's resourceTypes.`));
    }
  }

  // 8. CloudTrail, for revoke audits.
  if (integ.enableAudit) {
    const ctItem = { id: 'audit', title: 'CloudTrail (audit)', actions: ['cloudtrail:LookupEvents'] };
    try {
      const ct = await session.managementClient(CloudTrailClient);
      await ct.send(new LookupEventsCommand({ MaxResults: 1 }));
      items.push({ ...ctItem, status: 'pass', detail: 'LookupEvents allowed' });
    } catch (err) {
      items.push(failure(err, ctItem, `Set EnableAudit=true in ${STACK} (grants cloudtrail:LookupEvents), or turn enableAudit off on the integration.`));
    }
  }

  // 9. The grant ledger (the connector's own account, its own identity).
  const ledgerItem = { id: 'ledger', title: 'grant ledger', actions: ['dynamodb:DescribeTable'] };
  if (!opts.ledgerTable) {
    items.push({ ...ledgerItem, status: 'skip', detail: 'LEDGER_TABLE is not set (needed for grant and revoke)' });
  } else {
    try {
      const arn = parseArn(opts.ledgerTable);
      const base = broker.base(integ.profile);
      const self = await broker.whoAmI(base);
      const ddb = session.clients.get(DynamoDBClient, { region: arn?.region || integ.region, accountId: self.accountId, credentials: base });
      const t = (await ddb.send(new DescribeTableCommand({ TableName: opts.ledgerTable }))).Table;
      items.push({ ...ledgerItem, status: t?.TableStatus === 'ACTIVE' ? 'pass' : 'warn', detail: `${t?.TableName ?? opts.ledgerTable}: ${t?.TableStatus ?? 'unknown'}` });
    } catch (err) {
      items.push(failure(err, ledgerItem, `Set LEDGER_TABLE to the table ${CONNECTOR_STACK} created (AccessMode=manage creates it unless ExistingLedgerTableName names one kept from an earlier install, and grants the role dynamodb access to it); for local use, \`access-connector ledger init\` creates ${opts.ledgerTable}.`));
    }
  }

  // 10. Settings that are checked, not called.
  if (integ.ssoPortalUrl !== undefined) {
    const ok = /^https:\/\/[a-z0-9-]+\.awsapps\.(com|cn)\/start\/?(#.*)?$/.test(integ.ssoPortalUrl) || /^https:\/\/start\.[a-z0-9-]+\.us-gov-home\.awsapps\.com\/directory\/[a-z0-9-]+\/?$/.test(integ.ssoPortalUrl);
    items.push({ id: 'portal-url', title: 'SSO portal URL', status: ok ? 'pass' : 'fail', detail: integ.ssoPortalUrl, ...(!ok && { code: 'INTEGRATION_INVALID', fix: 'Use the AWS access portal URL from the Identity Center settings, e.g. https://d-1234567890.awsapps.com/start.' }) });
  }
  // Settings that only some access kinds act on: say which, rather than ignore them silently.
  const creators = KINDS.filter((k) => k.createsCredentials !== undefined);
  const others = KINDS.filter((k) => k.createsCredentials === undefined).map((k) => k.name);
  if (integ.credentialRotationDays > 0) {
    items.push({
      id: 'credential-rotation', title: 'credentialRotationDays', status: 'pass',
      detail: `${integ.credentialRotationDays} days: access that carries a credential the connector created (${creators.map((k) => `${k.name}: ${k.createsCredentials}`).join('; ')}) is revoked that long after it was granted, even before expiresAt. No effect on ${others.join(', ')}: they create no credentials.`,
    });
  }
  const cleaners = KINDS.filter((k) => k.cleanup !== undefined).map((k) => k.name);
  if (integ.userCleanupAfterDays > 0) {
    items.push({
      id: 'user-cleanup', title: 'userCleanupAfterDays', status: 'pass',
      detail: `${integ.userCleanupAfterDays} days: what revoke leaves locked (${cleaners.join(', ')}) is deleted that long after the revoke. No effect on the other kinds: their revoke removes everything at once.`,
    });
  }
  // 11. Roles a grant would change: opted in for just-in-time access by their tag?
  for (const roleArn of opts.roles ?? []) items.push(await roleOptInItem(session, mgmtAccount, roleArn, opts.jitRoles ?? 'tagged'));
  items.push({ id: 'writes', title: 'write permissions', status: 'skip', detail: 'not tested: the check never changes AWS' });
  return items;
}

/**
 * iam.roleAssume changes a role's trust policy, and ec2.ssmSession the inline policies of
 * a role principal: with JitRoles=tagged the member role may do so only for roles tagged
 * access-connector-jit=enabled. Reads the role's tags and says how to opt it in.
 */
async function roleOptInItem(session: IntegrationSession, mgmtAccount: string, roleArn: string, jitRoles: 'tagged' | 'any'): Promise<CheckItem> {
  const base = { id: 'role-opt-in', title: `role opt-in (${roleArn.slice(0, 200)})`, actions: [...CHECK_ACTIONS.roles] };
  const role = parseIamArn(roleArn, ['role']);
  if (typeof role === 'string') return { ...base, status: 'fail', code: 'JOB_PARAMS_INVALID', detail: `--role ${role}`, fix: 'Name the role by its ARN: arn:aws:iam::<account>:role/<name>.' };
  try {
    const integ = session.integration;
    const iam = role.accountId === mgmtAccount && integ.type === 'aws-account' ? await session.managementClient(IAMClient) : await session.memberClient(IAMClient, role.accountId);
    const r = (await iam.send(new GetRoleCommand({ RoleName: role.name }))).Role;
    if (r?.Arn !== role.arn) return { ...base, status: 'fail', code: 'AWS_NOT_FOUND', detail: `no role with ARN ${role.arn} (found ${r?.Arn ?? 'none'})`, fix: 'Check the ARN, path included.' };
    if (roleOptedIn(r.Tags)) return { ...base, status: 'pass', detail: `${role.name} is tagged ${JIT_ROLE_TAG.key}=${JIT_ROLE_TAG.value}: grants may change its trust policy and inline policies` };
    if (jitRoles === 'any') return { ...base, status: 'pass', detail: `${role.name} has no tag ${JIT_ROLE_TAG.key}=${JIT_ROLE_TAG.value}; JIT_ROLES=any does not require it (the roles stacks must have JitRoles=any too)` };
    return {
      ...base, status: 'fail', code: 'ROLE_NOT_OPTED_IN',
      detail: `${role.name} is not opted in for just-in-time access: it has no tag ${JIT_ROLE_TAG.key}=${JIT_ROLE_TAG.value}, so the member role may not change its trust policy or inline policies and the connector refuses grants that would (iam.roleAssume to it, ec2.ssmSession for it)`,
      fix: `If just-in-time access to this role is wanted, its owner tags it in account ${role.accountId}: ${optInCommand(role.name)} (docs/permissions.md). The connector cannot tag roles itself.`,
    };
  } catch (err) {
    return failure(err, base);
  }
}
