// DynamoDB expression language subset: condition / filter / key-condition expressions and
// update expressions, over typed AttributeValues ({S}, {N}, {BOOL}, {M}, {L}, {SS}, {NULL}…).
import { SimError } from '../errors.js';

export type AV = Record<string, unknown>; // one AttributeValue, e.g. { S: 'x' }
export type Item = Record<string, AV>;
type PathEl = string | number;

type Operand = { t: 'path'; p: PathEl[] } | { t: 'val'; v: AV } | { t: 'size'; p: PathEl[] };
export type Cond =
  | { t: 'cmp'; op: string; l: Operand; r: Operand }
  | { t: 'between'; v: Operand; lo: Operand; hi: Operand }
  | { t: 'in'; v: Operand; list: Operand[] }
  | { t: 'and' | 'or'; a: Cond; b: Cond }
  | { t: 'not'; a: Cond }
  | { t: 'fn'; name: string; args: Operand[] };
type UVal = Operand | { t: 'ine'; p: PathEl[]; v: UVal } | { t: 'la'; a: UVal; b: UVal } | { t: '+' | '-'; a: UVal; b: UVal };
export interface Update { set: { p: PathEl[]; v: UVal }[]; remove: PathEl[][]; add: { p: PathEl[]; v: AV }[]; del: { p: PathEl[]; v: AV }[] }

const invalid = (m: string) => new SimError('ValidationException', m, 400);

/** Tracks which ExpressionAttributeNames/Values a request's expressions used (AWS rejects unused ones). */
export class Refs {
  names = new Set<string>();
  values = new Set<string>();
  constructor(readonly nameMap: Record<string, string> = {}, readonly valueMap: Record<string, AV> = {}) {}
  name(tok: string, kind: string): string {
    const n = this.nameMap[tok];
    if (n === undefined) throw invalid(`Invalid ${kind}: An expression attribute name used in the document path is not defined; attribute name: ${tok}`);
    this.names.add(tok);
    return n;
  }
  value(tok: string, kind: string): AV {
    const v = this.valueMap[tok];
    if (v === undefined) throw invalid(`Invalid ${kind}: An expression attribute value used in expression is not defined; attribute value: ${tok}`);
    this.values.add(tok);
    return v;
  }
  checkUnused(): void {
    const n = Object.keys(this.nameMap).filter((k) => !this.names.has(k));
    if (n.length) throw invalid(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${n.join(', ')}}`);
    const v = Object.keys(this.valueMap).filter((k) => !this.values.has(k));
    if (v.length) throw invalid(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${v.join(', ')}}`);
  }
}

