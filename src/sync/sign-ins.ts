// The last sign-in of each IAM Identity Center user (`lastSignInAt` of `sso.user`). No
// Identity Center or Identity Store API returns it; CloudTrail does: every successful sign-in
// to the AWS access portal, whatever the identity source, is logged as a `UserAuthentication`
// event of `signin.amazonaws.com` in the management account's Identity Center region, after
// the CredentialChallenge / CredentialVerification events of each factor (logged only for
// Identity Center's own directory and Active Directory). The user is named by
// `userIdentity.onBehalfOf.userId` (with `identityStoreArn`), which AWS recommends over any
// user name; older records carry only a user name (`additionalEventData.UserName`, else
// `userIdentity.userName`), matched case-insensitively as a fallback.
//
// Cost: LookupEvents allows 2 calls a second per account and region (the connector takes
// its quota share of that) and 50 events a page. Filtering by EventName=UserAuthentication
// in AWS skips the challenge events (two or more per sign-in). The read covers at most
// SIGN_IN_WINDOW_MS (CloudTrail keeps 90 days) and at most SIGN_IN_MAX_PAGES pages, newest
// first; when the page budget ends it first, the window starts at the oldest sign-in read.
// Every user carries that window start (`lastSignInWindowStart`), so `lastSignInAt: null`
// always means "no sign-in since then", never "never signed in".
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { SourceContext } from './types.js';
import { feed, FEED_RETENTION_MS, type FeedOptions } from './delta.js';

/** What reading sign-ins calls (management role; the templates grant it with EnableAudit). */
export const SIGN_IN_ACTIONS = ['cloudtrail:LookupEvents'] as const;

/** How far back sign-ins are looked for: what the feed keeps, less an hour so a slow read stays inside it. */
export const SIGN_IN_WINDOW_MS = FEED_RETENTION_MS - 3600_000;

/** Page budget: 5,000 sign-ins, about 100 s of LookupEvents at half of its 2 TPS quota. */
export const SIGN_IN_MAX_PAGES = 100;

export interface SignIns {
  /** Start of the window read: a user with no sign-in in `byUserId`/`byUserName` has none since. */
  windowStart: Date;
  /** Newest sign-in per Identity Store user id. */
  byUserId: Map<string, Date>;
  /** Newest sign-in per lower-cased user name, for records without a user id. */
  byUserName: Map<string, Date>;
  /**
   * Read over a delta's short window only: a user with no sign-in in it may have one from
   * before, which the control plane holds, so its time is unknown here, not none.
   */
  partial: boolean;
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

function newest(m: Map<string, Date>, key: string, t: Date): void {
  const had = m.get(key);
  if (!had || had < t) m.set(key, t);
}

/**
 * Reads the sign-ins of the Identity Store `identityStoreId` from the management account's
 * trail in the unit's region. A delta's directory refresh reads only its own feed window
 * (`since`): one page or two instead of up to a hundred, and `lastSignInWindowStart` says so.
 */
export async function readSignIns(ctx: SourceContext, identityStoreId: string, since?: Date): Promise<SignIns> {
  const ct = await ctx.session.managementClient(CloudTrailClient, ctx.unit.region);
  const start = since ?? new Date(Date.now() - SIGN_IN_WINDOW_MS);
  const opts: FeedOptions = { lookup: { key: 'EventName', value: 'UserAuthentication' }, maxPages: SIGN_IN_MAX_PAGES };
  const out: SignIns = { windowStart: start, byUserId: new Map(), byUserName: new Map(), partial: since !== undefined };
  let oldest: Date | undefined;
  for await (const e of feed(ct, start, opts)) {
    // It runs beside the unit's other reads: a cancelled job stops it between pages too.
    ctx.signal.throwIfAborted();
    if (e.source !== 'signin.amazonaws.com' || e.name !== 'UserAuthentication' || !e.time) continue;
    if (!oldest || e.time < oldest) oldest = e.time;
    const identity = obj(e.record['userIdentity']);
    const onBehalfOf = obj(identity['onBehalfOf']);
    // Another directory's user (an account instance shares nothing with this one).
    const store = str(onBehalfOf['identityStoreArn']);
    if (store && !store.endsWith(`/${identityStoreId}`)) continue;
    // A failed authentication is not logged as UserAuthentication; a record saying otherwise is skipped anyway.
    const outcome = str(obj(e.record['serviceEventDetails'])['UserAuthentication']);
    if (outcome && outcome !== 'Success') continue;
    const userId = str(onBehalfOf['userId']);
    if (userId) newest(out.byUserId, userId, e.time);
    // A record naming only a user name is trusted only when it names this directory and success.
    else if (store && outcome === 'Success') {
      const name = str(obj(e.record['additionalEventData'])['UserName']) ?? str(identity['userName']);
      if (name) newest(out.byUserName, name.toLowerCase(), e.time);
    }
  }
  if (opts.truncated && oldest) out.windowStart = oldest;
  return out;
}

/** A user's `lastSignInAt` (ISO, or null for none since the window start). */
export function lastSignIn(s: SignIns, userId: string, userName: string | undefined): string | null {
  const t = s.byUserId.get(userId) ?? (userName ? s.byUserName.get(userName.toLowerCase()) : undefined);
  return t ? t.toISOString() : null;
}
