// Credentials → identities, identity permissions, and trust-policy evaluation for AssumeRole.
import type { World, IamRole, Tag } from './world.js';
import { arn, parseArn, roleByArn } from './world.js';
import { globMatch, randomId } from './util.js';

export interface Session {
  accessKeyId: string; secretAccessKey: string; sessionToken?: string;
  accountId: string; roleArn: string; roleName: string; sessionName: string;
  /** `arn:<p>:sts::<acct>:assumed-role/<role>/<session>` */
  arn: string; userId: string;
  issuedAt: number; expiresAt?: number;
  /** Obtained by a role session assuming another role: AWS caps these at 1 h. */
  chained: boolean; base: boolean;
}

export class Sessions {
  private readonly byKey = new Map<string, Session>();
  /** Set by the "expire sessions after N seconds" fault: cap for sessions issued later. */
  lifetimeCapMs: number | undefined;

  constructor(private readonly world: World, now: number) {
    const b = world.base;
    const p = parseArn(b.roleArn)!;
    const roleName = p.resource.split('/').pop()!;
    this.byKey.set(b.accessKeyId, {
      accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey, accountId: p.account,
      roleArn: b.roleArn, roleName, sessionName: b.sessionName,
      arn: `arn:${world.partition}:sts::${p.account}:assumed-role/${roleName}/${b.sessionName}`,
      userId: `${roleIdOf(world, b.roleArn) ?? 'AROASIMBASE'}:${b.sessionName}`,
      issuedAt: now, chained: false, base: true,
    });
  }

  get(accessKeyId: string): Session | undefined { return this.byKey.get(accessKeyId); }
  all(): Session[] { return [...this.byKey.values()]; }

  issue(roleArn: string, role: IamRole, accountId: string, sessionName: string, now: number, durationSec: number, chained: boolean): Session {
    let expiresAt = now + durationSec * 1000;
    if (this.lifetimeCapMs !== undefined) expiresAt = Math.min(expiresAt, now + this.lifetimeCapMs);
    const s: Session = {
      accessKeyId: 'ASIA' + randomId(16, 'upper'), secretAccessKey: randomId(40, 'upper'),
      sessionToken: 'SIMTOKEN' + randomId(60, 'upper'),
      accountId, roleArn, roleName: role.name, sessionName,
      arn: `arn:${this.world.partition}:sts::${accountId}:assumed-role/${role.name}/${sessionName}`,
      userId: `${role.id}:${sessionName}`, issuedAt: now, expiresAt, chained, base: false,
    };
    this.byKey.set(s.accessKeyId, s);
    return s;
  }

  /** Expire every issued session at `at` (now, or later); the base identity only if asked. */
  expireAll(at: number, includeBase = false): number {
    let n = 0;
    for (const s of this.byKey.values()) {
      if (s.base && !includeBase) continue;
      s.expiresAt = s.expiresAt === undefined ? at : Math.min(s.expiresAt, at);
      n++;
    }
    return n;
  }
}

function roleIdOf(w: World, roleArn: string): string | undefined {
  return roleByArn(w, roleArn)?.role.id;
}

export type Decision = { allowed: true } | { allowed: false; explicitDeny: boolean };

/**
 * What a request touches, for identity policies written as statements: each resource with
 * its tags, the tags sent with the request, and other condition keys (lower case). A
 * service that does not describe an operation's resources leaves `resources` undefined:
 * then every Resource pattern matches and no resource tag is known (so a statement
 * conditioned on aws:ResourceTag never matches it).
 */
export interface RequestContext {
  resources?: Array<{ arn: string; tags?: readonly Tag[] }>;
  requestTags?: readonly Tag[];
  keys?: Record<string, string>;
}

/**
 * Evaluate the role's permissions for `action`. Action globs when the role has no
 * statements; with statements (a template's policy), IAM's evaluation: every resource of
 * the request must be allowed by a statement whose action, resource and conditions match,
 * and a matching Deny wins. GetCallerIdentity is never denied (as in AWS).
 */
export function checkAction(w: World, s: Session, action: string, req: RequestContext = {}): Decision {
  if (action.toLowerCase() === 'sts:getcalleridentity') return { allowed: true };
  const role = roleByArn(w, s.roleArn)?.role;
  const perms = role?.sim;
  if (!perms) return { allowed: false, explicitDeny: false };
  if (perms.statements) return evaluateStatements(perms.statements, action, req, w);
  if (perms.deny?.some((p) => globMatch(p, action))) return { allowed: false, explicitDeny: true };
  return perms.allow.some((p) => globMatch(p, action)) ? { allowed: true } : { allowed: false, explicitDeny: false };
}

