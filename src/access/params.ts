// Grant/revoke params (docs/protocol.md, "grant and revoke"), parsed in two steps: the common shape, then the
// principal and target against the access kind named in it. Every id that later becomes
// part of an AWS call is checked here, before admission, so hostile params never reach AWS.
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { ACCESS_KINDS, rfc3339 } from '../protocol/messages.js';
import { CLOCK_SKEW_MS } from '../protocol/signature.js';
import { IDENTITY_STORE_ID } from './identity-center.js';
import { kindOf } from './registry.js';
import { GRANT_ID_PATTERN, principalSchema, type AccessRequest } from './types.js';

/**
 * Control, format (bidi overrides, zero-width), surrogate and line-separator characters. A
 * person's userName and email are free text, but these have no place in a name: they
 * reorder or hide text and inject terminal escapes where the name is shown or logged.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

export const accessParamsSchema = z
  .object({
    grantId: z.string().regex(GRANT_ID_PATTERN, 'grantId must match ^[A-Za-z0-9._-]{1,64}$'),
    accessKind: z.enum(ACCESS_KINDS),
    principal: principalSchema,
    target: z.record(z.string(), z.unknown()),
    expiresAt: rfc3339.optional(),
  })
  .transform((p, ctx): AccessRequest => {
    for (const field of ['userName', 'email'] as const) {
      if (INVISIBLE.test(p.principal[field] ?? '')) {
        ctx.addIssue({ code: 'custom', path: ['principal', field], message: `must not hold control, format or line-separator characters` });
        return z.NEVER;
      }
    }
    const kind = kindOf(p.accessKind);
    if (!kind.principalTypes.includes(p.principal.type)) {
      ctx.addIssue({ code: 'custom', path: ['principal', 'type'], message: `${p.accessKind} takes a principal of type ${kind.principalTypes.join(' or ')}` });
      return z.NEVER;
    }
    const bad = kind.checkPrincipal?.(p.principal);
    if (bad) {
      ctx.addIssue({ code: 'custom', path: ['principal', 'id'], message: bad });
      return z.NEVER;
    }
    const target = kind.target.safeParse(p.target);
    if (!target.success) {
      for (const issue of target.error.issues) ctx.addIssue({ code: 'custom', path: ['target', ...issue.path.map(String)], message: issue.message });
      return z.NEVER;
    }
    return {
      grantId: p.grantId,
      accessKind: p.accessKind,
      // Identity Store ids in one canonical case (AWS's, lower case), so that an id written
      // in capitals is still recognized as the principal of an assignment already there.
      principal: IDENTITY_STORE_ID.test(p.principal.id) ? { ...p.principal, id: p.principal.id.toLowerCase() } : p.principal,
      target: target.data as Record<string, unknown>,
      ...(p.expiresAt !== undefined && { expiresAt: new Date(p.expiresAt).toISOString() }),
    };
  });

/**
 * A grant whose expiry has already passed (by more than the clock skew allowed between the
 * control plane and the connector) is refused before anything is read or written: it would
 * create access only for the sweeper to remove it, and some kinds would write a deadline
 * already in the past into AWS.
 */
export function refuseExpiredGrant(req: AccessRequest, now: number): void {
  if (req.expiresAt !== undefined && Date.parse(req.expiresAt) < now - CLOCK_SKEW_MS) {
    throw new ConnectorError('JOB_PARAMS_INVALID', `expiresAt ${req.expiresAt} has already passed (the connector's clock says ${new Date(now).toISOString()}); nothing was granted`);
  }
}
