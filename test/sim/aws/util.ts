import { createHash, randomBytes } from 'node:crypto';
import { SimError } from './errors.js';

/** Deterministic PRNG (mulberry32) so worlds built from one seed are identical. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';

/** Id made of `alphabet` characters, drawn from `rand` (deterministic) or crypto. */
export function randomId(len: number, alphabet: 'upper' | 'lower' | 'hex' | 'digits', rand?: () => number): string {
  const chars = alphabet === 'upper' ? ALNUM : alphabet === 'lower' ? LOWER : alphabet === 'hex' ? HEX : '0123456789';
  let out = '';
  if (rand) {
    for (let i = 0; i < len; i++) out += chars[Math.floor(rand() * chars.length)];
  } else {
    const bytes = randomBytes(len);
    for (let i = 0; i < len; i++) out += chars[bytes[i]! % chars.length];
  }
  return out;
}

export function uuid(rand?: () => number): string {
  const h = randomId(32, 'hex', rand);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** IAM-style glob: `*` any run, `?` one char, case-insensitive (as IAM matches actions). */
export function globMatch(pattern: string, value: string, caseInsensitive = true): boolean {
  const re = new RegExp('^' + pattern.split('').map((c) =>
    c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('') + '$', caseInsensitive ? 'i' : '');
  return re.test(value);
}

export interface Page<T> { items: T[]; next?: string }

/**
 * Offset pagination with an opaque token bound to the listing (`scope`), as AWS tokens are:
 * a token from another listing is rejected. `cap` is the service's page-size maximum.
 */
export function paginate<T>(all: readonly T[], opts: {
  max?: number | undefined; token?: string | undefined; cap: number; def?: number; scope: string;
  invalidToken: () => SimError; tooLarge?: (n: number) => SimError; min?: number;
}): Page<T> {
  let size = opts.max ?? opts.def ?? opts.cap;
  if (opts.max !== undefined && (opts.max > opts.cap || opts.max < (opts.min ?? 1))) {
    if (opts.tooLarge) throw opts.tooLarge(opts.max);
    size = Math.min(Math.max(opts.max, 1), opts.cap);
  }
  let offset = 0;
  if (opts.token) offset = decodeToken(opts.token, opts.scope, opts.invalidToken);
  const items = all.slice(offset, offset + size);
  const end = offset + items.length;
  return end < all.length ? { items, next: encodeToken(opts.scope, end) } : { items };
}

export function encodeToken(scope: string, offset: number): string {
  const body = JSON.stringify({ s: sha256(scope).slice(0, 12), o: offset });
  return 'SIM' + Buffer.from(body).toString('base64url');
}

export function decodeToken(token: string, scope: string, invalid: () => SimError): number {
  try {
    if (!token.startsWith('SIM')) throw new Error('bad');
    const v = JSON.parse(Buffer.from(token.slice(3), 'base64url').toString()) as { s: string; o: number };
    if (v.s !== sha256(scope).slice(0, 12) || !Number.isInteger(v.o) || v.o < 0) throw new Error('scope');
    return v.o;
  } catch {
    throw invalid();
  }
}

export function sleep(ms: number): Promise<void> {
  // Unref: a held response must not keep a test process alive after the server closed.
  return ms > 0 ? new Promise((r) => setTimeout(r, ms).unref()) : Promise.resolve();
}

/** Read a query-protocol list member: the SDK sends `Key=` for an empty list. */
export function list<T = unknown>(v: unknown): T[] {
  if (v === undefined || v === null || v === '') return [];
  return Array.isArray(v) ? (v as T[]) : [v as T];
}

export function str(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

export function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}