function evaluateStatements(statements: readonly IdentityStatement[], action: string, req: RequestContext, w: World): Decision {
  const resources: Array<{ arn: string; tags?: readonly Tag[] } | undefined> = req.resources ?? [undefined];
  let allAllowed = true;
  for (const r of resources) {
    const lookup = (key: string): string[] | undefined => identityContextValue(key, r, req, w);
    let allowed = false;
    for (const st of statements) {
      if (!actionMatches(st, action) || !resourceMatches(st, r?.arn) || !conditionHolds(st.Condition, lookup)) continue;
      if (st.Effect === 'Deny') return { allowed: false, explicitDeny: true };
      if (st.Effect === 'Allow') allowed = true;
    }
    if (!allowed) allAllowed = false;
  }
  return allAllowed ? { allowed: true } : { allowed: false, explicitDeny: false };
}

function resourceMatches(st: IdentityStatement, resourceArn: string | undefined): boolean {
  if (resourceArn === undefined) return true;
  if (st.NotResource !== undefined) return !arr(st.NotResource).some((p) => globMatch(p, resourceArn, false));
  return arr(st.Resource).some((p) => globMatch(p, resourceArn, false));
}

const tagValue = (tags: readonly Tag[] | undefined, key: string): string[] | undefined => {
  // IAM compares tag keys without regard to case.
  const t = tags?.find((x) => x.Key.toLowerCase() === key);
  return t ? [t.Value] : undefined;
};

function identityContextValue(key: string, r: { arn: string; tags?: readonly Tag[] } | undefined, req: RequestContext, w: World): string[] | undefined {
  if (key.startsWith('aws:resourcetag/')) return tagValue(r?.tags, key.slice('aws:resourcetag/'.length));
  if (key.startsWith('aws:requesttag/')) return tagValue(req.requestTags, key.slice('aws:requesttag/'.length));
  if (key === 'aws:tagkeys') return req.requestTags ? req.requestTags.map((t) => t.Key) : undefined;
  if (key === 'aws:partition' || key === 'aws:principalpartition') return [w.partition];
  const v = req.keys?.[key];
  return v === undefined ? undefined : [v];
}

