// Turns a WebSocket message into a frame we can act on, or into the `error` frame that
// answers it (docs/protocol.md, "General rules"). Nothing here throws: whatever a peer sends has an answer.
import { randomUUID } from 'node:crypto';
import { MAX_FRAME_BYTES, type ErrorFrame, type OutboundFrame, type SyncBatchFrame } from './messages.js';

export type Decoded =
  | { ok: true; raw: Record<string, unknown>; type: string; bytes: number }
  | { ok: false; error: ErrorFrame; bytes: number };

/** Frames nested deeper than this are refused before anything walks them. */
const MAX_DEPTH = 64;

function depthExceeds(text: string, max: number): boolean {
  // A cheap scan that ignores brackets inside strings; JSON.parse itself is not the
  // risk, but our schema walkers and JCS are recursive.
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The id of the frame an error answers, when it has a usable one. */
export function refIdOf(raw: Record<string, unknown>): string | undefined {
  const id = raw['id'];
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

export function errorFrame(code: string, message: string, refId?: string): ErrorFrame {
  return { type: 'error', id: randomUUID(), code, message, ...(refId !== undefined && { refId }) };
}

export function decodeFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Decoded {
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  const bytes = buf.length;
  if (isBinary) return { ok: false, bytes, error: errorFrame('FRAME_NOT_TEXT', 'frames must be UTF-8 text frames') };
  if (bytes > MAX_FRAME_BYTES) {
    return { ok: false, bytes, error: errorFrame('FRAME_TOO_LARGE', `frame of ${bytes} bytes exceeds ${MAX_FRAME_BYTES}`) };
  }
  const text = buf.toString('utf8');
  if (depthExceeds(text, MAX_DEPTH)) {
    return { ok: false, bytes, error: errorFrame('FRAME_TOO_DEEP', `frame nests deeper than ${MAX_DEPTH} levels`) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, bytes, error: errorFrame('FRAME_INVALID_JSON', 'frame is not valid JSON') };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, bytes, error: errorFrame('FRAME_NOT_OBJECT', 'frame must be a JSON object') };
  }
  const raw = value as Record<string, unknown>;
  const refId = refIdOf(raw);
  if (typeof raw['type'] !== 'string' || raw['type'].length === 0 || raw['type'].length > 64) {
    return { ok: false, bytes, error: errorFrame('FRAME_INVALID', 'frame has no valid "type"', refId) };
  }
  return { ok: true, raw, type: raw['type'], bytes };
}

/** Frames whose text was built from parts serialized earlier (preEncodeBatch), taken by their first encodeFrame. */
const preEncoded = new WeakMap<OutboundFrame, string>();

/**
 * Gives a sync.batch its text from its entities' JSON (comma-separated), which the batcher
 * made anyway to size the batch: the entities are then serialized once, not twice. The
 * text is the same as JSON.stringify(frame) gives. It is used by the frame's first send
 * and then dropped (a frame stays in the outbox until acked; a resend serializes again).
 */
export function preEncodeBatch(frame: SyncBatchFrame, entitiesJson: string): void {
  const envelope = JSON.stringify({ ...frame, entities: [] });
  // Inside a JSON string a quote is escaped, so this key can only be the frame's own.
  const at = envelope.indexOf(EMPTY_ENTITIES);
  preEncoded.set(frame, `${envelope.slice(0, at)}"entities":[${entitiesJson}]${envelope.slice(at + EMPTY_ENTITIES.length)}`);
}
const EMPTY_ENTITIES = '"entities":[]';

export function encodeFrame(frame: OutboundFrame): string {
  let text = preEncoded.get(frame);
  if (text !== undefined) preEncoded.delete(frame);
  else text = JSON.stringify(frame);
  if (Buffer.byteLength(text, 'utf8') > MAX_FRAME_BYTES) {
    // Callers size their frames (sync batches split by bytes); reaching this is a bug.
    throw new Error(`outbound ${frame.type} frame exceeds ${MAX_FRAME_BYTES} bytes`);
  }
  return text;
}
