// docs/examples/ against the connector's own parsers: the integration reader of the CLI,
// the grant/revoke and sync params schemas, and the policy loader. Every file in the
// directory is covered, so an example added later is checked without touching this test.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readIntegration } from '../../src/commands/doctor.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { KINDS } from '../../src/access/registry.js';
import { admitAccess } from '../../src/access/policy.js';
import { loadPolicyFile } from '../../src/policy/schema.js';
import { describeIssues } from '../../src/protocol/messages.js';
import { syncParams } from '../../src/sync/run-sync.js';
import { REPO_ROOT } from '../helpers/paths.js';

const EXAMPLES = resolve(REPO_ROOT, 'docs/examples');
const files = (dir: string) => readdirSync(resolve(EXAMPLES, dir)).sort();
const json = (path: string) => JSON.parse(readFileSync(resolve(EXAMPLES, path), 'utf8')) as unknown;

function parseParams(file: string) {
  const r = accessParamsSchema.safeParse(json(`params/${file}`));
  if (!r.success) throw new Error(`${file}: ${describeIssues(r.error)}`);
  return r.data;
}

test('an integration for an organization and one for a single account, read by the CLI', () => {
  const integrations = files('.').filter((f) => f.startsWith('integration-'));
  const types = integrations.map((f) => readIntegration(resolve(EXAMPLES, f)).type);
  expect(types.sort()).toEqual(['aws-account', 'aws-organization']);
});

test('a grant and a revoke of every access kind, each parsed as the job would be', () => {
  const params = files('params').filter((f) => f !== 'sync.json');
  expect(params).toEqual(KINDS.flatMap((k) => [`${k.name}.grant.json`, `${k.name}.revoke.json`]).sort());
  for (const k of KINDS) {
    const grant = parseParams(`${k.name}.grant.json`);
    const revoke = parseParams(`${k.name}.revoke.json`);
    expect(grant.accessKind).toBe(k.name);
    // The revoke names the same grant and the same access.
    expect({ ...revoke, expiresAt: undefined }).toEqual({ ...grant, expiresAt: undefined });
    expect(grant.expiresAt).toEqual(expect.any(String));
  }
});

test('the sync params', () => {
  expect(syncParams.safeParse(json('params/sync.json')).success).toBe(true);
});

describe('policies', () => {
  const integration = readIntegration(resolve(EXAMPLES, 'integration-organization.json'));
  const now = Date.parse('2029-12-31T20:00:00Z');

  test('every file in docs/examples/policies/ loads with the connector\'s policy loader', () => {
    const policies = files('policies');
    expect(policies).toEqual(expect.arrayContaining(['permissive.yaml', 'strict.yaml']));
    for (const f of policies) expect(() => loadPolicyFile(resolve(EXAMPLES, 'policies', f))).not.toThrow();
  });

  test('permissive admits every example grant on receipt; strict refuses the disabled kinds and a grant beyond four hours', () => {
    const permissive = loadPolicyFile(resolve(EXAMPLES, 'policies/permissive.yaml'));
    const strict = loadPolicyFile(resolve(EXAMPLES, 'policies/strict.yaml'));
    for (const k of KINDS) {
      const request = parseParams(`${k.name}.grant.json`);
      expect({ kind: k.name, verdict: admitAccess(permissive, { jobType: 'grant', integration, request, now }) }).toEqual({ kind: k.name, verdict: { ok: true } });
    }
    const localUser = admitAccess(strict, { jobType: 'grant', integration, request: parseParams('ec2.localUser.grant.json'), now });
    expect(localUser).toMatchObject({ ok: false, rule: 'accessKinds.disabled' });
    // 22 hours before the example's expiresAt: more than the 240 minutes strict allows.
    const long = admitAccess(strict, { jobType: 'grant', integration, request: parseParams('sso.accountAssignment.grant.json'), now });
    expect(long).toMatchObject({ ok: false, rule: 'maxDurationMinutes' });
    const inTime = admitAccess(strict, { jobType: 'grant', integration, request: parseParams('sso.accountAssignment.grant.json'), now: Date.parse('2030-01-01T15:00:00Z') });
    expect(inTime).toEqual({ ok: true });
  });
});
