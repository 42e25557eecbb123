// `policy explain`: what the customer's policy would decide for one grant, and on which
// facts, without changing anything. The same steps as a grant up to its first write:
// admission on the request alone, then the kind's read of AWS (facts) and checkFacts with
// the same lookups, each recorded so the operator sees exactly what was compared.
import { ConnectorError } from '../errors.js';
import type { Policy } from '../policy/schema.js';
import { accountOuPath, admitAccess, checkFacts, factLookups, type PrincipalValues } from './policy.js';
import { kindOf } from './registry.js';
import type { AccessContext, AccessRequest, PolicyFacts } from './types.js';

export interface Explanation {
  decision: 'allowed' | 'denied';
  /** When the deciding rule applied: on receipt (the request alone) or after reading AWS. */
  stage: 'receipt' | 'facts';
  rule?: string;
  message?: string;
  /** What the kind read from AWS (absent when the request was refused on receipt: a grant would not read AWS). */
  facts?: PolicyFacts;
  /** OU path of each account, when an OU rule asked for it. */
  ouPaths?: Record<string, string[]>;
  /** The principal's names, when a principals rule asked for them. */
  principal?: PrincipalValues;
  /** The organization's management account, when accounts.denyManagementAccount asked for it (null: no organization). */
  managementAccountId?: string | null;
}

/** Decides one grant as the runner would, read-only. Errors of the kind's read (refusals, AWS errors) are thrown as ConnectorErrors. */
export async function explainGrant(policy: Policy, ctx: AccessContext, req: AccessRequest, now: number): Promise<Explanation> {
  const admitted = admitAccess(policy, { jobType: 'grant', integration: ctx.integration, request: req, now });
  if (!admitted.ok) return { decision: 'denied', stage: 'receipt', rule: admitted.rule, message: admitted.message };
  const facts = await kindOf(req.accessKind).facts(ctx, req);
  // As runGrant: accounts under an OU the integration excludes are never granted to.
  const excluded = new Set(ctx.integration.excludeOrganizationalUnitIds);
  for (const id of excluded.size > 0 ? facts.accountIds : []) {
    const ou = (await accountOuPath(ctx.session, id)).find((o) => excluded.has(o));
    if (ou) throw new ConnectorError('ACCESS_REFUSED', `account ${id} is under ${ou}, which the integration excludes (excludeOrganizationalUnitIds)`);
  }
  const seen: Omit<Explanation, 'decision' | 'stage'> = { facts };
  const lookups = factLookups(ctx, req);
  const verdict = await checkFacts(policy, ctx.integration, facts, async (id) => {
    const path = await accountOuPath(ctx.session, id);
    (seen.ouPaths ??= {})[id] = path;
    return path;
  }, {
    principal: async () => (seen.principal = await lookups.principal!()),
    managementAccount: async () => {
      const id = await lookups.managementAccount!();
      seen.managementAccountId = id ?? null;
      return id;
    },
  });
  return verdict.ok ? { decision: 'allowed', stage: 'facts', ...seen } : { decision: 'denied', stage: 'facts', rule: verdict.rule, message: verdict.message, ...seen };
}

