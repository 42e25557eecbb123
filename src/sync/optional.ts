// Optional reads: AWS calls that only add attributes to an entity the unit emits anyway
// (a permission set's boundary, its tags, an access key's last use). One of them being
// denied by a policy or an SCP, or missing from an endpoint, must not blank the whole
// unit: the entity is still sent, the attribute is marked unknown (never guessed as
// empty), and the sync result names the action and the accounts (`coverageGaps`).
import { ConnectorError, isAbortError } from '../errors.js';
import { awsErrorCode } from '../aws/errors.js';
import type { Integration } from '../protocol/messages.js';
import { tagFields, type SourceContext } from './types.js';

/** The value of an optional read that could not be made. */
export const UNKNOWN: unique symbol = Symbol('unknown');
export type Unknown = typeof UNKNOWN;

export type GapReason = 'denied' | 'unsupported' | 'unavailable';

// What an endpoint answers for an operation it does not have.
const UNSUPPORTED = new Set(['UnknownOperationException', 'InvalidAction', 'UnsupportedOperation', 'UnsupportedOperationException', 'OperationNotSupportedException', 'NotImplemented']);

/**
 * Why an optional read is given up, or undefined when the error must fail the unit as before.
 * `throttled`: a read still throttled after the SDK's retries is given up as `unavailable`
 * (for reads of a feed shared with other work, such as CloudTrail's 2 TPS, rather than of
 * the entities' own service).
 */
export function gapReason(err: unknown, opts: { throttled?: boolean } = {}): GapReason | undefined {
  if (isAbortError(err)) return undefined;
  const code = err instanceof ConnectorError ? err.code : undefined;
  if (opts.throttled && code === 'AWS_THROTTLED') return 'unavailable';
  const status = (err instanceof ConnectorError ? (err.cause as { $metadata?: { httpStatusCode?: number } } | undefined) : (err as { $metadata?: { httpStatusCode?: number } } | null))?.$metadata?.httpStatusCode;
  if (code === 'AWS_ACCESS_DENIED') return 'denied';
  if (UNSUPPORTED.has(awsErrorCode(err)) || status === 501) return 'unsupported';
  // A server error that outlived the SDK's retries (some endpoints, emulators among
  // them, answer an operation they lack with a bare 500).
  if (code === 'AWS_UNAVAILABLE') return 'unavailable';
  return undefined;
}

// Per unit (context): actions already given up. Denied in one call, an action is denied
// for the rest of the unit in practice; asking again per entity would only add calls
// (and AccessDenied events in CloudTrail).
const givenUp = new WeakMap<SourceContext, Map<string, GapReason>>();

/**
 * Runs `read` for an optional attribute. Denied, not supported or failing after retries,
 * it answers UNKNOWN, reports the gap once per unit and action, and skips the action for
 * the rest of the unit. Any other error (throttling, expired credentials, abort) is thrown.
 */
export async function optionalRead<T>(ctx: SourceContext, action: string, read: () => Promise<T>, opts: { throttled?: boolean } = {}): Promise<T | Unknown> {
  if (givenUp.get(ctx)?.has(action)) return UNKNOWN;
  try {
    return await read();
  } catch (err) {
    const reason = gapReason(err, opts);
    if (!reason) throw err;
    // Looked up again: reads of one unit can run concurrently (the sign-in feed beside the
    // permission sets), and another may have given up meanwhile.
    let memo = givenUp.get(ctx);
    if (!memo) givenUp.set(ctx, (memo = new Map()));
    memo.set(action, reason);
    const message = err instanceof Error ? err.message : String(err);
    if (ctx.gap) ctx.gap(action, reason, message);
    else ctx.warn('SYNC_ATTRIBUTE_UNKNOWN', `${action} ${reason}: ${message}`);
    return UNKNOWN;
  }
}

/**
 * Entity attributes from optional reads: known values as they are, unknown ones left out
 * and named in `unknownAttributes` (so "unknown" never reads as "none").
 */
export function withUnknowns(attributes: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  const unknown: string[] = [];
  const out = { ...attributes };
  for (const [name, v] of Object.entries(values)) {
    if (v === UNKNOWN) unknown.push(name);
    else out[name] = v;
  }
  return unknown.length > 0 ? { ...out, unknownAttributes: unknown } : out;
}

/** Tags from an optional read: the entity's tag fields, and what to hand withUnknowns. */
export function optionalTags(integration: Integration, tags: Record<string, string> | undefined | Unknown): { fields: ReturnType<typeof tagFields>; unknown: Record<string, Unknown> } {
  return tags === UNKNOWN ? { fields: {}, unknown: { tags: UNKNOWN } } : { fields: tagFields(integration, tags), unknown: {} };
}
