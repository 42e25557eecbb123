// Reads our CloudFormation templates the way CloudFormation would for one set of
// parameters: short-form tags, Conditions, Fn::If, Ref (with AWS::NoValue), Fn::Sub and
// Fn::Join. Enough to answer "which IAM actions does this role get with these switches",
// which is all the least-privilege test asks of it. Unknown intrinsics are kept as
// opaque strings, so a policy that depends on one is visible in the test's output.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Template = { Parameters?: Record<string, { Default?: string | number; Type?: string }>; Conditions?: Record<string, Json>; Resources: Record<string, Resource>; Outputs?: Record<string, Json> };
export interface Resource { Type: string; Condition?: string; Properties?: Record<string, Json>; Metadata?: Json; DeletionPolicy?: string }

const SHORT_TAGS = ['Ref', 'Sub', 'If', 'Equals', 'And', 'Or', 'Not', 'Condition', 'GetAtt', 'Join', 'Select', 'Split', 'FindInMap', 'Base64', 'Cidr', 'GetAZs', 'ImportValue', 'Transform'];
const longName = (t: string) => (t === 'Ref' || t === 'Condition' ? t : `Fn::${t}`);
const customTags = SHORT_TAGS.flatMap((t) => [
  { tag: `!${t}`, resolve: (v: string) => ({ [longName(t)]: t === 'GetAtt' ? v.split('.') : v }) },
  { tag: `!${t}`, collection: 'seq' as const, resolve: (seq: { toJSON(): unknown }) => ({ [longName(t)]: seq.toJSON() }) },
  { tag: `!${t}`, collection: 'map' as const, resolve: (m: { toJSON(): unknown }) => ({ [longName(t)]: m.toJSON() }) },
]);

export function loadTemplate(file: string): Template {
  return parse(readFileSync(file, 'utf8'), { customTags: customTags as never, maxAliasCount: 0 }) as Template;
}

const NO_VALUE = Symbol('AWS::NoValue');
export const PSEUDO = { 'AWS::Partition': 'aws', 'AWS::AccountId': '123456789012', 'AWS::Region': 'us-east-1', 'AWS::StackName': 'stack', 'AWS::URLSuffix': 'amazonaws.com', 'AWS::StackId': 'stack-id' } as const;

/** A template with its parameters fixed: conditions and values resolved on demand. */
export class Evaluated {
  private readonly conditions = new Map<string, boolean>();
  readonly params: Record<string, string>;

  private readonly pseudo: Record<string, string>;

  /** `pseudo` overrides pseudo parameters (AWS::AccountId of the account the stack is in). */
  constructor(readonly t: Template, params: Record<string, string>, pseudo: Partial<Record<keyof typeof PSEUDO, string>> = {}) {
    this.pseudo = { ...PSEUDO, ...pseudo };
    this.params = {};
    for (const [name, p] of Object.entries(t.Parameters ?? {})) {
      const v = params[name] ?? (p.Default !== undefined ? String(p.Default) : undefined);
      if (v === undefined) throw new Error(`parameter ${name} has no default and no value`);
      this.params[name] = v;
    }
    for (const k of Object.keys(params)) if (!(k in this.params)) throw new Error(`the template has no parameter ${k}`);
  }

  condition(name: string): boolean {
    let v = this.conditions.get(name);
    if (v === undefined) {
      const def = this.t.Conditions?.[name];
      if (def === undefined) throw new Error(`no condition ${name}`);
      v = this.truth(def);
      this.conditions.set(name, v);
    }
    return v;
  }

  private truth(c: Json): boolean {
    const o = c as Record<string, Json>;
    if (o['Condition'] !== undefined) return this.condition(String(o['Condition']));
    if (o['Fn::Equals']) { const [a, b] = o['Fn::Equals'] as Json[]; return JSON.stringify(this.value(a!)) === JSON.stringify(this.value(b!)); }
    if (o['Fn::And']) return (o['Fn::And'] as Json[]).every((x) => this.truth(x));
    if (o['Fn::Or']) return (o['Fn::Or'] as Json[]).some((x) => this.truth(x));
    if (o['Fn::Not']) return !this.truth((o['Fn::Not'] as Json[])[0]!);
    throw new Error(`unsupported condition ${JSON.stringify(c)}`);
  }