export function deniedMessage(s: Session, action: string, resource: string, d: Decision): string {
  const why = !d.allowed && d.explicitDeny
    ? 'with an explicit deny in an identity-based policy'
    : `because no identity-based policy allows the ${action} action`;
  return `User: ${s.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

// ---- trust policies ----

type Conditions = Record<string, Record<string, unknown>>;

interface Statement {
  Effect?: string; Action?: string | string[]; NotAction?: string | string[];
  Principal?: '*' | Record<string, string | string[]>;
  Condition?: Conditions;
}

/** A statement of an identity policy (what the least-privilege test gives the roles). */
export interface IdentityStatement {
  Sid?: string; Effect: string; Action?: string | string[]; NotAction?: string | string[];
  Resource?: string | string[]; NotResource?: string | string[]; Condition?: Conditions;
}

export interface TrustContext {
  callerRoleArn: string; callerArn: string; callerAccount: string;
  externalId?: string; sessionName: string; now: number; principalOrgId?: string;
}

/** Does the role's trust policy let this caller `sts:AssumeRole`? A Deny that matches wins. */
export function trustAllows(w: World, trustDoc: string, c: TrustContext): boolean {
  let doc: { Statement?: Statement | Statement[] };
  try { doc = JSON.parse(trustDoc) as typeof doc; } catch { return false; }
  const stmts = doc.Statement === undefined ? [] : Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  let allowed = false;
  for (const st of stmts) {
    if (!actionMatches(st, 'sts:AssumeRole') || !principalMatches(w, st.Principal, c) || !conditionHolds(st.Condition, (k) => { const v = contextValue(k, c); return v === undefined ? undefined : [v]; })) continue;
    if (st.Effect === 'Deny') return false;
    if (st.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

function arr<T>(v: T | T[] | undefined): T[] { return v === undefined ? [] : Array.isArray(v) ? v : [v]; }

function actionMatches(st: { Action?: string | string[]; NotAction?: string | string[] }, action: string): boolean {
  if (st.NotAction !== undefined) return !arr(st.NotAction).some((p) => globMatch(p, action));
  return arr(st.Action).some((p) => globMatch(p, action));
}

function principalMatches(w: World, p: Statement['Principal'], c: TrustContext): boolean {
  if (p === '*') return true;
  if (!p) return false;
  for (const v of arr(p.AWS)) {
    if (v === '*') return true;
    if (v === c.callerAccount || v === `arn:${w.partition}:iam::${c.callerAccount}:root`) return true;
    if (v === c.callerRoleArn || v === c.callerArn) return true;
  }
  return false;
}

/**
 * IAM's condition block: every operator and key must hold. `lookup` gives a key's values
 * (lower-case key; undefined when absent). Plain operators on a multi-valued key hold when
 * any value matches; ForAllValues: holds when every value matches (and when the key is
 * absent), ForAnyValue: when one does. Negated operators hold when no wanted value matches.
 */
function conditionHolds(cond: Conditions | undefined, lookup: (key: string) => string[] | undefined): boolean {
  if (!cond) return true;
  for (const [op0, kv] of Object.entries(cond)) {
    const set = op0.startsWith('ForAllValues:') ? 'all' : op0.startsWith('ForAnyValue:') ? 'any' : undefined;
    const op1 = set ? op0.slice(op0.indexOf(':') + 1) : op0;
    const ifExists = op1.endsWith('IfExists');
    const op = ifExists ? op1.slice(0, -8) : op1;
    for (const [key0, want] of Object.entries(kv)) {
      const actual = lookup(key0.toLowerCase());
      if (op === 'Null') {
        if ((String(want) === 'true') !== (actual === undefined || actual.length === 0)) return false;
        continue;
      }
      const wants = arr(want as unknown).map(String);
      const one = (a: string) => (NEGATED.has(op) ? wants.every((x) => compare(op, a, x)) : wants.some((x) => compare(op, a, x)));
      if (actual === undefined || actual.length === 0) {
        if (set === 'all' || ifExists) continue;
        return false;
      }
      if (set === 'all' ? !actual.every(one) : !actual.some(one)) return false;
    }
  }
  return true;
}

const NEGATED = new Set(['StringNotEquals', 'ArnNotEquals', 'StringNotLike', 'ArnNotLike', 'StringNotEqualsIgnoreCase']);

function contextValue(key: string, c: TrustContext): string | undefined {
  switch (key) {
    case 'sts:externalid': return c.externalId;
    case 'aws:currenttime': return new Date(c.now).toISOString();
    case 'aws:epochtime': return String(Math.floor(c.now / 1000));
    case 'aws:principalorgid': return c.principalOrgId;
    case 'aws:principalarn': return c.callerRoleArn;
    case 'aws:principalaccount': return c.callerAccount;
    case 'sts:rolesessionname': return c.sessionName;
    default: return undefined;
  }
}

function compare(op: string, actual: string, want: string): boolean {
  switch (op) {
    case 'StringEquals': case 'ArnEquals': return actual === want;
    case 'StringNotEquals': case 'ArnNotEquals': return actual !== want;
    case 'StringEqualsIgnoreCase': return actual.toLowerCase() === want.toLowerCase();
    case 'StringLike': case 'ArnLike': return globMatch(want, actual, false);
    case 'StringNotLike': case 'ArnNotLike': return !globMatch(want, actual, false);
    case 'DateLessThan': return Date.parse(actual) < Date.parse(want);
    case 'DateLessThanEquals': return Date.parse(actual) <= Date.parse(want);
    case 'DateGreaterThan': return Date.parse(actual) > Date.parse(want);
    case 'DateGreaterThanEquals': return Date.parse(actual) >= Date.parse(want);
    case 'NumericLessThan': return Number(actual) < Number(want);
    case 'NumericGreaterThan': return Number(actual) > Number(want);
    case 'Bool': return actual === want;
    default: return false; // unknown operator: AWS rejects the policy; never match
  }
}

/** Principals named in a policy that do not exist (IAM rejects such trust policies). */
export function unknownPrincipals(w: World, doc: { Statement?: Statement | Statement[] }): string[] {
  const out: string[] = [];
  for (const st of arr(doc.Statement)) {
    if (!st.Principal || st.Principal === '*') continue;
    for (const v of arr(st.Principal.AWS)) {
      if (v === '*' || /^\d{12}$/.test(v)) continue;
      const p = parseArn(v);
      if (!p) { out.push(v); continue; }
      if (p.resource === 'root') continue;
      if (p.resource.startsWith('role/')) { if (!roleByArn(w, v)) out.push(v); continue; }
      if (p.resource.startsWith('user/')) {
        const a = w.accounts.get(p.account);
        const u = a?.iam.users.get(p.resource.split('/').pop()!);
        if (!a || !u || arn.user(w, a.id, u) !== v) out.push(v);
      }
    }
  }
  return out;
}