class Parser {
  private toks: string[];
  private i = 0;
  constructor(src: string, private readonly refs: Refs, private readonly kind: string) {
    this.toks = src.match(/#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\d+|<>|<=|>=|[()[\],.=<>+-]/g) ?? [];
    const rest = src.replace(/#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\d+|<>|<=|>=|[()[\],.=<>+-]|\s+/g, '');
    if (rest) throw this.err(rest[0]!);
  }
  err(tok = this.peek() ?? '<EOF>'): SimError { return invalid(`Invalid ${this.kind}: Syntax error; token: "${tok}", near: "${this.toks.slice(Math.max(0, this.i - 1), this.i + 2).join(' ')}"`); }
  peek(): string | undefined { return this.toks[this.i]; }
  kw(w: string): boolean { if (this.peek()?.toUpperCase() === w) { this.i++; return true; } return false; }
  eat(t: string): void { if (this.peek() !== t) throw this.err(); this.i++; }
  done(): void { if (this.i < this.toks.length) throw this.err(); }

  cond(): Cond {
    let a = this.andC();
    while (this.kw('OR')) a = { t: 'or', a, b: this.andC() };
    return a;
  }
  private andC(): Cond {
    let a = this.notC();
    while (this.kw('AND')) a = { t: 'and', a, b: this.notC() };
    return a;
  }
  private notC(): Cond {
    if (this.kw('NOT')) return { t: 'not', a: this.notC() };
    return this.primary();
  }
  private primary(): Cond {
    if (this.peek() === '(') { this.i++; const c = this.cond(); this.eat(')'); return c; }
    const name = this.peek() ?? '';
    const fn = ['attribute_exists', 'attribute_not_exists', 'attribute_type', 'begins_with', 'contains'].find((f) => f === name);
    if (fn && this.toks[this.i + 1] === '(') {
      this.i += 2;
      const args = [this.operand()];
      while (this.peek() === ',') { this.i++; args.push(this.operand()); }
      this.eat(')');
      return { t: 'fn', name: fn, args };
    }
    const l = this.operand();
    if (this.kw('BETWEEN')) {
      const lo = this.operand();
      if (!this.kw('AND')) throw this.err();
      return { t: 'between', v: l, lo, hi: this.operand() };
    }
    if (this.kw('IN')) {
      this.eat('(');
      const list = [this.operand()];
      while (this.peek() === ',') { this.i++; list.push(this.operand()); }
      this.eat(')');
      return { t: 'in', v: l, list };
    }
    const op = this.peek();
    if (!op || !['=', '<>', '<', '<=', '>', '>='].includes(op)) throw this.err();
    this.i++;
    return { t: 'cmp', op, l, r: this.operand() };
  }
  operand(): Operand {
    const t = this.peek();
    if (t === undefined) throw this.err();
    if (t.startsWith(':')) { this.i++; return { t: 'val', v: this.refs.value(t, this.kind) }; }
    if (t === 'size' && this.toks[this.i + 1] === '(') { this.i += 2; const p = this.path(); this.eat(')'); return { t: 'size', p }; }
    return { t: 'path', p: this.path() };
  }
  path(): PathEl[] {
    const out: PathEl[] = [this.pathName()];
    for (;;) {
      if (this.peek() === '.') { this.i++; out.push(this.pathName()); }
      else if (this.peek() === '[') { this.i++; const n = this.peek(); if (!n || !/^\d+$/.test(n)) throw this.err(); this.i++; this.eat(']'); out.push(Number(n)); }
      else return out;
    }
  }
  private pathName(): string {
    const t = this.peek();
    if (!t) throw this.err();
    if (t.startsWith('#')) { this.i++; return this.refs.name(t, this.kind); }
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) {
      if (RESERVED.has(t.toUpperCase())) throw invalid(`Invalid ${this.kind}: Attribute name is a reserved keyword; reserved keyword: ${t}`);
      this.i++;
      return t;
    }
    throw this.err();
  }

  update(): Update {
    const u: Update = { set: [], remove: [], add: [], del: [] };
    if (!this.peek()) throw this.err();
    while (this.peek()) {
      if (this.kw('SET')) {
        do { const p = this.path(); this.eat('='); u.set.push({ p, v: this.uval() }); } while (this.peek() === ',' && ++this.i);
      } else if (this.kw('REMOVE')) {
        do { u.remove.push(this.path()); } while (this.peek() === ',' && ++this.i);
      } else if (this.kw('ADD') || this.peek()?.toUpperCase() === 'DELETE') {
        const isDel = this.toks[this.i - 1]?.toUpperCase() !== 'ADD';
        if (isDel) this.i++;
        do {
          const p = this.path();
          const v = this.operand();
          if (v.t !== 'val') throw this.err();
          (isDel ? u.del : u.add).push({ p, v: v.v });
        } while (this.peek() === ',' && ++this.i);
      } else throw this.err();
    }
    return u;
  }
  private uval(): UVal {
    const a = this.uterm();
    const op = this.peek();
    if (op === '+' || op === '-') { this.i++; return { t: op, a, b: this.uterm() }; }
    return a;
  }
  private uterm(): UVal {
    const t = this.peek();
    if ((t === 'if_not_exists' || t === 'list_append') && this.toks[this.i + 1] === '(') {
      this.i += 2;
      if (t === 'if_not_exists') { const p = this.path(); this.eat(','); const v = this.uval(); this.eat(')'); return { t: 'ine', p, v }; }
      const a = this.uval(); this.eat(','); const b = this.uval(); this.eat(')');
      return { t: 'la', a, b };
    }
    return this.operand();
  }
}

// A few of DynamoDB's ~570 reserved words (docs: "Reserved words in DynamoDB"), those a ledger is likely to trip on.
const RESERVED = new Set(['STATUS', 'NAME', 'DATA', 'TIMESTAMP', 'VALUE', 'TTL', 'STATE', 'TYPE', 'USER', 'KEY', 'DATE', 'SIZE', 'COUNT', 'ORDER', 'GROUP', 'ROLE', 'HASH', 'RANGE', 'TABLE', 'INDEX', 'TIME', 'YEAR', 'ACTION', 'COMMENT', 'OWNER']);

export function parseCondition(src: string, refs: Refs, kind = 'ConditionExpression'): Cond {
  const p = new Parser(src, refs, kind);
  const c = p.cond();
  p.done();
  return c;
}
export function parseUpdate(src: string, refs: Refs): Update {
  const p = new Parser(src, refs, 'UpdateExpression');
  const u = p.update();
  p.done();
  return u;
}
export function parseProjection(src: string, refs: Refs): PathEl[][] {
  const p = new Parser(src, refs, 'ProjectionExpression');
  const out = [p.path()];
  while (p.peek() === ',') { p.eat(','); out.push(p.path()); }
  p.done();
  return out;
}

// ---- evaluation ----

export function getPath(item: Item, p: PathEl[]): AV | undefined {
  let cur: AV | undefined = { M: item };
  for (const el of p) {
    if (!cur) return undefined;
    if (typeof el === 'number') cur = (cur.L as AV[] | undefined)?.[el];
    else cur = (cur.M as Item | undefined)?.[el];
  }
  return cur;
}

function typeOf(v: AV): string { return Object.keys(v)[0] ?? ''; }

function canon(v: AV): string {
  const t = typeOf(v);
  const x = v[t];
  if (t === 'SS' || t === 'BS') return t + JSON.stringify([...(x as string[])].sort());
  if (t === 'NS') return t + JSON.stringify((x as string[]).map(Number).sort((a, b) => a - b));
  if (t === 'N') return 'N' + String(Number(x));
  if (t === 'M') return 'M{' + Object.keys(x as Item).sort().map((k) => JSON.stringify(k) + ':' + canon((x as Item)[k]!)).join(',') + '}';
  if (t === 'L') return 'L[' + (x as AV[]).map(canon).join(',') + ']';
  return t + JSON.stringify(x);
}
export function avEqual(a: AV, b: AV): boolean { return canon(a) === canon(b); }

/** Order of two scalar values of the same type (N numerically, S/B by code units), or undefined. */
export function avCompare(a: AV, b: AV): number | undefined {
  const t = typeOf(a);
  if (t !== typeOf(b)) return undefined;
  if (t === 'N') return Number(a.N) - Number(b.N);
  if (t === 'S' || t === 'B') { const x = String(a[t]); const y = String(b[t]); return x < y ? -1 : x > y ? 1 : 0; }
  return undefined;
}

function operandValue(item: Item, o: Operand): AV | undefined {
  if (o.t === 'val') return o.v;
  const v = getPath(item, o.p);
  if (o.t === 'path') return v;
  if (!v) return undefined;
  const t = typeOf(v);
  const x = v[t];
  const n = t === 'S' ? (x as string).length : t === 'B' ? Buffer.from(String(x), 'base64').length
    : t === 'M' ? Object.keys(x as Item).length : Array.isArray(x) ? x.length : undefined;
  return n === undefined ? undefined : { N: String(n) };
}

export function evalCond(item: Item, c: Cond): boolean {
  switch (c.t) {
    case 'and': return evalCond(item, c.a) && evalCond(item, c.b);
    case 'or': return evalCond(item, c.a) || evalCond(item, c.b);
    case 'not': return !evalCond(item, c.a);
    case 'cmp': {
      const l = operandValue(item, c.l);
      const r = operandValue(item, c.r);
      if (!l || !r) return c.op === '<>' && !!(l || r);
      if (c.op === '=') return avEqual(l, r);
      if (c.op === '<>') return !avEqual(l, r);
      const d = avCompare(l, r);
      if (d === undefined) return false;
      return c.op === '<' ? d < 0 : c.op === '<=' ? d <= 0 : c.op === '>' ? d > 0 : d >= 0;
    }
    case 'between': {
      const v = operandValue(item, c.v); const lo = operandValue(item, c.lo); const hi = operandValue(item, c.hi);
      if (!v || !lo || !hi) return false;
      const a = avCompare(v, lo); const b = avCompare(v, hi);
      return a !== undefined && b !== undefined && a >= 0 && b <= 0;
    }
    case 'in': {
      const v = operandValue(item, c.v);
      return !!v && c.list.some((o) => { const x = operandValue(item, o); return !!x && avEqual(v, x); });
    }
    case 'fn': {
      const [a0, a1] = c.args;
      const p = a0 && a0.t === 'path' ? a0.p : undefined;
      switch (c.name) {
        case 'attribute_exists': return !!p && getPath(item, p) !== undefined;
        case 'attribute_not_exists': return !!p && getPath(item, p) === undefined;
        case 'attribute_type': { const v = p && getPath(item, p); const t = a1 && operandValue(item, a1); return !!v && !!t && typeOf(v) === t.S; }
        case 'begins_with': {
          const v = a0 && operandValue(item, a0); const pre = a1 && operandValue(item, a1);
          return !!v && !!pre && typeOf(v) === 'S' && typeOf(pre) === 'S' && String(v.S).startsWith(String(pre.S));
        }
        case 'contains': {
          const v = a0 && operandValue(item, a0); const x = a1 && operandValue(item, a1);
          if (!v || !x) return false;
          const t = typeOf(v);
          if (t === 'S') return typeOf(x) === 'S' && String(v.S).includes(String(x.S));
          if (t === 'SS' || t === 'NS') return (v[t] as string[]).includes(String(x[typeOf(x)]));
          if (t === 'L') return (v.L as AV[]).some((e) => avEqual(e, x));
          return false;
        }
      }
      return false;
    }
  }
}

function uvalValue(item: Item, v: UVal): AV {
  switch (v.t) {
    case 'ine': return getPath(item, v.p) ?? uvalValue(item, v.v);
    case 'la': {
      const a = uvalValue(item, v.a); const b = uvalValue(item, v.b);
      if (!a.L || !b.L) throw invalid('Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: ' + typeOf(a.L ? b : a));
      return { L: [...(a.L as AV[]), ...(b.L as AV[])] };
    }
    case '+': case '-': {
      const a = uvalValue(item, v.a); const b = uvalValue(item, v.b);
      if (a.N === undefined || b.N === undefined) throw invalid(`Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ${v.t}`);
      return { N: String(v.t === '+' ? Number(a.N) + Number(b.N) : Number(a.N) - Number(b.N)) };
    }
    default: {
      const x = operandValue(item, v);
      if (!x) throw invalid('The provided expression refers to an attribute that does not exist in the item');
      return x;
    }
  }
}

function setPath(item: Item, p: PathEl[], v: AV | undefined): void {
  let parent: AV = { M: item };
  for (let i = 0; i < p.length - 1; i++) {
    const next: AV | undefined = getPath({ x: parent }, ['x', p[i]!]);
    if (!next) throw invalid('The document path provided in the update expression is invalid for update');
    parent = next;
  }
  const last = p[p.length - 1]!;
  if (typeof last === 'number') {
    const l = parent.L as AV[] | undefined;
    if (!l) throw invalid('The document path provided in the update expression is invalid for update');
    if (v === undefined) { if (last < l.length) l.splice(last, 1); }
    else if (last >= l.length) l.push(v); else l[last] = v;
  } else {
    const m = parent.M as Item | undefined;
    if (!m) throw invalid('The document path provided in the update expression is invalid for update');
    if (v === undefined) delete m[last]; else m[last] = v;
  }
}

/** Apply an update to a copy of the item; returns the new item and the top-level names touched. */
export function applyUpdate(old: Item, u: Update, keyNames: string[]): { item: Item; touched: Set<string> } {
  const item = structuredClone(old);
  const touched = new Set<string>();
  const guard = (p: PathEl[]) => {
    const top = String(p[0]);
    if (keyNames.includes(top)) throw invalid(`One or more parameter values were invalid: Cannot update attribute ${top}. This attribute is part of the key`);
    touched.add(top);
  };
  // Values are computed against the item as it was, as DynamoDB does.
  const sets = u.set.map((s) => ({ p: s.p, v: uvalValue(old, s.v) }));
  for (const s of sets) { guard(s.p); setPath(item, s.p, s.v); }
  for (const p of u.remove) { guard(p); setPath(item, p, undefined); }
  for (const a of u.add) {
    guard(a.p);
    const cur = getPath(item, a.p);
    const t = typeOf(a.v);
    if (t === 'N') setPath(item, a.p, { N: String(Number(cur?.N ?? 0) + Number(a.v.N)) });
    else if (t === 'SS' || t === 'NS') setPath(item, a.p, { [t]: [...new Set([...((cur?.[t] as string[]) ?? []), ...(a.v[t] as string[])])] });
    else throw invalid('Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: ' + t);
  }
  for (const d of u.del) {
    guard(d.p);
    const cur = getPath(item, d.p);
    const t = typeOf(d.v);
    if (!cur) continue;
    const rest = ((cur[t] as string[]) ?? []).filter((x) => !(d.v[t] as string[]).includes(x));
    setPath(item, d.p, rest.length ? { [t]: rest } : undefined);
  }
  return { item, touched };
}

export function project(item: Item, paths: PathEl[][]): Item {
  const out: Item = {};
  for (const p of paths) {
    const v = getPath(item, p);
    if (v !== undefined) out[String(p[0])] = p.length === 1 ? v : (item[String(p[0])] as AV);
  }
  return out;
}
