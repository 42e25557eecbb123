// `access-connector policy explain`: lets a customer test the veto before relying on it.
// Reads AWS exactly as a grant would (facts only: Describe/Get/List calls) and prints the
// decision, the rule that made it and the facts it was made on. Nothing is written.
import { readFileSync } from 'node:fs';
import { explainGrant, type Explanation } from '../access/explain.js';
import { makeAccessContext } from '../access/context.js';
import { accessParamsSchema } from '../access/params.js';
import { EXIT_CONFIG } from '../config.js';
import { ConnectorError } from '../errors.js';
import { scrub } from '../log.js';
import { loadPolicyFile, type Policy } from '../policy/schema.js';
import { describeIssues } from '../protocol/messages.js';
import { EXIT } from '../exit-codes.js';
import { COMMAND_FLAGS, CommandExit, parseFlags, UsageError } from './args.js';
import { readIntegration } from './doctor.js';
import { commandSetup } from './setup.js';

// The shared exit codes (src/exit-codes.ts): allowed = OK, denied = REFUSED, and a grant
// that would fail before the policy is asked (the kind refused, or AWS could not be read) = FAILED.
const EXIT_USAGE = EXIT.USAGE;
const EXIT_UNDECIDED = EXIT.FAILED;

/** A value from AWS or the request, fit for a terminal: printable, bounded. */
const clean = (s: string) => {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > 1000 ? `${t.slice(0, 1000)}…` : t;
};

function text(e: Explanation): string {
  const lines = [`decision: ${e.decision}`];
  if (e.rule !== undefined) lines.push(`rule:     ${e.rule} (${e.stage === 'receipt' ? 'on receipt, from the request alone' : 'after reading AWS'})`);
  if (e.message !== undefined) lines.push(`why:      ${clean(e.message)}`);
  if (!e.facts) {
    lines.push('facts:    none read (a grant refused on receipt never reads AWS)');
    return `${lines.join('\n')}\n`;
  }
  const f = e.facts;
  const row = (label: string, values: string[]) => {
    if (values.length > 0) lines.push(`  ${label.padEnd(17)}${values.map(clean).join('\n' + ' '.repeat(19))}`);
  };
  lines.push('facts:');
  row('accounts', f.accountIds);
  if (e.ouPaths) row('OU paths', Object.entries(e.ouPaths).map(([a, p]) => `${a}: ${p.length > 0 ? p.join(' / ') : '(directly under the root)'}`));
  if (e.managementAccountId !== undefined) row('management acct', [e.managementAccountId ?? '(no organization)']);
  if (e.principal) row('principal', [`${e.principal.known.join(', ')}${e.principal.claimed.some((c) => !e.principal!.known.includes(c)) ? ` (the request claims: ${e.principal.claimed.join(', ')})` : ''}`]);
  row('permission sets', (f.permissionSets ?? []).map((p) => `${p.name} (${p.arn})${p.managedPolicies.length > 0 ? ` managed: ${p.managedPolicies.join(', ')}` : ''}`));
  row('roles', f.roles ?? []);
  row('instances', (f.instances ?? []).map((i) => {
    const tags = Object.entries(i.tags).map(([k, v]) => `${k}=${v}`).join(' ');
    return `${i.id}${tags ? ` [${tags}]` : ''} role: ${i.roleArn ?? 'none'}${i.instanceProfileArn ? ` (profile ${i.instanceProfileArn})` : ''}`;
  }));
  row('instance roles', (f.instanceRoles ?? []).map((r) => `${r.arn} managed: ${r.managedPolicies.join(', ') || 'none'}; boundary: ${r.boundary ?? 'none'}`));
  row('groups', (f.groups ?? []).map((g) => `${g.name} (${g.id})`));
  row('boundaries', f.boundaries ?? []);
  row('managed policies', f.managedPolicies ?? []);
  return `${lines.join('\n')}\n`;
}

export async function policyCommand(args: string[]): Promise<number> {
  const say = (m: string) => process.stderr.write(`access-connector policy explain: ${scrub(m)}\n`);
  let flags: Record<string, string | boolean>;
  let policy: Policy;
  try {
    if (args[0] !== 'explain') throw new UsageError(args[0] === undefined ? 'give a subcommand: explain' : `unknown subcommand "${clean(args[0]).slice(0, 40)}"; the subcommand is explain`);
    flags = parseFlags(args.slice(1), COMMAND_FLAGS.policy);
    for (const f of ['policy', 'integration', 'params']) if (typeof flags[f] !== 'string') throw new UsageError(`--${f} FILE is required`);
  } catch (err) {
    say((err as Error).message);
    return EXIT_USAGE;
  }
  try {
    policy = loadPolicyFile(flags['policy'] as string);
  } catch (err) {
    say(`POLICY_FILE_INVALID: ${(err as Error).message}`);
    return EXIT_CONFIG;
  }
  let integration;
  let params;
  try {
    integration = readIntegration(flags['integration'] as string);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(flags['params'] as string, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read params ${flags['params'] as string}: ${(err as Error).message.split('\n')[0]}`);
    }
    const parsed = accessParamsSchema.safeParse(raw);
    if (!parsed.success) throw new UsageError(`params: ${describeIssues(parsed.error)}`);
    params = parsed.data;
  } catch (err) {
    say((err as Error).message);
    return EXIT_USAGE;
  }

  let setup;
  try {
    setup = commandSetup('policy');
  } catch (err) {
    if (err instanceof CommandExit) return err.code;
    throw err;
  }
  try {
    const ctx = makeAccessContext({ session: setup.aws.session(integration), integration, log: setup.log, allowExternalIdentityWrites: policy.accessKinds.allowExternalIdentitySourceWrites });
    const e = await explainGrant(policy, ctx, params, Date.now());
    process.stdout.write(flags['json'] === true ? `${JSON.stringify(e, null, 2)}\n` : text(e));
    return e.decision === 'allowed' ? EXIT.OK : EXIT.REFUSED;
  } catch (err) {
    const code = err instanceof ConnectorError ? err.code : 'INTERNAL';
    const message = scrub((err as Error).message);
    if (flags['json'] === true) process.stdout.write(`${JSON.stringify({ decision: 'undecided', error: { code, message } }, null, 2)}\n`);
    say(`${code}: ${message} (the grant would fail with this before the policy decides)`);
    return EXIT_UNDECIDED;
  } finally {
    setup.aws.destroy();
  }
}
