// The customer's policy file (docs/protocol.md, "Policy file"; docs/policy.md): the customer's veto over what any control
// plane may ask for. It is parsed once at start-up; enforcement lives with the jobs.
//
// The schema is strict on purpose: a misspelt key in a veto must stop the connector at
// start-up, not be ignored and leave access open.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { ACCESS_KINDS } from '../protocol/messages.js';

/** A pattern: `*` matches any run of characters; printable ASCII, no spaces. */
const pattern = z.string().min(1).max(2048).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

// Account and OU patterns are checked for shape: a typo ("33333333330", "OU-prod") in a
// deny list would match nothing and leave access open without anyone noticing.
const accountPattern = pattern.refine(
  (p) => /^[0-9*]+$/.test(p) && (p.includes('*') || p.length === 12),
  'must be a 12-digit account id, or digits and * (for example 3333*)',
);
const ouPattern = pattern.refine(
  (p) => /^[a-z0-9*-]+$/.test(p) && (p.includes('*') ? !p.startsWith('r-') : /^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/.test(p)),
  'must be an OU id (ou-xxxx-xxxxxxxx) or a pattern of one; a root id is not an OU (use accounts, or leave the list out)',
);

/** An allow/deny pair of patterns. `*` matches any run of characters. Deny wins. */
function allowDeny(item: z.ZodType<string> = pattern) {
  return z
    .strictObject({
      /** Present = allowlist mode: what no pattern matches is denied. `[]` denies everything. */
      allow: z.array(item).optional(),
      deny: z.array(item).default([]),
    })
    .default({ deny: [] });
}

const pinnedIntegration = z.strictObject({
  /** Integration id as the control plane names it; omitted = any id. */
  id: z.string().min(1).optional(),
  /** Management role ARNs this integration may use (exact match or pattern). */
  roleArns: z.array(pattern).min(1).optional(),
  externalIdRequired: z.boolean().default(true),
  memberRoleNames: z.array(pattern).min(1).optional(),
  /** Scope of this integration's grants, on top of the top-level lists. */
  accounts: allowDeny(accountPattern),
  organizationalUnits: allowDeny(ouPattern),
});

export const policySchema = z.strictObject({
  version: z.literal(1),
  /** Refuse every grant and revoke; sync and check still run. */
  readOnly: z.boolean().default(false),
  /** When present, a job's integration must match one of these entries. */
  integrations: z.array(pinnedIntegration).min(1).optional(),
  accounts: allowDeny(accountPattern),
  organizationalUnits: allowDeny(ouPattern),
  permissionSets: allowDeny(),
  roles: allowDeny(),
  groups: allowDeny(),
  boundaries: allowDeny(),
  /** Managed policy ARNs or names (patterns) that no granted access may carry, however it is reached. */
  deniedManagedPolicies: z.array(pattern).default([]),
  accessKinds: z
    .strictObject({
      disabled: z.array(z.enum(ACCESS_KINDS)).default([]),
      /**
       * Identity Store group writes (sso.groupMembership) even when users come from an
       * external IdP (SCIM) or Active Directory, where such writes do not flow back and may
       * be overwritten by the next provisioning run. Off by default.
       */
      allowExternalIdentitySourceWrites: z.boolean().default(false),
      /** Lets grants edit OrganizationAccountAccessRole (trust, boundary, inline policy). Absent = false. */
      allowOrganizationAccountAccessRole: z.boolean().optional(),
    })
    .default({ disabled: [], allowExternalIdentitySourceWrites: false }),
  maxDurationMinutes: z.number().int().min(1).max(525_600).optional(),
  sync: z
    .strictObject({
      /** Identity Store user attributes that may leave the account; omitted = all we read. */
      userAttributes: z.array(z.string().min(1)).optional(),
    })
    .default({}),
});
export type Policy = z.infer<typeof policySchema>;

/** Reads and validates the policy file; throws an Error whose message names the field. */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  let doc: unknown;
  try {
    // YAML is a superset of JSON, so one parser serves both forms.
    // The parser is loaded only when there is a policy file to read.
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    doc = parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new Error(`${path} is neither valid JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = policySchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.map(String).join('.') || '(top level)';
    throw new Error(`${path}: ${where}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}
