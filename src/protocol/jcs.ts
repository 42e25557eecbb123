// RFC 8785 JSON Canonicalization Scheme, for values that came from JSON.parse.
//
// JCS serializes strings and numbers exactly as ECMAScript's JSON.stringify does
// (RFC 8785 §3.2.2 is defined in terms of it), so only the member order needs work:
// members are sorted by their names as arrays of UTF-16 code units, which is what
// Array.prototype.sort compares by default.
export function canonicalize(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JCS cannot represent a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => canonicalize(v)).join(',')}]`;
  }
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const members = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalize(obj[k])}`);
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`JCS cannot represent a value of type ${typeof value}`);
}