  /** The value CloudFormation would pass on; resource attributes become `<Logical.Attr>`. */
  value(v: Json): Json {
    const out = this.resolve(v);
    return out === NO_VALUE ? null : out;
  }

  private resolve(v: Json): Json | typeof NO_VALUE {
    if (Array.isArray(v)) return v.map((x) => this.resolve(x)).filter((x): x is Json => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const k = keys[0]!;
      const a = v[k]!;
      switch (k) {
        case 'Ref': {
          const name = String(a);
          if (name === 'AWS::NoValue') return NO_VALUE;
          if (name in this.pseudo) return this.pseudo[name]!;
          if (name in this.params) {
            const type = this.t.Parameters![name]!.Type ?? '';
            return type.startsWith('List<') || type === 'CommaDelimitedList' ? (this.params[name] === '' ? [] : this.params[name]!.split(',')) : this.params[name]!;
          }
          return `<${name}>`;
        }
        case 'Fn::If': {
          const [c, yes, no] = a as Json[];
          return this.resolve(this.condition(String(c)) ? yes! : no!);
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(a) ? [String(a[0]), (a[1] ?? {}) as Record<string, Json>] : [String(a), {}];
          return text.replace(/\$\{([^}!]+)\}/g, (_m, name: string) => {
            if (name in vars) return String(this.value(vars[name]!));
            if (name.includes('.')) return `<${name}>`;
            const r = this.resolve({ Ref: name });
            return r === NO_VALUE ? '' : String(r);
          });
        }
        case 'Fn::Join': {
          const [sep, items] = a as [string, Json];
          const list = this.resolve(items);
          return (Array.isArray(list) ? list : [list]).map((x) => String(x)).join(sep);
        }
        case 'Fn::Select': {
          const [i, list] = a as [Json, Json];
          const l = this.resolve(list);
          return Array.isArray(l) ? (l[Number(this.value(i))] ?? null) : `<select>`;
        }
        case 'Fn::Split': {
          const [sep, s] = a as [string, Json];
          return String(this.value(s)).split(sep);
        }
        case 'Fn::GetAtt':
          return `<${(a as string[]).join('.')}>`;
        default:
          if (k.startsWith('Fn::')) return `<${k}>`;
      }
    }
    const o: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = this.resolve(x);
      if (r !== NO_VALUE) o[k] = r;
    }
    return o;
  }

  /** Resources that exist with these parameters, their properties resolved. */
  resources(): Map<string, { Type: string; Properties: Record<string, Json> }> {
    const out = new Map<string, { Type: string; Properties: Record<string, Json> }>();
    for (const [id, r] of Object.entries(this.t.Resources)) {
      if (r.Condition !== undefined && !this.condition(r.Condition)) continue;
      out.set(id, { Type: r.Type, Properties: (this.value(r.Properties ?? {}) ?? {}) as Record<string, Json> });
    }
    return out;
  }
}

export interface Statement { Sid?: string; Effect: 'Allow' | 'Deny'; Action?: string | string[]; NotAction?: unknown; Resource?: string | string[]; NotResource?: unknown; Condition?: Record<string, Record<string, string | string[]>>; Principal?: unknown }

/** Every statement of the identity policies a role ends up with: inline, and policy resources naming it. */
export function roleStatements(e: Evaluated, roleId: string): Statement[] {
  const res = e.resources();
  const role = res.get(roleId);
  if (!role || role.Type !== 'AWS::IAM::Role') throw new Error(`no AWS::IAM::Role ${roleId} with these parameters`);
  const docs: Json[] = ((role.Properties['Policies'] ?? []) as Array<{ PolicyDocument: Json }>).map((p) => p.PolicyDocument);
  for (const r of res.values()) {
    if (!['AWS::IAM::RolePolicy', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(r.Type)) continue;
    const roles = (r.Properties['Roles'] ?? (r.Properties['RoleName'] !== undefined ? [r.Properties['RoleName']] : [])) as Json[];
    if (roles.some((x) => x === `<${roleId}>`)) docs.push(r.Properties['PolicyDocument']!);
  }
  return docs.flatMap((d) => {
    const s = (d as unknown as { Statement: Statement | Statement[] }).Statement;
    return Array.isArray(s) ? s : [s];
  });
}

export const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

export function allowedActions(statements: Statement[]): Set<string> {
  return new Set(statements.filter((s) => s.Effect === 'Allow').flatMap((s) => asList(s.Action)));
}
