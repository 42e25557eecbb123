// Deterministic large worlds: the same options (seed included) build the same world, id for
// id. Defaults for 1,000 accounts land near 300k entities; see docs/simulator.md for the
// breakdown. Builds in a few seconds.
import type { Account, PermissionSet, World } from '../world.js';
import { arn } from '../world.js';
import { Builder, trust } from './builder.js';
import { sha256 } from '../util.js';

export interface GenerateOptions {
  seed: number;
  accounts: number;
  regions?: string[];
  /** OUs in the tree (up to 3 levels below the root). */
  ous?: number;
  /** Fraction of accounts SUSPENDED (plus one CLOSED account when accounts ≥ 50). */
  suspendedFraction?: number;
  /** Extra roles per account, besides the standard and AWSReservedSSO_ ones. */
  rolesPerAccount?: number;
  usersPerAccount?: number;
  groupsPerAccount?: number;
  policiesPerAccount?: number;
  instancesPerAccount?: number;
  resourcesPerAccount?: number;
  ssoUsers?: number;
  ssoGroups?: number;
  /** Groups each Identity Center user belongs to. */
  membershipsPerUser?: number;
  permissionSets?: number;
  /** Assignments per account (group or user × permission set). */
  assignmentsPerAccount?: number;
  externalId?: string;
  partition?: string;
}

export const GENERATED_MANAGEMENT_ACCOUNT = '111111111111';

const RESOURCE_TYPES: [string, (b: Builder, i: number) => string][] = [
  ['ec2:volume', (b) => `volume/vol-${b.id('', 17).toLowerCase()}`],
  ['ec2:security-group', (b) => `security-group/sg-${b.id('', 17).toLowerCase()}`],
  ['s3:bucket', (b, i) => `gen-bucket-${i}-${b.id('', 8).toLowerCase()}`],
  ['lambda:function', (_b, i) => `function:fn-${i}`],
  ['dynamodb:table', (_b, i) => `table/t-${i}`],
  ['sqs:queue', (_b, i) => `queue-${i}`],
  ['sns:topic', (_b, i) => `topic-${i}`],
  ['rds:db', (_b, i) => `db:db-${i}`],
];

