// Every AWS action the connector can call, who calls it and under which install switch.
// Each sync source, access kind and helper declares its own actions next to its code; this
// file only sorts them by identity and feature. Three readers:
//   - AwsClients refuses to send a command whose action is not declared here
//     (UNDECLARED_AWS_ACTION), so the test suite proves the declarations complete;
//   - test/ship/least-privilege.test.ts proves the CloudFormation templates grant exactly
//     these, switch by switch;
//   - scripts/docs.ts renders docs/permissions.md from it.
// Everything is computed on first use: this module sits in an import cycle with the
// client factory, and nothing here may run while modules are still loading.
import { KINDS } from './access/registry.js';
import { LEDGER_ACTIONS, LEDGER_INIT_ACTIONS } from './access/ledger.js';
import { POLICY_ACTIONS } from './access/policy.js';
import { AUDIT_ACTIONS } from './access/audit.js';
import { ENABLED_REGIONS_ACTIONS } from './aws/regions.js';
import { CHECK_ACTIONS } from './check/aws-checks.js';
import { DELTA_ACTIONS } from './sync/delta.js';
import { SIGN_IN_ACTIONS } from './sync/sign-ins.js';
import { SOURCES } from './sync/registry.js';

/** The identity that makes a call: the connector's own role (ECS task role, EKS IRSA or
 * Pod Identity), the management-account role, or the member role of an account. */
export type Scope = 'connector' | 'management' | 'member';
export const SCOPES: readonly Scope[] = ['connector', 'management', 'member'];

/**
 * The install switches of the templates (cloudformation/*.yaml parameters of the same
 * meaning): `manage` = AccessMode "manage" (grant and revoke), `ec2` = EnableEc2,
 * `boundaries` = EnablePermissionBoundaries, `audit` = EnableAudit.
 */
export interface Switches {
  manage: boolean;
  ec2: boolean;
  boundaries: boolean;
  audit: boolean;
}

/** What turns a need on. */
export type Feature = 'always' | 'ec2' | 'audit' | 'manage' | 'manage+boundaries' | 'manage+ec2' | 'local-only';

export function featureOn(f: Feature, s: Switches): boolean {
  switch (f) {
    case 'always': return true;
    case 'ec2': return s.ec2;
    case 'audit': return s.audit;
    case 'manage': return s.manage;
    case 'manage+boundaries': return s.manage && s.boundaries;
    case 'manage+ec2': return s.manage && s.ec2;
    case 'local-only': return false;
  }
}

export interface Need {
  /** `sync:iam`, `access:sso.accountAssignment`, `ledger`, … */
  id: string;
  feature: Feature;
  why: string;
  actions: Partial<Record<Scope, readonly string[]>>;
}

/** Actions that need no IAM grant (AWS allows them to every identity). */
export const UNGRANTED_ACTIONS: readonly string[] = ['sts:GetCallerIdentity'];

// Which identity calls a service. The code reaches these services only through
// `managementClient` (Organizations, Identity Center, Account) or `memberClient` (IAM,
// SSM, EC2); CloudTrail and Resource Explorer are read through both, so needs that use them
// say which.
const MANAGEMENT_SERVICES = new Set(['organizations', 'sso', 'identitystore', 'account']);
const MEMBER_SERVICES = new Set(['iam', 'ssm', 'ec2']);

function byService(actions: readonly string[], both: readonly Scope[] = ['management', 'member']): Partial<Record<Scope, string[]>> {
  const out: Partial<Record<Scope, string[]>> = {};
  for (const a of actions) {
    const service = a.split(':')[0]!;
    const scopes: readonly Scope[] = MANAGEMENT_SERVICES.has(service) ? ['management'] : MEMBER_SERVICES.has(service) ? ['member'] : service === 'dynamodb' ? ['connector'] : both;
    for (const s of scopes) (out[s] ??= []).push(a);
  }
  return out;
}

