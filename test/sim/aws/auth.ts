// Credentials → identities, identity permissions, and trust-policy evaluation for AssumeRole.
import type { World, IamRole } from './world.js';
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

/** Evaluate the simulator's per-role permission list. GetCallerIdentity is never denied (as in AWS). */
export function checkAction(w: World, s: Session, action: string): Decision {
  if (action.toLowerCase() === 'sts:getcalleridentity') return { allowed: true };
  const role = roleByArn(w, s.roleArn)?.role;
  const perms = role?.sim;
  if (!perms) return { allowed: false, explicitDeny: false };
  if (perms.deny?.some((p) => globMatch(p, action))) return { allowed: false, explicitDeny: true };
  return perms.allow.some((p) => globMatch(p, action)) ? { allowed: true } : { allowed: false, explicitDeny: false };
}

export function deniedMessage(s: Session, action: string, resource: string, d: Decision): string {
  const why = !d.allowed && d.explicitDeny
    ? 'with an explicit deny in an identity-based policy'
    : `because no identity-based policy allows the ${action} action`;
  return `User: ${s.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

// ---- trust policies ----

interface Statement {
  Effect?: string; Action?: string | string[]; NotAction?: string | string[];
  Principal?: '*' | Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[] | boolean | number>>;
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
    if (!actionMatches(st, 'sts:AssumeRole') || !principalMatches(w, st.Principal, c) || !conditionsHold(st.Condition, c)) continue;
    if (st.Effect === 'Deny') return false;
    if (st.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

function arr<T>(v: T | T[] | undefined): T[] { return v === undefined ? [] : Array.isArray(v) ? v : [v]; }

function actionMatches(st: Statement, action: string): boolean {
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

function conditionsHold(cond: Statement['Condition'], c: TrustContext): boolean {
  if (!cond) return true;
  for (const [op0, kv] of Object.entries(cond)) {
    const ifExists = op0.endsWith('IfExists');
    const op = ifExists ? op0.slice(0, -8) : op0;
    for (const [key0, want] of Object.entries(kv)) {
      const actual = contextValue(key0.toLowerCase(), c);
      if (actual === undefined) {
        if (ifExists || op === 'Null') { if (op === 'Null' && String(want) !== 'true') return false; continue; }
        return false;
      }
      if (op === 'Null') { if (String(want) === 'true') return false; continue; }
      const wants = arr(want as unknown).map(String);
      if (!wants.some((x) => compare(op, actual, x))) return false;
    }
  }
  return true;
}

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
