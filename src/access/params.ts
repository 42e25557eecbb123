// Grant/revoke params (docs/protocol.md "Job params"), parsed in two steps: the common shape, then the
// principal and target against the access kind named in it. Every id that later becomes
// part of an AWS call is checked here, before admission, so hostile params never reach AWS.
import { z } from 'zod';
import { ACCESS_KINDS, rfc3339 } from '../protocol/messages.js';
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
      principal: p.principal,
      target: target.data as Record<string, unknown>,
      ...(p.expiresAt !== undefined && { expiresAt: new Date(p.expiresAt).toISOString() }),
    };
  });
