// A small JSON Schema (draft 2020-12) validator for the keywords docs/protocol/ uses, so the
// tests check the published files themselves rather than the zod schemas they came from.
// A keyword it does not know is an error, never silently accepted: a generated schema that
// starts using a new keyword fails the tests until the validator learns it.
type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'examples', 'format']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'propertyNames',
  'items', 'minItems', 'maxItems', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum', 'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Returns the problems found (empty = valid), each with the JSON path where it is. */
export function validate(schema: Schema, value: unknown, path = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: not allowed`];
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`json-schema helper: unsupported keyword "${k}" at ${path}`);
  const errors: string[] = [];
  const s = schema as Record<string, any>;
  const t = typeOf(value);
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) return [`${path}: expected ${types.join('|')}, got ${t}`];
  }
  if ('const' in s && !equal(s.const, value)) errors.push(`${path}: expected ${JSON.stringify(s.const)}`);
  if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => equal(e, value))) errors.push(`${path}: not one of ${JSON.stringify(s.enum)}`);
  if (t === 'string') {
    const len = [...(value as string)].length;
    if (s.minLength !== undefined && len < s.minLength) errors.push(`${path}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && len > s.maxLength) errors.push(`${path}: longer than ${s.maxLength}`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value as string)) errors.push(`${path}: does not match ${s.pattern}`);
  }
  if (t === 'number' || t === 'integer') {
    const n = value as number;
    if (s.minimum !== undefined && n < s.minimum) errors.push(`${path}: below ${s.minimum}`);
    if (s.maximum !== undefined && n > s.maximum) errors.push(`${path}: above ${s.maximum}`);
    if (s.exclusiveMinimum !== undefined && n <= s.exclusiveMinimum) errors.push(`${path}: not above ${s.exclusiveMinimum}`);
    if (s.exclusiveMaximum !== undefined && n >= s.exclusiveMaximum) errors.push(`${path}: not below ${s.exclusiveMaximum}`);
  }
  if (t === 'array') {
    const a = value as unknown[];
    if (s.minItems !== undefined && a.length < s.minItems) errors.push(`${path}: fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && a.length > s.maxItems) errors.push(`${path}: more than ${s.maxItems} items`);
    if (s.items !== undefined) a.forEach((v, i) => errors.push(...validate(s.items, v, `${path}[${i}]`)));
  }
  if (t === 'object') {
    const o = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (!(r in o)) errors.push(`${path}.${r}: required`);
    for (const [k, v] of Object.entries(o)) {
      if (k in props) errors.push(...validate(props[k]!, v, `${path}.${k}`));
      else if (s.additionalProperties !== undefined) errors.push(...validate(s.additionalProperties, v, `${path}.${k}`));
      if (s.propertyNames !== undefined) errors.push(...validate(s.propertyNames, k, `${path}.${k} (name)`));
    }
  }
  for (const sub of (s.allOf ?? []) as Schema[]) errors.push(...validate(sub, value, path));
  if (s.anyOf !== undefined && !(s.anyOf as Schema[]).some((sub) => validate(sub, value, path).length === 0)) errors.push(`${path}: matches none of anyOf`);
  if (s.oneOf !== undefined && (s.oneOf as Schema[]).filter((sub) => validate(sub, value, path).length === 0).length !== 1) errors.push(`${path}: does not match exactly one of oneOf`);
  if (s.not !== undefined && validate(s.not, value, path).length === 0) errors.push(`${path}: matches "not"`);
  if (s.if !== undefined) {
    const branch = validate(s.if, value, path).length === 0 ? s.then : s.else;
    if (branch !== undefined) errors.push(...validate(branch, value, path));
  }
  return errors;
}
