// The customer's policy file (protocol §7): the customer's veto over what any control
// plane may ask for. It is parsed once at start-up; enforcement lives with the jobs.
//
// The schema is strict on purpose: a misspelt key in a veto must stop the connector at
// start-up, not be ignored and leave access open.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ACCESS_KINDS } from '../protocol/messages.js';

/** An allow/deny pair of patterns. `*` matches any run of characters. Deny wins. */
const allowDeny = z
  .strictObject({
    allow: z.array(z.string().min(1)).optional(),
    deny: z.array(z.string().min(1)).default([]),
  })
  .default({ deny: [] });

const pinnedIntegration = z.strictObject({
  /** Integration id as the control plane names it; omitted = any id. */
  id: z.string().min(1).optional(),
  /** Management role ARNs this integration may use (exact match or pattern). */
  roleArns: z.array(z.string().min(1)).min(1).optional(),
  externalIdRequired: z.boolean().default(true),
  memberRoleNames: z.array(z.string().min(1)).min(1).optional(),
  accounts: allowDeny,
  organizationalUnits: allowDeny,
});

export const policySchema = z.strictObject({
  version: z.literal(1),
  /** Refuse every grant and revoke; sync and check still run. */
  readOnly: z.boolean().default(false),
  /** When present, a job's integration must match one of these entries. */
  integrations: z.array(pinnedIntegration).min(1).optional(),
  accounts: allowDeny,
  organizationalUnits: allowDeny,
  permissionSets: allowDeny,
  roles: allowDeny,
  groups: allowDeny,
  boundaries: allowDeny,
  /** Managed policy ARNs (patterns) that no granted access may carry, however it is reached. */
  deniedManagedPolicies: z.array(z.string().min(1)).default([]),
  accessKinds: z
    .strictObject({
      disabled: z.array(z.enum(ACCESS_KINDS)).default([]),
    })
    .default({ disabled: [] }),
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
    doc = parseYaml(text, { maxAliasCount: 100 });
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
