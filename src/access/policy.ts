// Enforcement of the customer's policy file (docs/protocol.md, "Policy file"; docs/policy.md): the veto no
// control plane can override. Rules that can be decided from the job alone are applied on
// receipt (job.rejected `policy`); rules that need AWS facts (what a permission set or a
// group grants, an account's OUs) are applied after the kind read them and before any write
// (job fails POLICY_DENIED). Every function here is pure except accountOuPath.
//
// Matching ignores case: IAM and Identity Center names are unique regardless of case and
// AWS resolves a name written in another case, so "role/ADMIN" must not slip past a deny
// of "role/Admin".
import { ListParentsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { awsErrorCode } from '../aws/errors.js';
import { paginate } from '../aws/paginate.js';
import type { IntegrationSession } from '../aws/session.js';
import { ConnectorError } from '../errors.js';
import type { Policy } from '../policy/schema.js';
import type { Integration } from '../protocol/messages.js';
import { DescribeGroupCommand, DescribeUserCommand } from '@aws-sdk/client-identitystore';
import { organizationOf } from './accounts.js';
import { IDENTITY_STORE_ID, identityStoreClient, ssoInstance } from './identity-center.js';
import type { AccessContext, AccessRequest, PolicyFacts } from './types.js';

export type Verdict = { ok: true } | { ok: false; rule: string; message: string };

/**
 * AWS actions the policy may need, for the least-privilege list of the management role:
 * OU paths (accountOuPath), the management account (denyManagementAccount), the names and
 * emails of an Identity Store principal (principals rules).
 */
export const POLICY_ACTIONS = ['organizations:ListParents', 'organizations:DescribeOrganization', 'sso:ListInstances', 'identitystore:DescribeUser', 'identitystore:DescribeGroup'] as const;

type AllowDeny = Policy['permissionSets'];
type Pin = NonNullable<Policy['integrations']>[number];

const OK: Verdict = { ok: true };
const deny = (rule: string, message: string): Verdict => ({ ok: false, rule, message });

/**
 * `*` matches any run of characters (none included); everything else matches itself,
 * ignoring case. Iterative with one backtrack point, so a pattern with many stars against
 * a long value stays O(pattern × value) instead of a regular expression's exponential worst case.
 */
export function globMatch(pattern: string, value: string): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (pi < p.length && p[pi] === v[vi]) {
      pi++;
      vi++;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

/** A value fit for a message: printable, bounded (values come from the control plane). */
function show(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/** The last path segment of an ARN (role, policy or group name); a non-ARN is its own name. */
function nameOf(arnOrName: string): string {
  return arnOrName.startsWith('arn:') ? arnOrName.slice(arnOrName.lastIndexOf('/') + 1) : arnOrName;
}

/** Account id of an ARN, when it has one (AWS-managed policies have "aws" there). */
function accountOfArn(arn: string | undefined): string | undefined {
  const id = arn?.split(':')[4];
  return id !== undefined && /^\d{12}$/.test(id) ? id : undefined;
}

const hasRules = (l: AllowDeny): boolean => l.deny.length > 0 || l.allow !== undefined;
const unique = (xs: Iterable<string>): string[] => [...new Set(xs)];

/**
 * One allow/deny list against the values naming one thing (an ARN and its name, a group's
 * id and name, an account's OU path). Deny wins. `complete` = every value of the thing is
 * known; when some are not yet (a permission set's name before facts), an allowlist miss
 * is left to checkFacts.
 */
function judge(list: AllowDeny, rule: string, label: string, values: string[], complete = true): Verdict {
  for (const [i, p] of list.deny.entries()) {
    if (values.some((v) => globMatch(p, v))) return deny(`${rule}.deny[${i}]`, `${label} matches ${rule}.deny[${i}] "${show(p)}"`);
  }
  if (list.allow && complete && !list.allow.some((p) => values.some((v) => globMatch(p, v)))) {
    return deny(`${rule}.allow`, `${label} matches no pattern of ${rule}.allow (allowlist mode)`);
  }
  return OK;
}

/** The first list that says no, or OK. */
function first(verdicts: Iterable<Verdict>): Verdict {
  for (const v of verdicts) if (!v.ok) return v;
  return OK;
}

// ---------------------------------------------------------------------------------
// Pinned integrations

/** The field of `e` the integration fails, with why; undefined when it matches. */
function pinMismatch(e: Pin, integ: Integration): { field: string; why: string } | undefined {
  if (e.id !== undefined && !globMatch(e.id, integ.id)) return { field: 'id', why: `id is "${show(integ.id)}", not "${show(e.id)}"` };
  if (e.roleArns && !(integ.roleArn !== undefined && e.roleArns.some((p) => globMatch(p, integ.roleArn!)))) {
    const uses = integ.roleArn !== undefined ? `roleArn ${show(integ.roleArn)}` : "the connector's own identity (no roleArn)";
    return { field: 'roleArns', why: `uses ${uses}, which is not one of the pinned roleArns` };
  }
  if (e.memberRoleNames && !e.memberRoleNames.some((p) => globMatch(p, integ.memberRoleName))) {
    return { field: 'memberRoleNames', why: `uses memberRoleName ${show(integ.memberRoleName)}, which is not one of the pinned memberRoleNames` };
  }
  // Only presence is checked: the value is a secret shared with the role's trust policy,
  // which AWS checks at AssumeRole.
  if (e.externalIdRequired && integ.externalId === undefined) return { field: 'externalIdRequired', why: 'has no externalId, which the pin requires' };
  return undefined;
}

/** The entry the integration matches (the first one), or the verdict refusing it. */
function matchPin(policy: Policy, integ: Integration): { verdict: Verdict; entry?: Pin; index?: number } {
  const pins = policy.integrations;
  if (!pins) return { verdict: OK };
  const misses = pins.map((e) => pinMismatch(e, integ));
  const index = misses.findIndex((m) => m === undefined);
  if (index >= 0) return { verdict: OK, entry: pins[index]!, index };
  const who = `integration ${show(integ.id)}`;
  // Name the entry meant for this integration when there is one (its id matches), so the
  // message points at the field to fix instead of listing every entry.
  const byId = pins.flatMap((e, i) => (e.id !== undefined && globMatch(e.id, integ.id) ? [i] : []));
  const i = pins.length === 1 ? 0 : byId.length === 1 ? byId[0]! : -1;
  if (i >= 0) return { verdict: deny(`integrations[${i}].${misses[i]!.field}`, `${who} ${misses[i]!.why} (integrations[${i}])`) };
  const list = misses.map((m, j) => `[${j}] ${m!.field}`).join(', ');
  return { verdict: deny('integrations', `${who} matches no entry of integrations (${list}); the policy pins which roles a control plane may use`) };
}

/** Pins (integrations[]: id, roleArns, externalIdRequired, memberRoleNames) — every job type, at admission. */
export function admitIntegration(policy: Policy | undefined, integration: Integration): Verdict {
  return policy ? matchPin(policy, integration).verdict : OK;
}

// ---------------------------------------------------------------------------------
// Grant and revoke jobs

/** What the request says of its principal (id, user name, email): unchecked, for deny rules on receipt. */
function claimedPrincipal(req: AccessRequest): string[] {
  return [req.principal.id, req.principal.userName, req.principal.email].filter((v): v is string => v !== undefined);
}

/** Account lists of the policy and of the integration's pin, for one account. */
function* accountRules(policy: Policy, pin: { entry?: Pin; index?: number }, accountId: string): Generator<Verdict> {
  const label = `account ${show(accountId)}`;
  yield judge(policy.accounts, 'accounts', label, [accountId]);
  if (pin.entry) yield judge(pin.entry.accounts, `integrations[${pin.index}].accounts`, label, [accountId]);
}

const str = (t: Record<string, unknown>, k: string): string | undefined => (typeof t[k] === 'string' ? (t[k] as string) : undefined);

/** Rules decidable from the grant/revoke job alone, at admission (→ job.rejected `policy`). Includes admitIntegration. */
export function admitAccess(
  policy: Policy | undefined,
  job: { jobType: 'grant' | 'revoke'; integration: Integration; request: AccessRequest; now: number },
): Verdict {
  if (!policy) return OK;
  const req = job.request;
  const what = `${job.jobType} of ${req.accessKind}`;
  const prefixed = (v: Verdict): Verdict => (v.ok ? v : { ...v, message: `${what}: ${v.message}` });

  if (policy.readOnly) {
    return deny('readOnly', `${what}: the connector is read-only (readOnly: true): grants and revokes from a control plane are refused; the connector still removes expired grants itself`);
  }
  const pin = matchPin(policy, job.integration);
  if (!pin.verdict.ok) return prefixed(pin.verdict);
  if (policy.accessKinds.disabled.includes(req.accessKind)) {
    return deny('accessKinds.disabled', `${what}: the access kind ${req.accessKind} is disabled by the policy (accessKinds.disabled)`);
  }
  // Removing access must stay possible: nothing below applies to a revoke.
  if (job.jobType === 'revoke') return OK;

  if (policy.maxDurationMinutes !== undefined) {
    const max = policy.maxDurationMinutes;
    if (req.expiresAt === undefined) return deny('maxDurationMinutes', `${what}: the grant has no expiresAt, and the policy allows grants of at most ${max} minutes`);
    const at = Date.parse(req.expiresAt);
    if (Number.isNaN(at)) return deny('maxDurationMinutes', `${what}: expiresAt "${show(req.expiresAt)}" is not a time`);
    const minutes = (at - job.now) / 60_000;
    if (minutes > max) return deny('maxDurationMinutes', `${what}: expiresAt ${show(req.expiresAt)} is ${Math.ceil(minutes)} minutes from now; the policy allows at most ${max}`);
  }

  const t = req.target as Record<string, unknown>;
  const principalArn = req.principal.type === 'role' || req.accessKind.startsWith('iam.') ? req.principal.id : undefined;
  // Accounts the access lands in, as far as the request names them: the target account,
  // the assumed role's account, the account of the user or role an IAM kind changes.
  const accounts = unique(
    [str(t, 'accountId'), accountOfArn(str(t, 'roleArn')), req.accessKind === 'iam.groupMembership' || req.accessKind === 'iam.permissionsBoundary' ? accountOfArn(principalArn) : undefined].filter(
      (a): a is string => a !== undefined,
    ),
  );
  // Roles the access is on: the assumed role, the role a boundary restricts, an SSM role principal.
  const roles = [str(t, 'roleArn')];
  if (req.principal.type === 'role' && (req.accessKind === 'iam.permissionsBoundary' || req.accessKind === 'ec2.ssmSession')) roles.push(req.principal.id);
  const boundary = str(t, 'boundaryPolicyArn');
  const instanceIds = Array.isArray(t.instanceIds) ? t.instanceIds.filter((i): i is string => typeof i === 'string') : [];
  const permissionSetArn = str(t, 'permissionSetArn');
  const groupName = str(t, 'groupName');
  const groupId = str(t, 'groupId');

  return prefixed(
    first(
      (function* () {
        for (const a of accounts) yield* accountRules(policy, pin, a);
        // Tags are only known from AWS: an allowlist miss on the id waits for checkFacts.
        for (const i of instanceIds) yield judge(policy.instances, 'instances', `instance ${show(i)}`, [i], false);
        // A permission set's name is only known from AWS: an allowlist miss on the ARN waits for checkFacts.
        if (permissionSetArn !== undefined) yield judge(policy.permissionSets, 'permissionSets', `permission set ${show(permissionSetArn)}`, [permissionSetArn], false);
        for (const r of roles) if (r !== undefined) yield judge(policy.roles, 'roles', `role ${show(r)}`, [r, nameOf(r)]);
        if (groupName !== undefined) yield judge(policy.groups, 'groups', `IAM group ${show(groupName)}`, [`iam:${groupName}`, groupName], false);
        if (groupId !== undefined) yield judge(policy.groups, 'groups', `group ${show(groupId)}`, [groupId], false);
        if (boundary !== undefined) yield judge(policy.boundaries, 'boundaries', `boundary ${show(boundary)}`, [boundary, nameOf(boundary)]);
        // Names and emails in the request are the control plane's word: on receipt they can
        // only refuse, and an allowlist waits for the Identity Store (checkFacts). An IAM ARN
        // is the principal itself, so it is decided here.
        const arn = req.principal.id.startsWith('arn:');
        yield judge(policy.principals, 'principals', `principal ${show(req.principal.id)}`, arn ? [req.principal.id, nameOf(req.principal.id)] : claimedPrincipal(req), arn);
      })(),
    ),
  );
}

/** Lookups checkFacts makes only when a rule needs them. */
export interface FactLookups {
  /** The principal as AWS names it (principals rules): see principalValues. */
  principal?: () => Promise<PrincipalValues>;
  /** The organization's management account (accounts.denyManagementAccount); undefined outside an organization. */
  managementAccount?: () => Promise<string | undefined>;
}

/** The values a principals rule is matched against: `known` read from AWS, `claimed` from the request. */
export interface PrincipalValues {
  known: string[];
  claimed: string[];
}

/**
 * Rules that need AWS facts (read by the kind before any write) → job fails POLICY_DENIED.
 * For grants only: a revoke is never refused by what the access reaches.
 * `ouPathOf` is called only when the policy or the pin has OU rules (accountOuPath); the
 * lookups only when their rule is set. A rule whose lookup is missing refuses (fail closed).
 */
export async function checkFacts(
  policy: Policy | undefined,
  integration: Integration,
  facts: PolicyFacts,
  ouPathOf: (accountId: string) => Promise<string[]>,
  lookups: FactLookups = {},
): Promise<Verdict> {
  if (!policy) return OK;
  const pin = matchPin(policy, integration);
  if (!pin.verdict.ok) return pin.verdict;
  const accounts = unique(facts.accountIds);

  if (hasRules(policy.principals)) {
    if (!lookups.principal) return deny('principals', 'the principal could not be read from AWS, and the policy has principals rules');
    const p = await lookups.principal();
    const label = `principal ${show(p.known[0] ?? p.claimed[0] ?? '?')}${p.known.length > 1 ? ` (${p.known.slice(1).map(show).join(', ')})` : ''}`;
    // Deny sees what AWS says and what the request claims; allow only what AWS says.
    const v = first([judge({ deny: policy.principals.deny }, 'principals', label, unique([...p.known, ...p.claimed])), judge({ ...policy.principals, deny: [] }, 'principals', label, p.known)]);
    if (!v.ok) return v;
  }

  const sync = first(
    (function* () {
      for (const a of accounts) yield* accountRules(policy, pin, a);
    })(),
  );
  if (!sync.ok) return sync;

  if (policy.accounts.denyManagementAccount && accounts.length > 0) {
    if (!lookups.managementAccount) return deny('accounts.denyManagementAccount', 'the management account could not be read from AWS, and the policy denies it');
    const mgmt = await lookups.managementAccount();
    if (mgmt !== undefined && accounts.includes(mgmt)) {
      return deny('accounts.denyManagementAccount', `account ${show(mgmt)} is the organization's management account (accounts.denyManagementAccount)`);
    }
  }

  for (const i of facts.instances ?? []) {
    const values = [i.id, ...Object.entries(i.tags).map(([k, v]) => `${k}=${v}`)];
    const v = judge(policy.instances, 'instances', `instance ${show(i.id)}`, values);
    if (!v.ok) return v;
  }

  const pinOus = pin.entry && hasRules(pin.entry.organizationalUnits) ? pin.entry.organizationalUnits : undefined;
  if (hasRules(policy.organizationalUnits) || pinOus) {
    // Sequential on purpose: Organizations allows a few calls per second, and the paths of
    // sibling accounts share cached parents.
    for (const a of accounts) {
      const path = await ouPathOf(a);
      const label = `account ${show(a)} (OU path: ${path.length > 0 ? path.join(' / ') : 'none, directly under the root'})`;
      const v = first([
        judge(policy.organizationalUnits, 'organizationalUnits', label, path),
        pinOus ? judge(pinOus, `integrations[${pin.index}].organizationalUnits`, label, path) : OK,
      ]);
      if (!v.ok) return v;
    }
  }

  const permissionSets = facts.permissionSets ?? [];
  const instanceRoles = facts.instanceRoles ?? [];
  const managed = unique([...(facts.managedPolicies ?? []), ...permissionSets.flatMap((p) => p.managedPolicies), ...instanceRoles.flatMap((r) => r.managedPolicies)]);
  // "through the role R of instance i-…": where an instance role was reached from.
  const viaInstance = (roleArn: string) => {
    const ids = (facts.instances ?? []).filter((i) => i.roleArn === roleArn).map((i) => i.id);
    return ` (the role of instance${ids.length === 1 ? '' : 's'} ${ids.slice(0, 3).map(show).join(', ')}${ids.length > 3 ? ' and more' : ''}, whose credentials a session on it can read)`;
  };
  return first(
    (function* () {
      for (const ps of permissionSets) yield judge(policy.permissionSets, 'permissionSets', `permission set ${show(ps.name)} (${show(ps.arn)})`, [ps.name, ps.arn]);
      for (const r of unique(facts.roles ?? [])) yield judge(policy.roles, 'roles', `role ${show(r)}`, [r, nameOf(r)]);
      for (const r of instanceRoles) yield judge(policy.roles, 'roles', `role ${show(r.arn)}${viaInstance(r.arn)}`, [r.arn, nameOf(r.arn)]);
      for (const g of facts.groups ?? []) {
        // Kinds name groups "sso:<DisplayName>" / "iam:<GroupName>": a bare pattern matches either source.
        const bare = g.name.replace(/^(sso|iam):/, '');
        yield judge(policy.groups, 'groups', `group ${show(g.name)} (${show(g.id)})`, unique([g.id, g.name, bare]));
      }
      for (const b of unique(facts.boundaries ?? [])) yield judge(policy.boundaries, 'boundaries', `boundary ${show(b)}`, [b, nameOf(b)]);
      for (const [i, p] of policy.deniedManagedPolicies.entries()) {
        const hit = managed.find((m) => globMatch(p, m) || globMatch(p, nameOf(m)));
        if (hit === undefined) continue;
        const via = permissionSets.find((ps) => ps.managedPolicies.includes(hit));
        const role = via ? undefined : instanceRoles.find((r) => r.managedPolicies.includes(hit) && !(facts.managedPolicies ?? []).includes(hit));
        const through = via ? ` through permission set ${show(via.name)}` : role ? ` through role ${show(role.arn)}${viaInstance(role.arn)}` : '';
        yield deny(`deniedManagedPolicies[${i}]`, `the access carries managed policy ${show(hit)}${through}, which matches deniedManagedPolicies[${i}] "${show(p)}"`);
      }
    })(),
  );
}

// ---------------------------------------------------------------------------------
// Lookups from AWS

/**
 * The principal as AWS names it: an IAM ARN and its name as given (the kinds check that the
 * role or user exists); an Identity Store user's id, user name and emails, or a group's id
 * and display name, from the Identity Store. The request's userName/email are kept apart
 * as `claimed`: the control plane wrote them.
 */
export async function principalValues(ctx: AccessContext, req: AccessRequest): Promise<PrincipalValues> {
  const p = req.principal;
  const claimed = claimedPrincipal(req);
  if (p.id.startsWith('arn:')) return { known: [p.id, nameOf(p.id)], claimed };
  if (!IDENTITY_STORE_ID.test(p.id) || p.type === 'role') return { known: [p.id], claimed };
  const { identityStoreId } = await ssoInstance(ctx);
  const store = await identityStoreClient(ctx);
  if (p.type === 'group') {
    const g = await store.send(new DescribeGroupCommand({ IdentityStoreId: identityStoreId, GroupId: p.id }));
    return { known: unique([p.id, ...(g.DisplayName ? [g.DisplayName] : [])]), claimed };
  }
  const u = await store.send(new DescribeUserCommand({ IdentityStoreId: identityStoreId, UserId: p.id }));
  return { known: unique([p.id, ...(u.UserName ? [u.UserName] : []), ...(u.Emails ?? []).flatMap((e) => (e.Value ? [e.Value] : []))]), claimed };
}

/** The lookups of checkFacts for one grant. */
export function factLookups(ctx: AccessContext, req: AccessRequest): FactLookups {
  return {
    principal: () => principalValues(ctx, req),
    managementAccount: async () => (await organizationOf(ctx))?.managementAccountId,
  };
}

// ---------------------------------------------------------------------------------
// OU paths

/** OUs nest at most five levels below the root; more parents than this means a broken answer. */
const MAX_OU_DEPTH = 8;

interface Parent { id: string; root: boolean }
const parents = new WeakMap<IntegrationSession, Map<string, Promise<Parent>>>();

function parentOf(session: IntegrationSession, childId: string): Promise<Parent> {
  let cache = parents.get(session);
  if (!cache) parents.set(session, (cache = new Map()));
  let p = cache.get(childId);
  if (!p) {
    p = (async () => {
      const org = await session.managementClient(OrganizationsClient);
      try {
        // A child has exactly one parent, but Organizations may answer an empty page with a
        // NextToken, so page until it shows up.
        for await (const page of paginate(async (t) => {
          const out = await org.send(new ListParentsCommand({ ChildId: childId, NextToken: t }));
          return { items: out.Parents, next: out.NextToken };
        })) {
          const parent = page.find((x) => x.Id);
          if (parent) return { id: parent.Id!, root: parent.Type === 'ROOT' };
        }
      } catch (err) {
        if (awsErrorCode(err) === 'ChildNotFoundException') {
          throw new ConnectorError('AWS_NOT_FOUND', `organizations.ListParents: ${childId} is not in the organization, so its OUs cannot be checked against the policy`, { cause: err });
        }
        throw err;
      }
      throw new ConnectorError('AWS_ERROR', `organizations.ListParents returned no parent for ${childId}`);
    })();
    cache.set(childId, p);
    // A failed lookup is not remembered: the next job (or retry) asks again.
    p.catch(() => cache!.delete(childId));
  }
  return p;
}

/**
 * OU ids from the root down to the account's parent (Organizations ListParents), cached per
 * session. The root itself is not included: [] = the account sits directly under the root.
 * Each parent is asked once per session, so sibling accounts share the calls.
 */
export async function accountOuPath(session: IntegrationSession, accountId: string): Promise<string[]> {
  if (!/^\d{12}$/.test(accountId)) throw new ConnectorError('JOB_PARAMS_INVALID', `"${show(accountId)}" is not a 12-digit AWS account id`);
  const path: string[] = [];
  let child = accountId;
  for (let depth = 0; depth < MAX_OU_DEPTH; depth++) {
    const parent = await parentOf(session, child);
    if (parent.root) return path;
    path.unshift(parent.id);
    child = parent.id;
  }
  throw new ConnectorError('AWS_ERROR', `organizations.ListParents: no root found within ${MAX_OU_DEPTH} levels above ${accountId}`);
}