export function generateWorld(o: GenerateOptions): World {
  const n = Math.max(1, o.accounts);
  const regions = o.regions ?? ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'];
  const b = new Builder({ name: `generated-${o.seed}-${n}`, seed: o.seed, regions, managementAccountId: GENERATED_MANAGEMENT_ACCOUNT,
    externalId: o.externalId ?? 'generated-external-id', ...(o.partition ? { partition: o.partition } : {}) });
  const w = b.w;
  const r = b.rand;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const org = w.organization!;

  // OU tree: a few top-level OUs, children below them, up to depth 3.
  const ouCount = o.ous ?? Math.max(3, Math.round(n / 16));
  const parents: string[] = [org.rootId];
  const depthOf = new Map<string, number>([[org.rootId, 0]]);
  for (let i = 0; i < ouCount; i++) {
    const candidates = parents.filter((p) => (depthOf.get(p) ?? 0) < 3);
    const parent = i < Math.min(6, ouCount) ? org.rootId : pick(candidates);
    const id = b.ou(`ou-${i}`, parent, r() < 0.3 ? [{ Key: 'owner', Value: `team-${i % 20}` }] : undefined);
    parents.push(id);
    depthOf.set(id, (depthOf.get(parent) ?? 0) + 1);
  }

  const accounts: Account[] = [];
  const mgmt = b.account(GENERATED_MANAGEMENT_ACCOUNT, 'management', org.rootId);
  accounts.push(mgmt);
  const suspended = o.suspendedFraction ?? 0.01;
  for (let i = 1; i < n; i++) {
    const id = String(200000000000 + i);
    const state = i === 49 ? 'CLOSED' : r() < suspended ? 'SUSPENDED' : 'ACTIVE';
    accounts.push(b.account(id, `acct-${i}`, pick(parents), state, r() < 0.5 ? [{ Key: 'owner', Value: `team-${i % 50}` }] : undefined));
  }
  b.managementRole(mgmt, o.externalId ?? 'generated-external-id');

  const roles = o.rolesPerAccount ?? 50;
  const users = o.usersPerAccount ?? 15;
  const groups = o.groupsPerAccount ?? 5;
  const policies = o.policiesPerAccount ?? 12;
  const instances = o.instancesPerAccount ?? 8;
  const resources = o.resourcesPerAccount ?? 160;
  const awsPolicies = [...w.awsPolicies.keys()];

  for (const a of accounts) {
    b.standardRoles(a);
    const own: string[] = [];
    for (let i = 0; i < policies; i++) own.push(b.policy(a, `policy-${i}`, ['s3:GetObject', 'ec2:Describe*'], i % 4 === 0 ? '/team/' : '/'));
    for (let i = 0; i < roles; i++) {
      b.role(a, `role-${i}`, {
        trust: i % 3 === 0 ? trust({ Service: 'lambda.amazonaws.com' }) : trust({ AWS: `arn:${w.partition}:iam::${a.id}:root` }),
        attached: [pick(own), ...(r() < 0.3 ? [pick(awsPolicies)] : [])],
        ...(r() < 0.2 ? { tags: [{ Key: 'owner', Value: `team-${i % 20}` }] } : {}),
        ...(r() < 0.05 ? { boundary: own[0]! } : {}),
      });
    }
    const userNames: string[] = [];
    for (let i = 0; i < users; i++) {
      const name = `user-${i}`;
      userNames.push(name);
      b.user(a, name, { keys: i % 2 === 0 ? 2 : 1, attached: r() < 0.5 ? [pick(own)] : [], ...(r() < 0.2 ? { tags: [{ Key: 'owner', Value: `team-${i}` }] } : {}) });
    }
    for (let i = 0; i < groups; i++) b.group(a, `group-${i}`, userNames.filter(() => r() < 0.3), [pick(awsPolicies)]);
    if (a.state === 'ACTIVE') {
      for (let i = 0; i < instances; i++) b.instance(a, regions[i % Math.min(2, regions.length)]!, { ...(r() < 0.3 ? { tags: [{ Key: 'owner', Value: `team-${i}` }] } : {}) });
      b.resourceExplorer(a, regions[0]!, a === mgmt);
      for (let i = 0; i < resources; i++) {
        const [type, name] = RESOURCE_TYPES[i % RESOURCE_TYPES.length]!;
        b.resource(a, regions[i % regions.length]!, type, name(b, i), r() < 0.25 ? [{ Key: 'owner', Value: `team-${i % 30}` }] : undefined);
      }
    }
  }

  // Identity Center.
  b.sso(mgmt.id, regions[0]!);
  const nu = o.ssoUsers ?? Math.max(20, 8 * n);
  const ng = o.ssoGroups ?? Math.max(5, Math.round(0.8 * n));
  const userIds: string[] = [];
  for (let i = 0; i < nu; i++) userIds.push(b.ssoUser(`user${i}@example.com`, `Given${i}`, `Family${i}`));
  const groupIds: string[] = [];
  for (let i = 0; i < ng; i++) groupIds.push(b.ssoGroup(`group-${i}`));
  const per = o.membershipsPerUser ?? 2;
  for (const u of userIds) {
    const gs = new Set<string>();
    while (gs.size < Math.min(per, groupIds.length)) gs.add(pick(groupIds));
    for (const g of gs) b.membership(g, u);
  }
  const pss: PermissionSet[] = [];
  const np = o.permissionSets ?? 40;
  for (let i = 0; i < np; i++) {
    pss.push(b.permissionSet(`ps-${i}`, {
      managed: [pick(awsPolicies)], ...(i % 3 === 0 ? { customerManaged: [{ Name: 'policy-0', Path: '/team/' }] } : {}),
      ...(i % 5 === 0 ? { inline: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:*', Resource: '*' }] }) } : {}),
      ...(i % 7 === 0 ? { boundary: { ManagedPolicyArn: arn.awsPolicy(w, '/', 'ReadOnlyAccess') } } : {}),
    }));
  }
  // Last use, derived from ids rather than drawn from the PRNG, so worlds stay as they were:
  // 0 to 3 sign-ins per Identity Center user over the last 120 days (CloudTrail keeps 90),
  // a console password used by 2 IAM users in 5, and half the roles used.
  const day = 86_400_000;
  const hashed = (s: string, i = 0) => parseInt(sha256(s).slice(i * 8, i * 8 + 8), 16);
  w.sso!.signIns = userIds.flatMap((id) => Array.from({ length: hashed(`sign-ins:${id}`) % 4 }, (_, k) => ({ userId: id, agoMs: 300_000 + (hashed(`sign-ins:${id}`, k + 1) % (120 * day)) })));
  for (const a of accounts) {
    for (const u of a.iam.users.values()) if (hashed(`password:${u.id}`) % 5 < 2) u.passwordLastUsed = b.t0 + (hashed(`password:${u.id}`, 1) % (900 * day));
    for (const x of a.iam.roles.values()) {
      if (x.lastUsed === undefined && hashed(`role-used:${x.id}`) % 2 === 0) {
        x.lastUsed = b.t0 + (hashed(`role-used:${x.id}`, 1) % (900 * day));
        x.lastUsedRegion = regions[hashed(`role-used:${x.id}`, 2) % regions.length]!;
      }
    }
  }

  const perAccount = o.assignmentsPerAccount ?? 3;
  for (const a of accounts) {
    if (a.state !== 'ACTIVE') continue;
    for (let i = 0; i < perAccount; i++) {
      if (r() < 0.8) b.assign(pick(pss), a, 'GROUP', pick(groupIds)); else b.assign(pick(pss), a, 'USER', pick(userIds));
    }
  }
  return w;
}
