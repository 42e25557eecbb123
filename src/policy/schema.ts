// The customer's policy file (docs/protocol.md, "Policy file"; docs/policy.md): the customer's veto over what any control
// plane may ask for. It is parsed once at start-up; enforcement lives with the jobs.
//
// The schema is strict on purpose: a misspelt key in a veto must stop the connector at
// start-up, not be ignored and leave access open.
import { readFileSync } from 'node:fs';
import { fileProblems, locateIssues, parseJsonOrYaml } from '../files.js';
import * as z from 'zod';
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

// Instance rules name an instance by id or by one of its tags as key=value. Anything else
// (a typo such as "env:prod") would match nothing and leave access open.
const instancePattern = pattern.refine(
  (p) => p.includes('=') || (/^[a-z0-9*-]+$/.test(p) && (p.includes('*') || /^(i-[0-9a-f]{8,17}|mi-[0-9a-f]{17})$/.test(p))),
  'must be an instance id (i-…, mi-…), a pattern of one, or a tag as key=value (for example env=prod)',
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
  accounts: z
    .strictObject({
      allow: z.array(accountPattern).optional(),
      deny: z.array(accountPattern).default([]),
      /**
       * Deny every grant that lands in the organization's management account, whose id is
       * read from AWS (organizations:DescribeOrganization) when a grant is checked.
       */
      denyManagementAccount: z.boolean().default(false),
    })
    .default({ deny: [], denyManagementAccount: false }),
  organizationalUnits: allowDeny(ouPattern),
  /** Who may receive access: Identity Store user/group ids, user names, emails, group names, IAM ARNs. */
  principals: allowDeny(),
  /** Which instances EC2 kinds may reach: instance ids, or tags as key=value. */
  instances: allowDeny(instancePattern),
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

/** Reads and validates the policy file; throws an Error naming every problem with its line and column. */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  return parsePolicyText(text, path);
}

/**
 * Validates a policy document (JSON or YAML text); `path` names where it came from in
 * messages (a file, or CONNECTOR_POLICY). Throws an Error naming every problem with its
 * line and column.
 */
export function parsePolicyText(text: string, path: string): Policy {
  // YAML is a superset of JSON, so one parser serves both forms.
  const read = parseJsonOrYaml(text);
  if ('problems' in read) throw new Error(fileProblems(path, read.problems.map((p) => `not valid JSON or YAML: ${p}`)));
  const parsed = policySchema.safeParse(read.doc);
  if (!parsed.success) throw new Error(fileProblems(path, locateIssues(text, parsed.error.issues)));
  return Object.freeze(parsed.data);
}
