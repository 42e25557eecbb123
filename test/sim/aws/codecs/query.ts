// awsQuery (STS, IAM): form-encoded POST in, XML out.
import type { SimError } from '../errors.js';

/**
 * `Tags.member.1.Key=a&Tags.member.1.Value=b` → `{ Tags: [{ Key: 'a', Value: 'b' }] }`.
 * `member.N` becomes an array, `entry.N.key/value` a map; an empty list arrives as `Key=`.
 */
export function decodeForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    const parts = k.split('.');
    let cur: Record<string, unknown> = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i]!;
      if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1]!] = v;
  }
  return normalize(root) as Record<string, unknown>;
}

function normalize(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === 'member') {
    const m = o.member as Record<string, unknown>;
    return Object.keys(m).sort((a, b) => Number(a) - Number(b)).map((i) => normalize(m[i]));
  }
  if (keys.length === 1 && keys[0] === 'entry') {
    const e = o.entry as Record<string, { key: string; value: unknown }>;
    const out: Record<string, unknown> = {};
    for (const i of Object.keys(e)) out[e[i]!.key] = normalize(e[i]!.value);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = normalize(o[k]);
  return out;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Value → XML children. Arrays are `<member>` lists, Dates ISO-8601, as awsQuery expects. */
export function toXml(name: string, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (v instanceof Date) return `<${name}>${v.toISOString()}</${name}>`;
  if (Array.isArray(v)) return `<${name}>${v.map((x) => toXml('member', x)).join('')}</${name}>`;
  if (typeof v === 'object') {
    return `<${name}>${Object.entries(v as Record<string, unknown>).map(([k, x]) => toXml(k, x)).join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(v))}</${name}>`;
}

export function encodeQueryResult(action: string, xmlns: string, result: Record<string, unknown>, requestId: string): string {
  const inner = Object.entries(result).map(([k, x]) => toXml(k, x)).join('');
  return `<${action}Response xmlns="${xmlns}"><${action}Result>${inner}</${action}Result>` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}

export function encodeQueryError(err: SimError, requestId: string, xmlns: string): string {
  const type = err.status >= 500 ? 'Receiver' : 'Sender';
  return `<ErrorResponse xmlns="${xmlns}"><Error><Type>${type}</Type><Code>${escapeXml(err.code)}</Code>` +
    `<Message>${escapeXml(err.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}
