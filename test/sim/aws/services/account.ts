// Account Management (restJson1: POST /listRegions), global. ListRegions reports the
// calling account's regions (or, from the management account, a member's with AccountId):
// the world's regions as ENABLED_BY_DEFAULT (the 17 regions every account has) or ENABLED
// (opt-in regions), plus known opt-in regions the account has not enabled as DISABLED.
import { SimError } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import { ENABLED_BY_DEFAULT, KNOWN_OPT_IN_REGIONS, regionEnabled } from '../world.js';
import { num, paginate, str } from '../util.js';

/** Request path → operation (the model's HTTP bindings). */
export const ACCOUNT_PATHS = new Map([['/listRegions', 'ListRegions']]);

const STATUSES = new Set(['ENABLED', 'ENABLING', 'DISABLING', 'DISABLED', 'ENABLED_BY_DEFAULT']);
const invalid = (m: string) => new SimError('ValidationException', m, 400);

function regionsOf(ctx: Ctx): { RegionName: string; RegionOptStatus: string }[] {
  const w = ctx.world;
  let a = ctx.account;
  const other = str(ctx.input.AccountId);
  if (other && other !== a.id) {
    // Only the organization's management account may name a member (Account Management's own
    // delegated administrator is not modelled; the Organizations delegation policy does not cover it).
    if (w.organization?.managementAccountId !== a.id) throw new SimError('AccessDeniedException', 'You are not authorized to perform this operation on the specified account.', 403);
    const m = w.accounts.get(other);
    if (!m?.inOrg) throw new SimError('AccessDeniedException', `The account ${other} is not a member of your organization.`, 403);
    a = m;
  }
  const names = [...new Set([...w.regions, ...(w.partition === 'aws' ? KNOWN_OPT_IN_REGIONS : [])])].sort();
  return names.map((r) => ({
    RegionName: r,
    RegionOptStatus: w.partition !== 'aws' || ENABLED_BY_DEFAULT.has(r) ? 'ENABLED_BY_DEFAULT' : regionEnabled(w, a, r) ? 'ENABLED' : 'DISABLED',
  }));
}

export const accountService: ServiceDef = {
  name: 'account',
  protocol: 'rest-json',
  iamPrefix: 'account',
  eventSource: 'account.amazonaws.com',
  global: true,
  // No published rate; Account Management is an account-level control-plane API like
  // Organizations, so it shares that conservative bucket.
  family: () => 'organizations',
  mutating: new Set(),
  ops: {
    ListRegions: (ctx) => {
      const want = (ctx.input.RegionOptStatusContains as string[] | undefined) ?? [];
      for (const s of want) if (!STATUSES.has(s)) throw invalid(`1 validation error detected: Value '${s}' at 'regionOptStatusContains' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, ENABLING, DISABLING, DISABLED, ENABLED_BY_DEFAULT]`);
      const all = regionsOf(ctx).filter((r) => want.length === 0 || want.includes(r.RegionOptStatus));
      const p = paginate(all, {
        max: num(ctx.input.MaxResults), token: str(ctx.input.NextToken), cap: 50, def: 20,
        scope: `${ctx.account.id}|ListRegions|${str(ctx.input.AccountId) ?? ''}|${want.join(',')}`,
        invalidToken: () => invalid('The NextToken is not valid'),
        tooLarge: (n) => invalid(`1 validation error detected: Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`),
      });
      return { Regions: p.items, NextToken: p.next };
    },
  },
};