const KIND_FEATURE: Record<string, Feature> = {
  'iam.permissionsBoundary': 'manage+boundaries',
  'ec2.ssmSession': 'manage+ec2',
  'ec2.localUser': 'manage+ec2',
};

let needs: readonly Need[] | undefined;

export function allNeeds(): readonly Need[] {
  needs ??= [
    {
      id: 'connector', feature: 'always', why: 'assume the management role; learn its own identity',
      actions: { connector: ['sts:AssumeRole', 'sts:GetCallerIdentity'] },
    },
    { id: 'member-roles', feature: 'always', why: 'assume the member role in each account', actions: { management: ['sts:AssumeRole'] } },
    { id: 'regions', feature: 'always', why: 'learn the enabled regions', actions: byService(ENABLED_REGIONS_ACTIONS) },
    { id: 'policy', feature: 'always', why: "the policy file's OU rules", actions: byService(POLICY_ACTIONS) },
    ...SOURCES.map((src): Need => ({
      id: `sync:${src.name}`,
      feature: src.name === 'ec2' ? 'ec2' : 'always',
      why: `sync source ${src.name}`,
      actions: byService(src.requiredActions),
    })),
    { id: 'check', feature: 'always', why: 'doctor and the check job', actions: { management: CHECK_ACTIONS.management, member: CHECK_ACTIONS.member } },
    { id: 'check:ec2', feature: 'ec2', why: 'doctor and the check job (SSM item)', actions: { member: CHECK_ACTIONS.ec2 } },
    { id: 'check:ledger', feature: 'manage', why: 'doctor and the check job (ledger item)', actions: { connector: CHECK_ACTIONS.ledger } },
    { id: 'check:audit', feature: 'audit', why: 'doctor and the check job (audit item)', actions: { management: CHECK_ACTIONS.audit } },
    { id: 'check:roles', feature: 'manage', why: '`doctor --role`: is a role opted in for just-in-time access', actions: { member: CHECK_ACTIONS.roles } },
    { id: 'delta', feature: 'audit', why: 'delta syncs read the CloudTrail change feed (without it they read everything)', actions: byService(DELTA_ACTIONS) },
    { id: 'sync:sign-ins', feature: 'audit', why: "Identity Center users' last sign-in (without it `lastSignInAt` is unknown)", actions: { management: SIGN_IN_ACTIONS } },
    { id: 'audit', feature: 'audit', why: 'CloudTrail events done under a grant, reported with its revoke', actions: byService(AUDIT_ACTIONS, ['member']) },
    ...KINDS.map((k): Need => ({
      id: `access:${k.name}`,
      feature: KIND_FEATURE[k.name] ?? 'manage',
      why: `access kind ${k.name}`,
      actions: byService(k.requiredActions),
    })),
    { id: 'ledger', feature: 'manage', why: 'the grant ledger (DynamoDB)', actions: { connector: LEDGER_ACTIONS } },
    { id: 'ledger-init', feature: 'local-only', why: '`ledger init` creates the table on a workstation; the templates create it instead', actions: { connector: LEDGER_INIT_ACTIONS } },
  ];
  return needs;
}

/** The actions each identity needs under `s`, excluding those AWS never refuses. */
export function requiredActions(s: Switches): Record<Scope, Set<string>> {
  const out: Record<Scope, Set<string>> = { connector: new Set(), management: new Set(), member: new Set() };
  for (const n of allNeeds()) {
    if (!featureOn(n.feature, s)) continue;
    for (const scope of SCOPES) for (const a of n.actions[scope] ?? []) if (!UNGRANTED_ACTIONS.includes(a)) out[scope].add(a);
  }
  return out;
}

let declared: ReadonlySet<string> | undefined;

/** Every action any code path may send, whatever the identity or switch. */
export function declaredActions(): ReadonlySet<string> {
  declared ??= new Set(allNeeds().flatMap((n) => SCOPES.flatMap((s) => n.actions[s] ?? [])));
  return declared;
}
