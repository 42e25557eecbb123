// Resume cursors (docs/protocol.md, "sync"): an opaque string of at most 16 KiB recording the units
// completed in batches 0…n. It never holds AWS page tokens (they expire); it names units
// by their position in the plan's deterministic unit list, with a fingerprint of that list,
// so a cursor from a plan that has since changed (an account added) is detected and the
// resumed sync simply redoes everything instead of skipping the wrong units.
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { unitKey, type SyncUnit } from './types.js';

export const MAX_CURSOR_CHARS = 16 * 1024;

interface CursorBody {
  v: 1;
  /** integration id */
  i: string;
  /** hash of the job params (without resumeFrom) */
  h: string;
  /** fingerprint of the unit list */
  f: string;
  /** completed unit positions, delta-encoded */
  d: number[];
}

export function paramsHash(params: Record<string, unknown>): string {
  const { resumeFrom: _r, ...rest } = params;
  // `expand: false` means absent: left out, so a sync that sends it hashes (and resumes)
  // as one that never heard of it.
  if (rest['expand'] !== true) delete rest['expand'];
  const sorted = JSON.stringify(rest, Object.keys(rest).sort());
  return createHash('sha256').update(sorted).digest('base64url').slice(0, 16);
}

export function unitsFingerprint(units: Iterable<SyncUnit>): string {
  const h = createHash('sha256');
  for (const u of units) h.update(`${unitKey(u)}\n`);
  return h.digest('base64url').slice(0, 16);
}

export function encodeCursor(integrationId: string, phash: string, fingerprint: string, completed: Iterable<number>): string {
  const sorted = [...completed].sort((a, b) => a - b);
  let d = sorted.map((n, i) => (i === 0 ? n : n - sorted[i - 1]!));
  for (;;) {
    const body: CursorBody = { v: 1, i: integrationId, h: phash, f: fingerprint, d };
    const text = deflateRawSync(Buffer.from(JSON.stringify(body))).toString('base64url');
    if (text.length <= MAX_CURSOR_CHARS) return text;
    // Too many units to name: forget the last ones. Forgetting is always safe (they are
    // redone on resume); naming a unit that is not complete never is.
    d = d.slice(0, Math.floor(d.length * 0.9));
  }
}

export type DecodedCursor = { integrationId: string; paramsHash: string; fingerprint: string; completed: Set<number> };

/** Decodes a cursor; throws an Error with a short reason when it is malformed. */
export function decodeCursor(text: string): DecodedCursor {
  if (text.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('resumeFrom is not a cursor of this connector');
  let body: CursorBody;
  try {
    body = JSON.parse(inflateRawSync(Buffer.from(text, 'base64url'), { maxOutputLength: 1024 * 1024 }).toString('utf8')) as CursorBody;
  } catch {
    throw new Error('resumeFrom is not a cursor of this connector');
  }
  if (body?.v !== 1 || typeof body.i !== 'string' || typeof body.h !== 'string' || typeof body.f !== 'string' || !Array.isArray(body.d) || !body.d.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new Error('resumeFrom is malformed');
  }
  const completed = new Set<number>();
  let at = 0;
  body.d.forEach((delta, i) => {
    at = i === 0 ? delta : at + delta;
    completed.add(at);
  });
  return { integrationId: body.i, paramsHash: body.h, fingerprint: body.f, completed };
}
