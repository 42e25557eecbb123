// "Who used this access": CloudTrail management events of one user name in one account and
// region (LookupEvents), added to a revoke's output when the integration has enableAudit.
// The audit is a courtesy of the revoke, never a condition of it: every failure (denied,
// throttled, cancelled, bad input) is returned as an error code with no events.
//
// LookupEvents is limited to 2 requests per second per account and region; the client
// factory paces the `cloudtrail-lookup` family to that share, and `max` bounds the calls.
// Global services (IAM, STS's global endpoint, console sign-in) log their events in
// us-east-1 (in the aws partition), so the caller picks the region where the use happens.
import { CloudTrailClient, LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { paginate, pageSize } from '../aws/paginate.js';
import { toJobError } from '../errors.js';
import type { AccessContext } from './types.js';

export const AUDIT_ACTIONS = ['cloudtrail:LookupEvents'] as const;

/** Default and ceiling of `max`. */
export const AUDIT_DEFAULT_MAX = 50;
export const AUDIT_MAX_EVENTS = 1000;

export interface AuditEvent {
  time: string;
  eventName: string;
  eventSource: string;
  accountId?: string;
  region?: string;
}

export interface AuditResult {
  events: AuditEvent[];
  truncated: boolean;
  /** Error code (docs/operations.md) when the lookup failed; events is then empty. */
  error?: string;
}

export interface AuditQuery {
  accountId: string;
  region: string;
  /** CloudTrail's Username: the IAM user name, or the session name of an assumed role. */
  username: string;
  start: Date;
  end: Date;
  /** At most this many events (default 50, at most 1000), newest first. */
  max?: number;
  /** Read as the management identity (the management account's own events) instead of the member role. */
  asManagement?: boolean;
  /** Only events of these sources (CloudTrail's Username matches any principal of that name). */
  eventSources?: readonly string[];
}

/** Why the query cannot be sent, or undefined. Checked before any AWS call. */
function invalid(q: AuditQuery): string | undefined {
  if (!/^\d{12}$/.test(q.accountId)) return 'accountId must be a 12-digit account id';
  if (!/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(q.region)) return 'region must be an AWS region name';
  // CloudTrail accepts 1–2000 characters as a lookup value; control characters are never a user name.
  if (q.username.length < 1 || q.username.length > 2000 || /[\x00-\x1f\x7f]/.test(q.username)) return 'username must be 1–2000 characters without control characters';
  if (!(q.start instanceof Date) || !(q.end instanceof Date) || Number.isNaN(q.start.getTime()) || Number.isNaN(q.end.getTime())) return 'start and end must be dates';
  if (q.start.getTime() > q.end.getTime()) return 'start must not be after end';
  if (q.max !== undefined && !(Number.isInteger(q.max) && q.max >= 1 && q.max <= AUDIT_MAX_EVENTS)) return `max must be an integer from 1 to ${AUDIT_MAX_EVENTS}`;
  return undefined;
}

/** CloudTrail events done by `username` in the account and region, newest first, at most `max`. */
export async function auditEvents(ctx: AccessContext, q: AuditQuery): Promise<AuditResult> {
  const bad = invalid(q);
  if (bad) {
    ctx.log.warn({ code: 'JOB_PARAMS_INVALID', accountId: q.accountId }, `audit skipped: ${bad}`);
    return { events: [], truncated: false, error: 'JOB_PARAMS_INVALID' };
  }
  const max = q.max ?? AUDIT_DEFAULT_MAX;
  try {
    const ct = q.asManagement ? await ctx.session.managementClient(CloudTrailClient, q.region) : await ctx.session.memberClient(CloudTrailClient, q.accountId, q.region);
    // One event more than asked for tells whether more exist; LookupEvents may answer
    // empty pages with a NextToken, so the number of calls is bounded too.
    const maxCalls = Math.ceil((max + 1) / pageSize('cloudTrailLookup')) + 2;
    const got: Event[] = [];
    let calls = 0;
    let exhausted = true;
    for await (const page of paginate(async (token) => {
      calls++;
      const out = await ct.send(
        new LookupEventsCommand({
          LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: q.username }],
          StartTime: q.start,
          EndTime: q.end,
          MaxResults: pageSize('cloudTrailLookup', max + 1 - got.length),
          NextToken: token,
        }),
        { abortSignal: ctx.signal },
      );
      const more = out.NextToken !== undefined && out.NextToken !== '';
      // Stop paging once the extra event is in hand or the call budget is spent.
      const stop = got.length + (out.Events?.length ?? 0) > max || calls >= maxCalls;
      if (stop && more) exhausted = false;
      return { items: out.Events, next: stop ? undefined : out.NextToken };
    })) {
      got.push(...(q.eventSources ? page.filter((e) => q.eventSources!.includes(e.EventSource ?? '')) : page));
    }
    // The raw CloudTrailEvent is never copied: it holds request parameters.
    const events = got
      .filter((e): e is Event & { EventTime: Date; EventName: string } => e.EventTime instanceof Date && typeof e.EventName === 'string')
      .sort((a, b) => b.EventTime.getTime() - a.EventTime.getTime())
      .map((e) => ({ time: e.EventTime.toISOString(), eventName: e.EventName, eventSource: e.EventSource ?? '', accountId: q.accountId, region: q.region }));
    return { events: events.slice(0, max), truncated: events.length > max || !exhausted };
  } catch (err) {
    const { code, message } = toJobError(err);
    ctx.log.warn({ code, accountId: q.accountId, region: q.region }, `audit skipped: ${message}`);
    return { events: [], truncated: false, error: code };
  }
}
